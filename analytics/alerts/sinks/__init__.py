"""Where alerts go. A sink renders an alert and hands it over, raising ``SinkUnavailable`` (retry later) or
``SinkRejected`` (never) when the other side does not take it; ``send`` returns only once it was taken
(HTTP 2xx, Kafka acks=all, syslog bytes written; UDP syslog and stdout cannot tell).

    webhook   JSON document, HMAC-SHA256 signed (``webhook.py`` documents the headers and the check)
    slack     Slack-compatible incoming webhook, one readable message (``slack.py``)
    kafka     the JSON document on a topic, default ``registry.alerts``, keyed by finding (``kafka.py``)
    syslog    RFC 5424 with structured data, over UDP, TCP or TLS (``syslog.py``)
    stdout    the JSON document as one line
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from regaudit.analytics.alerts.alert import Alert
from regaudit.analytics.alerts.settings import SinkSettings

if TYPE_CHECKING:
    from regaudit.settings import KafkaSettings


class Sink(Protocol):
    name: str

    def send(self, alert: Alert) -> None: ...

    def close(self) -> None: ...


def build_sink(settings: SinkSettings, dashboard_url: str | None, kafka: KafkaSettings) -> Sink:
    """The sink a ``[[alerts.sinks]]`` entry describes."""
    if settings.type == "webhook":
        from regaudit.analytics.alerts.sinks.webhook import WebhookSink

        return WebhookSink(settings, dashboard_url)
    if settings.type == "slack":
        from regaudit.analytics.alerts.sinks.slack import SlackSink

        return SlackSink(settings, dashboard_url)
    if settings.type == "kafka":
        from regaudit.analytics.alerts.sinks.kafka import KafkaAlertSink

        return KafkaAlertSink(settings, dashboard_url, kafka)
    if settings.type == "syslog":
        from regaudit.analytics.alerts.sinks.syslog import SyslogSink

        return SyslogSink(settings, dashboard_url)
    from regaudit.analytics.alerts.sinks.stdout import StdoutSink

    return StdoutSink(settings, dashboard_url)
