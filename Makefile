# Every thing a person does with the project is a target here.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app wsgi
PG_URL ?=

.PHONY: run install setup serve demo test test-sqlite test-postgres lint format translations translations-update bench loadtest clean clean-instance

run: setup  ## Install, migrate, load catalogues, create the first admin and serve on 127.0.0.1:5000
	$(FLASK) run --host 127.0.0.1 --port 5000

$(BIN)/activate: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev,bench]'
	touch $(BIN)/activate

install: $(BIN)/activate translations

translations: $(BIN)/activate  ## Compile the .po catalogues (the .mo files are not versioned)
	@if ls sosep_migrantes/translations/*/LC_MESSAGES/messages.po >/dev/null 2>&1; then \
		$(BIN)/pybabel -q compile -d sosep_migrantes/translations; fi

translations-update: $(BIN)/activate  ## Re-extract messages into the en catalogue; then translate the empty msgstr
	$(BIN)/pybabel extract -F babel.cfg -k _l -k lazy_gettext --project=sosep-migrantes --version=0.1.0 \
		--copyright-holder=SOSEP -o sosep_migrantes/translations/messages.pot .
	$(BIN)/pybabel update -i sosep_migrantes/translations/messages.pot -d sosep_migrantes/translations -l en \
		--no-fuzzy-matching --ignore-obsolete
	$(BIN)/pybabel compile --statistics -d sosep_migrantes/translations

setup: check-run install  ## Migrate the database, load catalogues, create the first admin
	$(FLASK) setup

demo: setup  ## Add synthetic arrivals and families (FAMILIES=200 SEED=1)
	$(FLASK) demo-data --families $(or $(FAMILIES),200) --seed $(or $(SEED),1)

serve: setup  ## Production server: gunicorn.conf.py (GUNICORN_WORKERS, GUNICORN_THREADS, BIND); docs/deploy.md
	$(BIN)/gunicorn -c gunicorn.conf.py wsgi:app

# Debian's packages the suite / the server need (.ci/system-deps): installed if we are root, else the
# command to run is printed and make stops here, before the venv and before any test.
.PHONY: check-test check-run
check-test:  ## Check (as root: install) Chromium, fonts, WeasyPrint's libraries, Python 3.11+
	@PYTHON=$(PYTHON) .ci/system-deps test

check-run:
	@PYTHON=$(PYTHON) .ci/system-deps run

test: check-test install  ## The whole suite on SQLite, then on PostgreSQL (a throwaway server if none answers)
	$(BIN)/python -m pytest -q
	.ci/with-postgres $(BIN)/python -m pytest -q

test-sqlite: check-test install
	$(BIN)/python -m pytest -q

test-postgres: check-test install
	.ci/with-postgres $(BIN)/python -m pytest -q

lint: install  ## ruff (lint and format) and mypy (strict; [tool.mypy] in pyproject.toml)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# The benchmarks run on PostgreSQL (BENCH_DATABASE_URL, default the local server's database sosep_bench,
# built once with `flask demo-data --persons 1050000` (300,000 family units) and reused); figures go to docs/performance.md.
bench: check-run install  ## Benchmarks at national scale (targets and figures in docs/performance.md)
	$(BIN)/python bench/run.py

loadtest: check-run install  ## 30 simulated staff for 60 s against gunicorn on PostgreSQL (locust, headless)
	$(BIN)/python bench/loadtest.py

clean:  ## Remove the venv, caches and compiled catalogues; never instance/ (the database and secret key)
	rm -rf $(VENV) .pytest_cache .ruff_cache
	find . -name __pycache__ -type d -not -path './.git/*' -prune -exec rm -rf {} +
	find sosep_migrantes/translations -name '*.mo' -delete

clean-instance:  ## Delete instance/ (the development database and the secret key), after confirmation
	@printf 'Delete instance/ (the development database and the secret key)? [y/N] ' && read answer && \
		[ "$$answer" = y ] && rm -rf instance || echo 'Nothing deleted.'

