"""Stores seeded through the real pipeline (Normalizer + DuckDBSink) with the chain hook, for the chain tests."""

from __future__ import annotations

from pathlib import Path

from regaudit.ingest.hooks import load_hooks
from regaudit.ingest.normalize import Normalizer
from regaudit.ingest.sinks.duckdb import DuckDBSink, WriteResult
from regaudit.settings import Settings
from tests.samples import SAMPLES, access_records, event_records

HTPASSWD = SAMPLES / "distribution-2.8.2-htpasswd.events.jsonl"
NGINX_LOG = SAMPLES / "nginx-1.22-registry.access.json.log"
CHAIN_HOOK = "regaudit.evidence.chain:seal_batch"


def write(db: Path, records: list, hooks: bool = True) -> WriteResult:
    normalizer = Normalizer("default")
    try:
        sink = DuckDBSink(db, hooks=load_hooks(Settings(), [CHAIN_HOOK]) if hooks else ())
        return sink.write(normalizer.normalize(records), "test")
    finally:
        normalizer.close()


def seeded_store(db: Path) -> Path:
    """Batch 1: 18 registry events; batch 2: 30 access-log lines."""
    write(db, event_records(HTPASSWD, "main"))
    write(db, access_records(NGINX_LOG))
    return db
