"""The delivery contract (DESIGN.md section 4) on a real Apache Kafka broker, with the real processes."""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import threading
import time

import duckdb
import httpx
import pytest
from kafka import KafkaProducer
from kafka.errors import KafkaError

from regaudit.ingest import store
from tests.ingest import processes
from tests.samples import SAMPLES, posts

pytestmark = [pytest.mark.kafka]
TOKEN = "test-token-0123456789"  # noqa: S105 - the webhook refuses tokens under 16 characters
CAPTURE = SAMPLES / "distribution-2.8.2-htpasswd.events.jsonl"


def count(db, sql="SELECT count(*), count(DISTINCT event_id) FROM registry_events"):
    try:
        with store.reader(db, timeout=10) as con:
            return con.execute(sql).fetchall()[0]
    except (duckdb.IOException, duckdb.CatalogException, OSError):
        return None


def verified(env: dict) -> None:
    """``regaudit verify`` passes: the chain entries the consumer sealed from the texts its reading thread made
    (``seal_parts``), and those it read back (a replay, a batch in parts), match the stored rows."""
    done = subprocess.run([*processes.REGAUDIT, "verify"], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr


def synthetic_events(n: int, prefix: str = "e") -> list[bytes]:
    """n distinct events shaped like the 2.8.2 capture (about 0.8 KB each)."""
    template = posts(CAPTURE)[2]["body"]["events"][0]
    out = []
    for i in range(n):
        event = json.loads(json.dumps(template))
        event["id"] = f"{prefix}-{i:08d}"
        event["target"]["repository"] = f"team/app-{i % 50}"
        event["timestamp"] = f"2026-11-26T19:{(i // 60000) % 60:02d}:{(i // 1000) % 60:02d}.{i % 1000:03d}123Z"
        out.append(json.dumps(event).encode())
    return out


def produce(bootstrap: str, topic: str, values: list[bytes]) -> None:
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=20, batch_size=256 * 1024)
    try:
        for value in values:
            producer.send(topic, value=value, key=value[8:20])
        producer.flush(60)
    finally:
        producer.close()


def post_capture(url: str, capture=CAPTURE, limit: int | None = None) -> list[int]:
    """The answers to the capture's notifications, POSTed one at a time as a registry does (its first ``limit``)."""
    codes = []
    with httpx.Client(timeout=30) as client:
        for item in posts(capture)[:limit]:
            headers = {k: v for k, v in item["headers"].items() if k in ("Content-Type", "User-Agent")}
            headers["Authorization"] = f"Bearer {TOKEN}"
            codes.append(client.post(url + "/events", content=json.dumps(item["body"]), headers=headers).status_code)
    return codes


def test_webhook_to_kafka_to_duckdb_stores_posts_once_even_when_posted_twice(kafka_broker, kafka_topics, tmp_path):
    db = tmp_path / "audit.duckdb"
    env = processes.regaudit_env(db, kafka_broker.bootstrap, kafka_topics)
    with processes.webhook(env, tmp_path / "webhook.log", [TOKEN]) as url:
        assert post_capture(url) == [200] * 18
        assert post_capture(url) == [200] * 18  # the registry retrying every event
        bad = httpx.post(url + "/events", content=b"{oops", headers={"Authorization": f"Bearer {TOKEN}"})
        assert bad.status_code == 200
    consumer = processes.start(["consume", "--until-idle", "3"], env, tmp_path / "consume.log")
    assert consumer.wait(120) == 0, (tmp_path / "consume.log").read_text()
    assert count(db) == (18, 18)
    assert count(db, "SELECT reason FROM dead_letters")[0].startswith("not JSON")
    overwrite = count(db, "SELECT count(*) FROM tag_history WHERE is_overwrite AND moved_by = 'alice'")
    assert overwrite == (1,)
    verified(env)


def test_kill_9_of_the_consumer_mid_stream_leaves_every_event_exactly_once(kafka_broker, kafka_topics, tmp_path):
    db = tmp_path / "audit.duckdb"
    total = 100_000
    produce(kafka_broker.bootstrap, kafka_topics.events, synthetic_events(total))
    env = processes.regaudit_env(db, kafka_broker.bootstrap, kafka_topics, REGAUDIT_CONSUMER__BATCH_MAX_RECORDS="5000")
    log = tmp_path / "consume.log"
    consumer = processes.start(["consume"], env, log)
    processes.wait_for(lambda: (count(db) or (0,))[0] >= 20_000, 180, "consumer stored 20,000 events")
    consumer.send_signal(signal.SIGKILL)
    consumer.wait(30)
    stored_at_kill = count(db)[0]
    assert 0 < stored_at_kill < total
    restarted = processes.start(["consume", "--until-idle", "5"], env, log)
    assert restarted.wait(300) == 0, log.read_text()[-3000:]
    assert count(db) == (total, total)
    verified(env)  # a batch stored before the kill, its offsets not committed, came again: read back, no rows


