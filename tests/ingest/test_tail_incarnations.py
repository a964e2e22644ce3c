"""FileTail: every life of the path gets line keys no other life had, and the same life the same keys again.

ext4 hands a freed inode straight back: ``rm registry.json.1; mv registry.json registry.json.1; nginx -s reopen``
gives the new log the inode of the deleted one. Keys built from the inode alone then repeat, and the store's
``ON CONFLICT DO NOTHING`` drops the new file's lines.
"""

from __future__ import annotations

import json
import os
import shutil

from regaudit.ingest.receive.shipper import Shipper
from regaudit.ingest.receive.tail import FileTail
from regaudit.ingest.sinks.memory import MemorySink
from tests.ingest.rotation import access_lines, append, replace_on_same_inode, rotate


def ship(log, state, sink, batch_lines=7):
    Shipper(FileTail(log, state, "edge-1"), sink, poll_seconds=0.01, batch_lines=batch_lines).run(max_idle_seconds=0.05)


def keys(sink):
    return [record.key for _, record in sink.delivered]


def values(sink):
    return [record.value for _, record in sink.delivered]


def test_files_on_reused_inodes_get_keys_no_earlier_file_had(tmp_path):
    log, state, sink = tmp_path / "logs" / "registry.json", tmp_path / "pos", MemorySink()
    log.parent.mkdir()
    append(log, access_lines(0, 10))
    inodes = [log.stat().st_ino]
    tail = FileTail(log, state, "edge-1")
    shipper = Shipper(tail, sink, poll_seconds=0.01, batch_lines=4)
    shipper.run(max_idle_seconds=0.05)
    for generation in range(1, 5):
        inodes.append(rotate(log))
        append(log, access_lines(generation * 10, 10))  # same lengths: the same offsets in every file
        shipper.run(max_idle_seconds=0.05)
    assert len(set(inodes)) < len(inodes), f"the file system reused no inode: {inodes}"
    assert values(sink) == access_lines(0, 50)
    assert len(set(keys(sink))) == 50


def test_a_new_file_on_the_same_inode_starting_with_the_same_line_is_read_from_its_start(tmp_path):
    log, state, sink = tmp_path / "logs" / "registry.json", tmp_path / "pos", MemorySink()
    log.parent.mkdir()
    append(log, access_lines(0, 5))
    ship(log, state, sink)
    # deleted while the shipper is down, and a new file on its inode: same first line, longer than the position
    replace_on_same_inode(log, access_lines(0, 1) + access_lines(100, 9))
    ship(log, state, sink)
    assert values(sink) == access_lines(0, 5) + access_lines(0, 1) + access_lines(100, 9)
    assert len(set(keys(sink))) == 15


def test_copytruncate_and_regrowth_past_the_position_between_two_polls_starts_a_new_incarnation(tmp_path):
    log, state, sink = tmp_path / "registry.json", tmp_path / "pos", MemorySink()
    append(log, access_lines(0, 5))
    tail = FileTail(log, state, "edge-1")
    shipper = Shipper(tail, sink, poll_seconds=0.01, batch_lines=100)
    shipper.run(max_idle_seconds=0.05)
    for start in (10, 20):  # the second time the first line repeats too
        shutil.copy(log, tmp_path / "registry.json.1")
        with log.open("r+b") as handle:
            handle.truncate(0)
        append(log, access_lines(start, 1) if start == 10 else access_lines(10, 1))
        append(log, access_lines(start + 1, 7))  # grown past the old position before the next poll
        shipper.run(max_idle_seconds=0.05)
    assert values(sink) == access_lines(0, 5) + access_lines(10, 8) + access_lines(10, 1) + access_lines(21, 7)
    assert len(set(keys(sink))) == 21


def copytruncate(log):
    """logrotate's copytruncate: copy the log to ``.1``, then empty it in place (same inode)."""
    shutil.copy(log, log.with_name(log.name + ".1"))
    with log.open("r+b") as handle:
        handle.truncate(0)


def test_lines_written_just_before_a_copytruncate_are_read_from_the_copy(tmp_path):
    log, state, sink = tmp_path / "registry.json", tmp_path / "pos", MemorySink()
    append(log, access_lines(0, 5))
    shipper = Shipper(FileTail(log, state, "edge-1"), sink, poll_seconds=0.01, batch_lines=100)
    shipper.run(max_idle_seconds=0.05)
    append(log, access_lines(5, 3))  # after the last read, before the copy
    copytruncate(log)
    append(log, access_lines(8, 4))
    shipper.run(max_idle_seconds=0.05)
    assert values(sink) == access_lines(0, 12)
    assert len(set(keys(sink))) == 12


def test_lines_written_before_a_copytruncate_while_the_shipper_was_down_are_read_from_the_copy(tmp_path):
    log, state, sink = tmp_path / "registry.json", tmp_path / "pos", MemorySink()
    append(log, access_lines(0, 5))
    ship(log, state, sink)
    append(log, access_lines(5, 3))
    copytruncate(log)
    append(log, access_lines(8, 20))  # grown past the saved position again
    ship(log, state, sink)
    ship(log, state, sink)
    assert values(sink) == access_lines(0, 28)
    assert len(set(keys(sink))) == 28


def test_a_batch_read_again_after_a_crash_gets_the_keys_it_had(tmp_path):
    log, state, sink = tmp_path / "logs" / "registry.json", tmp_path / "pos", MemorySink()
    log.parent.mkdir()
    append(log, access_lines(0, 6))
    ship(log, state, sink)
    rotate(log)
    rotate(log)  # the first file is gone: its inode is back at the path
    append(log, access_lines(0, 1) + access_lines(6, 5))
    committed = state.read_bytes()
    ship(log, state, sink)
    state.write_bytes(committed)  # the crash: delivered, position not saved
    replay = MemorySink()
    ship(log, state, replay)
    assert keys(replay) == keys(sink)[6:]
    assert len(set(keys(sink))) == 12


def test_a_position_saved_before_incarnations_keeps_its_key_names(tmp_path):
    log, state, sink = tmp_path / "registry.json", tmp_path / "pos", MemorySink()
    append(log, access_lines(0, 3))
    stat = log.stat()
    offset = len(access_lines(0, 1)[0]) + 1
    state.write_text(json.dumps({"device": stat.st_dev, "inode": stat.st_ino, "generation": 2, "offset": offset}))
    ship(log, state, sink)
    assert keys(sink) == [f"edge-1:{log}:{stat.st_ino}.2:{offset * n}" for n in (1, 2)]
    assert json.loads(state.read_text())["incarnation"] == f"{stat.st_ino}.2"


def test_the_position_file_beside_the_log_is_never_taken_for_the_log(tmp_path):
    log, sink = tmp_path / "registry.json", MemorySink()
    state = tmp_path / "registry.json.regaudit-pos"
    append(log, access_lines(0, 3))
    ship(log, state, sink)
    os.unlink(log)
    append(log, access_lines(3, 2))
    ship(log, state, sink)
    assert values(sink) == access_lines(0, 5)
