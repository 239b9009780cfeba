# Two commands matter: `make serve` runs the server, `make test` runs every test.
# Both set up everything they need (a virtualenv with the locked dependencies) on a fresh machine.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEV_STAMP := $(VENV)/.installed-dev
PYTEST := $(BIN)/pytest -p no:cacheprovider
# Uses the PostgreSQL/Redis answering on the usual ports (or ORCHESTRATOR_TEST_PG_URL /
# ORCHESTRATOR_TEST_REDIS_URL), else starts throwaway ones; with CI set, a missing one fails.
WITH_SERVICES := $(BIN)/python scripts/with_test_services.py

.PHONY: serve test lint openapi test-server test-postgres test-clients test-diffusers bench clean

# Runtime only (what `make serve` needs); the dev tools come on top for the test targets.
$(STAMP): requirements.lock server/pyproject.toml clients/python/pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps -e server -e clients/python
	touch $(STAMP)

$(DEV_STAMP): $(STAMP) requirements-dev.lock
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.lock
	touch $(DEV_STAMP)

## Run the server: SQLite, images on local disk, test mode ready (http://127.0.0.1:8000).
serve: $(STAMP)
	$(BIN)/orchestrator serve

## Run every test: lint and types, the server on SQLite and on PostgreSQL, providers, clients.
test: lint test-server test-postgres test-clients test-diffusers

lint: $(DEV_STAMP)
	$(BIN)/ruff check server clients/python bench
	$(BIN)/ruff format --check server clients/python bench
	cd server && ../$(BIN)/mypy src
	cd clients/python && ../../$(BIN)/mypy src

test-server: $(DEV_STAMP)
	$(WITH_SERVICES) --redis -- sh -c 'cd server && ORCHESTRATOR_TEST_DATABASE=sqlite ../$(PYTEST) -q -rs --ignore=tests/providers/test_diffusers_local.py'

test-postgres: $(DEV_STAMP)
	$(WITH_SERVICES) --postgres --redis -- sh -c 'cd server && ORCHESTRATOR_TEST_DATABASE=postgresql ../$(PYTEST) -q -rs --ignore=tests/providers/test_diffusers_local.py'

test-clients: $(DEV_STAMP)
	cd clients/python && ../../$(PYTEST) -q -rs

# The local-diffusers extra (torch) is big: CI (CI=true) or WITH_DIFFUSERS=1 installs it and
# requires its tests to run; a plain local `make test` runs them only if it is already installed.
test-diffusers: $(DEV_STAMP)
ifneq ($(filter true 1,$(CI) $(WITH_DIFFUSERS)),)
	bash scripts/install-diffusers.sh $(BIN)
	cd server && ORCHESTRATOR_REQUIRE_DIFFUSERS=1 ../$(PYTEST) -q tests/providers/test_diffusers_local.py
else
	cd server && ../$(PYTEST) -q -rs tests/providers/test_diffusers_local.py
endif

openapi: $(STAMP)
	$(BIN)/orchestrator openapi -o openapi.json

bench: $(DEV_STAMP)
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) data
