"""The real captures of ../shared/samples (copied to tests/fixtures/samples) as test inputs."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from regaudit.ingest.records import RawRecord
from regaudit.ingest.sources.distribution.envelope import split_envelope

SAMPLES = Path(__file__).parent / "fixtures" / "samples"
RECEIVED_AT = datetime(2026, 11, 26, 20, 0, tzinfo=UTC)
EVENT_CAPTURES = sorted(SAMPLES.glob("*.events.jsonl"))
ACCESS_CAPTURES = sorted(SAMPLES.glob("*.log"))


def posts(capture: Path) -> list[dict]:
    """Each HTTP POST the registry made: {"headers": ..., "body": envelope} (and "path" for the mirror capture)."""
    with capture.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def event_records(capture: Path, registry: str | None = None) -> list[RawRecord]:
    """The capture's events as the webhook would hand them on (one record per event)."""
    records = []
    for number, post in enumerate(posts(capture)):
        name = registry or post.get("path", "/registry").strip("/") or "registry"
        parsed = split_envelope(
            json.dumps(post["body"]).encode(),
            origin=f"capture:{capture.name}:{number}",
            received_at=RECEIVED_AT,
            registry=name,
            content_type=post["headers"].get("Content-Type"),
        )
        assert not parsed.dead_letters, parsed.dead_letters
        records.extend(record for _, record in parsed.events)
    return records


def access_records(capture: Path) -> list[RawRecord]:
    with capture.open("rb") as handle:
        lines = [line.rstrip(b"\n") for line in handle if line.strip()]
    return [
        RawRecord("access", line, f"capture:{capture.name}:{n}", RECEIVED_AT, key=f"{capture.name}:{n}")
        for n, line in enumerate(lines)
    ]
