# virtual-iop: the two commands a new machine needs are `make run` and `make test`.
# Each installs what it needs: a virtual environment from pinned versions (requirements/dev.txt),
# Debian's Chromium for the browser tests (apt-get, when missing), checkov in its own venv.

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
TOOLS := .venv-tools
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
TOOLS_STAMP := $(TOOLS)/.installed
SUDO := $(shell [ "$$(id -u)" = "0" ] || echo sudo)
export AWS_DEFAULT_REGION ?= us-east-1
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: run test lint typecheck unit integration e2e package template-check cfn-lint checkov \
        bench clean lock chromium cost counts deploy chaos

$(STAMP): requirements/dev.txt requirements.txt pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python >= 3.11 is needed")'
	@test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade "pip>=24"
	$(PY) -m pip install --quiet -r requirements/dev.txt
	$(PY) -m pip install --quiet --no-deps -e .
	@touch $@

$(TOOLS_STAMP): tools/requirements-checkov.txt
	@test -d $(TOOLS) || $(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/python -m pip install --quiet --upgrade "pip>=24"
	$(TOOLS)/bin/python -m pip install --quiet -r tools/requirements-checkov.txt
	@touch $@

chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "Installing Debian's chromium for the browser tests"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium >/dev/null; }

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --silent
	@touch $@

run: $(STAMP)
	$(PY) -m iop run

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

template-check: $(STAMP)
	$(PY) -m infra.template --check

unit: $(STAMP)
	$(PY) -m pytest tests/unit -q

integration: $(STAMP)
	$(PY) -m pytest tests/integration -q

e2e: $(STAMP) chromium node_modules/.installed
	$(PY) -m pytest tests/e2e -q

package: $(STAMP)
	$(PY) -m infra.build --out build

cfn-lint: package
	$(VENV)/bin/cfn-lint build/template.json

checkov: package $(TOOLS_STAMP)
	$(TOOLS)/bin/checkov -f build/template.json --framework cloudformation --quiet --compact --skip-download

test: $(STAMP) chromium node_modules/.installed $(TOOLS_STAMP)
	$(MAKE) --no-print-directory lint template-check
	$(PY) -m pytest tests -q
	$(MAKE) --no-print-directory cfn-lint checkov

# make deploy STAGE=prod [DRY_RUN=1]: infra/stages/<stage>.json -> build, package, change set, website
deploy: $(STAMP)
	@test -n "$(STAGE)" || { echo "usage: make deploy STAGE=<stage> [DRY_RUN=1] (reads infra/stages/<stage>.json)"; exit 2; }
	$(PY) -m infra.deploy --stage $(STAGE) $(if $(DRY_RUN),--dry-run)

# the chaos run (tests/e2e/test_chaos.py) at length: 300 intakes with AWS faults injected, invariants printed
# (an hour allowed: the suite's 300 s per test is for the 60-intake run of make test)
chaos: $(STAMP)
	CHAOS_INTAKES=$${CHAOS_INTAKES:-300} $(PY) -m pytest tests/e2e/test_chaos.py -q -s -p no:cacheprovider --timeout 3600

cost: $(STAMP)
	$(PY) -m infra.cost --patients 1000

counts: $(STAMP)
	$(PY) tests/bench/counts.py --patients 50

bench: package
	$(PY) tests/bench/coldstart.py

lock:
	rm -rf /tmp/iop-lock && $(PYTHON) -m venv /tmp/iop-lock && /tmp/iop-lock/bin/pip install -q -r requirements/dev.in
	(echo "# Locked from requirements/dev.in (make lock)"; /tmp/iop-lock/bin/pip freeze) > requirements/dev.txt

clean:
	rm -rf build .pytest_cache .mypy_cache .ruff_cache
