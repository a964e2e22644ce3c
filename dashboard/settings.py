"""``[dashboard]``: how ``regaudit dashboard`` serves the Streamlit app and who may log in.

Access control outside demo mode is one of two: OpenID Connect through Streamlit's own ``st.login`` when
``oidc`` is on (the provider goes in the ``[auth]`` table of ``secrets_file``), otherwise the local
``users_file`` with scrypt-hashed passwords (``regaudit dashboard add-user`` writes it). Either way a user is
a *viewer* or an *analyst*; only analysts change a finding's status. Demo mode binds to 127.0.0.1 and needs no
login.

OIDC denies by default: the provider proves who someone is, not that they may read the audit trail, so only the
users and e-mail domains listed here (or e-mails listed in ``users_file``) get in, and an e-mail counts only when
the provider says it is verified. Failed local log-ins are throttled per user name and per client address; the
client address is the connection's peer unless that peer is one of ``trusted_proxies``, whose
``X-Forwarded-For`` is then believed.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

Role = Literal["viewer", "analyst"]


class DashboardSettings(BaseModel):
    """``regaudit dashboard``: the Streamlit app over the store."""

    model_config = ConfigDict(extra="forbid", validate_default=True, hide_input_in_errors=True)

    host: str = Field("127.0.0.1", description="Address the dashboard listens on (demo mode: 127.0.0.1 only).")
    port: int = Field(8501, ge=0, le=65535, description="Port the dashboard listens on.")
    users_file: Path | None = Field(
        None,
        description="Local users, one `name:role:scrypt-hash` a line (`regaudit dashboard add-user` writes it);"
        " with OIDC, lists the roles of OIDC users by e-mail, without a hash.",
    )
    oidc: bool = Field(
        False,
        description="Log in with OpenID Connect through Streamlit's `st.login` (needs the `[auth]` table in"
        " secrets_file and the Authlib package) instead of the local users file.",
    )
    secrets_file: Path | None = Field(
        None, description="Streamlit secrets TOML holding the `[auth]` table of the OIDC provider."
    )
    oidc_default_role: Role = Field(
        "viewer", description="Role of an admitted OIDC user whom users_file does not list by verified e-mail."
    )
    oidc_allowed_users: list[str] = Field(
        default_factory=list,
        description="OIDC users who may log in: a subject (`sub` claim, exact) or, with an `@`, a verified e-mail;"
        " with oidc_allowed_domains and the e-mails in users_file, everyone else is refused.",
    )
    oidc_allowed_domains: list[str] = Field(
        default_factory=list,
        description="E-mail domains whose OIDC users may log in (exact match, `example.com` admits"
        " `ana@example.com`, not `ana@dev.example.com`), when the provider marks the e-mail verified.",
    )
    login_failures_per_user: int = Field(
        5, ge=1, description="Failed local log-ins for one user name, from anywhere, before it is refused for a while."
    )
    login_failures_per_address: int = Field(
        30, ge=1, description="Failed local log-ins from one client address, for any names, before it is refused."
    )
    login_window_seconds: float = Field(
        300.0, gt=0, description="How long a failed log-in counts towards the two limits above."
    )
    trusted_proxies: list[str] = Field(
        default_factory=list,
        description="Addresses or networks of reverse proxies whose X-Forwarded-For names the client (none:"
        " the header is ignored and a proxy counts as one client address for login throttling).",
    )
    cache_ttl_seconds: float = Field(
        30.0, gt=0, description="How long a query result is reused before the store is read again."
    )
    max_export_rows: int = Field(1_000_000, gt=0, description="Most activity rows the reports page exports in one CSV.")
    demo: bool = Field(
        False, description="Demo mode: no login, everyone is an analyst, and it binds to 127.0.0.1 only."
    )

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, values: list[str]) -> list[str]:
        """Each entry as a network, so a typo is refused here instead of silently trusting nothing."""
        return [str(ipaddress.ip_network(value.strip(), strict=False)) for value in values]

    @field_validator("oidc_allowed_domains")
    @classmethod
    def _domains(cls, values: list[str]) -> list[str]:
        domains = [value.strip().removeprefix("@").casefold() for value in values]
        if any(not domain or "@" in domain or any(c.isspace() for c in domain) for domain in domains):
            raise ValueError("oidc_allowed_domains holds domain names such as example.com")
        return domains
