"""A store whose user agents are what an attacker sends to get a formula into a spreadsheet."""

from __future__ import annotations

import json
from pathlib import Path

from regaudit.ingest.normalize import Normalizer
from regaudit.ingest.sinks.duckdb import DuckDBSink
from tests.samples import SAMPLES, event_records, posts

#: OWASP's CSV injection starts (``=``, ``+``, ``-``, ``@``, tab, carriage return) as user agents
HOSTILE = ('=HYPERLINK("http://x","y")', "-2+3", "@SUM(1)", "+1+1", "\t=1+1", "\r=1+1")


def hostile_store(folder: Path) -> Path:
    """The htpasswd capture (2026-11-26) through the real ingest path, manifest user agents HOSTILE in turn."""
    n = 0
    lines = []
    for post in posts(SAMPLES / "distribution-2.8.2-htpasswd.events.jsonl"):
        for event in post["body"]["events"]:
            event["request"]["useragent"] = HOSTILE[n % len(HOSTILE)]
            if "manifest" in event["target"].get("mediaType", "manifest"):  # blobs are folded into their image
                n += 1
        lines.append(json.dumps(post))
    capture = folder / "hostile.events.jsonl"
    capture.write_text("\n".join(lines) + "\n", encoding="utf-8")
    db = folder / "hostile.duckdb"
    normalizer = Normalizer("main")
    try:
        DuckDBSink(db, default_registry="main").write(normalizer.normalize(event_records(capture, "main")), "test")
    finally:
        normalizer.close()
    return db
