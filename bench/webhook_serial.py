"""Webhook as a Distribution registry calls it: one POST at a time, one event each, the next only after the answer
(../shared/FORMATS.md section 1.6), so one connection's answer time caps the events a registry process can report.

Load is wrk (C) on one connection, then on 32, posting the 70 real notification envelopes of the captures in
tests/fixtures/samples in turn. The floor, measured on the same broker in the same run: kafka-python alone
producing the same records (value, key and headers as the webhook sends them) one at a time, each send awaited
with acks=all (``send().get()``). Floor and serial webhook alternate in rounds of two seconds, so both see the
same load on a shared machine. The 32-connection case alternates the same way with the webhook of ``--before``
(66f0121, before issue 19's work), run from that commit's tree without the packages locked since (uvloop,
httptools) on the same broker: its baseline in the same run. With ``--workers`` above one (the default: one per
core), a third webhook, with ``webhook.workers`` set to it, takes its turn in those rounds too.

    .venv/bin/python bench/webhook_serial.py --seconds 20
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, kafka_broker, record, regaudit_env, tree_at  # noqa: E402
from webhook import free_port, serve, wait_listening  # noqa: E402

SAMPLES = ROOT / "tests" / "fixtures" / "samples"
TOKEN = "bench-token-0123456789"  # noqa: S105 - a loopback benchmark's throwaway token (16 characters at least)
TOPICS = ["serial.events", "serial.deadletters"]
#: the figures before this benchmark's work (commit 66f0121): bench/webhook.py at 32 connections, see README
BEFORE_32_PER_SECOND = 1121
BEFORE_REVISION = "66f0121"
#: the webhook's dependencies locked since BEFORE_REVISION (requirements-dev.lock): hidden from its process, which
#: then runs on what it had, asyncio's loop and h11 (uvicorn picks these two when present)
ADDED_SINCE_BEFORE = ("uvloop", "httptools")
#: the length of each of the alternating floor and webhook runs
ROUND_SECONDS = 2
#: the length of each of the alternating runs of the webhook before and now on 32 connections
CONCURRENT_ROUND_SECONDS = 4
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


class Floor:
    """kafka-python alone: the webhook's records (value, key and headers as the Kafka sink sends them) produced
    one at a time, acks=all awaited before the next; linger 0, the fastest serial setting."""

    def __init__(self, bootstrap: str, bodies: list[bytes]) -> None:
        from datetime import UTC, datetime

        from kafka import KafkaProducer

        from regaudit.ingest.sources.distribution.envelope import split_envelope

        self.records = [
            split_envelope(
                body, origin="webhook:floor", received_at=datetime.now(UTC), registry="default", content_type=None
            ).events[0]
            for body in bodies
        ]
        self.producer = KafkaProducer(bootstrap_servers=[bootstrap], acks="all", linger_ms=0)
        self.sent = 0
        self.seconds = 0.0
        self.latencies: list[float] = []

    def run(self, seconds: float) -> None:
        from regaudit.ingest.sinks.kafka import record_headers

        started = time.perf_counter()
        while time.perf_counter() - started < seconds:
            key, rec = self.records[self.sent % len(self.records)]
            begun = time.perf_counter()
            headers = record_headers(rec)
            key_bytes = key.encode() if key else None
            self.producer.send(TOPICS[0], value=rec.value, key=key_bytes, headers=headers).get(timeout=10)
            self.latencies.append(time.perf_counter() - begun)
            self.sent += 1
        self.seconds += time.perf_counter() - started

    def summary(self) -> dict[str, float]:
        ordered = sorted(self.latencies)
        return {
            "requests": self.sent,
            "per_second": round(self.sent / self.seconds),
            "p50_ms": round(statistics.median(ordered) * 1000, 2),
            "p99_ms": round(ordered[int(len(ordered) * 0.99)] * 1000, 2),
        }


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
        "seconds": int(duration_us) / 1e6,
        "per_second": round(int(requests) / (int(duration_us) / 1e6)),
        "p50_ms": round(float(p50) / 1000, 2),
        "p99_ms": round(float(p99) / 1000, 2),
        "p999_ms": round(float(p999) / 1000, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--connections", type=int, default=32, help="the concurrent case (default 32)")
    parser.add_argument(
        "--before", default=BEFORE_REVISION, help="commit whose webhook is the concurrent case's baseline ('': none)"
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=os.cpu_count() or 1,
        help="webhook.workers of a third webhook in the concurrent case (default: one per core; 1: none)",
    )
    args = parser.parse_args()
    bodies = envelopes()
    with tempfile.TemporaryDirectory(prefix="regaudit-bench-") as tmp, kafka_broker() as broker:
        lines = Path(tmp) / "bodies.jsonl"
        lines.write_bytes(b"\n".join(bodies) + b"\n")
        script = Path(tmp) / "post.lua"
        script.write_text(WRK_SCRIPT.format(bodies=lines, token=TOKEN))
        broker.create_topics(TOPICS, partitions=3)
        floor = Floor(broker.bootstrap, bodies)
        env = regaudit_env(
            REGAUDIT_KAFKA__BOOTSTRAP_SERVERS=broker.bootstrap,
            REGAUDIT_KAFKA__EVENTS_TOPIC=TOPICS[0],
            REGAUDIT_KAFKA__DEADLETTER_TOPIC=TOPICS[1],
            REGAUDIT_WEBHOOK__TOKENS=json.dumps([TOKEN]),
        )
        with contextlib.ExitStack() as servers:
            port = servers.enter_context(webhook(env))
            tree = {"PYTHONPATH": before_path(args.before, Path(tmp))} if args.before else {}
            before = servers.enter_context(webhook(env | tree, Path(tmp))) if args.before else None
            workers_env = env | {"REGAUDIT_WEBHOOK__WORKERS": str(args.workers)}
            several = servers.enter_context(webhook(workers_env)) if args.workers > 1 else None
            floor.run(3)  # warm-up: a new broker's JIT, the producers' connections and metadata, not measured
            for warm in (port, before, several):
                if warm:
                    wrk_result(warm, script, 2, args.connections)
            floor.sent, floor.seconds, floor.latencies = 0, 0.0, []
            rounds = [serial_round(floor, port, script) for _ in range(max(1, args.seconds // ROUND_SECONDS))]
            concurrent, previous, processes = [], [], []
            for _ in range(max(1, args.seconds // CONCURRENT_ROUND_SECONDS)):
                if before:
                    previous.append(wrk_result(before, script, CONCURRENT_ROUND_SECONDS, args.connections))
                concurrent.append(wrk_result(port, script, CONCURRENT_ROUND_SECONDS, args.connections))
                if several:
                    processes.append(wrk_result(several, script, CONCURRENT_ROUND_SECONDS, args.connections))
        floor.producer.close()
    record("webhook_serial", figures(args, floor, rounds, concurrent, previous, processes))


def before_path(revision: str, directory: Path) -> str:
    """PYTHONPATH for the webhook of ``revision``: its tree, and packages that refuse to import for the
    dependencies it did not have yet."""
    hidden = directory / "hidden"
    for name in ADDED_SINCE_BEFORE:
        (hidden / name).mkdir(parents=True)
        (hidden / name / "__init__.py").write_text(f"raise ImportError('{name}: not locked at {revision}')\n")
    return os.pathsep.join([str(hidden), str(tree_at(revision, directory))])


@contextlib.contextmanager
def webhook(env: dict[str, str], cwd: Path = ROOT) -> Iterator[int]:
    """A webhook process on a free port, once it listens, stopped on leaving: this tree's, or the one on
    PYTHONPATH run outside this tree (``python -m`` puts the working directory first on sys.path, and ours holds
    a ``regaudit`` package)."""
    port = free_port()
    command = [sys.executable, "-m", "regaudit.cli", "--log-level", "WARNING", "webhook", "--port", str(port)]
    server = serve(command, env, cwd)
    try:
        wait_listening(port)
        yield port
    finally:
        server.terminate()
        server.wait()


def serial_round(floor: Floor, port: int, script: Path) -> dict[str, float]:
    """One round: the floor, then the webhook on one connection, for ``ROUND_SECONDS`` each. Alternating short
    rounds lets both see the same load on a shared machine (two long runs in turn did not: the floor alone
    went from 314 to 723/s between a run before the webhook's and one after it)."""
    floor.run(ROUND_SECONDS)
    return wrk_result(port, script, ROUND_SECONDS, 1)


def figures(
    args: argparse.Namespace,
    floor: Floor,
    rounds: list[dict[str, float]],
    concurrent: list[dict[str, float]],
    previous: list[dict[str, float]],
    processes: list[dict[str, float]],
) -> dict[str, object]:
    """The record: the floor over every round; the webhook's rate over every round, the median round's
    percentiles (wrk reports them per run) and the worst round's p99; the same for the concurrent case, for
    the webhook before and for the webhook with several workers, whose rounds alternated with it."""
    serial, floor_figures, now = over_rounds(rounds), floor.summary(), over_rounds(concurrent)
    result: dict[str, object] = {
        "seconds": args.seconds,
        "rounds": len(rounds),
        "envelopes": len(envelopes()),
        "floor": floor_figures,
        "serial": serial,
        "ratio_serial_vs_floor": round(serial["per_second"] / floor_figures["per_second"], 3),
        "connections": args.connections,
        "concurrent": now,
        "ratio_concurrent_vs_before": round(now["per_second"] / BEFORE_32_PER_SECOND, 2),
    }
    if previous:
        then = over_rounds(previous)
        result |= {
            "before_revision": args.before,
            "before_concurrent": then,
            "ratio_concurrent_vs_before_same_run": round(now["per_second"] / then["per_second"], 2),
        }
    if processes:
        several = over_rounds(processes)
        result |= {"workers": args.workers, "concurrent_workers": several}
        if previous:
            result["ratio_workers_vs_before_same_run"] = round(several["per_second"] / then["per_second"], 2)
    return result | {"load_average": round(os.getloadavg()[0], 1)}  # at the end: others' jobs too


def over_rounds(rounds: list[dict[str, float]]) -> dict[str, float]:
    """wrk's rounds as one run: requests over all their seconds, the median round's percentiles, the worst p99."""
    requests = sum(r["requests"] for r in rounds)
    return {
        "requests": requests,
        "errors": sum(r["errors"] for r in rounds),
        "per_second": round(requests / sum(r["seconds"] for r in rounds)),
        "p50_ms": round(statistics.median(r["p50_ms"] for r in rounds), 2),
        "p99_ms": round(statistics.median(r["p99_ms"] for r in rounds), 2),
        "worst_round_p99_ms": max(r["p99_ms"] for r in rounds),
    }


if __name__ == "__main__":
    main()
