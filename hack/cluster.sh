#!/usr/bin/env bash
# A local Kubernetes control plane without containers: etcd, kube-apiserver,
# kube-controller-manager and kube-scheduler built from the real Kubernetes
# code (hack/build-controlplane.sh), with kwok simulating nodes and pods, and
# metrics-server serving the resource metrics API (the pods' CPU and memory, which
# kwok simulates from the pod annotations kwok.x-k8s.io/usage-cpu and usage-memory)
# so that HorizontalPodAutoscalers scale.
#
#   hack/cluster.sh up       start (idempotent); waits for healthy API and Ready nodes
#   hack/cluster.sh down     stop every process this script started, by PID
#   hack/cluster.sh status   what runs, and the nodes
#   hack/cluster.sh env      print `export KUBECONFIG=... PATH=...` for eval (with a real node
#                            also crictl on PATH and CRI_CONFIG_FILE for its containerd)
#   hack/cluster.sh stop etcd|kube-apiserver [--kill]
#                            stop that one component (SIGTERM and wait for it to exit, as
#                            `down` does; --kill: SIGKILL), the rest left running: the
#                            fault-injection tests restart the control plane under the operator
#   hack/cluster.sh start etcd|kube-apiserver
#                            start it again, with the flags `up` gives it, and wait until it
#                            is healthy (the API server: ready); `down` stops it by its PID file
#
# Settings (environment):
#   ECS_FACADE_CLUSTER_DIR   state: certs, etcd data, kubeconfig, logs, pids
#                            (default: <repo>/.cluster)
#   ECS_FACADE_PORT_BASE     ports used are base+379/380 (etcd), base+443
#                            (apiserver), base+257 (controller-manager),
#                            base+259 (scheduler), base+247 (kwok, HTTPS: the
#                            simulated kubelets), base+251 (metrics-server);
#                            default 16000
#   ECS_FACADE_NODES         simulated nodes to create (default 3)
#   ECS_FACADE_NODE_ZONES    zones the nodes are spread over (default
#                            us-east-1a,us-east-1b,us-east-1c)
#   ECS_FACADE_NODE_TYPE     node.kubernetes.io/instance-type (default m5.xlarge)
#   ECS_FACADE_NODE_CPU      CPUs per node (default 4)
#   ECS_FACADE_NODE_MEMORY   memory per node (default 16Gi)
#   ECS_FACADE_AUDIT_USER    write an audit log (logs/audit.log, JSON lines, metadata only)
#                            of this user's requests, e.g. the operator's ServiceAccount
#                            (the benchmark counts the operator's writes from it)
#   ECS_FACADE_AUDIT_GROUP   also (or only) of this group's users, e.g. the ServiceAccounts of
#                            one namespace, system:serviceaccounts:NS (the e2e suite's
#                            fault-injection tests count each operator replica's writes)
#   ECS_FACADE_PROFILING     true: the API server and the controller-manager serve
#                            /debug/pprof (to see where their CPU goes under a benchmark)
#   ECS_FACADE_REAL_NODES    1: also a real node (containerd, kubelet, kube-proxy; real
#                            containers): hack/real-node.sh. Ports base+248/249/250/256.
#                            Needs root and Debian's runc, containernetworking-plugins,
#                            iptables, conntrack, musl-tools and busybox-static (containerd
#                            is built: hack/build-tools.sh). `down` stops and removes it in
#                            any case.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(dirname "$here")"
dir="${ECS_FACADE_CLUSTER_DIR:-$repo/.cluster}"
base="${ECS_FACADE_PORT_BASE:-16000}"
nodes="${ECS_FACADE_NODES:-3}"
zones="${ECS_FACADE_NODE_ZONES:-us-east-1a,us-east-1b,us-east-1c}"
node_type="${ECS_FACADE_NODE_TYPE:-m5.xlarge}"
node_cpu="${ECS_FACADE_NODE_CPU:-4}"
node_memory="${ECS_FACADE_NODE_MEMORY:-16Gi}"
audit_user="${ECS_FACADE_AUDIT_USER:-}"
audit_group="${ECS_FACADE_AUDIT_GROUP:-}"
profiling="${ECS_FACADE_PROFILING:-false}"
real_nodes="${ECS_FACADE_REAL_NODES:-0}"

