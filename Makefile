# Every target works on a fresh machine with only Python 3 and make.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The development toolchain, every file pinned by its hash (`make lock` refreshes it).
LOCK := tests/toolchain.lock
# A lock installed exactly as written: pip refuses any file whose hash it does not list.
LOCKED_INSTALL := -m pip install --quiet --require-hashes -r
# The same into another virtualenv, by the toolchain's locked pip: the pip a fresh venv gets from
# ensurepip (23.2 on Python 3.11) mis-resolves a lock once a newer release of a pinned
# dependency appears (seen: hishel[httpx2] after httpx2 2.17.0).
LOCKED_INSTALL_INTO := $(BIN)/python -m pip --python
# The tool itself, over a locked environment: nothing more is resolved or downloaded for it.
EDITABLE_INSTALL := -m pip install --quiet --no-deps --no-build-isolation -e .
# The public wheels the examples name, and the reference code the tests compare against,
# fetched once (hash-checked) so that their tests run offline.
EXAMPLE_WHEELS := .cache/example-wheels
EXAMPLE_STAMP := $(EXAMPLE_WHEELS)/.fetched
REFERENCE_WHEELS := .cache/reference-wheels
REFERENCE_STAMP := $(REFERENCE_WHEELS)/.fetched
# devpi-server and pypiserver for tests/index/test_devpi.py and tests/index/test_publish.py, in a virtualenv
# of their own: their dependencies are not ours.
DEVPI_VENV := .venv-devpi
DEVPI_STAMP := $(DEVPI_VENV)/.installed
# Poetry, PDM and Pipenv for tests/resolve/test_locks.py, which has them write real locks.
LOCKTOOLS_VENV := .venv-locktools
LOCKTOOLS_STAMP := $(LOCKTOOLS_VENV)/.installed
# The same suite against the newest releases of the tool's dependencies (make test-latest).
LATEST_VENV := .venv-latest
# What every test run is told: where the fetched files are, and that devpi must run.
# Debian root file systems (tests/payload/test_debian.py) are made once into .cache/debian.
TEST_ENV := WHEELBUNDLE_EXAMPLE_WHEELS=$(CURDIR)/$(EXAMPLE_WHEELS) \
	WHEELBUNDLE_REFERENCE_WHEELS=$(CURDIR)/$(REFERENCE_WHEELS) \
	WHEELBUNDLE_DEBIAN_CACHE=$(CURDIR)/.cache/debian \
	WHEELBUNDLE_DEVPI_SERVER=$(CURDIR)/$(DEVPI_VENV)/bin/devpi-server WHEELBUNDLE_REQUIRE_DEVPI=1 \
	WHEELBUNDLE_LOCKTOOLS=$(CURDIR)/$(LOCKTOOLS_VENV)/bin

.PHONY: all test test-latest test-pythons lint lock devpi demo bench bench-relay clean

all: test

$(STAMP): pyproject.toml $(LOCK)
	rm -rf $(VENV)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python $(LOCKED_INSTALL) $(LOCK)
	$(BIN)/python $(EDITABLE_INSTALL)
	touch $(STAMP)

$(EXAMPLE_STAMP): $(STAMP) tests/example-wheels.txt examples/locked/requirements.txt examples/webapp/requirements.txt
	rm -rf $(EXAMPLE_WHEELS)
	$(BIN)/python -m pip download --quiet --no-deps --only-binary :all: -d $(EXAMPLE_WHEELS) -r tests/example-wheels.txt
	$(BIN)/python -m pip download --quiet --no-deps --only-binary :all: -d $(EXAMPLE_WHEELS) -r examples/webapp/requirements.txt
	touch $@

$(REFERENCE_STAMP): $(STAMP) tests/reference-wheels.txt
	rm -rf $(REFERENCE_WHEELS)
	$(BIN)/python -m pip download --quiet --no-deps --only-binary :all: -d $(REFERENCE_WHEELS) -r tests/reference-wheels.txt
	touch $@

