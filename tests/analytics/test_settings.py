"""The [org] and [analytics] sections: validated, documented, loaded like every other section."""

from __future__ import annotations

from datetime import time
from pathlib import Path

import pytest
from pydantic import ValidationError

from regaudit.analytics.settings import AnalyticsSettings, OrgSettings
from regaudit.settings import load_settings, settings_table


def test_org_defaults_are_a_working_week_in_utc() -> None:
    org = OrgSettings()
    assert (org.business_start, org.business_end) == (time(8), time(19))
    assert org.business_isodays == [1, 2, 3, 4, 5]
    assert org.timezone == "UTC"


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("ci_networks", ["10.0.0.0/33"], "does not appear to be an IPv4 or IPv6 network"),
        ("protected_tag_patterns", ["(unclosed"], "missing \\)"),
        ("timezone", "Mars/Olympus", "unknown time zone"),
        ("business_hours", "8-19", "HH:MM-HH:MM|08:00-19:00"),
        ("business_hours", "08:00-25:00", "hour must be in"),
        ("business_days", ["monday"], "mon"),
        ("personal_repositories", ["sandbox/*"], "must name the identity as {identity}"),
        ("personal_repositories", ["sandbox/{user}/{identity}"], "no other braces"),
    ],
)
def test_org_refuses_bad_values(field: str, value: object, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        OrgSettings.model_validate({field: value})


def test_personal_repositories_default_to_sandboxes_and_namespaces_named_after_the_identity() -> None:
    assert {"sandbox/{identity}", "{identity}/*"} <= set(OrgSettings().personal_repositories)


def test_cidrs_are_normalised() -> None:
    assert OrgSettings(ci_networks=["10.8.3.4/16"]).ci_networks == ["10.8.0.0/16"]


def test_org_and_analytics_load_from_toml_and_environment(tmp_path: Path) -> None:
    config = tmp_path / "regaudit.toml"
    config.write_text(
        '[org]\nci_identities = ["ci-bot"]\ntimezone = "Europe/Berlin"\n'
        '[analytics.thresholds."pull.volume_baseline"]\nmad_factor = 6.5\n',
        encoding="utf-8",
    )
    settings = load_settings(config, environ={"REGAUDIT_ORG__CI_NETWORKS": '["10.8.0.0/16"]'})
    assert settings.org.ci_identities == ["ci-bot"]
    assert settings.org.ci_networks == ["10.8.0.0/16"]
    assert settings.org.timezone == "Europe/Berlin"
    assert settings.analytics.thresholds == {"pull.volume_baseline": {"mad_factor": 6.5}}


def test_every_org_and_analytics_setting_is_described_in_the_table() -> None:
    table = settings_table()
    for section, model in (("org", OrgSettings), ("analytics", AnalyticsSettings)):
        for name, field in model.model_fields.items():
            assert field.description, name
            assert f"`{section}.{name}`" in table
