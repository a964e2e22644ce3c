"""The human-readable report: one self-contained HTML page (inline CSS and SVG), laid out to print on A4.

Sections: at a glance; integrity and coverage (chain head, chain check, what the store holds, the data files'
SHA-256); activity charts; per repository; per identity; pushes, deletes and overwrites; pulls by identity and
repository; failed logins; findings with their status; method and how to verify.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from html import escape
from typing import Any

import pyarrow as pa

from regaudit.analytics.reports import charts
from regaudit.analytics.reports import tables as t
from regaudit.analytics.reports.scope import Period, Scope, iso
from regaudit.analytics.reports.style import CSS, METHOD
from regaudit.analytics.reports.summaries import Summaries

TILES = (
    ("pushes", "Pushes"), ("pulls", "Pulls"), ("deletes", "Deletes"), ("overwrites", "Tag overwrites"),
    ("failed_logins", "Failed logins"), ("audit_gaps", "Audit gaps"), ("identities", "Identities"),
    ("repositories", "Repositories"), ("findings_open", "Open findings"),
)  # fmt: skip


@dataclass(frozen=True)
class ReportContent:
    """Everything the page shows."""

    period: Period
    scope: Scope
    generated_at: datetime
    version: str
    store: str
    summaries: Summaries
    findings: pa.Table
    coverage: dict[str, Any]
    chain: dict[str, Any]
    data_files: list[tuple[str, str, int]]
    signer: str | None
    rows_max: int


def render(content: ReportContent) -> str:
    title = f"Registry activity report, {iso(content.period.start)[:10]} to {iso(content.period.end)[:10]}"
    sections = [
        _header(content, title), _glance(content), _integrity(content), _charts(content), _repositories(content),
        _identities(content), _changes(content), _pulls(content), _logins(content), _findings(content),
        _method(content),
    ]  # fmt: skip
    footer = escape(f"regaudit {content.version} · {content.period.label}")
    return (
        f"<!doctype html>\n<html lang='en'><head><meta charset='utf-8'><title>{escape(title)}</title>"
        f"<style>{CSS}\n@page {{ @bottom-left {{ content: '{footer}'; }} }}</style></head>\n"
        f"<body>{''.join(sections)}</body></html>\n"
    )


def _section(anchor: str, heading: str, body: str, lead: str = "") -> str:
    intro = f"<p class='lead'>{lead}</p>" if lead else ""
    return f"<section id='{anchor}'><h2>{escape(heading)}</h2>{intro}{body}</section>"


def _header(c: ReportContent, title: str) -> str:
    facts = t.definition_list([
        ("Period", escape(c.period.label)),
        ("Scope", escape(c.scope.label)),
        ("Store", f"<span class='mono'>{escape(c.store)}</span>"),
        ("Generated", f"{escape(iso(c.generated_at))} by regaudit {escape(c.version)}"),
    ])  # fmt: skip
    return f"<header><h1>{escape(title)}</h1>{facts}</header>"


def _glance(c: ReportContent) -> str:
    totals = c.summaries.totals
    tiles = "".join(
        f"<div class='tile'><div class='value'>{totals.get(key, 0):,}</div><div class='label'>{label}</div></div>"
        for key, label in TILES
    )
    return _section("glance", "At a glance", f"<div class='tiles'>{tiles}</div>")


def _integrity(c: ReportContent) -> str:
    head, check, cov = c.chain.get("head"), c.chain.get("verification"), c.coverage
    head_text = "the chain is empty" if not head else (
        f"entry {head['seq']} ({head['kind']} {head['batch_id'] or ''}), committed {escape(head['committed_at'])}"
        f"<br><span class='mono'>{escape(head['hash'])}</span>")  # fmt: skip
    if check is None:
        check_text = "not checked for this report"
    elif check["ok"]:
        check_text = f"<span class='ok'>intact</span>: {check['entries_count']:,} entries recomputed from the rows"
    else:
        check_text = f"<span class='bad'>FAILED</span>: {escape(check['first_problem'])}"
    files = "".join(f"<tr><td class='mono'>{escape(n)}</td><td class='num'>{r:,}</td><td class='mono small'>"
                    f"{escape(s)}</td></tr>" for n, s, r in c.data_files)  # fmt: skip
    facts = t.definition_list([
        ("Chain head", head_text),
        ("Chain check", check_text),
        ("Store holds", f"registry events from {t.when(cov['events_from_at'])} to {t.when(cov['events_to_at'])}"
                        f" UTC in {cov['batches_count']:,} ingest batches; last batch {t.when(cov['last_batch_at'])}"),
        ("In the period", f"{cov['events_count']:,} registry events, {cov['access_count']:,} proxy log lines,"
                          f" {cov['dead_letters_count']:,} dead letters (input that could not be parsed)"),
        ("Signed by", f"<span class='mono small'>{escape(c.signer)}</span>" if c.signer else "unsigned"),
    ])  # fmt: skip
    table = f"<table><thead><tr><th>Data file</th><th class='num'>Rows</th><th>SHA-256</th></tr></thead>" \
            f"<tbody>{files}</tbody></table>"  # fmt: skip
    lead = (
        "The chain head fingerprints every audit row stored up to this report; keep it, and later run "
        "<span class='mono'>regaudit verify --anchor HASH</span> to show that nothing was changed since."
    )
    return _section("integrity", "Integrity and coverage", facts + table, lead)


def _charts(c: ReportContent) -> str:
    by_day = {str(row["day"]): row for row in c.summaries.daily.to_pylist()}
    days = _days(c.period) or sorted(by_day)
    series = {name: [int(by_day[d][name]) if d in by_day else 0 for d in days] for name in charts.PALETTE}
    repos = c.summaries.repositories.to_pylist()[:12]
    people = c.summaries.identities.to_pylist()[:12]
    body = charts.daily_stacked(days, series, "Activity per day (UTC)").replace("<svg ", "<svg class='full' ", 1)
    body += charts.horizontal_bars([r["repository"] or "(none: logins)" for r in repos],
                                   [r["pulls"] + r["pushes"] + r["deletes"] for r in repos],
                                   "Busiest repositories (pulls + pushes + deletes)")  # fmt: skip
    body += charts.horizontal_bars([r["identity"] for r in people], [r["pulls"] + r["pushes"] + r["deletes"]
                                   for r in people], "Busiest identities", colour="#e08a1e")  # fmt: skip
    return _section("charts", "Activity", f"<div class='charts'>{body}</div>")


def _days(period: Period, most: int = 100) -> list[str]:
    """Every UTC day of a period of at most ``most`` days (empty for longer ones: only days with activity)."""
    first, last = period.start.date(), (period.end - timedelta(microseconds=1)).date()
    count = (last - first).days + 1
    return [str(first + timedelta(days=n)) for n in range(count)] if count <= most else []


_COUNT_COLUMNS = [t.num("pushes", "Pushes"), t.num("pulls", "Pulls"), t.num("deletes", "Deletes"),
                  t.num("overwrites", "Overwrites"), t.num("failed_logins", "Failed logins"),
                  t.num("findings_open", "Open"), t.num("findings_acknowledged", "Ack."),
                  t.num("findings_suppressed", "Supp.")]  # fmt: skip


def _repositories(c: ReportContent) -> str:
    columns = [t.name_column("repository", "Repository", t.repository), *_COUNT_COLUMNS[:5],
               t.num("identities", "Identities"), *_COUNT_COLUMNS[5:]]  # fmt: skip
    body = t.render(c.summaries.repositories, columns, c.rows_max, "summary_repositories.csv", "No activity.")
    return _section("repositories", "Per repository", body, "Findings columns: open, acknowledged, suppressed.")


def _identities(c: ReportContent) -> str:
    columns = [t.name_column("identity", "Identity"), t.Column("credential_kind", "Kind"),
               t.Column("credential_owner", "Owner"), *_COUNT_COLUMNS[:5], t.num("repositories", "Repositories"),
               t.num("client_addrs", "Addresses"), *_COUNT_COLUMNS[5:]]  # fmt: skip
    body = t.render(c.summaries.identities, columns, c.rows_max, "summary_identities.csv", "No activity.")
    return _section("identities", "Per identity", body)


def _changes(c: ReportContent) -> str:
    columns = [t.time_column("occurred_at", "When (UTC)"), t.Column("action", "Action"),
               t.name_column("identity", "Identity"), t.name_column("repository", "Repository"),
               t.Column("tag", "Tag", t.short), t.Column("digest", "Digest", t.digest, layout="nowrap"),
               t.Column("overwrite", "Overwrite", t.flag),
               t.Column("previous_digest", "Tag was", t.digest, layout="nowrap"),
               t.Column("client_addr", "Client", t.mono, layout="nowrap")]  # fmt: skip
    body = t.render(c.summaries.changes, columns, c.rows_max, "activity.csv", "No pushes, deletes or mounts.")
    return _section("changes", "Pushes, deletes and overwrites", body, "Every change to the registry, in time order.")


def _pulls(c: ReportContent) -> str:
    columns = [t.name_column("identity", "Identity"), t.name_column("repository", "Repository"),
               t.num("pulls", "Pulls"), t.num("digests", "Digests"), t.num("client_addrs", "Addresses"),
               t.time_column("first_at", "First (UTC)"), t.time_column("last_at", "Last (UTC)")]  # fmt: skip
    body = t.render(c.summaries.pulls, columns, c.rows_max, "activity.csv", "No pulls.")
    return _section("pulls", "Who pulled what", body)


def _logins(c: ReportContent) -> str:
    columns = [t.name_column("claimed_user", "Claimed user"),
               t.Column("client_addr", "Client", t.mono, layout="nowrap"), t.num("refused", "Refused"),
               t.Column("status", "Status"),
               t.time_column("first_at", "First (UTC)"), t.time_column("last_at", "Last (UTC)")]  # fmt: skip
    body = t.render(c.summaries.logins, columns, c.rows_max, "activity.csv", "No failed logins.")
    return _section("logins", "Failed logins", body)


def _findings(c: ReportContent) -> str:
    columns = [t.Column("severity", "Severity"), t.Column("detection_id", "Detection", t.mono, layout="nowrap"),
               t.Column("subject", "Subject", t.subject), t.time_column("window_start_at", "From (UTC)"),
               t.Column("status", "Status", layout="nowrap"), t.Column("status_by", "By"),
               t.Column("status_reason", "Reason"), t.Column("summary", "Summary", layout="prose")]  # fmt: skip
    body = t.render(c.findings, columns, c.rows_max, "findings.csv", "No findings in this period and scope.")
    return _section("findings", "Findings and their status", body)


def _method(c: ReportContent) -> str:
    return _section("method", "Method and how to verify", METHOD)
