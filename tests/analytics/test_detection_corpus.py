"""The whole detection set as the unit under test (elastic detection-rules ``test_all_rules.py``).

Every check is parametrized over the registry with the detection id as the test id, so a failure names the
detection. Each detection's own cases run through the real runner against a real DuckDB file.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from regaudit.analytics.cases import run_case
from regaudit.analytics.context import CONTEXT_PARAMETERS
from regaudit.analytics.detection import ATTACK_ID, PARAMETER, Detection, Row, Severity, about_columns
from regaudit.analytics.registry import default_registry

DETECTIONS = list(default_registry())
FAMILIES = {"pull", "credential", "tag", "push", "proxy"}


def by_id(detection: type[Detection]) -> str:
    return detection.id


def test_registry_holds_every_family_with_several_detections() -> None:
    families = {d.family for d in DETECTIONS}
    assert families >= FAMILIES
    for family in FAMILIES:
        assert sum(d.family == family for d in DETECTIONS) >= 4, family


def test_detection_ids_and_titles_are_unique() -> None:
    ids = [d.id for d in DETECTIONS]
    titles = [d.title.lower() for d in DETECTIONS]
    assert len(set(ids)) == len(ids)
    assert len(set(titles)) == len(titles)


@pytest.mark.parametrize("detection", DETECTIONS, ids=by_id)
def test_detection_file_is_named_after_its_id(detection: type[Detection]) -> None:
    family, name = detection.id.split(".")
    assert detection.__module__ == f"regaudit.analytics.detections.{family}.{name}"
    assert detection.family == family


@pytest.mark.parametrize("detection", DETECTIONS, ids=by_id)
def test_detection_metadata_is_complete(detection: type[Detection]) -> None:
    assert isinstance(detection.severity, Severity)
    assert detection.description.strip().endswith(".")
    assert detection.false_positives
    assert all(text.strip() for text in detection.false_positives)
    assert detection.references, "cite where the rule or the behaviour comes from"
    assert all(url.startswith("https://") for url in detection.references)


@pytest.mark.parametrize("detection", DETECTIONS, ids=by_id)
def test_detection_attack_tags_are_technique_ids(detection: type[Detection]) -> None:
    assert detection.attack
    for technique in detection.attack:
        assert re.match(ATTACK_ID, technique), technique


@pytest.mark.parametrize("detection", DETECTIONS, ids=by_id)
def test_detection_sql_binds_named_parameters_only(detection: type[Detection]) -> None:
    sql = detection.sql
    assert not re.search(r"[{}]", sql), "no str.format or f-string placeholders"
    assert not re.search(r"%s|%\(", sql), "no printf-style placeholders"
    assert "?" not in sql, "no positional placeholders"
    assert not re.search(r"\$\d", sql), "no numbered placeholders"
    used = set(PARAMETER.findall(sql))
    declared = set(detection.parameters.model_fields)
    assert used <= declared | CONTEXT_PARAMETERS, used - declared - CONTEXT_PARAMETERS
    assert declared <= used, f"declared but unused: {declared - used}"


@pytest.mark.parametrize("detection", DETECTIONS, ids=by_id)
def test_detection_parameters_have_described_defaults(detection: type[Detection]) -> None:
    defaults = detection.parameters()
    for name, field in detection.parameters.model_fields.items():
        assert field.description, name
        assert getattr(defaults, name) is not None


@pytest.mark.parametrize("detection", DETECTIONS, ids=by_id)
def test_detection_has_firing_and_quiet_cases(detection: type[Detection]) -> None:
    assert any(case.expect > 0 for case in detection.cases)
    assert any(case.expect == 0 for case in detection.cases)
    assert len({case.name for case in detection.cases}) == len(detection.cases)


@pytest.mark.parametrize("detection", DETECTIONS, ids=by_id)
def test_detection_findings_say_what_they_are_about_and_a_case_checks_it(detection: type[Detection]) -> None:
    filled = about_columns(detection.sql)
    assert filled, "a finding names a registry, repository, tag, digest, identity or client address"
    checked = {name for case in detection.cases for about in case.about for name, value in about.items() if value}
    assert checked, "a firing case lists what its findings are about (Case.about)"
    assert checked <= set(filled), f"cases expect columns the SQL leaves NULL: {checked - set(filled)}"


@pytest.mark.parametrize("detection", DETECTIONS, ids=by_id)
def test_detection_cases_against_a_duckdb_file(detection: type[Detection], tmp_path: Path) -> None:
    for number, case in enumerate(detection.cases):
        result = run_case(detection, case, tmp_path / f"case-{number}.duckdb")
        assert result.passed, result.explain()
        for hit in result.hits:
            assert hit.evidence_ids, f"{case.name}: a finding without evidence"
            assert all(":" in ref for ref in hit.evidence_ids), "evidence refers to rows as <table>:<key>"
            assert hit.summary.strip()


#: the keys of the rows a burst repeats at the same instant (``with_ties``)
TIED_KEYS = {"image_activity": "activity_id", "access_log": "line_key"}


def with_ties(rows: tuple[Row, ...]) -> tuple[Row, ...]:
    """Each activity row and access line twice, the copy at the same instant under a key of its own: a burst of
    requests within one clock tick, as a registry under a pull storm logs them."""
    copies = [
        Row(row.table, {**row.values, TIED_KEYS[row.table]: f"{row.values[TIED_KEYS[row.table]]}-tie"})
        for row in rows
        if row.table in TIED_KEYS and TIED_KEYS[row.table] in row.values
    ]
    return (*rows, *copies)


@pytest.mark.parametrize("detection", [d for d in DETECTIONS if any(c.expect for c in d.cases)], ids=by_id)
def test_detection_findings_do_not_depend_on_the_order_rows_were_stored(
    detection: type[Detection], tmp_path: Path
) -> None:
    """The same rows, every event tied with a copy at the same instant, stored in the opposite order give the same
    findings, evidence lists included: rows that tie on time are listed by their key, so a report and its checksum
    are the same on every run."""
    for number, case in enumerate(c for c in detection.cases if c.expect):
        tied = dataclasses.replace(case, rows=with_ties(case.rows))
        forward = run_case(detection, tied, tmp_path / f"forward-{number}.duckdb")
        backward = run_case(
            detection, dataclasses.replace(tied, rows=tuple(reversed(tied.rows))), tmp_path / f"back-{number}.duckdb"
        )
        assert sorted(backward.hits, key=lambda hit: hit.finding_id) == sorted(
            forward.hits, key=lambda hit: hit.finding_id
        ), case.name
