"""Shared pieces of the benchmarks: data sets from the simulator (cached, never committed), a private Kafka
broker, timing and memory.

Every benchmark prints absolute figures and ratios against a baseline measured in the same run on the same
data, so the ratios hold on a noisy 2-core machine. Data sets are generated at fixed seeds under
``.cache/bench/`` (gitignored).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import duckdb
import orjson

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / ".cache" / "bench"
RESULTS = ROOT / "bench" / "results"
#: set by ``run_all.py --quick``; records then carry ``"quick": true``
QUICK_ENV = "REGAUDIT_BENCH_QUICK"
sys.path.insert(0, str(ROOT))  # for tests.infra.kafka, the broker the tests use


def events_file(count: int, seed: int = 7) -> Path:
    """``count`` notification events (one JSON object a line, as the webhook produces them), from the
    simulator at a fixed seed; generated once and cached."""
    from regaudit.simulator import iter_notifications

    path = CACHE / f"events-{seed}-{count}.jsonl"
    if path.exists():
        return path
    CACHE.mkdir(parents=True, exist_ok=True)
    scale = max(1.0, count / 90_000)
    written = 0
    temporary = path.with_suffix(".tmp")
    with temporary.open("wb") as out:
        while written < count:
            for note in iter_notifications(seed + written, days=30, scale=scale):
                for event in orjson.loads(note.body)["events"]:
                    if written == count:
                        break
                    if written:  # later rounds reuse shapes under fresh ids
                        event["id"] = f"{event['id']}-{written}"
                    out.write(orjson.dumps(event) + b"\n")
                    written += 1
                if written == count:
                    break
    temporary.replace(path)
    return path


def access_file(count: int, access_format: str, seed: int = 7) -> Path:
    """``count`` nginx access-log lines in ``json`` or ``combined`` format from the simulator; cached."""
    from regaudit.simulator import iter_access_lines

    path = CACHE / f"access-{access_format}-{seed}-{count}.log"
    if path.exists():
        return path
    CACHE.mkdir(parents=True, exist_ok=True)
    scale = max(1.0, count / 140_000)
    written = 0
    temporary = path.with_suffix(".tmp")
    with temporary.open("wb") as out:
        while written < count:
            for line in iter_access_lines(seed + written, days=30, scale=scale, access_format=access_format):
                out.write(line + b"\n")
                written += 1
                if written == count:
                    break
    temporary.replace(path)
    return path


@dataclass
class Timing:
    seconds: float = 0.0


@contextmanager
def timed() -> Iterator[Timing]:
    timing = Timing()
    started = time.perf_counter()
    try:
        yield timing
    finally:
        timing.seconds = time.perf_counter() - started


def empty_store(path: Path) -> duckdb.DuckDBPyConnection:
    """A new store file with regaudit's schema, opened with a plain DuckDB connection: the baselines and floors
    write into the same tables as regaudit, the way a user's own code would."""
    from regaudit.ingest import store

    with store.writer(path):
        pass
    return duckdb.connect(str(path))


def timed_statement(path: Path, sql: str, params: dict[str, object]) -> float:
    """Seconds one statement takes on a new store at ``path`` (e.g. DuckDB's own import of the same data)."""
    con = empty_store(path)
    try:
        with timed() as timing:
            con.execute(sql, params)
    finally:
        con.close()
    return timing.seconds


def run_process(args: list[str], env: dict[str, str] | None = None) -> tuple[float, int, str]:
    """Run a command; returns (wall seconds, its own peak resident memory in bytes, output).

    The peak is this child's, from ``wait4``: ``RUSAGE_CHILDREN`` would give the largest of every child so far."""
    started = time.perf_counter()
    with tempfile.TemporaryFile() as output:
        process = subprocess.Popen(args, env=env, stdout=output, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
        seconds = time.perf_counter() - started
        output.seek(0)
        text = output.read().decode(errors="replace")
    if process.returncode != 0:
        raise RuntimeError(f"{args[:3]} failed: {text[-3000:]}")
    return seconds, usage.ru_maxrss * 1024, text


@contextmanager
def kafka_broker() -> Iterator[object]:
    from tests.infra.kafka import KafkaBroker, kafka_libs

    broker = KafkaBroker(kafka_libs())
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()
        broker.close()


def produce_file(bootstrap: str, topic: str, path: Path) -> float:
    """Produce every line of ``path`` as one message with kcat (C, fast: the producer is not what is measured)."""
    with timed() as timing:
        subprocess.run(
            ["kcat", "-P", "-b", bootstrap, "-t", topic, "-X", "acks=all", "-z", "lz4", "-l", str(path)], check=True
        )
    return timing.seconds


def tree_at(revision: str, directory: Path) -> Path:
    """The source tree of ``revision`` (``git archive``) importable as the package ``regaudit``: its top-level
    folders linked under ``regaudit/`` as setup.py maps them. Put it first on PYTHONPATH to run that commit's code
    with this environment's packages, for a baseline measured in the same run as the tree at hand."""
    tree = directory / f"tree-{revision}"
    tree.mkdir(parents=True)
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", revision], capture_output=True, check=True)
    subprocess.run(["tar", "-x", "-C", str(tree)], input=archive.stdout, check=True)
    for folder in ("schemas", "ingest", "analytics", "dashboard"):
        (tree / "regaudit" / folder).symlink_to(Path("..") / folder)
    return tree


def regaudit_env(**settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("REGAUDIT_")}
    env.update(settings)
    return env


def record(name: str, result: dict[str, object]) -> None:
    """Append a result line to bench/results/<name>.jsonl (gitignored) and print it."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    result = {"benchmark": name, "at": time.strftime("%Y-%m-%dT%H:%M:%S"), **result}
    if os.environ.get(QUICK_ENV):
        result["quick"] = True  # small sizes from run_all --quick: never shown in the results table
    with (RESULTS / f"{name}.jsonl").open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(result) + "\n")
    print(json.dumps(result, indent=2))
