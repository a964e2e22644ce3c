"""Issue 3: the real registry, nginx and skopeo, through the whole regaudit chain, into ``image_activity``.

For each setup (Distribution 2.8 behind nginx's ``auth_basic``; 2.8 doing its own htpasswd auth; 3.x built from
the Go module proxy doing its own auth), the registry's notifications go to a real ``regaudit webhook`` (bearer
token) and nginx's JSON access log to a real ``regaudit ship-logs``, both into Kafka, and a real ``regaudit
consume`` writes DuckDB while the scenario runs. The scenario (``tests/e2e/scenario.py``): ci-bot pushes
several tags and a two-platform index; alice and bob pull by tag, by digest and the index; alice overwrites the
release tag v1.0.0; ci-bot copies an image to another repository (blob mounts); alice deletes the copy by tag;
someone tries bob's account with a wrong password, three times on a manifest and ten times on the login
endpoint; alice asks for a missing tag and a missing repository, inspects an image and checks one with a HEAD.
The notification of alice's overwrite reaches the webhook but is answered 500 once, so the registry sends it
again and Kafka holds it twice.

The expected tables below are what a person reading ``image_activity`` must find: every action, with the right
identity, exactly once. Then the real ``regaudit analyze`` (issue 4), told that ci-bot is CI, must flag the
overwrite of the release tag, the burst of failed logins and alice's push to the repository only CI fed, and
add nothing when it runs again.
"""

from __future__ import annotations

import json
import subprocess
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.forwarder import Event, ForwardedPost
from tests.e2e.pipeline import WEBHOOK_TOKEN, AuditPipeline
from tests.e2e.registry_v3 import registry_v3_binary
from tests.e2e.scenario import BLOB_CLIENT, GUESSING_CLIENT, HEAD_CLIENT, USERS, Images, ScenarioRun, play
from tests.infra.fixtures import KafkaTopics, fresh_topics
from tests.infra.kafka import KafkaBroker
from tests.infra.nginx import AuthMode
from tests.infra.registry import NotificationEndpoint
from tests.infra.stack import RegistryStack
from tests.ingest import processes
from tests.ingest.processes import wait_for

pytestmark = [pytest.mark.stack, pytest.mark.kafka]

SKOPEO = "127.0.0.1"  # skopeo's address, as nginx saw it and as the registry read it from X-Forwarded-For
CHECKER, GUESSER, FETCHER = HEAD_CLIENT, GUESSING_CLIENT, BLOB_CLIENT
V1_ENVELOPE = "application/vnd.docker.distribution.events.v1+json"
V2_ENVELOPE = "application/vnd.docker.distribution.events.v2+json"

