"""The Dockerfile builds a small non-root image from pinned dependencies: the lock pins every runtime
dependency of regaudit with ``==`` at the version the tests run with, and the build context holds what the
wheel needs."""

from __future__ import annotations

import ast
import importlib.util
import re
import tomllib
from importlib import metadata
from types import ModuleType

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.deploy.compose import DEPLOY_DIR, REPO_ROOT, load_compose, regaudit_image

DOCKERFILE = REPO_ROOT / "Dockerfile"
DOCKERIGNORE = REPO_ROOT / ".dockerignore"
LOCK = DEPLOY_DIR / "requirements.lock"
_PIN = re.compile(r"^(?P<name>[a-z0-9]+(?:-[a-z0-9]+)*)==(?P<version>[^\s=;]+)$")


def _lock_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("lock_requirements", DEPLOY_DIR / "lock_requirements.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _pins() -> dict[str, str]:
    pins = {}
    for line in LOCK.read_text().splitlines():
        if not line or line.startswith("#"):
            continue
        match = _PIN.match(line)
        assert match, f"requirements.lock: {line!r} is not pinned as name==version"
        pins[match["name"]] = match["version"]
    return pins


def _instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the Dockerfile, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in lines]


def test_every_dependency_in_the_lock_is_pinned_exactly() -> None:
    pins = _pins()
    assert pins
    assert list(pins) == sorted(pins)


def test_the_lock_is_the_runtime_closure_at_the_tested_versions() -> None:
    closure = _lock_script().runtime_closure()
    hint = "regenerate it: .venv/bin/python deploy/lock_requirements.py"
    assert _pins() == closure, f"deploy/requirements.lock is stale; {hint}"
    assert not {"pytest", "ruff", "mypy", "hypothesis"} & set(closure), "a development tool is in the lock"


def test_the_pins_satisfy_regaudits_own_requirements() -> None:
    pins = _pins()
    with (REPO_ROOT / "pyproject.toml").open("rb") as handle:
        dependencies = tomllib.load(handle)["project"]["dependencies"]
    for text in dependencies:
        requirement = Requirement(text)
        version = pins[canonicalize_name(requirement.name)]
        assert requirement.specifier.contains(version, prereleases=True), f"{version} does not satisfy {text}"
        assert metadata.version(requirement.name) == version


def test_the_image_is_multi_stage_slim_and_non_root() -> None:
    instructions = _instructions()
    froms = [args for instruction, args in instructions if instruction == "FROM"]
    base = next(args for instruction, args in instructions if instruction == "ARG" and args.startswith("PYTHON_IMAGE"))

    assert base.split("=", 1)[1].startswith("python:3.11-slim")
    assert froms == ["${PYTHON_IMAGE} AS wheels", "${PYTHON_IMAGE}"]
    users = [args for instruction, args in instructions if instruction == "USER"]
    assert users == ["10001:10001"]
    assert ("ENTRYPOINT", '["regaudit"]') in instructions
    # The final stage is after the last FROM; USER and ENTRYPOINT must be set there.
    last_from = max(i for i, (instruction, _) in enumerate(instructions) if instruction == "FROM")
    assert any(instruction == "USER" for instruction, _ in instructions[last_from:])


def test_the_image_installs_only_the_locked_wheels() -> None:
    runs = [args for instruction, args in _instructions() if instruction == "RUN"]
    assert any("pip wheel --wheel-dir /wheels --requirement deploy/requirements.lock" in run for run in runs)
    install = next(run for run in runs if "pip install" in run)
    assert "--no-index --find-links /wheels --requirement /tmp/requirements.lock regaudit" in install
    assert "source=deploy/requirements.lock,target=/tmp/requirements.lock" in install
    assert "pip check" in install


def test_compose_builds_this_dockerfile() -> None:
    compose = load_compose()
    assert compose["x-regaudit"]["build"] == {"context": "."}
    assert regaudit_image(compose).startswith("${REGAUDIT_IMAGE:-regaudit:")


def _setup_roots() -> dict[str, str]:
    tree = ast.parse((REPO_ROOT / "setup.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "ROOTS" for t in node.targets):
            roots = ast.literal_eval(node.value)
            assert isinstance(roots, dict)
            return roots
    raise AssertionError("setup.py has no ROOTS")


def test_the_build_context_allows_what_the_wheel_needs_and_nothing_secret() -> None:
    lines = [line for line in DOCKERIGNORE.read_text().splitlines() if line and not line.startswith("#")]
    assert lines[0] == "*", ".dockerignore must be an allowlist"
    allowed = {line[1:].rstrip("/") for line in lines if line.startswith("!")}

    needed = {"pyproject.toml", "setup.py", "deploy/requirements.lock", *_setup_roots().values()}
    assert needed <= allowed
    for path in allowed:
        assert not path.startswith(("deploy/secrets", ".env", ".venv", "tests")), path


@pytest.mark.parametrize("folder", sorted(set(_setup_roots().values())))
def test_every_package_folder_exists_for_the_build(folder: str) -> None:
    assert (REPO_ROOT / folder / "__init__.py").is_file()
