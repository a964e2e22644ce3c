"""``[chain]``: what ``regaudit verify`` trusts and where ``regaudit checkpoint`` exports signed chain heads.

Whoever can write the store can rewrite it, chain included, so everything here points outside the store: the
public key that purge entries and checkpoints must verify with, and the destinations of the checkpoint series
(an append-only file on another volume, a Kafka topic). The key that signs both is ``reports.signing_key_path``.
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
