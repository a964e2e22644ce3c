"""The dashboard's entry point (``regaudit dashboard`` runs it with Streamlit): settings, login, navigation.

Every rerun starts here: the runtime handed over by the command is read, the login gate decides whether
anyone is logged in, and ``st.navigation`` runs the chosen page from ``screens/``. Until someone is logged in the
navigation holds only the login page, so no page of the store can run.

The pages live in ``screens/``, not ``pages/`` (nor ``views/``, the name of the store's SQL views): Streamlit
treats a ``pages/`` folder beside the entry script as a version-1 multipage app until the process first calls
``st.navigation``, and then runs a requested page file directly, without this script and its login gate.
"""

from __future__ import annotations

import os
from pathlib import Path

import streamlit as st

from regaudit.dashboard import login, widgets
from regaudit.dashboard.runtime import load_runtime

SCREENS = Path(__file__).parent / "screens"


def main() -> None:
    st.set_page_config(page_title="regaudit", page_icon=":material/policy:", layout="wide")
    runtime = load_runtime(os.environ)
    principal = login.current(runtime)
    if principal is None:

        def log_in() -> None:
            login.login_page(runtime)

        st.navigation([st.Page(log_in, title="Log in", url_path="login")], position="hidden").run()
        return
    widgets.remember(runtime)
    navigation = st.navigation(
        {
            "Audit": [
                st.Page(SCREENS / "overview.py", title="Overview", icon=":material/dashboard:", default=True),
                st.Page(
                    SCREENS / "activity.py",
                    title="Activity explorer",
                    icon=":material/manage_search:",
                    url_path="activity",
                ),
                st.Page(
                    SCREENS / "repository.py",
                    title="Repositories",
                    icon=":material/inventory_2:",
                    url_path="repository",
                ),
                st.Page(SCREENS / "identity.py", title="Identities", icon=":material/badge:", url_path="identity"),
            ],
            "Security": [
                st.Page(SCREENS / "findings.py", title="Findings", icon=":material/gpp_maybe:", url_path="findings"),
                st.Page(SCREENS / "reports.py", title="Reports", icon=":material/description:", url_path="reports"),
            ],
        }
    )
    login.sidebar(principal)
    with st.sidebar:
        st.caption(f"Store: `{runtime.db.name}`")
    navigation.run()


if __name__ == "__main__":
    main()
