"""CSV files never hand a spreadsheet a formula: a client's user agent is shown as text, and only in CSV.

OWASP's CSV injection list: a cell starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is run as
(or starts) a formula by Excel, LibreOffice and Google Sheets.
"""

from __future__ import annotations

import csv
import io
import json

import pyarrow as pa
import pyarrow.parquet as pq

from regaudit.analytics.reports import Period, Scope, build_report, verify_report
from regaudit.analytics.reports.exports import csv_bytes, neutralize_formulas
from regaudit.analytics.reports.settings import ReportsSettings
from regaudit.evidence import signing
from tests.analytics.reports.hostile import HOSTILE, hostile_store

HARMLESS = ("skopeo/1.9.3", "docker/27.3.1 go/go1.22", "a=b", "")


def test_text_a_spreadsheet_would_run_gets_an_apostrophe_and_nothing_else_changes():
    table = pa.table(
        {
            "user_agent": [*HOSTILE, *HARMLESS, None],
            "blob_bytes": [-5, 1, 2, 3, 4, 5, 6, 7, 8, 9, None],
            "tag": pa.array(["-rc1", "v1", "v1", "v1", "v1", "v1", "v1", "v1", "v1", "v1", "v1"]).dictionary_encode(),
        }
    )
    safe = neutralize_formulas(table)
    assert safe.column("user_agent").to_pylist() == [*("'" + value for value in HOSTILE), *HARMLESS, None]
    assert safe.column("blob_bytes").to_pylist() == table.column("blob_bytes").to_pylist()  # numbers keep a sign
    assert safe.column("tag").to_pylist()[:2] == ["'-rc1", "v1"]


def test_every_arrow_text_type_is_neutralized():  # pandas gives large_string, DuckDB may give string_view
    for text in (pa.string(), pa.large_string(), pa.string_view()):
        table = pa.table({"user_agent": pa.array(list(HOSTILE), text)})
        assert neutralize_formulas(table).column("user_agent").to_pylist() == ["'" + value for value in HOSTILE]


def test_csv_bytes_quote_what_needs_quotes_and_read_back_as_the_neutralized_text():
    table = pa.table({"user_agent": [*HOSTILE, *HARMLESS], "n": range(len(HOSTILE) + len(HARMLESS))})
    rows = list(csv.reader(io.StringIO(csv_bytes(table).decode(), newline="")))
    assert rows[0] == ["user_agent", "n"]
    assert [row[0] for row in rows[1:]] == ["'" + value for value in HOSTILE] + list(HARMLESS)


def test_report_csv_shows_hostile_user_agents_as_text_while_jsonl_and_parquet_keep_them(tmp_path):
    key_path = tmp_path / "signing.pem"
    signing.generate_key(key_path)
    settings = ReportsSettings(signing_key_path=key_path, pdf=False)
    period = Period.parse("2026-11-26..2026-11-27")
    result = build_report(hostile_store(tmp_path), period, Scope(), tmp_path / "report", settings)
    directory = result.directory
    with (directory / "activity.csv").open(newline="", encoding="utf-8") as handle:
        from_csv = [row["user_agent"] for row in csv.DictReader(handle)]
    from_jsonl = [json.loads(line)["user_agent"] for line in (directory / "activity.jsonl").read_text().splitlines()]
    from_parquet = pq.read_table(directory / "activity.parquet").column("user_agent").to_pylist()
    assert set(from_jsonl) == set(HOSTILE)
    assert from_parquet == from_jsonl
    assert from_csv == ["'" + value for value in from_jsonl]
    assert verify_report(directory, signing.load_public_key(key_path)).ok
