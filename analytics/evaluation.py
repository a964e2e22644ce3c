"""Scoring the detections against the labeled traffic simulator: precision and recall per family.

``evaluate`` generates a seeded span of traffic (``regaudit.simulator``), feeds it through the real
ingest path (envelope split, ``Normalizer``, ``DuckDBSink``: the store is built exactly as in production, one
day per batch), imports the simulated credential inventory, runs every detection with the simulation's
``[org]`` section as of its last instant, and matches findings to the injected labels.

Matching: a finding detects a label when its detection's family is the label's family (or the label lists the
detection's ``family/kind`` under ``also``), the finding names the label's identity, repository,
``repository:tag`` or address, and the finding's window overlaps the incident's span. Recall is the share of
labels detected; precision the share of findings that detect some label. A finding names its subject (whole),
what it is about (its columns: identity, repository, ``repository:tag``, address...), and the addresses or users
its evidence values list (e.g. the addresses of a brute force on one user).
Informational detections (no simulator kind, e.g. ``tag.mutable_overwrite``) are reported but left out of
precision. False alarms are the findings of any detection, at a given severity or above, that detect no label;
``Evaluation.false_alarms_per_day`` normalises them per day and per 100 identities. ``regaudit.analytics.benchmark``
runs several seeds as a backfill and live.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from regaudit.analytics import runner
from regaudit.analytics.detection import Severity
from regaudit.analytics.findings import Hit
from regaudit.analytics.settings import AnalyticsSettings, OrgSettings
from regaudit.ingest import store
from regaudit.ingest.hooks import BatchHook
from regaudit.ingest.normalize import Normalizer
from regaudit.ingest.records import RawRecord
from regaudit.ingest.sinks.duckdb import DuckDBSink
from regaudit.ingest.sources import credentials
from regaudit.ingest.sources.distribution.envelope import split_envelope
from regaudit.simulator import Label, Notification, Simulation

#: our family -> the simulator's family
FAMILIES = {
    "pull": "anomalous_pull",
    "credential": "stale_credential",
    "tag": "tag_overwrite",
    "push": "suspicious_push",
    "proxy": "proxy",
}
#: detection -> the simulator kind it is meant to catch; absent: informational, not scored for precision
KINDS = {
    "pull.volume_baseline": "mass_pull",
    "pull.breadth_baseline": "mass_pull",
    "pull.egress_baseline": "large_egress",
    "pull.egress_burst": "large_egress",
    "pull.new_network": "new_network",
    "pull.new_client_family": "new_client",
    "pull.anonymous_private": "anonymous_pull",
    "pull.tag_enumeration": "enumeration",
    "pull.catalog_enumeration": "enumeration",
    "credential.dormant_reactivated": "dormant_credential",
    "credential.expired_in_use": "expired_credential_used",
    "credential.many_addresses": "credential_many_addresses",
    "credential.first_external_use": "dormant_robot_external",
    "credential.never_used": "never_used_credential",
    "credential.not_rotated": "unrotated_credential",
    "tag.release_overwrite": "release_tag_overwrite",
    "tag.moved_back": "tag_moved_back",
    "tag.protected_delete": "protected_delete",
    "tag.mass_delete": "mass_delete",
    "push.first_to_repository": "first_push_to_repo",
    "push.off_hours": "off_hours_push",
    "push.outside_ci_network": "push_outside_ci",
    "push.human_to_ci_repository": "human_push_ci_repo",
    "push.unsigned_production_pull": "unsigned_production_pull",
    "proxy.bruteforce_by_client": "brute_force",
    "proxy.bruteforce_by_user": "brute_force",
    "proxy.password_spray": "password_spray",
    "proxy.authorization_probing": "authorization_probing",
    "proxy.audit_gap": "audit_gap",
}
#: detections whose subject is the registry, not something a label names: matched on kind and time alone
SUBJECTLESS = frozenset({"proxy.audit_gap"})
SLACK = timedelta(hours=1)


@dataclass(frozen=True)
class LoadSummary:
    events_count: int
    access_count: int
    credentials_count: int
    seconds: float


def batches(simulation: Simulation, hours: int = 24) -> Iterator[tuple[int, list[Notification], list[bytes]]]:
    """The simulation's hourly chunks merged into batches of ``hours``, in order: (batch number, notifications,
    access lines); batch ``n`` holds what happened before ``start + (n + 1) * hours``."""
    number = 0
    notes: list[Notification] = []
    lines: list[bytes] = []
    for chunk in simulation.chunks():
        current = (chunk.day * 24 + chunk.hour) // hours
        if current != number and (notes or lines):
            yield number, notes, lines
            notes, lines = [], []
        number = current
        notes += chunk.notifications
        lines += chunk.access_lines
    if notes or lines:
        yield number, notes, lines


def records(
    seed: int, counter: Iterator[int], received: datetime, notes: list[Notification], lines: list[bytes]
) -> list[RawRecord]:
    records: list[RawRecord] = []
    for note in notes:
        origin = f"sim:{seed}/n{next(counter)}"
        post = split_envelope(
            note.body, origin=origin, received_at=note.posted_at, registry="default", content_type=None
        )
        records += [record for _, record in post.events] + post.dead_letters
    for line in lines:
        origin = f"sim:{seed}/a{next(counter)}"
        records.append(RawRecord("access", line, origin, received, key=origin))
    return records


def load_simulation(path: Path, simulation: Simulation, hooks: Sequence[BatchHook] = ()) -> LoadSummary:
    """Feed the simulation through the ingest path into the store, one batch per day, then import the inventory.

    ``hooks`` are the batch hooks production runs (the hash chain, queued alerts); the demo passes them so its
    store verifies like a real one.
    """
    started = time.perf_counter()
    normalizer, sink, counter = Normalizer(), DuckDBSink(path, hooks=hooks), itertools.count()
    events = access = 0
    try:
        for day, notes, lines in batches(simulation):
            received = simulation.start + timedelta(days=day + 1)
            batch = normalizer.normalize(records(simulation.seed, counter, received, notes, lines))
            result = sink.write(batch, "simulator")
            events, access = events + result.events_count, access + result.access_count
    finally:
        normalizer.close()
    count = import_inventory(path, simulation, simulation.end)
    return LoadSummary(events, access, count, time.perf_counter() - started)


def import_inventory(path: Path, simulation: Simulation, imported_at: datetime) -> int:
    """``regaudit credentials import`` of the simulated inventory as it stood at ``imported_at`` (a credential
    created later, a new hire's, is not in it yet)."""
    rows = [row for row in simulation.credentials if row.created_at <= imported_at]
    entries = [credentials.CredentialEntry.model_validate(row.to_dict()) for row in rows]
    with store.writer(path) as con:
        credentials.store_import(con, entries, "simulator:inventory", imported_at, carry_over=False)
    return len(entries)


def _tokens(hit: Hit) -> set[str]:
    """What a finding names: its subject, what it is about, and the names its evidence values list."""
    listed = {str(item) for value in hit.values.values() if isinstance(value, list) for item in value}
    about = {value for value in hit.about.values() if value}
    if hit.repository and hit.tag:
        about.add(f"{hit.repository}:{hit.tag}")
    return {hit.subject, *about, *listed}


def _names(label: Label) -> set[str]:
    names = {label.subject, label.identity, label.repository, label.address}
    if label.repository and label.tag:
        names.add(f"{label.repository}:{label.tag}")
    return {name for name in names if name}


def _overlaps(hit: Hit, label: Label, now: datetime) -> bool:
    start = hit.window_start_at or datetime.min.replace(tzinfo=UTC)
    end = hit.window_end_at or now
    return start <= label.end + SLACK and label.start - SLACK <= end


def detects(hit: Hit, label: Label, now: datetime) -> bool:
    """Whether ``hit`` is a finding about the incident ``label`` (see the module docstring)."""
    family = FAMILIES.get(hit.detection_id.split(".")[0])
    kind = KINDS.get(hit.detection_id)
    if label.family != family and f"{family}/{kind}" not in label.also:
        return False
    if hit.detection_id in SUBJECTLESS:
        return kind == label.kind and _overlaps(hit, label, now)
    return bool(_tokens(hit) & _names(label)) and _overlaps(hit, label, now)


@dataclass(frozen=True)
class Score:
    """Counts for one family (or the total): labels detected, findings that detect a label."""

    name: str
    labels_count: int
    detected_count: int
    findings_count: int
    true_findings_count: int

    @property
    def recall(self) -> float:
        return self.detected_count / self.labels_count if self.labels_count else 1.0

    @property
    def precision(self) -> float:
        return self.true_findings_count / self.findings_count if self.findings_count else 1.0


def score(hits: Sequence[Hit], labels: Sequence[Label], now: datetime, least: Severity = Severity.LOW) -> list[Score]:
    """One score per simulator family, then the total; informational detections are not counted, nor findings
    below ``least`` (recall at ``least``: labels found by a finding that severe)."""
    scored = [hit for hit in hits if hit.detection_id in KINDS and hit.severity.rank >= least.rank]
    true_hits = {id(hit) for hit in scored if any(detects(hit, label, now) for label in labels)}
    detected = {id(label) for label in labels if any(detects(hit, label, now) for hit in scored)}
    scores = []
    for family in (*FAMILIES.values(), None):
        family_hits = [h for h in scored if family is None or FAMILIES[h.detection_id.split(".")[0]] == family]
        family_labels = [label for label in labels if family is None or label.family == family]
        detected_count = sum(id(label) in detected for label in family_labels)
        true_count = sum(id(hit) in true_hits for hit in family_hits)
        scores.append(Score(family or "total", len(family_labels), detected_count, len(family_hits), true_count))
    return scores


def false_alarms(hits: Sequence[Hit], labels: Sequence[Label], now: datetime, least: Severity) -> list[Hit]:
    """Findings at ``least`` or above, of any detection, that are about no injected incident: what benign
    traffic made someone look at."""
    return [
        hit for hit in hits if hit.severity.rank >= least.rank and not any(detects(hit, label, now) for label in labels)
    ]


def missed(hits: Sequence[Hit], labels: Iterable[Label], now: datetime) -> list[Label]:
    """Labels no finding detects (for the report)."""
    scored = [hit for hit in hits if hit.detection_id in KINDS]
    return [label for label in labels if not any(detects(hit, label, now) for hit in scored)]


@dataclass(frozen=True)
class Evaluation:
    """One scored run: ``report`` is the (last) analysis, ``hits`` every distinct finding of the run (live:
    over all its analyses), ``identities_count`` the organisation's identities (the inventory)."""

    load: LoadSummary
    report: runner.RunReport
    labels: list[Label]
    scores: list[Score]
    hits: tuple[Hit, ...] = ()
    identities_count: int = 0
    days: float = 0.0
    mode: str = "backfill"
    runs_count: int = 1

    @property
    def now(self) -> datetime:
        now: datetime = self.report.context.now
        return now

    def false_alarms_per_day(self, least: Severity = Severity.MEDIUM) -> float:
        """False alarms at ``least`` or above per day per 100 identities (issue 16's target: at most 1)."""
        alarms = len(false_alarms(self.hits, self.labels, self.now, least))
        return alarms / max(self.days, 1e-9) / max(self.identities_count / 100, 1e-9)


def evaluate(path: Path, seed: int, days: int = 30, scale: float = 1.0) -> Evaluation:
    """Simulate, ingest into ``path`` (a fresh file), analyse once as of the simulation's end over the whole
    span (``regaudit analyze --since <first day>`` after a backfill), and score."""
    simulation = Simulation(seed, days=days, scale=scale)
    load = load_simulation(path, simulation)
    org = OrgSettings.model_validate(simulation.org)
    report = runner.analyze(path, org, AnalyticsSettings(), now=simulation.end, since=simulation.start)
    labels = simulation.labels
    return Evaluation(load, report, labels, score(report.hits, labels, simulation.end), report.hits,
                      len(simulation.identities), float(days))  # fmt: skip
