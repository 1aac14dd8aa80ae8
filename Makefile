# postloan — every target sets up what it needs on a fresh clone.
#   make demo   the whole post-loan month on the bundled sample portfolio
#   make test   the test suite (what CI runs)
#   make ui     the Dagster UI on the same project and state
#   make bench  the benchmarks under bench/ (print figures; not tests)
PYTHON ?= python3
VENV := $(CURDIR)/.venv
PY := $(VENV)/bin/python
STATE := $(CURDIR)/.state
export POSTLOAN_STATE_DIR ?= $(STATE)
export DAGSTER_HOME ?= $(STATE)/dagster_home

.PHONY: install demo test test-slow bench ui s3-start s3-stop clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[test]"
	touch $@

install: $(VENV)/.installed

demo: install
	mkdir -p $(DAGSTER_HOME)
	$(PY) -m pipelines.cli demo

test: install
	$(PY) -m pytest

test-slow: install
	$(PY) -m pytest -m slow

bench: install
	$(PY) -m pip install --quiet -e ".[test,bench]"
	$(PY) bench/extraction.py
	$(PY) bench/archive_lookup.py
	$(PY) bench/scale.py --loans 100000
	$(PY) bench/engines.py

ui: install
	mkdir -p $(DAGSTER_HOME)
	$(PY) -m pipelines.cli s3 start
	$(VENV)/bin/dagster dev -w workspace.yaml

s3-start: install
	$(PY) -m pipelines.cli s3 start

s3-stop: install
	$(PY) -m pipelines.cli s3 stop

clean: s3-stop
	rm -rf $(STATE)
