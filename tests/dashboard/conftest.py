from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import duckdb
import pytest
from streamlit.testing.v1 import AppTest

from regaudit.dashboard import auth
from regaudit.dashboard.runtime import RUNTIME_ENV, AuthMode, Runtime, write_runtime
from regaudit.ingest import store
from tests.dashboard.seed import seed

APP = Path(__file__).parents[2] / "dashboard" / "app.py"
PASSWORDS = {"ana": "analyst-pass-1", "victor": "viewer-pass-2"}

AppFactory = Callable[..., AppTest]


@pytest.fixture(scope="session")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The seeded store, shared read-only by every test that does not write."""
    return seed(tmp_path_factory.mktemp("dashboard") / "seeded.duckdb")


@pytest.fixture
def writable(seeded: Path, tmp_path: Path) -> Path:
    """A copy of the seeded store this test may change."""
    copy = tmp_path / "writable.duckdb"
    shutil.copy(seeded, copy)
    return copy


@pytest.fixture
def con(seeded: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    with store.reader(seeded) as connection:
        connection.execute("SET TimeZone = 'UTC'")
        yield connection


@pytest.fixture(scope="session")
def users_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("users") / "users.txt"
    auth.add_user(path, "ana", "analyst", PASSWORDS["ana"])
    auth.add_user(path, "victor", "viewer", PASSWORDS["victor"])
    auth.add_user(path, "olga@example.com", "analyst", None)
    return path


@pytest.fixture
def make_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, users_file: Path) -> AppFactory:
    """An AppTest of the real entry point on ``db``, with the runtime handed over as the command does."""

    def make(
        db: Path,
        auth_mode: AuthMode = "demo",
        page: str | None = None,
        user: dict[str, object] | None = None,
        **params: str,
    ) -> AppTest:
        runtime = Runtime(db=db, auth=auth_mode, users_file=users_file, cache_ttl_seconds=60)
        monkeypatch.setenv(RUNTIME_ENV, str(write_runtime(runtime, tmp_path)))
        app = AppTest.from_file(str(APP), default_timeout=60)
        if user is not None:
            app.user = user
        for name, value in params.items():
            app.query_params[name] = value
        app.run()
        if page is not None:
            app.switch_page(f"screens/{page}.py").run()
        return app

    return make


def shown(app: AppTest) -> dict[str, str]:
    """Every metric on the page: label -> value as displayed."""
    return {metric.label: metric.value for metric in app.metric}


def no_errors(app: AppTest) -> None:
    assert not app.exception, [e.value for e in app.exception]
    assert not app.error, [e.value for e in app.error]
