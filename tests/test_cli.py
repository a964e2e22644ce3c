from __future__ import annotations

import json
import subprocess
import sys

import pytest

from regaudit.cli import COMMANDS, build_parser, command_module, named_command

HEAVY = ("duckdb", "pandas", "pyarrow", "cryptography", "kafka", "streamlit", "fastapi", "uvicorn")


def imported_after(argv: list[str]) -> list[str]:
    """The modules a fresh interpreter holds after ``regaudit <argv>`` (a subprocess: this one imported them all)."""
    script = (
        "import json, sys\n"
        "from regaudit import cli\n"
        "try:\n"
        f"    cli.main({argv!r})\n"
        "except SystemExit:\n"
        "    pass\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True)
    return json.loads(run.stdout.splitlines()[-1])


def test_help_imports_no_command_and_no_heavy_package():
    modules = imported_after(["--help"])
    assert [m for m in modules if m.split(".")[0] in HEAVY] == []
    assert [m for m in modules if m.startswith("regaudit.commands.")] == []


def test_a_commands_help_imports_that_command_alone():
    modules = imported_after(["store", "--help"])
    assert [m for m in modules if m.startswith("regaudit.commands.")] == ["regaudit.commands.store"]


@pytest.mark.parametrize(
    ("argv", "name"),
    [
        (["--config", "store", "webhook"], "webhook"),
        (["--log-level", "debug", "credentials", "import", "x.csv"], "credentials import"),
        (["detections", "--help"], None),
        (["--help"], None),
        (["nonsense"], None),
    ],
)
def test_named_command_skips_global_options_and_their_values(argv, name):
    assert named_command(argv) == name


def test_every_command_module_exists_and_is_configured_by_the_full_parser():
    build_parser()  # imports every module and calls its configure
    for name in COMMANDS:
        module = sys.modules[command_module(name)]
        assert callable(module.configure), name
        assert callable(module.run), name


def test_output_piped_into_a_reader_that_stops_early_ends_quietly():
    """``regaudit detections list | head -3``, as a user reads a long list, printed a BrokenPipeError traceback."""
    regaudit = [sys.executable, "-m", "regaudit.cli", "detections", "list", "--source", "distribution"]
    with subprocess.Popen(regaudit, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as listing:
        assert listing.stdout is not None
        assert listing.stderr is not None
        listing.stdout.close()  # the reader is gone before regaudit writes: every write gets EPIPE
        stderr = listing.stderr.read().decode()
    assert "Traceback" not in stderr, stderr
    assert "BrokenPipeError" not in stderr, stderr
    assert listing.returncode == 141
