"""``regaudit detections list``: the registered detections as a table, or the markdown catalogue."""

from __future__ import annotations

import argparse
from pathlib import Path

from regaudit.analytics import catalogue
from regaudit.analytics.registry import default_registry
from regaudit.settings import Settings


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--markdown", action="store_true", help="Print the markdown catalogue instead.")
    parser.add_argument("--write", type=Path, metavar="FILE", help="Write the markdown catalogue to FILE.")


def run(args: argparse.Namespace, settings: Settings) -> int:
    detections = list(default_registry())
    if args.write:
        args.write.write_text(catalogue.markdown(detections), encoding="utf-8")
        print(f"{args.write}: {len(detections)} detections")
        return 0
    if args.markdown:
        print(catalogue.markdown(detections), end="")
        return 0
    width = max(len(d.id) for d in detections)
    print(f"{'id':{width}}  {'severity':8}  {'family':10}  title")
    for d in detections:
        print(f"{d.id:{width}}  {d.severity.value:8}  {d.family:10}  {d.title}")
    return 0
