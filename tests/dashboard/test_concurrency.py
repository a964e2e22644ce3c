"""The dashboard beside a writer (DESIGN.md section 3): while another process keeps writing ingest batches into
the store, as ``regaudit consume`` does, every page keeps answering and a finding's status can still be
changed; the writer is never refused."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
import streamlit as st

from regaudit.dashboard import data
from regaudit.dashboard.auth import Principal
from regaudit.dashboard.runtime import Runtime
from tests.dashboard.conftest import AppFactory, no_errors

pytestmark = pytest.mark.slow

#: a consumer stand-in: the captured events under fresh ids, one batch every 50 ms, for ``seconds``
WRITER = """
import json, sys, time
from dataclasses import replace
from pathlib import Path
from regaudit.ingest.normalize import Normalizer
from regaudit.ingest.sinks.duckdb import DuckDBSink
from tests.dashboard.seed import HTPASSWD
from tests.samples import event_records

db, seconds = Path(sys.argv[1]), float(sys.argv[2])
records, normalizer, sink = event_records(HTPASSWD, "main"), Normalizer("main"), DuckDBSink(Path(sys.argv[1]))
batches, deadline = 0, time.monotonic() + seconds
while time.monotonic() < deadline:
    fresh = []
    for n, record in enumerate(records):
        event = json.loads(record.value)
        event["id"] = f"concurrent-{batches}-{n}"
        fresh.append(replace(record, value=json.dumps(event).encode(), origin=f"concurrent:{batches}:{n}"))
    sink.write(normalizer.normalize(fresh), "concurrent")
    batches += 1
    time.sleep(0.05)
print(batches)
"""


def test_pages_answer_and_statuses_change_while_a_writer_ingests(make_app: AppFactory, writable: Path) -> None:
    root = Path(__file__).parents[2]
    writer = subprocess.Popen(  # noqa: S603 - our own interpreter and script
        [sys.executable, "-c", WRITER, str(writable), "8"], cwd=root, stdout=subprocess.PIPE, text=True
    )
    runs = 0
    try:
        time.sleep(1.0)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            for page in ("overview", "activity", "repository", "findings"):
                st.cache_data.clear()  # every run reads the store, not the cache
                no_errors(make_app(writable, page=page, repository="team/app"))
                runs += 1
        finding = str(make_app(writable, page="findings").selectbox(key="findings_choice").value)
        data.change_status(Runtime(db=writable), Principal("ana", "analyst", "local"), finding, "acknowledged", "")
    finally:
        out, _ = writer.communicate(timeout=60)
    assert writer.returncode == 0
    assert int(out.strip()) > 10, "the writer kept writing"
    assert runs >= 4
