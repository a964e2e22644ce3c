"""Data files of a report, byte-identical for the same rows: CSV, JSON Lines and Parquet written by DuckDB.

Determinism: the rows arrive already ordered (every report query ends in an ORDER BY over unique keys) and keep
that order through an explicit row number; the writing connection is in-memory, single-threaded and in UTC; times
are written as ``YYYY-MM-DDTHH:MM:SS.ffffffZ`` text in CSV and JSON Lines and as UTC timestamps in Parquet (zstd,
fixed row groups). Parquet's only environment-dependent byte is ``created_by``, which names the DuckDB version:
the manifest records the same version, and the same version gives the same bytes.

CSV: comma separated, a header line, ``"`` quoting only where needed, empty for NULL, ``true``/``false``, ``\\n``.
JSON Lines: one object per row, keys in column order, ``null`` for NULL.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import duckdb
import pyarrow as pa

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


def write(con: duckdb.DuckDBPyConnection, table: pa.Table, path: Path, file_format: Format) -> int:
    """Write the table's rows in their order; returns the number of rows."""
    numbered = table.append_column(ROW, pa.array(range(table.num_rows), pa.int64()))
    con.register("export_rows", numbered)
    try:
        select = f"SELECT {_columns(table, file_format != 'parquet')} FROM export_rows ORDER BY {ROW}"  # noqa: S608
        target = str(path).replace("'", "''")
        con.execute(f"COPY ({select}) TO '{target}' ({_OPTIONS[file_format]})")
    finally:
        con.unregister("export_rows")
    return int(table.num_rows)
