"""mypy over the package under its installed names, reading the files where they are (``make lint``).

setup.py installs the design's folders under one ``regaudit`` package (``ingest/`` is ``regaudit.ingest``). mypy
cannot follow setuptools' editable finder, and none of its options gives a folder another package's name:
``mypy_path`` and ``explicit_package_bases`` derive a module's name from its folder, so ``ingest/consumer.py``
would be ``ingest.consumer``, the strict overrides (``regaudit.ingest.*``) would not apply, and its
``regaudit.ingest`` imports would not resolve. So this script hands mypy each file with the name it is installed
under, and errors name the real file (``ingest/consumer.py:12``). The packages and their folders are setup.py's
own (run up to its ``setup()`` call), so a new package is checked without a change here. An import by the folder's
own name (``import analytics``), which works only in the source tree, fails: mypy finds the file under two names.

Usage: ``python .ci/typecheck.py [mypy options]``; pyproject.toml's ``[tool.mypy]`` applies, exit status as mypy's.
"""

from __future__ import annotations

import os
import sys
import time
from distutils.core import run_setup  # setuptools' own copy (its distutils-precedence.pth), as pip builds with
from pathlib import Path

from mypy import util
from mypy.fscache import FileSystemCache
from mypy.main import process_options, run_build
from mypy.modulefinder import BuildSource

ROOT = Path(__file__).resolve().parent.parent


def installed_sources() -> list[BuildSource]:
    """Every module setup.py installs, as (file, installed module name), in a stable order.

    setuptools installs a package's ``*.py`` files from its folder (subpackages are packages of their own), so the
    same walk sees the same modules as an install.
    """
    distribution = run_setup("setup.py", stop_after="init")
    sources = []
    for package in sorted(distribution.packages):
        folder = Path(distribution.package_dir[package])
        for path in sorted(folder.glob("*.py")):
            module = package if path.stem == "__init__" else f"{package}.{path.stem}"
            sources.append(BuildSource(str(path), module))
    return sources


def main(arguments: list[str]) -> None:
    """Check the installed modules, print mypy's messages and summary, exit with mypy's status."""
    started = time.time()
    os.chdir(ROOT)  # setup.py's folders and the reported paths are relative to the repository root
    fscache = FileSystemCache()
    _, options = process_options(
        ["--config-file", "pyproject.toml", *arguments], fscache=fscache, require_targets=False
    )
    sources = installed_sources()
    result, messages, blockers = run_build(sources, options, fscache, started, sys.stdout, sys.stderr)
    formatter = util.FancyFormatter(sys.stdout, sys.stderr, options.hide_error_codes)
    errors, notes, files = util.count_stats(messages)
    if errors:
        print(formatter.format_error(errors, files, len(sources), blockers=blockers, use_color=options.color_output))
    else:
        print(formatter.format_success(len(sources), options.color_output))
    status = (2 if blockers else 1) if messages and notes < len(messages) else 0
    # As mypy's own main: exit while the build's objects are alive, as freeing them takes ~7 s of a 22 s cold run.
    util.hard_exit(status)


if __name__ == "__main__":
    main(sys.argv[1:])
