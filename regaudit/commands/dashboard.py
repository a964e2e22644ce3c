"""``regaudit dashboard``: serve the Streamlit app on the store; ``add-user`` and ``hash-password`` manage the
local users file.

``regaudit dashboard [--db F] [--host H] [--port P] [--demo]`` checks the store and the login setup, hands
the settings to the app in a private temporary file (``runtime.py``) and runs ``streamlit run app.py`` until
interrupted, passing SIGINT and SIGTERM on. Demo mode binds to 127.0.0.1 whatever the host setting says.
``regaudit dashboard add-user alice --role analyst`` asks for the password (or reads one line from stdin
with ``--password-stdin``; ``--no-password`` lists an OIDC user's role) and writes ``dashboard.users_file``.
"""

from __future__ import annotations

import argparse
import getpass
import importlib.util
import ipaddress
import logging
import os
import signal
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path
from types import FrameType

from regaudit.dashboard import auth
from regaudit.dashboard.runtime import RUNTIME_ENV, Runtime, from_settings, write_runtime
from regaudit.errors import TerminalError
from regaudit.ingest import store
from regaudit.settings import Settings

log = logging.getLogger(__name__)

APP = Path(auth.__file__).parent / "app.py"  # the Streamlit script beside the dashboard package's modules
LOOPBACK = "127.0.0.1"


class DashboardSetupError(TerminalError):
    """The dashboard cannot start as configured (no store, nobody can log in, OIDC half configured)."""


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "action",
        nargs="?",
        default="serve",
        choices=["serve", "add-user", "hash-password"],
        help="serve (default), add-user NAME, or hash-password.",
    )
    parser.add_argument("user", nargs="?", help="add-user: the user name (an e-mail for OIDC users).")
    parser.add_argument("--db", help="DuckDB file (default: store.path).")
    parser.add_argument("--host", help="Address to listen on (default: dashboard.host).")
    parser.add_argument("--port", type=int, help="Port to listen on (default: dashboard.port).")
    parser.add_argument("--demo", action="store_true", default=None, help="Demo mode: 127.0.0.1, no login.")
    parser.add_argument("--users-file", help="Local users file (default: dashboard.users_file).")
    parser.add_argument("--role", choices=auth.ROLES, default="viewer", help="add-user: the role (viewer).")
    parser.add_argument("--password-stdin", action="store_true", help="Read the password from one stdin line.")
    parser.add_argument("--no-password", action="store_true", help="add-user: an OIDC user's role only.")


def overrides(args: argparse.Namespace) -> dict[str, dict[str, object]]:
    return {
        "store": {"path": args.db},
        "dashboard": {"host": args.host, "port": args.port, "demo": args.demo, "users_file": args.users_file},
    }


def run(args: argparse.Namespace, settings: Settings) -> int:
    if args.action == "hash-password":
        print(auth.hash_password(_password(args)))
        return 0
    if args.action == "add-user":
        return _add_user(args, settings)
    runtime = from_settings(settings)
    check(runtime, settings)
    return serve(runtime, settings)


def _password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("Password: ")
    if first != getpass.getpass("Again: "):
        raise DashboardSetupError("the passwords differ")
    return first


def _add_user(args: argparse.Namespace, settings: Settings) -> int:
    path = settings.dashboard.users_file
    if path is None or not args.user:
        raise DashboardSetupError("add-user needs a user name and dashboard.users_file (or --users-file)")
    password = None if args.no_password else _password(args)
    try:
        entry = auth.add_user(path, args.user, args.role, password)
    except ValueError as error:
        raise DashboardSetupError(str(error)) from error
    print(
        f"{path}: {entry.name} is an {entry.role}" if entry.role == "analyst" else f"{path}: {entry.name} is a viewer"
    )
    return 0


