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
# The server suite in two processes (pytest-xdist): much of it waits on sockets and subprocesses.
# Each process migrates its own template database once and checks its own logs for secrets.
XDIST ?= -n 2 --dist worksteal
SERVER_SUITE := --ignore=tests/providers/test_diffusers_local.py --ignore=tests/scaleout --ignore=tests/fuzz

.PHONY: serve test test-tools test-services test-fuzz-sqlite test-fuzz-postgres test-lane-server test-lane-clients php-tools ruby-tools diffusers-tools check lint dist dist-python dist-typescript dist-php dist-ruby test-typescript-runtimes test-python-versions openapi test-server test-postgres test-scaleout test-fuzz test-clients test-typescript test-diffusers test-php test-ruby test-bench-smoke bench clean

# Runtime only (what `make serve` needs); the dev tools come on top for the test targets.
$(STAMP): requirements.lock server/pyproject.toml clients/python/pyproject.toml emulators/pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps -e server -e clients/python -e emulators
	touch $(STAMP)

$(DEV_STAMP): $(STAMP) requirements-dev.lock
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.lock
	touch $(DEV_STAMP)

# The dashboard's browser tests drive Debian's Chromium (a browser download of a test tool's own
# cannot be reached from every machine); installed here when missing.
CHROMIUM := /usr/bin/chromium
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

$(CHROMIUM):
	@echo "Installing Debian's chromium for the dashboard browser tests (apt-get install chromium)"
	$(SUDO) apt-get update -q
	$(SUDO) apt-get install -y -q chromium

# axe-core, injected into the dashboard by its browser tests (accessibility), from the lock file.
BROWSER_TOOLS := server/tests/browser
AXE_STAMP := $(BROWSER_TOOLS)/node_modules/.installed

