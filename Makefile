# The README's two commands: `make run` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3.12 || command -v python3.13 || command -v python3)
VENV ?= .venv
BIN = $(VENV)/bin
PORT ?= 8000
WORKERS ?= 2

.PHONY: run test lint install install-dev bench soak

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml $(VENV)/.installed
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

run: install
	$(BIN)/flagq db upgrade
	$(BIN)/flagq setup
	@echo "flagq: serving on http://127.0.0.1:$(PORT) (sign in as admin)"
	$(BIN)/gunicorn --workers $(WORKERS) --bind 127.0.0.1:$(PORT) --access-logfile - wsgi:app

test: install-dev
	$(BIN)/ruff check .
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# Not part of `make test`: 5 minutes against gunicorn + PostgreSQL (README, "Soak").
# SOAK_DATABASE_URL names the database it creates and empties; SOAK_ARGS overrides the rest.
soak: install
	$(BIN)/python bench/soak.py $(SOAK_ARGS)
