"""The alert: one finding at one moment, with who, what, where and why, as every sink renders it.

An alert is created once, in the transaction that found it (a streaming rule inside an ingest batch, or the
dispatcher picking up a new finding of ``regaudit analyze``), and stored as JSON in ``alert_outbox``. Sinks
render it (``document`` adds the dashboard links). ``alert_id`` is stable, so a receiver can drop the rare
repeat that a dispatcher crash between sending and logging causes.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Literal
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict, Field

from regaudit.analytics.detection import Severity

Origin = Literal["stream", "analyze", "test", "checkpoint"]


def alert_id(*parts: str) -> str:
    """sha256 over the parts, first 32 hex digits: the same inputs give the same alert."""
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]


class Alert(BaseModel):
    """One alert. ``summary`` is the finding's own sentence (the why); the event fields name the action that
    triggered it (the who, what and where), empty when the finding has no single action."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    alert_id: str = Field(description="Stable id; receivers may deduplicate on it.")
    finding_id: str = Field(description="The finding (detection, subject, window) this alert is about.")
    detection_id: str = Field(description="Detection that fired, e.g. push.human_to_ci_repository.")
    title: str = Field(description="The detection's title.")
    severity: Severity = Field(description="low, medium, high or critical.")
    origin: Origin = Field(
        description="stream (consumer), analyze (batch run), test (`regaudit alerts test`) or checkpoint"
        " (`regaudit checkpoint`: a signed chain checkpoint, or a chain found rewritten)."
    )
    subject: str = Field(description="What the finding is about, e.g. 'alice to team/app'.")
    summary: str = Field(description="Why: the finding's sentence, with the facts that made it fire.")
    created_at: datetime = Field(description="When regaudit created the alert.")
    event_at: datetime | None = Field(None, description="When the registry performed the triggering action.")
    received_at: datetime | None = Field(None, description="When regaudit received the triggering event.")
    action: str | None = Field(None, description="push, delete, pull...")
    actor: str | None = Field(None, description="Identity that acted (None: anonymous).")
    client_addr: str | None = Field(None, description="Client address of the action.")
    user_agent: str | None = Field(None, description="User agent of the action.")
    registry: str | None = Field(None, description="Registry name.")
    repository: str | None = Field(None, description="Repository acted on.")
    tag: str | None = Field(None, description="Tag acted on.")
    digest: str | None = Field(None, description="Manifest digest acted on.")
    about: dict[str, str | None] = Field(
        default_factory=dict,
        description="What the finding is about, from its columns: registry, repository, tag, digest, identity and"
        " client_addr (None where one does not apply; empty for alerts that are not about a finding).",
    )
    window_start_at: datetime | None = Field(None, description="Start of the finding's window.")
    window_end_at: datetime | None = Field(None, description="End of the finding's window.")
    evidence_count: int = Field(0, description="Rows of evidence the finding holds.")
    false_positives: tuple[str, ...] = Field((), description="Known benign causes, from the detection.")
    attack: tuple[str, ...] = Field((), description="MITRE ATT&CK techniques.")

    @property
    def rank(self) -> int:
        return self.severity.rank

    @property
    def identity(self) -> str | None:
        """Who the alert is about: the acting identity, else the finding's."""
        return self.actor or self.about.get("identity")

    @property
    def about_repository(self) -> str | None:
        """Which repository the alert is about: the one acted on, else the finding's."""
        return self.repository or self.about.get("repository")

    @property
    def target(self) -> str | None:
        """repository:tag@digest, as much of it as is known."""
        if not self.repository:
            return None
        text = self.repository + (f":{self.tag}" if self.tag else "")
        return text + (f"@{self.digest}" if self.digest and not self.tag else "")

    def links(self, dashboard_url: str | None) -> dict[str, str]:
        """Dashboard pages for this finding, its identity and its repository."""
        if not dashboard_url:
            return {}
        base = dashboard_url.rstrip("/")
        links = {"finding": f"{base}/findings?finding={quote(self.finding_id, safe='')}"}
        if self.identity:
            links["identity"] = f"{base}/identity?identity={quote(self.identity, safe='')}"
        if self.about_repository:
            links["repository"] = f"{base}/repository?repository={quote(self.about_repository, safe='')}"
        return links

    def document(self, dashboard_url: str | None) -> dict[str, object]:
        """The JSON document the webhook, Kafka and stdout sinks send."""
        return {**self.model_dump(mode="json"), "links": self.links(dashboard_url)}


def passes(alert: Alert, min_severity: Severity, allowed: frozenset[str] | None) -> bool:
    """Whether a sink with this threshold and these detections (None: all) takes the alert."""
    return alert.rank >= min_severity.rank and (allowed is None or alert.detection_id in allowed)


def sample_alert(now: datetime, operator: str) -> Alert:
    """The alert `regaudit alerts test` sends: every field filled, clearly marked as a test."""
    return Alert(
        alert_id=alert_id("test", now.isoformat(), operator),
        finding_id="test-" + alert_id("test-finding", now.isoformat()),
        detection_id="regaudit.test",
        title="Test alert from regaudit (nothing happened)",
        severity=Severity.HIGH,
        origin="test",
        subject="test-user to test/repository",
        summary=f"{operator} ran `regaudit alerts test` to check this sink; no registry activity is involved",
        created_at=now,
        event_at=now,
        received_at=now,
        action="push",
        actor="test-user",
        client_addr="192.0.2.10",
        user_agent="regaudit-alerts-test",
        registry="default",
        repository="test/repository",
        tag="v0.0.0-test",
        digest="sha256:" + "0" * 64,
        about={
            "registry": "default",
            "repository": "test/repository",
            "tag": "v0.0.0-test",
            "digest": "sha256:" + "0" * 64,
            "identity": "test-user",
            "client_addr": "192.0.2.10",
        },  # fmt: skip
        false_positives=("This is a test: expect exactly one of these per `regaudit alerts test` run.",),
        attack=(),
    )
