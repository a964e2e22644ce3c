"""`regaudit ship-logs` as a process into a real store: every life of the log stored, each line exactly once.

The rotations are the ones operators run (docs/production.md's ``rm .1; mv; nginx -s reopen``, logrotate's
copytruncate, a truncation, a log deleted and recreated), with the inode given back to the next file created.
"""

from __future__ import annotations

import json
import shutil

import pytest

from tests.ingest import processes
from tests.ingest.rotation import access_lines, append, replace_on_same_inode, rotate


class Log:
    """The log file and every line written to it, in order."""

    def __init__(self, tmp_path):
        (tmp_path / "nginx").mkdir()
        self.path = tmp_path / "nginx" / "registry.json"
        self.state = tmp_path / "registry.json.pos"
        self.written: list[bytes] = []

    def write(self, lines):
        append(self.path, lines)
        self.written += lines

    def truncate(self):
        with self.path.open("r+b") as handle:
            handle.truncate(0)

    def shipped(self):
        """The position saved is the end of the file: everything written was delivered."""
        try:
            saved = json.loads(self.state.read_text())
        except (FileNotFoundError, ValueError):
            return False
        return saved["offset"] == self.path.stat().st_size and saved["inode"] == self.path.stat().st_ino


def stored(db):
    with processes.reader(db) as con:
        return con.execute("SELECT line_key, raw FROM access_log").fetchall()


def assert_stored_once(db, written):
    rows = stored(db)
    assert len({key for key, _ in rows}) == len(rows) == len(written)
    assert sorted(raw.encode() for _, raw in rows) == sorted(written)


def test_ship_logs_stores_each_line_once_across_rotations_with_inode_reuse_and_restarts(tmp_path):
    db, out, log = tmp_path / "audit.duckdb", tmp_path / "ship.log", Log(tmp_path)
    env = processes.regaudit_env(db)
    command = ["ship-logs", str(log.path), "--state", str(log.state), "--host", "edge-1", "--sink", "duckdb"]

    def ship():
        process = processes.start([*command, "--until-idle", "1"], env, out)
        assert process.wait(120) == 0, out.read_text()[-2000:]

    log.write(access_lines(0, 10))
    first_inode = log.path.stat().st_ino
    ship()
    rotate(log.path)
    log.write(access_lines(10, 10))
    ship()
    assert rotate(log.path) == first_inode  # the first file dropped, its inode back at the path
    log.write(access_lines(0, 1) + access_lines(20, 9))  # and even its first line repeats
    ship()
    log.write(access_lines(200, 4))  # written while the shipper is down, then copytruncate: read from the copy
    shutil.copy(log.path, log.path.with_name("registry.json.2"))
    log.truncate()
    log.write(access_lines(30, 6))
    ship()
    log.truncate()  # truncated and grown past the saved position while the shipper was down
    log.write(access_lines(40, 13))
    ship()
    replace_on_same_inode(log.path, access_lines(40, 1) + access_lines(60, 20))  # deleted, recreated
    log.written += access_lines(40, 1) + access_lines(60, 20)
    ship()
    ship()  # nothing new: nothing stored again
    assert_stored_once(db, log.written)


def test_a_running_ship_logs_stores_each_line_once_across_rotations_with_inode_reuse(tmp_path):
    db, out, log = tmp_path / "audit.duckdb", tmp_path / "ship.log", Log(tmp_path)
    env = processes.regaudit_env(db)
    log.write(access_lines(0, 10))
    inodes = [log.path.stat().st_ino]
    shipper = processes.start(
        ["ship-logs", str(log.path), "--state", str(log.state), "--host", "edge-1", "--sink", "duckdb"], env, out
    )
    try:
        processes.wait_for(log.shipped, 60, "first lines shipped")
        for start in range(10, 60, 10):
            log.write(access_lines(start, 3))  # written just before the rotation, read through the old file
            inodes.append(rotate(log.path))
            log.write(access_lines(start + 3, 7))
            processes.wait_for(log.shipped, 60, f"rotation {start // 10} followed")
    finally:
        assert processes.stop(shipper) == 0, out.read_text()[-2000:]
    assert len(set(inodes)) < len(inodes), inodes
    assert_stored_once(db, log.written)


@pytest.mark.kafka
def test_ship_logs_through_kafka_stores_each_line_once_across_rotations_with_inode_reuse(
    kafka_broker, kafka_topics, tmp_path
):
    db, out, log = tmp_path / "audit.duckdb", tmp_path / "ship.log", Log(tmp_path)
    env = processes.regaudit_env(db, kafka_broker.bootstrap, kafka_topics)
    log.write(access_lines(0, 10))
    inodes = [log.path.stat().st_ino]
    shipper = processes.start(["ship-logs", str(log.path), "--state", str(log.state), "--host", "edge-1"], env, out)
    try:
        processes.wait_for(log.shipped, 60, "first lines shipped")
        for start in range(10, 40, 10):
            inodes.append(rotate(log.path))
            log.write(access_lines(0, 1) + access_lines(start + 1, 9))  # the same first line every time
            processes.wait_for(log.shipped, 60, f"rotation {start // 10} followed")
        log.write(access_lines(40, 3))  # read before the copy, or after it from the copy
        shutil.copy(log.path, log.path.with_name("registry.json.2"))  # copytruncate
        log.truncate()
        log.write(access_lines(50, 12))
        processes.wait_for(log.shipped, 60, "copytruncate followed")
    finally:
        assert processes.stop(shipper) == 0, out.read_text()[-2000:]
    assert len(set(inodes)) < len(inodes), inodes
    consumer = processes.start(["consume", "--until-idle", "3"], env, tmp_path / "consume.log")
    assert consumer.wait(120) == 0
    assert_stored_once(db, log.written)
