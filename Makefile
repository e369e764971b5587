# Every target works on a fresh machine with only Python 3 and make.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The public wheels the examples name, fetched once (hash-checked) so their tests run offline.
EXAMPLE_WHEELS := .cache/example-wheels
EXAMPLE_STAMP := $(EXAMPLE_WHEELS)/.fetched
# devpi-server for tests/test_devpi.py, in a virtualenv of its own: its dependencies are not ours.
DEVPI_VENV := .venv-devpi
DEVPI_STAMP := $(DEVPI_VENV)/.installed

.PHONY: all test lint devpi demo bench bench-relay clean

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

$(DEVPI_STAMP): tests/devpi-requirements.txt
	$(PYTHON) -m venv $(DEVPI_VENV)
	$(DEVPI_VENV)/bin/python -m pip install --quiet -r tests/devpi-requirements.txt
	touch $(DEVPI_STAMP)

devpi: $(DEVPI_STAMP)

# The devpi test must run here: WHEELBUNDLE_REQUIRE_DEVPI turns its skip into a failure.
test: $(STAMP) $(EXAMPLE_STAMP) $(DEVPI_STAMP) lint
	WHEELBUNDLE_EXAMPLE_WHEELS=$(CURDIR)/$(EXAMPLE_WHEELS) \
	WHEELBUNDLE_DEVPI_SERVER=$(CURDIR)/$(DEVPI_VENV)/bin/devpi-server WHEELBUNDLE_REQUIRE_DEVPI=1 \
		$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check src tests scripts
	$(BIN)/ruff format --check src tests scripts
	$(BIN)/mypy

demo: $(STAMP)
	$(BIN)/python scripts/demo.py

bench: $(STAMP)
	$(BIN)/python scripts/bench.py

bench-relay: $(STAMP)
	$(BIN)/python scripts/bench_relay.py

clean:
	rm -rf $(VENV) $(DEVPI_VENV) .cache build dist .pytest_cache .mypy_cache .ruff_cache
