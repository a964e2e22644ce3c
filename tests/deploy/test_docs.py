"""docs/production.md describes the deployment that exists: every service, every file, every secret."""

from __future__ import annotations

import re

from tests.deploy.compose import REPO_ROOT, load_compose

PRODUCTION_MD = REPO_ROOT / "docs" / "production.md"


def _table_column(heading: str) -> list[str]:
    """The first column (inside backticks) of the table that follows ``heading``."""
    text = PRODUCTION_MD.read_text()
    section = text[text.index(heading) :]
    table = re.search(r"\n(\|.*\|\n)+", section)
    assert table is not None, heading
    return re.findall(r"^\| `([^`]+)`", table[0], re.MULTILINE)


def test_every_compose_service_is_described() -> None:
    assert sorted(_table_column("## What runs")) == sorted(load_compose()["services"])


def test_every_file_the_docs_list_exists() -> None:
    text = PRODUCTION_MD.read_text()
    section = text[text.index("The files:") :]
    table = re.search(r"\n(\|.*\|\n)+", section)
    assert table is not None
    for row in table[0].strip().splitlines()[2:]:
        first_cell = row.split("|")[1]
        names = re.findall(r"`([^`]+)`", first_cell)
        folder = REPO_ROOT
        for name in names:
            path = REPO_ROOT / name if "/" in name else folder / name
            assert path.exists(), name
            folder = path.parent


def test_the_relative_links_resolve() -> None:
    for target in re.findall(r"\]\((\.\./[^)#]+)", PRODUCTION_MD.read_text()):
        assert (PRODUCTION_MD.parent / target).resolve().exists(), target


def test_every_secret_is_described() -> None:
    text = PRODUCTION_MD.read_text() + (REPO_ROOT / "deploy" / "secrets" / "README.md").read_text()
    for secret in load_compose()["secrets"].values():
        name = secret["file"].rsplit("/", 1)[-1]
        assert f"`{name}`" in text, name
