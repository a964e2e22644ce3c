"""The Streamlit side of access control: who is logged in, the login page, the sidebar badge and logout.

Demo mode needs no login. With OpenID Connect, ``st.login`` sends the user to the provider configured in the
``[auth]`` table of the secrets and ``st.user`` says who came back. Otherwise a form checks the local users
file; the principal lives in the session (one browser tab), and failures are throttled per user name across
sessions. Pages never run without a principal: ``app.py`` shows only the login page until there is one, and
``session.context()`` stops any page that finds none.
"""

from __future__ import annotations

import streamlit as st

from regaudit.dashboard.auth import LoginThrottle, Principal, authenticate, load_users, oidc_principal
from regaudit.dashboard.runtime import Runtime

PRINCIPAL_KEY = "regaudit_principal"
DEMO = Principal("demo", "analyst", "demo")


@st.cache_resource
def _throttle() -> LoginThrottle:
    return LoginThrottle()


def current(runtime: Runtime) -> Principal | None:
    """The logged-in principal, or None."""
    if runtime.demo:
        return DEMO
    if runtime.auth == "oidc":
        if not st.user.is_logged_in:
            return None
        email = str(st.user.get("email") or st.user.get("sub") or "")
        if not email:
            return None
        return oidc_principal(load_users(runtime.users_file), email, runtime.oidc_default_role)
    principal = st.session_state.get(PRINCIPAL_KEY)
    return principal if isinstance(principal, Principal) else None


def login_page(runtime: Runtime) -> None:
    """The only page shown until someone logs in."""
    st.title("regaudit")
    st.caption("Audit logging and access analytics for the container registry. Please log in.")
    if runtime.auth == "oidc":
        st.button("Log in with your identity provider", type="primary", on_click=st.login)
        return
    with st.form("login"):
        name = st.text_input("User name", key="login_name")
        password = st.text_input("Password", type="password", key="login_password")
        submitted = st.form_submit_button("Log in", type="primary")
    if not submitted:
        return
    throttle = _throttle()
    if throttle.blocked(name):
        st.error("Too many failed attempts for this user; try again in a few minutes.")
        return
    principal = authenticate(load_users(runtime.users_file), name, password)
    if principal is None:
        throttle.failed(name)
        st.error("Wrong user name or password.")
        return
    throttle.succeeded(name)
    st.session_state[PRINCIPAL_KEY] = principal
    st.rerun()


def sidebar(principal: Principal) -> None:
    """Who is logged in, in which role, and the way out."""
    with st.sidebar:
        if principal.via == "demo":
            st.caption("Demo mode: no login, bound to this machine only.")
            return
        st.caption(f"Logged in as **{principal.name}** ({principal.role})")
        if principal.via == "oidc":
            if st.button("Log out", key="logout"):
                st.logout()
        else:
            st.button("Log out", key="logout", on_click=_forget)


def _forget() -> None:
    st.session_state.pop(PRINCIPAL_KEY, None)
