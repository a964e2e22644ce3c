"""Access-log ingest: nginx lines in ``combined`` and JSON format, imported from the file and through Kafka.

Baselines, same file, same run: GoAccess (Debian) parsing it into a JSON report; and a floor, DuckDB alone
reading the file in parallel and parsing each line with one regular expression (combined) or one JSON transform
into a table with access_log's columns, primary key and raw line: no validation, dead letters, shipper keys,
derived tables or hash chain: DuckDB's own speed at parsing and storing these lines on this machine, the engine
regaudit's import runs on.

    .venv/bin/python bench/ingest_access.py --lines 1000000
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import access_file, kafka_broker, record, regaudit_env, run_process, timed_statement  # noqa: E402

from regaudit.ingest import store  # noqa: E402

REGAUDIT = [sys.executable, "-m", "regaudit.cli", "--log-level", "WARNING"]
#: GoAccess's JSON log format for the FORMATS.md 3.1 keys the simulator writes
GOACCESS_JSON = (
    '{"ts": "%x", "remote_addr": "%h", "method": "%m", "uri": "%U", "proto": "%H", "status": "%s", '
    '"body_bytes_sent": "%b", "request_time": "%T", "ua": "%u", "host": "%v"}'
)


def goaccess(path: Path, access_format: str, work: Path) -> float:
    args = ["goaccess", str(path), "-o", str(work / "goaccess.json"), "--no-global-config"]
    if access_format == "combined":
        args += ["--log-format=COMBINED"]
    else:
        args += [f"--log-format={GOACCESS_JSON}", "--datetime-format=%Y-%m-%dT%H:%M:%S%z"]
    seconds, _, _ = run_process(args)
    return seconds


#: combined: address, user, time, method, URI, protocol, status, bytes, referer, user agent
COMBINED_REGEX = r'^(\S+) \S+ (\S+) \[([^\]]+)\] "(\S+) (\S+) (\S+)" (\d{3}) (\d+) "([^"]*)" "([^"]*)"'
FLOOR_SELECT = {
    "combined": """
        SELECT 'floor:' || row_number() OVER () AS line_key, strptime(m[3], '%d/%b/%Y:%H:%M:%S %z') AS request_at,
               m[1] AS client_addr, nullif(m[2], '-') AS remote_user, m[4] AS http_method, m[5] AS uri,
               m[7]::INTEGER AS status, m[8]::BIGINT AS body_bytes, NULL::DOUBLE AS request_seconds,
               m[10] AS user_agent, line AS raw
        FROM (SELECT line, regexp_extract(line, $regex, ['a', 'u', 't', 'm', 'p', 'v', 's', 'b', 'r', 'ua']) AS x,
                     [x['a'], x['u'], x['t'], x['m'], x['p'], x['v'], x['s'], x['b'], x['r'], x['ua']] AS m
              FROM read_csv($path, columns = {'line': 'VARCHAR'}, delim = chr(1), quote = '', escape = '',
                            header = false, auto_detect = false))
    """,
    "json": """
        SELECT 'floor:' || row_number() OVER () AS line_key, j.ts::TIMESTAMPTZ AS request_at,
               j.remote_addr AS client_addr, nullif(j.remote_user, '') AS remote_user, j.method AS http_method,
               j.uri, j.status::INTEGER AS status, j.body_bytes_sent::BIGINT AS body_bytes,
               j.request_time::DOUBLE AS request_seconds, j.ua AS user_agent, line AS raw
        FROM (SELECT line, json_transform(line, '{"ts": "VARCHAR", "remote_addr": "VARCHAR", "remote_user": "VARCHAR",
                  "method": "VARCHAR", "uri": "VARCHAR", "status": "VARCHAR", "body_bytes_sent": "VARCHAR",
                  "request_time": "VARCHAR", "ua": "VARCHAR"}') AS j
              FROM read_csv($path, columns = {'line': 'VARCHAR'}, delim = chr(1), quote = '', escape = '',
                            header = false, auto_detect = false))
    """,
}


def duckdb_floor(path: Path, access_format: str, work: Path) -> float:
    """Seconds for DuckDB alone to parse the file into a table with access_log's columns and primary key."""
    sql = f"""INSERT INTO access_log (line_key, request_at, client_addr, remote_user, http_method, uri, status,
                  body_bytes, request_seconds, user_agent, raw, endpoint, log_format, shipper, received_at,
                  origin, batch_id)
              SELECT *, 'other', $format, 'floor', now(), 'floor', 1
              FROM ({FLOOR_SELECT[access_format]})"""  # noqa: S608 - fixed text; every value is bound
    params = {"path": str(path), "format": access_format}
    return timed_statement(work / "floor.duckdb", sql, params | ({"regex": COMBINED_REGEX} if "$regex" in sql else {}))


