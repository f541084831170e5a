# Every task of the repo is a target here; `make help` lists them.
.DEFAULT_GOAL := help
SHELL := /bin/bash
UV ?= $(shell command -v uv 2>/dev/null || echo "$(HOME)/.local/bin/uv")
PY := .venv/bin/python
PYTEST_ARGS ?=

.PHONY: help
help: ## list the targets
	@grep -E '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  %-14s %s\n", $$1, $$2}'

.PHONY: setup
setup: ## install the locked Python dependencies (uv.lock) into .venv
	@command -v uv >/dev/null 2>&1 || python3 -m pip install --quiet 'uv>=0.9,<1'
	uv sync --frozen

.PHONY: setup-test
setup-test: setup ## also install the npm test servers (Cosmos DB test server)
	npm ci --silent --prefix scripts/cosmosdb

.PHONY: dev
dev: setup ## run the whole suite embedded (SQLite, in-process bus and cache)
	.venv/bin/coder dev

.PHONY: gen
gen: ## regenerate gen/ from proto/ (Python stubs, descriptor set) and envoy/envoy.yaml
	$(PY) scripts/gen.py
	.venv/bin/coder envoy-config

.PHONY: gen-check
gen-check: ## fail when gen/ or envoy/envoy.yaml differ from what `make gen` writes
	$(MAKE) --no-print-directory gen
	@git diff --exit-code --stat -- gen envoy || (echo "generated files are stale: run make gen and commit" && exit 1)
	@test -z "$$(git status --porcelain -- gen envoy)" || (git status --porcelain -- gen envoy; echo "untracked generated files: run make gen and commit"; exit 1)

.PHONY: buf-lint
buf-lint: ## buf lint (STANDARD) over the proto tree
	$(PY) scripts/gen.py --deps-only
	.venv/bin/buf lint gen/descriptor.binpb --path coder

.PHONY: lint
lint: ## ruff (lint + format check) and mypy strict
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/mypy services edge cli scripts tests

.PHONY: fmt
fmt: ## format and auto-fix
	.venv/bin/ruff format .
	.venv/bin/ruff check --fix .

.PHONY: test
test: setup-test ## set up, then run every test (needs Redis and RabbitMQ running)
	$(PY) -m pytest $(PYTEST_ARGS)

.PHONY: bench
bench: ## benchmarks: kit (echo vs GetTask vs ListTasks), edge (gRPC vs edge vs Envoy), usage (needs RabbitMQ)
	$(PY) scripts/bench/kit.py
	$(PY) scripts/bench/edge.py
	$(PY) scripts/bench/usage.py

.PHONY: ci
ci: ## what CI runs (after services are up)
	bash .ci/run
