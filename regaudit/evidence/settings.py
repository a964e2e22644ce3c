"""``[chain]`` and ``[retention]``: the settings of tamper evidence.

``[chain]`` is what ``regaudit verify`` trusts and where ``regaudit checkpoint`` exports signed chain heads.

Whoever can write the store can rewrite it, chain included, so everything here points outside the store: the
public key that purge entries and checkpoints must verify with, and the destinations of the checkpoint series
(an append-only file on another volume, a Kafka topic). The key that signs both is ``reports.signing_key_path``.

``[retention]`` is the least each table keeps: ``regaudit purge --older-than 30d`` never cuts a table below its
retention, 0 keeps a table for ever, and ``regaudit verify`` refuses a signed purge that cut inside it.
``tag_history`` is always kept.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field


class ChainSettings(BaseModel):
    """``regaudit verify`` and ``regaudit checkpoint``."""

    model_config = ConfigDict(extra="forbid", validate_default=True)

    public_key_path: Path | None = Field(
        None,
        description="PEM public key that purge entries and chain checkpoints must verify with (the `.pub.pem` of"
        " `reports.signing_key_path`, copied off the store's host); without it, the public half of"
        " `reports.signing_key_path`.",
    )
    store_id: str | None = Field(
        None, description="Name of this store in its checkpoints (default: the store file's name)."
    )
    checkpoints_path: Path | None = Field(
        None,
        description="Append-only JSON-lines file of signed chain checkpoints, on another volume than the store;"
        " `regaudit verify` checks the store against it.",
    )
    checkpoints_topic: str | None = Field(
        None, description="Kafka topic that also receives every checkpoint (brokers and security from [kafka])."
    )
    checkpoint_sinks: list[str] = Field(
        default_factory=list,
        description="Names of [[alerts.sinks]] sent every checkpoint (a low alert whose summary is the signed line)"
        " and, as a critical alert, every refusal to sign a rewritten chain.",
    )


class RetentionSettings(BaseModel):
    """``regaudit purge`` and ``regaudit verify``: days each table keeps at least."""

    model_config = ConfigDict(extra="forbid", validate_default=True)

    registry_events_days: int = Field(400, ge=0, description="Days `registry_events` are kept at least (0: for ever).")
    access_log_days: int = Field(180, ge=0, description="Days `access_log` lines are kept at least (0: for ever).")
    dead_letters_days: int = Field(90, ge=0, description="Days `dead_letters` are kept at least (0: for ever).")
    image_activity_days: int = Field(
        400, ge=0, description="Days `image_activity` rows are kept at least (0: for ever)."
    )

    def days(self) -> dict[str, int]:
        """Retention days by table name."""
        return {
            "registry_events": self.registry_events_days,
            "access_log": self.access_log_days,
            "dead_letters": self.dead_letters_days,
            "image_activity": self.image_activity_days,
        }
