"""The Dockerfile builds a small non-root image from pinned dependencies (deploy/requirements.lock; its pins are
checked in test_locks.py), and the build context holds what the wheel needs."""

from __future__ import annotations

import ast
import re

import pytest

from tests.deploy.compose import REPO_ROOT, load_compose, regaudit_image

DOCKERFILE = REPO_ROOT / "Dockerfile"
DOCKERIGNORE = REPO_ROOT / ".dockerignore"


def _instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the Dockerfile, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in lines]


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
