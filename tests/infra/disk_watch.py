"""Pytest plugin: the run's summary says how much disk the tests took, and which test left the least free.

A CI run once ran out of disk at 87% of the tests (every later test erred and pytest could not write its cache), with
nothing in its output to say how much the tests had taken: pytest kept every test's ``tmp_path`` to the end of the
session then (pyproject.toml now sets ``tmp_path_retention_policy = "failed"``). The summary gives the free space
where pytest writes its temporary directories, at the start, at its least and at the end (the least of the
pytest-xdist workers', ``tests.infra.workers``).
"""

from __future__ import annotations

import shutil
import tempfile

import pytest

from tests.infra import workers

GIB = 1024**3


class DiskWatch:
    """Free disk of the temporary directory's file system, read at the end of each test."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.start = self.least = self.free()
        self.least_after = ""

    def free(self) -> int:
        return shutil.disk_usage(self.path).free

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_teardown(self, item: pytest.Item) -> None:
        """Before the test's fixtures are torn down: its ``tmp_path`` and stores are still there."""
        free = self.free()
        if free < self.least:
            self.least, self.least_after = free, item.nodeid

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        workers.send(session.config, "disk_least", [self.least, self.least_after])

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        for least, after in workers.gathered(terminalreporter.config, "disk_least"):
            if least < self.least:
                self.least, self.least_after = least, after
        where = f" (in {self.least_after})" if self.least_after else ""
        terminalreporter.write_line(
            f"disk free under {self.path}: {self.start / GIB:.2f} GiB at the start, {self.least / GIB:.2f} GiB at"
            f" the least{where}, {self.free() / GIB:.2f} GiB at the end"
        )


def pytest_configure(config: pytest.Config) -> None:
    config.pluginmanager.register(DiskWatch(tempfile.gettempdir()), "regaudit-disk-watch")
