"""Pytest plugin: the registry behind nginx, both ways production runs it (DESIGN.md section 7).

- ``registry_stack_nginx_auth``: nginx checks the passwords (``auth_basic``), the registry has no auth.
- ``registry_stack_registry_auth``: the registry checks them (htpasswd), nginx does TLS and the log only.

Each is function-scoped: a fresh registry storage, nginx log and notification queue per test (a whole stack
starts in about 0.1 s here). Both send their notifications to ``stack_notification_endpoint``, which is
a :class:`RecordingReceiver` (``notification_receiver``) unless a test module or conftest overrides that
fixture, e.g. with the URL and token of a running regaudit webhook. The users and passwords are
:data:`STACK_USERS`. The terminal summary reports how long the stacks took to start.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Iterator

import pytest

from tests.infra import workers
from tests.infra.nginx import AuthMode
from tests.infra.receiver import RecordingReceiver
from tests.infra.registry import NotificationEndpoint
from tests.infra.stack import RegistryStack

STACK_USERS = {"ci-bot": "ci-bot-secret-1", "alice": "alice-secret-2"}
STACK_TOKEN = "stack-webhook-token"

_start_seconds = pytest.StashKey[list[float]]()


@pytest.fixture
def notification_receiver() -> Iterator[RecordingReceiver]:
    """A recording HTTP endpoint for the registry's notifications."""
    with RecordingReceiver() as receiver:
        yield receiver


@pytest.fixture
def stack_notification_endpoint(notification_receiver: RecordingReceiver) -> NotificationEndpoint:
    """Where the stacks send their events; override it to point them at the real webhook."""
    return NotificationEndpoint(notification_receiver.url, STACK_TOKEN)


def _stack(request: pytest.FixtureRequest, endpoint: NotificationEndpoint, auth: AuthMode) -> Iterator[RegistryStack]:
    started = time.monotonic()
    with RegistryStack(endpoint, STACK_USERS, auth=auth) as stack:
        request.config.stash.setdefault(_start_seconds, []).append(time.monotonic() - started)
        yield stack


@pytest.fixture
def registry_stack_nginx_auth(
    request: pytest.FixtureRequest, stack_notification_endpoint: NotificationEndpoint
) -> Iterator[RegistryStack]:
    """nginx with ``auth_basic`` (TLS, JSON access log) in front of a registry without auth."""
    yield from _stack(request, stack_notification_endpoint, "nginx")


@pytest.fixture
def registry_stack_registry_auth(
    request: pytest.FixtureRequest, stack_notification_endpoint: NotificationEndpoint
) -> Iterator[RegistryStack]:
    """nginx (TLS, JSON access log, ``auth_basic off``) in front of a registry doing its own htpasswd auth."""
    yield from _stack(request, stack_notification_endpoint, "registry")


def pytest_sessionfinish(session: pytest.Session) -> None:
    workers.send(session.config, "stack_start_seconds", session.config.stash.get(_start_seconds, []))


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    seconds = [*config.stash.get(_start_seconds, [])]
    for sent in workers.gathered(config, "stack_start_seconds"):
        seconds += sent
    if seconds:
        terminalreporter.write_line(
            f"registry stacks: {len(seconds)} started, median {statistics.median(seconds):.2f}s, "
            f"max {max(seconds):.2f}s"
        )
