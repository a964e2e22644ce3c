"""The Streamlit side of access control: who is logged in, the login page, the sidebar badge and logout.

Demo mode needs no login. With OpenID Connect, ``st.login`` sends the user to the provider configured in the
``[auth]`` table of the secrets and ``st.user`` says who came back; someone the allow-lists do not name gets a
"not authorized" page with a way out, nothing else. Otherwise a form checks the local users file; the principal
lives in the session (one browser tab), and failures are throttled per user name and per client address
across sessions (``throttle.py``). Pages never run without a principal: ``app.py`` shows only the login page
until there is one, and ``session.context()`` stops any page that finds none.

The client address is ``st.context.ip_address``: the connection's peer, or the client a trusted proxy names in
X-Forwarded-For (``dashboard.trusted_proxies``, applied by the server). Streamlit gives None for a loopback
peer; that is counted as the one address ``local``.
"""

from __future__ import annotations

import logging

import streamlit as st

from regaudit.dashboard.auth import OidcAccess, Principal, authenticate, load_users, oidc_principal, user_key
from regaudit.dashboard.runtime import Runtime
from regaudit.dashboard.throttle import LoginThrottle

log = logging.getLogger(__name__)

PRINCIPAL_KEY = "regaudit_principal"
DEMO = Principal("demo", "analyst", "demo")
LOCAL_ADDRESS = "local"
OIDC_CLAIMS = ("sub", "email", "email_verified")
REFUSED = {
    "user": "Too many failed attempts for this user; try again in a few minutes.",
    "address": "Too many failed attempts from this address; try again in a few minutes.",
}


@st.cache_resource
def _throttle(per_user: int, per_address: int, window: float) -> LoginThrottle:
    return LoginThrottle(per_user, per_address, window)


def throttle(runtime: Runtime) -> LoginThrottle:
    """The process-wide throttle for the configured limits."""
    return _throttle(runtime.login_failures_per_user, runtime.login_failures_per_address, runtime.login_window_seconds)


def current(runtime: Runtime) -> Principal | None:
    """The logged-in principal, or None (also for an OIDC user the allow-lists do not admit)."""
    if runtime.demo:
        return DEMO
    if runtime.auth == "oidc":
        if not st.user.is_logged_in:
            return None
        access = OidcAccess.of(runtime.oidc_allowed_users, runtime.oidc_allowed_domains, runtime.oidc_default_role)
        return oidc_principal(load_users(runtime.users_file), _claims(), access)
    principal = st.session_state.get(PRINCIPAL_KEY)
    return principal if isinstance(principal, Principal) else None


def _claims() -> dict[str, object]:
    return {claim: st.user.get(claim) for claim in OIDC_CLAIMS}


def login_page(runtime: Runtime) -> None:
    """The only page shown until someone logs in."""
    st.title("regaudit")
    if runtime.auth == "oidc":
        if st.user.is_logged_in:
            _not_authorized()
            return
        st.caption("Audit logging and access analytics for the container registry. Please log in.")
        st.button("Log in with your identity provider", type="primary", on_click=st.login)
        return
    st.caption("Audit logging and access analytics for the container registry. Please log in.")
    with st.form("login"):
        name = st.text_input("User name", key="login_name")
        password = st.text_input("Password", type="password", key="login_password")
        submitted = st.form_submit_button("Log in", type="primary")
    if submitted:
        _check(runtime, user_key(name), password)


def _check(runtime: Runtime, key: str, password: str) -> None:
    """One log-in attempt, counted under the same normalized name the users file is searched by."""
    gate, address = throttle(runtime), client_address()
    if refused := gate.blocked(key, address):
        st.error(REFUSED[refused])
        return
    principal = authenticate(load_users(runtime.users_file), key, password)
    if principal is None:
        gate.failed(key, address)
        log.warning("dashboard login failed address=%s", address)
        st.error("Wrong user name or password.")
        return
    gate.succeeded(key)
    st.session_state[PRINCIPAL_KEY] = principal
    st.rerun()


def client_address() -> str:
    """The client's address as the server saw it, ``local`` for a loopback peer (or when none is known)."""
    address = st.context.ip_address
    return address if isinstance(address, str) and address else LOCAL_ADDRESS


def _not_authorized() -> None:
    """For someone the provider authenticated but nobody listed: say so, offer the way out, show nothing else."""
    claims = _claims()
    who = str(claims.get("email") or claims.get("sub") or "this account")
    log.warning("dashboard oidc login refused sub=%s", claims.get("sub"))
    st.error(
        f"Not authorized: {who} is not allowed to use this dashboard. Ask its operators to list you"
        " (dashboard.oidc_allowed_users or oidc_allowed_domains)."
    )
    st.button("Log out", key="logout", on_click=st.logout)


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
