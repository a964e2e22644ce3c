"""Errors of the analytics package, split by what the caller should do next.

    RegauditError                       (regaudit.errors)
    └── TerminalError
        ├── DetectionError              a detection or its configuration is wrong: fix code or settings
        │   ├── DetectionMetadataError  a detection's class attributes fail validation when it is registered
        │   ├── DuplicateDetectionError two detections claim the same id
        │   └── UnknownDetectionError   a selection or a threshold override names no registered detection
        └── InventoryError              a credential inventory file cannot be read (names the file)

A store that is locked while the runner reads or writes raises ``regaudit.errors.StoreLocked`` (transient).
"""

from __future__ import annotations

from regaudit.errors import TerminalError


class DetectionError(TerminalError):
    """A detection, or the configuration that tunes it, is wrong."""


class DetectionMetadataError(DetectionError):
    """A detection's metadata, SQL or cases fail validation at registration."""


class DuplicateDetectionError(DetectionError):
    """Two detections claim one id."""


class UnknownDetectionError(DetectionError):
    """A selection or a threshold override names no registered detection."""


class InventoryError(TerminalError):
    """A credential inventory file is unreadable or malformed."""