$(AXE_STAMP): $(BROWSER_TOOLS)/package.json $(BROWSER_TOOLS)/package-lock.json
	@command -v npm >/dev/null || { \
		echo "dashboard tests: npm not found; installing nodejs and npm with apt-get"; \
		$(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq nodejs npm; }
	cd $(BROWSER_TOOLS) && npm ci --no-audit --no-fund
	touch $(AXE_STAMP)

## Run the server: SQLite, images on local disk, test mode ready (http://127.0.0.1:8000).
serve: $(STAMP)
	$(BIN)/orchestrator serve

## Run every test: lint and types, the server on SQLite and on PostgreSQL, providers, clients.
# After lint and the tools every suite needs (installed first, one at a time: apt-get takes a lock),
# two lanes run at once: the server's suites, one after another (output live), and the clients',
# runtimes' and SQLite fuzz suites, which mostly wait on their own servers, subprocesses and
# installs, one after another (output in $(CLIENT_LANE_LOG), printed whole when the lane ends).
# A lane stops at its first failure; the other runs to its end; then `make test` fails. The
# benchmark's smoke run (a load generator at full tilt) comes last, alone.
# `make test-lane-server` / `make test-lane-clients` run one lane alone.
# Every PostgreSQL suite stays in the server lane (one at a time: a CI database's connection cap);
# the SQLite fuzz run rides in the client lane, the shorter one.
SERVER_LANE := test-server test-postgres test-scaleout test-fuzz-postgres test-diffusers
CLIENT_LANE := test-clients test-python-versions test-typescript test-typescript-runtimes test-php test-ruby test-fuzz-sqlite
CLIENT_LANE_LOG := .cache/test-lane-clients.log
test: lint test-tools
	@status=0; \
	$(MAKE) --no-print-directory test-lane-clients & clients=$$!; \
	$(MAKE) --no-print-directory test-lane-server || status=$$?; \
	wait $$clients || status=$$?; \
	$(MAKE) --no-print-directory test-bench-smoke || status=$$?; \
	if [ $$status -ne 0 ]; then echo "make test: FAILED (see the lane output above)"; fi; \
	exit $$status

test-lane-server:
	$(MAKE) --no-print-directory -j1 $(SERVER_LANE)

test-lane-clients:
	@echo "test-lane-clients: $(CLIENT_LANE) running alongside; output in $(CLIENT_LANE_LOG)"
	@mkdir -p $(dir $(CLIENT_LANE_LOG)); status=0; $(MAKE) --no-print-directory -j1 $(CLIENT_LANE) >$(CLIENT_LANE_LOG) 2>&1 || status=$$?; \
		echo "==================== test-lane-clients (exit status $$status) ===================="; \
		cat $(CLIENT_LANE_LOG); \
		echo "==================== end of test-lane-clients (exit status $$status) ===================="; \
		exit $$status

## The inner loop (about 3 minutes on a quiet machine): lint, then the server suite on SQLite.
# It runs alone, so the suite takes four processes (its tests wait on sockets, subprocesses and a
# browser as much as they compute); inside `make test` the lanes share the cores, two each.
CHECK_XDIST := -n 4 --dist worksteal
check: lint
	$(MAKE) --no-print-directory test-server XDIST="$(CHECK_XDIST)"

lint: $(DEV_STAMP)
	$(BIN)/ruff check server clients/python bench emulators
	$(BIN)/ruff format --check server clients/python bench emulators
	cd server && ../$(BIN)/mypy src
	cd emulators && ../$(BIN)/mypy src
	cd server && ../$(BIN)/lint-imports
	cd clients/python && ../../$(BIN)/mypy src

test-server: $(DEV_STAMP) $(CHROMIUM) $(AXE_STAMP)
	$(WITH_SERVICES) --redis -- sh -c 'cd server && ORCHESTRATOR_TEST_DATABASE=sqlite ../$(PYTEST) -q -rs $(XDIST) $(SERVER_SUITE)'

test-postgres: $(DEV_STAMP) $(CHROMIUM) $(AXE_STAMP)
	$(WITH_SERVICES) --postgres --redis -- sh -c 'cd server && ORCHESTRATOR_TEST_DATABASE=postgresql ../$(PYTEST) -q -rs $(XDIST) $(SERVER_SUITE)'

# Several `orchestrator serve` processes on one PostgreSQL, Redis and S3 (moto, started by the tests).
test-scaleout: $(DEV_STAMP)
	$(WITH_SERVICES) --postgres --redis -- sh -c 'cd server && ORCHESTRATOR_TEST_DATABASE=postgresql ../$(PYTEST) -q -rs tests/scaleout'

# Fuzzing on both databases: hypothesis over request bodies and query parameters, then schemathesis
# over every operation of a served app. Derandomized with fixed seeds and bounded (about a minute
# per database); ORCHESTRATOR_FUZZ_EXAMPLES / ORCHESTRATOR_SCHEMATHESIS_EXAMPLES raise the budget.
test-fuzz: test-fuzz-sqlite test-fuzz-postgres

test-fuzz-sqlite: $(DEV_STAMP)
	cd server && ORCHESTRATOR_TEST_DATABASE=sqlite ../$(PYTEST) -q -rA --durations=0 tests/fuzz

test-fuzz-postgres: $(DEV_STAMP)
	$(WITH_SERVICES) --postgres -- sh -c 'cd server && ORCHESTRATOR_TEST_DATABASE=postgresql ../$(PYTEST) -q -rA --durations=0 tests/fuzz'

test-clients: $(DEV_STAMP)
	cd clients/python && ../../$(PYTEST) -q -rs

# The Python client's unit suite on the other Pythons it claims (3.10, 3.12, 3.13; the main
# virtualenv's 3.11 runs everything above). A missing interpreter is skipped locally, an error in CI.
PYTHON_VERSIONS := 3.10 3.12 3.13
test-python-versions: $(DEV_STAMP)
	$(BIN)/python scripts/test_python_versions.py $(PYTHON_VERSIONS)

# Release packages, built and checked, into dist/<sdk>/: one dist-<sdk> target per SDK.
DIST := dist
DIST_TARGETS := dist-python dist-typescript dist-php dist-ruby
dist: $(DIST_TARGETS)
	@echo "dist: built and checked:" && ls -1 $(DIST)/*/

# Python: wheel and sdist of clients/python with the locked build backend (no download at build
# time), `twine check --strict` on both, then the wheel alone unpacked into a scratch folder and
# imported from there (ahead of the editable install), its freepik-ai command included.
SMOKE := $(DIST)/python/.smoke
dist-python: $(DEV_STAMP)
	rm -rf $(DIST)/python
	$(BIN)/python -m build --no-isolation --sdist --wheel --outdir $(DIST)/python clients/python
	$(BIN)/twine check --strict $(DIST)/python/*
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps --target $(SMOKE) $(DIST)/python/*.whl
	PYTHONPATH=$(SMOKE) $(BIN)/python -c 'import sys, freepik_ai_orchestrator as f, freepik_ai_orchestrator.cli; \
		assert f.__file__.startswith(sys.argv[1]), f.__file__; print("dist-python: imports", f.__version__, "from the wheel")' $(CURDIR)/$(SMOKE)
	PYTHONPATH=$(SMOKE) $(SMOKE)/bin/freepik-ai --help >/dev/null
	rm -rf $(SMOKE)

# TypeScript: the npm tarball (`npm pack`, built by its prepack script), checked by publint
# (--strict) and @arethetypeswrong/cli (types resolve for node10, node16 CJS/ESM and bundlers),
# both locked dev dependencies; then installed from the tarball alone into a scratch project and
# imported there as ESM and CommonJS.
dist-typescript: clients/typescript/node_modules/.installed
	rm -rf $(DIST)/typescript && mkdir -p $(DIST)/typescript/.smoke
	cd $(TS) && npm pack --silent --pack-destination $(CURDIR)/$(DIST)/typescript >/dev/null
	cd $(TS) && node node_modules/publint/src/cli.js --strict
	cd $(TS) && node_modules/.bin/attw $(CURDIR)/$(DIST)/typescript/*.tgz
	cd $(DIST)/typescript/.smoke && echo '{"name": "smoke", "private": true}' > package.json && npm install --no-audit --no-fund --offline ../*.tgz >/dev/null
	cd $(DIST)/typescript/.smoke && node --input-type=module -e 'import { OrchestrationClient, verifyWebhook } from "@freepik/ai-orchestrator-client"; if (typeof OrchestrationClient !== "function" || typeof verifyWebhook !== "function") process.exit(1)' \
		&& node -e 'const m = require("@freepik/ai-orchestrator-client"); if (typeof m.OrchestrationClient !== "function") process.exit(1); console.log("dist-typescript: imports", m.VERSION, "from the tarball (ESM and CommonJS)")'
	rm -rf $(DIST)/typescript/.smoke

# PHP: `composer validate --strict`, a zip by `composer archive` (tests left out), then a scratch
# project that installs the zip's contents with Composer (a path repository, no Packagist) and
# uses its autoloader.
PHP_DIST_VERSION = $(shell sed -n "s/.*const VERSION = '\(.*\)';/\1/p" clients/php/src/OrchestrationClient.php)
dist-php:
	@if ! command -v composer >/dev/null || ! php -r 'exit(extension_loaded("zip") ? 0 : 1);'; then \
		echo "dist-php: installing composer and php-zip with apt-get"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq composer php-cli php-curl php-zip >/dev/null; fi
	rm -rf $(DIST)/php && mkdir -p $(DIST)/php/.smoke
	cd clients/php && composer validate --strict --no-interaction
	cd clients/php && composer archive --no-interaction --format=zip --dir=$(CURDIR)/$(DIST)/php \
		--file=freepik-ai-orchestrator-php-$(PHP_DIST_VERSION)
	cd $(DIST)/php/.smoke && php -r '$$z = new ZipArchive(); $$z->open($$argv[1]) === true && $$z->extractTo("package") || exit(1);' ../*.zip
	printf '%s\n' '{"name": "smoke/php", "type": "project",' \
		'"repositories": [{"packagist.org": false}, {"type": "path", "url": "package",' \
		'"options": {"symlink": false, "versions": {"freepik/ai-orchestrator-php": "$(PHP_DIST_VERSION)"}}}],' \
		'"require": {"freepik/ai-orchestrator-php": "$(PHP_DIST_VERSION)"}}' > $(DIST)/php/.smoke/composer.json
	cd $(DIST)/php/.smoke && COMPOSER_HOME=$(CURDIR)/$(DIST)/php/.smoke/.composer composer install --no-interaction --quiet
	cd $(DIST)/php/.smoke && php -r 'require "vendor/autoload.php"; new Freepik\AiOrchestrator\OrchestrationClient(apiKey: "sk-test-x"); echo "dist-php: installed ", Freepik\AiOrchestrator\OrchestrationClient::VERSION, " from the zip with Composer\n";'
	rm -rf $(DIST)/php/.smoke

# Ruby: RuboCop (the Debian package) clean, `gem build`, and the gem installed into a scratch
# GEM_HOME and required from there.
dist-ruby:
	@command -v rubocop >/dev/null || { echo "dist-ruby: installing ruby and rubocop with apt-get"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ruby rubocop >/dev/null; }
	rm -rf $(DIST)/ruby && mkdir -p $(DIST)/ruby
	cd clients/ruby && rubocop
	cd clients/ruby && gem build freepik-ai-orchestrator.gemspec --output $(CURDIR)/$(DIST)/ruby/freepik-ai-orchestrator.gem
	cd $(DIST)/ruby && mv freepik-ai-orchestrator.gem freepik-ai-orchestrator-$$(ruby -rrubygems/package -e 'print Gem::Package.new("freepik-ai-orchestrator.gem").spec.version').gem
	test -f $(DIST)/ruby/freepik-ai-orchestrator-$$(ruby -r./clients/ruby/lib/freepik/ai_orchestrator/version -e 'print Freepik::AiOrchestrator::VERSION').gem
	GEM_HOME=$(CURDIR)/$(DIST)/ruby/.smoke gem install --local --no-document $(DIST)/ruby/*.gem >/dev/null
	GEM_HOME=$(CURDIR)/$(DIST)/ruby/.smoke ruby -e 'gem "freepik-ai-orchestrator"; require "freepik/ai_orchestrator"; raise unless Freepik::AiOrchestrator::OrchestrationError.equal?(Freepik::AiOrchestrator::Error); puts "dist-ruby: installed #{Freepik::AiOrchestrator::VERSION} from the gem"'
	rm -rf $(DIST)/ruby/.smoke

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
	$(BIN)/python scripts/with_test_server.py --webhook-receiver -- \
		$(NODE_TEST) $(TS)/test/integration/live.test.mjs $(TS)/test/integration/package.test.mjs \
		$(TS)/test/integration/webhooks.test.mjs
	ORCHESTRATOR_TEST_SLOW=1 $(BIN)/python scripts/with_test_server.py \
		--setting offline_latency_seconds=1.5 --setting sync_wait_seconds=0.3 -- \
		$(NODE_TEST) $(TS)/test/integration/jobs.test.mjs

# The TypeScript unit suite on the other runtimes the package claims (`engines`: node >= 18; Node 20
# is the one above): Node 18 and 22 from the `node` npm packages and Bun from the `bun` npm
# package, pinned here and installed once into .cache/runtimes (npm only: no other download).
TS_RUNTIMES := node@18.20.8 node@22.23.3 bun@1.4.5
RUNTIMES := .cache/runtimes
test-typescript-runtimes: $(TS_STAMP)
	cd $(TS) && node scripts/build.mjs
	@for pkg in $(TS_RUNTIMES); do \
		dir=$(CURDIR)/$(RUNTIMES)/$$pkg; \
		if [ ! -x $$dir/node_modules/.bin/$${pkg%@*} ]; then \
			echo "test-typescript-runtimes: installing $$pkg from npm"; \
			mkdir -p $$dir && (cd $$dir && npm install --no-audit --no-fund --no-save --prefix . $$pkg >/dev/null) || exit 1; \
		fi; \
		echo "== TypeScript unit suite on $$pkg ($$($$dir/node_modules/.bin/$${pkg%@*} --version))"; \
		if [ "$${pkg%@*}" = bun ]; then (cd $(TS) && $$dir/node_modules/.bin/bun test test/unit/) || exit 1; \
		else (cd $(TS) && $$dir/node_modules/.bin/node --test test/unit/*.test.mjs) || exit 1; fi; \
	done

# Ruby client: ruby and ruby-minitest come from apt when missing; then lint (ruby -wc), unit tests,
# the built gem installed into a temporary GEM_HOME, and integration tests against real servers.
ruby-tools:
	@if ! command -v ruby >/dev/null 2>&1 || ! command -v gem >/dev/null 2>&1 \
		|| ! ruby -e 'require "minitest"' >/dev/null 2>&1; then \
		echo "test-ruby: ruby or ruby-minitest is missing; installing them with apt-get"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ruby ruby-minitest; \
	fi

test-ruby: $(STAMP) ruby-tools
	@ruby -rminitest -e 'puts "test-ruby: ruby #{RUBY_VERSION}, gem #{Gem::VERSION}, minitest #{Minitest::VERSION}"'
	bash clients/ruby/script/lint
	ORCHESTRATOR_PYTHON=$(CURDIR)/$(BIN)/python bash clients/ruby/script/test

# PHP client: installs its toolchain with apt-get when missing, lints every file (php -l,
# strict_types), then runs the unit suite and the integration suite against real servers
# (a second one with slow jobs for the 202 / polling / cancel paths).
PHP_PACKAGES := php-cli php-curl phpunit
PHP_TEST_SERVER := $(BIN)/python scripts/with_test_server.py
PHPUNIT_PHP := phpunit -c clients/php/phpunit.xml.dist
php-tools:
	@if ! command -v php >/dev/null || ! php -r 'exit(extension_loaded("curl") ? 0 : 1);' || ! command -v phpunit >/dev/null; then \
		echo "test-php: installing $(PHP_PACKAGES) with apt-get"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(PHP_PACKAGES) >/dev/null; \
	fi

test-php: $(STAMP) php-tools
	@n=0; for f in $$(find clients/php -name '*.php' -not -path '*/vendor/*'); do \
		out=$$(php -l "$$f" 2>&1) || { echo "$$out"; exit 1; }; \
		grep -q 'declare(strict_types=1);' "$$f" || { echo "$$f: missing declare(strict_types=1)"; exit 1; }; \
		n=$$((n + 1)); \
	done; echo "test-php: lint: $$n files, no syntax errors, strict_types everywhere"
	$(PHPUNIT_PHP) --testsuite unit
	$(PHP_TEST_SERVER) --webhook-receiver -- $(PHPUNIT_PHP) --testsuite integration --exclude-group slow
	$(PHP_TEST_SERVER) --setting offline_latency_seconds=1.5 --setting sync_wait_seconds=0.3 -- \
		$(PHPUNIT_PHP) --testsuite integration --group slow

# The local-diffusers extra (torch) is big: CI (CI=true) or WITH_DIFFUSERS=1 installs it and
# requires its tests to run; a plain local `make test` runs them only if it is already installed.
test-diffusers: $(DEV_STAMP) diffusers-tools
ifneq ($(filter true 1,$(CI) $(WITH_DIFFUSERS)),)
	cd server && ORCHESTRATOR_REQUIRE_DIFFUSERS=1 ../$(PYTEST) -q tests/providers/test_diffusers_local.py
else
	cd server && ../$(PYTEST) -q -rs tests/providers/test_diffusers_local.py
endif

# The extra's install (when CI or WITH_DIFFUSERS asks for its tests): pip into the one virtualenv
# every suite imports from, so it is done before the lanes start.
diffusers-tools: $(DEV_STAMP)
ifneq ($(filter true 1,$(CI) $(WITH_DIFFUSERS)),)
	bash scripts/install-diffusers.sh $(BIN)
endif

openapi: $(STAMP)
	$(BIN)/orchestrator openapi -o openapi.json
	$(BIN)/orchestrator openapi --markdown -o docs/api.md

# The load generator of the benchmark (Debian's wrk), installed when missing.
WRK := /usr/bin/wrk

$(WRK):
	@echo "Installing Debian's wrk for the benchmark (apt-get install wrk)"
	$(SUDO) apt-get update -q
	$(SUDO) apt-get install -y -q wrk

bench: $(DEV_STAMP) $(WRK)
	$(BIN)/python bench/run.py

# A few seconds of the benchmark (our server only, no timing judged), so `make bench` cannot rot.
test-bench-smoke: $(DEV_STAMP) $(WRK)
	$(BIN)/python bench/run.py --smoke

# Every tool the lanes of `make test` install on first use, installed before they start so that no
# two installs (apt-get takes a lock; pip writes the virtualenv every suite imports from) overlap.
# Here, after the variables it names are defined.
test-tools: $(DEV_STAMP) $(CHROMIUM) $(AXE_STAMP) $(TS_STAMP) $(WRK) php-tools ruby-tools diffusers-tools test-services

# PostgreSQL and Redis answer (or their binaries get installed, for the throwaway ones both lanes
# may start): checked once, before the lanes.
test-services: $(DEV_STAMP)
	$(WITH_SERVICES) --postgres --redis -- true

clean:
	rm -rf $(VENV) .venv-py* data $(DIST) $(TS)/node_modules $(TS)/dist $(BROWSER_TOOLS)/node_modules
