"""ECR, ACR, Artifact Registry and Docker Hub's fixtures as their real transports deliver them, for
``tests/e2e/sources.py``: ``regaudit poll ecr`` reading a CloudTrail log file from moto's S3 server and EventBridge's
POSTs to the webhook; ACR's webhooks and ``regaudit import --source acr`` of a storage-account blob (not a second,
SASL broker: ``tests/ingest/test_acr_kafka.py`` covers the Event Hub endpoint); Artifact Registry's Pub/Sub
messages on a Kafka topic of ``gar.topics``; ``regaudit poll dockerhub`` and ``regaudit poll ghcr`` against real
HTTP servers speaking Hub's and GitHub's APIs with their recorded pages."""

from __future__ import annotations

import gzip
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import boto3
import httpx
from kafka import KafkaProducer

from tests.e2e.sources_self_hosted import create_topic
from tests.e2e.wire import WEBHOOK_TOKEN, Wire
from tests.ingest import processes
from tests.ingest.moto_server import CREDENTIALS
from tests.ingest.test_dockerhub_audit import PAT, USER, HubApi
from tests.ingest.test_gar_kafka import envelope
from tests.ingest.test_ghcr_audit import TOKEN as GITHUB_TOKEN
from tests.ingest.test_ghcr_audit import GitHubApi

FIXTURES = Path(__file__).parents[1] / "fixtures"
ECR_REGISTRY, ACR_REGISTRY, GAR_REGISTRY, DOCKERHUB_REGISTRY = "ecr-prod", "acr-prod", "gar-prod", "dockerhub"
GHCR_REGISTRY = "ghcr"
#: moto accepts any credentials; boto3 needs some to sign with. The pipeline's fixture adds AWS_ENDPOINT_URL.
AWS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}
TRAIL = "team/AWSLogs/123456789012/CloudTrail/us-east-2/2019/04/15/"
ECR_ARN = "arn:aws:sts::123456789012:user/Mary_Major"  # the CloudTrail samples' principal
ACR_IDENTITY = "user@example.com"  # the resource log sample's identity
GAR_PULLER = "service-628324858917@container-analysis.iam.gserviceaccount.com"  # an audit log sample's principal
DOCKERHUB_ACTOR = "example-ci-user"  # the Hub client test's actor, without its token's label


def ecr_settings(events_topic: str) -> dict[str, str]:
    del events_topic
    return AWS | {"REGAUDIT_ECR__POLL_SECONDS": "0.1"}


def deliver_ecr(wire: Wire) -> None:
    """A trail's log file (gzip JSON ``{"Records": [...]}`` under CloudTrail's key layout) put in moto's S3 and read
    by ``regaudit poll ecr`` into Kafka; EventBridge's image actions POSTed as an API destination sends them."""
    s3 = boto3.client("s3", endpoint_url=wire.env["AWS_ENDPOINT_URL"], **CREDENTIALS)
    bucket = f"sources-e2e-{wire.workdir.name.lower()}"
    names = ("cloudtrail_batch_get_image", "cloudtrail_put_image", "cloudtrail_lifecycle_expiry")
    records = [json.loads((FIXTURES / "ecr" / f"{name}.json").read_bytes()) for name in names]
    s3.create_bucket(Bucket=bucket)
    key = f"{TRAIL}123456789012_CloudTrail_us-east-2_20190415T1650Z_e2e.json.gz"
    s3.put_object(Bucket=bucket, Key=key, Body=gzip.compress(json.dumps({"Records": records}).encode()))
    s3.close()
    argv = ["poll", "ecr", "--bucket", bucket, "--prefix", "team", "--instance", ECR_REGISTRY,
            "--endpoint-url", wire.env["AWS_ENDPOINT_URL"], "--cursor", str(wire.workdir / "ecr.cursor"),
            "--until-idle", "0.5"]  # fmt: skip
    poller = processes.start(argv, wire.env, wire.workdir / "poll-ecr.log")
    headers = {"Authorization": f"Bearer {WEBHOOK_TOKEN}", "Content-Type": "application/json"}
    for name in ("eventbridge_image_push", "eventbridge_image_delete"):
        body = (FIXTURES / "ecr" / f"{name}.json").read_bytes()
        response = httpx.post(f"{wire.url}/events/ecr/{ECR_REGISTRY}", content=body, headers=headers)
        assert response.status_code == 200, response.text
    assert poller.wait(60) == 0, (wire.workdir / "poll-ecr.log").read_text()[-2000:]


def deliver_acr(wire: Wire) -> None:
    """ACR's webhook (its custom header the bearer token) and a storage account's resource log blob (PT1H.json:
    one record a line), imported straight into the store before ``regaudit consume`` opens it."""
    headers = {"Authorization": f"Bearer {WEBHOOK_TOKEN}", "Content-Type": "application/json"}
    for name in ("webhook_push", "webhook_delete"):
        body = (FIXTURES / "acr" / f"{name}.json").read_bytes()
        response = httpx.post(f"{wire.url}/events/acr/{ACR_REGISTRY}", content=body, headers=headers)
        assert response.status_code == 200, response.text
    blob = wire.workdir / "PT1H.json"
    blob.write_bytes((FIXTURES / "acr" / "resource_log_pull_404.json").read_bytes().replace(b"\n", b"") + b"\n")
    argv = ["import", "--source", "acr", "--registry", ACR_REGISTRY, "--no-progress", str(blob)]
    imported = processes.start(argv, wire.env, wire.workdir / "import-acr.log")
    assert imported.wait(60) == 0, (wire.workdir / "import-acr.log").read_text()[-2000:]