etcd_port=$((base + 379))
etcd_peer_port=$((base + 380))
api_port=$((base + 443))
kcm_port=$((base + 257))
sched_port=$((base + 259))
kwok_port=$((base + 247))
metrics_port=$((base + 251))

pki="$dir/pki"
logs="$dir/logs"
pids="$dir/pids"
kubeconfig="$dir/kubeconfig"
components=(etcd kube-apiserver kube-controller-manager kube-scheduler kwok metrics-server)
# shellcheck source=hack/real-node.sh
source "$here/real-node.sh"
if [[ "$real_nodes" == 1 ]]; then components+=("${real_components[@]}"); fi

log() { echo "cluster: $*" >&2; }
die() { log "error: $*"; exit 1; }

bin_dir() {
  if [[ -z "${_bin:-}" ]]; then
    _bin="$("$here/build-controlplane.sh")"
  fi
  echo "$_bin"
}

# crictl and the other pinned tools of hack/tools (hack/build-tools.sh)
tools_dir() { "$here/build-tools.sh"; }

# the control plane's bin dir stays first on PATH: tests/e2e/conftest.py and hack/bench read it
env_exports() {
  local cp_bin tools
  cp_bin="$(bin_dir)"
  if [[ "$real_nodes" == 1 || -f "$rn_crictl_config" ]]; then
    tools="$(tools_dir)"
    echo "export KUBECONFIG=$kubeconfig PATH=$cp_bin:$tools:\$PATH CRI_CONFIG_FILE=$rn_crictl_config"
  else
    echo "export KUBECONFIG=$kubeconfig PATH=$cp_bin:\$PATH"
  fi
}

running() { # component -> 0 when its recorded PID is alive
  local f="$pids/$1.pid"
  [[ -f "$f" ]] && kill -0 "$(cat "$f")" 2>/dev/null
}

# --- certificates -----------------------------------------------------------

cert() { # name cn org [server] [ca]
  local name=$1 cn=$2 org=$3 server=${4:-} ca=${5:-ca}
  [[ -f "$pki/$name.crt" ]] && return 0
  openssl ecparam -name prime256v1 -genkey -noout -out "$pki/$name.key" 2>/dev/null
  local subj="/CN=$cn"
  [[ -n "$org" ]] && subj="/O=$org$subj"
  openssl req -new -key "$pki/$name.key" -subj "$subj" -out "$pki/$name.csr" 2>/dev/null
  local ext="$pki/$name.ext"
  if [[ -n "$server" ]]; then
    cat > "$ext" <<EOF
basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth,clientAuth
subjectAltName=DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local,IP:127.0.0.1,IP:10.96.0.1
EOF
  else
    cat > "$ext" <<EOF
basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=clientAuth
EOF
  fi
  openssl x509 -req -in "$pki/$name.csr" -CA "$pki/$ca.crt" -CAkey "$pki/$ca.key" -CAcreateserial \
    -days 3650 -sha256 -extfile "$ext" -out "$pki/$name.crt" 2>/dev/null
  rm -f "$pki/$name.csr" "$ext"
}

ca() { # name cn
  local name=$1 cn=$2
  [[ -f "$pki/$name.crt" ]] && return 0
  openssl ecparam -name prime256v1 -genkey -noout -out "$pki/$name.key" 2>/dev/null
  openssl req -x509 -new -key "$pki/$name.key" -subj "/CN=$cn" -days 3650 -sha256 \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature" \
    -out "$pki/$name.crt" 2>/dev/null
}

