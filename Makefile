# lcdev — `make help` lists the targets.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)
EXAMPLE := examples/shop
UP_ARGS ?=

.DEFAULT_GOAL := help

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

.PHONY: help
help: ## Show this help
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  \033[1m%-10s\033[0m %s\n", $$1, $$2}'

.PHONY: install
install: $(STAMP) ## Create .venv and install lcdev with its dev tools

$(EXAMPLE)/lcdev.yaml: | $(STAMP)
	$(BIN)/lcdev init $(EXAMPLE) --template shop

.PHONY: up
up: $(STAMP) $(EXAMPLE)/lcdev.yaml ## Install, then bring up the example shop workspace (UP_ARGS=-d for background)
	$(BIN)/lcdev up -w $(EXAMPLE) $(UP_ARGS)

.PHONY: down
down: $(STAMP) ## Stop the example workspace
	$(BIN)/lcdev down -w $(EXAMPLE)

.PHONY: test
test: $(STAMP) ## Run the test suite (starts real PostgreSQL and Kafka processes)
	$(BIN)/pytest -q

.PHONY: lint
lint: $(STAMP) ## ruff, mypy --strict and the import-direction contracts
	$(BIN)/ruff check lcdev tests benchmarks
	$(BIN)/mypy
	$(BIN)/lint-imports

.PHONY: check
check: lint test ## Everything CI runs

.PHONY: bench
bench: $(STAMP) ## Start-up, CRUD vs hand-written, gateway overhead, events, telemetry store, hot reload
	$(BIN)/python benchmarks/bench_up.py
	$(BIN)/python benchmarks/bench_runtime.py
	$(BIN)/python benchmarks/bench_telemetry.py
	$(BIN)/python benchmarks/bench_otlp.py
	$(BIN)/python benchmarks/bench_reload.py
