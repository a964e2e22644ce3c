"""Webhook: the cost of one hostile POST, an envelope of 300,000 empty events (900 KB), to the real
``regaudit webhook`` with a Kafka sink: the answer, its time, and the process's resident memory before and at its
peak (``/proc/<pid>/status`` VmRSS and VmHWM). Issue 14 measured 12 s and 221 MB -> 1.7 GB before the webhook
bounded the events per envelope.

    .venv/bin/python bench/webhook_hostile.py [--events 300000]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import kafka_broker, record, regaudit_env  # noqa: E402

TOKEN = "bench-hostile-token-0123456789"  # noqa: S105 - a loopback benchmark's throwaway token


def memory_kib(pid: int) -> dict[str, int]:
    """VmRSS (now) and VmHWM (peak) of a process, in KiB."""
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines())
    return {name: int(fields[name].split()[0]) for name in ("VmRSS", "VmHWM")}


def wait_listening(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and process.poll() is None:
        try:
            httpx.get(url + "/metrics", timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise RuntimeError("webhook did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=300_000)
    args = parser.parse_args()
    body = b'{"events":[' + b",".join([b"{}"] * args.events) + b"]}"
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    with kafka_broker() as broker:
        broker.create_topics(["bench.events", "bench.deadletters"], partitions=3)  # type: ignore[attr-defined]
        env = regaudit_env(
            REGAUDIT_KAFKA__BOOTSTRAP_SERVERS=broker.bootstrap,  # type: ignore[attr-defined]
            REGAUDIT_KAFKA__EVENTS_TOPIC="bench.events",
            REGAUDIT_KAFKA__DEADLETTER_TOPIC="bench.deadletters",
            REGAUDIT_KAFKA__REQUEST_TIMEOUT_SECONDS="60",
            REGAUDIT_WEBHOOK__TOKENS=json.dumps([TOKEN]),
            REGAUDIT_WEBHOOK__MAX_BODY_BYTES=str(max(len(body), 1_048_576)),
        )
        port = 18000 + (int(time.time()) % 1000)
        command = [sys.executable, "-m", "regaudit.cli", "--log-level", "WARNING", "webhook", "--port", str(port)]
        process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        url = f"http://127.0.0.1:{port}"
        try:
            wait_listening(url, process)
            httpx.post(url + "/events", content=b"warm-up", headers=headers, timeout=30)  # producer and metadata up
            before = memory_kib(process.pid)
            started = time.perf_counter()
            answer = httpx.post(url + "/events", content=body, headers=headers, timeout=600)
            seconds = time.perf_counter() - started
            after = memory_kib(process.pid)
        finally:
            process.terminate()
            process.wait()
    record(
        "webhook_hostile",
        {
            "events": args.events,
            "body_bytes": len(body),
            "status": answer.status_code,
            "answer": answer.text[:200],
            "seconds": round(seconds, 3),
            "rss_before_mib": round(before["VmRSS"] / 1024, 1),
            "rss_peak_mib": round(after["VmHWM"] / 1024, 1),
        },
    )


if __name__ == "__main__":
    main()
