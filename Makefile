# `make run` serves the offline stack; `make test` runs every test. Both create .venv on first use.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check -q
INSTALLED := $(VENV)/.installed

.PHONY: run test lint bench clean deploy destroy

run: $(INSTALLED)
	$(PY) -m local

# The e2e suite holds every function to infra/template.yaml's IAM policies unless SHELF_LOCAL_IAM=off
# (tests/e2e/conftest.py); `SHELF_LOCAL_IAM=enforce make run` does the same for the served stack.
test: $(INSTALLED)
	$(PY) -m pytest

# The app as CloudFormation: `chalice package` merged with infra/template.yaml must lint too.
PACKAGED := dist/chalice-package
lint: $(INSTALLED)
	$(VENV)/bin/cfn-lint
	rm -rf $(PACKAGED)
	AWS_DEFAULT_REGION=$${AWS_REGION:-$${AWS_DEFAULT_REGION:-us-east-1}} \
	  $(VENV)/bin/chalice package --stage dev --merge-template infra/template.yaml $(PACKAGED)
	$(VENV)/bin/cfn-lint $(PACKAGED)/sam.yaml
	$(VENV)/bin/ruff check .

# `make deploy STAGE=prod` deploys or updates a stage in AWS (docs/deploy.md); `make destroy STAGE=...` removes it.
STAGE ?= dev
deploy: $(INSTALLED)
	$(PY) -m tools.deploy deploy --stage $(STAGE)

destroy: $(INSTALLED)
	$(PY) -m tools.deploy destroy --stage $(STAGE)

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
