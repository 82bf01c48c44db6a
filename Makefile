# `make run` serves the offline stack; `make test` runs every test. Both create .venv on first use.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check -q
INSTALLED := $(VENV)/.installed

.PHONY: run test lint bench clean deploy destroy package

run: $(INSTALLED)
	$(PY) -m local

# The e2e suite holds every function to infra/template.yaml's IAM policies unless SHELF_LOCAL_IAM=off
# (tests/e2e/conftest.py); `SHELF_LOCAL_IAM=enforce make run` does the same for the served stack.
test: $(INSTALLED)
	$(PY) -m pytest

# The app as CloudFormation: `chalice package` merged with infra/template.yaml must lint too.
PACKAGED := dist/chalice-package
lint: $(INSTALLED) scan
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

# Security scanners: checkov over the CloudFormation in infra/ (.checkov.yaml), bandit over the Lambda code.
.PHONY: scan
LINT_VENV := $(VENV)/lint
scan: $(LINT_VENV)/.installed
	$(LINT_VENV)/bin/checkov --config-file .checkov.yaml
	$(LINT_VENV)/bin/bandit -q -r chalicelib

$(LINT_VENV)/.installed: requirements-lint.txt constraints-lint.txt
	$(PYTHON) -m venv $(LINT_VENV)
	$(LINT_VENV)/bin/python -m pip --disable-pip-version-check -q install -r requirements-lint.txt -c constraints-lint.txt
	touch $@

bench: $(INSTALLED) $(VENV)/.bench-installed
	$(PY) -m benchmarks

$(VENV)/.bench-installed: requirements-bench.txt $(INSTALLED)
	$(PIP) install -r requirements-bench.txt -c constraints.txt
	touch $@

# `make package [STAGE=dev]`: `chalice package` into dist/<stage>/, its zip with compiled bytecode added.
package: $(INSTALLED)
	$(VENV)/bin/chalice package --stage $(or $(STAGE),dev) dist/$(or $(STAGE),dev)
	$(PY) -m tools.bytecode dist/$(or $(STAGE),dev)/deployment.zip
	test ! -f dist/$(or $(STAGE),dev)/layer-deployment.zip || \
		$(PY) -m tools.bytecode dist/$(or $(STAGE),dev)/layer-deployment.zip /opt

clean:
	rm -rf $(VENV)

$(PY):
	$(PYTHON) -m venv $(VENV)

# Re-installs whenever a requirements file changes.
$(INSTALLED): requirements.txt requirements-dev.txt constraints.txt | $(PY)
	$(PIP) install -r requirements-dev.txt -c constraints.txt
	touch $@