# Every image-level action of the scenario, once. digest: the image a manifest digest belongs to, or the blob a
# mount carried or a blob-only pull fetched. blob bytes: what the row's blob_bytes add up to (every blob of that
# image, only its config, or one layer; None is 0). "multi/native" is the platform a plain `skopeo copy` of the
# index picks on this machine.
EXPECTED_ACTIVITY = [
    # actor    action    repository     tag          digest          pull   check  proxy client   blob bytes
    ("ci-bot", "push",   "team/app",    "v1.0.0",    "app-1",        False, False, 201, SKOPEO,  "app-1"),
    ("ci-bot", "push",   "team/app",    "v1.1.0",    "app-2",        False, False, 201, SKOPEO,  "app-2"),
    ("ci-bot", "push",   "team/app",    "latest",    "app-2",        False, False, 201, SKOPEO,  None),
    ("ci-bot", "push",   "team/multi",  None,        "multi/amd64",  False, False, 201, SKOPEO,  "multi/amd64"),
    ("ci-bot", "push",   "team/multi",  None,        "multi/arm64",  False, False, 201, SKOPEO,  "multi/arm64"),
    ("ci-bot", "push",   "team/multi",  "1.0",       "multi",        False, False, 201, SKOPEO,  None),
    ("alice",  "pull",   "team/app",    "v1.0.0",    "app-1",        True,  False, 200, SKOPEO,  "app-1"),
    ("bob",    "pull",   "team/app",    None,        "app-2",        True,  False, 200, SKOPEO,  "app-2"),
    ("alice",  "pull",   "team/multi",  "1.0",       "multi",        True,  False, 200, SKOPEO,  "multi"),
    ("alice",  "pull",   "team/multi",  None,        "multi/amd64",  False, False, 200, SKOPEO,  None),
    ("alice",  "pull",   "team/multi",  None,        "multi/arm64",  False, False, 200, SKOPEO,  None),
    ("bob",    "pull",   "team/multi",  "1.0",       "multi",        True,  False, 200, SKOPEO,  "multi/native"),
    ("bob",    "pull",   "team/multi",  None,        "multi/native", False, False, 200, SKOPEO,  None),
    ("alice",  "push",   "team/app",    "v1.0.0",    "hotfix",       False, False, 201, SKOPEO,  "hotfix"),
    ("ci-bot", "pull",   "team/app",    "v1.1.0",    "app-2",        True,  False, 200, SKOPEO,  "app-2 config"),
    ("ci-bot", "mount",  "other/app",   None,        "app-2 layer0", False, False, 201, SKOPEO,  None),
    ("ci-bot", "mount",  "other/app",   None,        "app-2 layer1", False, False, 201, SKOPEO,  None),
    ("ci-bot", "mount",  "other/app",   None,        "app-2 layer2", False, False, 201, SKOPEO,  None),
    ("ci-bot", "push",   "other/app",   "copied",    "app-2",        False, False, 201, SKOPEO,  "app-2"),
    ("alice",  "pull",   "other/app",   "copied",    "app-2",        False, False, 200, SKOPEO,  None),
    ("alice",  "delete", "other/app",   None,        "app-2",        False, False, 202, SKOPEO,  None),
    ("alice",  "delete", "other/app",   "copied",    "app-2",        False, False, 202, SKOPEO,  None),
    ("bob",    "pull",   "team/app",    "v1.1.0",    None,           False, False, 401, GUESSER, None),
    ("bob",    "pull",   "team/app",    "v1.1.0",    None,           False, False, 401, GUESSER, None),
    ("bob",    "pull",   "team/app",    "v1.1.0",    None,           False, False, 401, GUESSER, None),
    *10 * [("bob", "login", "", None, None, False, False, 401, GUESSER, None)],  # wrong passwords on GET /v2/
    ("alice",  "pull",   "team/app",    "nosuchtag", None,           False, False, 404, SKOPEO,  None),
    ("alice",  "pull",   "nosuch/repo", "latest",    None,           False, False, 404, SKOPEO,  None),
    ("alice",  "pull",   "team/app",    "latest",    "app-2",        True,  False, 200, SKOPEO,  "app-2 config"),
    ("bob",    "pull",   "team/app",    None,        "app-1 layer0", True,  False, None, FETCHER, "app-1 layer0"),
    ("alice",  "pull",   "team/app",    "v1.1.0",    "app-2",        False, True,  200, CHECKER, None),
]  # fmt: skip

# The same table as a person would count it, per identity, repository and tag: real pulls (counts_as_pull),
# other manifest GETs (a platform manifest of a counted index pull, the GET skopeo makes to resolve the tag it
# deletes), HEAD checks, pushes, deletes, mounts, and requests refused by the proxy or the registry (4xx).
EXPECTED_COUNTS = {
    # actor    repository     tag            pulls  gets  checks pushes deletes mounts refused
    ("ci-bot", "team/app",    "v1.0.0"):    (0,     0,    0,     1,     0,      0,     0),
    ("ci-bot", "team/app",    "v1.1.0"):    (1,     0,    0,     1,     0,      0,     0),
    ("ci-bot", "team/app",    "latest"):    (0,     0,    0,     1,     0,      0,     0),
    ("ci-bot", "team/multi",  None):        (0,     0,    0,     2,     0,      0,     0),
    ("ci-bot", "team/multi",  "1.0"):       (0,     0,    0,     1,     0,      0,     0),
    ("ci-bot", "other/app",   None):        (0,     0,    0,     0,     0,      3,     0),
    ("ci-bot", "other/app",   "copied"):    (0,     0,    0,     1,     0,      0,     0),
    ("alice",  "team/app",    "v1.0.0"):    (1,     0,    0,     1,     0,      0,     0),
    ("alice",  "team/app",    "v1.1.0"):    (0,     0,    1,     0,     0,      0,     0),
    ("alice",  "team/app",    "latest"):    (1,     0,    0,     0,     0,      0,     0),
    ("alice",  "team/app",    "nosuchtag"): (0,     0,    0,     0,     0,      0,     1),
    ("alice",  "nosuch/repo", "latest"):    (0,     0,    0,     0,     0,      0,     1),
    ("alice",  "team/multi",  "1.0"):       (1,     0,    0,     0,     0,      0,     0),
    ("alice",  "team/multi",  None):        (0,     2,    0,     0,     0,      0,     0),
    ("alice",  "other/app",   "copied"):    (0,     1,    0,     0,     1,      0,     0),
    ("alice",  "other/app",   None):        (0,     0,    0,     0,     1,      0,     0),
    ("bob",    "team/app",    None):        (2,     0,    0,     0,     0,      0,     0),  # and a layer by digest
    ("bob",    "team/app",    "v1.1.0"):    (0,     0,    0,     0,     0,      0,     3),
    ("bob",    "",            None):        (0,     0,    0,     0,     0,      0,     10),
    ("bob",    "team/multi",  "1.0"):       (1,     0,    0,     0,     0,      0,     0),
    ("bob",    "team/multi",  None):        (0,     1,    0,     0,     0,      0,     0),
}  # fmt: skip
COUNTS_SQL = """
SELECT actor, repository, tag,
       count(*) FILTER (WHERE action = 'pull' AND counts_as_pull),
       count(*) FILTER (WHERE action = 'pull' AND source = 'registry' AND NOT counts_as_pull AND NOT is_check),
       count(*) FILTER (WHERE action = 'pull' AND is_check),
       count(*) FILTER (WHERE action = 'push' AND source = 'registry'),
       count(*) FILTER (WHERE action = 'delete' AND source = 'registry'),
       count(*) FILTER (WHERE action = 'mount'),
       count(*) FILTER (WHERE source = 'proxy' AND proxy_status >= 400)
FROM image_activity GROUP BY ALL
"""

