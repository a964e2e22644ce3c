"""Each sink against a real local receiver: signed webhook, Slack text, RFC 5424 over UDP and TCP, Kafka, stdout."""

from __future__ import annotations

import io
import json
import time
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from regaudit.analytics.alerts.alert import Alert, sample_alert
from regaudit.analytics.alerts.errors import SinkRejected, SinkUnavailable
from regaudit.analytics.alerts.settings import AlertsSettings, SinkSettings
from regaudit.analytics.alerts.sinks.kafka import KafkaAlertSink
from regaudit.analytics.alerts.sinks.slack import SlackSink, message_text
from regaudit.analytics.alerts.sinks.stdout import StdoutSink
from regaudit.analytics.alerts.sinks.syslog import SyslogSink, format_message, frame, sd_escape
from regaudit.analytics.alerts.sinks.webhook import WebhookSink, signature, verify
from regaudit.analytics.detection import Severity
from regaudit.settings import KafkaSettings
from tests.analytics.alerts.receivers import HttpReceiver, SyslogListener, kafka_alerts
from tests.analytics.alerts.rfc5424 import parse_rfc5424
from tests.infra.credentials import write_self_signed_certificate
from tests.ingest.processes import free_port

NOW = datetime(2026, 5, 10, 14, 3, 7, 412000, tzinfo=UTC)
SECRET = "s3cret-shared-with-the-receiver"
DASHBOARD = "https://regaudit.example.com"


def human_push() -> Alert:
    return Alert(
        alert_id="6f1e2d3c4b5a69788796a5b4c3d2e1f0",
        finding_id="0a1b2c3d4e5f60718293a4b5c6d7e8f9",
        detection_id="push.human_to_ci_repository",
        title="Human push to a CI-only repository",
        severity=Severity.HIGH,
        origin="stream",
        subject="alice to team/app",
        summary="alice pushed to team/app, which only CI pushed to before (3 pushes since 2026-05-10)",
        created_at=NOW,
        event_at=datetime(2026, 5, 10, 14, 3, 7, 101000, tzinfo=UTC),
        received_at=datetime(2026, 5, 10, 14, 3, 7, 180000, tzinfo=UTC),
        action="push",
        actor="alice",
        client_addr="192.168.1.20",
        user_agent="skopeo/1.9.2",
        registry="default",
        repository="team/app",
        tag="hotfix",
        digest="sha256:3f1c9d2e4b5a" + "0" * 52,
        evidence_count=1,
        false_positives=("Hotfixes pushed by hand during an incident.", "Robots missing from org.ci_identities."),
        attack=("T1525", "T1078"),
    )


def sink(**values) -> SinkSettings:
    return SinkSettings.model_validate({"name": "s", "type": "stdout", **values})


# -- webhook -------------------------------------------------------------------------------------------------------
def test_webhook_posts_the_document_with_a_signature_the_receiver_verifies():
    with HttpReceiver(SECRET.encode()) as receiver:
        WebhookSink(sink(type="webhook", url=receiver.url, secret=SECRET), DASHBOARD).send(human_push())
        (arrival,) = receiver.wait_for(1, 5)
    assert arrival.body["alert_id"] == human_push().alert_id
    assert arrival.headers["X-Regaudit-Alert-Id"] == human_push().alert_id
    assert arrival.body["links"]["identity"] == f"{DASHBOARD}/identity?identity=alice"
    assert arrival.body["links"]["repository"] == f"{DASHBOARD}/repository?repository=team%2Fapp"


def test_a_receiver_with_another_secret_refuses_and_the_sink_reports_it_rejected():
    with HttpReceiver(b"another secret") as receiver:
        with pytest.raises(SinkRejected, match="HTTP 401"):
            WebhookSink(sink(type="webhook", url=receiver.url, secret=SECRET), None).send(human_push())
        assert receiver.refused == 1
        assert receiver.arrivals == []


def test_signature_verification_refuses_stale_timestamps_and_altered_bodies():
    body = b'{"alert_id": "a"}'
    stamp = str(int(time.time()))
    header = signature(SECRET.encode(), stamp, body)
    assert verify(SECRET.encode(), body, stamp, header, now=time.time())
    assert not verify(SECRET.encode(), body + b" ", stamp, header, now=time.time())
    assert not verify(SECRET.encode(), body, stamp, header, now=time.time() + 301)
    assert not verify(b"wrong", body, stamp, header, now=time.time())
    assert not verify(SECRET.encode(), body, None, header, now=time.time())


def test_a_503_with_retry_after_and_a_refused_connection_are_transient():
    with HttpReceiver() as receiver:
        receiver.fail_with = 503
        with pytest.raises(SinkUnavailable, match="HTTP 503") as caught:
            SlackSink(sink(type="slack", url=receiver.url), None).send(human_push())
        assert caught.value.retry_after == 7.0
    closed = f"http://127.0.0.1:{free_port()}/alerts"
    with pytest.raises(SinkUnavailable, match="ConnectionRefusedError"):
        SlackSink(sink(type="slack", url=closed, timeout_seconds=1), None).send(human_push())


