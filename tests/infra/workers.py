"""Pytest plugin: what pytest-xdist workers saw, for the summary the controller prints.

``make test`` runs two workers. The summary plugins (disk_watch, the broker's and the registry stacks' start times)
record what they see in the process that runs the tests; under xdist that is a worker, and only the controller prints
the summary. A worker hands its figures over with :func:`send` at its session's end (they travel in xdist's
``workeroutput``); the controller gathers them as each worker goes down, and the summaries read them with
:func:`gathered`. In a run without workers nothing is sent and nothing gathered.
"""

from __future__ import annotations

from typing import Any

import pytest

#: the keys this project sends, apart from xdist's own
PREFIX = "regaudit."
_GATHERED = pytest.StashKey[dict[str, list[Any]]]()


def send(config: pytest.Config, key: str, value: Any) -> None:
    """On an xdist worker, hand ``value`` (plain data) to the controller's summary; elsewhere nothing."""
    output = getattr(config, "workeroutput", None)
    if output is not None:
        output[PREFIX + key] = value


def gathered(config: pytest.Config, key: str) -> list[Any]:
    """What each worker sent under ``key``, in the order the workers went down."""
    return config.stash.get(_GATHERED, {}).get(PREFIX + key, [])


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: object) -> None:
    """xdist's hook on the controller: a worker finished (or crashed: then it sent nothing)."""
    found = node.config.stash.setdefault(_GATHERED, {})
    for key, value in getattr(node, "workeroutput", {}).items():
        if key.startswith(PREFIX):
            found.setdefault(key, []).append(value)
