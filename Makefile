# One Makefile for people and CI (STYLE.md, Tooling). `make` lists the targets; `make test` is the test command.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
KAFKA_LIBS ?= $(CURDIR)/.cache/kafka/libs
PYTEST_ARGS ?=
# mypy cannot follow setuptools' editable finder over the package_dir mapping (setup.py), so `lint` checks a
# throwaway tree of symlinks laid out as installed: regaudit/{schemas,ingest,analytics,dashboard}.
TYPECHECK := .cache/typecheck

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
.PHONY: help setup system venv kafka registry-v3 test lint format demo

help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-z-]+:.*## / {printf "  %-8s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

setup: system venv kafka registry-v3 ## Install everything: Debian packages, the venv, the Kafka jars, registry 3.x

system: ## Debian packages the tests run (registry, nginx, skopeo, kcat, chromium...); no-op when present
	@.ci/install-system.sh

venv: $(VENV)/.installed ## The virtualenv with regaudit installed editable, with the dev extras

$(VENV)/.installed: pyproject.toml setup.py
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install -q --disable-pip-version-check -e '.[dev]'
	@touch $@

kafka: ## The Apache Kafka jars from Maven Central into .cache/kafka/libs; no-op when present
	@REGAUDIT_KAFKA_LIBS=$(KAFKA_LIBS) .ci/install-kafka.sh >/dev/null

registry-v3: ## Distribution 3.x built with Go from the module proxy into .cache/registry-v3; no-op when present
	@.ci/install-registry-v3.sh >/dev/null

test: setup ## Run every test, integration included (PYTEST_ARGS='-k kafka' to narrow)
	REGAUDIT_KAFKA_LIBS=$(KAFKA_LIBS) $(BIN)/pytest -q -rfEs $(PYTEST_ARGS)

lint: venv ## ruff check, ruff format --check, mypy (strict on schemas, ingest, analytics)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	@rm -rf $(TYPECHECK) && mkdir -p $(TYPECHECK)/regaudit
	@ln -s $(CURDIR)/regaudit/*.py $(CURDIR)/regaudit/py.typed $(TYPECHECK)/regaudit/
	@for package in schemas ingest analytics dashboard; do ln -s $(CURDIR)/$$package $(TYPECHECK)/regaudit/; done
	cd $(TYPECHECK) && $(CURDIR)/$(BIN)/mypy --config-file $(CURDIR)/pyproject.toml -p regaudit \
		| sed -E 's#^regaudit/(schemas|ingest|analytics|dashboard)/#\1/#'
	$(BIN)/mypy tests/infra

format: venv ## Rewrite the code: ruff format, then the fixable ruff check findings
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

demo: venv ## Synthesize a month of registry traffic, run it through the pipeline, open the dashboard
	$(BIN)/regaudit demo