# -- slack ---------------------------------------------------------------------------------------------------------
def test_slack_message_says_who_what_where_why_and_links_to_the_dashboard():
    assert message_text(human_push(), DASHBOARD) == "\n".join(
        [
            ":red_circle: *HIGH* Human push to a CI-only repository",
            "*Who:* alice from 192.168.1.20 (skopeo/1.9.2)",
            "*What:* push of team/app:hotfix (sha256:3f1c9d2e4b5a)",
            "*Where:* registry default, repository team/app, at 2026-05-10 14:03:07 UTC",
            "*Why:* alice pushed to team/app, which only CI pushed to before (3 pushes since 2026-05-10)",
            "*Benign if:* Hotfixes pushed by hand during an incident. Robots missing from org.ci_identities.",
            f"*If unexpected:* revoke alice's credential and delete `team/app@{human_push().digest}`",
            "<https://regaudit.example.com/findings?finding=0a1b2c3d4e5f60718293a4b5c6d7e8f9|Open the finding> | "
            "<https://regaudit.example.com/identity?identity=alice|alice's activity> | "
            "<https://regaudit.example.com/repository?repository=team%2Fapp|team/app>",
            "push.human_to_ci_repository | ATT&amp;CK T1525, T1078 | alert 6f1e2d3c4b5a",
        ]
    )


def test_slack_message_escapes_what_the_registry_reported():
    hostile = human_push().model_copy(update={"actor": "<!channel> & co", "tag": "<http://evil|click>"})
    text = message_text(hostile, None)
    assert "&lt;!channel&gt; &amp; co" in text
    assert "&lt;http://evil|click&gt;" in text
    assert "<!channel>" not in text
    assert "<http://evil" not in text


def test_slack_sink_posts_the_text_to_the_incoming_webhook():
    with HttpReceiver() as receiver:
        SlackSink(sink(type="slack", url=receiver.url), DASHBOARD).send(human_push())
        (arrival,) = receiver.wait_for(1, 5)
    assert arrival.body["text"] == message_text(human_push(), DASHBOARD)


# -- syslog --------------------------------------------------------------------------------------------------------
def test_rfc5424_message_has_the_header_structured_data_and_a_readable_text():
    line = format_message(human_push(), "auth", "audit-host", "regaudit", f"{DASHBOARD}/findings?finding=x")
    message = parse_rfc5424(line)
    assert (message.facility, message.severity) == (4, 3)  # auth, error for high
    assert (message.hostname, message.app_name, message.msgid) == (
        "audit-host",
        "regaudit",
        "push.human_to_ci_repository",
    )
    assert message.timestamp == NOW
    params = message.structured_data["regaudit@32473"]
    assert params["actor"] == "alice"
    assert params["repository"] == "team/app"
    assert params["tag"] == "hotfix"
    assert params["event_at"] == "2026-05-10T14:03:07.101000Z"
    assert params["attack"] == "T1525,T1078"
    assert message.msg == (
        "HIGH Human push to a CI-only repository: alice pushed to team/app, which only CI pushed to before "
        "(3 pushes since 2026-05-10)"
    )


@pytest.mark.parametrize(
    ("value", "escaped"),
    [('say "hi"', 'say \\"hi\\"'), ("back\\slash", "back\\\\slash"), ("a]b", "a\\]b"), ("ü [ok]", "ü [ok\\]")],
)
def test_sd_param_values_escape_quote_backslash_and_closing_bracket(value, escaped):
    assert sd_escape(value) == escaped
    hostile = human_push().model_copy(update={"actor": value, "tag": value})
    params = parse_rfc5424(format_message(hostile, "auth", "h", "regaudit", None)).structured_data["regaudit@32473"]
    assert params["actor"] == value
    assert params["tag"] == value


def test_header_fields_hold_printable_ascii_only_and_udp_is_cut_to_2048_octets():
    odd = human_push().model_copy(update={"summary": "x" * 5000})
    line = format_message(odd, "local3", "host with spaces", "app\tname", None)
    message = parse_rfc5424(line)
    assert (message.hostname, message.app_name, message.facility) == ("host_with_spaces", "app_name", 19)
    assert len(frame(line, "udp")) == 2048
    assert frame(line, "tcp").startswith(f"{len(line.encode())} ".encode())


@pytest.mark.parametrize("protocol", ["udp", "tcp"])
def test_syslog_sink_reaches_a_listener_that_parses_rfc5424(protocol):
    with SyslogListener(protocol) as listener:
        settings = sink(type="syslog", host="127.0.0.1", port=listener.port, protocol=protocol)
        syslog = SyslogSink(settings, DASHBOARD, hostname="audit-host")
        try:
            syslog.send(human_push())
            syslog.send(sample_alert(NOW, "ops"))
            arrivals = listener.wait_for(2, 5)
        finally:
            syslog.close()
    assert listener.errors == []
    assert [a.body["detection"] for a in arrivals] == ["push.human_to_ci_repository", "regaudit.test"]
    assert arrivals[0].body["link"] == f"{DASHBOARD}/findings?finding={human_push().finding_id}"


