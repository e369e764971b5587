# Every target works on a fresh machine with only Python 3 and make.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The public wheels the examples name, fetched once (hash-checked) so their tests run offline.
EXAMPLE_WHEELS := .cache/example-wheels
EXAMPLE_STAMP := $(EXAMPLE_WHEELS)/.fetched

.PHONY: all test lint demo bench clean

all: test

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

$(EXAMPLE_STAMP): $(STAMP) tests/example-wheels.txt examples/locked/requirements.txt examples/webapp/requirements.txt
	rm -rf $(EXAMPLE_WHEELS)
	$(BIN)/python -m pip download --quiet --no-deps --only-binary :all: -d $(EXAMPLE_WHEELS) -r tests/example-wheels.txt
	$(BIN)/python -m pip download --quiet --no-deps --only-binary :all: -d $(EXAMPLE_WHEELS) -r examples/webapp/requirements.txt
	touch $@

test: $(STAMP) $(EXAMPLE_STAMP) lint
	WHEELBUNDLE_EXAMPLE_WHEELS=$(CURDIR)/$(EXAMPLE_WHEELS) $(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check src tests scripts
	$(BIN)/ruff format --check src tests scripts
	$(BIN)/mypy

demo: $(STAMP)
	$(BIN)/python scripts/demo.py

bench: $(STAMP)
	$(BIN)/python scripts/bench.py

clean:
	rm -rf $(VENV) .cache build dist .pytest_cache .mypy_cache .ruff_cache
