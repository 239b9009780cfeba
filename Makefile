# Two commands matter: `make serve` runs the server, `make test` runs every test.
# Both set up everything they need (a virtualenv with the locked dependencies) on a fresh machine.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYTEST := $(BIN)/pytest -p no:cacheprovider

.PHONY: serve test lint openapi test-server test-postgres test-clients test-typescript test-diffusers bench clean

$(STAMP): requirements.lock server/pyproject.toml clients/python/pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps -e server -e clients/python
	touch $(STAMP)

## Run the server: SQLite, images on local disk, test mode ready (http://127.0.0.1:8000).
serve: $(STAMP)
	$(BIN)/orchestrator serve

## Run every test: lint and types, the server on SQLite and on PostgreSQL, providers, clients.
test: lint test-server test-postgres test-clients test-typescript test-diffusers

lint: $(STAMP)
	$(BIN)/ruff check server clients/python bench
	$(BIN)/ruff format --check server clients/python bench
	cd server && ../$(BIN)/mypy src
	cd clients/python && ../../$(BIN)/mypy src

test-server: $(STAMP)
	cd server && ORCHESTRATOR_TEST_DATABASE=sqlite ../$(PYTEST) -q --ignore=tests/providers/test_diffusers_local.py

test-postgres: $(STAMP)
	cd server && ORCHESTRATOR_TEST_DATABASE=postgresql ../$(PYTEST) -q --ignore=tests/providers/test_diffusers_local.py

test-clients: $(STAMP)
	cd clients/python && ../../$(PYTEST) -q

# TypeScript client: node/npm from apt when missing, dev tools (typescript) from the lock file,
# then build, type-check (strict) and run the unit tests and, against real servers started by
# scripts/with_test_server.py, the integration tests (the second server is slow on purpose, so
# generations answer 202 and are followed over SSE).
TS := clients/typescript
TS_STAMP := $(TS)/node_modules/.installed
NODE_TEST := node --test --test-reporter=spec

$(TS_STAMP): $(TS)/package.json $(TS)/package-lock.json
	@command -v node >/dev/null && command -v npm >/dev/null || { \
		echo "test-typescript: node/npm not found; installing nodejs and npm with apt-get"; \
		apt-get update -qq && apt-get install -y -qq nodejs npm; }
	@echo "test-typescript: installing the TypeScript client's dev dependencies (npm ci)"
	cd $(TS) && npm ci --no-audit --no-fund
	touch $(TS_STAMP)

test-typescript: $(STAMP) $(TS_STAMP)
	cd $(TS) && node scripts/build.mjs
	cd $(TS) && node node_modules/typescript/bin/tsc -p tsconfig.json --noEmit
	cd $(TS) && $(NODE_TEST) test/unit/
	$(BIN)/python scripts/with_test_server.py -- \
		$(NODE_TEST) $(TS)/test/integration/live.test.mjs $(TS)/test/integration/package.test.mjs
	ORCHESTRATOR_TEST_SLOW=1 $(BIN)/python scripts/with_test_server.py \
		--setting offline_latency_seconds=1.5 --setting sync_wait_seconds=0.3 -- \
		$(NODE_TEST) $(TS)/test/integration/jobs.test.mjs

# The local-diffusers extra (torch) is big: CI (CI=true) or WITH_DIFFUSERS=1 installs it and
# requires its tests to run; a plain local `make test` runs them only if it is already installed.
test-diffusers: $(STAMP)
ifneq ($(filter true 1,$(CI) $(WITH_DIFFUSERS)),)
	bash scripts/install-diffusers.sh $(BIN)
	cd server && ORCHESTRATOR_REQUIRE_DIFFUSERS=1 ../$(PYTEST) -q tests/providers/test_diffusers_local.py
else
	cd server && ../$(PYTEST) -q -rs tests/providers/test_diffusers_local.py
endif

openapi: $(STAMP)
	$(BIN)/orchestrator openapi -o openapi.json

bench: $(STAMP)
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) data $(TS)/node_modules $(TS)/dist
