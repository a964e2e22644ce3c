"""vulture over the package (``make lint``): code nothing uses, as pyproject.toml's ``[tool.vulture]`` configures it.

vulture reads names, not types or strings. pyproject.toml names the framework hooks it cannot see being called
(``ignore_names``, ``ignore_decorators``), and .ci/vulture_allowlist.py the few names used only from a string or by
the tests. Two kinds of names are used by design where vulture cannot look, and are many; listing them would make
each new detection, parameter or column an allow-list edit, so this script asks the code and drops:

- a field of a pydantic model or a dataclass: a record's data, read by name (``model_dump``, SQL columns and
  ``$parameters``, ``asdict``, the exported JSON schemas) or declared so that validation checks it;
- a detection class: the registry finds it by walking ``regaudit.analytics.detections``.

A field that is written and never read is still worth a look when you touch its record.

Usage: ``python .ci/deadcode.py``; exit status as vulture's (3 when it found dead code).
"""

from __future__ import annotations

import ast
import dataclasses
import importlib
import os
import sys
from pathlib import Path

from typecheck import ROOT, installed_sources
from vulture.config import make_config
from vulture.core import Item, Vulture
from vulture.utils import ExitCode


def class_path(item: Item) -> list[str]:
    """The names of the classes the item is in (or is), outermost first: empty for a module-level name."""
    nodes = ast.parse(Path(item.filename).read_text()).body
    names: list[str] = []
    while True:
        inside = [n for n in nodes if isinstance(n, ast.ClassDef) and n.lineno <= item.first_lineno <= n.end_lineno]
        if not inside:
            break
        names.append(inside[0].name)
        nodes = inside[0].body
    if item.typ == "class" and names[-1:] != [item.name]:
        names.append(item.name)  # first_lineno is its first decorator's
    return names


def used_by_design(item: Item, modules: dict[Path, str]) -> bool:
    """Whether the item is a record's field or a detection class (see the module docstring)."""
    if item.typ not in ("variable", "class"):
        return False
    names = class_path(item)
    module = modules.get(Path(item.filename).resolve())
    if not names or module is None:
        return False
    found: object = importlib.import_module(module)
    for name in names:
        found = getattr(found, name)
    if item.typ == "class":
        from regaudit.analytics.detection import Detection

        return isinstance(found, type) and issubclass(found, Detection)
    fields = getattr(found, "model_fields", None) or {}
    if dataclasses.is_dataclass(found):
        fields = {field.name: field for field in dataclasses.fields(found)}
    return item.name in fields


def main() -> None:
    """Report what vulture finds at the configured confidence, less what the code uses by design."""
    os.chdir(ROOT)
    config = make_config([])
    vulture = Vulture(ignore_names=config["ignore_names"], ignore_decorators=config["ignore_decorators"])
    vulture.scavenge(config["paths"], exclude=config["exclude"])
    modules = {Path(source.path).resolve(): source.module for source in installed_sources()}
    found = [
        item
        for item in vulture.get_unused_code(min_confidence=config["min_confidence"])
        if not used_by_design(item, modules)
    ]
    for item in found:
        print(item.get_report())
    sys.exit(ExitCode.DeadCode if found else vulture.exit_code)


if __name__ == "__main__":
    main()
