"""``regaudit dashboard``: the users-file helpers, the checks before serving, and the settings handed over."""

from __future__ import annotations

import io
import logging
import stat
from pathlib import Path

import pytest

from regaudit.cli import main
from regaudit.dashboard import auth, command
from regaudit.dashboard.runtime import RUNTIME_ENV, from_settings, load_runtime, write_runtime
from regaudit.settings import load_settings


def test_add_user_reads_the_password_from_stdin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    users = tmp_path / "users.txt"
    monkeypatch.setattr("sys.stdin", io.StringIO("s3cret pass\n"))
    argv = ["dashboard", "add-user", "ana", "--role", "analyst", "--users-file", str(users), "--password-stdin"]
    assert main(argv) == 0
    entry = auth.load_users(users)["ana"]
    assert entry.role == "analyst"
    assert auth.verify_password("s3cret pass", entry.password_hash)
    assert main(["dashboard", "add-user", "olga@example.com", "--users-file", str(users), "--no-password"]) == 0
    assert auth.load_users(users)["olga@example.com"].password_hash == ""


def test_hash_password_prints_a_verifiable_hash(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("pw\n"))
    assert main(["dashboard", "hash-password", "--password-stdin"]) == 0
    assert auth.verify_password("pw", capsys.readouterr().out.strip())


def test_add_user_needs_a_users_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.delenv("REGAUDIT_DASHBOARD__USERS_FILE", raising=False)
    monkeypatch.chdir(tmp_path)
    with caplog.at_level(logging.ERROR):
        assert main(["dashboard", "add-user", "ana", "--no-password"]) == 2
    assert "dashboard.users_file" in caplog.text


def test_serving_is_refused_without_a_store(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR):
        assert main(["dashboard", "--demo", "--db", str(tmp_path / "none.duckdb")]) == 2
    assert "no store here" in caplog.text


def test_serving_is_refused_when_nobody_can_log_in(
    seeded: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR):
        assert main(["dashboard", "--db", str(seeded), "--users-file", str(tmp_path / "empty.txt")]) == 2
    assert "nobody can log in" in caplog.text


def test_oidc_needs_the_auth_table(seeded: Path, tmp_path: Path) -> None:
    secrets = tmp_path / "secrets.toml"
    secrets.write_text("[other]\nx = 1\n", encoding="utf-8")
    settings = load_settings(
        None,
        {"store": {"path": str(seeded)}},
        {"REGAUDIT_DASHBOARD__OIDC": "true", "REGAUDIT_DASHBOARD__SECRETS_FILE": str(secrets)},
    )
    with pytest.raises(command.DashboardSetupError, match=r"\[auth\] table"):
        command.check(from_settings(settings), settings)


def test_demo_mode_binds_to_loopback_only(seeded: Path) -> None:
    settings = load_settings(None, {"store": {"path": str(seeded)}, "dashboard": {"demo": True, "host": "0.0.0.0"}}, {})
    runtime = from_settings(settings)
    argv = command.streamlit_argv(runtime, settings)
    assert argv[argv.index("--server.address") + 1] == "127.0.0.1"
    assert argv[argv.index("--server.port") + 1] == "8501"
    served = load_settings(None, {"store": {"path": str(seeded)}}, {"REGAUDIT_DASHBOARD__HOST": "0.0.0.0"})
    assert command.bind_address(from_settings(served), served.dashboard.host) == "0.0.0.0"


def test_the_runtime_is_handed_over_in_a_private_file(seeded: Path, tmp_path: Path) -> None:
    settings = load_settings(
        None,
        {"store": {"path": str(seeded)}},
        {"REGAUDIT_DASHBOARD__CACHE_TTL_SECONDS": "5", "REGAUDIT_DASHBOARD__DEMO": "true"},
    )
    runtime = from_settings(settings)
    path = write_runtime(runtime, tmp_path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_runtime({RUNTIME_ENV: str(path)}) == runtime
    assert (runtime.cache_ttl_seconds, runtime.auth, runtime.db) == (5.0, "demo", seeded.resolve())
    by_hand = load_runtime({"REGAUDIT_STORE__PATH": str(seeded), "REGAUDIT_DASHBOARD__OIDC": "true"})
    assert (by_hand.auth, by_hand.db) == ("oidc", seeded.resolve())
