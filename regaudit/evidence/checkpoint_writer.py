"""Writing a store's checkpoint series: sign the chain's head and export it outside the store (``regaudit
checkpoint``).

Each ``write`` reads the store (read-only), reads the series so far from ``chain.checkpoints_path`` (else from
``chain.checkpoints_topic``), refuses to sign if the head the last checkpoint signed is no longer in the chain
(``checkpoints.ChainRewritten``), and writes the next checkpoint to the file and then the topic. The file is the
series of record: the topic is given every checkpoint of the file it is missing, so a broker that was down only
delays it. ``alert`` tells the sinks named in ``chain.checkpoint_sinks`` of a checkpoint, or of a refusal as a
critical alert (``checkpoint_alerts``).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from regaudit.errors import TerminalError
from regaudit.evidence import checkpoints, signing
from regaudit.evidence.checkpoints import store_id
from regaudit.ingest import store
from regaudit.settings import Settings

if TYPE_CHECKING:
    from regaudit.evidence.checkpoint_destinations import CheckpointFile, CheckpointTopic

log = logging.getLogger(__name__)


class CheckpointWriter:
    """The next checkpoint of one store, signed with ``reports.signing_key_path``, to its destinations.

    Made before the first write, so a missing destination or key or a bad sink stops at once
    (``TerminalError``)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.file, self.topic = destinations(settings)
        self.key: Ed25519PrivateKey = signing.load_private_key(settings.reports.signing_key_path)
        if settings.chain.checkpoint_sinks:
            from regaudit.evidence.checkpoint_alerts import check_sinks

            check_sinks(settings)
        self.store_id = store_id(settings)

    def write(self) -> dict[str, Any]:
        """Sign the chain's head as the next checkpoint and export it; returns the checkpoint.

        Raises ``checkpoints.ChainRewritten`` (nothing signed) or ``TransientError`` (store locked, Kafka away:
        with a file, the checkpoint may be in the file only)."""
        settings = self.settings
        series = _series(self.file if self.file is not None else self.topic, self.store_id)
        with store.reader(settings.store.path, settings.store.lock_timeout_seconds) as con:
            previous = series[-1] if series else None
            document = checkpoints.build(con, self.store_id, previous, self.key, datetime.now(UTC))
        if self.file is not None:
            self.file.append(document)
        if self.topic is not None:
            _catch_up(self.topic, self.store_id, [*series, document] if self.file is not None else [document])
        return document

    def describe(self, document: dict[str, Any]) -> str:
        """One line: which checkpoint of which store signed which chain entry, and where it went."""
        chain: dict[str, Any] = document["chain"] or {}
        where = ", ".join(str(d) for d in (self.file, self.topic) if d is not None)
        return (
            f"checkpoint {document['sequence']} of store {self.store_id}: chain entry {chain.get('seq', 0)}"
            f" hash {chain.get('hash', '(empty chain)')} -> {where}"
        )

    def alert(self, document: dict[str, Any] | None = None, rewritten: str | None = None) -> None:
        """The checkpoint, or the reason a checkpoint was refused, to ``chain.checkpoint_sinks`` (none: nothing)."""
        if not self.settings.chain.checkpoint_sinks:
            return
        from regaudit.evidence import checkpoint_alerts

        if document is not None:
            checkpoint_alerts.send(self.settings, checkpoint_alerts.checkpoint_alert(document))
        if rewritten is not None:
            alert = checkpoint_alerts.rewritten_alert(self.store_id, rewritten, datetime.now(UTC))
            checkpoint_alerts.send(self.settings, alert)


def destinations(settings: Settings) -> tuple[CheckpointFile | None, CheckpointTopic | None]:
    """The configured file and topic; at least one, else ``TerminalError``."""
    from regaudit.evidence.checkpoint_destinations import CheckpointFile, CheckpointTopic

    path, topic = settings.chain.checkpoints_path, settings.chain.checkpoints_topic
    if path is None and topic is None:
        raise TerminalError("no checkpoint destination: set chain.checkpoints_path and/or chain.checkpoints_topic")
    return (
        CheckpointFile(path) if path is not None else None,
        CheckpointTopic(settings.kafka, topic) if topic is not None else None,
    )


def _catch_up(topic: CheckpointTopic, name: str, owed: list[dict[str, Any]]) -> None:
    """Send the topic every checkpoint it does not hold yet (with the file as the record, the ones it missed)."""
    held = {d["sequence"] for d in _series(topic, name)} if len(owed) > 1 else set()
    topic.send([d for d in owed if d["sequence"] not in held])


def _series(destination: CheckpointFile | CheckpointTopic | None, name: str) -> list[dict[str, Any]]:
    if destination is None:
        return []
    documents, complaints = destination.read()
    if complaints:
        log.warning("%s: %d lines are not checkpoints (first: %s)", destination, len(complaints), complaints[0])
    return [d for d in documents if d.get("store_id") == name]
