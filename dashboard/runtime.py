"""What the Streamlit process needs from the settings, handed over by ``regaudit dashboard`` in a small file.

``regaudit dashboard`` loads the settings once (flags > environment > TOML > defaults), keeps what the app
needs in a ``Runtime``, writes it as JSON to a private temporary file and starts Streamlit with
``REGAUDIT_DASHBOARD_RUNTIME`` naming that file. The app's entry point reads it once; nothing deeper reads the
environment. Started by hand (``streamlit run .../app.py``) without that variable, the app loads the settings
itself, the same way the command does.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict

from regaudit.analytics.reports.settings import ReportsSettings
from regaudit.dashboard.settings import Role

if TYPE_CHECKING:
    from regaudit.settings import Settings

RUNTIME_ENV = "REGAUDIT_DASHBOARD_RUNTIME"
AuthMode = Literal["demo", "oidc", "local"]


class Runtime(BaseModel):
    """The app's view of the settings: the store, the cache, how people log in, and how reports are made."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    db: Path
    lock_timeout_seconds: float = 30.0
    cache_ttl_seconds: float = 30.0
    max_export_rows: int = 1_000_000
    auth: AuthMode = "local"
    users_file: Path | None = None
    oidc_default_role: Role = "viewer"
    oidc_allowed_users: tuple[str, ...] = ()
    oidc_allowed_domains: tuple[str, ...] = ()
    login_failures_per_user: int = 5
    login_failures_per_address: int = 30
    login_window_seconds: float = 300.0
    reports: ReportsSettings = ReportsSettings()

    @property
    def demo(self) -> bool:
        return self.auth == "demo"


def from_settings(settings: Settings) -> Runtime:
    """The runtime for loaded settings."""
    store, dashboard = settings.store, settings.dashboard
    auth: AuthMode = "demo" if dashboard.demo else "oidc" if dashboard.oidc else "local"
    return Runtime(
        db=Path(store.path).resolve(),
        lock_timeout_seconds=store.lock_timeout_seconds,
        cache_ttl_seconds=dashboard.cache_ttl_seconds,
        max_export_rows=dashboard.max_export_rows,
        auth=auth,
        users_file=Path(dashboard.users_file).resolve() if dashboard.users_file else None,
        oidc_default_role=dashboard.oidc_default_role,
        oidc_allowed_users=tuple(dashboard.oidc_allowed_users),
        oidc_allowed_domains=tuple(dashboard.oidc_allowed_domains),
        login_failures_per_user=dashboard.login_failures_per_user,
        login_failures_per_address=dashboard.login_failures_per_address,
        login_window_seconds=dashboard.login_window_seconds,
        reports=settings.reports,
    )


def write_runtime(runtime: Runtime, directory: Path) -> Path:
    """Write the runtime into ``directory`` as a file only its owner can read; returns its path."""
    path = directory / "dashboard-runtime.json"
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, stat.S_IRUSR | stat.S_IWUSR)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(runtime.model_dump_json())
    return path


def load_runtime(environ: Mapping[str, str]) -> Runtime:
    """The runtime the command handed over, or one built from the settings when started by hand."""
    handed_over = environ.get(RUNTIME_ENV)
    if handed_over:
        return Runtime.model_validate(json.loads(Path(handed_over).read_text(encoding="utf-8")))
    from regaudit.settings import load_settings

    return from_settings(load_settings(environ=dict(environ)))
