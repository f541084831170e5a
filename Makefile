# Every task of the repo is a target here; `make help` lists them.
.DEFAULT_GOAL := help
SHELL := /bin/bash
UV ?= $(shell command -v uv 2>/dev/null || echo "$(HOME)/.local/bin/uv")
PY := .venv/bin/python
PYTEST_ARGS ?= -n 2 --dist loadfile
UI_STAMP := ui/node_modules/.package-lock.json

.PHONY: help
help: ## list the targets
	@grep -E '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  %-14s %s\n", $$1, $$2}'

.PHONY: setup
setup: ## install the locked Python dependencies (uv.lock) into .venv
	@command -v uv >/dev/null 2>&1 || python3 -m pip install --quiet 'uv>=0.9,<1'
	uv sync --frozen

.PHONY: setup-test
setup-test: setup ui-deps ## also install the npm test tools (Cosmos DB test server, MCP Inspector) and the UI's dependencies
	npm ci --silent --prefix scripts/cosmosdb
	npm ci --silent --prefix scripts/mcp-inspector

# npm ci again only when the lock file changed since the last install.
$(UI_STAMP): ui/package-lock.json
	npm ci --prefix ui --no-audit --no-fund
	@touch $@

.PHONY: ui-deps
ui-deps: $(UI_STAMP) ## install the web UI's locked npm dependencies (ui/package-lock.json)

.PHONY: ui-build
ui-build: ui-deps ## build the web UI (ESLint, type check, next build) for coder dev to serve
	npm --prefix ui run build

.PHONY: dev
dev: setup ui-build ## run the whole suite embedded (SQLite, in-process bus and cache) and the UI
	.venv/bin/coder dev

.PHONY: gen
gen: ui-deps ## regenerate gen/ from proto/ (Python stubs, descriptor set, OpenAPI, TypeScript types) and envoy/envoy.yaml
	$(PY) scripts/gen.py
	npm --prefix ui run --silent gen
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
test: setup-test ## set up, then run every test (needs Redis and RabbitMQ running), the UI's unit and end-to-end tests included
	$(PY) -m pytest $(PYTEST_ARGS)

.PHONY: ui-test
ui-test: ui-deps ## only the UI's unit tests (Vitest)
	npm --prefix ui test

.PHONY: e2e
e2e: setup ui-build ## only the UI's end-to-end tests (Chromium against a real coder dev); screenshots in ui/e2e/.out/
	$(PY) -m pytest tests/ui/test_e2e.py

.PHONY: bench
bench: ## benchmarks: kit, edge (gRPC vs edge vs Envoy) and each service's (scripts/bench/; usage and notifications need RabbitMQ)
	$(PY) scripts/bench/kit.py
	$(PY) scripts/bench/edge.py
	$(PY) scripts/bench/prompt.py
	$(PY) scripts/bench/usage.py
	$(PY) scripts/bench/notifications.py
	$(PY) scripts/bench/mcp_gateway.py
	$(PY) scripts/bench/ai.py
	$(PY) scripts/bench/search.py
	$(PY) scripts/bench/knowledge.py
	$(PY) scripts/bench/critical_path.py
	$(PY) scripts/bench/execution.py

.PHONY: bench-ui
bench-ui: setup ui-build ## web UI benchmark: first-load JS per route, board time to interactive (50 vs 500 tasks)
	$(PY) scripts/bench/ui.py

.PHONY: ci
ci: ## what CI runs (after services are up)
	bash .ci/run
