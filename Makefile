# Two commands do all set-up on a fresh Debian 12 machine with Python 3.11 (run as root, or with sudo):
#   make demo   installs the app into .venv and serves it on http://127.0.0.1:8050 with embedded defaults
#   make test   also installs Chromium, ChromeDriver and PostgreSQL when missing, then runs every test
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8050
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
APT_PACKAGES_TEST := chromium chromium-driver postgresql

.PHONY: demo test venv test-deps lint clean bench

$(VENV)/.runtime-installed: pyproject.toml
	@$(PYTHON) -c 'import ensurepip, venv' 2>/dev/null || { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq python3-venv; }
	@[ -x $(PY) ] || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[demo]'
	@touch $@

$(VENV)/.test-installed: $(VENV)/.runtime-installed pyproject.toml
	$(PY) -m pip install -q -e '.[test]'
	@touch $@

venv: $(VENV)/.runtime-installed

demo: $(VENV)/.runtime-installed
	$(PY) app.py --port $(PORT)

test-deps: $(VENV)/.test-installed
	@missing=""; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	command -v chromedriver >/dev/null || missing="$$missing chromium-driver"; \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing="$$missing postgresql"; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing >/dev/null; \
	fi

test: test-deps
	$(VENV)/bin/ruff check .
	@set -e; \
	pg_url=$$(tools/pg-test-server start); \
	trap 'tools/pg-test-server stop' EXIT; \
	TEST_POSTGRES_URL=$$pg_url REQUIRE_POSTGRES=1 $(PY) -m pytest --headless $(PYTEST_ARGS)

lint: $(VENV)/.test-installed
	$(VENV)/bin/ruff check .

bench: $(VENV)/.test-installed
	@for b in benchmarks/*.py; do echo "== $$b"; $(PY) $$b; done

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache
