# Watchium's front door. `make help` lists the targets.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
JS     := tests/js
JSSTAMP := $(JS)/node_modules/.installed
WEB    := web
WEBSTAMP := $(WEB)/node_modules/.installed
WEBDIST := $(WEB)/dist/index.html
CLIP   := $(WEB)/dist/demo/clip.mp4

.DEFAULT_GOAL := help
.PHONY: help setup dev up test check fmt bench soak db-start db-stop db-status db-reset psql clean

# Colour only on a terminal (and not under NO_COLOR): piped or logged, the escapes are noise.
help: ## List the targets
	@if [ -t 1 ] && [ -z "$$NO_COLOR" ]; then on='\033[36m'; off='\033[0m'; else on=; off=; fi; \
	grep -E '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | \
		awk -v on="$$on" -v off="$$off" 'BEGIN {FS = ":.*?## "}; {printf "  %s%-10s%s %s\n", on, $$1, off, $$2}'

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[stack,dev,bench]'
	@# No system PostgreSQL? Use the build bundled in the pgserver wheel.
	@$(BIN)/watchium db binaries >/dev/null 2>&1 || \
		{ echo "No PostgreSQL server binaries found: installing the bundled build (pgserver)"; \
		  $(BIN)/pip install --quiet -e '.[bundled-postgres]'; }
	@touch $(STAMP)

# supabase-js for the tests that drive the official JavaScript client under Node, and the
# Supabase CLI (npm package `supabase`, pinned) the suite runs against a hosted-like database:
# $(JS)/node_modules/.bin/supabase, the one docs/DEPLOY.md uses.
$(JSSTAMP): $(JS)/package-lock.json
	@command -v npm >/dev/null 2>&1 || { echo "npm not found: install Node.js 20 and npm (the supabase-js and Supabase CLI tests need them)"; exit 1; }
	npm ci --prefix $(JS) --no-audit --no-fund --loglevel=error
	@touch $(JSSTAMP)

# The web app (docs/WEB.md): supabase-js and esbuild from npm, bundled into web/dist, which the
# local gateway serves at /; and the demo clip the seed rooms play (made with ffmpeg if present).
$(WEBSTAMP): $(WEB)/package-lock.json
	@command -v npm >/dev/null 2>&1 || { echo "npm not found: install Node.js 20 and npm (the web app is built with them)"; exit 1; }
	npm ci --prefix $(WEB) --no-audit --no-fund --loglevel=error
	@touch $(WEBSTAMP)

$(WEBDIST): $(WEBSTAMP) $(WEB)/build.mjs $(WEB)/index.html $(WEB)/style.css $(wildcard $(WEB)/src/*.js $(WEB)/src/*/*.js)
	node $(WEB)/build.mjs

$(CLIP): | $(STAMP)
	$(BIN)/python -m watchium_stack.democlip $(CLIP)

setup: $(STAMP) $(JSSTAMP) $(WEBDIST) $(CLIP) ## Create .venv, install the project with its dev tools, supabase-js and the Supabase CLI, build the web app

dev: setup ## Set up and run the local stack (database, migrations, seed data); Ctrl-C stops it
	$(BIN)/watchium up

up: dev

test: setup ## Run the whole test suite
	$(BIN)/pytest

check: setup ## Format check, lint, type check and the layering contracts
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/lint-imports

fmt: setup ## Format the code and fix what ruff can
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: setup ## Run the benchmarks (tables on stdout, JSON in bench/results/)
	$(BIN)/python -m bench

MINUTES ?= 30

soak: setup ## Soak the stack for MINUTES (30): rooms come and go; fails on a leak, a 5xx or a lost event
	$(BIN)/python -m bench.soak --minutes $(MINUTES)

db-start: setup ## Start the local database and apply migrations
	$(BIN)/watchium db start

db-stop: setup ## Stop the local database
	$(BIN)/watchium db stop

db-status: setup ## Show the local database's state and migrations
	$(BIN)/watchium db status

db-reset: setup ## Drop and rebuild the local database from migrations and seed data
	$(BIN)/watchium db reset

psql: setup ## Open psql on the local database
	$(BIN)/watchium db psql

clean: ## Remove the virtualenv and caches (not the database: see db-reset)
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
