"""``regaudit demo``: the embedded default, no Kafka needed.

It synthesizes a realistic month of registry traffic with injected incidents (``regaudit.simulator``),
runs it through the same parse ▶ normalize ▶ store code as production (``load_simulation``: envelope split,
``Normalizer``, ``DuckDBSink``), imports the simulated credential inventory, runs every detection, prints who
pushed and pulled what, and opens the dashboard on the result.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import pandas as pd

from regaudit.analytics.detection import severity_order_sql
from regaudit.ingest import store
from regaudit.settings import Settings

DEFAULT_DB = Path("regaudit-demo.duckdb")

#: title -> query; each is a fixed statement over the canonical tables (no values to bind), counting what the
#: store's view ``counted_activity`` says each row counts as (the dashboard's and the reports' rules)
SUMMARY_QUERIES: dict[str, str] = {
    "Who pulled what (top 10 by real pulls)": """
        SELECT coalesce(actor, '(anonymous)') AS identity, repository,
               count(*) FILTER (WHERE counted_as = 'pull') AS pulls,
               count(*) FILTER (WHERE counted_as = 'check') AS head_checks,
               round(sum(blob_bytes) / 1e9, 2) AS gigabytes, max(occurred_at)::TIMESTAMP(0) AS last_pull_utc
        FROM counted_activity WHERE counted_as IN ('pull', 'check')
        GROUP BY ALL ORDER BY pulls DESC, identity LIMIT 10""",
    "Who pushed what (top 10)": """
        SELECT actor AS identity, repository, count(*) AS pushes, count(DISTINCT tag) AS tags,
               max(occurred_at)::TIMESTAMP(0) AS last_push_utc
        FROM counted_activity WHERE counted_as = 'push'
        GROUP BY ALL ORDER BY pushes DESC, identity LIMIT 10""",
    "Overwritten tags (release and protected patterns first)": """
        SELECT repository || ':' || tag AS tag, left(previous_digest, 19) AS was, left(digest, 19) AS now,
               moved_by, valid_from_at::TIMESTAMP(0) AS moved_at_utc
        FROM tag_history
        WHERE is_overwrite AND NOT regexp_matches(tag, '^sha256-[0-9a-f]{64}')
        ORDER BY regexp_matches(tag, '^v?[0-9]+\\.[0-9]+') DESC, valid_from_at DESC LIMIT 10""",
    "Refused logins by claimed user and address": """
        SELECT actor AS claimed_user, client_addr, count(*) AS refused,
               min(occurred_at)::TIMESTAMP(0) AS first_utc, max(occurred_at)::TIMESTAMP(0) AS last_utc
        FROM counted_activity WHERE counted_as = 'refused' AND action = 'login'
        GROUP BY ALL ORDER BY refused DESC LIMIT 10""",
    "Open findings by severity": f"""
        SELECT severity, count(*) AS findings, count(DISTINCT detection_id) AS detections
        FROM findings WHERE status = 'open'
        GROUP BY severity ORDER BY {severity_order_sql()}""",  # noqa: S608 - the order comes from Severity
    "Highest findings": f"""
        SELECT severity, detection_id, left(summary, 90) AS summary
        FROM findings WHERE status = 'open'
        ORDER BY {severity_order_sql()}, last_seen_at DESC LIMIT 12""",  # noqa: S608 - the order comes from Severity
}


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db", type=Path, default=DEFAULT_DB, help=f"DuckDB file to build (default: {DEFAULT_DB}).")
    parser.add_argument("--seed", type=int, default=1, help="Randomness of the simulated month (default: 1).")
    parser.add_argument("--days", type=int, default=30, help="Days of traffic to simulate (default: 30).")
    parser.add_argument("--scale", type=float, default=1.0, help="Traffic volume multiplier (default: 1.0).")
    parser.add_argument("--no-dashboard", action="store_true", help="Only build the data and print the summary.")
    parser.add_argument("--port", type=int, default=8501, help="Dashboard port on 127.0.0.1 (default: 8501).")


def overrides(args: argparse.Namespace) -> dict[str, dict[str, object]]:
    return {"store": {"path": args.db}}


def build(path: Path, seed: int, days: int, scale: float, settings: Settings) -> str:
    """Build the demo store from scratch; returns a one-line account of what went in."""
    from regaudit.analytics import runner
    from regaudit.analytics.evaluation import load_simulation
    from regaudit.analytics.settings import AnalyticsSettings, OrgSettings
    from regaudit.ingest.hooks import load_hooks
    from regaudit.simulator import Simulation

    for stale in (path, path.with_name(path.name + ".wal")):
        stale.unlink(missing_ok=True)
    simulation = Simulation(seed, days=days, scale=scale)
    loaded = load_simulation(path, simulation, load_hooks(settings))
    org = OrgSettings.model_validate(simulation.org)
    started = time.perf_counter()
    report = runner.analyze(path, org, AnalyticsSettings(), now=simulation.end)
    return (
        f"{simulation.start:%Y-%m-%d} to {simulation.end:%Y-%m-%d}, seed {seed}: "
        f"{loaded.events_count:,} registry events and {loaded.access_count:,} proxy lines stored in "
        f"{loaded.seconds:.1f}s; {len(report.hits):,} findings from {len(report.detections)} detections "
        f"in {time.perf_counter() - started:.1f}s"
    )


def summary(path: Path) -> str:
    """Who pushed or pulled what, as text for a terminal."""
    sections = []
    with store.reader(path) as con:
        totals = con.execute(
            """SELECT count(*) FILTER (WHERE counted_as = 'pull'), count(*) FILTER (WHERE counted_as = 'push'),
                      count(*) FILTER (WHERE counted_as = 'delete'), count(DISTINCT actor),
                      count(*) FILTER (WHERE audit_gap) FROM counted_activity"""
        ).fetchall()[0]
        sections.append("pulls {:,}  pushes {:,}  deletes {:,}  identities {:,}  audit gaps {:,}".format(*totals))
        with pd.option_context("display.width", 160, "display.max_columns", 12, "display.max_colwidth", 90):
            for title, sql in SUMMARY_QUERIES.items():
                frame = con.execute(sql).df()
                body = frame.to_string(index=False) if len(frame) else "(none)"
                sections.append(f"{title}\n{body}")
    return "\n\n".join(sections) + "\n"


def run(args: argparse.Namespace, settings: Settings) -> int:
    path = settings.store.path
    print(f"regaudit demo: simulating {args.days} days of registry traffic into {path} ...", file=sys.stderr)
    print(build(path, args.seed, args.days, args.scale, settings))
    print(summary(path))
    if args.no_dashboard:
        return 0
    from regaudit.cli import COMMANDS

    if "dashboard" not in COMMANDS:
        print("(the dashboard is not installed in this build; the data is in the file above)")
        return 0
    from regaudit.cli import main

    return main(["dashboard", "--demo", "--db", str(path), "--host", "127.0.0.1", "--port", str(args.port)])
