"""A batch scattered over years against the live batches around it: what one such batch costs the writer.

A producer holding a token (or a broken clock, a shuffled backlog) can send events years apart. Each time range of
a batch costs every windowed derive statement once; until derive_pending.sql (schema 21) a batch of more than
64 ranges was derived as one range from its first row to its last, reading all of the store in between. On a copy
of each store (``bench/make_store.py``), in one process, the sink writes: a live batch of 100 events after the
store's last event, a batch of 200 events spread over 2001-2192 (one time range each), and live batches again
(each derives some of the ranges the scattered batch queued); with ``--baseline REV`` the same on another copy
with that commit's code (``common.tree_at``), in the same run. Figures are wall seconds per batch (``now``,
``before``) and the scattered batch's cost as a multiple of the live batch before it.

    .venv/bin/python bench/make_store.py /tmp/base-1m.duckdb --events 1000000
    .venv/bin/python bench/scattered_batch.py /tmp/base-1m.duckdb --baseline fea2d44
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

LIVE = 100
SCATTERED = 200


def worker(path: Path, events: Path) -> dict[str, float]:
    """In the child (this tree's code or the baseline's, by PYTHONPATH; ``common`` is not imported here, as it
    puts this tree first on sys.path): the batches, timed one by one."""
    import duckdb
    import pyarrow as pa

    from regaudit.ingest.hooks import load_hooks
    from regaudit.ingest.normalize import BATCH_SCHEMA, Normalizer
    from regaudit.ingest.sinks.duckdb import DuckDBSink
    from regaudit.settings import Settings

    with duckdb.connect(str(path), read_only=True) as con:
        last = con.execute("SELECT max(event_at) FROM registry_events").fetchall()[0][0]
    templates = [json.loads(line) for line in events.read_bytes().splitlines()[:LIVE]]
    normalizer = Normalizer("default")

    def batch(times: list[datetime]) -> object:
        values = []
        for i, moment in enumerate(times):
            event = dict(templates[i % len(templates)], id=str(uuid.uuid4()), timestamp=moment.isoformat())
            values.append(json.dumps(event).encode())
        n = len(values)
        table = pa.table(
            [pa.array(["event"] * n), pa.array(values, pa.binary()), pa.nulls(n, pa.string()),
             pa.array([f"bench:{uuid.uuid4()}" for _ in range(n)]),
             pa.array([datetime.now(UTC)] * n, pa.timestamp("us", tz="UTC")), pa.nulls(n, pa.string()),
             pa.nulls(n, pa.string()), pa.array(["application/json"] * n), pa.nulls(n, pa.string()),
             pa.nulls(n, pa.string())],
            schema=BATCH_SCHEMA,
        )  # fmt: skip
        return normalizer.normalize_table(table)

    def live(after: int) -> object:
        start = last + timedelta(minutes=after)
        return batch([start + timedelta(seconds=i) for i in range(LIVE)])

    far = datetime(2001, 1, 1, tzinfo=UTC)
    batches = {
        "live": live(1),
        "scattered": batch([far + timedelta(days=350 * i) for i in range(SCATTERED)]),  # 2001-2192
        "live_after": live(10),
        "live_after_2": live(20),
        "live_after_3": live(30),
    }
    sink = DuckDBSink(path, 60, "default", hooks=load_hooks(Settings()))
    seconds = {}
    for name, normalized in batches.items():
        started = time.perf_counter()
        sink.write(normalized, "bench")  # type: ignore[arg-type]
        seconds[name] = round(time.perf_counter() - started, 3)
    normalizer.close()
    return seconds


def measure(store: Path, work: Path, events: Path, pythonpath: str | None) -> dict[str, float]:
    copy = work / "copy.duckdb"
    shutil.copyfile(store, copy)
    try:
        env = {k: v for k, v in os.environ.items() if not k.startswith("REGAUDIT_")}
        if pythonpath:
            env["PYTHONPATH"] = pythonpath
        done = subprocess.run(
            [sys.executable, str(Path(__file__).resolve()), "--worker", str(copy), str(events)],
            env=env, cwd=work, capture_output=True, text=True, check=True,
        )  # fmt: skip
        return json.loads(done.stdout.strip().splitlines()[-1])
    finally:
        for leftover in work.glob("copy.duckdb*"):
            leftover.unlink()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("stores", nargs="*", type=Path)
    parser.add_argument("--baseline", help="a commit whose code writes the same batches, in the same run")
    parser.add_argument("--worker", type=Path, nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(*args.worker)))
        return
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from common import events_file, record, tree_at

    events = events_file(1000)
    with tempfile.TemporaryDirectory(prefix="regaudit-bench-") as directory:
        work = Path(directory)
        baseline = str(tree_at(args.baseline, work)) if args.baseline else None
        stores = []
        for store in args.stores:
            sides = {"now": measure(store, work, events, None)}
            if baseline:
                sides["before"] = measure(store, work, events, baseline)
            ratios = {f"{side}_scattered_vs_live": round(f["scattered"] / f["live"], 1) for side, f in sides.items()}
            stores.append({"store": store.name, **sides, **ratios})
            print(json.dumps(stores[-1]), flush=True)
        record("scattered_batch", {"baseline": args.baseline, "live_events": LIVE, "scattered_events": SCATTERED,
                                   "stores": stores})  # fmt: skip


if __name__ == "__main__":
    main()
