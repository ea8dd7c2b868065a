# Two commands do everything on a fresh machine: `make demo` and `make test`.
# Both create .venv and install the provider with its test extras first (needs only python3 >= 3.11).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
BENCH_STAMP := $(VENV)/.bench-stamp
PYTEST_ARGS ?=
# pytest-xdist workers for `make test` (tests/conftest.py schedules them: the deployment tests on one,
# the long tests first); `make test TEST_WORKERS=0` runs everything in this process. Three on two cores:
# the deployment's worker mostly waits on Airflow's processes, and a third keeps both cores busy.
TEST_WORKERS ?= 3

.PHONY: install test lint format demo bench emulator clean

$(STAMP): pyproject.toml
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is required"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

# The benchmark's peer (pyeloqua) lives in the `bench` extra: installed for `make bench` only.
$(BENCH_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[test,bench]'
	touch $(BENCH_STAMP)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# ruff first; mypy (about 20 s of CPU from a fresh clone, which has no mypy cache) checks while pytest
# runs, its report printed after pytest's; `make test` fails if either fails.
test: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy > $(VENV)/mypy.log 2>&1 & typing=$$!; \
	$(BIN)/python -m pytest -n $(TEST_WORKERS) $(PYTEST_ARGS); tests=$$?; \
	wait $$typing; typed=$$?; cat $(VENV)/mypy.log; \
	[ $$tests -eq 0 ] && [ $$typed -eq 0 ]

demo: install
	$(BIN)/python scripts/demo.py

bench: $(BENCH_STAMP)
	$(BIN)/python -m benchmarks.run
	$(BIN)/python -m benchmarks.operators
	$(BIN)/python -m benchmarks.exports
	$(BIN)/python -m benchmarks.deferred_wait
	$(BIN)/python -m benchmarks.triggers
	$(BIN)/python -m benchmarks.sql_source

emulator: install
	$(BIN)/eloqua-emulator

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache build *.egg-info
