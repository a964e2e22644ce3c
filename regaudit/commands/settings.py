"""``regaudit settings``: print every setting as the markdown table README.md carries."""

from __future__ import annotations

import argparse

from regaudit.settings import Settings, settings_table


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--effective", action="store_true", help="Print the loaded values (secrets masked).")


def run(args: argparse.Namespace, settings: Settings) -> int:
    if args.effective:
        print(settings.model_dump_json(indent=2))
    else:
        print(settings_table(), end="")
    return 0
