"""docs/detections.md is generated from the registry; it must not drift."""

from __future__ import annotations

import re
from pathlib import Path

from regaudit.analytics import catalogue
from regaudit.analytics.registry import default_registry
from regaudit.cli import main
from regaudit.schemas.sources import CAPABILITIES, SELF_HOSTED

CATALOGUE = Path(__file__).resolve().parents[2] / "docs" / "detections.md"


def test_catalogue_in_docs_matches_the_registry() -> None:
    expected = catalogue.markdown(default_registry())
    assert CATALOGUE.read_text(encoding="utf-8") == expected, (
        "docs/detections.md is stale: run `regaudit detections list --markdown --write docs/detections.md`"
    )


def test_catalogue_names_every_detection_with_its_parameters() -> None:
    text = catalogue.markdown(default_registry())
    for detection in default_registry():
        assert f"### {detection.id}" in text
        for name in detection.parameters.model_fields:
            assert f"`{name}`" in text


def test_detections_list_writes_the_catalogue(tmp_path: Path, capsys) -> None:
    target = tmp_path / "detections.md"
    assert main(["detections", "list", "--markdown", "--write", str(target)]) == 0
    assert target.read_text(encoding="utf-8") == catalogue.markdown(default_registry())
    assert main(["detections", "list"]) == 0
    out = capsys.readouterr().out
    assert "pull.volume_baseline" in out
    assert "medium" in out


def test_every_detection_says_which_sources_it_applies_to() -> None:
    detections = {d.id: d for d in default_registry()}
    for detection in detections.values():
        [line, _] = catalogue.applicability(detection)
        assert "Applies to: " in line
        named = {kind.strip("`") for kind in re.findall(r"`([^`]+)`", line)}
        assert named == set(CAPABILITIES) - set(catalogue.PROXY_KINDS), detection.id  # each registry kind, once
    # a proxy-only detection applies to no registry feed alone, and nginx stands in front of self-hosted ones only
    [gap, _] = catalogue.applicability(detections["proxy.audit_gap"])
    assert "Applies to: no registry feed alone." in gap
    proxied = gap.split("With nginx's log in front: ")[1].split(".")[0]
    assert "`distribution`" in proxied
    assert "`ecr`" not in proxied
    assert "`ghcr`" not in proxied
    assert not SELF_HOSTED - set(CAPABILITIES)
