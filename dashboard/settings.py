"""``[dashboard]``: how ``regaudit dashboard`` serves the Streamlit app and who may log in.

Access control outside demo mode is one of two: OpenID Connect through Streamlit's own ``st.login`` when
``oidc`` is on (the provider goes in the ``[auth]`` table of ``secrets_file``), otherwise the local
``users_file`` with scrypt-hashed passwords (``regaudit dashboard add-user`` writes it). Either way a user is
a *viewer* or an *analyst*; only analysts change a finding's status. Demo mode binds to 127.0.0.1 and needs no
login.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Role = Literal["viewer", "analyst"]


class DashboardSettings(BaseModel):
    """``regaudit dashboard``: the Streamlit app over the store."""

    model_config = ConfigDict(extra="forbid", validate_default=True)

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
    oidc_default_role: Role = Field("viewer", description="Role of an OIDC user whom users_file does not list.")
    cache_ttl_seconds: float = Field(
        30.0, gt=0, description="How long a query result is reused before the store is read again."
    )
    max_export_rows: int = Field(1_000_000, gt=0, description="Most activity rows the reports page exports in one CSV.")
    demo: bool = Field(
        False, description="Demo mode: no login, everyone is an analyst, and it binds to 127.0.0.1 only."
    )
