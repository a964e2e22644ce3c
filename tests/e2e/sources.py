"""Each registry source's real fixtures, as its real transport delivers them (issue 17, deliverable 6).

A ``WireSource`` says how a source's fixtures reach regaudit (a POST to the webhook, a log ``regaudit ship-logs``
follows), under which registry name its rows land, and what a person must find in ``image_activity`` afterwards
(who pushed or pulled what). ``SOURCES`` lists them; **a new source joins the end-to-end test with one entry
there** (its kind as in ``schemas/sources.py``'s ``CAPABILITIES``).
"""

from __future__ import annotations

import json
import socket
import time

import httpx

from regaudit.dashboard.queries.common import ANONYMOUS
from tests.e2e import sources_hosted as hosted
from tests.e2e import sources_self_hosted as self_hosted
from tests.e2e.wire import WEBHOOK_TOKEN, Wire, WireSource
from tests.ingest import processes
from tests.ingest.harbor_api import HarborAuditAPI
from tests.ingest.test_harbor_kafka import FIXTURES, HARBOR_POSTS
from tests.samples import SAMPLES, posts

#: the webhook's registry name for a POST to /events with none (webhook.registry's default)
DEFAULT_REGISTRY = "default"
NGINX_LOG = SAMPLES / "nginx-1.22-registry.access.json.log"
#: Distribution 2.8 behind that nginx: the same skopeo session, seen by the registry
DISTRIBUTION_CAPTURE = SAMPLES / "distribution-2.8.2-behind-nginx.events.jsonl"
HARBOR_ROBOT = "robot$harbor+wHSYCuGD-Trivy-8e2e7505-d1e6-11ed-9e71-0242ac130009"


def post_distribution(wire: Wire) -> None:
    with httpx.Client(timeout=30) as client:
        for item in posts(DISTRIBUTION_CAPTURE):
            headers = {"Authorization": f"Bearer {WEBHOOK_TOKEN}", "Content-Type": item["headers"]["Content-Type"]}
            response = client.post(f"{wire.url}/events", content=json.dumps(item["body"]), headers=headers)
            assert response.status_code == 200, response.text


def ship_nginx(wire: Wire) -> None:
    log = wire.workdir / "access.json.log"
    log.write_bytes(NGINX_LOG.read_bytes())
    wire.ship(log)


def post_harbor_fixtures(wire: Wire) -> None:
    """Harbor's documented session; its auth header is the bare token (a dead letter among them: not JSON)."""
    with httpx.Client(timeout=30) as client:
        for name, content_type in HARBOR_POSTS:
            headers = {"Content-Type": content_type, "Authorization": WEBHOOK_TOKEN}
            body = (FIXTURES / name).read_bytes()
            response = client.post(f"{wire.url}/events/harbor/harbor-prod", content=body, headers=headers)
            assert response.status_code == 200, response.text


HARBOR_AUDIT = FIXTURES / "audit"
AUDIT_ROBOT, AUDIT_SECRET = "robot$audit-reader", "sources-e2e-audit-secret"  # noqa: S105 - the test API's account


def poll_harbor_audit_log(wire: Wire) -> None:
    """``regaudit poll harbor`` against Harbor's audit-log API (a real HTTP server serving the audit rows of the
    webhook session's events), into Kafka, until it has read everything."""
    rows = json.loads((HARBOR_AUDIT / "audit-log-exts.webhook-events.json").read_text())
    # caught up, the poller rests poll_seconds (30) before it finds nothing new: --until-idle 1 would wait them out
    env = wire.env | {"REGAUDIT_HARBOR_AUDIT__PASSWORD": AUDIT_SECRET, "REGAUDIT_HARBOR_AUDIT__POLL_SECONDS": "0.1"}
    argv = ["poll", "harbor", "--instance", "harbor-audit", "--username", AUDIT_ROBOT, "--until-idle", "1",
            "--cursor", str(wire.workdir / "harbor-audit.cursor")]  # fmt: skip
    with HarborAuditAPI(rows, AUDIT_ROBOT, AUDIT_SECRET) as api:
        poller = processes.start([*argv, "--url", api.url], env, wire.workdir / "poll-harbor.log")
        assert poller.wait(60) == 0, (wire.workdir / "poll-harbor.log").read_text()[-2000:]


def forward_harbor_audit_log(wire: Wire) -> None:
    """``regaudit listen-syslog`` receiving the same rows as Harbor's audit log forwarding sends them: one TCP
    connection per line."""
    port = processes.free_port()
    argv = ["listen-syslog", "--port", str(port), "--instance", "harbor-syslog", "--until-idle", "2"]
    listener = processes.start(argv, wire.env, wire.workdir / "listen-syslog.log")
    for line in (HARBOR_AUDIT / "audit-forward.webhook-events.log").read_bytes().splitlines(keepends=True):
        _send_when_listening(port, line)
    assert listener.wait(60) == 0, (wire.workdir / "listen-syslog.log").read_text()[-2000:]


def _send_when_listening(port: int, line: bytes) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=5) as connection:
                connection.sendall(line)
                return
        except ConnectionRefusedError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