# tag_history: each interval a tag pointed at a digest, who moved it there, and how it ended.
EXPECTED_TAG_HISTORY = [
    # repository   tag       digest    previous  overwrite moved by  ended
    ("other/app",  "copied", "app-2",  None,     False,    "ci-bot", "deleted"),
    ("team/app",   "latest", "app-2",  None,     False,    "ci-bot", None),
    ("team/app",   "v1.0.0", "app-1",  None,     False,    "ci-bot", "overwritten"),
    ("team/app",   "v1.0.0", "hotfix", "app-1",  True,     "alice",  None),
    ("team/app",   "v1.1.0", "app-2",  None,     False,    "ci-bot", None),
    ("team/multi", "1.0",    "multi",  None,     False,    "ci-bot", None),
]  # fmt: skip

# What `regaudit analyze` is told: ci-bot is CI, v1.0.0-style tags are releases. team/app had three CI pushes
# (v1.0.0, v1.1.0, latest) before alice's, under the default five that make a repository CI-only: the documented
# threshold override lowers it to three.
ANALYZE_SETTINGS = """\
[org]
ci_identities = ["ci-bot"]
protected_tag_patterns = ['^v[0-9]+[.][0-9]+[.][0-9]+$']

[analytics.thresholds."push.human_to_ci_repository"]
min_ci_pushes = 3
"""


@dataclass(frozen=True)
class Setup:
    auth: AuthMode
    registry_binary: str
    envelope: str


@pytest.fixture(scope="module", params=["2.8-nginx-auth", "2.8-registry-auth", "3.x-registry-auth"])
def setup(request: pytest.FixtureRequest) -> Setup:
    """Debian's 2.8 behind nginx's auth_basic, 2.8 checking passwords itself, 3.x checking them itself."""
    if request.param == "2.8-nginx-auth":
        return Setup("nginx", "docker-registry", V1_ENVELOPE)
    if request.param == "2.8-registry-auth":
        return Setup("registry", "docker-registry", V1_ENVELOPE)
    return Setup("registry", registry_v3_binary(), V2_ENVELOPE)


@dataclass
class Outcome:
    """What the scenario left: the images, the step windows, the registry's POSTs and the stopped pipeline."""

    images: Images
    run: ScenarioRun
    posts: list[ForwardedPost]
    pipeline: AuditPipeline
    access_lines: int

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        return self.pipeline.query(sql)

    def name(self, digest: str | None) -> str | None:
        return None if digest is None else self.images.names().get(digest, digest)


@pytest.fixture(scope="module")
def outcome(setup: Setup, kafka_broker: KafkaBroker, tmp_path_factory: pytest.TempPathFactory) -> Outcome:
    """The scenario, played once per setup: the tests below each check one thing it left (pytest runs every test
    of one setup before it plays the next)."""
    topics = fresh_topics(kafka_broker, "registry-scenario")
    return run_scenario(setup, kafka_broker, topics, tmp_path_factory.mktemp("scenario"))


