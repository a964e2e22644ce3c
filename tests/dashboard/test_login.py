"""Access control through the real entry point: the login refuses a wrong password, pages need a login, the
viewer cannot change a finding, OIDC users get their role from the users file."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from regaudit.dashboard import data
from regaudit.dashboard.auth import Principal
from regaudit.dashboard.runtime import Runtime
from tests.dashboard.conftest import APP, PASSWORDS, AppFactory, no_errors, shown


def log_in(app: AppTest, name: str, password: str) -> AppTest:
    app.text_input(key="login_name").input(name)
    app.text_input(key="login_password").input(password)
    return app.button[0].click().run()


def test_without_a_login_only_the_login_page_runs(make_app: AppFactory, seeded: Path) -> None:
    app = make_app(seeded, auth_mode="local", repository="team/app")
    assert [t.value for t in app.title] == ["regaudit"]
    assert not app.metric
    assert not app.dataframe
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        app.switch_page("views/repository.py")


def test_a_page_reached_without_the_entry_point_shows_nothing(seeded: Path) -> None:
    app = AppTest.from_file(str(APP.parent / "views" / "findings.py"), default_timeout=30).run()
    assert [e.value for e in app.error] == ["Log in first."]
    assert not app.dataframe


@pytest.mark.parametrize(
    ("name", "password"), [("ana", "wrong"), ("ana", ""), ("nobody", "analyst-pass-1"), ("olga@example.com", "")]
)
def test_the_login_refuses_a_wrong_password(make_app: AppFactory, seeded: Path, name: str, password: str) -> None:
    app = log_in(make_app(seeded, auth_mode="local"), name, password)
    assert [e.value for e in app.error] == ["Wrong user name or password."]
    assert [t.value for t in app.title] == ["regaudit"]
    assert not app.metric


def test_the_right_password_opens_the_overview(make_app: AppFactory, seeded: Path) -> None:
    app = log_in(make_app(seeded, auth_mode="local"), "ana", PASSWORDS["ana"])
    no_errors(app)
    assert app.title[0].value == "Overview"
    assert shown(app)["Pushes"] == "5"
    assert any("Logged in as **ana** (analyst)" in c.value for c in app.sidebar.caption)


def test_the_viewer_sees_findings_but_cannot_change_one(make_app: AppFactory, writable: Path) -> None:
    app = log_in(make_app(writable, auth_mode="local"), "victor", PASSWORDS["victor"])
    app.switch_page("views/findings.py").run()
    no_errors(app)
    assert len(app.dataframe[0].value) == 10
    assert any("Only analysts" in info.value for info in app.info)
    assert not app.radio
    assert not [b for b in app.button if b.label == "Save status"]
    runtime = Runtime(db=writable, auth="local")
    with pytest.raises(PermissionError, match="only analysts"):
        data.change_status(runtime, Principal("victor", "viewer", "local"), "any", "suppressed", "because")


def test_logging_out_returns_to_the_login_page(make_app: AppFactory, seeded: Path) -> None:
    app = log_in(make_app(seeded, auth_mode="local"), "victor", PASSWORDS["victor"])
    app.sidebar.button(key="logout").click().run()
    assert [t.value for t in app.title] == ["regaudit"]


def test_an_oidc_user_gets_the_role_the_users_file_lists(make_app: AppFactory, seeded: Path) -> None:
    listed = make_app(
        seeded, auth_mode="oidc", page="findings", user={"is_logged_in": True, "email": "olga@example.com"}
    )
    no_errors(listed)
    assert [b.label for b in listed.button if b.label == "Save status"] == ["Save status"]
    unlisted = make_app(
        seeded, auth_mode="oidc", page="findings", user={"is_logged_in": True, "email": "someone@example.com"}
    )
    assert any("Only analysts" in info.value for info in unlisted.info)


def test_an_oidc_visitor_not_logged_in_is_offered_the_provider(make_app: AppFactory, seeded: Path) -> None:
    app = make_app(seeded, auth_mode="oidc", user={"is_logged_in": False})
    assert [b.label for b in app.button] == ["Log in with your identity provider"]
    assert not app.metric