def test_events_scattered_over_a_century_are_stored_once_and_derived_without_reading_the_store_each_batch(
    kafka_broker, kafka_topics, tmp_path
):
    """A producer with the topic's credentials mixes events years apart into the live stream (derive_pending.sql):
    the batch derives its largest ranges, queues the rest, and the idle consumer derives those; verify replays it."""
    db = tmp_path / "audit.duckdb"
    scattered = []
    for i, value in enumerate(synthetic_events(80, prefix="far")):  # more ranges than a batch derives at once
        event = json.loads(value)
        event["timestamp"] = f"{2001 + 2 * i}-06-01T12:00:00Z"
        scattered.append(json.dumps(event).encode())
    live = synthetic_events(3_000)
    produce(kafka_broker.bootstrap, kafka_topics.events, live[:1_500] + scattered + live[1_500:])
    env = processes.regaudit_env(db, kafka_broker.bootstrap, kafka_topics)
    consumer = processes.start(["consume", "--until-idle", "5"], env, tmp_path / "consume.log")
    assert consumer.wait(180) == 0, (tmp_path / "consume.log").read_text()[-3000:]
    assert count(db) == (3_080, 3_080)
    far = "SELECT count(*) FROM registry_events WHERE event_at NOT BETWEEN '2026-11-26' AND '2026-11-27'"
    assert count(db, far) == (80,)
    queued = count(db, "SELECT count(*), count(derived_by) FROM derive_pending")
    assert queued is not None
    assert queued[0] > 0
    assert queued[0] == queued[1]  # queued, then all derived
    assert "derived time ranges queued by earlier batches" in (tmp_path / "consume.log").read_text()
    verified(env)


def test_a_broker_restart_during_the_stream_loses_nothing(kafka_broker, kafka_topics, tmp_path):
    db = tmp_path / "audit.duckdb"
    env = processes.regaudit_env(db, kafka_broker.bootstrap, kafka_topics, REGAUDIT_CONSUMER__BATCH_MAX_RECORDS="2000")
    log = tmp_path / "consume.log"
    consumer = processes.start(["consume"], env, log)
    values = synthetic_events(30_000, "b")
    produce(kafka_broker.bootstrap, kafka_topics.events, values[:15_000])
    processes.wait_for(lambda: (count(db) or (0,))[0] > 0, 120, "consumer started storing")
    kafka_broker.stop()
    time.sleep(2)
    kafka_broker.restart()
    produce(kafka_broker.bootstrap, kafka_topics.events, values[15_000:])
    processes.wait_for(lambda: count(db) == (30_000, 30_000), 240, "all 30,000 events stored once")
    assert processes.stop(consumer) == 0, log.read_text()[-3000:]


def test_a_one_shot_consume_whose_broker_goes_away_exits_75_instead_of_calling_itself_caught_up(
    kafka_broker, kafka_topics, tmp_path
):
    """``consume --until-idle`` is the cron form of the consumer. An empty poll with the broker gone is not the end
    of the stream: the run asks the broker how far behind it is, and exits 75 (try again) once the broker has not
    answered for longer than the idle time, never 0 as if it had caught up. Started with the broker away, it says
    it cannot connect, exit 75 without a traceback."""
    db = tmp_path / "audit.duckdb"
    env = processes.regaudit_env(db, kafka_broker.bootstrap, kafka_topics)
    log = tmp_path / "consume.log"
    consumer = processes.start(["consume", "--until-idle", "2"], env, log)
    produce(kafka_broker.bootstrap, kafka_topics.events, synthetic_events(3_000, "away"))
    processes.wait_for(lambda: count(db) == (3_000, 3_000), 120, "the events stored")
    processes.wait_for(lambda: " lag=0" in log.read_text(), 60, "their offsets committed")
    kafka_broker.stop()
    try:
        late_log = tmp_path / "consume-late.log"
        late = processes.start(
            ["consume", "--until-idle", "1"], env | {"REGAUDIT_STORE__PATH": str(tmp_path / "late.duckdb")}, late_log
        )
        assert consumer.wait(120) == 75, log.read_text()[-3000:]
        assert late.wait(120) == 75, late_log.read_text()[-3000:]
    finally:
        kafka_broker.restart()
    text = log.read_text()
    assert "no answer for" in text, text[-3000:]
    assert "Traceback" not in text
    late_text = late_log.read_text()
    assert "cannot connect" in late_text, late_text[-3000:]
    assert "Traceback" not in late_text
    # the batch stored before the broker went away was committed: the group's offsets are past its records
    group = env["REGAUDIT_CONSUMER__GROUP_ID"]

    def committed() -> int | None:
        try:
            with contextlib.closing(kafka_broker.admin_client()) as admin:
                offsets = admin.list_group_offsets(group)[group]
        except KafkaError:  # the restarted broker still loading the group's coordinator
            return None
        return sum(o.offset for tp, o in offsets.items() if tp.topic == kafka_topics.events)

    assert processes.wait_for(committed, 60, "the group's committed offsets") == 3_000


def test_webhook_answers_503_while_the_broker_is_down_and_the_retried_posts_are_stored(
    kafka_broker, kafka_topics, tmp_path
):
    db = tmp_path / "audit.duckdb"
    env = processes.regaudit_env(db, kafka_broker.bootstrap, kafka_topics, REGAUDIT_KAFKA__REQUEST_TIMEOUT_SECONDS="2")
    with processes.webhook(env, tmp_path / "webhook.log", [TOKEN]) as url:
        assert httpx.get(url + "/healthz", timeout=10).status_code == 200  # was 503 with kafka-python 3.0
        kafka_broker.stop()
        try:
            codes = post_capture(url)
            assert set(codes) == {503}
            assert httpx.get(url + "/healthz", timeout=10).status_code == 503
        finally:
            kafka_broker.restart()
        # the registry retries each refused POST until it is accepted
        processes.wait_for(lambda: set(post_capture(url)) == {200}, 120, "webhook accepts again")
        assert httpx.get(url + "/healthz", timeout=10).status_code == 200
    consumer = processes.start(["consume", "--until-idle", "3"], env, tmp_path / "consume.log")
    assert consumer.wait(120) == 0
    assert count(db) == (18, 18)


def test_readers_and_a_batch_job_work_while_the_consumer_writes(kafka_broker, kafka_topics, tmp_path):
    db = tmp_path / "audit.duckdb"
    total = 40_000
    env = processes.regaudit_env(db, kafka_broker.bootstrap, kafka_topics, REGAUDIT_CONSUMER__BATCH_MAX_RECORDS="2000")
    log = tmp_path / "consume.log"
    consumer = processes.start(["consume"], env, log)
    producer = threading.Thread(
        target=produce, args=(kafka_broker.bootstrap, kafka_topics.events, synthetic_events(total, "r"))
    )
    producer.start()
    processes.wait_for(lambda: db.exists(), 60, "store created")
    reads, failures = 0, []
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        try:
            with store.reader(db, timeout=10) as con:  # the dashboard's way: read-only, per query
                stored = con.execute("SELECT count(*) FROM image_activity").fetchall()[0][0]
            reads += 1
        except Exception as error:  # noqa: BLE001 - collected and asserted below
            failures.append(repr(error))
        status = processes.REGAUDIT + ["store", "status"]
        batch_job = __import__("subprocess").run(status, env=env, capture_output=True, text=True, timeout=60)
        if batch_job.returncode != 0:
            failures.append(batch_job.stderr[-500:])
        if stored >= total and not producer.is_alive():
            break
    producer.join()
    assert processes.stop(consumer) == 0, log.read_text()[-3000:]
    assert failures == []
    assert reads > 3
    assert count(db) == (total, total)


@pytest.mark.parametrize("codec", ["gzip", "snappy", "lz4", "zstd"])
def test_consumer_reads_batches_compressed_by_other_producers(kafka_broker, kafka_topics, tmp_path, codec):
    events = tmp_path / "events.jsonl"
    events.write_bytes(b"\n".join(synthetic_events(500, codec)) + b"\n")
    subprocess.run(
        ["kcat", "-P", "-b", kafka_broker.bootstrap, "-t", kafka_topics.events, "-z", codec, "-l", str(events)],
        check=True,
    )
    db = tmp_path / "audit.duckdb"
    env = processes.regaudit_env(db, kafka_broker.bootstrap, kafka_topics)
    consumer = processes.start(["consume", "--until-idle", "2"], env, tmp_path / "consume.log")
    assert consumer.wait(120) == 0, (tmp_path / "consume.log").read_text()[-2000:]
    assert count(db) == (500, 500)
