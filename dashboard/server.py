"""Serving the dashboard: the checks before it starts, and the Streamlit process that runs ``app.py``.

``check`` refuses to start what would not work (no store, nobody able to log in, OIDC half configured). ``serve``
hands the settings to the app in a private temporary file (``runtime.py``), runs ``streamlit run app.py`` with
our own interpreter until it exits, and passes SIGINT and SIGTERM on. Demo mode binds to 127.0.0.1 whatever the
host setting says.
"""

from __future__ import annotations

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


def start(settings: Settings) -> int:
    """Check the setup, then serve until Streamlit exits (see ``serve``)."""
    runtime = from_settings(settings)
    check(runtime, settings)
    return serve(runtime, settings)


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
