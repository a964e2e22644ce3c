"""docs/architecture.md is held to the tree: what it names exists, and every package is named."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).parents[1]
PAGE = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
#: a backticked path: a folder ending in / or a file with an extension
NAMED_PATHS = sorted(set(re.findall(r"`((?:[\w.-]+/)+(?:[\w.-]+\.\w+)?)`", PAGE)))
CODE_FOLDERS = ("schemas", "ingest", "analytics", "dashboard", "regaudit")


def test_the_page_names_paths():
    assert len(NAMED_PATHS) > 30


def test_every_path_the_page_names_exists():
    missing = [path for path in NAMED_PATHS if not (ROOT / path).exists()]
    assert missing == []


def test_every_package_in_the_tree_is_on_the_page():
    packages = sorted(
        f"{init.parent.relative_to(ROOT).as_posix()}/"
        for folder in CODE_FOLDERS
        for init in (ROOT / folder).rglob("__init__.py")
    )
    assert len(packages) > 15
    assert [package for package in packages if f"`{package}`" not in PAGE] == []
