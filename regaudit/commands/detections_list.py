"""``regaudit detections list``: the registered detections as a table, or the markdown catalogue.

``--source KIND`` (repeatable: a registry and the proxy in front of it are judged together) splits the table into
the detections those sources feed and the others, each with the data the sources lack (``schemas/sources.py``).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from regaudit.analytics import catalogue
from regaudit.analytics.detection import Detection
from regaudit.analytics.registry import default_registry
from regaudit.schemas.sources import CAPABILITIES, missing
from regaudit.settings import Settings


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--markdown", action="store_true", help="Print the markdown catalogue instead.")
    parser.add_argument("--write", type=Path, metavar="FILE", help="Write the markdown catalogue to FILE.")
    parser.add_argument(
        "--source",
        action="append",
        choices=sorted(CAPABILITIES),
        metavar="KIND",
        help="Which detections apply to this source kind (repeat for a registry and its proxy: their data together),"
        f" and why the others do not: {', '.join(sorted(CAPABILITIES))}.",
    )


def run(args: argparse.Namespace, settings: Settings) -> int:
    detections = list(default_registry())
    if args.write:
        args.write.write_text(catalogue.markdown(detections), encoding="utf-8")
        print(f"{args.write}: {len(detections)} detections")
        return 0
    if args.markdown:
        print(catalogue.markdown(detections), end="")
        return 0
    if args.source:
        print_applicability(detections, args.source)
        return 0
    width = max(len(d.id) for d in detections)
    print(f"{'id':{width}}  {'severity':8}  {'family':10}  title")
    for d in detections:
        print(f"{d.id:{width}}  {d.severity.value:8}  {d.family:10}  {d.title}")
    return 0


def applicability(detections: Sequence[type[Detection]], kinds: Sequence[str]) -> list[tuple[str, tuple[str, ...]]]:
    """Each detection's id and the data these source kinds lack for it (empty: it applies). A detection that never
    declared its needs is reported as lacking "needs undeclared", never as applying."""
    return [
        (d.id, ("needs undeclared",) if d.needs is None else tuple(str(data) for data in missing(d.needs, kinds)))
        for d in detections
    ]


def print_applicability(detections: Sequence[type[Detection]], kinds: Sequence[str]) -> None:
    rows = applicability(detections, kinds)
    applies = [detection_id for detection_id, lacking in rows if not lacking]
    width = max(len(detection_id) for detection_id, _ in rows)
    sources = " + ".join(kinds)
    print(f"applies to {sources}: {len(applies)} of {len(rows)}")
    for detection_id in applies:
        print(f"  {detection_id}")
    print(f"does not apply to {sources}: {len(rows) - len(applies)}")
    for detection_id, lacking in rows:
        if lacking:
            print(f"  {detection_id:{width}}  lacks {', '.join(lacking)}")
