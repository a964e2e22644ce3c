"""The registry's own notification queue as a signal (issue 19). A Distribution registry holds undelivered
notifications in memory and sends them one at a time (FORMATS.md section 1.6); its debug endpoint counts them in
``/debug/vars`` (expvar): ``registry.notifications.endpoints[].Metrics.Pending``, every event not yet delivered,
the one being retried included. Distribution 3.x also has the ``registry_notifications_pending_total`` gauge on its
Prometheus ``/metrics``; 2.8 does not. The README tells operators to watch them; this checks what the real
registries report: Debian's docker-registry 2.8, and 3.x as ``.ci/install-registry-v3.sh`` builds it."""

from __future__ import annotations

import re
import urllib.request
from pathlib import Path

import pytest

from tests.e2e.registry_v3 import registry_v3_binary
from tests.infra.oci import build_image
from tests.infra.process import wait_until
from tests.infra.receiver import RecordingReceiver
from tests.infra.registry import NotificationEndpoint
from tests.infra.stack import RegistryStack
from tests.infra.stack_fixtures import STACK_TOKEN, STACK_USERS

pytestmark = pytest.mark.stack


def pending(stack: RegistryStack) -> int:
    [endpoint] = stack.registry.debug_vars()["registry"]["notifications"]["endpoints"]
    return int(endpoint["Metrics"]["Pending"])


def prometheus_pending(stack: RegistryStack) -> float | None:
    with urllib.request.urlopen(f"{stack.registry.debug_url}/metrics", timeout=5) as response:
        text = response.read().decode()
    found = re.search(r'^registry_notifications_pending_total\{endpoint="regaudit"\} (\S+)$', text, re.MULTILINE)
    return None if found is None else float(found.group(1))


@pytest.mark.parametrize("version", ["2.8", "3"])
def test_the_registry_counts_the_notifications_it_holds_while_the_webhook_fails(
    version: str, notification_receiver: RecordingReceiver, tmp_path: Path
) -> None:
    binary = "docker-registry" if version == "2.8" else registry_v3_binary()
    endpoint = NotificationEndpoint(notification_receiver.url, STACK_TOKEN)
    notification_receiver.fail_next(100_000, 503)  # the webhook down: the registry retries its first event
    image = build_image(tmp_path / "image", "v1", seed="queue-image", layer_count=3)
    with RegistryStack(endpoint, STACK_USERS, auth="registry", registry_binary=binary) as stack:
        stack.skopeo.push(image, "team/app", "v1", stack.creds("ci-bot"), check=True)

        # 3 layers, the config and the manifest: 5 events, all pending, the one being retried too
        assert wait_until(lambda: pending(stack) == 5, timeout=15), pending(stack)
        assert prometheus_pending(stack) == (None if version == "2.8" else 5)
        notification_receiver.recover()
        assert wait_until(lambda: pending(stack) == 0, timeout=15), pending(stack)
        assert prometheus_pending(stack) == (None if version == "2.8" else 0)
    assert len(notification_receiver.events()) == 5
