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

#: a consumer stand-in: the captured events under fresh ids, one batch every 50 ms, for ``seconds``; prints the
#: monotonic time (the machine's clock, the same in every process) at which each batch was stored
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
    print(time.monotonic(), flush=True)
    batches += 1
    time.sleep(0.05)
"""


def test_pages_answer_and_statuses_change_while_a_writer_ingests(make_app: AppFactory, writable: Path) -> None:
    root = Path(__file__).parents[2]
    writer = subprocess.Popen(  # noqa: S603 - our own interpreter and script
        [sys.executable, "-c", WRITER, str(writable), "8"], cwd=root, stdout=subprocess.PIPE, text=True
    )
    runs = 0
    try:
        time.sleep(1.0)
        started = time.monotonic()
        deadline = started + 5
        while time.monotonic() < deadline:
            for page in ("overview", "activity", "repository", "findings"):
                st.cache_data.clear()  # every run reads the store, not the cache
                no_errors(make_app(writable, page=page, repository="team/app"))
                runs += 1
        finding = str(make_app(writable, page="findings").selectbox(key="findings_choice").value)
        data.change_status(Runtime(db=writable), Principal("ana", "analyst", "local"), finding, "acknowledged", "")
        ended = time.monotonic()
    finally:
        out, _ = writer.communicate(timeout=60)
    assert writer.returncode == 0
    stored_at = [float(line) for line in out.split()]
    # the writer stored batches while the pages read, not only before or after them (how many is the machine's
    # speed, which bench/ measures: a count here failed a rehearsal on a loaded machine)
    during = [at for at in stored_at if started <= at <= ended]
    assert len(during) >= 3, f"batches stored at {stored_at}, pages read from {started} to {ended}"
    assert runs >= 4