def gar_settings(events_topic: str) -> dict[str, str]:
    return {"REGAUDIT_GAR__TOPICS": json.dumps({f"{events_topic}.gar": GAR_REGISTRY})}


def produce_gar_messages(wire: Wire) -> None:
    """Audit log entries as a Pub/Sub bridge writes them (the message's data) and the gcr notification in its push
    envelope."""
    [topic] = json.loads(wire.env["REGAUDIT_GAR__TOPICS"])
    create_topic(wire, topic)
    entries = ["audit_get_manifest_not_found", "audit_head_manifest_not_found", "audit_get_tags_denied"]
    values = [(FIXTURES / "gar" / f"{name}.json").read_bytes() for name in entries]
    values.append(envelope((FIXTURES / "gar" / "gcr_insert.json").read_bytes().strip()))
    producer = KafkaProducer(bootstrap_servers=wire.env["REGAUDIT_KAFKA__BOOTSTRAP_SERVERS"].split(","), acks="all")
    try:
        for value in values:
            producer.send(topic, value).get(30)
    finally:
        producer.close()


def dockerhub_settings(events_topic: str) -> dict[str, str]:
    """One window from the recorded events' hour to the clock, one event a page, as the poller's own test."""
    del events_topic
    return {"REGAUDIT_DOCKERHUB__SECRET": PAT, "REGAUDIT_DOCKERHUB__START": "2026-01-02T03:00:00Z",
            "REGAUDIT_DOCKERHUB__WINDOW_SECONDS": "1e9", "REGAUDIT_DOCKERHUB__PAGE_SIZE": "1",
            "REGAUDIT_DOCKERHUB__POLL_SECONDS": "0.1"}  # fmt: skip


def poll_dockerhub(wire: Wire) -> None:
    """``regaudit poll dockerhub`` into Kafka from a real HTTP server answering ``POST /v2/auth/token`` and
    ``GET /v2/auditlogs/example-org`` with the spec's and a Hub client's recorded pages."""
    HubApi.requests, HubApi.logins, HubApi.status, HubApi.hostile, HubApi.expire_once = [], 0, 200, [], False
    poll_api(wire, HubApi, ["dockerhub", "--account", "example-org", "--identifier", USER, "--instance",
                            DOCKERHUB_REGISTRY])  # fmt: skip


def import_dockerhub_usage(wire: Wire) -> None:
    """Hub's usage export (the pulls CSV an organization owner downloads) through ``regaudit import --source
    dockerhub-usage``, straight into the store before ``regaudit consume`` opens it, beside the audit log's rows."""
    usage = FIXTURES / "dockerhub" / "usage-pulls-constructed.csv"
    argv = ["import", "--source", "dockerhub-usage", "--registry", DOCKERHUB_REGISTRY, "--no-progress", str(usage)]
    imported = processes.start(argv, wire.env, wire.workdir / "import-dockerhub-usage.log")
    assert imported.wait(60) == 0, (wire.workdir / "import-dockerhub-usage.log").read_text()[-2000:]


def ghcr_settings(events_topic: str) -> dict[str, str]:
    del events_topic
    return {"REGAUDIT_GHCR__TOKEN": GITHUB_TOKEN, "REGAUDIT_GHCR__PER_PAGE": "3", "REGAUDIT_GHCR__POLL_SECONDS": "0.1"}


def poll_ghcr(wire: Wire) -> None:
    """``regaudit poll ghcr`` into Kafka from a real HTTP server answering ``GET /orgs/Example-Org/audit-log`` with an
    organization's recorded events in two pages joined by a ``Link`` header."""
    GitHubApi.requests, GitHubApi.status, GitHubApi.rate_limited, GitHubApi.hostile, GitHubApi.added = (
        [], 200, False, [], []
    )  # fmt: skip
    poll_api(wire, GitHubApi, ["ghcr", "--org", "Example-Org", "--instance", GHCR_REGISTRY], url_option="--api-url")


def poll_api(wire: Wire, api: type[BaseHTTPRequestHandler], argv: list[str], url_option: str = "--url") -> None:
    """``regaudit poll <argv>`` against ``api`` served on a free port, until it has been idle a second."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), api)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    name = argv[0]
    log = wire.workdir / f"poll-{name}.log"
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        poll = ["poll", *argv, url_option, url, "--cursor", str(wire.workdir / f"{name}.cursor"), "--until-idle", "1"]
        poller = processes.start(poll, wire.env, log)
        assert poller.wait(60) == 0, log.read_text()[-2000:]
    finally:
        server.shutdown()
        server.server_close()
