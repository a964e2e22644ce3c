"""deploy/regaudit.toml loads as regaudit loads it, and names every section and every setting."""

from __future__ import annotations

import re

from pydantic import BaseModel

from regaudit.settings import Settings, load_settings
from tests.deploy.compose import REGAUDIT_TOML, load_toml


def test_the_production_settings_file_loads_without_errors() -> None:
    settings = load_settings(REGAUDIT_TOML, environ={})

    assert str(settings.store.path) == "/var/lib/regaudit/regaudit.duckdb"
    assert settings.kafka.bootstrap_servers == "kafka:9092"
    assert (settings.kafka.security_protocol, settings.kafka.sasl_mechanism) == ("SASL_PLAINTEXT", "SCRAM-SHA-512")
    assert settings.kafka.sasl_password is None  # each service's own secret file, set in docker-compose.yml
    assert settings.webhook.sink == settings.ship_logs.sink == "kafka"
    assert settings.webhook.tokens == []  # tokens come from the secret file, never from this file


def test_the_file_has_a_table_for_every_section_of_the_settings() -> None:
    assert set(load_toml()) == set(Settings.model_fields)


def test_every_setting_is_set_or_mentioned_in_its_section() -> None:
    text = REGAUDIT_TOML.read_text()
    tables = re.split(r"^\[([a-z_.\"]+)\]$", text, flags=re.MULTILINE)
    sections = dict(zip(tables[1::2], tables[2::2], strict=True))
    for section, field in Settings.model_fields.items():
        model = field.annotation
        assert isinstance(model, type)
        assert issubclass(model, BaseModel)
        body = sections[section]
        missing = [name for name in model.model_fields if not re.search(rf"\b{name}\b", body)]
        assert not missing, f"[{section}] does not mention {missing}"


def test_environment_variables_still_win_over_the_file() -> None:
    settings = load_settings(REGAUDIT_TOML, environ={"REGAUDIT_ORG__TIMEZONE": "Europe/Berlin"})

    assert settings.org.timezone == "Europe/Berlin"
