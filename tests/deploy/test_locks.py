"""The locks: every machine, every day, the same versions.

``requirements-dev.lock`` pins every package of the development and test venv (regaudit's runtime dependencies
and the ``dev`` extra); ``deploy/requirements.lock`` pins the image's, and is the runtime part of the same
resolution (``make lock`` writes both with uv). These tests fail when pyproject.toml asks for something the locks
do not pin, when the two locks disagree, and when the venv the tests run in is not the lock's (so a test run
never silently uses a version the lock does not name).
"""

from __future__ import annotations

import re
import tomllib
from importlib import metadata

from packaging.markers import Marker, default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.deploy.compose import DEPLOY_DIR, REPO_ROOT

DEV_LOCK = REPO_ROOT / "requirements-dev.lock"
IMAGE_LOCK = DEPLOY_DIR / "requirements.lock"
_PIN = re.compile(r"^(?P<name>[a-z0-9]+(?:[-_.][a-z0-9]+)*)==(?P<version>[^\s=;]+)(?:\s*;\s*(?P<marker>.+))?$")
# The marker environment of the image (python:3.11-slim on linux/amd64 or linux/arm64).
IMAGE_ENVIRONMENT = {
    **default_environment(),
    "implementation_name": "cpython",
    "platform_python_implementation": "CPython",
    "python_version": "3.11",
    "sys_platform": "linux",
    "os_name": "posix",
    "platform_system": "Linux",
}
DEV_TOOLS = {"pytest", "ruff", "mypy", "hypothesis", "uv", "setuptools", "httpx", "check-jsonschema"}


def _pins(lock: str) -> dict[str, tuple[str, str | None]]:
    """Canonical name -> (version, environment marker or None) of every pin of a lock file."""
    pins: dict[str, tuple[str, str | None]] = {}
    for line in lock.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = _PIN.match(line.strip())
        assert match, f"{line!r} is not pinned as name==version"
        name = canonicalize_name(match["name"])
        assert name not in pins, f"{name} is pinned twice"
        pins[name] = (match["version"], match["marker"])
    return pins


def _applies(marker: str | None, environment: dict[str, str]) -> bool:
    return marker is None or Marker(marker).evaluate(environment)


def _pyproject() -> dict[str, list[str]]:
    with (REPO_ROOT / "pyproject.toml").open("rb") as handle:
        project = tomllib.load(handle)["project"]
    return {"runtime": project["dependencies"], "dev": project["optional-dependencies"]["dev"]}


def _runtime_closure() -> set[str]:
    """Every package the installed regaudit needs at run time in the image (markers evaluated for it)."""
    found: set[str] = set()
    pending = [("regaudit", "")]
    visited: set[tuple[str, str]] = set()
    while pending:
        name, extra = pending.pop()
        if (canonicalize_name(name), extra) in visited:
            continue
        visited.add((canonicalize_name(name), extra))
        for text in metadata.requires(name) or []:
            requirement = Requirement(text)
            environment = {**IMAGE_ENVIRONMENT, "extra": extra}
            if requirement.marker is not None and not requirement.marker.evaluate(environment):
                continue
            found.add(canonicalize_name(requirement.name))
            pending.append((requirement.name, ""))
            pending.extend((requirement.name, nested) for nested in requirement.extras)
    found.discard("regaudit")
    return found


def test_both_locks_pin_every_package_exactly_once_and_sorted() -> None:
    for lock in (DEV_LOCK, IMAGE_LOCK):
        pins = _pins(lock.read_text())
        assert pins, lock
        assert list(pins) == sorted(pins), f"{lock.name} is not sorted: regenerate it with make lock"


def test_the_dev_lock_satisfies_every_requirement_of_pyproject() -> None:
    pins = _pins(DEV_LOCK.read_text())
    hint = "pyproject.toml changed: run make lock"
    for group, requirements in _pyproject().items():
        for text in requirements:
            requirement = Requirement(text)
            name = canonicalize_name(requirement.name)
            assert name in pins, f"{group} requirement {text!r} is not in requirements-dev.lock; {hint}"
            version = pins[name][0]
            assert requirement.specifier.contains(version, prereleases=True), f"{name}=={version} fails {text}; {hint}"


def test_the_image_lock_is_the_runtime_part_of_the_dev_lock() -> None:
    dev, image = _pins(DEV_LOCK.read_text()), _pins(IMAGE_LOCK.read_text())
    for name, (version, _) in image.items():
        assert name in dev, f"{name} is in deploy/requirements.lock but not in requirements-dev.lock"
        assert dev[name][0] == version, f"{name}: the image pins {version}, the tests {dev[name][0]}"
    assert not DEV_TOOLS & set(image), "a development tool is in the image lock"


def test_the_image_lock_is_exactly_the_runtime_closure() -> None:
    image = _pins(IMAGE_LOCK.read_text())
    in_image = {name for name, (_, marker) in image.items() if _applies(marker, IMAGE_ENVIRONMENT)}
    assert in_image == _runtime_closure(), "deploy/requirements.lock is stale: run make lock"


def test_the_venv_runs_the_locked_versions() -> None:
    here = default_environment()
    pins = _pins(DEV_LOCK.read_text())
    stale = {
        name: (version, metadata.version(name))
        for name, (version, marker) in pins.items()
        if _applies(marker, here) and metadata.version(name) != version
    }
    assert not stale, f"the venv is not the lock's (pin, installed): {stale}; run make venv"
