"""Pytest plugin: in CI nothing is skipped for want of a component (DESIGN.md section 7).

When the `CI` environment variable is set (to anything but empty, 0, false or no), a run that skipped any test
or module fails, and the summary names what was skipped and why. A run that collected no test already exits
with pytest's code 5, which is non-zero and so fails CI; the summary says why.
"""

from __future__ import annotations

import os

import pytest


def in_ci() -> bool:
    """Whether this run is CI's: `CI` set to anything but empty, 0, false or no."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


class SkipGuard:
    """Records every skip; turns a passing run with skips into a failing one."""

    def __init__(self) -> None:
        self.skipped: list[str] = []
        self.collected = 0

    def _record(self, report: pytest.TestReport | pytest.CollectReport) -> None:
        # An xfail is reported as skipped too, but it ran: only real skips count.
        if report.skipped and not hasattr(report, "wasxfail"):
            reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
            self.skipped.append(f"{report.nodeid}: {reason}")

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self._record(report)

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        self._record(report)

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        self.collected = session.testscollected
        if self.skipped and exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        if self.skipped:
            terminalreporter.section("CI guard: skipped tests fail the run", red=True, bold=True)
            for line in self.skipped:
                terminalreporter.write_line(f"SKIPPED {line}", red=True)
        if self.collected == 0:
            terminalreporter.write_line("CI guard: no tests collected; exit code 5 fails the run", red=True)


def pytest_configure(config: pytest.Config) -> None:
    if in_ci():
        config.pluginmanager.register(SkipGuard(), "regaudit-ci-skip-guard")
