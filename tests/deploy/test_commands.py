"""Every ``command:`` of a regaudit service in docker-compose.yml is a regaudit command line that exists, with
exactly those flags, and that loads with the production settings file."""

from __future__ import annotations

import argparse
import importlib
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from regaudit.cli import build_parser
from regaudit.settings import load_settings
from tests.deploy.compose import REGAUDIT_TOML, interpolate_defaults, load_compose, regaudit_services

REGAUDIT = Path(sys.executable).parent / "regaudit"
SERVICES = regaudit_services(load_compose())


def _argv(service: dict[str, Any]) -> list[str]:
    return [interpolate_defaults(str(part)) for part in service["command"]]


def _subcommand_parser(argv: list[str]) -> tuple[argparse.ArgumentParser, list[str]]:
    """The parser of the (possibly nested) subcommand ``argv`` starts with, and the words naming it."""
    parser, words = build_parser(), []
    for word in argv:
        subparsers = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        if not subparsers or word not in subparsers[0].choices:
            break
        parser = subparsers[0].choices[word]
        words.append(word)
    assert words, f"{argv[0]!r} is not a regaudit command"
    return parser, words


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_the_command_parses_with_exactly_those_flags(name: str) -> None:
    argv = _argv(SERVICES[name])
    parser, _ = _subcommand_parser(argv)
    # Exact option strings: argparse would also accept an abbreviation (--boot for --bootstrap-servers).
    for word in argv:
        if word.startswith("-"):
            assert word in parser._option_string_actions, f"{name}: {word} is not a flag of {argv}"
    try:
        build_parser().parse_args(argv)
    except SystemExit as exit_:
        pytest.fail(f"{name}: regaudit {' '.join(argv)} is refused (exit {exit_.code})")


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_the_command_help_lists_every_flag_used(name: str) -> None:
    argv = _argv(SERVICES[name])
    _, words = _subcommand_parser(argv)
    result = subprocess.run([str(REGAUDIT), *words, "--help"], capture_output=True, text=True, check=False)

    assert result.returncode == 0, result.stderr
    for word in argv:
        if word.startswith("--"):
            assert word in result.stdout, f"{name}: regaudit {' '.join(words)} --help does not list {word}"


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_the_command_loads_the_production_settings(name: str, tmp_path: Path) -> None:
    argv = _argv(SERVICES[name])
    secret = tmp_path / "secret"
    secret.write_text("0123456789abcdef\n")
    argv = [str(secret) if word.startswith("/run/secrets/") else word for word in argv]
    args = build_parser().parse_args(argv)
    module = importlib.import_module(args.module)
    overrides: dict[str, dict[str, Any]] = getattr(module, "overrides", lambda a: {})(args)

    settings = load_settings(REGAUDIT_TOML, overrides, environ={})

    assert str(settings.store.path) == "/var/lib/regaudit/regaudit.duckdb"
    if "--token-file" in argv:
        assert [t.get_secret_value() for t in settings.webhook.tokens] == ["0123456789abcdef"]
