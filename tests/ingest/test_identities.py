"""``regaudit identities import`` and the store's identified_activity: one person across registries."""

from __future__ import annotations

import dataclasses
import shutil
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest

from regaudit.analytics.cases import load_rows, run_case
from regaudit.analytics.detection import Case, Detection
from regaudit.analytics.detections.pull.new_network import CredentialNewNetwork
from regaudit.analytics.detections.pull.volume_baseline import PullVolumeBaseline
from regaudit.analytics.errors import InventoryError
from regaudit.analytics.fixtures import activity, event, identity_mapping
from regaudit.cli import main
from regaudit.dashboard.queries import identity as identity_q
from regaudit.ingest import store
from regaudit.ingest.sources import identities

FIXTURES = Path(__file__).parents[1] / "fixtures" / "identities"
ARN = "arn:aws:iam::123456789012:user/alice"
CSV = f"""Raw Identity,Person ID,Display Name,Registry,Registry Kind
alice,alice@corp.example,Alice Smith,default,
{ARN},alice@corp.example,Alice Smith,,ecr
 robot$ci-builder ,alice@corp.example,,,harbor
"""
IMPORTED = datetime(2026, 11, 1, tzinfo=UTC)


def test_csv_rows_are_trimmed_and_scoped_to_a_registry_or_a_kind() -> None:
    mappings = identities.parse_csv(CSV)
    assert [(m.raw_identity, m.registry, m.registry_kind, m.person_id) for m in mappings] == [
        ("alice", "default", None, "alice@corp.example"),
        (ARN, None, "ecr", "alice@corp.example"),
        ("robot$ci-builder", None, "harbor", "alice@corp.example"),
    ]
    assert mappings[2].display_name is None
    with pytest.raises(ValueError, match=r"(?s)line 2: .*bob: scope a mapping to a registry or a registry kind"):
        identities.parse_csv("raw_identity,person_id,registry,registry_kind\nbob,bob,default,harbor\n")


def test_scim_user_maps_its_user_name_and_emails_and_reads_nothing_else() -> None:
    mappings = identities.parse(FIXTURES / "scim-rfc7643-8.2-user-full.json")
    assert [(m.raw_identity, m.person_id, m.display_name) for m in mappings] == [
        ("bjensen@example.com", "bjensen@example.com", "Babs Jensen"),  # userName and the work email, once
        ("babs@jensen.org", "bjensen@example.com", "Babs Jensen"),
    ]
    assert "t1meMa$heen" not in repr(mappings)  # the User's password is never kept


def test_scim_list_response_is_one_person_per_user() -> None:
    mappings = identities.parse(FIXTURES / "scim-rfc7644-3.4.2-list_response.json")
    assert [(m.raw_identity, m.person_id) for m in mappings] == [("bjensen", "bjensen"), ("jsmith", "jsmith")]


def test_unreadable_or_contradictory_mappings_are_refused_naming_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "users.json"
    bad.write_text('{"Resources": [{"id": "no-user-name"}]}', encoding="utf-8")
    with pytest.raises(InventoryError, match="users.json: a SCIM User has a userName"):
        identities.parse(bad)
    twice = identities.parse_csv("raw_identity,person_id\nalice,alice\nalice,bob\n")
    with pytest.raises(InventoryError, match="alice is mapped to both alice and bob"):
        identities.store_import(duckdb.connect(), twice, "test", IMPORTED)


def _store(path: Path) -> Path:
    """Alice under three names on three registries, and bob unmapped; registry_events say each instance's kind."""
    rows = (
        event("2026-11-20T09:00", registry="default", actor="alice"),
        event("2026-11-20T09:00", registry="ecr-prod", registry_kind="ecr", actor=ARN),
        event("2026-11-20T09:00", registry="harbor-1", registry_kind="harbor", actor="robot$ci-builder"),
        activity("2026-11-20T09:00", registry="default", actor="alice"),
        activity("2026-11-20T10:00", registry="ecr-prod", actor=ARN, repository="team/api"),
        activity("2026-11-20T11:00", registry="harbor-1", actor="robot$ci-builder"),
        activity("2026-11-20T12:00", registry="other", actor=ARN),  # an ARN on a registry of no kind mapped
        activity("2026-11-20T13:00", registry="default", actor="bob"),
    )
    with store.writer(path) as con:
        load_rows(con, rows)
    return path


def _identified(path: Path) -> list[tuple[str, str, str]]:
    with store.reader(path) as con:
        rows = con.execute("SELECT registry, actor, identity FROM identified_activity ORDER BY occurred_at")
        return [tuple(row) for row in rows.fetchall()]


def test_with_no_mapping_every_row_is_its_raw_identity(tmp_path: Path) -> None:
    assert all(actor == identity for _, actor, identity in _identified(_store(tmp_path / "s.duckdb")))


