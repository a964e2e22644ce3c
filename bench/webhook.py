"""Webhook: sustained notifications per second accepted with acks=all from concurrent posters on loopback,
and the answer-time percentiles.

Load comes from wrk (Debian; C, so the load generator does not starve the server on 2 cores). Each POST is a
real 2.8.2 notification envelope from the captures. Baseline, same run, same server stack: the webhook with an
in-memory sink (parsing, validation, auth and HTTP, but no Kafka), so the ratio shows what delivery with
acks=all costs.

    .venv/bin/python bench/webhook.py --seconds 20 --connections 32
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, kafka_broker, record, regaudit_env  # noqa: E402

CAPTURE = ROOT / "tests" / "fixtures" / "samples" / "distribution-2.8.2-htpasswd.events.jsonl"
TOKEN = "bench-token-0123456789"  # noqa: S105 - a loopback benchmark's throwaway token (16 characters at least)
WRK_SCRIPT = """
wrk.method = "POST"
wrk.body = io.open("{body}"):read("*a")
wrk.headers["Content-Type"] = "application/vnd.docker.distribution.events.v1+json"
wrk.headers["Authorization"] = "Bearer {token}"
done = function(summary, latency, requests)
  io.write(string.format("RESULT %d %d %d %.1f %.1f %.1f\\n", summary.requests,
    summary.errors.status + summary.errors.connect + summary.errors.read
      + summary.errors.write + summary.errors.timeout,
    summary.duration, latency:percentile(50), latency:percentile(99), latency:percentile(99.9)))
end
"""
MEMORY_APP = """
import sys, uvicorn
from regaudit.ingest.sinks.memory import MemorySink
from regaudit.ingest.receive.webhook import create_app
from regaudit.settings import WebhookSettings

class Discard(MemorySink):
    def deliver(self, records):
        pass

uvicorn.run(create_app(WebhookSettings(tokens=[sys.argv[2]]), Discard()), host="127.0.0.1", port=int(sys.argv[1]),
            log_level="warning", access_log=False)
"""


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_listening(port: int) -> None:
    import httpx

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise RuntimeError("webhook did not start")


def load(port: int, script: Path, seconds: int, connections: int) -> dict[str, float]:
    output = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(script),
         f"http://127.0.0.1:{port}/events"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    requests, errors, duration_us, p50, p99, p999 = re.search(r"RESULT (.*)", output).group(1).split()
    return {
        "requests": int(requests),
        "errors": int(errors),
        "per_second": round(int(requests) / (int(duration_us) / 1e6)),
        "p50_ms": round(float(p50) / 1000, 2),
        "p99_ms": round(float(p99) / 1000, 2),
        "p999_ms": round(float(p999) / 1000, 2),
    }


def serve(args: list[str], env: dict[str, str], cwd: Path | None = None) -> subprocess.Popen[bytes]:
    return subprocess.Popen(args, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="regaudit-bench-") as tmp, kafka_broker() as broker:
        work = Path(tmp)
        body = work / "body.json"
        body.write_text(json.dumps(json.loads(CAPTURE.read_text().splitlines()[2])["body"]))
        script = work / "post.lua"
        script.write_text(WRK_SCRIPT.format(body=body, token=TOKEN))
        broker.create_topics(["bench.events", "bench.deadletters"], partitions=3)
        results: dict[str, object] = {"connections": args.connections, "seconds": args.seconds}
        port = free_port()
        memory = serve([sys.executable, "-c", MEMORY_APP, str(port), TOKEN], regaudit_env())
        try:
            wait_listening(port)
            results["memory_sink"] = load(port, script, args.seconds, args.connections)
        finally:
            memory.terminate()
            memory.wait()
        port = free_port()
        env = regaudit_env(
            REGAUDIT_KAFKA__BOOTSTRAP_SERVERS=broker.bootstrap,
            REGAUDIT_KAFKA__EVENTS_TOPIC="bench.events",
            REGAUDIT_KAFKA__DEADLETTER_TOPIC="bench.deadletters",
            REGAUDIT_WEBHOOK__TOKENS=json.dumps([TOKEN]),
        )
        kafka = serve(
            [sys.executable, "-m", "regaudit.cli", "--log-level", "WARNING", "webhook", "--port", str(port)], env
        )
        try:
            wait_listening(port)
            results["kafka_acks_all"] = load(port, script, args.seconds, args.connections)
        finally:
            kafka.terminate()
            kafka.wait()
    results["ratio_kafka_vs_memory"] = round(
        results["kafka_acks_all"]["per_second"] / results["memory_sink"]["per_second"],
        3,  # type: ignore[index]
    )
    record("webhook", results)


if __name__ == "__main__":
    threading.stack_size(0)
    main()
