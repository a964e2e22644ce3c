"""``webhook.workers``: several webhook processes on one port (ingest/receive/workers.py), with the real Kafka broker.

Each worker is held still in turn with SIGSTOP, so the other answers every new connection: both must deliver, and
/metrics, whichever answers it, must count the POSTs of both, and keep counting those of a worker killed with
SIGKILL and started again.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from regaudit.ingest.receive.webhook import COLUMNS
from regaudit.ingest.receive.workers import CounterTable
from tests.ingest import processes
from tests.ingest.test_pipeline_kafka import TOKEN, count, post_capture

REPO = Path(__file__).resolve().parents[2]


def workers_of(url: str) -> list[int]:
    """The pids of the worker processes serving ``url``: the children of the process started with its port."""
    port = url.rsplit(":", 1)[1]
    found = subprocess.run(["pgrep", "-f", "--", f"--port {port} "], capture_output=True, text=True).stdout
    pids = [int(pid) for pid in found.split()]
    parents = {pid: int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1]) for pid in pids}
    return sorted(pid for pid, parent in parents.items() if parent in parents)


def answered(url: str) -> tuple[int, int]:
    """/metrics' POSTs answered 200 and events delivered, as a fresh connection reads them."""
    text = httpx.get(url + "/metrics", timeout=10).text
    ok = re.search(r'^regaudit_webhook_responses_total\{code="200"\} (\d+)$', text, re.M)
    events = re.search(r"^regaudit_webhook_events_total (\d+)$", text, re.M)
    assert ok, text
    assert events, text
    return int(ok.group(1)), int(events.group(1))


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"


@pytest.mark.kafka
def test_two_workers_each_deliver_and_metrics_count_both_across_a_killed_worker(kafka_broker, kafka_topics, tmp_path):
    db = tmp_path / "audit.duckdb"
    env = processes.regaudit_env(db, kafka_broker.bootstrap, kafka_topics)
    log = tmp_path / "webhook.log"
    with processes.webhook(env, log, [TOKEN], workers=2) as url:
        first, second = workers = workers_of(url)
        assert len(workers) == 2, log.read_text()
        for still in (first, second):
            os.kill(still, signal.SIGSTOP)
            try:
                assert post_capture(url) == [200] * 18  # new connections: only the other accepts them
            finally:
                os.kill(still, signal.SIGCONT)
        assert {answered(url) for _ in range(8)} == {(36, 36)}  # whichever worker answers, both counted

        os.kill(first, signal.SIGKILL)
        processes.wait_for(lambda: len(set(workers_of(url)) - {first}) == 2, 30, "a worker started again")
        replacement = (set(workers_of(url)) - set(workers)).pop()
        assert answered(url) == (36, 36)  # the killed worker's counts are kept
        assert post_capture(url) == [200] * 18
        assert answered(url) == (54, 54)
        assert "was killed by SIGKILL: starting it again" in log.read_text()
    processes.wait_for(lambda: not alive(second) and not alive(replacement), 30, "the workers stopped with it")

    consumer = processes.start(["consume", "--until-idle", "3"], env, tmp_path / "consume.log")
    assert consumer.wait(120) == 0, (tmp_path / "consume.log").read_text()
    assert count(db) == (18, 18)  # every event, once


def test_workers_above_one_refuse_the_store_sink(tmp_path):
    env = processes.regaudit_env(tmp_path / "audit.duckdb", REGAUDIT_WEBHOOK__TOKENS=f'["{TOKEN}"]')
    command = [*processes.REGAUDIT, "webhook", "--port", str(processes.free_port()), "--sink", "duckdb"]
    result = subprocess.run([*command, "--workers", "2"], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "webhook.workers above 1 needs webhook.sink = 'kafka'" in result.stderr


def test_a_worker_that_fails_at_its_start_stops_the_others_with_status_1():
    script = (
        "import logging, time\n"
        "from regaudit.ingest.receive.workers import supervise\n"
        "logging.basicConfig()\n"
        "def serve(index):\n"
        "    if index == 1:\n"
        "        raise RuntimeError('the sink refused to start')\n"
        "    time.sleep(60)\n"
        "raise SystemExit(supervise(2, serve))\n"
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=30)
    assert result.returncode == 1, result.stderr
    assert "the sink refused to start" in result.stderr
    assert "exited with status 1 at its start: stopping the others" in result.stderr


def test_a_counter_table_row_added_to_in_a_forked_process_is_read_in_its_parent():
    table = CounterTable(2, COLUMNS)
    table.row(0)[0] += 3
    pid = os.fork()
    if pid == 0:
        table.row(1)[0] += 4
        table.row(1)[COLUMNS - 1] += 0.5
        os._exit(0)
    os.waitpid(pid, 0)
    assert table.totals()[0] == 7
    assert table.totals()[COLUMNS - 1] == 0.5