make_pki() {
  mkdir -p "$pki"
  ca ca ecs-facade-local-ca
  # the aggregation layer's own CA, as kubeadm keeps it: the API server proxies requests
  # for metrics.k8s.io to metrics-server with this client certificate
  ca front-proxy-ca ecs-facade-front-proxy-ca
  cert front-proxy-client front-proxy-client "" "" front-proxy-ca
  cert apiserver kube-apiserver "" server
  cert kwok kwok "" server
  # the API server's identity towards kubelets (logs, exec, port-forward)
  cert apiserver-kubelet-client kube-apiserver-kubelet-client system:masters
  cert admin admin system:masters
  cert controller-manager system:kube-controller-manager ""
  cert scheduler system:kube-scheduler ""
  if [[ ! -f "$pki/sa.key" ]]; then
    openssl genrsa -out "$pki/sa.key" 2048 2>/dev/null
    openssl rsa -in "$pki/sa.key" -pubout -out "$pki/sa.pub" 2>/dev/null
  fi
}

write_kubeconfig() { # file user
  local file=$1 user=$2
  cat > "$file" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: ecs-facade-local
  cluster:
    server: https://127.0.0.1:$api_port
    certificate-authority: $pki/ca.crt
users:
- name: $user
  user:
    client-certificate: $pki/$user.crt
    client-key: $pki/$user.key
contexts:
- name: ecs-facade-local
  context: {cluster: ecs-facade-local, user: $user}
current-context: ecs-facade-local
EOF
}

# --- processes ---------------------------------------------------------------

start() { # component args...
  local name=$1; shift
  if running "$name"; then
    return 0
  fi
  log "starting $name (log: $logs/$name.log)"
  # setsid: the component outlives this script and is not hit by a ^C meant for it
  setsid "$@" >>"$logs/$name.log" 2>&1 < /dev/null &
  echo $! > "$pids/$name.pid"
}

stop() { # component [signal]: SIGTERM (or signal) to its recorded PID, SIGKILL after 20 s
  local f="$pids/$1.pid" pid signal=${2:-TERM}
  [[ -f "$f" ]] || return 0
  pid="$(cat "$f")"
  if kill -0 "$pid" 2>/dev/null; then
    log "stopping $1 (pid $pid, SIG$signal)"
    kill -s "$signal" "$pid" 2>/dev/null || true
    local deadline=$((SECONDS + 20))
    while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.2; done
    if kill -0 "$pid" 2>/dev/null; then
      log "$1 (pid $pid) still running after 20 s: SIGKILL"
      kill -9 "$pid" 2>/dev/null || true
    fi
  fi
  rm -f "$f"
}

wait_for() { # description seconds command...  (fails fast when a component died)
  local what=$1 limit=$2; shift 2
  local deadline=$((SECONDS + limit)) name
  until "$@" >/dev/null 2>&1; do
    for name in "${components[@]}"; do
      if [[ -f "$pids/$name.pid" ]] && ! running "$name"; then
        tail -n 5 "$logs/$name.log" >&2 || true
        rm -f "$pids/$name.pid"
        die "$name exited while waiting for $what; full log: $logs/$name.log"
      fi
    done
    if ((SECONDS >= deadline)); then
      die "$what not ready after ${limit}s; see $logs/"
    fi
    sleep 0.5
  done
}

kctl() { "$(bin_dir)/kubectl" --kubeconfig "$kubeconfig" "$@"; }

apiserver_ready() { kctl get --raw /readyz; }

nodes_ready() {
  local ready
  ready="$(kctl get nodes -l type=kwok -o jsonpath='{range .items[*]}{.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}' | grep -c True || true)"
  [[ "$ready" -ge "$nodes" ]]
}

