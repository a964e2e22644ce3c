"""``regaudit schemas``: write the JSON Schema of every wire model."""

from __future__ import annotations

import argparse
from pathlib import Path

from regaudit.schemas.export import SCHEMA_DIR, write_schemas
from regaudit.settings import Settings


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", type=Path, default=SCHEMA_DIR, help="Directory to write (default: schemas/json).")


def run(args: argparse.Namespace, settings: Settings) -> int:
    for path in write_schemas(args.out):
        print(path)
    return 0