def stored_lines(db: Path) -> int:
    with store.reader(db) as con:
        return int(con.execute("SELECT count(*) FROM access_log").fetchall()[0][0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--formats", nargs="+", default=["combined", "json"])
    parser.add_argument("--kafka", action=argparse.BooleanOptionalAction, default=True)
    args = parser.parse_args()
    for access_format in args.formats:
        path = access_file(args.lines, access_format)
        with tempfile.TemporaryDirectory(prefix="regaudit-bench-") as tmp:
            work = Path(tmp)
            goaccess_seconds = goaccess(path, access_format, work)
            floor_seconds = duckdb_floor(path, access_format, work)
            db = work / "file.duckdb"
            env = regaudit_env(REGAUDIT_STORE__PATH=str(db))
            import_seconds, peak, _ = run_process(
                [*REGAUDIT, "ship-logs", str(path), "--sink", "duckdb", "--host", "bench", "--batch-lines", "50000",
                 "--state", str(work / "pos"), "--until-idle", "0.2"], env,
            )  # fmt: skip
            result: dict[str, object] = {
                "format": access_format,
                "lines": args.lines,
                "stored": stored_lines(db),
                "goaccess_seconds": round(goaccess_seconds, 2),
                "goaccess_lines_per_second": round(args.lines / goaccess_seconds),
                "regaudit_import_seconds": round(import_seconds, 2),
                "regaudit_import_lines_per_second": round(args.lines / import_seconds),
                "ratio_import_vs_goaccess": round(goaccess_seconds / import_seconds, 2),
                "duckdb_floor_seconds": round(floor_seconds, 2),
                "duckdb_floor_lines_per_second": round(args.lines / floor_seconds),
                "ratio_floor_vs_goaccess": round(goaccess_seconds / floor_seconds, 2),
                "peak_rss_mib": round(peak / 2**20),
            }
            if args.kafka:
                result |= through_kafka(path, work)
            record("ingest_access", result)


def through_kafka(path: Path, work: Path) -> dict[str, object]:
    with kafka_broker() as broker:
        broker.create_topics(["bench.access"], partitions=3)
        db = work / "kafka.duckdb"
        env = regaudit_env(
            REGAUDIT_STORE__PATH=str(db),
            REGAUDIT_KAFKA__BOOTSTRAP_SERVERS=broker.bootstrap,
            REGAUDIT_KAFKA__ACCESS_TOPIC="bench.access",
            REGAUDIT_CONSUMER__GROUP_ID="bench",
        )
        ship_seconds, _, _ = run_process(
            [*REGAUDIT, "ship-logs", str(path), "--host", "bench", "--batch-lines", "50000",
             "--state", str(work / "kafka-pos"), "--until-idle", "0.2"], env,
        )  # fmt: skip
        consume_seconds, _, _ = run_process([*REGAUDIT, "consume", "--until-idle", "3"], env)
        return {
            "kafka_ship_seconds": round(ship_seconds, 2),
            "kafka_consume_seconds": round(consume_seconds - 3, 2),
            "kafka_stored": stored_lines(db),
        }


if __name__ == "__main__":
    main()
