# One Makefile for people and CI (STYLE.md, Tooling). `make` lists the targets; `make check` is what CI runs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
KAFKA_LIBS ?= $(CURDIR)/.cache/kafka/libs
PYTEST_ARGS ?=
# make test's pytest-xdist workers, each given whole test files (a module's registry or store is set up once). Most
# tests wait on a broker, a registry or a browser: on two cores pytest took 1,367 s with two against 2,102-2,118 s in
# one process (6 December 2026). PYTEST_WORKERS=0 runs it in one process.
PYTEST_WORKERS ?= 2

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
.PHONY: help setup system venv kafka registry-v3 test lint check lock lock-upgrade format demo

help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-z-]+:.*## / {printf "  %-8s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

setup: system venv kafka registry-v3 ## Install everything: Debian packages, the venv, the Kafka jars, registry 3.x

system: ## Debian packages the tests run (registry, nginx, skopeo, kcat, chromium...); no-op when present
	@.ci/install-system.sh

venv: $(VENV)/.installed ## The virtualenv: every package at its locked version, then regaudit editable

# pip installs exactly the pins of requirements-dev.lock (no resolution: any day, any machine, the same
# versions), then regaudit itself without dependencies. `make lock` is the only thing that changes the pins.
$(VENV)/.installed: requirements-dev.lock pyproject.toml setup.py
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install -q --disable-pip-version-check --requirement requirements-dev.lock
	@$(BIN)/python -m pip install -q --disable-pip-version-check --no-deps --no-build-isolation -e .
	@touch $@

# uv resolves; the existing pins are kept unless pyproject.toml no longer allows them. deploy/requirements.lock
# (the image) is the runtime part of the same resolution, so the image and the tests run the same versions.
LOCK_ARGS := --universal --python-version 3.11 --quiet --custom-compile-command 'make lock'
lock: ## Re-resolve the locks after a change to pyproject.toml's dependencies (keeps every pin it can)
	@test -x $(BIN)/uv || { echo "make lock: run make venv first (uv is a dev dependency)" >&2; exit 1; }
	$(BIN)/uv pip compile pyproject.toml --extra dev $(LOCK_ARGS) $(UPGRADE) --output-file requirements-dev.lock
	$(BIN)/uv pip compile pyproject.toml $(LOCK_ARGS) --no-annotate --constraint requirements-dev.lock \
		--output-file deploy/requirements.lock

lock-upgrade: ## Move every pin to the newest release pyproject.toml allows; then run make check
	@$(MAKE) --no-print-directory lock UPGRADE=--upgrade

kafka: ## The Apache Kafka jars from Maven Central into .cache/kafka/libs; no-op when present
	@REGAUDIT_KAFKA_LIBS=$(KAFKA_LIBS) .ci/install-kafka.sh >/dev/null

registry-v3: ## Distribution 3.x built with Go from the module proxy into .cache/registry-v3; no-op when present
	@.ci/install-registry-v3.sh >/dev/null

check: lint test ## What CI runs (.ci/run): lint, then every test

test: setup ## Run every test, integration included (PYTEST_ARGS='-k kafka' to narrow)
	REGAUDIT_KAFKA_LIBS=$(KAFKA_LIBS) $(BIN)/pytest -q -rfEs --durations=25 -n $(PYTEST_WORKERS) --dist loadfile \
		$(PYTEST_ARGS)

# mypy cannot follow setuptools' editable finder over setup.py's package mapping: .ci/typecheck.py gives it each file
# under the module name setup.py installs it as (ingest/consumer.py is regaudit.ingest.consumer).
lint: venv ## ruff check, ruff format --check, mypy (strict on the packages pyproject.toml lists)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python .ci/typecheck.py
	$(BIN)/mypy tests/infra
	$(BIN)/python .ci/deadcode.py

format: venv ## Rewrite the code: ruff format, then the fixable ruff check findings
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

demo: venv ## Synthesize a month of registry traffic, run it through the pipeline, open the dashboard
	$(BIN)/regaudit demo
