# Two commands on a fresh machine: `make run` and `make test`. Everything else is optional.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
LOCALSTACK_VENV := .localstack-venv
CHECKOV_VENV := .checkov-venv
DEMO := demo

.PHONY: run test lint typecheck check stack localstack images push bench clean

$(BIN)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e '.[dev]'
	touch $@

$(CHECKOV_VENV)/.installed: terraform/checkov-requirements.txt
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install --quiet -r terraform/checkov-requirements.txt
	touch $@

$(LOCALSTACK_VENV)/.installed: scripts/localstack-requirements.txt
	$(PYTHON) -m venv $(LOCALSTACK_VENV)
	$(LOCALSTACK_VENV)/bin/pip install --quiet -r scripts/localstack-requirements.txt
	touch $@

localstack: $(LOCALSTACK_VENV)/.installed

run: $(BIN)/.installed
	$(BIN)/pivfleet samples $(DEMO)/input
	$(BIN)/pivfleet run $(DEMO)/input --out $(DEMO)/results --plot --replace
	@echo "results in $(DEMO)/results (summary.json, run.nc, run.png, <pair>.txt, <pair>.nc, <pair>.png)"

lint: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(BIN)/.installed
	$(BIN)/mypy

test: $(BIN)/.installed $(LOCALSTACK_VENV)/.installed $(CHECKOV_VENV)/.installed lint typecheck
	PIVFLEET_LOCALSTACK_PYTHON=$(LOCALSTACK_VENV)/bin/python \
	PIVFLEET_CHECKOV=$(CHECKOV_VENV)/bin/checkov $(BIN)/pytest -q

stack: $(BIN)/.installed $(LOCALSTACK_VENV)/.installed
	PIVFLEET_LOCALSTACK_PYTHON=$(LOCALSTACK_VENV)/bin/python $(BIN)/python -m scripts.stack

VERSION ?= $(shell git describe --tags --always --dirty)
BUILD_ARGS = --build-arg VERSION=$(VERSION) --build-arg REVISION=$(shell git rev-parse HEAD)
images:
	docker build $(BUILD_ARGS) -f docker/worker.Dockerfile -t pivfleet-worker .
	# Lambda rejects BuildKit's multi-manifest index: no provenance attestation.
	docker build --provenance=false $(BUILD_ARGS) -f docker/dispatcher.Dockerfile -t pivfleet-dispatcher .

push: images
	scripts/push-images.sh "$(REGISTRY)"

bench: $(BIN)/.installed
	$(BIN)/python bench/pass_tiles.py

clean:
	rm -rf $(VENV) $(LOCALSTACK_VENV) $(CHECKOV_VENV) $(DEMO) .pytest_cache .mypy_cache .ruff_cache