def run_scenario(setup: Setup, broker: KafkaBroker, topics: KafkaTopics, tmp_path: Path) -> Outcome:
    """Play the scenario through the running chain; return once every event and line is stored, all stopped."""
    images = Images.build(tmp_path / "images")
    (tmp_path / "pipeline").mkdir()
    with AuditPipeline(tmp_path / "pipeline", broker.bootstrap, topics) as pipeline:
        endpoint = NotificationEndpoint(pipeline.notification_url, WEBHOOK_TOKEN)
        with RegistryStack(endpoint, USERS, auth=setup.auth, registry_binary=setup.registry_binary) as stack:
            pipeline.ship(stack.nginx.access_log_path)
            forwarder = pipeline.forwarder
            assert forwarder is not None
            run = play(stack, images, tmp_path / "pulled", lambda: forwarder.fail_once_after_delivery(_is_overwrite))
            forwarder.wait_for(
                lambda posts: any(p.answered_status == 200 and _is_last_step(p.events) for p in posts), timeout=30
            )
            # (sent, stored) per kind; nginx may write a request's line after the registry's notification of it
            # reached the forwarder, so the lines are counted again on every look
            counts: dict[str, tuple[int, list[tuple[Any, ...]]]] = {}

            def stored() -> bool:
                sent = {event_id for post in forwarder.posts for event_id in post.event_ids}
                counts["events"] = (len(sent), pipeline.query("SELECT count(*) FROM registry_events"))
                counts["lines"] = (
                    len(stack.nginx.access_log_entries()),
                    pipeline.query("SELECT count(*) FROM access_log"),
                )
                return all(found == [(expected,)] for expected, found in counts.values())

            try:
                wait_for(stored, 60, "every event the registry sent and every access line stored")
            except AssertionError as error:
                raise AssertionError(f"{error}; (sent, stored): {counts}\n{pipeline.log_tails()}") from None
            access_lines = counts["lines"][0]  # the count the store matched
            posts = forwarder.posts
        pipeline.stop()
    return Outcome(images, run, posts, pipeline, access_lines)


def _is_overwrite(events: list[Event]) -> bool:
    return any(
        e["action"] == "push" and e["actor"].get("name") == "alice" and e["target"].get("tag") == "v1.0.0"
        for e in events
    )


def _is_last_step(events: tuple[Event, ...]) -> bool:
    """alice's manifest HEAD check (blob HEADs during pushes are pulls with method HEAD too)."""
    return any(
        e["action"] == "pull" and e["request"]["method"] == "HEAD" and e["target"].get("tag") == "v1.1.0"
        for e in events
    )


def test_image_activity_holds_every_action_once_with_the_right_identity(outcome: Outcome) -> None:
    native = outcome.images.native.platform.architecture
    rows = outcome.rows(
        "SELECT actor, action, repository, tag, digest, counts_as_pull, is_check, proxy_status, client_addr, "
        "blob_bytes FROM image_activity"
    )
    found = Counter((*row[:4], outcome.name(row[4]), *row[5:]) for row in rows)
    expected = Counter(
        (*row[:4], _native(row[4], native), *row[5:9], _bytes(outcome.images, _native(row[9], native)))
        for row in EXPECTED_ACTIVITY
    )
    assert found == expected, _difference(found, expected)


def test_counts_per_identity_repository_and_tag_are_exact(outcome: Outcome) -> None:
    counts = {(actor, repo, tag): tuple(rest) for actor, repo, tag, *rest in outcome.rows(COUNTS_SQL)}
    assert counts == EXPECTED_COUNTS


def test_the_retried_notification_is_in_kafka_twice_and_stored_once(outcome: Outcome) -> None:
    failed = [post for post in outcome.posts if post.answered_status == 500]
    assert len(failed) == 1
    retried = failed[0].event_ids[0]
    deliveries = [(p.webhook_status, p.answered_status) for p in outcome.posts if retried in p.event_ids]
    assert deliveries == [(200, 500), (200, 200)]  # accepted, refused to the registry, which sent it again

    assert outcome.pipeline.events_topic_ids()[retried] == 2
    sent = {event_id for post in outcome.posts for event_id in post.event_ids}
    assert sorted(event_id for (event_id,) in outcome.rows("SELECT event_id FROM registry_events")) == sorted(sent)
    activity = outcome.rows(f"SELECT actor, action, tag FROM image_activity WHERE activity_id LIKE '%:{retried}'")
    assert activity == [("alice", "push", "v1.0.0")]
    assert outcome.rows("SELECT count(*) - count(DISTINCT activity_id) FROM image_activity") == [(0,)]


