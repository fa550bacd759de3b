# Quick start:  make run   (install, build the browser app if Node.js is present, migrate, serve on http://127.0.0.1:8000 with development sign-in)
#               make test  (install, run the whole test suite)
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: install run test lint node web web-tests

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

install: $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'

node:
	@if command -v npm >/dev/null 2>&1; then cd tests/node && npm ci --no-audit --no-fund --loglevel=error; \
	else echo "npm not found: tests that run the real npm clients will be skipped"; fi

# The browser app (threads/webapp): install its npm packages and build it when missing or older than its sources.
# Without Node.js the service still runs and / says how to build the app.
WEBAPP := threads/webapp
web:
	@if command -v npm >/dev/null 2>&1 && command -v node >/dev/null 2>&1; then \
	  if [ ! -f $(WEBAPP)/node_modules/.package-lock.json ] || [ $(WEBAPP)/package-lock.json -nt $(WEBAPP)/node_modules/.package-lock.json ]; then \
	    (cd $(WEBAPP) && npm ci --no-audit --no-fund --loglevel=error) || exit 1; fi; \
	  if [ ! -f $(WEBAPP)/dist/.vite/manifest.json ] || [ -n "$$(find $(WEBAPP)/src $(WEBAPP)/package-lock.json $(WEBAPP)/vite.config.ts -newer $(WEBAPP)/dist/.vite/manifest.json | head -1)" ]; then \
	    (cd $(WEBAPP) && npm run build --silent) || exit 1; \
	  else echo "browser app is up to date ($(WEBAPP)/dist)"; fi; \
	else echo "Node.js/npm not found: the browser app is not built; http://$(HOST):$(PORT)/ will say how to build it (the API works)."; fi

# The browser tests' own front end (tests/threads/web/second_origin: README "Connect your own front end"'s files),
# type-checked and built with the browser app's packages (linked, not installed again), when missing or stale.
SECOND_ORIGIN := tests/threads/web/second_origin
web-tests: web
	@if [ -f $(WEBAPP)/node_modules/.package-lock.json ]; then \
	  ln -sfn ../../../../$(WEBAPP)/node_modules $(SECOND_ORIGIN)/node_modules; \
	  if [ ! -f $(SECOND_ORIGIN)/dist/index.html ] || [ -n "$$(find $(SECOND_ORIGIN)/src $(SECOND_ORIGIN)/index.html $(SECOND_ORIGIN)/vite.config.mts $(SECOND_ORIGIN)/tsconfig.json $(WEBAPP)/package-lock.json -newer $(SECOND_ORIGIN)/dist/index.html | head -1)" ]; then \
	    (cd $(SECOND_ORIGIN) && node_modules/.bin/tsc --noEmit -p . && node_modules/.bin/vite build --logLevel warn --config vite.config.mts) || exit 1; \
	  else echo "second-origin test page is up to date ($(SECOND_ORIGIN)/dist)"; fi; \
	else echo "the browser app's packages are not installed: the second-origin browser test will be skipped"; fi

run: install
	@$(MAKE) --no-print-directory web || echo "The browser app could not be built: serving the API, and a page at / that says how to build it."
	DEBUG=$${DEBUG:-true} $(BIN)/python manage.py migrate --noinput
	DEBUG=$${DEBUG:-true} $(BIN)/uvicorn config.asgi:application --host $(HOST) --port $(PORT)

test: install node web web-tests
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .
