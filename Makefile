# `make run` serves the offline stack; `make test` runs every test. Both create .venv on first use.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check -q
INSTALLED := $(VENV)/.installed

.PHONY: run test lint bench clean

run: $(INSTALLED)
	$(PY) -m local

# The e2e suite holds every function to infra/template.yaml's IAM policies unless SHELF_LOCAL_IAM=off
# (tests/e2e/conftest.py); `SHELF_LOCAL_IAM=enforce make run` does the same for the served stack.
test: $(INSTALLED)
	$(PY) -m pytest

lint: $(INSTALLED)
	$(VENV)/bin/cfn-lint
	$(VENV)/bin/ruff check .

bench: $(INSTALLED) $(VENV)/.bench-installed
	$(PY) -m benchmarks

$(VENV)/.bench-installed: requirements-bench.txt $(INSTALLED)
	$(PIP) install -r requirements-bench.txt -c constraints.txt
	touch $@

clean:
	rm -rf $(VENV)

$(PY):
	$(PYTHON) -m venv $(VENV)

# Re-installs whenever a requirements file changes.
$(INSTALLED): requirements.txt requirements-dev.txt constraints.txt | $(PY)
	$(PIP) install -r requirements-dev.txt -c constraints.txt
	touch $@