def test_tag_history_shows_the_overwrite_with_old_and_new_digest_who_and_when(outcome: Outcome) -> None:
    rows = outcome.rows(
        "SELECT repository, tag, digest, previous_digest, is_overwrite, moved_by, valid_from_at, valid_to_at "
        "FROM tag_history ORDER BY repository, tag, valid_from_at"
    )
    named = [(repo, tag, outcome.name(d), outcome.name(p), over, by) for repo, tag, d, p, over, by, *_ in rows]
    assert named == [row[:6] for row in EXPECTED_TAG_HISTORY]
    intervals = {(repo, tag, outcome.name(d)): (start, end) for repo, tag, d, *_, start, end in rows}
    overwritten_at = intervals["team/app", "v1.0.0", "hotfix"][0]
    assert _within(overwritten_at, outcome.run.windows["alice overwrites v1.0.0"])
    assert intervals["team/app", "v1.0.0", "app-1"][1] == overwritten_at
    assert _within(intervals["other/app", "copied", "app-2"][1], outcome.run.windows["alice deletes"])
    still_current = {key for key, (_, end) in intervals.items() if end is None}
    assert still_current == {(repo, tag, digest) for repo, tag, digest, *_, ended in EXPECTED_TAG_HISTORY if not ended}


def test_proxy_only_rows_are_the_refused_requests_with_the_claimed_user_and_client(outcome: Outcome) -> None:
    rows = outcome.rows(
        "SELECT actor, client_addr, repository, tag, proxy_status, user_agent, proxy_bytes_sent > 0, audit_gap "
        "FROM image_activity WHERE source = 'proxy' ORDER BY occurred_at"
    )
    skopeo = outcome.rows("SELECT any_value(user_agent) FROM image_activity WHERE actor = 'ci-bot'")[0][0]
    curl = rows[0][5]
    assert curl.startswith("curl/")
    assert skopeo.startswith("skopeo/")
    assert rows == [
        *3 * [("bob", GUESSER, "team/app", "v1.1.0", 401, curl, True, False)],
        *10 * [("bob", GUESSER, "", None, 401, curl, True, False)],
        ("alice", SKOPEO, "team/app", "nosuchtag", 404, skopeo, True, False),
        ("alice", SKOPEO, "nosuch/repo", "latest", 404, skopeo, True, False),
    ]


def test_registry_rows_carry_the_proxy_line_of_their_request(outcome: Outcome) -> None:
    rows = outcome.rows(
        "SELECT action, is_check, digest, user_agent, proxy_user_agent, proxy_tls, proxy_bytes_sent, "
        "proxy_request_seconds FROM image_activity WHERE source = 'registry' AND NOT blob_only"
    )
    assert len(rows) == len([row for row in EXPECTED_ACTIVITY if row[7] is not None and row[7] < 400])
    for action, check, digest, agent, proxy_agent, tls, sent, seconds in rows:
        assert (proxy_agent, tls) == (agent, "TLSv1.3")
        assert seconds is not None
        assert seconds >= 0
        if action == "pull" and not check:
            assert sent == outcome.images.manifest_size(digest)  # the manifest itself went through nginx
        else:
            assert sent == 0  # HEAD, PUT, DELETE and mount answers carry no body


def test_a_layer_fetched_by_digest_is_a_marked_pull_with_its_bytes(outcome: Outcome) -> None:
    # one row per identity, client, repository and hour: blob requests are not joined to proxy lines one by one
    rows = outcome.rows(
        "SELECT actor, client_addr, digest, blob_bytes, counted_as::VARCHAR, proxy_line_key FROM counted_activity"
        " WHERE blob_only"
    )
    layer = outcome.images.app_1.layers[0]
    assert rows == [("bob", FETCHER, layer.digest, layer.size, "pull", None)]


def test_every_served_manifest_request_has_its_notification_and_no_audit_gap(outcome: Outcome) -> None:
    assert outcome.rows("SELECT count(*) FROM image_activity WHERE audit_gap") == [(0,)]
    served = outcome.rows(
        "SELECT line_key FROM access_log WHERE status BETWEEN 200 AND 299 "
        "AND (endpoint = 'manifest' OR (endpoint = 'upload' AND uri LIKE '%mount=%'))"
    )
    matched = outcome.rows(
        "SELECT DISTINCT proxy_line_key FROM image_activity WHERE source = 'registry' AND proxy_line_key IS NOT NULL"
    )
    assert sorted(served) == sorted(matched)


