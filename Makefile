# Cadence — `make run` serves the app, `make test` runs the whole suite. `make help` lists all.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000
WS_PORT ?= 8001
WORKERS ?= 2
# The HTTP server of `make run` and `make serve`: granian (WSGI), the fastest measured (README
# "Servers, measured"), or gunicorn (config/gunicorn.conf.py; WORKER_CLASS=sync|gthread), or
# uvicorn (gunicorn + uvicorn workers on config.asgi).
SERVER ?= granian
WORKER_CLASS ?= sync
METRICS_DIR ?= .data/prometheus
PYTEST_ARGS ?=
# `make serve` runs with DEBUG as given, or off: read before the development default below.
SERVE_DEBUG := $(or $(DEBUG),false)
# Development defaults; production sets DEBUG=false and a real SECRET_KEY. manage.py itself has
# no development default (it is also the production entry point): run it through `make manage`.
export DEBUG ?= true

.DEFAULT_GOAL := help
.PHONY: help venv services stop status migrate demo run serve worker test lint format check ci clean seed bench bench-ci loadtest fuzz manage

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

$(VENV)/.installed: requirements/base.txt requirements/dev.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements/dev.txt
	@touch $@

venv: $(VENV)/.installed ## Create .venv and install the pinned requirements

services: venv ## Start embedded PostgreSQL/Redis (unless DATABASE_URL/REDIS_URL are set)
	@mkdir -p .data/static
	@$(PY) scripts/devservices.py start

stop: ## Stop the embedded servers (and a job worker or WebSocket server make run left)
	@bash scripts/realtime.sh stop
	@bash scripts/worker.sh stop
	@$(PY) scripts/devservices.py stop

status: ## Show whether the embedded servers run
	@$(PY) scripts/devservices.py status

migrate: services ## Apply migrations
	$(PY) manage.py migrate --no-input

demo: migrate ## Load the demo orgs and logins unless they exist; print the logins
	$(PY) manage.py seed --demo --if-missing

GUNICORN = $(VENV)/bin/gunicorn -c config/gunicorn.conf.py --bind $(HOST):$(PORT)
SERVE_granian = $(PY) -m config.granian_conf config.wsgi:application --bind $(HOST):$(PORT)
SERVE_gunicorn = $(GUNICORN) --worker-class $(WORKER_CLASS) config.wsgi:application
SERVE_uvicorn = $(GUNICORN) --worker-class uvicorn.workers.UvicornWorker config.asgi:application
SERVE_CMD = $(or $(SERVE_$(SERVER)),$(error SERVER=$(SERVER): choose granian, gunicorn or uvicorn))

run: demo ## Serve HTTP on HOST:PORT (granian; SERVER=gunicorn), WebSockets on WS_PORT, a job worker
	@echo "API docs: http://$(HOST):$(PORT)/api/docs   health: http://$(HOST):$(PORT)/health"
	@mkdir -p $(METRICS_DIR) && rm -f $(METRICS_DIR)/*.db
	@PROMETHEUS_MULTIPROC_DIR=$(METRICS_DIR) bash scripts/worker.sh start $$PPID
	@PROMETHEUS_MULTIPROC_DIR=$(METRICS_DIR) HOST=$(HOST) WS_PORT=$(WS_PORT) \
		bash scripts/realtime.sh start $$PPID
	PROMETHEUS_MULTIPROC_DIR=$(METRICS_DIR) $(SERVE_CMD) --workers $(WORKERS)

# The job worker (manage.py worker, jobs/worker.py): imports and webhook deliveries. `make run`
# starts one in the background (scripts/worker.sh); run more for more throughput.
worker: migrate ## Run the job worker in the foreground (imports, webhooks); Ctrl-C stops it
	PROMETHEUS_MULTIPROC_DIR=$(METRICS_DIR) $(PY) manage.py worker

# Production configuration: the environment's DATABASE_URL/REDIS_URL (else the embedded servers),
# migrations applied, no demo data; WORKERS unset: the server's default (WEB_CONCURRENCY, CPU count).
serve: migrate ## Production settings (DEBUG off unless set; needs SECRET_KEY), no demo data, PORT/WORKERS
	@[ "$(SERVE_DEBUG)" = true ] || [ -n "$$SECRET_KEY" ] || \
		{ echo "make serve: DEBUG is off; set SECRET_KEY (and ALLOWED_HOSTS) first" >&2; exit 1; }
	@mkdir -p $(METRICS_DIR) && rm -f $(METRICS_DIR)/*.db
	DEBUG=$(SERVE_DEBUG) PROMETHEUS_MULTIPROC_DIR=$(METRICS_DIR) $(SERVE_CMD) \
		$(if $(filter environment command line,$(origin WORKERS)),--workers $(WORKERS))

test: services ## Set up everything, then run the whole test suite
	$(VENV)/bin/pytest $(PYTEST_ARGS)

# The reference set is one COPY of 240,000 goals: longer than the 5 s statement timeout when the
# machine is busy, and a bulk load is not a request, so the seed runs without it.
seed: migrate ## Load the reference data set (20,000 members); options: SEED_ARGS=--help
	DB_STATEMENT_TIMEOUT_MS=0 $(PY) manage.py seed $(SEED_ARGS)

bench: migrate ## Benchmark the seeded data, check perf/budgets.toml; options: BENCH_ARGS=--help
	$(PY) manage.py bench $(BENCH_ARGS)

# The CI perf gate (README "Bench"): every scenario's query budget and p95 ratio, the ratio the
# median over 9 rounds of its p95 ÷ the floor's, their 20 requests alternating (~1 min; ~2 busy).
bench-ci: migrate ## CI gate: seed a small org (once), check the query and p95-ratio budgets
	$(PY) manage.py seed --slug ci-bench --members 500 --goals-per-member 10 --small-orgs 5 \
		>/dev/null 2>&1 || true
	$(PY) manage.py bench --slug ci-bench --rounds 9 --requests 20 --warmup 3 \
		--json .data/bench-ci.json --html .data/bench-ci.html

lint: venv ## ruff check, format check, and the import layering (lint-imports, pyproject.toml)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports --no-cache

format: venv ## Apply ruff fixes and formatting
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

check: services ## Django system checks and the missing-migrations check
	$(PY) manage.py check
	$(PY) manage.py makemigrations --check --dry-run

manage: services ## Any manage.py command with the development settings: make manage CMD="shell"
	$(PY) manage.py $(CMD)

ci: ## What .ci/run runs
	bash .ci/run

clean: stop ## Stop the servers and delete .data/ (the embedded databases)
	rm -rf .data

LOAD_USERS ?= 20
LOAD_RATE ?= 5
LOAD_TIME ?= 60s
loadtest: services ## Bounded headless Locust run against a private gunicorn (.data/loadtest/)
	LOAD_USERS=$(LOAD_USERS) LOAD_RATE=$(LOAD_RATE) LOAD_TIME=$(LOAD_TIME) VENV=$(VENV) bash scripts/loadtest.sh

FUZZ_MAX_EXAMPLES ?= 15
fuzz: services ## schemathesis on every operation vs a private gunicorn (FUZZ_MAX_EXAMPLES=500 for long)
	FUZZ_MAX_EXAMPLES=$(FUZZ_MAX_EXAMPLES) VENV=$(VENV) bash scripts/fuzz.sh
