#!/usr/bin/env bash
# For machines with Docker: run the e2e suite against a kind cluster instead of the
# local control plane. Needs kind, kubectl and docker on PATH.
#
#   hack/kind-e2e.sh            create cluster "ecs-facade-e2e", run tests, delete it
#   KEEP_CLUSTER=1 hack/kind-e2e.sh   keep the cluster afterwards
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
name="${KIND_CLUSTER_NAME:-ecs-facade-e2e}"
kubeconfig="$(mktemp)"

for tool in kind kubectl docker; do
  command -v "$tool" >/dev/null || { echo "kind-e2e: $tool is not on PATH" >&2; exit 1; }
done

cleanup() {
  rm -f "$kubeconfig"
  if [[ -z "${KEEP_CLUSTER:-}" ]]; then kind delete cluster --name "$name"; fi
}
trap cleanup EXIT

kind get clusters | grep -qx "$name" || kind create cluster --name "$name" --wait 120s
kind get kubeconfig --name "$name" > "$kubeconfig"
kubectl --kubeconfig "$kubeconfig" apply --server-side -f "$repo/crds"

cd "$repo"
make venv
# the e2e fixtures install the CRDs again (idempotent) and run the operator in-process
E2E_KUBECONFIG="$kubeconfig" .venv/bin/pytest tests/e2e "$@"
