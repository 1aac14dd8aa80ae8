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

.PHONY: install demo test test-fast test-slow bench ui s3-start s3-stop clean snapshot workers test-distributed test-plugins check-defs

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[test]"
	touch $@

install: $(VENV)/.installed

demo: install
	mkdir -p $(DAGSTER_HOME)
	$(PY) -m pipelines.cli demo

# The test suite (what CI runs): the default run, then the two suites that install or start more than it
# does: the example plugin distribution with a month run and, when RabbitMQ answers on loopback, a month on two
# celery workers (docs/scale-out.md). `make test-fast` is the default run alone.
test: install
	$(PY) -m pytest
	$(PY) -m pytest -m plugins
	@if $(PY) -c "import socket; socket.create_connection(('127.0.0.1', 5672), 3).close()" 2>/dev/null; \
	then $(PY) -m pytest -m distributed; \
	else echo "RabbitMQ does not answer on 127.0.0.1:5672: the distributed suite is not run"; fi

test-fast: install
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
	$(PY) -c "from pipelines import settings; settings.dagster_home()"  # instance settings: config/dagster/dagster.yaml
	$(VENV)/bin/dagster dev -w workspace.yaml

s3-start: install
	$(PY) -m pipelines.cli s3 start

s3-stop: install
	$(PY) -m pipelines.cli s3 stop

clean: s3-stop
	rm -rf $(STATE)

# The Definitions snapshot (tests/snapshots/definitions.txt) after a meant change of assets, checks, jobs,
# schedules, sensors or partitions; commit it with the change (tests/test_definitions_snapshot.py).
snapshot: install
	$(PY) -m tests.test_definitions_snapshot

# `dg check defs` on this project ([tool.dg] in pyproject.toml)
check-defs: install
	$(VENV)/bin/dg check defs

# Scale-out (docs/scale-out.md): two celery workers on the broker of POSTLOAN_CELERY_BROKER (RabbitMQ on
# loopback by default), in the foreground; Ctrl-C stops both. Runs choose celery in their run config.
export POSTLOAN_CELERY_BROKER ?= pyamqp://guest:guest@127.0.0.1:5672//
export POSTLOAN_CELERY_BACKEND ?= rpc://
WORKERS ?= 2
workers: install
	mkdir -p $(DAGSTER_HOME)
	$(PY) -m pipelines.distributed $(WORKERS)

# A month on two celery workers against the in-process run (RabbitMQ and PostgreSQL on loopback)
test-distributed: install
	$(PY) -m pytest -m distributed

# The example plugin distribution (examples/) pip-installed into a folder of its own and a month run with it
test-plugins: install
	$(PY) -m pytest -m plugins
