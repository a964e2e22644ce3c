"""The ``regaudit`` command: one entry point, one subcommand per runnable part.

Each subcommand lives in its own module with two functions, ``configure(parser)`` and
``run(args, settings) -> int``, and is listed once in ``COMMANDS``. Modules are imported only when their
command runs, so ``regaudit --help`` stays fast and a missing optional dependency fails only its command.

Exit codes: 0 success, 1 a failure the command reported, 2 bad usage or configuration (terminal), 75 a
transient failure that outlived its retries (EX_TEMPFAIL: try again later).
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from pydantic import ValidationError

from regaudit import __version__
from regaudit.settings import load_settings

#: name -> (module, one-line help). Nested commands use a space: "credentials import".
COMMANDS: dict[str, tuple[str, str]] = {
    "demo": (
        "regaudit.demo",
        "Synthesize a month of registry traffic, store it, detect, and show who did what.",
    ),
    "webhook": ("regaudit.ingest.webhook_command", "Receive registry notifications over HTTP."),
    "ship-logs": ("regaudit.ingest.shipper_command", "Follow an nginx access log and ship each line."),
    "consume": ("regaudit.ingest.consumer_command", "Move events and access lines from Kafka into DuckDB."),
    "store": ("regaudit.ingest.store_command", "Create or upgrade the DuckDB store, or show its state."),
    "schemas": ("regaudit.schemas.export_command", "Write the JSON Schema of every wire model."),
    "settings": ("regaudit.settings_command", "Print every setting with its variable and default."),
    "analyze": ("regaudit.analytics.analyze_command", "Run the detections over the store and keep findings."),
    "detections list": ("regaudit.analytics.detections_list_command", "List detections or their catalogue."),
    "detections test": ("regaudit.analytics.detections_test_command", "Run every detection's own cases."),
    "detections evaluate": (
        "regaudit.analytics.detections_evaluate_command",
        "Precision and recall per family against the labeled traffic simulator.",
    ),
    "credentials import": ("regaudit.analytics.credentials_command", "Import the credential inventory."),
    "alerts dispatch": ("regaudit.analytics.alerts.dispatch_command", "Deliver queued alerts and new findings."),
    "alerts test": ("regaudit.analytics.alerts.sample_command", "Send a sample alert to one sink."),
    "dashboard": ("regaudit.dashboard.command", "Serve the Streamlit dashboard, or add a dashboard user."),
    "report": ("regaudit.analytics.reports.command", "Write a signed compliance report, verify one, or make a key."),
    "verify": (
        "regaudit.ingest.verify_command",
        "Check the hash chain over the audit tables; name the first bad batch.",
    ),
    "purge": ("regaudit.ingest.purge_command", "Remove rows past retention, leaving a signed checkpoint in the chain."),
    "checkpoint": (
        "regaudit.ingest.checkpoint_command",
        "Sign the chain's head and export it outside the store (a file, a Kafka topic), once or --every interval.",
    ),
}

EXIT_USAGE = 2
EXIT_TEMPFAIL = 75

log = logging.getLogger("regaudit")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="regaudit",
        description="Audit logging and access analytics for private container registries.",
    )
    parser.add_argument("--version", action="version", version=f"regaudit {__version__}")
    parser.add_argument("--config", type=Path, help="TOML settings file (default: $REGAUDIT_CONFIG).")
    parser.add_argument("--log-level", default="INFO", help="Logging level (default: INFO).")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    groups: dict[str, argparse._SubParsersAction[argparse.ArgumentParser]] = {}
    for name, (module_name, help_text) in COMMANDS.items():
        head, _, tail = name.partition(" ")
        if tail:
            if head not in groups:
                group_parser = commands.add_parser(head, help=f"{head} commands")
                groups[head] = group_parser.add_subparsers(dest="subcommand", metavar="SUBCOMMAND", required=True)
            sub = groups[head].add_parser(tail, help=help_text, description=help_text)
        else:
            sub = commands.add_parser(head, help=help_text, description=help_text)
        sub.set_defaults(module=module_name)
        importlib.import_module(module_name).configure(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
        stream=sys.stderr,
    )
    module = importlib.import_module(args.module)
    try:
        settings = load_settings(args.config, getattr(module, "overrides", lambda a: {})(args))
    except (ValidationError, OSError, ValueError) as error:
        print(f"regaudit: bad settings: {error}", file=sys.stderr)
        return EXIT_USAGE
    try:
        return int(module.run(args, settings))
    except KeyboardInterrupt:
        return 130
    except Exception as error:  # the one catch-all: the entry point logs and sets the exit code
        from regaudit.errors import TerminalError, TransientError

        if isinstance(error, TerminalError):
            log.error("%s", error)
            return EXIT_USAGE
        if isinstance(error, TransientError):
            log.error("%s (transient; giving up after retries)", error)
            return EXIT_TEMPFAIL
        log.exception("regaudit %s failed", args.command)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
