"""``regaudit detections test``: run every detection's own cases against temporary DuckDB stores."""

from __future__ import annotations

import argparse

from regaudit.analytics.cases import run_all
from regaudit.analytics.registry import default_registry
from regaudit.settings import Settings


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("patterns", nargs="*", help="Detection ids, families or globs (default: all).")


def run(args: argparse.Namespace, settings: Settings) -> int:
    results = run_all(default_registry().select(args.patterns))
    failed = [result for result in results if not result.passed]
    for result in failed:
        print(f"FAIL {result.explain()}")
    print(f"{len(results) - len(failed)} of {len(results)} cases passed")
    return 1 if failed else 0