#: who did what in the audit log of the webhook session: the same people, the delete by digest (no tag)
HARBOR_AUDIT_ACTIVITY = frozenset({
    ("admin", "pull", "library/busybox", None, "registry"),
    ("harbor-jobservice", "push", "harbor/alpine", None, "registry"),
    (HARBOR_ROBOT, "pull", "harbor/alpine", None, "registry"),
    ("harbor-jobservice", "delete", "harbor/alpine", None, "registry"),
})  # fmt: skip

SOURCES = [
    WireSource("distribution", DEFAULT_REGISTRY, post_distribution,
               frozenset({("ci-bot", "push", "team/app", "v1.0.0", "registry"),
                          ("alice", "pull", "team/app", "v1.0.0", "registry")})),
    WireSource("nginx", DEFAULT_REGISTRY, ship_nginx,
               frozenset({("alice", "pull", "team/app", "nosuchtag", "proxy"),  # a 404
                          ("alice", "pull", "team/app", "v1.0.0", "proxy")})),  # the 401 before the token
    WireSource("harbor", "harbor-prod", post_harbor_fixtures,
               frozenset({("admin", "pull", "library/busybox", None, "registry"),
                          ("harbor-jobservice", "push", "harbor/alpine", None, "registry"),
                          (HARBOR_ROBOT, "pull", "harbor/alpine", None, "registry"),
                          ("harbor-jobservice", "delete", "harbor/alpine", "3.8", "registry")})),
    WireSource("harbor-audit", "harbor-audit", poll_harbor_audit_log, HARBOR_AUDIT_ACTIVITY),
    WireSource("harbor-syslog", "harbor-syslog", forward_harbor_audit_log, HARBOR_AUDIT_ACTIVITY),
    WireSource("quay", self_hosted.QUAY_REGISTRY, self_hosted.produce_quay_forwarded_logs,
               frozenset({("init", "push", "init/test-image", "v1", "registry"),
                          ("init", "push", "init/shared", "v2", "registry")}), self_hosted.quay_settings),
    WireSource("artifactory", self_hosted.ARTIFACTORY_REGISTRY, self_hosted.post_artifactory_webhook,
               frozenset({(ANONYMOUS, "push", "docker-remote-cache/library/ubuntu", "latest", "registry")})),
    WireSource("artifactory-request", DEFAULT_REGISTRY, self_hosted.ship_artifactory_request_log,  # no registry name
               frozenset({("user", "pull", "registry-docker-remote/alpine/curl", "latest", "proxy")})),
    WireSource("gitlab", self_hosted.GITLAB_REGISTRY, self_hosted.post_gitlab_notifications,
               frozenset({("root", "push", "root/test", "latest", "registry")})),
    WireSource("ecr", hosted.ECR_REGISTRY, hosted.deliver_ecr,
               frozenset({(hosted.ECR_ARN, "pull", "testrepo", "latest", "registry"),
                          (hosted.ECR_ARN, "push", "testrepo", "latest", "registry"),
                          (ANONYMOUS, "delete", "testrepo", None, "registry"),  # the lifecycle policy's expiry
                          (ANONYMOUS, "push", "my-repository-name", "latest", "registry")}),  # EventBridge's
               hosted.ecr_settings),
    WireSource("acr", hosted.ACR_REGISTRY, hosted.deliver_acr,
               frozenset({(ANONYMOUS, "push", "hello-world", "v1", "registry"),  # webhooks name no actor
                          (ANONYMOUS, "delete", "hello-world", None, "registry"),
                          (hosted.ACR_IDENTITY, "pull", "tipster-service", None, "registry")})),  # refused: 404
    WireSource("gar", hosted.GAR_REGISTRY, hosted.produce_gar_messages,
               frozenset({(ANONYMOUS, "push", "freshly-docker/freshly", "PIG-267-refactor-email-service", "registry"),
                          (hosted.GAR_PULLER, "pull", "ons-blaise-v2-prod/gcf-artifacts/publish_msg/cache", None,
                           "registry")}),  # refused: the manifest is not found
               hosted.gar_settings),
    WireSource("dockerhub", hosted.DOCKERHUB_REGISTRY, hosted.poll_dockerhub,
               frozenset({(hosted.DOCKERHUB_ACTOR, "push", "example-org/example-repo", "latest", "registry"),
                          ("docker", "push", "docker/example", "latest", "registry")}), hosted.dockerhub_settings),
    WireSource("dockerhub-usage", hosted.DOCKERHUB_REGISTRY, hosted.import_dockerhub_usage,
               frozenset({(hosted.DOCKERHUB_ACTOR, "pull", "example-org/example-repo", None, "registry"),
                          ("docker", "pull", "docker/example", "latest", "registry")})),  # an hour's pulls
    # GitHub publishes no real package event: the recorded organization's events are log entries, no activity
    WireSource("ghcr", hosted.GHCR_REGISTRY, hosted.poll_ghcr, frozenset(), hosted.ghcr_settings),
]  # fmt: skip
