"""Settings for every runnable part of regaudit.

Precedence, highest first: command-line flags, ``REGAUDIT_*`` environment variables (sections joined with
``__``, e.g. ``REGAUDIT_KAFKA__BOOTSTRAP_SERVERS``), the TOML file named by ``--config`` or ``REGAUDIT_CONFIG``
(one table per section, e.g. ``[kafka]``), then the defaults below. Every field is typed, defaulted and described;
``regaudit settings`` prints the table that README.md carries, and a test keeps the two in sync.

Settings are loaded once at the entry point and passed down. Nothing deeper reads ``os.environ``.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from regaudit.analytics.alerts.settings import AlertsSettings
from regaudit.analytics.reports.settings import ReportsSettings
from regaudit.analytics.settings import AnalyticsSettings, OrgSettings
from regaudit.dashboard.settings import DashboardSettings
from regaudit.ingest.chain_settings import ChainSettings


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=True, hide_input_in_errors=True)


class StoreSettings(Section):
    """The DuckDB file every part reads or writes."""

    path: Path = Field(Path("regaudit.duckdb"), description="DuckDB file of the audit store.")
    lock_timeout_seconds: float = Field(
        30.0, gt=0, description="How long a writer or reader retries while another process holds the file."
    )


class KafkaSettings(Section):
    """The broker and topics between the receivers and the consumer."""

    bootstrap_servers: str = Field("localhost:9092", description="Kafka bootstrap servers, comma separated.")
    events_topic: str = Field("registry.events", description="Topic of registry notification events.")
    access_topic: str = Field("registry.access", description="Topic of proxy access-log lines.")
    deadletter_topic: str = Field(
        "registry.deadletters", description="Topic of payloads the receivers could not parse."
    )
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        "PLAINTEXT", description="Kafka security protocol."
    )
    sasl_mechanism: str | None = Field(None, description="SASL mechanism (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512).")
    sasl_username: str | None = Field(None, description="SASL user name.")
    sasl_password: SecretStr | None = Field(None, description="SASL password.")
    sasl_password_file: Path | None = Field(
        None,
        description="File holding the SASL password (a Docker secret), read at start-up; instead of sasl_password.",
    )
    ssl_cafile: Path | None = Field(None, description="CA bundle that signed the brokers' certificates.")
    request_timeout_seconds: float = Field(
        5.0,
        gt=0,
        description="How long a produce may wait for the next acks=all (the webhook then answers 503, "
        "ship-logs retries).",
    )

    @model_validator(mode="after")
    def _read_sasl_password_file(self) -> KafkaSettings:
        """The password from its file, so that it never sits in the environment or the TOML file (Docker
        secrets are files). Read once at start-up: an unreadable or empty file stops the command at once."""
        if self.sasl_password_file is None:
            return self
        if self.sasl_password is not None:
            raise ValueError("set kafka.sasl_password or kafka.sasl_password_file, not both")
        try:
            password = self.sasl_password_file.read_text().rstrip("\r\n")
        except OSError as error:
            raise ValueError(f"kafka.sasl_password_file {self.sasl_password_file}: {error.strerror}") from None
        if not password:
            raise ValueError(f"kafka.sasl_password_file {self.sasl_password_file} is empty")
        self.sasl_password = SecretStr(password)
        return self


#: a registry name, in ``webhook.registry`` and the ``/events/<name>`` path: what a DNS label or a Kafka header
#: carries safely
REGISTRY_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$"


class WebhookSettings(Section):
    """``regaudit webhook``: the receiver of registry notifications."""

    host: str = Field("127.0.0.1", description="Address the webhook listens on.")
    port: int = Field(8081, ge=0, le=65535, description="Port the webhook listens on.")
    tokens: list[SecretStr] = Field(
        default_factory=list,
        description="Bearer tokens accepted for every registry, several at once for rotation; each 16 visible "
        "ASCII characters or more (the webhook refuses to start otherwise).",
    )
    registry_tokens: dict[str, list[SecretStr]] = Field(
        default_factory=dict,
        description="Bearer tokens bound to registry names ({name: [tokens]}): accepted only on /events/<name> "
        "(and /events when name is webhook.registry). Tokens must have 16 visible ASCII characters or more.",
    )
    max_body_bytes: int = Field(
        1_048_576,
        gt=0,
        description="Largest notification body accepted (413 above); Kafka's producer and topic limits are "
        "sized from it (see docs/production.md).",
    )
    max_events: int = Field(
        1000, gt=0, description="Most events per POST; a larger envelope is kept whole as one dead letter."
    )
    max_json_depth: int = Field(
        64, ge=8, le=250, description="Deepest JSON nesting per POST; deeper bodies are kept as one dead letter."
    )
    registry: str = Field(
        "default",
        pattern=REGISTRY_NAME_PATTERN,
        description="Registry name stored with events posted to /events (letters, digits, . _ -; 63 at most).",
    )
    sink: Literal["kafka", "duckdb"] = Field(
        "kafka", description="Where accepted events go: Kafka, or straight into the DuckDB store."
    )


class ShipLogsSettings(Section):
    """``regaudit ship-logs``: follows an nginx access log."""

    path: Path = Field(Path("/var/log/nginx/registry.json"), description="Access log to follow.")
    state_path: Path | None = Field(
        None, description="File that keeps the read position (default: the log path plus .regaudit-pos)."
    )
    host: str = Field(default_factory=lambda: os.uname().nodename, description="Host name stored with each line.")
    poll_seconds: float = Field(0.25, gt=0, description="How often the log is checked for new lines.")
    batch_lines: int = Field(5000, gt=0, description="Lines produced or written per batch at most.")
    sink: Literal["kafka", "duckdb"] = Field(
        "kafka", description="Where lines go: Kafka, or straight into the DuckDB store."
    )


class ConsumerSettings(Section):
    """``regaudit consume``: Kafka to DuckDB."""

    group_id: str = Field("regaudit", description="Kafka consumer group.")
    batch_max_records: int = Field(25_000, gt=0, description="Records written per DuckDB transaction at most.")
    batch_max_seconds: float = Field(1.0, gt=0, description="Longest wait before a partial batch is written.")
    metrics_host: str = Field(
        "127.0.0.1", description="Address of the consumer's /metrics and /healthz (0.0.0.0: reachable from elsewhere)."
    )
    metrics_port: int = Field(
        9464, ge=0, le=65535, description="Port of the consumer's /metrics and /healthz; 0 turns them off."
    )


class Settings(BaseSettings):
    """All sections. Each runnable part takes the sections it needs."""

    # hide_input_in_errors: a validation error names the setting and what is wrong with it, never the value
    # given (pydantic would print a whole [[alerts.sinks]] table, secret and Slack URL included); it covers
    # every nested section.
    model_config = SettingsConfigDict(
        env_prefix="REGAUDIT_",
        env_nested_delimiter="__",
        extra="forbid",
        validate_default=True,
        hide_input_in_errors=True,
    )

    store: StoreSettings = Field(default_factory=StoreSettings)
    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    webhook: WebhookSettings = Field(default_factory=WebhookSettings)
    ship_logs: ShipLogsSettings = Field(default_factory=ShipLogsSettings)
    consumer: ConsumerSettings = Field(default_factory=ConsumerSettings)
    org: OrgSettings = Field(default_factory=OrgSettings)
    analytics: AnalyticsSettings = Field(default_factory=AnalyticsSettings)
    dashboard: DashboardSettings = Field(default_factory=DashboardSettings)
    reports: ReportsSettings = Field(default_factory=ReportsSettings)
    alerts: AlertsSettings = Field(default_factory=AlertsSettings)
    chain: ChainSettings = Field(default_factory=ChainSettings)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Flags arrive as init values; the TOML file arrives as init values too but below the environment
        # (see load_settings), so the order here is flags > env > file > defaults.
        return (init_settings, env_settings, file_secret_settings)


def _merge(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in top.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _environment_sections(environ: dict[str, str]) -> set[tuple[str, str]]:
    """(section, field) pairs that the environment sets, so the TOML file does not override them."""
    pairs = set()
    for name in environ:
        if name.startswith("REGAUDIT_") and "__" in name:
            section, _, field = name[len("REGAUDIT_") :].lower().partition("__")
            pairs.add((section, field))
    return pairs


def load_settings(
    config_file: Path | None = None,
    overrides: dict[str, dict[str, Any]] | None = None,
    environ: dict[str, str] | None = None,
) -> Settings:
    """Settings from flags (``overrides``), environment, TOML file and defaults, in that order."""
    environ = dict(os.environ if environ is None else environ)
    if config_file is None and environ.get("REGAUDIT_CONFIG"):
        config_file = Path(environ["REGAUDIT_CONFIG"])
    from_file: dict[str, Any] = {}
    if config_file is not None:
        with config_file.open("rb") as handle:
            from_file = tomllib.load(handle)
        shadowed = _environment_sections(environ)
        from_file = {
            section: {k: v for k, v in values.items() if (section, k) not in shadowed}
            if isinstance(values, dict)
            else values
            for section, values in from_file.items()
        }
    init = _merge(from_file, {s: {k: v for k, v in f.items() if v is not None} for s, f in (overrides or {}).items()})
    previous = dict(os.environ)
    try:
        os.environ.clear()
        os.environ.update(environ)
        return Settings(**init)
    finally:
        os.environ.clear()
        os.environ.update(previous)


def settings_table() -> str:
    """The markdown table of every setting, as README.md shows it."""
    lines = [
        "| setting | environment variable | default | description |",
        "|---|---|---|---|",
    ]
    for section_name, section_field in Settings.model_fields.items():
        section_cls = section_field.annotation
        assert isinstance(section_cls, type)
        assert issubclass(section_cls, BaseModel)
        for name, field in section_cls.model_fields.items():
            env = f"REGAUDIT_{section_name.upper()}__{name.upper()}"
            lines.append(
                f"| `{section_name}.{name}` | `{env}` | `{_default(section_name, name, field)}` | {field.description} |"
            )
            for item_name, item_field in _list_item_fields(field):  # e.g. each of alerts.sinks
                default = _default(section_name, item_name, item_field)
                lines.append(
                    f"| `{section_name}.{name}[].{item_name}` | (in `{env}`) | `{default}` | {item_field.description} |"
                )
    return "\n".join(lines) + "\n"


def _default(section_name: str, name: str, field: FieldInfo) -> str:
    if field.default_factory is not None:
        if section_name == "ship_logs" and name == "host":
            return "(computed)"
        return "{}" if field.default_factory is dict else "[]"
    if field.is_required():
        return "(required)"
    return "" if field.default is None else str(field.default)


def _list_item_fields(field: FieldInfo) -> list[tuple[str, FieldInfo]]:
    """The fields of a list-of-tables setting's items (``[[alerts.sinks]]``), documented row by row."""
    arguments = get_args(field.annotation)
    item = arguments[0] if get_origin(field.annotation) is list and arguments else None
    if isinstance(item, type) and issubclass(item, BaseModel):
        return list(item.model_fields.items())
    return []