def check(runtime: Runtime, settings: Settings) -> None:
    """Refuse to start what would not work: a missing store, nobody able to log in, OIDC half configured."""
    if not runtime.db.exists():
        raise DashboardSetupError(f"{runtime.db}: no store here (run `regaudit store upgrade` or `regaudit consume`)")
    with store.reader(runtime.db, runtime.lock_timeout_seconds):
        pass
    if runtime.auth == "oidc":
        secrets = settings.dashboard.secrets_file
        if secrets is None or "auth" not in tomllib.loads(secrets.read_text(encoding="utf-8")):
            raise DashboardSetupError("dashboard.oidc needs dashboard.secrets_file with an [auth] table")
        listed = any("@" in name for name in auth.load_users(runtime.users_file))
        if not (runtime.oidc_allowed_users or runtime.oidc_allowed_domains or listed):
            raise DashboardSetupError(
                "dashboard.oidc admits nobody: list who may log in in dashboard.oidc_allowed_users or"
                " oidc_allowed_domains, or by e-mail in dashboard.users_file (add-user EMAIL --no-password)"
            )
        if importlib.util.find_spec("authlib") is None:
            raise DashboardSetupError("dashboard.oidc needs the Authlib package (pip install 'Authlib>=1.3.2')")
    elif runtime.auth == "local" and not any(u.password_hash for u in auth.load_users(runtime.users_file).values()):
        raise DashboardSetupError(
            "nobody can log in: create users with `regaudit dashboard add-user NAME --role analyst`"
            " (dashboard.users_file), or use --demo on this machine only"
        )


def bind_address(runtime: Runtime, host: str) -> str:
    """The address to listen on: the configured one, but only loopback in demo mode."""
    if runtime.demo:
        if host not in (LOOPBACK, "localhost") and not _is_loopback(host):
            log.warning("demo mode listens on %s only, not %s", LOOPBACK, host)
        return LOOPBACK
    return host


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def streamlit_argv(runtime: Runtime, settings: Settings) -> list[str]:
    dashboard = settings.dashboard
    argv = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(APP),
        "--server.address",
        bind_address(runtime, dashboard.host),
        "--server.port",
        str(dashboard.port),
        "--server.headless",
        "true",
        "--server.fileWatcherType",
        "none",
        "--server.runOnSave",
        "false",
        "--browser.gatherUsageStats",
        "false",
        "--client.toolbarMode",
        "viewer",
        "--client.showErrorDetails",
        "full" if runtime.demo else "type",
    ]
    if runtime.auth == "oidc" and dashboard.secrets_file is not None:
        argv += ["--secrets.files", str(dashboard.secrets_file.resolve())]
    return argv


def streamlit_environment(settings: Settings, runtime_path: Path) -> dict[str, str]:
    """The Streamlit process's environment: ours, the runtime's file, and the proxies whose X-Forwarded-For
    its server (uvicorn) believes: only ``dashboard.trusted_proxies``, none by default (uvicorn alone would
    trust any loopback peer's, and a guesser on this machine could then pose as any address)."""
    return {
        **os.environ,
        RUNTIME_ENV: str(runtime_path),
        "FORWARDED_ALLOW_IPS": ",".join(settings.dashboard.trusted_proxies),
    }


def serve(runtime: Runtime, settings: Settings) -> int:
    """Run Streamlit with the runtime handed over; returns when it exits (0 after SIGINT or SIGTERM)."""
    with tempfile.TemporaryDirectory(prefix="regaudit-dashboard-") as directory:
        env = streamlit_environment(settings, write_runtime(runtime, Path(directory)))
        argv = streamlit_argv(runtime, settings)
        log.info("dashboard db=%s auth=%s url=http://%s:%s", runtime.db, runtime.auth, argv[6], argv[8])
        process = subprocess.Popen(argv, env=env)  # noqa: S603 - our own interpreter and arguments

        def forward(signum: int, _frame: FrameType | None) -> None:
            process.send_signal(signum)

        previous = {s: signal.signal(s, forward) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            code = process.wait()
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)
            if process.poll() is None:
                process.terminate()
                process.wait(timeout=10)
    return 0 if code in (0, -signal.SIGINT, -signal.SIGTERM) else code
