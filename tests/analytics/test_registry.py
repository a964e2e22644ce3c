"""Registration validates each detection's metadata and refuses duplicates; selection by id, family, glob."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest
from pydantic import Field

from regaudit.analytics.detection import Case, Detection, Parameters, Severity, about_columns, output_columns
from regaudit.analytics.errors import DetectionMetadataError, DuplicateDetectionError, UnknownDetectionError
from regaudit.analytics.fixtures import at, pull
from regaudit.analytics.registry import DetectionRegistry, default_registry, discover

NOW = at("2025-05-10T12:00")


class Params(Parameters):
    min_pulls: int = Field(1, description="Pulls that fire.")


SQL = """
    SELECT actor AS subject, $since AS window_start_at, $now AS window_end_at, 'x' AS summary,
           list(activity_id) AS evidence_ids, NULL AS registry, NULL AS repository, NULL AS tag, NULL AS digest,
           actor AS identity, NULL AS client_addr
    FROM image_activity GROUP BY actor HAVING count(*) >= $min_pulls
"""


def make(**overrides: Any) -> type[Detection]:
    attributes: dict[str, Any] = {
        "id": "pull.example",
        "title": "An example detection",
        "severity": Severity.LOW,
        "family": "pull",
        "description": "Fires on any pull at all; only here to exercise the registry's validation.",
        "false_positives": ("Every pull.",),
        "attack": ("T1078",),
        "parameters": Params,
        "sql": SQL,
        "cases": (
            Case("fires", rows=(pull("2025-05-10T09:00"),), expect=1, now=NOW),
            Case("quiet", rows=(), expect=0, now=NOW),
        ),
    }
    attributes.update(overrides)
    return type("Example", (Detection,), attributes)


def test_register_accepts_a_complete_detection() -> None:
    registry = DetectionRegistry([make()])
    assert "pull.example" in registry
    assert registry.get("pull.example").title == "An example detection"


def test_register_refuses_a_duplicate_id() -> None:
    with pytest.raises(DuplicateDetectionError, match="pull.example"):
        DetectionRegistry([make(), make(title="Another title here")])


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"attack": ("T78",)}, "ATT&CK ids"),
        ({"attack": ()}, "attack"),
        ({"false_positives": ()}, "false_positives"),
        ({"severity": "severe"}, "severity"),
        ({"id": "pull"}, "id"),
        ({"id": "push.example"}, "must start with its family"),
        ({"sql": SQL.replace("$min_pulls", "{min_pulls}")}, "named parameters"),
        ({"sql": SQL.replace("$min_pulls", "?")}, "named parameters"),
        ({"sql": SQL.replace("'x'", "printf('%s', actor)")}, "named parameters"),
        ({"sql": SQL.replace("$min_pulls", "$threshold")}, "undeclared parameters"),
        ({"sql": SQL.replace("$min_pulls", "1")}, "declared but unused"),
        ({"cases": (Case("quiet", rows=(), expect=0, now=NOW),) * 2}, "firing and one non-firing"),
        ({"description": "Too short."}, "description"),
        ({"sql": SQL.replace("NULL AS repository, ", "")}, r"returns no column \['repository'\]"),
        ({"sql": SQL.replace("actor AS identity", "actor AS who")}, r"returns no column \['identity'\]"),
        ({"sql": SQL.replace("list(activity_id) AS evidence_ids", "list(activity_id)")}, "evidence_ids"),
        (
            {
                "cases": (
                    Case("fires", rows=(), expect=1, now=NOW, about=({"owner": "x"},)),
                    Case("quiet", rows=(), expect=0, now=NOW),
                )
            },
            "about names no finding column",
        ),
    ],
)
def test_register_refuses_bad_metadata(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(DetectionMetadataError, match=message):
        DetectionRegistry([make(**overrides)])


def test_register_reads_the_returned_columns_from_the_outermost_select() -> None:
    inner = SQL.replace("NULL AS client_addr", "NULL AS address")
    wrapped = f"WITH x AS (SELECT 1 AS client_addr) {inner.strip()}"
    with pytest.raises(DetectionMetadataError, match="client_addr"):
        DetectionRegistry([make(sql=wrapped)])
    assert output_columns("SELECT a AS subject, t.b FROM t UNION ALL SELECT 1, 2") == ("subject", "b")
    assert about_columns(SQL) == ("identity",)  # the NULL literals, cast or not, are left out


def test_register_refuses_parameters_that_shadow_the_context() -> None:
    class Shadowing(Parameters):
        now: int = Field(1, description="Shadows $now.")

    with pytest.raises(DetectionMetadataError, match="shadow context parameters"):
        DetectionRegistry([make(parameters=Shadowing, sql=SQL.replace("$min_pulls", "$now"))])


def test_select_by_id_family_and_glob() -> None:
    registry = default_registry()
    assert [d.id for d in registry.select(["pull.volume_baseline"])] == ["pull.volume_baseline"]
    assert {d.family for d in registry.select(["proxy"])} == {"proxy"}
    assert all(d.id.startswith("credential.") for d in registry.select(["credential.*"]))
    remaining = registry.select(["tag"], exclude=["tag.mutable_overwrite"])
    assert "tag.mutable_overwrite" not in {d.id for d in remaining}


def test_select_refuses_a_pattern_matching_nothing() -> None:
    with pytest.raises(UnknownDetectionError, match="pull.nothing"):
        default_registry().select(["pull.nothing"])


def _package(root: Path, name: str, files: dict[str, str]) -> None:
    for relative, text in {"__init__.py": "", "family/__init__.py": "", **files}.items():
        path = root / name / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")


MODULE = """
    from tests.analytics.test_registry import make

    class Example(make(id="{id}", family="family")):
        pass
"""


def test_discover_refuses_an_id_that_does_not_match_the_file(tmp_path: Path, monkeypatch) -> None:
    _package(tmp_path, "misnamed_detections", {"family/right.py": MODULE.format(id="family.wrong")})
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(DetectionMetadataError, match="should be 'family.right'"):
        discover("misnamed_detections")


def test_discover_finds_one_detection_per_module(tmp_path: Path, monkeypatch) -> None:
    _package(tmp_path, "good_detections", {"family/right.py": MODULE.format(id="family.right")})
    monkeypatch.syspath_prepend(str(tmp_path))
    assert [d.id for d in discover("good_detections")] == ["family.right"]
