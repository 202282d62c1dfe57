# Airdock: `make run` serves the portal with everything it needs; `make test` runs the tests.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
export VENV

.PHONY: run test test-faults bench bench-smoke venv services runtime-image migrate worker clean

$(VENV)/.installed: requirements.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps -e .
	touch $@

venv: $(VENV)/.installed

services: venv
	scripts/services.sh

runtime-image: services migrate
	scripts/runtime-image.sh

migrate: venv
	$(PY) manage.py migrate --noinput

run: venv services runtime-image migrate
	scripts/run.sh

test: venv services runtime-image
	scripts/test.sh --ignore=tests/faults

# The fault suite (services killed and stopped, load) and the deploy state machine's concurrency
# tests, on SQLite and then on PostgreSQL, where row locks and the partial unique index behave
# differently. CI runs `make test`, then this.
FAULTS := tests/faults tests/deploys/test_lease.py tests/deploys/test_lifecycle.py tests/deploys/test_org_limit.py
test-faults: venv services runtime-image
	scripts/test.sh $(FAULTS)
	AIRDOCK_TEST_ON_POSTGRES=1 scripts/test.sh $(FAULTS)

# How fast a change reaches running Airflow (bench/): tables in docs/benchmarks.md.
bench: venv services runtime-image
	scripts/bench.sh

bench-smoke: venv services runtime-image
	scripts/bench.sh --smoke

clean:
	rm -rf $(VENV) var
