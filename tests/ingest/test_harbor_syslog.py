"""Harbor's audit log forwarding: lines in Harbor's format sent over real TCP and UDP sockets into the store.

The lines are tests/fixtures/harbor/audit/audit-forward.webhook-events.log (PROVENANCE.md): Go's log/syslog header
and Harbor's TextFormatter line of auditext's Infof call, for the four events of audit-log-exts.webhook-events.json.
"""

from __future__ import annotations

import socket
import threading
from pathlib import Path

from regaudit.ingest import store
from regaudit.ingest.receive.syslog import SyslogListener
from regaudit.ingest.sinks.memory import MemorySink
from regaudit.ingest.sinks.store import StoreRecordSink
from regaudit.ingest.sources.harbor.syslog import SYSLOG_TYPE, go_time, parse_line

FIXTURES = Path(__file__).parents[1] / "fixtures" / "harbor" / "audit"
LINES = (FIXTURES / "audit-forward.webhook-events.log").read_bytes().splitlines(keepends=True)
ALPINE = "sha256:954b378c375d852eb3c63ab88978f640b4348b01c1b3456a024a81536dafbbf4"


def listening(sink, **options):
    listener = SyslogListener(sink, host="127.0.0.1", port=0, protocols=["tcp", "udp"], instance="harbor-prod",
                              registry_kind="harbor", content_type=SYSLOG_TYPE, **options)  # fmt: skip
    thread = threading.Thread(target=listener.run, kwargs={"max_idle_seconds": 1.0})
    thread.start()
    return listener, thread


def send_tcp(port: int, data: bytes) -> None:
    """As Harbor does: one new connection per record."""
    with socket.create_connection(("127.0.0.1", port)) as connection:
        connection.sendall(data)


def test_lines_over_tcp_one_connection_each_and_over_udp_are_stored_once_as_harbor_events(tmp_path):
    db = tmp_path / "store.duckdb"
    sink = StoreRecordSink(db, 10.0, "harbor-prod", "listen-syslog")
    listener, thread = listening(sink)
    for line in LINES[:3]:
        send_tcp(listener.tcp_port, line)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        udp.sendto(LINES[3].rstrip(b"\n"), ("127.0.0.1", listener.udp_port))
        udp.sendto(LINES[3].rstrip(b"\n"), ("127.0.0.1", listener.udp_port))  # the same record twice: stored once
    thread.join(timeout=20)
    sink.close()
    assert listener.delivered == 5
    with store.reader(db) as con:
        events = con.execute(
            "SELECT registry, registry_kind, action, actor, repository, digest, http_method FROM registry_events "
            "ORDER BY event_at"
        ).fetchall()
    robot = "robot$harbor+wHSYCuGD-Trivy-8e2e7505-d1e6-11ed-9e71-0242ac130009"
    busybox = "sha256:dde8e930c7b6a490f728e66292bc9bce42efc9bbb5278bae40e4f30f6e00fe8c"
    deleted = "sha256:2bb501e6173d9d006e56de5bce2720eb06396803300fe1687b58a7ff32bf4c14"
    assert events == [
        ("harbor-prod", "harbor", "pull", "admin", "library/busybox", busybox, "GET"),
        ("harbor-prod", "harbor", "push", "harbor-jobservice", "harbor/alpine", ALPINE, None),
        ("harbor-prod", "harbor", "pull", robot, "harbor/alpine", ALPINE, "GET"),
        ("harbor-prod", "harbor", "delete", "harbor-jobservice", "harbor/alpine", deleted, None),
    ]


def test_octet_counted_frames_and_a_hostile_stream_are_read_and_the_listener_goes_on():
    sink = MemorySink()
    listener, thread = listening(sink, max_line_bytes=2048)
    framed = b"".join(b"%d %s" % (len(line.rstrip(b"\n")), line.rstrip(b"\n")) for line in LINES[:2])
    send_tcp(listener.tcp_port, framed)  # RFC 6587 octet counting, as a relay sends
    send_tcp(listener.tcp_port, b"\xff\xfe not syslog\n" + b"x" * 5000 + b"\n999999 short")
    send_tcp(listener.tcp_port, LINES[2])  # still listening
    thread.join(timeout=20)
    records = [record for _, record in sink.delivered]  # connections are served in parallel: any order
    framed_values = {line.rstrip(b"\n") for line in LINES[:2]}
    assert framed_values <= {record.value for record in records}
    others = [record for record in records if record.value not in framed_values]
    kinds = sorted((record.kind, len(record.value)) for record in others)
    assert kinds == sorted([("event", 13), ("deadletter", 2048), ("event", 5), ("event", len(LINES[2]) - 1)])
    reasons = {record.value[:5]: parse_line(record.value)[1] or "" for record in others}
    assert reasons[b"\xff\xfe no"].startswith("invalid Harbor audit line: UnicodeDecodeError")
    assert reasons[b"short"].startswith("not a Harbor audit line")
    assert reasons[LINES[2][:5]] == ""


def test_go_time_text_with_a_monotonic_reading_and_an_offset_is_utc():
    assert go_time("2025-05-01 14:05:10.123456789 +0200 CEST m=+31.5").isoformat() == "2025-05-01T12:05:10.123456+00:00"
    assert go_time("not a time") is None


def test_a_line_a_relay_reframed_as_rfc_5424_or_3164_reads_the_same():
    line = LINES[2].rstrip(b"\n")
    message = line[line.index(b"audit[1]: ") + len(b"audit[1]: ") :]
    (direct,), _ = parse_line(line)
    for header in (b"<6>1 2023-04-03T06:12:52Z harbor-core audit 1 - - ", b"<6>Apr  3 06:12:52 harbor-core audit[1]: "):
        (relayed,), reason = parse_line(header + message)
        assert reason is None
        assert relayed == direct  # the same event id: the Harbor message, not the header, identifies the row
