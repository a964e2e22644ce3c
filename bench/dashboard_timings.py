"""Time every dashboard page and query on a store (e.g. the 10-million-event one from make_store.py).

    .venv/bin/python bench/make_store.py /tmp/bench-10m.duckdb
    .venv/bin/python bench/dashboard_timings.py /tmp/bench-10m.duckdb

Pages run through Streamlit's AppTest (the real entry point, demo mode): each page once with an empty cache
(every query goes to the store on its own read-only connection) and once more with the cache warm. Then each
query function alone, on one read-only connection. Times are wall-clock seconds on this machine; "cpu s" is
the CPU time the cold run used over all threads (DuckDB runs one per core), which other processes' load on
the machine does not inflate.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import streamlit as st
from streamlit.testing.v1 import AppTest

from regaudit.dashboard.queries import activity, common, findings, identity, overview, repository
from regaudit.dashboard.runtime import RUNTIME_ENV, Runtime, write_runtime
from regaudit.ingest import store

APP = Path(__file__).parents[1] / "dashboard" / "app.py"


def busiest(con: Any, column: str) -> str:
    sql = f"SELECT {column} FROM image_activity WHERE {column} <> '' GROUP BY ALL ORDER BY count(*) DESC LIMIT 1"  # noqa: S608
    return str(con.execute(sql).fetchall()[0][0])


def page_scenarios(repo: str, who: str, finding: str) -> list[tuple[str, str, dict[str, str]]]:
    return [
        ("overview (7 days)", "overview", {}),
        ("overview (all 30 days)", "overview", {"range": "all"}),
        ("activity explorer (7 days)", "activity", {}),
        (
            "activity explorer (identity + repo glob, all)",
            "activity",
            {"identity": who, "repository": repo.split("/")[0] + "/*", "range": "all"},
        ),
        ("activity explorer (digest prefix, all)", "activity", {"reference": "sha256:00", "range": "all"}),
        ("repository view: tags", "repository", {"repository": repo}),
        ("repository view: tag history", "repository", {"repository": repo, "repository_tab": "Tag history"}),
        (
            "repository view: who pulled each digest",
            "repository",
            {"repository": repo, "repository_tab": "Who pulled each digest"},
        ),
        (
            "repository view: over time (30 days)",
            "repository",
            {"repository": repo, "repository_tab": "Pushes and deletes over time"},
        ),
        ("identity view: repositories", "identity", {"identity": who}),
        ("identity view: client addresses", "identity", {"identity": who, "identity_tab": "Client addresses"}),
        ("findings", "findings", {"finding": finding}),
        ("reports (30 days)", "reports", {"range": "30d"}),
    ]


def time_pages(db: Path, repo: str, who: str, finding: str, rounds: int) -> None:
    print(f"{'page (median of rounds)':48} {'cold s':>8} {'cpu s':>8} {'warm s':>8}")
    for label, page, params in page_scenarios(repo, who, finding):
        cold, cpu, warm = [], [], []
        for _ in range(rounds):
            app = AppTest.from_file(str(APP), default_timeout=120)
            for name, value in params.items():
                app.query_params[name] = value
            app.run()
            app.switch_page(f"views/{page}.py")
            st.cache_data.clear()
            started, started_cpu = time.perf_counter(), time.process_time()
            app.run()
            cold.append(time.perf_counter() - started)
            cpu.append(time.process_time() - started_cpu)
            started = time.perf_counter()
            app.run()
            warm.append(time.perf_counter() - started)
            assert not app.exception, [e.value for e in app.exception]
        medians = (statistics.median(values) for values in (cold, cpu, warm))
        print(f"{label:48}" + "".join(f" {value:8.2f}" for value in medians), flush=True)


def time_queries(db: Path, repo: str, who: str, rounds: int) -> None:
    with store.reader(db) as con:
        con.execute("SET TimeZone = 'UTC'")
        last = con.execute("SELECT max(occurred_at) FROM image_activity").fetchall()[0][0]
        week = common.TimeRange.ending(last + timedelta(hours=1), timedelta(days=7))
        month = common.TimeRange.ending(last + timedelta(hours=1), timedelta(days=31))
        fid = str(con.execute("SELECT finding_id FROM findings LIMIT 1").fetchall()[0][0])
        everything = activity.ActivityFilter(month)
        scoped = activity.ActivityFilter(month, repository=repo.split("/")[0] + "/*", identity=who)
        calls: list[tuple[str, Callable[..., Any], tuple[Any, ...]]] = [
            ("common.data_span", common.data_span, ()),
            ("overview.activity_over_time 7d/day", overview.activity_over_time, (week, week.bucket())),
            ("overview.activity_over_time 30d/day", overview.activity_over_time, (month, month.bucket())),
            ("overview.top_lists 7d", overview.top_lists, (week,)),
            ("overview.top_lists 30d", overview.top_lists, (month,)),
            ("overview.open_findings_by_severity", overview.open_findings_by_severity, ()),
            ("overview.ingest_sources", overview.ingest_sources, ()),
            ("overview.feed_freshness", overview.feed_freshness, ()),
            ("overview.dead_letter_summary", overview.dead_letter_summary, ()),
            ("activity.activity_count 30d", activity.activity_count, (everything,)),
            ("activity.activity_page 30d p1", activity.activity_page, (everything, 100, 0)),
            ("activity.activity_page 30d p500", activity.activity_page, (everything, 100, 49_900)),
            ("activity.activity_count scoped", activity.activity_count, (scoped,)),
            ("repository.repositories", repository.repositories, ()),
            ("repository.repository_summary", repository.repository_summary, (repo,)),
            ("repository.tags", repository.tags, (repo,)),
            ("repository.tag_history", repository.tag_history, (repo,)),
            ("repository.digest_pullers", repository.digest_pullers, (repo,)),
            ("repository.repository_series", repository.repository_series, (repo, month, month.bucket())),
            ("identity.identities", identity.identities, ()),
            ("identity.identity_summary", identity.identity_summary, (who,)),
            ("identity.identity_repositories", identity.identity_repositories, (who,)),
            ("identity.identity_addresses", identity.identity_addresses, (who,)),
            ("identity.identity_user_agents", identity.identity_user_agents, (who,)),
            ("identity.credential_record", identity.credential_record, (who,)),
            ("findings.findings_list", findings.findings_list, ()),
            ("findings.findings_about", findings.findings_about, (who,)),
            ("findings.finding_detail", findings.finding_detail, (fid,)),
            (
                "findings.evidence_activity (2 ids)",
                findings.evidence_activity,
                (("ev:default:1999", "ev:default:2003"),),
            ),
        ]
        print(f"\n{'query (median, one open connection)':44} {'s':>7} {'rows':>8}")
        for label, query, args in calls:
            seconds = []
            for _ in range(rounds):
                started = time.perf_counter()
                rows = query(con, *args)
                seconds.append(time.perf_counter() - started)
            print(f"{label:44} {statistics.median(seconds):7.3f} {len(rows):8,}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", type=Path)
    parser.add_argument("--rounds", type=int, default=3, help="Runs per page; the median is shown.")
    args = parser.parse_args()
    with store.reader(args.path) as con:
        repo, who = busiest(con, "repository"), busiest(con, "actor")
        finding = str(con.execute("SELECT finding_id FROM findings LIMIT 1").fetchall()[0][0])
        events = con.execute("SELECT count(*) FROM image_activity").fetchall()[0][0]
    print(
        f"{args.path}: {events:,} image_activity rows; repository={repo} identity={who}; {os.cpu_count()} CPUs;"
        f" load average {os.getloadavg()[0]:.1f}"
    )
    with tempfile.TemporaryDirectory() as directory:
        runtime = Runtime(db=args.path.resolve(), auth="demo")
        os.environ[RUNTIME_ENV] = str(write_runtime(runtime, Path(directory)))
        time_pages(args.path, repo, who, finding, args.rounds)
    time_queries(args.path, repo, who, args.rounds)
    print(f"load average {os.getloadavg()[0]:.1f} (1 min) at the end")


if __name__ == "__main__":
    main()
