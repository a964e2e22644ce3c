"""Running the real regaudit commands as separate processes, the way operators run them."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from regaudit.ingest.store import reader
from tests.infra.fixtures import KafkaTopics
from tests.samples import SAMPLES

SAMPLES_LOG = SAMPLES / "nginx-1.22-registry.access.json.log"
__all__ = ["reader"]

REGAUDIT = [sys.executable, "-m", "regaudit.cli"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def regaudit_env(db: Path, bootstrap: str | None = None, topics: KafkaTopics | None = None, **extra: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("REGAUDIT_")}
    env["REGAUDIT_STORE__PATH"] = str(db)
    if bootstrap:
        env["REGAUDIT_KAFKA__BOOTSTRAP_SERVERS"] = bootstrap
    if topics:
        env["REGAUDIT_KAFKA__EVENTS_TOPIC"] = topics.events
        env["REGAUDIT_KAFKA__ACCESS_TOPIC"] = topics.access
        env["REGAUDIT_KAFKA__DEADLETTER_TOPIC"] = topics.deadletters
        env["REGAUDIT_CONSUMER__GROUP_ID"] = f"group-{topics.events}"
    env.update(extra)
    return env


def start(args: list[str], env: dict, log: Path, program: list[str] = REGAUDIT) -> subprocess.Popen:
    with log.open("ab") as handle:  # the child keeps its own descriptor
        return subprocess.Popen([*program, *args], env=env, stdout=handle, stderr=subprocess.STDOUT)


def stop(process: subprocess.Popen, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
    if process.poll() is None:
        process.send_signal(sig)
    return process.wait(timeout)


@contextmanager
def webhook(
    env: dict, log: Path, tokens: list[str], sink: str = "kafka", program: list[str] = REGAUDIT, workers: int = 1
) -> Iterator[str]:
    """A running `regaudit webhook`; yields its base URL."""
    port = free_port()
    env = env | {"REGAUDIT_WEBHOOK__TOKENS": json.dumps(tokens)}
    args = ["webhook", "--host", "127.0.0.1", "--port", str(port), "--sink", sink, "--workers", str(workers)]
    process = start(args, env, log, program)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(url + "/metrics", timeout=1)
                break
            except httpx.TransportError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"webhook did not start: {log.read_text()[-2000:]}") from None
                time.sleep(0.1)
        yield url
    finally:
        stop(process)


def wait_for(predicate, timeout: float, message: str, interval: float = 0.2):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s: {message}")
        time.sleep(interval)
