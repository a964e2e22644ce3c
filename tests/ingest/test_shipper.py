"""ship-logs: every line delivered once across rename rotation, copytruncate and restarts."""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest

from regaudit.errors import TransientError
from regaudit.ingest.receive.shipper import Shipper
from regaudit.ingest.receive.tail import FileTail
from regaudit.ingest.sinks.memory import MemorySink
from tests.ingest import processes


def append(path, lines):
    with path.open("ab") as handle:
        for line in lines:
            handle.write(line + b"\n")


def lines(start, n):
    return [
        f'{{"ts":"2026-11-26T19:00:00+00:00","method":"GET","uri":"/v2/","status":"401","n":{i}}}'.encode()
        for i in range(start, start + n)
    ]


def ship(log, state, sink):
    shipper = Shipper(FileTail(log, state, "edge-1"), sink, poll_seconds=0.01, batch_lines=7)
    shipper.run(max_idle_seconds=0.05)
    return shipper


def values(sink):
    return [record.value for _, record in sink.delivered]


def test_tail_survives_rename_rotation_and_restarts(tmp_path):
    log, state, sink = tmp_path / "registry.json", tmp_path / "pos", MemorySink()
    append(log, lines(0, 10))
    ship(log, state, sink)
    append(log, lines(10, 5))  # written before the rotation, read after it
    os.rename(log, tmp_path / "registry.json.1")
    append(log, lines(15, 5))
    ship(log, state, sink)  # a restart: the old file is found again by its inode
    append(log, lines(20, 3))
    ship(log, state, sink)
    assert values(sink) == lines(0, 23)
    assert len({record.key for _, record in sink.delivered}) == 23


def test_tail_survives_copytruncate(tmp_path):
    log, state, sink = tmp_path / "registry.json", tmp_path / "pos", MemorySink()
    append(log, lines(0, 10))
    tail = FileTail(log, state, "edge-1")
    shipper = Shipper(tail, sink, poll_seconds=0.01, batch_lines=100)
    shipper.run(max_idle_seconds=0.05)
    shutil.copy(log, tmp_path / "registry.json.1")
    with log.open("r+b") as handle:
        handle.truncate(0)
    append(log, lines(10, 3))
    shipper.run(max_idle_seconds=0.05)
    assert values(sink) == lines(0, 13)
    assert len({record.key for _, record in sink.delivered}) == 13  # same offsets, new generation


def test_a_partial_last_line_waits_for_its_end(tmp_path):
    log, state, sink = tmp_path / "registry.json", tmp_path / "pos", MemorySink()
    log.write_bytes(b'{"a":1}\n{"b":')
    ship(log, state, sink)
    assert values(sink) == [b'{"a":1}']
    append(log, [b"2}"])
    ship(log, state, sink)
    assert values(sink) == [b'{"a":1}', b'{"b":2}']


def shipping_to_a_sink_that_is_down(tmp_path):
    """Three lines to ship, and a shipper of them whose sink is down."""
    log, state = tmp_path / "registry.json", tmp_path / "pos"
    append(log, lines(0, 3))
    down = MemorySink()
    down.down = True
    return log, state, Shipper(FileTail(log, state, "edge-1"), down, poll_seconds=0.01, batch_lines=7)


def shipped_once_the_sink_is_up(log, state):
    assert not state.exists()
    up = MemorySink()
    ship(log, state, up)
    assert values(up) == lines(0, 3)


def test_the_position_does_not_advance_while_the_sink_is_down(tmp_path):
    log, state, shipper = shipping_to_a_sink_that_is_down(tmp_path)
    stopper = __import__("threading").Timer(0.2, shipper.stop)
    stopper.start()
    shipper.run()
    stopper.join()
    shipped_once_the_sink_is_up(log, state)


def test_a_one_shot_run_gives_up_on_a_sink_that_stays_down_with_its_error_and_keeps_the_position(tmp_path):
    log, state, shipper = shipping_to_a_sink_that_is_down(tmp_path)
    with pytest.raises(TransientError, match=r"down for \d+ s \((\d+) attempts\), position kept"):
        shipper.run(max_idle_seconds=0.05)
    shipped_once_the_sink_is_up(log, state)


def test_a_one_shot_ship_logs_whose_broker_never_answers_exits_75_and_saves_no_position(tmp_path):
    """The cron form against a Kafka nobody listens for: the real kafka-python producer fails to bootstrap, and
    the run ends with 75 (try again later) instead of retrying forever; the line waits for the next run."""
    log, state = tmp_path / "access.log", tmp_path / "pos"
    append(log, lines(0, 1))
    env = processes.regaudit_env(tmp_path / "unused.duckdb", f"127.0.0.1:{processes.free_port()}")
    done = subprocess.run(
        [*processes.REGAUDIT, "ship-logs", str(log), "--sink", "kafka", "--state", str(state), "--until-idle", "1"],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 75, done.stderr[-3000:]
    assert "position kept" in done.stderr
    assert not state.exists()


def saved_offset(state):
    try:
        return json.loads(state.read_text())["offset"]
    except (FileNotFoundError, ValueError):
        return 0


@pytest.mark.kafka
def test_ship_logs_process_across_rotation_and_restart_stores_every_line_once(kafka_broker, kafka_topics, tmp_path):
    db, log, logs = tmp_path / "audit.duckdb", tmp_path / "registry.json", tmp_path / "ship.log"
    state = tmp_path / "registry.json.regaudit-pos"
    env = processes.regaudit_env(db, kafka_broker.bootstrap, kafka_topics)
    nginx_lines = processes.SAMPLES_LOG.read_bytes().splitlines()
    append(log, nginx_lines[:10])
    shipper = processes.start(["ship-logs", str(log), "--host", "edge-1"], env, logs)
    processes.wait_for(lambda: saved_offset(state) == log.stat().st_size, 60, "first lines shipped")
    append(log, nginx_lines[10:15])  # written just before the rotation
    os.rename(log, tmp_path / "registry.json.1")  # logrotate's rename; nginx reopens the path
    append(log, nginx_lines[15:20])
    processes.wait_for(lambda: saved_offset(state) == log.stat().st_size, 60, "rotated file followed")
    processes.stop(shipper)
    append(log, nginx_lines[20:25])  # written while the shipper is down
    restarted = processes.start(["ship-logs", str(log), "--host", "edge-1", "--until-idle", "2"], env, logs)
    assert restarted.wait(60) == 0, logs.read_text()[-2000:]
    shutil.copy(log, tmp_path / "registry.json.2")  # copytruncate while the shipper is down
    with log.open("r+b") as handle:
        handle.truncate(0)
    append(log, nginx_lines[25:])
    again = processes.start(["ship-logs", str(log), "--host", "edge-1", "--until-idle", "2"], env, logs)
    assert again.wait(60) == 0
    consumer = processes.start(["consume", "--until-idle", "3"], env, tmp_path / "consume.log")
    assert consumer.wait(120) == 0
    with processes.reader(db) as con:
        stored = con.execute(
            "SELECT count(*), count(DISTINCT line_key), count(DISTINCT raw) FROM access_log"
        ).fetchall()
    assert stored == [(len(nginx_lines), len(nginx_lines), len(set(nginx_lines)))]
