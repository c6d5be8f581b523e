# One entry point for common tasks. `make dev` and `make test` are the README's quickstart.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: dev test test-real-node unit lint fmt docs controlplane helm image chart-schema bench chaos venv clean

dev: controlplane venv  ## host + virtual clusters (and the syncer) on this machine; Ctrl-C stops them
	$(BIN)/vcsync dev $(ARGS)

test: controlplane helm venv lint  ## everything CI runs: lint, unit, integration and chart tests on real control planes
	$(BIN)/pytest -ra --durations=20 $(ARGS)

test-real-node: controlplane venv  ## the real-node tier: containerd, kubelet and kube-proxy join the host cluster (root)
	$(BIN)/pytest -ra --real-node $(ARGS)

unit: venv  ## pure tests only, no control plane
	$(BIN)/pytest -ra tests/unit $(ARGS)

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/python -m syncer.docs --check
	$(BIN)/python hack/helm/schema.py --check

fmt: venv
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

docs: venv  ## regenerate README.md's kinds and flags tables from the code
	$(BIN)/python -m syncer.docs

image: venv  ## build the vcsync image as vcsync:local (local Debian base, no registry; starts dockerd if needed)
	@bash hack/image/build.sh >/dev/null

helm:  ## build (once, cached by version) the pinned helm from Go modules, for the chart and its tests
	@bash hack/helm/build.sh >/dev/null

chart-schema: venv  ## regenerate helm/vcsync/values.schema.json from the flag table and kinds
	$(BIN)/python hack/helm/schema.py

bench: controlplane venv  ## benchmarks on local control planes -> bench/results/<date>-<host>.md + .png (ARGS=--smoke: ~7 min)
	$(BIN)/python -m bench $(ARGS)

RUNS ?= 20
chaos: controlplane venv  ## seeded chaos runs (RUNS=200; replay one with VCSYNC_CHAOS_SEEDS=<seed>); CI runs three
	VCSYNC_CHAOS_SEEDS=$${VCSYNC_CHAOS_SEEDS:-$$(seq -s, 1 $(RUNS))} $(BIN)/pytest -ra tests/chaos $(ARGS)

controlplane:  ## build (once, cached by version) kube-apiserver & co., etcd and kwok from Go modules
	@bash hack/controlplane/build.sh >/dev/null

venv: $(VENV)/.installed
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test,bench]'
	touch $@

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache
