"""``regaudit dashboard``: the users-file helpers, the checks before serving, and the settings handed over."""

from __future__ import annotations

import asyncio
import io
import logging
import stat
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from pydantic import ValidationError

from regaudit.cli import main
from regaudit.dashboard import auth, server
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
    with pytest.raises(server.DashboardSetupError, match=r"\[auth\] table"):
        server.check(from_settings(settings), settings)


def test_oidc_admitting_nobody_is_refused_at_start(seeded: Path, tmp_path: Path) -> None:
    secrets = tmp_path / "secrets.toml"
    secrets.write_text('[auth]\nredirect_uri = "http://localhost:8501/oauth2callback"\n', encoding="utf-8")
    environ = {"REGAUDIT_DASHBOARD__OIDC": "true", "REGAUDIT_DASHBOARD__SECRETS_FILE": str(secrets)}
    settings = load_settings(None, {"store": {"path": str(seeded)}}, environ)
    with pytest.raises(server.DashboardSetupError, match="admits nobody"):
        server.check(from_settings(settings), settings)
    listed = load_settings(
        None,
        {"store": {"path": str(seeded)}},
        {**environ, "REGAUDIT_DASHBOARD__OIDC_ALLOWED_DOMAINS": '["example.com"]'},
    )
    server.check(from_settings(listed), listed)
    users = tmp_path / "users.txt"
    auth.add_user(users, "olga@example.com", "analyst", None)
    by_file = load_settings(
        None, {"store": {"path": str(seeded)}}, {**environ, "REGAUDIT_DASHBOARD__USERS_FILE": str(users)}
    )
    server.check(from_settings(by_file), by_file)


def client_seen(forwarded_allow_ips: str, peer: str, forwarded_for: str) -> str:
    """The client address uvicorn (Streamlit's server) hands the app for a connection from ``peer`` that sends
    ``X-Forwarded-For``, with FORWARDED_ALLOW_IPS as ``streamlit_environment`` sets it."""
    seen: list[str] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        seen.append(scope["client"][0])

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("FORWARDED_ALLOW_IPS", forwarded_allow_ips)
        config = uvicorn.Config(app)
    config.load()
    scope = {"type": "http", "client": (peer, 50000), "headers": [(b"x-forwarded-for", forwarded_for.encode())]}
    asyncio.run(config.loaded_app(scope, None, None))
    return seen[0]


def test_x_forwarded_for_is_believed_only_from_trusted_proxies(seeded: Path, tmp_path: Path) -> None:
    default = load_settings(None, {"store": {"path": str(seeded)}}, {})
    environment = server.streamlit_environment(default, tmp_path / "runtime.json")
    assert environment[RUNTIME_ENV] == str(tmp_path / "runtime.json")
    assert client_seen(environment["FORWARDED_ALLOW_IPS"], "127.0.0.1", "203.0.113.9") == "127.0.0.1"
    proxied = load_settings(
        None, {"store": {"path": str(seeded)}}, {"REGAUDIT_DASHBOARD__TRUSTED_PROXIES": '["172.18.0.0/16", "::1"]'}
    )
    allowed = server.streamlit_environment(proxied, tmp_path / "runtime.json")["FORWARDED_ALLOW_IPS"]
    assert allowed == "172.18.0.0/16,::1/128"
    assert client_seen(allowed, "172.18.0.5", "203.0.113.9") == "203.0.113.9"
    assert client_seen(allowed, "127.0.0.1", "203.0.113.9") == "127.0.0.1"
    with pytest.raises(ValidationError, match="does not appear to be an IPv4 or IPv6 network"):
        load_settings(None, None, {"REGAUDIT_DASHBOARD__TRUSTED_PROXIES": '["proxy.example.com"]'})


def test_demo_mode_binds_to_loopback_only(seeded: Path) -> None:
    settings = load_settings(None, {"store": {"path": str(seeded)}, "dashboard": {"demo": True, "host": "0.0.0.0"}}, {})
    runtime = from_settings(settings)
    argv = server.streamlit_argv(runtime, settings)
    assert argv[argv.index("--server.address") + 1] == "127.0.0.1"
    assert argv[argv.index("--server.port") + 1] == "8501"
    served = load_settings(None, {"store": {"path": str(seeded)}}, {"REGAUDIT_DASHBOARD__HOST": "0.0.0.0"})
    assert server.bind_address(from_settings(served), served.dashboard.host) == "0.0.0.0"


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
