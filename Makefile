# kafkaops — every target installs what it needs; all of them are idempotent.
#   make demo   a real local Kafka cluster with a workload, checked by kafkaops
#   make test   the whole test suite (unit + integration against real Kafka JVMs)
#   make lint   ruff (lint + format check), the layer contract (import-linter) and mypy
#   make bench  the snapshot benchmark (see bench/README.md)
#   make lock   re-resolve requirements/*.lock from pyproject.toml's ranges (then commit them)

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: setup system-deps jars demo test test-clock-guard lint format bench lock clean

setup: system-deps $(STAMP)

# Java 17+ runs the Kafka brokers (the JDK: the MSK IAM test compiles a broker-side token
# validator), Maven resolves their jars from Maven Central, and the
# tests run the history store against a real PostgreSQL server (started privately by the tests),
# the Alertmanager channel against a real Alertmanager, the Prometheus source against a real
# Prometheus server and node exporter, and the dashboard in a real headless Chromium.
system-deps:
	@PKGS=""; \
	command -v javac >/dev/null 2>&1 || PKGS="$$PKGS openjdk-17-jdk-headless"; \
	command -v mvn >/dev/null 2>&1 || PKGS="$$PKGS maven"; \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || PKGS="$$PKGS postgresql"; \
	command -v prometheus-alertmanager >/dev/null 2>&1 || PKGS="$$PKGS prometheus-alertmanager"; \
	command -v prometheus >/dev/null 2>&1 || PKGS="$$PKGS prometheus"; \
	command -v prometheus-node-exporter >/dev/null 2>&1 || PKGS="$$PKGS prometheus-node-exporter"; \
	command -v chromium >/dev/null 2>&1 || PKGS="$$PKGS chromium"; \
	if [ -n "$$PKGS" ]; then \
	  echo "installing from Debian packages:$$PKGS"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$PKGS; \
	fi

# The exact versions CI tests are in requirements/dev.lock (every extra + the test tools);
# pyproject.toml holds only ranges.  pip first (the lock pins it), then the lock, then kafkaops
# itself without resolving again.  `pip install -e '.[dev]'` works too, with the newest
# versions in the ranges instead of the tested ones.
LOCK := requirements/dev.lock

$(STAMP): pyproject.toml $(LOCK)
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install -q "$$(grep -m1 '^pip==' $(LOCK))"
	@$(BIN)/python -m pip install -q -r $(LOCK)
	@$(BIN)/python -m pip install -q --no-deps -e .
	@touch $@

# dev.lock: what make/CI install; runtime.lock: kafkaops[all] alone (Dockerfile, deployments).
LOCK_FLAGS := -q --strip-extras --no-emit-index-url --no-emit-find-links --unsafe-package kafkaops
lock: setup
	@$(BIN)/pip-compile $(LOCK_FLAGS) --extra dev --output-file requirements/dev.lock pyproject.toml
	@$(BIN)/pip-compile $(LOCK_FLAGS) --extra all --output-file requirements/runtime.lock pyproject.toml

jars: setup
	@$(BIN)/python -c "from kafkaops.sandbox import jars; jars.ensure_kafka_jars(jars.DEFAULT_KAFKA_VERSION); jars.ensure_mirror_jars(jars.DEFAULT_KAFKA_VERSION); jars.ensure_jmx_exporter()"

demo: setup jars
	@$(BIN)/python -m kafkaops.cli.demo $(DEMO_ARGS)

# The clock guard (tests/conftest.py): the runbook's default maintenance windows (daily
# 02:00-04:00 UTC, Sunday 01:00-05:00, first Sunday 00:00-06:00) mute P1/P2 pages.  The tests
# that expect a page (marker `pages`) run with KAFKAOPS_NOW at the guard instant, inside all three
# windows (first Sunday of December, 03:00 UTC): an autouse fixture sets it around each of them
# (subprocesses inherit it) and restarts the test process's clock; every other test runs on the
# real clock.  So a test that forgot to state its windows fails at any hour, not only at night,
# and one pytest session (one sandbox start) runs everything.  `make test-clock-guard` runs only
# the `pages` tests; CLOCK_GUARD_NOW moves the instant.
CLOCK_GUARD_NOW ?= 2026-12-06T03:00:00Z
export KAFKAOPS_TEST_CLOCK_GUARD_NOW := $(CLOCK_GUARD_NOW)

test: setup jars lint
	@$(BIN)/python -m pytest $(PYTEST_ARGS)

test-clock-guard: setup jars
	@echo "clock guard: the paging tests with KAFKAOPS_NOW=$(CLOCK_GUARD_NOW) (inside every runbook window)"
	@$(BIN)/python -m pytest -q -m pages $(PYTEST_ARGS)

lint: setup
	@$(BIN)/ruff check src tests bench
	@$(BIN)/ruff format --check src tests bench
	@$(BIN)/lint-imports --no-cache
	@$(BIN)/mypy src

format: setup
	@$(BIN)/ruff check --fix src tests bench
	@$(BIN)/ruff format src tests bench

bench: setup jars
	@$(BIN)/python bench/snapshot_bench.py $(BENCH_ARGS)

clean:
	-@$(BIN)/kafkaops sandbox down 2>/dev/null
	rm -rf $(VENV) .sandbox .pytest_cache .ruff_cache .mypy_cache
