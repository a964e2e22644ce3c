"""Webhook as a Distribution registry calls it: one POST at a time, one event each, the next only after the answer
(../shared/FORMATS.md section 1.6), so one connection's answer time caps the events a registry process can report.

Load is wrk (C) on one connection, then on 32, posting the 70 real notification envelopes of the captures in
tests/fixtures/samples in turn. The floor, measured on the same broker in the same run: kafka-python alone
producing the same records (value, key and headers as the webhook sends them) one at a time, each send awaited
with acks=all (``send().get()``), before and after the webhook runs; the ratio uses their mean.

    .venv/bin/python bench/webhook_serial.py --seconds 20
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, kafka_broker, record, regaudit_env  # noqa: E402
from webhook import free_port, serve, wait_listening  # noqa: E402

SAMPLES = ROOT / "tests" / "fixtures" / "samples"
TOKEN = "bench-token-0123456789"  # noqa: S105 - a loopback benchmark's throwaway token (16 characters at least)
TOPICS = ["serial.events", "serial.deadletters"]
#: the figures before this benchmark's work (commit 66f0121): bench/webhook.py at 32 connections, see README
BEFORE_32_PER_SECOND = 1121
WRK_SCRIPT = """
local bodies = {{}}
for line in io.lines("{bodies}") do bodies[#bodies + 1] = line end
local next_body = 0
local headers = {{["Content-Type"] = "application/vnd.docker.distribution.events.v1+json",
                 ["Authorization"] = "Bearer {token}"}}
request = function()
  next_body = next_body % #bodies + 1
  return wrk.format("POST", "/events", headers, bodies[next_body])
end
done = function(summary, latency, requests)
  io.write(string.format("RESULT %d %d %d %.1f %.1f %.1f\\n", summary.requests,
    summary.errors.status + summary.errors.connect + summary.errors.read
      + summary.errors.write + summary.errors.timeout,
    summary.duration, latency:percentile(50), latency:percentile(99), latency:percentile(99.9)))
end
"""


def envelopes() -> list[bytes]:
    """Every POST body of the captured Distribution 2.8.2 notifications (one event each, as the registry sends)."""
    bodies = []
    for capture in sorted(SAMPLES.glob("distribution-*.events.jsonl")):
        for line in capture.read_text(encoding="utf-8").splitlines():
            bodies.append(json.dumps(json.loads(line)["body"], separators=(",", ":")).encode())
    return bodies


def floor(bootstrap: str, bodies: list[bytes], seconds: float) -> dict[str, float]:
    """kafka-python alone: the webhook's records (as the Kafka sink sends them) produced one at a time, acks=all
    awaited before the next; linger 0, the fastest serial setting."""
    from datetime import UTC, datetime

    from kafka import KafkaProducer

    from regaudit.ingest.sources.distribution.envelope import split_envelope

    records = [
        split_envelope(
            body, origin="webhook:floor", received_at=datetime.now(UTC), registry="default", content_type=None
        ).events[0]
        for body in bodies
    ]
    producer = KafkaProducer(bootstrap_servers=[bootstrap], acks="all", linger_ms=0)
    try:
        send_one(producer, records[0])  # metadata and connection, not measured
        latencies: list[float] = []
        started = time.perf_counter()
        while time.perf_counter() - started < seconds:
            key, rec = records[len(latencies) % len(records)]
            begun = time.perf_counter()
            send_one(producer, (key, rec))
            latencies.append(time.perf_counter() - begun)
        elapsed = time.perf_counter() - started
    finally:
        producer.close()
    return summary(len(latencies), elapsed, latencies)


def send_one(producer: Any, pair: tuple[str | None, Any]) -> None:
    from regaudit.ingest.sinks.kafka import record_headers

    key, rec = pair
    headers = record_headers(rec)
    producer.send(TOPICS[0], value=rec.value, key=key.encode() if key else None, headers=headers).get(timeout=10)


def wrk_result(port: int, script: Path, seconds: int, connections: int) -> dict[str, float]:
    """wrk's figures for ``connections`` keep-alive connections (one thread for one connection)."""
    threads = min(2, connections)
    output = subprocess.run(
        ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "-s", str(script), f"http://127.0.0.1:{port}/"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    found = re.search(r"RESULT (.*)", output)
    if found is None:
        raise RuntimeError(f"wrk printed no result: {output}")
    requests, errors, duration_us, p50, p99, p999 = found.group(1).split()
    return {
        "requests": int(requests),
        "errors": int(errors),
        "per_second": round(int(requests) / (int(duration_us) / 1e6)),
        "p50_ms": round(float(p50) / 1000, 2),
        "p99_ms": round(float(p99) / 1000, 2),
        "p999_ms": round(float(p999) / 1000, 2),
    }


def summary(requests: int, seconds: float, latencies: list[float]) -> dict[str, float]:
    ordered = sorted(latencies)
    return {
        "requests": requests,
        "per_second": round(requests / seconds),
        "p50_ms": round(statistics.median(ordered) * 1000, 2),
        "p99_ms": round(ordered[int(len(ordered) * 0.99)] * 1000, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--connections", type=int, default=32, help="the concurrent case (default 32)")
    args = parser.parse_args()
    bodies = envelopes()
    with tempfile.TemporaryDirectory(prefix="regaudit-bench-") as tmp, kafka_broker() as broker:
        lines = Path(tmp) / "bodies.jsonl"
        lines.write_bytes(b"\n".join(bodies) + b"\n")
        script = Path(tmp) / "post.lua"
        script.write_text(WRK_SCRIPT.format(bodies=lines, token=TOKEN))
        broker.create_topics(TOPICS, partitions=3)
        floor(broker.bootstrap, bodies, 3)  # warm-up: a new broker's JIT, not measured
        before = floor(broker.bootstrap, bodies, args.seconds / 2)
        port = free_port()
        env = regaudit_env(
            REGAUDIT_KAFKA__BOOTSTRAP_SERVERS=broker.bootstrap,
            REGAUDIT_KAFKA__EVENTS_TOPIC=TOPICS[0],
            REGAUDIT_KAFKA__DEADLETTER_TOPIC=TOPICS[1],
            REGAUDIT_WEBHOOK__TOKENS=json.dumps([TOKEN]),
        )
        command = [sys.executable, "-m", "regaudit.cli", "--log-level", "WARNING", "webhook", "--port", str(port)]
        server = serve(command, env)
        try:
            wait_listening(port)
            wrk_result(port, script, 2, 1)  # warm-up: the producer's connection and metadata
            serial = wrk_result(port, script, args.seconds, 1)
            concurrent = wrk_result(port, script, args.seconds, args.connections)
        finally:
            server.terminate()
            server.wait()
        after = floor(broker.bootstrap, bodies, args.seconds / 2)
    floor_rate = (before["per_second"] + after["per_second"]) / 2
    record(
        "webhook_serial",
        {
            "seconds": args.seconds,
            "envelopes": len(bodies),
            "floor_before": before,
            "floor_after": after,
            "floor_per_second": round(floor_rate),
            "serial": serial,
            "ratio_serial_vs_floor": round(serial["per_second"] / floor_rate, 3),
            "connections": args.connections,
            "concurrent": concurrent,
            "ratio_concurrent_vs_before": round(concurrent["per_second"] / BEFORE_32_PER_SECOND, 2),
        },
    )


if __name__ == "__main__":
    main()
