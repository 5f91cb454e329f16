# munibill: the two commands a newcomer needs are `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 5000

.PHONY: run test install install-dev lint format bench clean translations

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# Installs (again) whenever pyproject.toml or the lock changes; the versions are those of
# requirements/lock.txt (the audited set), whatever the registry has published since.
LOCK := requirements/lock.txt

$(VENV)/.installed: pyproject.toml $(LOCK) | $(BIN)/python
	$(BIN)/pip install --quiet --constraint $(LOCK) -e '.[demo]'
	touch $@

$(VENV)/.installed-dev: pyproject.toml $(LOCK) | $(BIN)/python
	$(BIN)/pip install --quiet --constraint $(LOCK) -e '.[dev]'
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

## make run: install, migrate the embedded SQLite database, load the demo town once, serve it
## (with localstripe beside it when no STRIPE_SECRET_KEY is set).
run: $(VENV)/.installed
	$(BIN)/munibill db upgrade
	$(BIN)/munibill demo load --if-empty
	@echo ""
	@echo "munibill is serving the demo town at http://$(HOST):$(PORT)/  (Ctrl-C stops it)"
	@echo "Residents look up a bill at http://$(HOST):$(PORT)/pay with an account number and access code listed above."
	@echo "Staff sign-in at http://$(HOST):$(PORT)/login with the logins listed above."
	@echo "API reference at http://$(HOST):$(PORT)/api/v1/docs"
	$(BIN)/munibill demo serve --host $(HOST) --port $(PORT)

# axe-core, which the browser tests inject into every portal page (from the npm registry).
node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --silent
	touch $@

## make test: install with the dev tools and run the whole suite (PostgreSQL too with TEST_DATABASE_URL),
## in TEST_WORKERS processes (each on a database of its own; TEST_WORKERS=0 runs in this one).
## A worker out of tests takes some of the other's (worksteal), so no slow file runs alone at the end.
TEST_WORKERS ?= 2
test: $(VENV)/.installed-dev node_modules/.installed
	$(BIN)/pytest -n $(TEST_WORKERS) --dist worksteal $(PYTEST_ARGS)

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(VENV)/.installed-dev
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

## make bench: run every benchmark in bench/ and write bench/RESULTS.md (PostgreSQL on 127.0.0.1:5432;
## each benchmark gets a database BENCH_DATABASE_PREFIX_<script>, munibill_bench_<script> by default).
bench: $(VENV)/.installed-dev
	$(BIN)/python bench/run_all.py

## make translations: gather the portal's texts and update the Spanish catalog, then compile it.
## Translate the new entries in portal/translations/es/LC_MESSAGES/messages.po and run it again.
translations: $(VENV)/.installed-dev
	$(BIN)/pybabel -q extract -F babel.cfg -k N_ -k lazy_gettext -k pgettext:1c,2 -k lazy_pgettext:1c,2 --no-location --sort-output \
		--project munibill -o portal/translations/messages.pot .
	$(BIN)/pybabel -q update -i portal/translations/messages.pot -d portal/translations -l es \
		--no-fuzzy-matching --ignore-obsolete --ignore-pot-creation-date
	$(BIN)/pybabel compile --statistics -d portal/translations -l es

clean:
	rm -rf $(VENV) node_modules instance .pytest_cache .ruff_cache .hypothesis