def test_events_keep_the_envelope_type_the_registry_declared(outcome: Outcome, setup: Setup) -> None:
    assert outcome.rows("SELECT DISTINCT envelope_type FROM registry_events") == [(setup.envelope,)]
    assert outcome.rows("SELECT count(*) FROM dead_letters") == [(0,)]


def test_analyze_flags_the_overwrite_the_password_burst_and_the_human_push_once(
    outcome: Outcome, tmp_path: Path
) -> None:
    config = tmp_path / "analyze.toml"
    config.write_text(ANALYZE_SETTINGS, encoding="utf-8")
    _analyze(outcome, config)
    rows = outcome.rows("SELECT finding_id, detection_id, subject, summary, evidence FROM findings")
    found = Counter((detection, subject) for _, detection, subject, *_ in rows)
    evidence = {(det, subject): (summary, json.loads(ev)["values"]) for _, det, subject, summary, ev in rows}

    overwrite = ("tag.release_overwrite", "team/app:v1.0.0")
    assert found[overwrite] == 1, sorted(found)
    summary, values = evidence[overwrite]
    assert " by alice " in summary, summary
    assert values["moved_by"] == "alice"
    # the digest the tag moved to is a column of the finding (what it is about), no longer an evidence value
    ((digest,),) = outcome.rows("SELECT digest FROM findings WHERE detection_id = 'tag.release_overwrite'")
    assert (outcome.name(values["previous_digest"]), outcome.name(digest)) == ("app-1", "hotfix")

    burst = ("proxy.bruteforce_by_client", GUESSER)
    assert found[burst] == 1, sorted(found)
    summary, values = evidence[burst]
    assert (values["failures_count"], values["users"]) == (10, ["bob"]), summary

    human = ("push.human_to_ci_repository", "alice to team/app")
    assert found[human] == 1, sorted(found)
    summary, values = evidence[human]
    assert values["ci_pushes_count"] == 3, summary

    _analyze(outcome, config)
    again = outcome.rows("SELECT finding_id, detection_id, subject, summary, evidence FROM findings")
    assert sorted(row[0] for row in again) == sorted(row[0] for row in rows)
    assert Counter((detection, subject) for _, detection, subject, *_ in again) == found


def test_a_manifest_deleted_with_its_tag_is_one_image_to_the_mass_delete_count(
    outcome: Outcome, tmp_path: Path
) -> None:
    """skopeo's delete is a DELETE by digest; the registry reports the digest and then each of its tags, under the
    request's id: tag.mass_delete counts them as the one image they are (thresholds down to one, so it fires)."""
    config = tmp_path / "mass-delete.toml"
    config.write_text(
        '[analytics.thresholds."tag.mass_delete"]\nmin_items = 1\nmin_observed_days = 0\n', encoding="utf-8"
    )
    _analyze(outcome, config)
    rows = outcome.rows("SELECT identity, repository, evidence FROM findings WHERE detection_id = 'tag.mass_delete'")
    assert [(identity, repository) for identity, repository, _ in rows] == [("alice", "other/app")], rows
    values = json.loads(rows[0][2])["values"]
    assert values["deleted_images_count"] == 1, values
    deletes = outcome.rows(
        "SELECT count(*), count(digest), count(tag), count(DISTINCT request_id) FROM image_activity "
        "WHERE source = 'registry' AND action = 'delete'"
    )
    assert deletes == [(2, 2, 1, 1)]  # the digest, then its tag (stored with the digest it named), one request


def _analyze(outcome: Outcome, config: Path) -> str:
    """One run of the real ``regaudit analyze`` on the scenario's store, as an operator runs it."""
    completed = subprocess.run(
        [*processes.REGAUDIT, "--config", str(config), "analyze"],
        env=outcome.pipeline.env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    return completed.stdout


def _bytes(images: Images, name: str | None) -> int:
    return images.blob_bytes(name) if name else 0


def _native(name: str | None, architecture: str) -> str | None:
    return name.replace("multi/native", f"multi/{architecture}") if name else name


def _within(moment: datetime, window: tuple[float, float]) -> bool:
    return window[0] - 0.5 <= moment.timestamp() <= window[1] + 0.5


def _difference(found: Counter[Any], expected: Counter[Any]) -> str:
    missing, extra = expected - found, found - expected
    return (
        "missing:\n"
        + "\n".join(map(str, missing.elements()))
        + "\nunexpected:\n"
        + "\n".join(map(str, extra.elements()))
    )