def test_imported_mapping_joins_the_names_in_their_scopes_only(tmp_path: Path) -> None:
    path = _store(tmp_path / "s.duckdb")
    mappings = tmp_path / "people.csv"
    mappings.write_text(CSV, encoding="utf-8")
    assert main(["identities", "import", str(mappings), "--db", str(path)]) == 0
    assert _identified(path) == [
        ("default", "alice", "alice@corp.example"),
        ("ecr-prod", ARN, "alice@corp.example"),  # by kind: ecr-prod's events are ecr's
        ("harbor-1", "robot$ci-builder", "alice@corp.example"),
        ("other", ARN, ARN),  # not an ecr registry: the ARN stays itself
        ("default", "bob", "bob"),
    ]
    # importing the file again without alice's robot replaces the file's mapping
    mappings.write_text(CSV.rsplit(" robot", 1)[0], encoding="utf-8")
    assert main(["identities", "import", str(mappings), "--db", str(path)]) == 0
    assert _identified(path)[2] == ("harbor-1", "robot$ci-builder", "robot$ci-builder")


def test_a_registrys_own_mapping_wins_over_its_kinds_and_an_unscoped_one(tmp_path: Path) -> None:
    path = _store(tmp_path / "s.duckdb")
    with store.writer(path) as con:
        load_rows(con, (
            identity_mapping(ARN, "everywhere", IMPORTED),
            identity_mapping(ARN, "by-kind", IMPORTED, registry_kind="ecr"),
            identity_mapping(ARN, "by-registry", IMPORTED, registry="ecr-prod"),
        ))  # fmt: skip
    mapped = [identity for _, actor, identity in _identified(path) if actor == ARN]
    assert mapped == ["by-registry", "everywhere"]


def test_identity_page_shows_one_person_across_registries_with_each_raw_name(tmp_path: Path) -> None:
    path = _store(tmp_path / "s.duckdb")
    mappings = tmp_path / "people.csv"
    mappings.write_text(CSV, encoding="utf-8")
    main(["identities", "import", str(mappings), "--db", str(path)])
    with store.reader(path) as con:
        assert {"alice@corp.example", ARN, "bob"} <= set(identity_q.identities(con)["identity"])
        names = identity_q.identity_names(con, "alice@corp.example")
        assert sorted(zip(names["registry"], names["registry_kind"], names["raw_identity"], strict=True)) == [
            ("default", "distribution", "alice"),
            ("ecr-prod", "ecr", ARN),
            ("harbor-1", "harbor", "robot$ci-builder"),
        ]
        assert set(names["display_name"].dropna()) == {"Alice Smith"}
        summary = identity_q.identity_summary(con, "alice@corp.example").iloc[0]
        assert (summary["pulls_count"], summary["repositories_count"]) == (3, 2)
        repositories = identity_q.identity_repositories(con, "alice@corp.example")
        assert set(zip(repositories["repository"], repositories["registry_kind"], strict=True)) == {
            ("team/app", "distribution"), ("team/api", "ecr"), ("team/app", "harbor")
        }  # fmt: skip
        # a raw name's own page still shows its own rows, on every registry
        assert identity_q.identity_summary(con, ARN).iloc[0]["pulls_count"] == 2


JOINED = [
    pytest.param(detection, case, id=f"{detection.id}: {case.name[:40]}")
    for detection in (CredentialNewNetwork, PullVolumeBaseline)
    for case in detection.cases
    if any(row.table == "identities" for row in case.rows)
]


@pytest.mark.parametrize(("detection", "case"), JOINED)
def test_joined_cases_decide_the_other_way_without_the_mapping(
    detection: type[Detection], case: Case, tmp_path: Path
) -> None:
    """Each case with identities rows fires or stays quiet only because of them: the mapping decides it."""
    assert run_case(detection, case, tmp_path / "mapped.duckdb").passed
    unmapped = dataclasses.replace(case, rows=tuple(r for r in case.rows if r.table != "identities"))
    assert len(run_case(detection, unmapped, tmp_path / "raw.duckdb").hits) == 1 - case.expect


def test_a_store_before_version_10_gains_an_empty_mapping(tmp_path: Path) -> None:
    path = _store(tmp_path / "s.duckdb")
    old = tmp_path / "old.duckdb"
    shutil.copy(path, old)
    with duckdb.connect(str(old)) as con:
        con.execute("DROP VIEW identified_activity; DROP VIEW scoped_identities; DROP VIEW current_identities")
        con.execute("DROP TABLE identities; UPDATE schema_meta SET value = '9' WHERE key = 'schema_version'")
    with store.writer(old) as con:
        assert con.execute("SELECT count(*) FROM identities").fetchall() == [(0,)]
    assert _identified(old) == _identified(path)
