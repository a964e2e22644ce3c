"""The real ``regaudit dashboard`` (Streamlit on uvicorn) behind a trusted proxy, logged into from headless
Chromium: failed log-ins are counted per client address as the proxy names it in X-Forwarded-For, so a burst
over many names from one client is refused while another client still logs in, and a name variant counts as
the name. The proxy is Chromium's own extra header, sent from 127.0.0.1, the one trusted proxy here."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.dashboard.browser import Page, chromium, running_dashboard
from tests.dashboard.conftest import PASSWORDS

pytestmark = [pytest.mark.browser, pytest.mark.slow]

#: what a log-in attempt leaves on the page once the app has answered
OUTCOMES = ("Wrong user name or password.", "Too many failed attempts", "Pushes")


@pytest.fixture(scope="module")
def dashboard(seeded: Path, users_file: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``regaudit dashboard`` with local users, 127.0.0.1 trusted as a proxy, 3 failures per address."""
    log = tmp_path_factory.mktemp("server") / "dashboard.log"
    environment = {name: value for name, value in os.environ.items() if not name.startswith("REGAUDIT_")}
    environment["REGAUDIT_DASHBOARD__TRUSTED_PROXIES"] = '["127.0.0.1"]'
    environment["REGAUDIT_DASHBOARD__LOGIN_FAILURES_PER_ADDRESS"] = "3"
    with running_dashboard(["--db", str(seeded), "--users-file", str(users_file)], log, environment) as url:
        yield url


def as_client(page: Page, url: str, address: str) -> None:
    """A fresh session whose every request carries ``X-Forwarded-For: address``, on the login page."""
    page.call("Network.enable")
    page.call("Network.setExtraHTTPHeaders", headers={"X-Forwarded-For": address})
    page.load(url, "Log in")


def log_in(page: Page, name: str, password: str) -> str:
    """Type into the form as a person would, submit, and return the text the app answers with."""
    for label, value in (("User name", name), ("Password", password)):
        focus = f"document.querySelector('input[aria-label=\"{label}\"]').focus()"
        page.call("Runtime.evaluate", expression=focus)
        page.call("Runtime.evaluate", expression="document.activeElement.select()")
        page.call("Input.insertText", text=value)
    page.call("Runtime.evaluate", expression="document.activeElement.blur()")
    click = "[...document.querySelectorAll('button')].find(b => b.innerText.trim() === 'Log in').click()"
    page.call("Runtime.evaluate", expression=click)
    # The previous answer stays on the page until the rerun replaces it: wait until the page has been still
    # for 1.5 s, as Page.load does, and only then read it.
    deadline, stable_since, last = time.monotonic() + 30, time.monotonic(), ""
    while time.monotonic() < deadline:
        time.sleep(0.25)
        state = page.state()
        answer = "\n".join(state.get("errors", [])) or str(state.get("text", ""))
        if state.get("running") or answer != last:
            stable_since, last = time.monotonic(), answer
        elif time.monotonic() - stable_since >= 1.5 and any(outcome in answer for outcome in OUTCOMES):
            return answer
    raise TimeoutError(f"no answer to the log-in of {json.dumps(name)}: {str(page.state().get('text'))[:500]}")


def test_a_burst_from_one_client_is_refused_and_another_client_still_logs_in(dashboard: str, tmp_path: Path) -> None:
    with chromium(tmp_path / "sprayer") as page:
        as_client(page, dashboard, "203.0.113.7")
        for name in ("root", "admin", "olga"):
            assert log_in(page, name, "Summer2026!") == "Wrong user name or password."
        refused = log_in(page, "victor", PASSWORDS["victor"])
        assert refused == "Too many failed attempts from this address; try again in a few minutes."
    with chromium(tmp_path / "colleague") as page:
        as_client(page, dashboard, "198.51.100.20")
        assert "Pushes" in log_in(page, "victor", PASSWORDS["victor"])


def test_name_variants_count_as_the_name_from_any_client(dashboard: str, tmp_path: Path) -> None:
    for number, variant in enumerate((" ana", "ana ", "ANA", "\uff41\uff4e\uff41", "Ana")):
        with chromium(tmp_path / f"client{number}") as page:  # a new client each time: the address limit is 3
            as_client(page, dashboard, f"192.0.2.{number + 1}")
            assert log_in(page, variant, "wrong") == "Wrong user name or password."
    with chromium(tmp_path / "owner") as page:
        as_client(page, dashboard, "192.0.2.100")
        refused = log_in(page, "ana", PASSWORDS["ana"])
        assert refused == "Too many failed attempts for this user; try again in a few minutes."
