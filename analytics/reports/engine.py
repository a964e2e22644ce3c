"""``build_report``: one compliance report directory from the store, for a period and a scope.

The store is held read-only only while the report's queries and the chain check run (one snapshot); everything
else is computed from the extracted rows in memory, so the report's totals follow from exactly the rows it ships.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from regaudit import __version__
from regaudit.analytics.reports import document, exports, manifest, pdf
from regaudit.analytics.reports.manifest import FileEntry
from regaudit.analytics.reports.queries import Extract, extract, manifest_queries
from regaudit.analytics.reports.scope import Period, Scope, iso
from regaudit.analytics.reports.settings import ReportsSettings
from regaudit.analytics.reports.summaries import Summaries, summarize
from regaudit.errors import TerminalError
from regaudit.evidence import chain, decisions, signing
from regaudit.evidence.verify import verify
from regaudit.ingest import store

log = logging.getLogger(__name__)

#: file name -> (what it holds, format)
DATA_FILES: tuple[tuple[str, str, exports.Format], ...] = (
    ("activity.csv", "activity", "csv"),
    ("activity.jsonl", "activity", "jsonl"),
    ("activity.parquet", "activity", "parquet"),
    ("summary_repositories.csv", "repositories", "csv"),
    ("summary_identities.csv", "identities", "csv"),
    ("findings.csv", "findings", "csv"),
)


@dataclass(frozen=True)
class ReportResult:
    """What ``build_report`` wrote: the directory, its manifest (as written) and the headline numbers."""

    directory: Path
    manifest: dict[str, Any]
    files: tuple[FileEntry, ...]
    totals: dict[str, int]
    chain_head: str | None
    chain_ok: bool | None
    signed: bool

    def lines(self, period: Period, scope: Scope) -> list[str]:
        """What was written, for a terminal: where, what it covers, the headline counts, the chain, the files."""
        totals = self.totals
        chain = "not checked" if self.chain_ok is None else ("intact" if self.chain_ok else "FAILED (see report)")
        return [
            f"report: {self.directory}",
            f"  {period.label}; {scope.label}",
            f"  {totals['activity_rows']:,} activity rows: {totals['pushes']:,} pushes, {totals['pulls']:,} pulls,"
            f" {totals['deletes']:,} deletes, {totals['overwrites']:,} overwrites,"
            f" {totals['failed_logins']:,} failed logins",
            f"  chain {chain}; head {self.chain_head or '(empty)'}",
            f"  {len(self.files)} files, manifest {'signed' if self.signed else 'UNSIGNED'}",
        ]


def build_report(
    store_path: Path,
    period: Period,
    scope: Scope,
    out_dir: Path,
    settings: ReportsSettings | None = None,
    *,
    lock_timeout: float = 30.0,
    sign: bool = True,
    now: datetime | None = None,
) -> ReportResult:
    """Write the report directory ``out_dir`` (new or empty); see the package docstring."""
    settings = settings or ReportsSettings()
    started = time.perf_counter()
    key = signing.load_private_key(settings.signing_key_path) if sign else None
    _prepare(out_dir)
    public_key = key.public_key() if key else None
    data, chain_section = _read(store_path, period, scope, settings.verify_chain, lock_timeout, public_key)
    con = exports.connection()
    con.register("activity", data.activity)
    con.register("findings", data.findings)
    summaries = summarize(con)
    files = _write_data(con, data, summaries, out_dir)
    content = document.ReportContent(
        period, scope, now or datetime.now(UTC), __version__, str(store_path), summaries, data.findings,
        data.coverage, chain_section, [(f.name, f.sha256, f.rows_count or 0) for f in files],
        signing.fingerprint(key.public_key()) if key else None, settings.html_rows_max,
    )  # fmt: skip
    files += _write_documents(content, out_dir, settings)
    signer, key_file = manifest.signer_section(key, out_dir)
    files += [key_file] if key_file else []
    files.append(manifest.write_sums(out_dir, files))
    body = _manifest(content, files, signer, data)
    manifest.write_signed(out_dir, body, key)
    log.info("report=%s rows=%d files=%d seconds=%.1f", out_dir, data.activity.num_rows, len(files),
             time.perf_counter() - started)  # fmt: skip
    head = chain_section["head"]
    check = chain_section["verification"]
    return ReportResult(out_dir, body, tuple(files), summaries.totals, head["hash"] if head else None,
                        check["ok"] if check else None, key is not None)  # fmt: skip


def _prepare(out_dir: Path) -> None:
    if out_dir.exists() and any(out_dir.iterdir()):
        raise TerminalError(f"{out_dir}: exists and is not empty; a report goes into a new directory")
    out_dir.mkdir(parents=True, exist_ok=True)


def _read(
    path: Path, period: Period, scope: Scope, check: bool, timeout: float, public_key: Ed25519PublicKey | None
) -> tuple[Extract, dict[str, Any]]:
    with store.reader(path, timeout) as con:
        data = extract(con, period, scope)
        head = chain.head(con)
    anchors = [head.batch_hash] if head else []  # the head this report ships must be in the chain verified
    result = verify(lambda: store.reader(path, timeout), public_key, anchors) if check else None
    verification = None
    if result is not None:
        with store.reader(path, timeout) as con:  # findings.csv shows statuses: each must be its sealed decision's
            decided = decisions.problems(con)
        problems = [p.message for p in result.problems] + decided
        verification = {
            "ok": not problems,
            "entries_count": result.entries_count,
            "problems_count": len(problems),
            "first_problem": problems[0] if problems else None,
        }
    anchor = chain.anchor_document(head, str(path)) if head else None
    return data, {"head": anchor, "verification": verification}


def _tables(data: Extract, summaries: Summaries) -> dict[str, pa.Table]:
    return {"activity": data.activity, "repositories": summaries.repositories,
            "identities": summaries.identities, "findings": data.findings}  # fmt: skip


def _write_data(con: duckdb.DuckDBPyConnection, data: Extract, summaries: Summaries, out_dir: Path) -> list[FileEntry]:
    tables = _tables(data, summaries)
    entries = []
    for name, source, file_format in DATA_FILES:
        rows = exports.write(con, tables[source], out_dir / name, file_format)
        entries.append(manifest.describe(out_dir / name, rows))
    return entries


def _write_documents(content: document.ReportContent, out_dir: Path, settings: ReportsSettings) -> list[FileEntry]:
    html_path = out_dir / "report.html"
    html_path.write_text(document.render(content), encoding="utf-8")
    entries = [manifest.describe(html_path)]
    if settings.pdf:
        pdf_path = out_dir / "report.pdf"
        pdf.print_pdf(html_path, pdf_path, settings.chromium_path, settings.pdf_timeout_seconds)
        entries.append(manifest.describe(pdf_path))
    return entries


def _manifest(
    content: document.ReportContent, files: list[FileEntry], signer: dict[str, Any] | None, data: Extract
) -> dict[str, Any]:
    return {
        "format": manifest.FORMAT,
        "title": "Registry activity report",
        "generated_at": iso(content.generated_at),
        "period": content.period.as_json(),
        "scope": content.scope.as_json(),
        "software": {"regaudit": __version__, "duckdb": duckdb.__version__, "pyarrow": pa.__version__},
        "store": {"path": content.store, "chain": content.chain,
                  "coverage": {k: iso(v) if isinstance(v, datetime) else v for k, v in content.coverage.items()}},
        "totals": content.summaries.totals,
        "rows": {"activity": data.activity.num_rows, "findings": data.findings.num_rows,
                 "repositories": content.summaries.repositories.num_rows,
                 "identities": content.summaries.identities.num_rows},
        "queries": manifest_queries(content.period, content.scope),
        "files": [f.as_json() for f in files],
        "signer": signer,
    }  # fmt: skip
