# ecs-facade: `make run` brings up a local cluster with the operator and an example
# service; `make test` runs lint, type checks, unit and e2e tests. `make help` lists all.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: help venv lock controlplane generate lint test test-unit test-e2e chaos-churn bench bench-write-cost bench-api run down cluster-up cluster-down clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | expand -t 16

# the pinned dependencies, with hashes (`make lock` writes them from pyproject.toml)
LOCKS := requirements-build.lock requirements.lock requirements-dev.lock

# A lock file changed: a fresh venv with exactly the locked set, nothing left from before.
$(BIN)/.locked: $(LOCKS)
	$(PYTHON) -m venv --clear $(VENV)
	$(BIN)/pip install --quiet --require-hashes -r requirements-build.lock
	$(BIN)/pip install --quiet --require-hashes -r requirements-dev.lock
	touch $@

# The operator itself, editable, its dependencies from the lock only; `pip check` fails when
# pyproject.toml asks for what the lock does not hold.
$(BIN)/.installed: $(BIN)/.locked pyproject.toml
	$(BIN)/pip install --quiet --no-deps --no-build-isolation -e .
	$(BIN)/pip check
	touch $@

venv: $(BIN)/.installed ## Python virtualenv with the operator and dev tools, from the lock files

lock: ## refresh the lock files from pyproject.toml (hack/lock.sh; UPGRADE=1 or UPGRADE_PACKAGE=name for newer versions)
	hack/lock.sh

controlplane: ## build (once, cached) kube-apiserver, controller-manager, scheduler, kubectl, etcd, kwok, helm, containerd, crictl
	hack/build-controlplane.sh >/dev/null
	hack/build-tools.sh >/dev/null

generate: venv ## regenerate the CRDs and pydantic models from botocore (hack/gen_crds.py), and the API's models
	$(BIN)/python hack/gen_crds.py
	$(BIN)/python hack/gen_ecs_api_model.py

lint: venv ## ruff, mypy and the Dockerfile (BuildKit's checks); the chart is linted by tests/e2e/test_chart.py
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	hack/lint-dockerfile.sh

test-unit: venv ## unit tests (no cluster)
	$(BIN)/pytest tests/unit

test-e2e: venv controlplane ## e2e tests on the local control plane (or E2E_KUBECONFIG)
	$(BIN)/pytest tests/e2e

test: venv controlplane lint ## everything: lint, unit and e2e tests
	$(BIN)/pytest tests

chaos-churn: venv controlplane ## the long churn: 2,000 objects created and deleted over 10 minutes, then no state left and the RSS slope (docs/reliability.md)
	CHURN_SECONDS=600 CHURN_OBJECTS=2000 $(BIN)/pytest tests/chaos/test_churn.py -s -p no:cacheprovider
	$(BIN)/python hack/plot_churn.py

bench: venv controlplane ## the scale benchmark (hack/bench/bench.py; ARGS="--quick" for a minute's run)
	$(BIN)/python hack/bench/bench.py $(ARGS)

bench-write-cost: venv controlplane ## what one write of each kind costs the API server, etcd and the controller-manager (hack/bench/write_cost.py)
	$(BIN)/python hack/bench/write_cost.py $(ARGS)

bench-api: venv controlplane ## the ECS API's calls/s and p99 for DescribeServices and RunTask (hack/bench/api.py; docs/performance.md)
	$(BIN)/python hack/bench/api.py $(ARGS)

run: venv controlplane ## local cluster + CRDs + operator + examples/web, then `kubectl get`
	hack/run-local.sh up

down: ## stop what `make run` started (operator and cluster)
	hack/run-local.sh down

cluster-up: controlplane ## only the local control plane with simulated nodes
	hack/cluster.sh up

cluster-down: ## stop the local control plane
	hack/cluster.sh down

clean: down ## stop everything and remove local state (.cluster, .cluster-e2e, venv)
	hack/cluster.sh down --purge
	ECS_FACADE_CLUSTER_DIR=$(CURDIR)/.cluster-e2e hack/cluster.sh down --purge
	rm -rf $(VENV)