create_nodes() {
  local IFS=','; local zone_list=($zones); unset IFS
  local i manifest=""
  for ((i = 0; i < nodes; i++)); do
    local zone="${zone_list[$((i % ${#zone_list[@]}))]}"
    manifest+="---
apiVersion: v1
kind: Node
metadata:
  name: kwok-node-$i
  annotations:
    kwok.x-k8s.io/node: fake
    node.alpha.kubernetes.io/ttl: \"0\"
    metrics.k8s.io/resource-metrics-path: /metrics/nodes/kwok-node-$i/metrics/resource
  labels:
    type: kwok
    kubernetes.io/hostname: kwok-node-$i
    kubernetes.io/os: linux
    kubernetes.io/arch: amd64
    node.kubernetes.io/instance-type: $node_type
    topology.kubernetes.io/zone: $zone
    topology.kubernetes.io/region: ${zone%?}
status:
  allocatable: {cpu: \"$node_cpu\", memory: $node_memory, pods: \"110\"}
  capacity: {cpu: \"$node_cpu\", memory: $node_memory, pods: \"110\"}
  nodeInfo: {architecture: amd64, operatingSystem: linux, kubeletVersion: fake, kubeProxyVersion: fake}
  # what a 1.36+ kubelet declares: the scheduler places pods with RestartAllContainers rules
  # (a service's essential containers, translate/lifecycle.py) only on nodes that declare it
  declaredFeatures: [RestartAllContainersOnContainerExits]
"
  done
  # create only what is missing: `up` must not reset nodes that tests labelled
  printf '%s' "$manifest" | kctl create -f - 2>&1 | grep -v AlreadyExists >&2 || true
}

# The resource metrics API (metrics.k8s.io) served by metrics-server through the API
# server's aggregation layer; an ExternalName Service is how an APIService reaches a
# process on the host (there is no kube-proxy here).
register_metrics_api() {
  kctl apply -f - >/dev/null <<EOF
apiVersion: v1
kind: Service
metadata: {name: metrics-server, namespace: kube-system}
spec:
  type: ExternalName
  externalName: 127.0.0.1
  ports: [{name: https, port: $metrics_port, protocol: TCP}]
---
apiVersion: apiregistration.k8s.io/v1
kind: APIService
metadata: {name: v1beta1.metrics.k8s.io}
spec:
  group: metrics.k8s.io
  version: v1beta1
  groupPriorityMinimum: 100
  versionPriority: 100
  insecureSkipTLSVerify: true
  service: {name: metrics-server, namespace: kube-system, port: $metrics_port}
EOF
}

metrics_api_available() {
  [[ "$(kctl get apiservice v1beta1.metrics.k8s.io -o jsonpath='{.status.conditions[?(@.type=="Available")].status}')" == True ]]
}

# etcd and the API server: `up` starts them, and `start` again after a `stop` (same flags)
start_etcd() {
  local bin; bin="$(bin_dir)"
  start etcd "$bin/etcd" --name local --data-dir "$dir/etcd" \
    --listen-client-urls "http://127.0.0.1:$etcd_port" --advertise-client-urls "http://127.0.0.1:$etcd_port" \
    --listen-peer-urls "http://127.0.0.1:$etcd_peer_port" --initial-advertise-peer-urls "http://127.0.0.1:$etcd_peer_port" \
    --initial-cluster "local=http://127.0.0.1:$etcd_peer_port" \
    --listen-metrics-urls "" --quota-backend-bytes 8589934592 --unsafe-no-fsync
  wait_for etcd 60 curl -sf "http://127.0.0.1:$etcd_port/health"
}

start_apiserver() {
  local bin; bin="$(bin_dir)"
  local audit=()
  if [[ -n "$audit_user" || -n "$audit_group" ]]; then
    {
      printf 'apiVersion: audit.k8s.io/v1\nkind: Policy\nomitStages: [RequestReceived]\nrules:\n'
      if [[ -n "$audit_user" ]]; then printf -- '- level: Metadata\n  users: ["%s"]\n' "$audit_user"; fi
      if [[ -n "$audit_group" ]]; then printf -- '- level: Metadata\n  userGroups: ["%s"]\n' "$audit_group"; fi
      printf -- '- level: None\n'
    } > "$dir/audit-policy.yaml"
    audit=(--audit-policy-file "$dir/audit-policy.yaml" --audit-log-path "$logs/audit.log"
           --audit-log-format json --audit-log-mode blocking)
  fi

  start kube-apiserver "$bin/kube-apiserver" \
    --etcd-servers "http://127.0.0.1:$etcd_port" \
    --bind-address 127.0.0.1 --advertise-address 127.0.0.1 --secure-port "$api_port" \
    --tls-cert-file "$pki/apiserver.crt" --tls-private-key-file "$pki/apiserver.key" \
    --client-ca-file "$pki/ca.crt" \
    --service-account-issuer https://kubernetes.default.svc \
    --service-account-key-file "$pki/sa.pub" --service-account-signing-key-file "$pki/sa.key" \
    --service-cluster-ip-range 10.96.0.0/16 --endpoint-reconciler-type none \
    --authorization-mode Node,RBAC --allow-privileged \
    --kubelet-client-certificate "$pki/apiserver-kubelet-client.crt" --kubelet-client-key "$pki/apiserver-kubelet-client.key" \
    --kubelet-preferred-address-types InternalIP \
    --requestheader-client-ca-file "$pki/front-proxy-ca.crt" --requestheader-allowed-names front-proxy-client \
    --requestheader-username-headers X-Remote-User --requestheader-group-headers X-Remote-Group \
    --requestheader-extra-headers-prefix X-Remote-Extra- \
    --proxy-client-cert-file "$pki/front-proxy-client.crt" --proxy-client-key-file "$pki/front-proxy-client.key" \
    --max-requests-inflight 1000 --max-mutating-requests-inflight 500 \
    --profiling="$profiling" ${audit[@]+"${audit[@]}"}
  wait_for kube-apiserver 120 apiserver_ready
}

up() {
  command -v openssl >/dev/null || die "openssl is required (apt-get install openssl)"
  local bin; bin="$(bin_dir)"
  mkdir -p "$dir" "$logs" "$pids" "$dir/etcd"
  make_pki
  write_kubeconfig "$kubeconfig" admin
  write_kubeconfig "$dir/controller-manager.kubeconfig" controller-manager
  write_kubeconfig "$dir/scheduler.kubeconfig" scheduler
  cat > "$dir/scheduler.yaml" <<EOF
apiVersion: kubescheduler.config.k8s.io/v1
kind: KubeSchedulerConfiguration
clientConnection:
  kubeconfig: $dir/scheduler.kubeconfig
  qps: 500
  burst: 1000
leaderElection:
  leaderElect: false
profiles:
# the default profile, unchanged
- schedulerName: default-scheduler
# ECS binpack placement strategy (docs/placement.md); the same profile as
# hack/scheduler/ecs-facade-binpack.yaml
- schedulerName: ecs-facade-binpack
  plugins:
    score:
      disabled:
      - name: NodeResourcesBalancedAllocation
  pluginConfig:
  - name: NodeResourcesFit
    args:
      scoringStrategy:
        type: MostAllocated
        resources:
        - {name: cpu, weight: 1}
        - {name: memory, weight: 1}
  - name: PodTopologySpread
    args:
      defaultingType: List
EOF
  local stages; stages="$(dirname "$bin")/kwok-stages.yaml"
  start_etcd
  start_apiserver

  start kube-controller-manager "$bin/kube-controller-manager" \
    --kubeconfig "$dir/controller-manager.kubeconfig" \
    --authentication-kubeconfig "$dir/controller-manager.kubeconfig" \
    --authorization-kubeconfig "$dir/controller-manager.kubeconfig" \
    --bind-address 127.0.0.1 --secure-port "$kcm_port" \
    --leader-elect=false --use-service-account-credentials=true \
    --service-account-private-key-file "$pki/sa.key" --root-ca-file "$pki/ca.crt" \
    --cluster-signing-cert-file "$pki/ca.crt" --cluster-signing-key-file "$pki/ca.key" \
    --kube-api-qps 500 --kube-api-burst 1000 \
    --concurrent-deployment-syncs 20 --concurrent-replicaset-syncs 20 --concurrent-gc-syncs 50 \
    --horizontal-pod-autoscaler-sync-period 5s \
    --profiling="$profiling"

  start kube-scheduler "$bin/kube-scheduler" --config "$dir/scheduler.yaml" \
    --authentication-kubeconfig "$dir/scheduler.kubeconfig" \
    --authorization-kubeconfig "$dir/scheduler.kubeconfig" \
    --bind-address 127.0.0.1 --secure-port "$sched_port" --profiling=false

  start kwok "$bin/kwok" --kubeconfig "$kubeconfig" --config "$stages" \
    --manage-all-nodes=false --manage-nodes-with-annotation-selector kwok.x-k8s.io/node=fake \
    --node-lease-duration-seconds 40 --cidr 10.244.0.1/16 \
    --node-ip 127.0.0.1 --node-port "$kwok_port" --server-address "127.0.0.1:$kwok_port" \
    --tls-cert-file "$pki/kwok.crt" --tls-private-key-file "$pki/kwok.key"

  # metrics-server scrapes the simulated kubelets (kwok, at each node's InternalIP and
  # kubelet port, path from the node annotation metrics.k8s.io/resource-metrics-path)
  start metrics-server "$bin/metrics-server" \
    --kubeconfig "$kubeconfig" --authentication-kubeconfig "$kubeconfig" --authorization-kubeconfig "$kubeconfig" \
    --bind-address 127.0.0.1 --secure-port "$metrics_port" --cert-dir "$dir/metrics-server" \
    --kubelet-preferred-address-types InternalIP --kubelet-use-node-status-port --kubelet-insecure-tls \
    --metric-resolution 10s --kubelet-request-timeout 5s
  register_metrics_api

  wait_for kube-controller-manager 60 curl -sfk "https://127.0.0.1:$kcm_port/healthz"
  wait_for kube-scheduler 60 curl -sfk "https://127.0.0.1:$sched_port/healthz"
  create_nodes
  wait_for "$nodes simulated nodes" 120 nodes_ready
  if [[ "$real_nodes" == 1 ]]; then real_node_up; fi
  wait_for "the resource metrics API" 60 metrics_api_available
  # the controller-manager creates the default service account; pods need it
  wait_for "default service account" 60 kctl get serviceaccount default -n default
  log "up: $(kctl get nodes --no-headers | wc -l) nodes Ready, API at https://127.0.0.1:$api_port"
  log "use it: eval \"\$($0 env)\"; stop it: $0 down"
}

down() {
  local i
  real_node_down
  for ((i = ${#components[@]} - 1; i >= 0; i--)); do
    stop "${components[$i]}"
  done
  if [[ "${1:-}" == "--purge" ]]; then
    rm -rf "$dir"
    log "removed $dir"
  fi
}

status() {
  local name rc=0
  for name in "${components[@]}"; do
    if running "$name"; then echo "$name: running (pid $(cat "$pids/$name.pid"))"; else echo "$name: stopped"; rc=1; fi
  done
  if [[ $rc -eq 0 ]]; then kctl get nodes -L topology.kubernetes.io/zone,node.kubernetes.io/instance-type; fi
  return $rc
}

# one component stopped and started again under a running cluster (the fault-injection tests)
restartable() { # component -> the function that starts it, or an error
  case "$1" in
    etcd) echo start_etcd ;;
    kube-apiserver) echo start_apiserver ;;
    *) die "stop|start: only etcd or kube-apiserver, not '$1'" ;;
  esac
}

case "${1:-}" in
  up) up ;;
  down) shift; down "$@" ;;
  status) status ;;
  env) env_exports ;;
  stop) restartable "${2:-}" >/dev/null; stop "$2" "$([[ "${3:-}" == --kill ]] && echo KILL || echo TERM)" ;;
  start) starter="$(restartable "${2:-}")"; mkdir -p "$logs" "$pids"; "$starter" ;;
  *) echo "usage: $0 up|down [--purge]|status|env|stop etcd|kube-apiserver [--kill]|start etcd|kube-apiserver" >&2; exit 2 ;;
esac
