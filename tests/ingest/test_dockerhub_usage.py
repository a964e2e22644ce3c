"""``regaudit import --source dockerhub-usage``: Docker Hub's usage export (the pulls CSV of the Usage page), run as
the operator runs it, into a DuckDB file. The CSV is built from the documented columns, not captured
(tests/fixtures/dockerhub/PROVENANCE.md): no real export is published."""

from __future__ import annotations

import json
from pathlib import Path

from regaudit.ingest.importer import Importer
from regaudit.ingest.normalize import Normalizer
from regaudit.ingest.sinks.duckdb import DuckDBSink
from regaudit.ingest.sources.dockerhub import usage
from tests.ingest.test_import import regaudit, rows, summary

USAGE_CSV = Path(__file__).parents[1] / "fixtures" / "dockerhub" / "usage-pulls-constructed.csv"
COUNTED = """
    SELECT repository, actor, client_addr, counted_as::VARCHAR, count(*), min(occurred_at)::VARCHAR
    FROM counted_activity WHERE registry = 'dockerhub' GROUP BY ALL ORDER BY ALL
"""


def test_the_header_is_the_documented_columns_in_order():
    assert USAGE_CSV.read_text().splitlines()[0] == ",".join(usage.COLUMNS)


def test_usage_rows_become_pulls_and_checks_at_the_hour_and_a_second_import_stores_nothing(tmp_path):
    db = tmp_path / "audit.duckdb"
    first = regaudit(db, "import", "--source", "dockerhub-usage", str(USAGE_CSV))
    again = regaudit(db, "import", "--source", "dockerhub-usage", str(USAGE_CSV))
    assert first.returncode == again.returncode == 0, first.stderr + again.stderr
    assert (summary(first)["stored"], summary(first)["dead_letters"]) == ("11", "0")
    assert (summary(again)["stored"], summary(again)["duplicates"]) == ("0", "11")
    assert rows(db, COUNTED) == [
        ("docker/example", "docker", "192.0.2.1", "check", 2, "2021-02-19 01:00:00+00"),
        ("docker/example", "docker", "192.0.2.1", "pull", 3, "2021-02-19 01:00:00+00"),
        ("example-org/example-repo", "example-ci-user", "192.0.2.1", "pull", 1, "2026-01-02 03:00:00+00"),
        # anonymous (no user_name), two addresses in the hour: no single client
        ("ratelimitpreview/test", None, None, "check", 1, "2021-02-19 01:00:00+00"),
        ("ratelimitpreview/test", None, None, "pull", 4, "2021-02-19 01:00:00+00"),
    ]
    events = rows(db, "SELECT DISTINCT registry_kind, action, target_kind, tag, digest, raw FROM registry_events")
    assert {row[:3] for row in events} == {("dockerhub", "pull", "manifest")}
    by_repository = {json.loads(row[5])["repository"]: row for row in events}
    assert by_repository["docker/example"][3:5] == (
        "latest", "sha256:c1ae9c435032a276f80220c7d9b40f76266bbe79243d34f9cda30b76fe114dfa",
    )  # fmt: skip
    assert by_repository["example-org/example-repo"][3] is None  # a pull by digest names no tag
    assert json.loads(by_repository["ratelimitpreview/test"][5])["ips"] == "192.0.2.1,198.51.100.7"


def test_hostile_rows_become_dead_letters_and_the_good_row_is_stored(tmp_path):
    header, good = USAGE_CSV.read_bytes().splitlines()[:2]
    hostile = [
        b"2021/02/30/01,docker,docker/example,generated,192.0.2.1,private,latest,,0,1",  # no such day
        b"19-02-2021 01:00,docker,docker/example,generated,192.0.2.1,private,latest,,0,1",
        b"2021/02/19/01,docker,docker/example,generated,192.0.2.1,private,latest,,0,-3",
        b"2021/02/19/01,docker,docker/example,generated,192.0.2.1,private,latest,,many,1",
        b"2021/02/19/01,docker,docker/example,generated,192.0.2.1,private,latest,,0,1000001",
        b"2021/02/19/01,docker,docker/example,generated,192.0.2.1,private,latest,,0," + b"9" * 5000,
        b"2021/02/19/01,docker,docker/example,generated,192.0.2.1",
        b"\xff\xfe\x00 DROP TABLE registry_events;--",
    ]
    path = tmp_path / "usage.csv"
    path.write_bytes(b"\r\n".join([header, *hostile, good]) + b"\r\n")  # as a spreadsheet writes it
    db = tmp_path / "audit.duckdb"
    imported = regaudit(db, "import", "--source", "dockerhub-usage", str(path))
    assert imported.returncode == 0, imported.stderr
    assert (summary(imported)["stored"], summary(imported)["dead_letters"]) == ("5", str(len(hostile)))
    dead = dict(rows(db, "SELECT raw, reason FROM dead_letters"))
    assert sorted(dead) == sorted(hostile)
    assert "day is out of range" in dead[hostile[0]]
    assert "is not yyyy/mm/dd/hh" in dead[hostile[1]]
    assert "'-3' is not a whole number" in dead[hostile[2]]
    assert "'many' is not a whole number" in dead[hostile[3]]
    assert "1000001 above 1000000" in dead[hostile[4]]
    assert "above 1000000" in dead[hostile[5]]
    assert "5 columns, expected 10" in dead[hostile[6]]
    assert "not UTF-8" in dead[hostile[7]]
    assert rows(db, "SELECT count(*) FROM counted_activity WHERE counted_as = 'pull'") == [(3,)]


def test_a_row_of_many_pulls_is_cut_into_batches_by_the_rows_it_becomes(tmp_path):
    """--batch-lines bounds a batch's rows: 40 lines of 10 pulls, then one of 250 pulls and 30 checks in parts."""
    header = USAGE_CSV.read_bytes().splitlines()[0]
    lines = [f"2021/02/19/{hour:02d},docker,docker/example,,192.0.2.1,private,latest,,0,10".encode()
             for hour in range(20)] * 2  # fmt: skip
    heavy = b"2021/02/20/00,docker,docker/example,,192.0.2.1,private,latest,,30,250"
    path = tmp_path / "usage.csv"
    path.write_bytes(b"\n".join([header, *lines, heavy]) + b"\n")
    db = tmp_path / "audit.duckdb"
    sink = DuckDBSink(db, 10.0, "dockerhub")
    normalizer = Normalizer("dockerhub")
    try:
        importer = Importer(sink, normalizer, "edge-1", "dockerhub", 100, "dockerhub-usage")
        done = importer.run(importer.plan([path], kind="event"))
    finally:
        normalizer.close()
    # the second 20 lines repeat the first; the heavy line counts once though it came in three parts
    assert (done.lines, done.stored, done.duplicates, done.dead_letters) == (42, 480, 200, 0)
    # the header weighs 1: the header and 9 lines, 10 lines a batch thrice, the last line, the heavy one's 3 parts
    assert rows(db, "SELECT max(events_count), count(*) FROM ingest_batches") == [(100, 8)]
    heavy_rows = (
        "SELECT counted_as::VARCHAR, count(*) FROM counted_activity WHERE occurred_at >= DATE '2021-02-20' GROUP BY 1"
    )
    assert sorted(rows(db, heavy_rows)) == [("check", 30), ("pull", 250)]
