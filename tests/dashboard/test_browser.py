"""The real ``regaudit dashboard --demo`` process, loaded page by page in headless Debian Chromium: every page
renders without a Streamlit exception or error, and a screenshot of each is written as a test artifact
(``$REGAUDIT_ARTIFACTS/dashboard`` when set, else the test's temporary directory; never committed)."""

from __future__ import annotations

import os
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from regaudit.dashboard import links
from tests.dashboard.browser import chromium, regaudit, running_dashboard

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def pages(store: Path) -> list[tuple[str, str, str]]:
    """(name, path, text that shows once drawn): the repository with the most overwrites, the busiest identity."""
    with duckdb.connect(str(store), read_only=True) as con:
        repository = con.execute(
            "SELECT repository FROM tag_history GROUP BY ALL ORDER BY count(*) FILTER (WHERE is_overwrite) DESC LIMIT 1"
        ).fetchall()[0][0]
        identity = con.execute(
            "SELECT actor FROM image_activity WHERE actor IS NOT NULL GROUP BY ALL ORDER BY count(*) DESC LIMIT 1"
        ).fetchall()[0][0]
    return [
        ("overview", "", "Ingest health"),
        ("activity", "activity?range=all", "Matching actions"),
        ("repository", links.url("repository", repository), "Tag overwrites"),
        ("identity", links.url("identity", identity), "First seen"),
        ("findings", "findings", "Evidence"),
        ("reports", "reports", "Generate report"),
    ]


@pytest.fixture(scope="module")
def demo_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two simulated days through the real pipeline and detections, built by `regaudit demo --no-dashboard`."""
    path = tmp_path_factory.mktemp("browser") / "demo.duckdb"
    argv = [*regaudit(), "demo", "--no-dashboard", "--db", str(path), "--seed", "2", "--days", "2", "--scale", "0.3"]
    subprocess.run(argv, check=True, capture_output=True, timeout=600)  # noqa: S603 - our own command
    return path


@pytest.fixture(scope="module")
def dashboard(demo_store: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``regaudit dashboard --demo`` on a free port; its base URL."""
    log = tmp_path_factory.mktemp("server") / "dashboard.log"
    with running_dashboard(["--demo", "--db", str(demo_store)], log) as url:
        yield url


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = os.environ.get("REGAUDIT_ARTIFACTS")
    directory = Path(root) / "dashboard" if root else tmp_path_factory.mktemp("screenshots")
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def test_every_page_renders_in_chromium_without_an_error(
    demo_store: Path, dashboard: str, artifacts: Path, tmp_path: Path
) -> None:
    with chromium(tmp_path / "profile") as page:
        for name, path, expect in pages(demo_store):
            rendered = page.load(f"{dashboard}/{path}", expect)
            page.screenshot(artifacts / f"{name}.png")
            assert rendered.exceptions == [], (name, rendered.exceptions)
            assert rendered.errors == [], (name, rendered.errors)
            assert "Traceback" not in rendered.text, name
            assert (artifacts / f"{name}.png").stat().st_size > 10_000
    print(f"screenshots in {artifacts}")


def test_the_demo_listens_on_loopback_only(dashboard: str) -> None:
    port = int(dashboard.rsplit(":", 1)[1])
    addresses = {info[4][0] for info in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET)}
    for address in addresses - {"127.0.0.1"}:
        with socket.socket() as probe:
            probe.settimeout(1)
            assert probe.connect_ex((address, port)) != 0, address
