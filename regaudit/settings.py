"""Settings for every runnable part of regaudit.

Precedence, highest first: command-line flags, ``REGAUDIT_*`` environment variables (sections joined with
``__``, e.g. ``REGAUDIT_KAFKA__BOOTSTRAP_SERVERS``), the TOML file named by ``--config`` or ``REGAUDIT_CONFIG``
(one table per section, e.g. ``[kafka]``), then the defaults below. Every field is typed, defaulted and described;
``regaudit settings`` prints the table that README.md carries, and a test keeps the two in sync.

Settings are loaded once at the entry point and passed down. Nothing deeper reads ``os.environ``, and nothing
here reads or writes it by hand: pydantic-settings' own sources (init values for the flags, its environment source,
its TOML source) are merged by pydantic-settings field by field, so a variable overrides one key of a file's table.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from regaudit.analytics.alerts.settings import AlertsSettings
from regaudit.analytics.reports.settings import ReportsSettings
from regaudit.analytics.settings import AnalyticsSettings, OrgSettings
from regaudit.dashboard.settings import DashboardSettings
from regaudit.evidence.settings import ChainSettings, RetentionSettings
from regaudit.ingest.sources.acr.settings import AcrSettings
from regaudit.ingest.sources.dockerhub.settings import DockerHubSettings
from regaudit.ingest.sources.ecr.settings import EcrSettings
from regaudit.ingest.sources.gar.settings import GarSettings
from regaudit.ingest.sources.ghcr.settings import GhcrSettings
from regaudit.ingest.sources.harbor.settings import HarborAuditSettings, HarborSyslogSettings
from regaudit.ingest.sources.quay.settings import QuaySettings


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
    workers: int = Field(
        1,
        ge=1,
        le=64,
        description="Processes answering on the webhook's port, each with its own Kafka producer (sink kafka "
        "only): one process uses one core, so up to one per core answers more POSTs at once; one registry's serial "
        "queue is answered by one of them either way.",
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
    hold_seconds: float = Field(
        5.0,
        ge=0,
        description="While a backlog is worked off (full batches), how long the store file may stay open across"
        " batches; given back after a partial batch and when another process waits for it. 0: after every batch.",
    )
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
    retention: RetentionSettings = Field(default_factory=RetentionSettings)
    ecr: EcrSettings = Field(default_factory=EcrSettings)
    quay: QuaySettings = Field(default_factory=QuaySettings)
    harbor_audit: HarborAuditSettings = Field(default_factory=HarborAuditSettings)
    harbor_syslog: HarborSyslogSettings = Field(default_factory=HarborSyslogSettings)
    acr: AcrSettings = Field(default_factory=AcrSettings)
    gar: GarSettings = Field(default_factory=GarSettings)
    dockerhub: DockerHubSettings = Field(default_factory=DockerHubSettings)
    ghcr: GhcrSettings = Field(default_factory=GhcrSettings)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Flags (init values) > environment > TOML file > defaults; no .env file, no secrets directory. The
        environment and the file are load_settings' (a plain ``Settings()``: the process's environment, no file)."""
        environment, config_file = _loading.get() or (env_settings, None)
        return (init_settings, environment, TomlConfigSettingsSource(settings_cls, toml_file=config_file))


class GivenEnvSettingsSource(EnvSettingsSource):
    """pydantic-settings' environment source over a given mapping instead of the process's environment: tests and
    the dashboard's runtime hand their own (``load_settings(environ=...)``)."""

    def __init__(self, settings_cls: type[BaseSettings], environ: Mapping[str, str]) -> None:
        self.environ = environ  # before the base's __init__, which loads the variables
        super().__init__(settings_cls)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        # the hook pydantic-settings' own sources (.env files, secret managers) override to read from elsewhere
        return {self._apply_case_sensitive(name): value for name, value in self.environ.items()}


#: the environment source and TOML file of the load_settings call under way. pydantic-settings calls
#: settings_customise_sources, a class method, with nothing of the call (``Settings(_build_sources=...)`` would
#: hand sources over, but it is internal to pydantic-settings 2.13+ and pyproject allows 2.4); a context variable
#: keeps loads in two threads apart.
_loading: ContextVar[tuple[EnvSettingsSource, Path | None] | None] = ContextVar("regaudit_settings", default=None)


def load_settings(
    config_file: Path | None = None,
    overrides: dict[str, dict[str, Any]] | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Settings from flags (``overrides``, None where a flag was not given), the environment (``environ``, default
    the process's), the TOML file (``config_file``, default ``$REGAUDIT_CONFIG``) and defaults, in that order."""
    environment = EnvSettingsSource(Settings) if environ is None else GivenEnvSettingsSource(Settings, environ)
    if config_file is None:
        config_file = _named_config(environment)
    if config_file is not None:
        # pydantic-settings reads a missing file as an empty one; a file the user named must exist and be readable
        config_file.open("rb").close()
    flags: dict[str, Any] = {
        name: {k: v for k, v in fields.items() if v is not None} for name, fields in (overrides or {}).items()
    }
    token = _loading.set((environment, config_file))
    try:
        return Settings(**flags)
    finally:
        _loading.reset(token)


def _named_config(environment: EnvSettingsSource) -> Path | None:
    """The TOML file ``$REGAUDIT_CONFIG`` names (unset or empty: none)."""
    name = f"{environment.env_prefix}CONFIG"
    named = environment.env_vars.get(name if environment.case_sensitive else name.lower())
    return Path(named) if named else None


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
            setting, env = f"{section_name}.{name}", f"REGAUDIT_{section_name.upper()}__{name.upper()}"
            lines.append(f"| `{setting}` | `{env}` | `{_default(field)}` | {field.description} |")
            for key, item in _list_item_fields(field):  # e.g. each of alerts.sinks
                lines.append(f"| `{setting}[].{key}` | (in `{env}`) | `{_default(item)}` | {item.description} |")
    return "\n".join(lines) + "\n"


def _default(field: FieldInfo) -> str:
    factory = field.default_factory
    if factory is not None:
        # an empty list or table, or a value computed where regaudit runs (ship_logs.host: the machine's name),
        # which a table shared by every machine cannot show
        return "{}" if factory is dict else "[]" if factory is list else "(computed)"
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
