#!/usr/bin/env bash
# `make run`: the local control plane, the CRDs, the operator (in the background, by PID)
# and the example service from examples/web, then what kubectl shows of it.
#
#   hack/run-local.sh up     start everything (idempotent)
#   hack/run-local.sh down   stop the operator and the control plane
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(dirname "$here")"
dir="${ECS_FACADE_CLUSTER_DIR:-$repo/.cluster}"
venv="${VENV:-$repo/.venv}"
pidfile="$dir/pids/operator.pid"
log="$dir/logs/operator.log"

up() {
  "$here/cluster.sh" up
  eval "$("$here/cluster.sh" env)"
  kubectl apply --server-side -f "$repo/crds" >/dev/null
  kubectl wait --for=condition=Established --timeout=60s -f "$repo/crds" >/dev/null
  if [[ -f "$pidfile" ]] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
    echo "operator already running (pid $(cat "$pidfile"))"
  else
    echo "starting the operator (log: $log)"
    KUBECONFIG="$KUBECONFIG" setsid "$venv/bin/ecs-facade" run --standalone >>"$log" 2>&1 < /dev/null &
    echo $! > "$pidfile"
  fi
  kubectl apply -f "$repo/examples/web/"
  echo "waiting for the example service to reach a steady state..."
  if ! kubectl wait ecsservice/web --for=condition=Ready --timeout=120s >/dev/null; then
    echo "the example service did not become Ready; operator log tail:" >&2
    tail -n 30 "$log" >&2
    exit 1
  fi
  echo
  kubectl get ecstaskdefinitions,ecsservices
  echo
  kubectl get deployments,pods -l ecs.facade.dev/service=web -o wide
  cat <<MSG

The cluster and the operator keep running. To use kubectl here:
  eval "\$(hack/cluster.sh env)"
  kubectl get ecsservices -o wide
To stop everything:
  make down
MSG
}

down() {
  if [[ -f "$pidfile" ]]; then
    local pid; pid="$(cat "$pidfile")"
    if kill -0 "$pid" 2>/dev/null; then
      echo "stopping the operator (pid $pid)"
      kill "$pid"
      for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
      kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
    fi
    rm -f "$pidfile"
  fi
  "$here/cluster.sh" down
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  *) echo "usage: $0 up|down" >&2; exit 2 ;;
esac
