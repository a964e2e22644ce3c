"""``regaudit checkpoint``: sign the chain's head and export it outside the store, once or ``--every`` interval.

Each run reads the store (read-only), reads the series so far from ``chain.checkpoints_path`` (else from
``chain.checkpoints_topic``), refuses to sign if the head the last checkpoint signed is no longer in the chain,
and writes the next checkpoint to the file and then the topic (``regaudit.evidence.checkpoint_writer``). The file
is the series of record: the topic is given every checkpoint of the file it is missing, so a broker that was down
only delays it. The sinks named in ``chain.checkpoint_sinks`` get each checkpoint, and a refusal as a critical
alert (``checkpoint_alerts``). Signed with ``reports.signing_key_path``: run this where the key is, not where the
store's writers run.

Exit codes: 0 written, 1 the chain was rewritten (nothing signed), 2 configuration (no destination, no key),
75 the store was locked or Kafka away (with ``--every``: logged, tried again at the next interval).
"""

from __future__ import annotations

import argparse
import logging
import time

from regaudit.arguments import duration
from regaudit.errors import TransientError
from regaudit.evidence.checkpoint_writer import CheckpointWriter
from regaudit.evidence.checkpoints import ChainRewritten
from regaudit.settings import Settings

log = logging.getLogger(__name__)
EXIT_REWRITTEN = 1
EXIT_TEMPFAIL = 75


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db", help="DuckDB file (default: store.path).")
    parser.add_argument("--every", type=duration, help="Write one every interval (e.g. 1h) until interrupted.")


def overrides(args: argparse.Namespace) -> dict[str, dict[str, object]]:
    return {"store": {"path": args.db}}


def run(args: argparse.Namespace, settings: Settings) -> int:
    writer = CheckpointWriter(settings)
    if args.every is None:
        return _once(writer)
    interval = args.every.total_seconds()
    while True:
        started = time.monotonic()
        _once(writer)
        time.sleep(max(0.0, interval - (time.monotonic() - started)))


def _once(writer: CheckpointWriter) -> int:
    try:
        document = writer.write()
    except ChainRewritten as error:
        log.error("checkpoint refused: %s", error)
        writer.alert(rewritten=str(error))
        return EXIT_REWRITTEN
    except TransientError as error:
        log.warning(
            "checkpoint %s: %s", "written to the file only" if writer.file is not None else "not written", error
        )
        return EXIT_TEMPFAIL
    print(writer.describe(document), flush=True)
    writer.alert(document=document)
    return 0
