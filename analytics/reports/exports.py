"""Data files of a report, byte-identical for the same rows: CSV, JSON Lines and Parquet written by DuckDB.

Determinism: the rows arrive already ordered (every report query ends in an ORDER BY over unique keys) and keep
that order through an explicit row number; the writing connection is in-memory, single-threaded and in UTC; times
are written as ``YYYY-MM-DDTHH:MM:SS.ffffffZ`` text in CSV and JSON Lines and as UTC timestamps in Parquet (zstd,
fixed row groups). Parquet's only environment-dependent byte is ``created_by``, which names the DuckDB version:
the manifest records the same version, and the same version gives the same bytes.

CSV: comma separated, a header line, ``"`` quoting only where needed, empty for NULL, ``true``/``false``, ``\\n``,
and text that a spreadsheet would run as a formula shown as text (``neutralize_formulas``). Every CSV regaudit
writes goes through ``write`` (the report's files) or ``csv_bytes`` (the dashboard's downloads).
JSON Lines: one object per row, keys in column order, ``null`` for NULL. JSON Lines, Parquet and the store keep
the text as it came.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Literal

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

Format = Literal["csv", "jsonl", "parquet"]
ROW = "__row"
_OPTIONS: dict[Format, str] = {
    "csv": "FORMAT csv, HEADER true, DELIMITER ',', QUOTE '\"', NULLSTR ''",
    "jsonl": "FORMAT json",
    "parquet": "FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 100000",
}
MEDIA_TYPES = {
    "csv": "text/csv",
    "jsonl": "application/jsonl",
    "parquet": "application/vnd.apache.parquet",
    "html": "text/html",
    "pdf": "application/pdf",
    "pem": "application/x-pem-file",
    "txt": "text/plain",
}
#: a cell starting with one of these is, or starts, a formula in Excel, LibreOffice and Google Sheets (OWASP's
#: CSV injection list: equals, plus, minus, at, tab, carriage return)
FORMULA_START = r"^[=+\-@\t\r]"


def connection() -> duckdb.DuckDBPyConnection:
    """The in-memory connection that writes a report's files (and computes its summaries)."""
    con = duckdb.connect(":memory:")
    con.execute("SET threads = 1")
    con.execute("SET TimeZone = 'UTC'")
    con.execute("SET preserve_insertion_order = true")
    return con


def _columns(table: pa.Table, as_text: bool) -> str:
    parts = []
    for column in table.schema:
        name = f'"{column.name}"'
        if as_text and pa.types.is_timestamp(column.type):
            parts.append(f"strftime({name} AT TIME ZONE 'UTC', '%Y-%m-%dT%H:%M:%S.%fZ') AS {name}")
        elif as_text and pa.types.is_date32(column.type):
            parts.append(f"strftime({name}, '%Y-%m-%d') AS {name}")
        else:
            parts.append(name)
    return ", ".join(parts)


def _is_text(data_type: pa.DataType) -> bool:
    return bool(pa.types.is_string(data_type) or pa.types.is_large_string(data_type))


def neutralize_formulas(table: pa.Table) -> pa.Table:
    """The table with every text cell that a spreadsheet would run as a formula prefixed with ``'``.

    A user agent, user name or repository is whatever a client sent: ``=HYPERLINK("http://x","y")`` in a CSV
    opened in a spreadsheet is a live link, ``-2+3`` shows 1 and ``@SUM(1)`` runs. With the apostrophe, Excel and
    LibreOffice show the text (Excel hides the apostrophe); numbers and times are not text and keep their form.
    """
    columns = []
    for column in table.columns:
        if pa.types.is_dictionary(column.type) or pa.types.is_string_view(column.type):
            text = column.type.value_type if pa.types.is_dictionary(column.type) else pa.string()
            column = column.cast(text) if _is_text(text) else column
        if _is_text(column.type):
            formula = pc.match_substring_regex(column, FORMULA_START)
            quoted = pc.binary_join_element_wise(pa.scalar("'", column.type), column, pa.scalar("", column.type))
            column = pc.if_else(formula, quoted, column)
        columns.append(column)
    return pa.Table.from_arrays(columns, names=table.column_names)


def csv_bytes(table: pa.Table) -> bytes:
    """The table as the report's CSV files are written (formulas neutralized), for a download."""
    with tempfile.TemporaryDirectory(prefix="regaudit-csv-") as directory:
        path = Path(directory) / "rows.csv"
        con = connection()
        try:
            write(con, table, path, "csv")
        finally:
            con.close()
        return path.read_bytes()


def write(con: duckdb.DuckDBPyConnection, table: pa.Table, path: Path, file_format: Format) -> int:
    """Write the table's rows in their order; returns the number of rows. CSV cells never run as formulas."""
    if file_format == "csv":
        table = neutralize_formulas(table)
    numbered = table.append_column(ROW, pa.array(range(table.num_rows), pa.int64()))
    con.register("export_rows", numbered)
    try:
        select = f"SELECT {_columns(table, file_format != 'parquet')} FROM export_rows ORDER BY {ROW}"  # noqa: S608
        target = str(path).replace("'", "''")
        con.execute(f"COPY ({select}) TO '{target}' ({_OPTIONS[file_format]})")
    finally:
        con.unregister("export_rows")
    return int(table.num_rows)
