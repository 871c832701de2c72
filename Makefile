# webmon — run `make` for the list of targets.
.DEFAULT_GOAL := help
SHELL := /bin/bash

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# What running needs (requirements.txt), then the development tools (requirements_dev.txt).
INSTALLED := $(VENV)/.installed
INSTALLED_DEV := $(VENV)/.installed-dev
# Exports the embedded stack's URLs unless WEBMON_DATABASE_URL and
# WEBMON_KAFKA_BOOTSTRAP_SERVERS are configured (environment or .env).
WITH_ENV = eval "$$($(BIN)/python -m devstack.localstack env)" &&

.PHONY: help install install-dev up down status migrate run run-scheduler run-checker run-api \
	run-notifier lint format test docs docs-serve docs-images bench bench-engines clean

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "} {printf "  %-14s %s\n", $$1, $$2}'

install: $(INSTALLED) ## create .venv and install webmon with what running it needs

install-dev: $(INSTALLED_DEV) ## install also the development tools: tests, lint, docs, benchmarks

$(INSTALLED): pyproject.toml requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	touch $@

$(INSTALLED_DEV): $(INSTALLED) requirements_dev.txt
	$(BIN)/python -m pip install --quiet -r requirements_dev.txt
	touch $@

up: install ## start the embedded PostgreSQL and broker (unless configured) and print their URLs
	$(BIN)/python -m devstack.localstack up

down: install ## stop the embedded stack's processes
	$(BIN)/python -m devstack.localstack down

status: install ## show whether the embedded stack runs
	$(BIN)/python -m devstack.localstack status

migrate: up ## apply database migrations and create the Kafka topics
	$(WITH_ENV) $(BIN)/python -m migrations

run: install ## run everything: local stack, demo sites, a scheduler, two checkers, a live table
	$(BIN)/python -m devstack.run

run-scheduler: migrate ## run one scheduler
	$(WITH_ENV) exec $(BIN)/python -m scheduler

run-checker: migrate ## run one checker replica (probe and writer)
	$(WITH_ENV) exec $(BIN)/python -m checker

run-notifier: migrate ## run one notifier replica: sends the outbox's notifications to their channels
	$(WITH_ENV) exec $(BIN)/python -m notifier

run-api: migrate ## run the HTTP API on WEBMON_API_HOST:WEBMON_API_PORT (127.0.0.1:8080)
	$(WITH_ENV) exec $(BIN)/python -m webmon.api

lint: install-dev ## ruff (lint and format check) and mypy
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: install-dev ## apply ruff's fixes and formatting
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

test: install-dev ## run the whole test suite (starts a private embedded stack when none is configured)
	$(BIN)/python -m devstack.browser
	$(BIN)/pytest

bench: install-dev ## benchmarks: scheduler, writer, checker (and beside blackbox_exporter), the whole system's cost model (and beside Prometheus), three regions beside one, a region's outage recount beside a slot's writing, a topic per region against partitions of one, history volume, API (and its security middlewares), dashboard, status pages, notifier (figures and ratios)
	$(BIN)/python -m bench.bench_scheduler
	$(BIN)/python -m bench.bench_writer
	$(BIN)/python -m bench.bench_checker
	$(BIN)/python -m bench.blackbox_compare
	$(BIN)/python -m bench.bench_system --sites 200000 --interval 60 --seconds 60 --checkers 2
	$(BIN)/python -m bench.bench_prometheus --targets 50000 --intervals 1 --webmon
	$(BIN)/python -m bench.bench_regions --sites 1000 --interval 10 --seconds 30
	$(BIN)/python -m bench.bench_outage_recount --sites 3000
	$(BIN)/python -m bench.bench_task_topics --seconds 10
	$(BIN)/python -m bench.bench_volume
	$(BIN)/python -m bench.bench_api
	$(BIN)/python -m bench.bench_door
	$(BIN)/python -m bench.bench_dashboard
	$(BIN)/python -m bench.bench_status_page
	$(BIN)/python -m bench.bench_notifier

bench-engines: install-dev ## compare the HTTP engines (httpx, aiohttp, the probe) on a local target
	$(BIN)/python -m bench.http_engines

docs: install-dev ## build the documentation site into site/ (strict: a broken link fails)
	$(BIN)/mkdocs build --strict

docs-serve: install-dev ## serve the documentation on http://127.0.0.1:8000, rebuilt on change
	$(BIN)/mkdocs serve

docs-images: install-dev ## remake docs/img/*.png from a running `make run` system
	$(BIN)/python -m devstack.screenshots docs/img

clean: ## stop the stack, delete its data and PostgreSQL's copied programs, remove .venv and .state
	test ! -x $(BIN)/python || $(BIN)/python -m devstack.localstack clean
	rm -rf $(VENV) .state site
