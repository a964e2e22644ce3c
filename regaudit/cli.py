"""The ``regaudit`` command: one entry point, one subcommand per runnable part.

Each subcommand is one thin module in ``regaudit.commands`` with two functions, ``configure(parser)`` and
``run(args, settings) -> int``, that delegates to its domain package; it is listed once in ``COMMANDS``. A
module is imported only when its command is named, so ``regaudit --help`` imports no command, DuckDB or pandas,
and a missing optional dependency fails only its command.

Exit codes: 0 success, 1 a failure the command reported, 2 bad usage or configuration (terminal), 75 a
transient failure that outlived its retries (EX_TEMPFAIL: try again later).
"""

from __future__ import annotations

import argparse
import importlib
import keyword
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from pydantic import ValidationError

from regaudit import __version__
from regaudit.settings import load_settings

#: name -> one-line help. Nested commands use a space ("credentials import"); the module is
#: ``regaudit.commands.<name>`` with spaces and dashes as underscores, and a Python keyword gets a trailing
#: underscore (``import`` -> ``import_``) (``command_module``).
COMMANDS: dict[str, str] = {
    "demo": "Synthesize a month of registry traffic, store it, detect, and show who did what.",
    "webhook": "Receive registry notifications over HTTP.",
    "ship-logs": "Follow an access log (nginx, or Artifactory's request log) and ship each line.",
    "import": "Backfill rotated access logs and notification dumps (plain or gzip) into the store, keyed as live.",
    "consume": "Move events and access lines from Kafka into DuckDB.",
    "store": "Create or upgrade the DuckDB store, or show its state.",
    "schemas": "Write the JSON Schema of every wire model.",
    "settings": "Print every setting with its variable and default.",
    "analyze": "Run the detections over the store and keep findings.",
    "detections list": "List detections or their catalogue.",
    "detections test": "Run every detection's own cases.",
    "detections evaluate": "Precision and recall per family against the labeled traffic simulator.",
    "credentials import": "Import the credential inventory.",
    "identities import": "Import which raw identities of which registries are one person (CSV or SCIM).",
    "poll ecr": "Read an AWS ECR registry's CloudTrail log files from S3, saving the last one read.",
    "poll quay": "Read a Red Hat Quay's usage logs from its logs API, saving the day and page read.",
    "poll harbor": "Read Harbor's audit log from its API, saving a cursor after each delivered page.",
    "poll dockerhub": "Read a Docker Hub organization's audit log from its API, saving the window and page read.",
    "poll ghcr": "Read the package events of a GitHub organization's audit log (GHCR), saving the page read.",
    "listen-syslog": "Receive Harbor's forwarded audit log over syslog (TCP and UDP).",
    "alerts dispatch": "Deliver queued alerts and new findings.",
    "alerts test": "Send a sample alert to one sink.",
    "dashboard": "Serve the Streamlit dashboard, or add a dashboard user.",
    "report": "Write a signed compliance report, verify one, or make a key.",
    "verify": "Check the hash chain over the audit tables; name the first bad batch.",
    "purge": "Remove rows past retention, leaving a signed checkpoint in the chain.",
    "checkpoint": (
        "Sign the chain's head and export it outside the store (a file, a Kafka topic), once or --every interval."
    ),
}

EXIT_USAGE = 2
EXIT_TEMPFAIL = 75

log = logging.getLogger("regaudit")


def command_module(name: str) -> str:
    """The module of command ``name``: ``"credentials import"`` -> ``regaudit.commands.credentials_import``;
    a keyword cannot be imported by name in Python code, so ``"import"`` -> ``regaudit.commands.import_``."""
    module = name.replace(" ", "_").replace("-", "_")
    return "regaudit.commands." + (module + "_" if keyword.iskeyword(module) else module)


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The parser; only the command ``argv`` names imports its module and gets its flags (all of them without argv).

    So ``regaudit --help`` lists every command from ``COMMANDS`` alone, importing none of them.
    """
    chosen = set(COMMANDS) if argv is None else {named_command(argv)}
    parser = argparse.ArgumentParser(
        prog="regaudit",
        description="Audit logging and access analytics for private container registries.",
    )
    parser.add_argument("--version", action="version", version=f"regaudit {__version__}")
    parser.add_argument("--config", type=Path, help="TOML settings file (default: $REGAUDIT_CONFIG).")
    parser.add_argument("--log-level", default="INFO", help="Logging level (default: INFO).")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    groups: dict[str, argparse._SubParsersAction[argparse.ArgumentParser]] = {}
    for name, help_text in COMMANDS.items():
        head, _, tail = name.partition(" ")
        if tail:
            if head not in groups:
                group_parser = commands.add_parser(head, help=f"{head} commands", description=f"{head} commands")
                groups[head] = group_parser.add_subparsers(dest="subcommand", metavar="SUBCOMMAND", required=True)
            sub = groups[head].add_parser(tail, help=help_text, description=help_text)
        else:
            sub = commands.add_parser(head, help=help_text, description=help_text)
        sub.set_defaults(module=command_module(name))
        if name in chosen:
            importlib.import_module(command_module(name)).configure(sub)
    return parser


def named_command(argv: Sequence[str]) -> str | None:
    """The command ``argv`` names, skipping the global options and their values; None when it names none."""
    words: list[str] = []
    values = iter(argv)
    for word in values:
        if word in ("--config", "--log-level"):
            next(values, None)
        elif not word.startswith("-"):
            words.append(word)
    for name in COMMANDS:
        if name.split(" ") == words[: name.count(" ") + 1]:
            return name
    return None


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser(argv).parse_args(argv)
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
    except BrokenPipeError:  # stdout's reader left (`| head`): not a failure of the command, and no traceback
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # so the exit's flush does not raise again
        return 141  # 128 + SIGPIPE, as a shell reports a command its pipe's reader stopped
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
