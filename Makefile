# Tambo — `make run` starts it with demo data; `make test` runs every check CI runs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
PYTEST_WORKERS ?= 2

.PHONY: run test test-sqlite test-postgres test-faults lint bench install messages clean

# axe-core for the accessibility tests, pinned by package-lock.json (never a browser download).
NODE_MODULES := node_modules/.package-lock.json

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

$(NODE_MODULES): package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $@


# The real OpenID provider the login tests run (npm `oidc-provider`, node >= 20).
OIDC_PROVIDER := tests/oidc_provider
$(OIDC_PROVIDER)/node_modules/.installed: $(OIDC_PROVIDER)/package-lock.json
	cd $(OIDC_PROVIDER) && npm ci --no-audit --no-fund --loglevel=error
	touch $@

install: $(BIN)/.installed $(NODE_MODULES) $(OIDC_PROVIDER)/node_modules/.installed

run: $(BIN)/.installed
	mkdir -p var
	$(BIN)/tambo migrate --noinput
	$(BIN)/tambo collectstatic --noinput -v 0
	$(BIN)/tambo demo --node http://$(HOST):$(PORT)
	@echo "Tambo is at http://$(HOST):$(PORT)/ (with its task worker: evidence from other agencies, signing, sweeps)"
	$(BIN)/tambo db_worker & worker=$$!; trap 'kill $$worker 2>/dev/null' EXIT INT TERM; \
		$(BIN)/tambo runserver $(HOST):$(PORT)

lint: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/bandit -c pyproject.toml -r tambo -q --severity-level medium
	DJANGO_SETTINGS_MODULE=tambo.settings.test $(BIN)/tambo makemigrations --check --dry-run
	DJANGO_SETTINGS_MODULE=tambo.settings.test $(BIN)/tambo i18n_check --check-extracted

test: lint test-sqlite
	@if [ -n "$$DATABASE_URL" ]; then $(MAKE) --no-print-directory test-postgres; \
	else echo "DATABASE_URL not set: PostgreSQL run skipped (CI sets it)."; fi

test-sqlite: $(BIN)/.installed $(NODE_MODULES) $(OIDC_PROVIDER)/node_modules/.installed
	env -u DATABASE_URL $(BIN)/pytest -n $(PYTEST_WORKERS)

test-postgres: $(BIN)/.installed $(NODE_MODULES) $(OIDC_PROVIDER)/node_modules/.installed
	$(BIN)/pytest -n $(PYTEST_WORKERS)

# Crashes real processes (gunicorn, PostgreSQL, the task worker) and cuts the network to
# PostgreSQL through a fault proxy, on a throwaway cluster of their own (needs the PostgreSQL
# server binaries, not a running server); see tests/faults/. TAMBO_FAULTS_ROUNDS=N repeats the
# outage and network faults N times.
test-faults: $(BIN)/.installed
	$(BIN)/pytest -m faults -p no:xdist -s tests/faults

bench: $(BIN)/.installed
	$(BIN)/pip install --quiet -e '.[test,bench]'
	mkdir -p bench/out
	$(BIN)/python bench/run.py
	$(BIN)/python bench/bench_backoffice.py
	$(BIN)/python bench/bench_sign.py > bench/out/sign.txt
	$(BIN)/python bench/bench_load.py
	$(BIN)/python bench/bench_audit.py
	$(BIN)/python bench/bench_exchange.py
	dropdb -h 127.0.0.1 -U postgres --if-exists tambo_bench_policy
	createdb -h 127.0.0.1 -U postgres tambo_bench_policy
	DATABASE_URL=postgres://postgres@127.0.0.1:5432/tambo_bench_policy \
		$(BIN)/python bench/bench_policy.py > bench/out/policy.txt
	dropdb -h 127.0.0.1 -U postgres --if-exists tambo_bench_policy
	$(BIN)/python bench/collect.py

messages: $(BIN)/.installed
	cd tambo && ../$(BIN)/tambo makemessages -l es -l en -l qu --no-location --no-obsolete \
		-i "locale/*" -i "static/*" -i "*/migrations/*"
	cd tambo && ../$(BIN)/tambo compilemessages -v 0

clean:
	rm -rf var .pytest_cache
