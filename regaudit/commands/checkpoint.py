"""``regaudit checkpoint``: sign the chain's head and export it outside the store, once or ``--every`` interval.

Each run reads the store (read-only), reads the series so far from ``chain.checkpoints_path`` (else from
``chain.checkpoints_topic``), refuses to sign if the head the last checkpoint signed is no longer in the chain,
and writes the next checkpoint to the file and then the topic. The file is the series of record: the topic is
given every checkpoint of the file it is missing, so a broker that was down only delays it. The sinks named in
``chain.checkpoint_sinks`` get each checkpoint, and a refusal as a critical alert (``checkpoint_alerts``). Signed
with ``reports.signing_key_path``: run this where the key is, not where the store's writers run.

Exit codes: 0 written, 1 the chain was rewritten (nothing signed), 2 configuration (no destination, no key),
75 the store was locked or Kafka away (with ``--every``: logged, tried again at the next interval).
"""

from __future__ import annotations

import argparse
import logging
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from regaudit.arguments import duration
from regaudit.errors import TerminalError, TransientError
from regaudit.evidence import checkpoints, signing
from regaudit.evidence.checkpoints import store_id
from regaudit.ingest import store
from regaudit.settings import Settings

if TYPE_CHECKING:
    from regaudit.evidence.checkpoint_destinations import CheckpointFile, CheckpointTopic

log = logging.getLogger(__name__)
EXIT_REWRITTEN = 1
EXIT_TEMPFAIL = 75


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db", help="DuckDB file (default: store.path).")
    parser.add_argument("--every", type=duration, help="Write one every interval (e.g. 1h) until interrupted.")


def overrides(args: argparse.Namespace) -> dict[str, dict[str, object]]:
    return {"store": {"path": args.db}}


def run(args: argparse.Namespace, settings: Settings) -> int:
    file, topic = _destinations(settings)
    key = signing.load_private_key(settings.reports.signing_key_path)
    if settings.chain.checkpoint_sinks:
        from regaudit.evidence.checkpoint_alerts import check_sinks

        check_sinks(settings)
    if args.every is None:
        return _once(settings, key, file, topic)
    interval = args.every.total_seconds()
    while True:
        started = time.monotonic()
        _once(settings, key, file, topic)
        time.sleep(max(0.0, interval - (time.monotonic() - started)))


def _destinations(settings: Settings) -> tuple[CheckpointFile | None, CheckpointTopic | None]:
    from regaudit.evidence.checkpoint_destinations import CheckpointFile, CheckpointTopic

    path, topic = settings.chain.checkpoints_path, settings.chain.checkpoints_topic
    if path is None and topic is None:
        raise TerminalError("no checkpoint destination: set chain.checkpoints_path and/or chain.checkpoints_topic")
    return (
        CheckpointFile(path) if path is not None else None,
        CheckpointTopic(settings.kafka, topic) if topic is not None else None,
    )


def _once(
    settings: Settings, key: Ed25519PrivateKey, file: CheckpointFile | None, topic: CheckpointTopic | None
) -> int:
    name = store_id(settings)
    try:
        series = _series(file if file is not None else topic, name)
        with store.reader(settings.store.path, settings.store.lock_timeout_seconds) as con:
            document = checkpoints.build(con, name, series[-1] if series else None, key, datetime.now(UTC))
        if file is not None:
            file.append(document)
        if topic is not None:
            _catch_up(topic, name, [*series, document] if file is not None else [document])
    except checkpoints.ChainRewritten as error:
        log.error("checkpoint refused: %s", error)
        _alert(settings, rewritten=(name, str(error)))
        return EXIT_REWRITTEN
    except TransientError as error:
        log.warning("checkpoint %s: %s", "written to the file only" if file is not None else "not written", error)
        return EXIT_TEMPFAIL
    chain: dict[str, Any] = document["chain"] or {}
    where = ", ".join(str(d) for d in (file, topic) if d is not None)
    print(
        f"checkpoint {document['sequence']} of store {name}: chain entry {chain.get('seq', 0)}"
        f" hash {chain.get('hash', '(empty chain)')} -> {where}",
        flush=True,
    )
    _alert(settings, document=document)
    return 0


def _catch_up(topic: CheckpointTopic, name: str, owed: list[dict[str, Any]]) -> None:
    """Send the topic every checkpoint it does not hold yet (with the file as the record, the ones it missed)."""
    held = {d["sequence"] for d in _series(topic, name)} if len(owed) > 1 else set()
    topic.send([d for d in owed if d["sequence"] not in held])


def _alert(
    settings: Settings, document: dict[str, Any] | None = None, rewritten: tuple[str, str] | None = None
) -> None:
    """The checkpoint, or the refusal, to ``chain.checkpoint_sinks`` (none configured: nothing to do)."""
    if not settings.chain.checkpoint_sinks:
        return
    from regaudit.evidence import checkpoint_alerts

    if document is not None:
        checkpoint_alerts.send(settings, checkpoint_alerts.checkpoint_alert(document))
    if rewritten is not None:
        checkpoint_alerts.send(settings, checkpoint_alerts.rewritten_alert(*rewritten, datetime.now(UTC)))


def _series(destination: CheckpointFile | CheckpointTopic | None, name: str) -> list[dict[str, Any]]:
    if destination is None:
        return []
    documents, complaints = destination.read()
    if complaints:
        log.warning("%s: %d lines are not checkpoints (first: %s)", destination, len(complaints), complaints[0])
    return [d for d in documents if d.get("store_id") == name]
