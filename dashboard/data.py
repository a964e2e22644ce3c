"""How pages get data: each query on its own short read-only connection, its result cached for a short while;
and the one write the dashboard makes, a finding's status, through ``regaudit.analytics.findings``.

The concurrency rule of DESIGN.md section 3: the consumer writes in short batches and ``regaudit analyze``
writes its findings in one short transaction; the dashboard opens the file read-only per query
(``regaudit.ingest.store.reader`` retries, bounded, while a writer holds it) and closes it at once, so nobody
waits long on anybody. Results are cached (``st.cache_data``) for ``cache_ttl_seconds``; a status change clears
the cache so the page shows it at once.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Concatenate, ParamSpec

import duckdb
import pandas as pd
import streamlit as st

from regaudit.analytics import findings
from regaudit.dashboard.auth import Principal, require_analyst
from regaudit.dashboard.runtime import Runtime
from regaudit.ingest import store

log = logging.getLogger(__name__)

P = ParamSpec("P")
Query = Callable[Concatenate[duckdb.DuckDBPyConnection, P], pd.DataFrame]

# DuckDB refuses a read-write open in a process that has the file open read-only (another session's query).
_SAME_PROCESS_CONFLICT = "different configuration"
_SAME_PROCESS_RETRY_SECONDS = 10.0


@contextlib.contextmanager
def connection(db: Path, lock_timeout: float, write: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
    """A short-lived connection in UTC: read-only unless ``write``. Besides the store's own retry while
    another process holds the file, this waits (bounded) while another session of this process has it open
    the other way, which DuckDB refuses within one process."""
    deadline = time.monotonic() + _SAME_PROCESS_RETRY_SECONDS
    while True:
        stack = contextlib.ExitStack()
        opener = store.writer(db, lock_timeout) if write else store.reader(db, lock_timeout)
        try:
            con = stack.enter_context(opener)
        except duckdb.ConnectionException as error:
            if _SAME_PROCESS_CONFLICT not in str(error) or time.monotonic() >= deadline:
                raise
            time.sleep(0.05)
            continue
        with stack:
            con.execute("SET TimeZone = 'UTC'")
            yield con
        return


def run(runtime: Runtime, query: Query[P], *args: P.args, **kwargs: P.kwargs) -> pd.DataFrame:
    """``query(connection, *args, **kwargs)``, read-only, its result cached for the configured time."""
    name = f"{query.__module__}.{query.__qualname__}"
    return _cached_runner(runtime.cache_ttl_seconds)(
        str(runtime.db), runtime.lock_timeout_seconds, name, args, kwargs, _query=query
    )


def _execute(
    db: str,
    lock_timeout: float,
    name: str,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    _query: Callable[..., pd.DataFrame],
) -> pd.DataFrame:
    started = time.perf_counter()
    with connection(Path(db), lock_timeout) as con:
        result = _query(con, *args, **kwargs)
    log.debug("query=%s rows=%d seconds=%.3f", name, len(result), time.perf_counter() - started)
    return result


_RUNNERS: dict[float, Callable[..., pd.DataFrame]] = {}


def _cached_runner(ttl: float) -> Callable[..., pd.DataFrame]:
    """``_execute`` behind ``st.cache_data`` with this TTL (the arguments form the key; ``_query`` does not)."""
    if ttl not in _RUNNERS:
        _RUNNERS[ttl] = st.cache_data(ttl=ttl, show_spinner=False, max_entries=2000)(_execute)
    return _RUNNERS[ttl]


def clear_cache() -> None:
    for runner in _RUNNERS.values():
        runner.clear()  # type: ignore[attr-defined]


def change_status(
    runtime: Runtime,
    principal: Principal,
    finding_id: str,
    status: findings.Status,
    reason: str | None,
    now: datetime | None = None,
) -> None:
    """Acknowledge, suppress or reopen a finding as ``principal`` (analysts only); ``regaudit analyze`` keeps it.

    Raises ``PermissionError`` for a viewer, ``ValueError`` for a suppression without a reason and
    ``KeyError`` for an unknown finding.
    """
    require_analyst(principal)
    reason = (reason or "").strip() or None
    with connection(runtime.db, runtime.lock_timeout_seconds, write=True) as con:
        findings.set_status(con, finding_id, status, reason, principal.name, now or datetime.now(UTC))
    log.info("finding=%s status=%s by=%s", finding_id, status, principal.name)
    clear_cache()
