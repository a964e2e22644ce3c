"""Access-log ingest: nginx lines in ``combined`` and JSON format, imported from the file and through Kafka.

Baseline, same file, same run: GoAccess (Debian) parsing it into a JSON report.

    .venv/bin/python bench/ingest_access.py --lines 1000000
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import access_file, kafka_broker, record, regaudit_env, run_process  # noqa: E402

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
