"""Compliance reports an auditor can verify from the report directory alone.

The engine, for the CLI (``regaudit report``) and the dashboard's reports page alike::

    from regaudit.analytics.reports import Period, Scope, build_report

    result = build_report(
        settings.store.path,                       # the DuckDB store (opened read-only, briefly)
        Period.parse("2025-Q1"),                   # or Period(start, end): UTC, end excluded
        Scope(repositories=("prod/*",), identities=(), actions=("push", "delete")),  # empty: all
        Path("reports/q1-prod"),                   # a new or empty directory
        settings.reports,                          # ReportsSettings: signing key, PDF, rows shown, chain check
        lock_timeout=settings.store.lock_timeout_seconds,
        sign=True,                                 # False: no signature (report verify says so)
    )
    result.directory, result.totals["pulls"], result.chain_head, result.chain_ok, result.files

``build_report`` raises ``SigningKeyError`` (no or bad key while ``sign``), ``PdfError`` (Chromium missing or
failing while ``settings.pdf``), ``TerminalError`` (the directory is not empty) and ``StoreLocked`` (transient).
``verify_report(directory, public_key=None) -> ReportCheck`` checks a directory (``.ok``, ``.problems``).

The directory: ``activity.csv``/``.jsonl``/``.parquet`` (the rows, byte-identical for the same store and inputs),
``summary_repositories.csv``, ``summary_identities.csv``, ``findings.csv``, ``report.html`` and ``report.pdf``,
``signer.pub.pem``, ``SHA256SUMS``, ``manifest.json`` and ``manifest.sig``. Modules: ``scope`` (period, scope),
``queries`` (store SQL), ``summaries``, ``exports`` (files), ``document``/``tables``/``charts``/``style`` (HTML),
``pdf`` (Chromium), ``manifest`` and ``verification``, ``engine`` (``build_report``), ``command`` (CLI),
``settings`` (``[reports]``).
"""

from __future__ import annotations

import importlib
from typing import Any

#: name -> module; imported on first use, so that loading the settings (which import ``reports.settings``)
#: does not load DuckDB, pyarrow and cryptography
_EXPORTS = {
    "Period": "scope", "Scope": "scope", "ReportResult": "engine", "build_report": "engine",
    "ReportCheck": "verification", "verify_report": "verification",
}  # fmt: skip
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
