# One entry point for common tasks. `make dev` and `make test` are the README's quickstart.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: dev test unit lint fmt docs controlplane venv clean

dev: controlplane venv  ## host + virtual clusters (and the syncer) on this machine; Ctrl-C stops them
	$(BIN)/vcsync dev $(ARGS)

test: controlplane venv lint  ## everything CI runs: lint, unit tests, integration tests on real control planes
	$(BIN)/pytest -ra $(ARGS)

unit: venv  ## pure tests only, no control plane
	$(BIN)/pytest -ra tests/unit $(ARGS)

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m syncer.docs --check

fmt: venv
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

docs: venv  ## regenerate README.md's kinds and flags tables from the code
	$(BIN)/python -m syncer.docs

controlplane:  ## build (once, cached by version) kube-apiserver & co., etcd and kwok from Go modules
	@bash hack/controlplane/build.sh >/dev/null

venv: $(VENV)/.installed
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache
