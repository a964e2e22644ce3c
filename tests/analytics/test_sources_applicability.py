"""What each source records (``schemas/sources.py``) against what each detection needs, and the page that shows it.

``docs/sources.md``'s table is the documentation of ``CAPABILITIES``: a cell starting with "no" is data the source
lacks, any other cell data it records. These tests make the page and the declarations agree, every detection declare
its needs, and ``regaudit detections list --source`` say which detections apply and why the others do not.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from regaudit.analytics.registry import default_registry
from regaudit.cli import main
from regaudit.schemas.sources import CAPABILITIES, Data, missing

PAGE = Path(__file__).parents[2] / "docs" / "sources.md"


def source_table() -> dict[str, dict[str, str]]:
    """Each table row by the source kind in backticks in its first two cells: column header to cell text."""
    lines = [line for line in PAGE.read_text(encoding="utf-8").splitlines() if line.startswith("|")]
    header = [cell.strip() for cell in lines[0].strip("|").split("|")]
    rows: dict[str, dict[str, str]] = {}
    for line in lines[2:]:
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        assert len(cells) == len(header), f"a row of docs/sources.md has {len(cells)} cells, not {len(header)}"
        kinds = [kind for kind in re.findall(r"`([a-z0-9_-]+)`", " ".join(cells[:2])) if kind in CAPABILITIES]
        assert len(kinds) == 1, f"a row of docs/sources.md names no single source kind in CAPABILITIES: {cells[:2]}"
        rows[kinds[0]] = dict(zip(header, cells, strict=True))
    return rows


def test_the_sources_table_has_a_column_for_every_kind_of_data() -> None:
    header = next(iter(source_table().values()))
    assert [str(data) for data in Data if str(data) not in header] == []


def test_the_sources_table_has_a_row_for_every_declared_source_and_no_other() -> None:
    assert sorted(source_table()) == sorted(CAPABILITIES)


@pytest.mark.parametrize("kind", sorted(CAPABILITIES))
def test_the_sources_table_says_what_the_source_declares(kind: str) -> None:
    row = source_table()[kind]
    documented = {data for data in Data if not row[str(data)].lower().startswith("no")}
    assert sorted(documented) == sorted(CAPABILITIES[kind]), f"docs/sources.md's {kind} row vs CAPABILITIES"


def test_every_detection_declares_the_data_it_needs() -> None:
    assert [d.id for d in default_registry() if d.needs is None] == []


def test_harbor_lacks_what_its_webhooks_never_send() -> None:
    needs = default_registry().get("pull.new_network").needs or frozenset()
    assert missing(needs, ["harbor"]) == (Data.CLIENT_ADDRESS,)
    assert missing(default_registry().get("pull.volume_baseline").needs or frozenset(), ["harbor"]) == ()


def test_a_registry_and_its_proxy_together_feed_every_detection() -> None:
    assert [d.id for d in default_registry() if missing(d.needs or frozenset(), ["distribution", "nginx"])] == []


def test_detections_list_by_source_names_what_is_missing(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["detections", "list", "--source", "harbor"]) == 0
    printed = capsys.readouterr().out
    applies, _, rest = printed.partition("does not apply to harbor")
    assert "  push.first_to_repository\n" in applies
    assert "  tag.release_overwrite\n" in applies
    assert re.search(r"pull\.new_network +lacks client address\n", rest)
    assert re.search(r"pull\.egress_burst +lacks blob pulls\n", rest)
    assert re.search(r"proxy\.bruteforce_by_client +lacks client address, failed logins and refusals\n", rest)
