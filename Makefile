# The two-command quick start: `make run` starts a cluster, `make test` runs the test suite.
# Both first run scripts/setup.sh, which is cheap once the machine is prepared.
# `make run ARGS="--nodes 3"` passes flags to `minik8s up`.
SHELL := /bin/bash
VENV := .venv
DATA_DIR ?= $(HOME)/.minik8s
PORT ?= 6443
# CI runs everything verbosely enough to read a failure from the log alone.
PYTEST_ARGS ?= -q -x --durations=15 $(if $(CI),-ra)

.PHONY: setup run test images clean

setup:
	scripts/setup.sh

run: setup
	$(VENV)/bin/minik8s up --data-dir $(DATA_DIR) --port $(PORT) $(ARGS)

# Benchmarks are not tests: tests/perf runs only on request.
test: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy
	$(VENV)/bin/pytest $(PYTEST_ARGS) --ignore=tests/perf tests

images:
	FORCE=1 tests/images/build.sh

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache
