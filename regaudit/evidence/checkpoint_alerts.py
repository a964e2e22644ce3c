"""Checkpoints to the alert sinks: each signed checkpoint as a low alert, a rewritten chain as a critical one.

``regaudit checkpoint`` sends to the sinks named in ``chain.checkpoint_sinks`` (entries of ``[[alerts.sinks]]``):
a SIEM behind the syslog or webhook sink then keeps one more copy of the series (the alert's ``summary`` is the
checkpoint's signed line, verbatim), and when the chain no longer holds the head signed last, whoever watches
those sinks learns it at once instead of at the next ``regaudit verify``. They are sent directly, once, past the
sinks' severity and detection filters and the outbox: the checkpoint writer only reads the store, and a store
someone rewrote is the last place to queue that news. A sink that does not take one is logged, never fatal: the
file and the topic are the series of record.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from regaudit.analytics.alerts.alert import Alert, alert_id
from regaudit.analytics.alerts.errors import SinkRejected, SinkUnavailable
from regaudit.analytics.alerts.sinks import build_sink
from regaudit.analytics.detection import Severity
from regaudit.errors import TerminalError
from regaudit.evidence.checkpoints import canonical
from regaudit.settings import Settings

log = logging.getLogger(__name__)


def check_sinks(settings: Settings) -> None:
    """Terminal error when ``chain.checkpoint_sinks`` names a sink that ``[[alerts.sinks]]`` lacks."""
    known = {sink.name for sink in settings.alerts.sinks}
    unknown = [name for name in settings.chain.checkpoint_sinks if name not in known]
    if unknown:
        raise TerminalError(f"chain.checkpoint_sinks: no sink named {', '.join(unknown)} in [[alerts.sinks]]")


def checkpoint_alert(document: Mapping[str, Any]) -> Alert:
    """A checkpoint as a low alert; its summary is the signed line, so a receiver keeps a verifiable copy."""
    store, sequence = str(document["store_id"]), str(document["sequence"])
    chain = document.get("chain") or {}
    return Alert(
        alert_id=alert_id("chain.checkpoint", store, sequence),
        finding_id=f"checkpoint:{store}",
        detection_id="chain.checkpoint",
        title=f"Chain checkpoint {sequence} of store {store} (entry {chain.get('seq', 0)})",
        severity=Severity.LOW,
        origin="checkpoint",
        subject=store,
        summary=canonical(document),
        created_at=datetime.fromisoformat(str(document["created_at"])),
    )


def rewritten_alert(store: str, reason: str, now: datetime) -> Alert:
    """The chain lost the head the last checkpoint signed: someone rewrote the store."""
    return Alert(
        alert_id=alert_id("chain.rewritten", store, now.astimezone(UTC).isoformat()),
        finding_id=f"chain-rewritten:{store}",
        detection_id="chain.rewritten",
        title=f"The hash chain of audit store {store} was rewritten",
        severity=Severity.CRITICAL,
        origin="checkpoint",
        subject=store,
        summary=f"{reason}. Run `regaudit verify --checkpoints` to find the first checkpoint it no longer matches;"
        " keep the store file and the checkpoint series as evidence.",
        created_at=now,
        attack=("T1565.001", "T1070"),
    )


def send(settings: Settings, alert: Alert) -> int:
    """Send to every sink of ``chain.checkpoint_sinks``; returns how many took it."""
    taken = 0
    for name in settings.chain.checkpoint_sinks:
        sink = build_sink(settings.alerts.sink(name), None, settings.kafka)
        try:
            sink.send(alert)
            taken += 1
        except (SinkUnavailable, SinkRejected) as error:
            log.warning("sink=%s did not take %s: %s", name, alert.detection_id, error)
        finally:
            sink.close()
    return taken
