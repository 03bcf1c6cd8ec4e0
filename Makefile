# Parley's developer entry points. Needs only python3 (3.11+) and make: uv is bootstrapped
# into .tools/ at a pinned version, and every install is --locked against uv.lock.

UV_VERSION := 0.13.8
TOOLS := .tools
UV := $(TOOLS)/uv/bin/uv
PYTHON ?= python3
RUN := $(UV) run --locked

.DEFAULT_GOAL := help
.PHONY: help run test lint typecheck fmt all sync clean

help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[36m%-12s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(UV):
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "Parley needs Python 3.11+"; exit 1; }
	$(PYTHON) -m venv $(TOOLS)/uv
	$(TOOLS)/uv/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

.venv/.synced: $(UV) uv.lock pyproject.toml libs/*/pyproject.toml services/*/pyproject.toml
	$(UV) sync --locked
	@touch $@

sync: .venv/.synced ## Install every workspace member and dev tool from uv.lock

run: .venv/.synced ## Run all of Parley in one process on SQLite (PARLEY_PORT, default 8000)
	$(RUN) parley-embedded

test: .venv/.synced ## Run the test suite (PARLEY_REQUIRE_SERVICES=1 fails instead of skipping)
	$(RUN) pytest $(PYTEST_ARGS)

lint: .venv/.synced ## ruff and the import-linter layer contracts
	$(RUN) ruff check .
	$(RUN) ruff format --check .
	$(RUN) lint-imports

typecheck: .venv/.synced ## mypy --strict over every src tree
	$(RUN) mypy

fmt: .venv/.synced ## Format and autofix
	$(RUN) ruff format .
	$(RUN) ruff check --fix .

all: fmt lint typecheck test ## Format, lint, typecheck and test

clean: ## Remove the virtualenv, tools and local data
	rm -rf .venv $(TOOLS) .parley .pytest_cache .mypy_cache .ruff_cache