$(DEVPI_STAMP): $(STAMP) tests/devpi.lock
	rm -rf $(DEVPI_VENV)
	$(PYTHON) -m venv $(DEVPI_VENV)
	$(LOCKED_INSTALL_INTO) $(DEVPI_VENV)/bin/python install --quiet --require-hashes -r tests/devpi.lock
	touch $(DEVPI_STAMP)

devpi: $(DEVPI_STAMP)

$(LOCKTOOLS_STAMP): $(STAMP) tests/locktools.lock
	rm -rf $(LOCKTOOLS_VENV)
	$(PYTHON) -m venv $(LOCKTOOLS_VENV)
	$(LOCKED_INSTALL_INTO) $(LOCKTOOLS_VENV)/bin/python install --quiet --require-hashes -r tests/locktools.lock
	touch $(LOCKTOOLS_STAMP)

# The devpi test must run here: WHEELBUNDLE_REQUIRE_DEVPI turns its skip into a failure.
test: $(STAMP) $(EXAMPLE_STAMP) $(REFERENCE_STAMP) $(DEVPI_STAMP) $(LOCKTOOLS_STAMP) lint
	$(TEST_ENV) $(BIN)/python -m pytest

# The locked toolchain with the newest pip, packaging, pyyaml and tqdm: what a user installing
# the tool today gets. Made anew each time, so that it always has today's releases.
test-latest: $(STAMP) $(EXAMPLE_STAMP) $(REFERENCE_STAMP) $(DEVPI_STAMP) $(LOCKTOOLS_STAMP)
	rm -rf $(LATEST_VENV)
	$(PYTHON) -m venv $(LATEST_VENV)
	$(LATEST_VENV)/bin/python $(LOCKED_INSTALL) $(LOCK)
	$(LATEST_VENV)/bin/python -m pip install --quiet --upgrade pip packaging pyyaml tqdm
	$(LATEST_VENV)/bin/python $(EDITABLE_INSTALL)
	@$(LATEST_VENV)/bin/python -c "from importlib.metadata import version as v; print('newest:', *(f'{n} {v(n)}' for n in ('pip', 'packaging', 'pyyaml', 'tqdm')))"
	$(TEST_ENV) $(LATEST_VENV)/bin/python -m pytest

# The journey (make, archive, offline install) with the tool under every Python it supports,
# and install.sh and the probe under every server Python from 3.6 (scripts/test_pythons.py).
test-pythons: $(STAMP) $(REFERENCE_STAMP)
	$(TEST_ENV) $(BIN)/python scripts/test_pythons.py --lock $(LOCK)

lint: $(STAMP)
	$(BIN)/ruff check src tests scripts
	$(BIN)/ruff format --check src tests scripts
	$(BIN)/mypy

# Refresh the locks to today's newest releases that fit their inputs; then run make test and
# make test-pythons, and commit the locks with what they changed.
lock: $(STAMP)
	$(BIN)/uv pip compile --quiet --upgrade --universal --generate-hashes --python-version 3.10 \
		--custom-compile-command "make lock" --extra test -o $(LOCK) pyproject.toml tests/toolchain.in
	$(BIN)/uv pip compile --quiet --upgrade --universal --generate-hashes --python-version 3.10 \
		--custom-compile-command "make lock" -o tests/devpi.lock tests/devpi.in
	$(BIN)/uv pip compile --quiet --upgrade --universal --generate-hashes --python-version 3.10 \
		--no-strip-extras --custom-compile-command "make lock" -o tests/locktools.lock tests/locktools.in

demo: $(STAMP)
	$(BIN)/python scripts/demo.py

bench: $(STAMP)
	$(BIN)/python scripts/bench.py
	$(BIN)/python scripts/bench_targets.py

bench-relay: $(STAMP)
	$(BIN)/python scripts/bench_relay.py

clean:
	rm -rf $(VENV) $(DEVPI_VENV) $(LOCKTOOLS_VENV) $(LATEST_VENV) .venv-py3.* .venv-pip-oldest .cache build dist .pytest_cache .mypy_cache .ruff_cache
