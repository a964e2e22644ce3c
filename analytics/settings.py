"""Settings sections for the detections: who and what the organisation trusts, and how the runner is tuned.

``OrgSettings`` (``[org]``) describes the organisation: CI and production identities, networks, protected
and personal repositories, protected tags, business hours. ``AnalyticsSettings`` (``[analytics]``) tunes
``regaudit analyze``: the lookback, which detections run, and per-detection parameter overrides, e.g.::

    [analytics.thresholds."pull.volume_baseline"]
    mad_factor = 6.0
"""

from __future__ import annotations

import ipaddress
import re
from datetime import time
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
ThresholdValue = bool | int | float | str | list[str]

_HOURS = re.compile(r"^(?P<start>\d{2}:\d{2})-(?P<end>\d{2}:\d{2})$")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=True)


class OrgSettings(_Section):
    """The organisation the detections judge activity against."""

    ci_identities: list[str] = Field(
        default_factory=list, description="Identities (users or robots) that CI systems push and pull with."
    )
    ci_networks: list[str] = Field(default_factory=list, description="CIDRs of CI runners' egress addresses.")
    production_identities: list[str] = Field(
        default_factory=list,
        description="Identities production clusters pull with (checked for unsigned pulls).",
    )
    internal_networks: list[str] = Field(
        default_factory=list, description="CIDRs of offices and VPNs; a whole CIDR counts as one network."
    )
    admin_identities: list[str] = Field(
        default_factory=list, description="Identities allowed to list the catalog without a finding."
    )
    public_repositories: list[str] = Field(
        default_factory=list, description="Globs of repositories meant for anonymous pulls."
    )
    protected_repositories: list[str] = Field(
        default_factory=list,
        description="Globs of repositories whose pushes and deletes are watched closely.",
    )
    personal_repositories: list[str] = Field(
        ["sandbox/{identity}", "sandbox/{identity}/*", "{identity}/*", "users/{identity}/*"],
        description=(
            "Globs of each identity's own repositories, {identity} standing for the pushing identity (lowercased; "
            "alice@example.com also as alice): pushes there are the least risky (personal class)."
        ),
    )
    protected_tag_patterns: list[str] = Field(
        [r"^prod(uction)?([-_.].*)?$", r"^release[-_.].+$", r"^stable$"],
        description="Regular expressions of tags treated like releases (besides semver): moving one is high.",
    )
    business_hours: str = Field("08:00-19:00", description="Working hours, local time, as HH:MM-HH:MM.")
    business_days: list[Weekday] = Field(["mon", "tue", "wed", "thu", "fri"], description="Working days (mon..sun).")
    timezone: str = Field("UTC", description="IANA time zone of business hours, e.g. Europe/Berlin.")

    @field_validator("ci_networks", "internal_networks")
    @classmethod
    def _cidrs(cls, values: list[str]) -> list[str]:
        return [str(ipaddress.ip_network(value, strict=False)) for value in values]

    @field_validator("personal_repositories")
    @classmethod
    def _personal(cls, values: list[str]) -> list[str]:
        for value in values:
            rest = value.replace("{identity}", "")
            if rest == value or "{" in rest or "}" in rest:
                raise ValueError(f"{value!r} must name the identity as {{identity}} (and hold no other braces)")
        return values

    @field_validator("protected_tag_patterns")
    @classmethod
    def _patterns(cls, values: list[str]) -> list[str]:
        for value in values:
            try:
                re.compile(value)
            except re.error as error:
                raise ValueError(f"{value!r} is not a regular expression: {error}") from error
        return values

    @field_validator("business_hours")
    @classmethod
    def _hours(cls, value: str) -> str:
        match = _HOURS.match(value)
        if match is None:
            raise ValueError("business_hours must look like 08:00-19:00")
        for part in (match["start"], match["end"]):
            time.fromisoformat(part)  # raises on 25:00
        return value

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise ValueError(f"unknown time zone {value!r}") from error
        return value

    @property
    def business_start(self) -> time:
        return time.fromisoformat(self.business_hours.split("-")[0])

    @property
    def business_end(self) -> time:
        return time.fromisoformat(self.business_hours.split("-")[1])

    @property
    def business_isodays(self) -> list[int]:
        """ISO day numbers (Monday 1) of the business days."""
        return [WEEKDAYS.index(day) + 1 for day in self.business_days]


class AnalyticsSettings(_Section):
    """``regaudit analyze``: which detections run, over how much history, with which thresholds."""

    lookback_hours: float = Field(
        48.0, gt=0, description="Windows starting this far back are re-evaluated on every run."
    )
    detections: list[str] = Field(
        default_factory=list, description="Detections to run: ids, families or globs (empty: all)."
    )
    disabled: list[str] = Field(default_factory=list, description="Detections never run: ids, families or globs.")
    thresholds: dict[str, dict[str, ThresholdValue]] = Field(
        {}, description="Parameter overrides per detection id, checked against the detection's parameters."
    )
    max_evidence_ids: int = Field(200, gt=0, description="Evidence row ids kept per finding at most.")
    memory_limit: str | None = Field(
        None,
        pattern=r"^[0-9]+(\.[0-9]+)? ?(KB|MB|GB|TB|KiB|MiB|GiB|TiB)$",
        description="DuckDB's memory for analyze, e.g. 4GB; past it joins and aggregates spill to <store>.tmp "
        "(unset: DuckDB's default, 80% of RAM).",
    )
