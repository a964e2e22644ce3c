"""kafka.sasl_password_file: the SASL password from a Docker secret, never from the environment or the TOML file."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from regaudit.ingest.sinks.kafka import kafka_client_options
from regaudit.settings import KafkaSettings, load_settings


def test_the_password_file_is_read_at_load_without_its_newline(tmp_path: Path) -> None:
    secret = tmp_path / "kafka_password"
    secret.write_text("s3cret-0123456789\n")
    environ = {"REGAUDIT_KAFKA__SASL_USERNAME": "webhook", "REGAUDIT_KAFKA__SASL_PASSWORD_FILE": str(secret)}

    settings = load_settings(environ=environ).kafka

    assert settings.sasl_password is not None
    assert settings.sasl_password.get_secret_value() == "s3cret-0123456789"
    assert "s3cret" not in repr(settings)
    options = kafka_client_options(settings.model_copy(update={"sasl_mechanism": "SCRAM-SHA-512"}))
    assert (options["sasl_plain_username"], options["sasl_plain_password"]) == ("webhook", "s3cret-0123456789")


def test_a_password_and_a_password_file_together_are_refused(tmp_path: Path) -> None:
    secret = tmp_path / "kafka_password"
    secret.write_text("from-the-file\n")
    with pytest.raises(ValidationError, match="sasl_password or kafka.sasl_password_file, not both"):
        KafkaSettings(sasl_password="from-the-environment", sasl_password_file=secret)


def test_a_missing_or_empty_password_file_stops_at_start(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="No such file or directory"):
        KafkaSettings(sasl_password_file=tmp_path / "missing")
    (tmp_path / "empty").write_text("\n")
    with pytest.raises(ValidationError, match="is empty"):
        KafkaSettings(sasl_password_file=tmp_path / "empty")
