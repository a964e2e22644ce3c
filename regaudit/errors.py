"""The root of every error regaudit raises, split by what the caller should do next.

    RegauditError
    ├── TerminalError            bad configuration or usage: exit non-zero at once, retrying cannot help
    │   └── StoreSchemaError     the DuckDB file is newer than this program, or not a regaudit store
    └── TransientError           a peer is away (broker down, file locked): back off and retry, bounded
        ├── BrokerUnavailable    Kafka did not acknowledge in time
        └── StoreLocked          another process holds the DuckDB file for longer than the lock timeout

Bad input is never an exception: parsers return a rejected value that goes to the dead letters.
Messages name the origin of the record or the resource concerned.
"""

from __future__ import annotations


class RegauditError(Exception):
    """Root of regaudit's own errors."""


class TerminalError(RegauditError):
    """Retrying cannot help: fix the configuration or the command line."""


class StoreSchemaError(TerminalError):
    """The DuckDB file is not a regaudit store this version can use."""


class TransientError(RegauditError):
    """A peer is away; retrying later can succeed."""


class BrokerUnavailable(TransientError):
    """Kafka did not acknowledge within the request timeout."""


class StoreLocked(TransientError):
    """Another process held the DuckDB file past the lock timeout."""
