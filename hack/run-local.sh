#!/usr/bin/env bash
# `make run`: the local control plane, the CRDs, the operator and the ECS API (each in the
# background, by PID) and the example service from examples/web, then what kubectl shows of it.
#
#   hack/run-local.sh up     start everything (idempotent)
#   hack/run-local.sh down   stop the ECS API, the operator and the control plane
#
# The ECS API (`ecs-facade api`, docs/ecs-api.md) listens on 127.0.0.1:$ECS_FACADE_API_PORT
# (default 8088) in anonymous mode: local use only, it checks no signature.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(dirname "$here")"
dir="${ECS_FACADE_CLUSTER_DIR:-$repo/.cluster}"
venv="${VENV:-$repo/.venv}"
pidfile="$dir/pids/operator.pid"
log="$dir/logs/operator.log"
api_port="${ECS_FACADE_API_PORT:-8088}"
api_pidfile="$dir/pids/ecs-api.pid"
api_log="$dir/logs/ecs-api.log"

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
  if [[ -f "$api_pidfile" ]] && kill -0 "$(cat "$api_pidfile")" 2>/dev/null; then
    echo "ECS API already running (pid $(cat "$api_pidfile"))"
  else
    echo "starting the ECS API on 127.0.0.1:$api_port, anonymous (log: $api_log)"
    KUBECONFIG="$KUBECONFIG" setsid "$venv/bin/ecs-facade" api --anonymous --port "$api_port" \
      >>"$api_log" 2>&1 < /dev/null &
    echo $! > "$api_pidfile"
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
The ECS API (anonymous, local only; docs/ecs-api.md):
  AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local AWS_DEFAULT_REGION=us-east-1 \\
    aws ecs --endpoint-url http://127.0.0.1:$api_port list-services
To stop everything:
  make down
MSG
}

stop_pid() { # pidfile what
  local pid
  [[ -f "$1" ]] || return 0
  pid="$(cat "$1")"
  if kill -0 "$pid" 2>/dev/null; then
    echo "stopping $2 (pid $pid)"
    kill "$pid"
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    if kill -0 "$pid" 2>/dev/null; then kill -9 "$pid"; fi
  fi
  rm -f "$1"
}

down() {
  stop_pid "$api_pidfile" "the ECS API"
  stop_pid "$pidfile" "the operator"
  "$here/cluster.sh" down
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  *) echo "usage: $0 up|down" >&2; exit 2 ;;
esac