def test_tls_syslog_reaches_a_collector_that_trusts_the_same_ca(tmp_path):
    certificate = write_self_signed_certificate(tmp_path / "tls")
    with SyslogListener("tls", (certificate.cert_path, certificate.key_path)) as listener:
        settings = sink(type="syslog", host="127.0.0.1", port=listener.port, protocol="tls",
                        tls_ca_file=str(certificate.cert_path))  # fmt: skip
        syslog = SyslogSink(settings, None, hostname="audit-host")
        try:
            syslog.send(human_push())
            (arrival,) = listener.wait_for(1, 5)
        finally:
            syslog.close()
    assert arrival.body["actor"] == "alice"
    untrusted = SyslogSink(sink(type="syslog", host="127.0.0.1", port=listener.port, protocol="tls"), None)
    with SyslogListener("tls", (certificate.cert_path, certificate.key_path)) as listener:
        untrusted.address = ("127.0.0.1", listener.port)
        with pytest.raises(SinkUnavailable, match="CERTIFICATE_VERIFY_FAILED"):
            untrusted.send(human_push())


def test_tcp_syslog_reconnects_after_the_collector_restarts_and_reports_it_down_meanwhile():
    listener = SyslogListener("tcp").start()
    syslog = SyslogSink(sink(type="syslog", host="127.0.0.1", port=listener.port, protocol="tcp", timeout_seconds=1),
                        None)  # fmt: skip
    try:
        syslog.send(human_push())
        listener.wait_for(1, 5)
        listener.stop()
        time.sleep(0.2)
        with pytest.raises(SinkUnavailable, match="syslog tcp"):
            syslog.send(human_push())
        listener.start()
        syslog.send(sample_alert(NOW, "ops"))
        assert [a.body["detection"] for a in listener.wait_for(2, 5)][-1] == "regaudit.test"
    finally:
        syslog.close()
        listener.stop()


# -- kafka and stdout ----------------------------------------------------------------------------------------------
@pytest.mark.kafka
def test_kafka_sink_writes_the_document_keyed_by_finding(kafka_broker, kafka_topics):
    kafka = KafkaSettings(bootstrap_servers=kafka_broker.bootstrap)
    producer = KafkaAlertSink(sink(type="kafka", topic=kafka_topics.alerts), DASHBOARD, kafka)
    try:
        producer.send(human_push())
    finally:
        producer.close()
    ((arrival, key),) = kafka_alerts(kafka_broker.bootstrap, kafka_topics.alerts)
    assert key == human_push().finding_id.encode()
    assert arrival.headers["regaudit-alert-id"] == human_push().alert_id
    assert arrival.body["summary"] == human_push().summary
    assert arrival.body["links"]["finding"].startswith(DASHBOARD)


def test_kafka_sink_whose_broker_is_away_is_unavailable_within_its_own_timeout():
    """kafka-python waits 30 s for a first broker unless told: the dispatcher's other sinks would wait with it."""
    kafka = KafkaSettings(bootstrap_servers=f"127.0.0.1:{free_port()}")  # nothing listens there
    producer = KafkaAlertSink(sink(type="kafka", topic="alerts", timeout_seconds=1), DASHBOARD, kafka)
    started = time.monotonic()
    with pytest.raises(SinkUnavailable, match="Kafka"):
        producer.send(human_push())
    assert time.monotonic() - started < 15  # 1 s asked; kafka-python's own default is 30 s


def test_stdout_sink_writes_one_json_line_per_alert():
    stream = io.StringIO()
    StdoutSink(sink(), None, stream).send(human_push())
    (line,) = stream.getvalue().splitlines()
    assert json.loads(line)["alert_id"] == human_push().alert_id


# -- settings ------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"type": "webhook", "url": "https://x"}, "needs a secret"),
        ({"type": "slack"}, "needs a url"),
        ({"type": "slack", "url": ""}, "needs a url"),
        ({"type": "slack", "url": "hooks.slack.com/services/T0/B0/x"}, "an http:// or https:// URL"),
        ({"type": "slack", "url": "https://hooks.slack.com/services/T0/B0 /x"}, "an http:// or https:// URL"),
        ({"type": "webhook", "url": "ftp://siem/x", "secret": "k"}, "an http:// or https:// URL"),
        ({"type": "syslog"}, "needs a host"),
        ({"type": "syslog", "host": "h", "facility": "local9"}, "unknown syslog facility"),
        ({"type": "pager"}, "type"),
    ],
)
def test_incomplete_sinks_are_refused_at_start(values, message):
    with pytest.raises(ValidationError, match=message):
        sink(**values)


def test_sink_names_are_unique_and_syslog_ports_default_by_protocol():
    with pytest.raises(ValidationError, match="unique"):
        AlertsSettings.model_validate({"sinks": [{"name": "a", "type": "stdout"}, {"name": "a", "type": "stdout"}]})
    assert sink(type="syslog", host="h").syslog_port == 514
    assert sink(type="syslog", host="h", protocol="tls").syslog_port == 6514
