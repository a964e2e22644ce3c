"""Raw records: what a source yields before anything is parsed.

A source never parses. It yields bytes plus where they came from; parsing and normalizing happen later, in
batches (``regaudit.ingest.normalize``). The origin string is the record's address for forensics and dead
letters; the ``key`` is what makes an insert idempotent.

Kinds:
    event       one registry notification event (a JSON object), or a whole envelope posted by someone else
    access      one proxy access-log line, bare or inside a shipper envelope
    deadletter  a payload a receiver already refused, with the reason
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

RecordKind = Literal["event", "access", "deadletter"]


@dataclass(frozen=True, slots=True)
class RawRecord:
    """Bytes from one source position.

    Fields:
        kind: which stream the bytes belong to.
        value: the bytes exactly as received.
        origin: where they came from: ``kafka:<topic>/<partition>/<offset>``, ``webhook:<request-id>/<index>``,
            ``file:<host>:<path>:<file-id>:<byte-offset>`` or ``sim:<seed>/<n>``.
        received_at: when regaudit received them (UTC); travels with the record, normalize reads no clock.
        registry: for events, the registry name the receiver was configured with.
        key: idempotency key. Events use (registry, event time, event id) from the payload, so ``key`` is unused; access
            lines use this (the shipper's file position when known, else the origin); the webhook's dead letters
            use a digest of registry and body, so a retried malformed POST is stored once.
        content_type: the media type the sender declared, if any.
        reason: for dead letters, why the receiver refused the payload.
        registry_kind: for events, which registry software sent them and so which normalizer reads them
            (``harbor``); None is a CNCF Distribution notification, the kind every producer before had.
    """

    kind: RecordKind
    value: bytes
    origin: str
    received_at: datetime
    registry: str | None = None
    key: str | None = None
    content_type: str | None = None
    reason: str | None = None
    registry_kind: str | None = None
