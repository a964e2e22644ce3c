"""Registry notification events for the streaming-rule tests, ingested through the real sink and its hooks."""

from __future__ import annotations

import hashlib
import itertools
import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from regaudit.ingest import store
from regaudit.ingest.hooks import load_hooks
from regaudit.ingest.normalize import Normalizer
from regaudit.ingest.records import RawRecord
from regaudit.ingest.sinks.duckdb import DuckDBSink, WriteResult
from regaudit.settings import Settings, load_settings

MANIFEST = "application/vnd.oci.image.manifest.v1+json"
_serial = itertools.count(1)


def digest(seed: str) -> str:
    return "sha256:" + hashlib.sha256(seed.encode()).hexdigest()


def ago(**delta: float) -> datetime:
    return datetime.now(UTC) - timedelta(**delta)


def event(
    action: str,
    moment: datetime,
    *,
    actor: str | None = "alice",
    repository: str = "team/app",
    tag: str | None = "v1",
    seed: str = "a",
    addr: str = "192.168.1.20",
    media_type: str | None = MANIFEST,
) -> dict[str, Any]:
    """One Distribution 2.8 notification event (manifest push or delete)."""
    target: dict[str, Any] = {"repository": repository, "digest": digest(seed)}
    if media_type:
        target |= {"mediaType": media_type, "size": 418, "length": 418}
    if tag:
        target["tag"] = tag
    method = {"push": "PUT", "delete": "DELETE", "pull": "GET"}[action]
    return {
        "id": f"evt-{uuid.uuid4().hex}",
        "timestamp": moment.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "action": action,
        "target": target,
        "request": {"id": f"req-{next(_serial)}", "addr": f"{addr}:40000", "host": "registry.example",
                    "method": method, "useragent": "skopeo/1.9.3"},
        "actor": {"name": actor} if actor else {},
        "source": {"addr": "registry:5000", "instanceID": "test"},
    }  # fmt: skip


def push(moment: datetime, **values: Any) -> dict[str, Any]:
    return event("push", moment, **values)


def delete(moment: datetime, **values: Any) -> dict[str, Any]:
    values.setdefault("tag", None)
    values.setdefault("media_type", None)
    return event("delete", moment, **values)


def ingest(db: Path, settings: Settings, events: list[dict[str, Any]]) -> WriteResult:
    """Write the events as one batch through the DuckDB sink with the configured batch hooks."""
    received = datetime.now(UTC)
    records = [
        RawRecord("event", json.dumps(e).encode(), f"test:{e['id']}", received, registry="default") for e in events
    ]
    normalizer = Normalizer("default")
    try:
        sink = DuckDBSink(db, settings.store.lock_timeout_seconds, "default", hooks=load_hooks(settings))
        return sink.write(normalizer.normalize(records), "test")
    finally:
        normalizer.close()


def configured(db: Path, **sections: dict[str, Any]) -> Settings:
    """Settings for a store at ``db`` with one stdout sink unless ``alerts`` says otherwise."""
    sections.setdefault("alerts", {})
    sections["alerts"].setdefault("sinks", [{"name": "out", "type": "stdout", "min_severity": "low"}])
    return load_settings(overrides={"store": {"path": str(db)}, **sections}, environ={})


def outbox(db: Path) -> list[dict[str, Any]]:
    """The queued alerts, oldest first, as their JSON documents."""
    with store.reader(db) as con:
        rows = con.execute("SELECT body FROM alert_outbox ORDER BY created_at, alert_id").fetchall()
    return [json.loads(body) for (body,) in rows]
