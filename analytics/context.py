"""What every detection's SQL may bind besides its own parameters: the analysis window and the organisation.

A run evaluates windows that end after ``$since`` and events before ``$now``. The organisation's settings are
bound under their own names (``$ci_networks``, ``$protected_repositories``...), so detections never read
configuration themselves and a case can set them per fixture.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from regaudit.analytics.settings import OrgSettings

#: Names bound for every detection; a detection's own parameters may not reuse them.
CONTEXT_PARAMETERS: frozenset[str] = frozenset(
    {
        "now",
        "since",
        "ci_identities",
        "ci_networks",
        "production_identities",
        "internal_networks",
        "known_networks",
        "admin_identities",
        "public_repositories",
        "protected_repositories",
        "personal_repositories",
        "protected_tag_patterns",
        "business_start",
        "business_end",
        "business_days",
        "timezone",
    }
)


@dataclass(frozen=True)
class AnalysisContext:
    """One run's horizon (``since`` .. ``now``, UTC) and the organisation it judges against."""

    now: datetime
    since: datetime
    org: OrgSettings

    @classmethod
    def ending(cls, now: datetime, lookback: timedelta, org: OrgSettings) -> AnalysisContext:
        if now.tzinfo is None:
            raise ValueError("the analysis time must carry a time zone")
        now = now.astimezone(UTC)
        return cls(now=now, since=now - lookback, org=org)

    def bindings(self) -> Mapping[str, object]:
        """Every context parameter by name, typed for DuckDB (lists of VARCHAR, TIMESTAMPTZ, TIME)."""
        org = self.org
        return {
            "now": self.now,
            "since": self.since,
            "ci_identities": list(org.ci_identities),
            "ci_networks": list(org.ci_networks),
            "production_identities": list(org.production_identities),
            "internal_networks": list(org.internal_networks),
            "known_networks": [*org.ci_networks, *org.internal_networks],
            "admin_identities": list(org.admin_identities),
            "public_repositories": list(org.public_repositories),
            "protected_repositories": list(org.protected_repositories),
            "personal_repositories": list(org.personal_repositories),
            "protected_tag_patterns": list(org.protected_tag_patterns),
            "business_start": org.business_start,
            "business_end": org.business_end,
            "business_days": org.business_isodays,
            "timezone": org.timezone,
        }
