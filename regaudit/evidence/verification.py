"""One verification of a store, as ``regaudit verify`` runs it: which key and checkpoints to trust, the chain walk
(``verify``) and the derived-table check (``verify_derived``), and the outcome as text or as a document.

Trust comes from outside the store: the key purge entries and checkpoints must verify with is the one given, else
``chain.public_key_path``, else the public half of ``reports.signing_key_path``; the checkpoint series is the file
given, else ``chain.checkpoints_path``, or the ``chain.checkpoints_topic`` when asked.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from regaudit.errors import TerminalError
from regaudit.evidence import chain, checkpoints, decisions, signing, verify_derived
from regaudit.evidence.verify import VerifyResult, verify
from regaudit.ingest import store
from regaudit.settings import Settings

#: problems listed after the first, in the text
SHOWN = 10


@dataclass(frozen=True)
class Verification:
    """The chain walk's and the derived check's results for the store at ``store_path``."""

    chain: VerifyResult
    derived: verify_derived.DerivedCheck
    store_path: str

    @property
    def ok(self) -> bool:
        return self.chain.ok and self.derived.ok

    def document(self) -> dict[str, object]:
        """The outcome as a JSON document, the chain head as its anchor document."""
        whole = document(self.chain, self.store_path) | {"derived": verify_derived.document(self.derived)}
        return whole | {"ok": self.ok}

    def lines(self) -> list[str]:
        """The outcome for a terminal, the head to keep outside the store last."""
        return lines(self.chain) + verify_derived.lines(self.derived)


def seal(settings: Settings) -> tuple[list[chain.ChainEntry], list[decisions.Decision]]:
    """Seal the batches written without the chain hook, and record the finding statuses set before decisions were
    recorded; both trust what the store holds now. Returns the entries appended and the statuses recorded."""
    with store.writer(settings.store.path, settings.store.lock_timeout_seconds) as con:
        sealed = chain.seal_unsealed(con)
        recorded = decisions.seal_unrecorded(con, datetime.now(UTC))
    return sealed, recorded


def verify_store(
    settings: Settings,
    anchors: Sequence[str],
    key: Ed25519PublicKey | None,
    series: checkpoints.Series | None,
    replay: bool,
) -> Verification:
    """Walk the chain and check the derived tables (``replay``: rebuild them from the sealed tables to compare)."""
    path, timeout = settings.store.path, settings.store.lock_timeout_seconds
    result = verify(lambda: store.reader(path, timeout), key, anchors, settings.retention.days(), series)
    derived = verify_derived.check(lambda: store.reader(path, timeout), settings.webhook.registry, replay)
    return Verification(result, derived, str(path))


def public_key(path: Path | None, settings: Settings) -> Ed25519PublicKey | None:
    """The given key, else the configured public key, else the public half of the configured signing key, else
    none. Never a key found in the store."""
    if path is not None:
        return signing.load_public_key(path)
    if settings.chain.public_key_path is not None:
        return signing.load_public_key(settings.chain.public_key_path)
    configured = settings.reports.signing_key_path
    if configured is not None and configured.exists():
        return signing.load_public_key(configured)
    return None


def checkpoint_series(
    settings: Settings, path: Path | None, from_kafka: bool, max_age: timedelta | None
) -> checkpoints.Series | None:
    """The exported series to check against, or none when neither the arguments nor a setting name one."""
    from regaudit.evidence.checkpoint_destinations import CheckpointFile, CheckpointTopic

    source: CheckpointFile | CheckpointTopic
    if from_kafka:
        if settings.chain.checkpoints_topic is None:
            raise TerminalError("--checkpoints-from-kafka: set chain.checkpoints_topic")
        source = CheckpointTopic(settings.kafka, settings.chain.checkpoints_topic)
    elif (path := path or settings.chain.checkpoints_path) is not None:
        source = CheckpointFile(path)
        if not source.path.exists():
            raise TerminalError(f"{source.path}: no checkpoint file (`regaudit checkpoint` writes it)")
    else:
        return None
    documents, complaints = source.read()
    return checkpoints.Series(
        str(source), checkpoints.store_id(settings), tuple(documents), tuple(complaints), max_age, datetime.now(UTC)
    )


def document(result: VerifyResult, store_path: str) -> dict[str, object]:
    return {
        "ok": result.ok,
        "entries_count": result.entries_count,
        "problems": [{"batch_id": p.batch_id, "seq": p.seq, "message": p.message} for p in result.problems],
        "signatures_checked": result.signatures_checked,
        "signatures_unchecked": result.signatures_unchecked,
        "checkpoints_checked": result.checkpoints_checked,
        "newest_checkpoint": result.newest_checkpoint,
        "head": chain.anchor_document(result.head, store_path) if result.head else None,
    }


def lines(result: VerifyResult) -> list[str]:
    out: list[str] = []
    if result.first is None:
        out.append(f"chain ok: {result.entries_count} entries; every audit row is covered and matches")
    else:
        out.append(f"verify FAILED: {result.first.message}")
        out += [f"  also: {p.message}" for p in result.problems[1:SHOWN]]
        if len(result.problems) > SHOWN:
            out.append(f"  … and {len(result.problems) - SHOWN} more problems")
    if result.signatures_checked:
        out.append(f"purge checkpoints: {result.signatures_checked} signatures checked with the trusted key")
    if result.signatures_unchecked:
        out.append(
            f"purge checkpoints: {result.signatures_unchecked} NOT checked: no trusted public key"
            " (chain.public_key_path or --public-key)"
        )
    out += _checkpoint_lines(result)
    head = result.head
    if head is None:
        out.append("chain is empty")
    else:
        when = head.committed_at.isoformat()
        what = f"batch {head.batch_id}" if head.kind == "batch" else f"{head.kind} entry"
        out.append(f"head: entry {head.seq} ({what}) committed {when}")
        out.append(f"head hash: {head.batch_hash}")
        out.append("keep it outside the store; later: regaudit verify --anchor <head hash>")
    return out


def _checkpoint_lines(result: VerifyResult) -> list[str]:
    newest = result.newest_checkpoint
    if not result.checkpoints_checked or newest is None:
        return []
    signed = newest.get("chain") or {}
    behind = result.entries_count - int(signed.get("seq") or 0)
    return [
        f"checkpoints: {result.checkpoints_checked} checked; the newest, {newest.get('sequence')} of"
        f" {newest.get('created_at')}, signed chain entry {signed.get('seq', 0)};"
        f" {behind} entries since are not checkpointed yet"
    ]
