# The single entry point: `make setup`, `make demo`, `make test`, `make clean`.
# demo and test set up on first use; setup is quick once done (a stamp file tracks pyproject.toml).

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
APT_PACKAGES := graphviz dataset-fashion-mnist chromium
PYTEST_ARGS ?=
# Extra pip arguments, e.g. PIP_ARGS='-c constraints.txt' or a CPU-only torch index.
PIP_ARGS ?= -c constraints.txt

.PHONY: help setup system-packages demo test check lint clean distclean

help:
	@echo "make setup      create $(VENV), pip install -e '.[dev]', install system packages (if root)"
	@echo "make demo       run a small search: $(BIN)/pgnas search --preset demo --out runs/demo"
	@echo "make test       lint (ruff), then the test suite (PYTEST_ARGS='-m \"not slow\"' to narrow it)"
	@echo "make check      lint, then every test not marked slow (the fast tier: under 3 min on 2 cores)"
	@echo "make lint       ruff check and ruff format --check"
	@echo "make clean      remove build outputs and caches (keeps $(VENV) and runs/)"
	@echo "make distclean  clean, and remove $(VENV) too"

setup: $(STAMP) system-packages

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml constraints.txt | $(BIN)/python
	$(BIN)/python -m pip install $(PIP_ARGS) -e '.[dev]'
	@touch $@

# graphviz provides `dot`, dataset-fashion-mnist the offline data, chromium the browser tests.
# Installed only when running as root with apt-get; otherwise one line says what is missing.
system-packages:
	@missing=""; \
	for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "make setup: apt-get install$$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing \
		|| echo "make setup: WARNING: apt-get failed; install by hand:$$missing"; \
	else \
		echo "make setup: missing system packages:$$missing; install them by hand (Debian/Ubuntu: sudo apt-get install$$missing)"; \
	fi

demo: setup
	$(BIN)/pgnas search --preset demo --out runs/demo

test: setup lint
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The fast tier for working on the code: no notebooks, no browser, no trainings of minutes.
check: setup lint
	$(BIN)/python -m pytest -m "not slow" $(PYTEST_ARGS)

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

clean:
	rm -rf build dist *.egg-info .pytest_cache tests/_artifacts
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +
	find . -path ./$(VENV) -prune -o -name .ipynb_checkpoints -type d -prune -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV)
