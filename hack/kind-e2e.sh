#!/usr/bin/env bash
# For machines with Docker: the e2e suite against the operator *in* a kind cluster, installed
# with the Helm chart from the image built here. Needs docker, kind, kubectl, helm and Go.
#
#   hack/kind-e2e.sh                  create cluster "ecs-facade-e2e", run the suite, delete it
#   KEEP_CLUSTER=1 hack/kind-e2e.sh   keep the cluster afterwards
#   hack/kind-e2e.sh -k service       pytest arguments pass through
#
# Test tasks use images nobody pulls: as on the local control plane, kwok (built from the
# pinned module, run here against kind's API server) simulates the nodes they run on, and
# kind's own node is tainted so that only the operator runs there. The auto scaling test
# that needs simulated CPU usage (metrics-server scraping kwok) is left to the local
# control plane (`make test`).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
name="${KIND_CLUSTER_NAME:-ecs-facade-e2e}"
work="$(mktemp -d)"
kubeconfig="$work/kubeconfig"
image="ecs-facade:e2e"
kwok_pid=""

for tool in docker kind kubectl helm go; do
  command -v "$tool" >/dev/null || { echo "kind-e2e: $tool is not on PATH" >&2; exit 1; }
done

dump() { # logs and events when something failed
  echo "=== operator logs" >&2
  kubectl --kubeconfig "$kubeconfig" logs -n ecs-facade-system deployment/ecs-facade --tail=200 >&2 || true
  echo "=== events" >&2
  kubectl --kubeconfig "$kubeconfig" get events -A --sort-by=.lastTimestamp >&2 || true
  echo "=== kwok log" >&2
  tail -n 50 "$work/kwok.log" >&2 || true
}

cleanup() {
  local rc=$?
  [[ $rc -ne 0 ]] && dump
  [[ -n "$kwok_pid" ]] && kill "$kwok_pid" 2>/dev/null || true
  if [[ -z "${KEEP_CLUSTER:-}" ]]; then kind delete cluster --name "$name"; fi
  rm -rf "$work"
  exit $rc
}
trap cleanup EXIT

kind get clusters | grep -qx "$name" || kind create cluster --name "$name" --wait 120s
kind get kubeconfig --name "$name" > "$kubeconfig"
k() { kubectl --kubeconfig "$kubeconfig" "$@"; }

# the operator image, as users build it
docker build -t "$image" "$repo"
kind load docker-image "$image" --name "$name"

# only the operator (which tolerates the taint) runs on kind's node; test tasks go to kwok's.
# The settings are the in-process operator's of tests/e2e/conftest.py.
node="$(k get nodes -o jsonpath='{.items[0].metadata.name}')"
k taint node "$node" ecs-facade.dev/e2e=operator-only:NoSchedule --overwrite
helm --kubeconfig "$kubeconfig" upgrade --install ecs-facade "$repo/charts/ecs-facade" \
  --namespace ecs-facade-system --create-namespace --wait --timeout 180s \
  --set image.repository=ecs-facade --set image.tag=e2e --set image.pullPolicy=Never \
  --set-json 'tolerations=[{"key":"ecs.facade.dev/e2e","operator":"Exists","effect":"NoSchedule"}]' \
  --set allowHostPath=true --set stoppedTaskRetentionSeconds=15

# simulated nodes: kwok from the pinned control plane module, against kind's API server
bin="$("$repo/hack/build-controlplane.sh")"
"$bin/kwok" --kubeconfig "$kubeconfig" --config "$(dirname "$bin")/kwok-stages.yaml" \
  --manage-all-nodes=false --manage-nodes-with-annotation-selector kwok.x-k8s.io/node=fake \
  --cidr 10.244.128.1/17 --node-ip 127.0.0.1 >"$work/kwok.log" 2>&1 &
kwok_pid=$!
for i in 0 1 2; do
  k apply -f - <<YAML
apiVersion: v1
kind: Node
metadata:
  name: kwok-node-$i
  annotations: {kwok.x-k8s.io/node: fake}
  labels: {type: kwok, kubernetes.io/hostname: kwok-node-$i, kubernetes.io/os: linux, kubernetes.io/arch: amd64,
           topology.kubernetes.io/zone: us-east-1$(printf "\\x$(printf %x $((97 + i)))"), node.kubernetes.io/instance-type: m5.xlarge}
status:
  allocatable: {cpu: "16", memory: 64Gi, pods: "110"}
  capacity: {cpu: "16", memory: 64Gi, pods: "110"}
  declaredFeatures: [RestartAllContainersOnContainerExits]
YAML
done
k wait --for=condition=Ready node -l type=kwok --timeout=120s

cd "$repo"
make venv
# the real-container tests need the local cluster's real node (hack/real-node.sh), the
# fault-injection ones its audit log and its processes
E2E_KUBECONFIG="$kubeconfig" E2E_OPERATOR=in-cluster \
  .venv/bin/pytest tests/e2e -m "not real_node and not chaos" \
  --deselect tests/e2e/test_autoscaling.py::test_cpu_target_tracking_scales_out_and_back_in "$@"
