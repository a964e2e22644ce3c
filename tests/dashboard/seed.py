"""The store the dashboard tests read: real captures through the real pipeline, a credential import, the real
detections, and one dead letter. What it holds (all on 2026-11-26, registry ``main``):

- image activity: 5 pushes (ci-bot 4, alice 1), 2 counted pulls (alice, ci-bot), 2 deletes by alice (digest and
  tag), 2 refusals (alice: 401 and 404), 1 mount; repositories team/app and other/app; identities alice, ci-bot;
- tag history of team/app:v1.0.0: 4 intervals, 2 overwrites; other/app:copied: 1 interval;
- credentials: alice (user, owner alice), ci-bot (robot, owner platform), old-bot (never used);
- findings from ``regaudit analyze`` as of 2026-11-27 with team/* protected;
- a dead letter: one access line that is not a log line.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from regaudit.analytics import runner
from regaudit.analytics.settings import AnalyticsSettings, OrgSettings
from regaudit.ingest import store
from regaudit.ingest.normalize import Normalizer
from regaudit.ingest.records import RawRecord
from regaudit.ingest.sinks.duckdb import DuckDBSink
from regaudit.ingest.sources import credentials
from tests.samples import RECEIVED_AT, SAMPLES, access_records, event_records

HTPASSWD = SAMPLES / "distribution-2.8.2-htpasswd.events.jsonl"
NGINX = SAMPLES / "distribution-2.8.2-behind-nginx.events.jsonl"
NGINX_LOG = SAMPLES / "nginx-1.22-registry.access.json.log"
ANALYZED_AT = datetime(2026, 11, 27, tzinfo=UTC)
ORG = OrgSettings(protected_repositories=["team/*"])

INVENTORY = [
    {
        "name": "alice",
        "kind": "user",
        "owner": "alice",
        "created_at": "2025-01-15T00:00:00Z",
        "rotated_at": "2026-06-01T00:00:00Z",
        "expires_at": "2027-01-01T00:00:00Z",
    },
    {"name": "ci-bot", "kind": "robot", "owner": "platform", "created_at": "2024-03-01T00:00:00Z"},
    {"name": "old-bot", "kind": "robot", "owner": "platform", "created_at": "2023-01-01T00:00:00Z"},
]


def seed(path: Path) -> Path:
    """Build the store at ``path`` as the module docstring describes; returns ``path``."""
    bad_line = RawRecord("access", b"this is not a log line", "test:bad/0", RECEIVED_AT, key="bad:0")
    records = event_records(HTPASSWD, "main") + event_records(NGINX, "main") + access_records(NGINX_LOG)
    normalizer = Normalizer("main")
    try:
        DuckDBSink(path, default_registry="main").write(normalizer.normalize([*records, bad_line]), "test")
    finally:
        normalizer.close()
    entries = [credentials.CredentialEntry.model_validate(row) for row in INVENTORY]
    with store.writer(path) as con:
        credentials.store_import(con, entries, "test:inventory.csv", RECEIVED_AT, carry_over=False)
    runner.analyze(path, ORG, AnalyticsSettings(), now=ANALYZED_AT, since=datetime(2026, 11, 20, tzinfo=UTC))
    return path
