"""The generic JSON webhook: the alert document, POSTed and signed with HMAC-SHA256.

Each POST carries:

    Content-Type: application/json
    X-Regaudit-Alert-Id: <alert_id>            stable per alert: drop repeats you already took
    X-Regaudit-Timestamp: <unix seconds>       when this attempt was signed
    X-Regaudit-Signature: sha256=<hex>         HMAC-SHA256(secret, "<timestamp>." + raw body bytes)

A receiver verifies it like this (``verify`` below does exactly that):

1. read the raw body bytes before any JSON parsing;
2. refuse when the timestamp is more than 300 seconds away from its own clock (the replay window);
3. compute ``hmac.new(secret, timestamp.encode() + b"." + body, "sha256").hexdigest()`` and compare it with
   the header's hex in constant time (``hmac.compare_digest``);
4. within the replay window, refuse an alert id it has already taken (retries reuse it by design).

Every retry is signed anew with its own timestamp, so an alert delivered after a long outage still verifies.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable

from regaudit.analytics.alerts.alert import Alert
from regaudit.analytics.alerts.settings import SinkSettings
from regaudit.analytics.alerts.sinks.http_post import post

SIGNATURE_HEADER = "X-Regaudit-Signature"
TIMESTAMP_HEADER = "X-Regaudit-Timestamp"
ALERT_ID_HEADER = "X-Regaudit-Alert-Id"
REPLAY_WINDOW_SECONDS = 300


def signature(secret: bytes, timestamp: str, body: bytes) -> str:
    """The header value: ``sha256=`` and the hex HMAC over ``timestamp.body``."""
    return "sha256=" + hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def verify(
    secret: bytes,
    body: bytes,
    timestamp: str | None,
    signature_header: str | None,
    now: float,
    window: float = REPLAY_WINDOW_SECONDS,
) -> bool:
    """What a receiver checks: a fresh timestamp and a matching signature over exactly these bytes."""
    if not timestamp or not signature_header:
        return False
    try:
        moment = int(timestamp)
    except ValueError:
        return False
    if abs(now - moment) > window:
        return False
    return hmac.compare_digest(signature(secret, timestamp, body), signature_header)


class WebhookSink:
    def __init__(
        self, settings: SinkSettings, dashboard_url: str | None, clock: Callable[[], float] = time.time
    ) -> None:
        assert settings.url is not None  # checked by SinkSettings
        assert settings.secret is not None
        self.name = settings.name
        self.url = settings.url.get_secret_value()
        self.secret = settings.secret.get_secret_value().encode()
        self.timeout = settings.timeout_seconds
        self.dashboard_url = dashboard_url
        self.clock = clock

    def send(self, alert: Alert) -> None:
        body = json.dumps(alert.document(self.dashboard_url), sort_keys=True).encode()
        timestamp = str(int(self.clock()))
        headers = {
            "Content-Type": "application/json",
            ALERT_ID_HEADER: alert.alert_id,
            TIMESTAMP_HEADER: timestamp,
            SIGNATURE_HEADER: signature(self.secret, timestamp, body),
        }
        post(self.name, self.url, body, headers, self.timeout)

    def close(self) -> None:
        return None
