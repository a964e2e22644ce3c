"""Batch hooks: work that must commit atomically with the rows of an ingest batch.

A hook is ``hook(con, batch_id, settings)``; it runs inside the DuckDB transaction of every batch, after the
canonical rows are inserted (rows new in this batch carry ``batch_id``) and the derived tables updated, and
before COMMIT. Whatever it writes commits or rolls back with the batch, so a crash can neither lose its work
nor do it twice (a replayed batch inserts no new rows, so it has nothing new to see). Examples: extending the
tamper-evidence hash chain over the batch, and queueing streaming alerts for suspicious pushes.

``BATCH_HOOKS`` lists them as ``module:function``, in the order they run; each decides from the settings
whether it has anything to do. Hooks must be quick (they hold the store's write lock) and must not do network
I/O: they queue work for others.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import duckdb

if TYPE_CHECKING:
    from regaudit.settings import Settings

BatchHook = Callable[[duckdb.DuckDBPyConnection, int], None]

#: module:function, run in this order inside each batch's transaction.
BATCH_HOOKS: list[str] = [
    "regaudit.evidence.chain:seal_batch",
    "regaudit.analytics.alerts.stream:queue_stream_alerts",
]


def load_hooks(settings: Settings, names: Sequence[str] | None = None) -> list[BatchHook]:
    """The configured hooks bound to the settings."""
    hooks: list[BatchHook] = []
    for name in BATCH_HOOKS if names is None else names:
        module_name, _, function_name = name.partition(":")
        function = getattr(importlib.import_module(module_name), function_name)

        def bound(con: duckdb.DuckDBPyConnection, batch_id: int, function=function) -> None:  # type: ignore[no-untyped-def]
            function(con, batch_id, settings)

        hooks.append(bound)
    return hooks
