# The real node of the local cluster (sourced by hack/cluster.sh when ECS_FACADE_REAL_NODES=1):
# containerd v2 (with its runc shim and ctr) built from the pinned hack/tools module
# (hack/build-tools.sh), Debian's runc, a kubelet and kube-proxy built from the pinned module
# set (hack/build-controlplane.sh), a bridge CNI network and the images of hack/images/build.sh.
#
# What it makes is named after the port base (ECS_FACADE_PORT_BASE), so lanes do not share it:
#   node            real-node-0, InternalIP 10.<100+n>.0.1: the gateway address of the pods'
#                   bridge ecsf-<base>-br, made here before the kubelet starts (the kubelet
#                   refuses a loopback node IP; these kernels have no dummy links)
#   pods            10.<100+n>.0.0/24 on that bridge (no masquerade, no default route in the
#                   pods: pods reach each other, the node and ClusterIPs only)
#   cgroups         /sys/fs/cgroup/<controller>/ecs-facade-<base>/ (cgroupfs driver, cgroups v1)
#   files           $dir/containerd (root, state, sockets, network namespaces), the shims'
#                   sockets in /run/ecs-facade-<base>/s (a unix socket path is at most 108
#                   bytes: containerd refuses a socket_dir longer than 42), $dir/kubelet
#                   (the kubelet's root dir), $dir/pod-logs, $dir/cni, $dir/crictl.yaml (crictl's
#                   config for this containerd: `hack/cluster.sh env` exports CRI_CONFIG_FILE)
#   ports           kubelet base+250 (on the node IP), its healthz base+248, kube-proxy
#                   healthz base+256 and metrics base+249 (127.0.0.1)
# with n = base/1000 % 100 + 1. iptables is the host's, though: kube-proxy owns the KUBE-*
# chains of the whole machine, so only one lane at a time may run a real node here (`up`
# refuses while another's chains exist; a network namespace per lane would lift that).
# The node is the one container instance of the ECS cluster `real`
# (ECS_FACADE_REAL_NODE_CLUSTER): labelled ecs.facade.dev/cluster=real and tainted
# ecs.facade.dev/cluster=real:NoSchedule, the taint that dedicates a node to an ECS cluster
# (the operator's tasks of that cluster tolerate it, translate/capacity.py), so only tasks run
# in that cluster land there, never the simulated workloads of the other tests. It is also
# labelled ecs.facade.dev/real-node=true.
#
# `down` stops the node's processes by recorded PID (and the containerd shims: the ones whose
# -address is this lane's containerd socket; then any process left in the pods' cgroups),
# then removes what `up` made, by name: /run/ecs-facade-<base>, mounts under
# $dir, the links, the iptables chains of kube-proxy and the kubelet (KUBE-*), the cgroups,
# the CNI cache entries; and restores the kernel settings the kubelet, kube-proxy and the bridge
# plugin change, as `up` found them.

rn_n=$((base / 1000 % 100 + 1))
rn_node=real-node-0
rn_cluster="${ECS_FACADE_REAL_NODE_CLUSTER:-real}"
rn_cidr="10.$((100 + rn_n)).0.0/24"
rn_ip="10.$((100 + rn_n)).0.1"
rn_bridge="ecsf-$base-br"
rn_net="ecs-facade-$base"
rn_cgroup="ecs-facade-$base"
rn_dir="$dir/real-node"
rn_ctrd="$dir/containerd"
rn_sock="$rn_ctrd/containerd.sock"
rn_crictl_config="$dir/crictl.yaml"
rn_run="/run/ecs-facade-$base"
kubelet_port=$((base + 250))
kubelet_healthz_port=$((base + 248))
proxy_healthz_port=$((base + 256))
proxy_metrics_port=$((base + 249))
# what the kubelet (kernel.panic*, vm.overcommit_memory), the bridge plugin (ip_forward),
# kube-proxy (route_localnet) and this script (bridge-nf-call-iptables) may change
rn_sysctls=(vm.overcommit_memory kernel.panic kernel.panic_on_oops net.ipv4.ip_forward
            net.ipv4.conf.all.route_localnet net.bridge.bridge-nf-call-iptables)
real_components=(containerd kubelet kube-proxy)

# the tools (containerd, its shim, ctr) `up` started containerd from: `down` uses the same ctr
rn_tools() {
  if [[ -z "${_rn_tools:-}" ]]; then
    if [[ -f "$rn_dir/tools" ]]; then _rn_tools="$(cat "$rn_dir/tools")"; else _rn_tools="$(tools_dir)"; fi
  fi
  echo "$_rn_tools"
}
# (without the warning, at every call, that containerd will drop cgroups v1 by 2029)
rn_ctr() { CONTAINERD_SUPPRESS_DEPRECATION_WARNINGS=1 "$(rn_tools)/ctr" --address "$rn_sock" -n k8s.io "$@"; }

real_node_prereqs() {
  local missing=() c
  for c in runc iptables iptables-save conntrack musl-gcc; do
    command -v "$c" >/dev/null || missing+=("$c")
  done
  [[ -x /usr/lib/cni/bridge && -x /usr/lib/cni/host-local ]] || missing+=(cni-plugins)
  [[ -x /bin/busybox ]] || missing+=(busybox-static)
  ((${#missing[@]} == 0)) || die "the real node needs ${missing[*]}: apt-get install runc containernetworking-plugins iptables conntrack musl-tools busybox-static"
  [[ -d /sys/fs/cgroup/memory ]] || die "the real node needs cgroups v1 (cgroupfs)"
}

real_node_pki() {
  cert "node-$rn_node" "system:node:$rn_node" system:nodes
  cert kube-proxy system:kube-proxy ""
  write_kubeconfig "$rn_dir/kubelet.kubeconfig" "node-$rn_node"
  write_kubeconfig "$rn_dir/kube-proxy.kubeconfig" kube-proxy
}

# the host's state before the first `up`: kept until `down` restored it
record_host() {
  [[ -f "$rn_dir/sysctls" ]] && return 0
  local s
  for s in "${rn_sysctls[@]}"; do
    [[ -e "/proc/sys/${s//.//}" ]] && echo "$s=$(sysctl -n "$s")"
  done > "$rn_dir/sysctls.tmp"
  : > "$rn_dir/created.tmp"
  local d
  for d in /run/containerd /var/log/containers /var/lib/cni; do
    [[ -e "$d" ]] || echo "$d" >> "$rn_dir/created.tmp"
  done
  mv "$rn_dir/created.tmp" "$rn_dir/created"
  (nft list tables 2>/dev/null || true) > "$rn_dir/nft-tables"
  mv "$rn_dir/sysctls.tmp" "$rn_dir/sysctls"
}

real_node_network() {
  if ! ip link show "$rn_bridge" >/dev/null 2>&1; then
    ip link add "$rn_bridge" type bridge
    ip addr add "$rn_ip/24" dev "$rn_bridge"
    ip link set "$rn_bridge" up
  fi
  # pod -> ClusterIP -> pod on the same bridge: the reply must pass iptables (kube-proxy's DNAT)
  [[ -e /proc/sys/net/bridge/bridge-nf-call-iptables ]] && sysctl -qw net.bridge.bridge-nf-call-iptables=1
  mkdir -p "$dir/cni/net.d" "$dir/cni/ipam"
  cat > "$dir/cni/net.d/10-$rn_net.conflist" <<EOF
{
  "cniVersion": "0.4.0",
  "name": "$rn_net",
  "plugins": [{
    "type": "bridge", "bridge": "$rn_bridge", "isGateway": true, "ipMasq": false, "hairpinMode": true,
    "ipam": {
      "type": "host-local", "dataDir": "$dir/cni/ipam",
      "ranges": [[{"subnet": "$rn_cidr"}]],
      "routes": [{"dst": "10.96.0.0/16"}]
    }
  }]
}
EOF
}

real_node_cgroups() {
  local c
  for c in /sys/fs/cgroup/*/; do
    [[ "$c" == */unified/ ]] && continue
    mkdir -p "$c$rn_cgroup"
  done
  local cs=/sys/fs/cgroup/cpuset
  if [[ -d "$cs/$rn_cgroup" && -z "$(cat "$cs/$rn_cgroup/cpuset.cpus")" ]]; then
    cat "$cs/cpuset.cpus" > "$cs/$rn_cgroup/cpuset.cpus"
    cat "$cs/cpuset.mems" > "$cs/$rn_cgroup/cpuset.mems"
  fi
}

# crictl (hack/build-tools.sh) talks to this containerd's CRI as the kubelet does:
# CRI_CONFIG_FILE=$dir/crictl.yaml crictl ps -a | pods | logs ID | inspect ID
write_crictl_config() {
  cat > "$rn_crictl_config.tmp" <<EOF
runtime-endpoint: unix://$rn_sock
image-endpoint: unix://$rn_sock
timeout: 10
debug: false
pull-image-on-create: false
disable-pull-on-run: true
EOF
  mv "$rn_crictl_config.tmp" "$rn_crictl_config"
}

# a running component keeps its configuration: kube-proxy exits when its file is rewritten.
# containerd v2's own configuration format (version 4, what `containerd config default` of
# v2.4 prints; an older version is migrated at every start, with a warning).
start_containerd() {
  running containerd && return 0
  local tools
  tools="$(tools_dir)"
  echo "$tools" > "$rn_dir/tools"
  _rn_tools="$tools"
  mkdir -p "$rn_ctrd" "$rn_run"
  cat > "$rn_ctrd/config.toml" <<EOF
version = 4
root = '$rn_ctrd/root'
state = '$rn_ctrd/state'
temp = '$rn_ctrd/tmp'
# nothing of the host's /etc/containerd
imports = []
required_plugins = ['io.containerd.grpc.v1.cri']
# NRI would listen on /var/run/nri; the snapshotters that cannot work here only log noise
disabled_plugins = ['io.containerd.nri.v1.nri', 'io.containerd.snapshotter.v1.btrfs',
                    'io.containerd.snapshotter.v1.zfs', 'io.containerd.snapshotter.v1.devmapper',
                    'io.containerd.snapshotter.v1.blockfile', 'io.containerd.snapshotter.v1.erofs']

[plugins]
  [plugins.'io.containerd.server.v1.grpc']
    address = '$rn_sock'
  [plugins.'io.containerd.server.v1.ttrpc']
    address = '$rn_sock.ttrpc'
  [plugins.'io.containerd.server.v1.debug']
    address = ''
  [plugins.'io.containerd.server.v1.metrics']
    address = ''
  [plugins.'io.containerd.internal.v1.opt']
    path = '$rn_ctrd/opt'
  [plugins.'io.containerd.image-verifier.v1.bindir']
    bin_dir = '$rn_ctrd/image-verifier'
  # the shims' sockets (default /run/containerd/s): a short path, as a unix socket path is short
  [plugins.'io.containerd.shim.v1.manager']
    socket_dir = '$rn_run/s'
  [plugins.'io.containerd.cri.v1.images']
    snapshotter = 'overlayfs'
    [plugins.'io.containerd.cri.v1.images'.pinned_images]
      sandbox = '$rn_pause_image'
  [plugins.'io.containerd.cri.v1.runtime']
    # these machines run as root without CAP_SYS_RESOURCE: runc may not lower oom_score_adj
    restrict_oom_score_adj = true
    # the pods' network namespaces under the state dir, not /var/run/netns
    netns_mounts_under_state_dir = true
    cdi_spec_dirs = []
    [plugins.'io.containerd.cri.v1.runtime'.cni]
      bin_dirs = ['/usr/lib/cni']
      conf_dir = '$dir/cni/net.d'
      max_conf_num = 1
    [plugins.'io.containerd.cri.v1.runtime'.containerd]
      default_runtime_name = 'runc'
      [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc]
        runtime_type = 'io.containerd.runc.v2'
        [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]
          # Debian's runc, from PATH
          SystemdCgroup = false
          Root = '$rn_ctrd/runc'
  [plugins.'io.containerd.grpc.v1.cri']
    stream_server_address = '127.0.0.1'
    stream_server_port = '0'
EOF
  # containerd finds its shim (containerd-shim-runc-v2) on PATH: the built one first
  PATH="$tools:$PATH" start containerd "$tools/containerd" --config "$rn_ctrd/config.toml"
  wait_for containerd 30 rn_ctr version
}

import_images() {
  local ref file
  while read -r ref file; do
    if ! rn_ctr images ls -q | grep -qxF "$ref"; then
      rn_ctr images import "$file" >/dev/null
      log "imported $ref"
    fi
  done < "$rn_dir/images"
}

start_kubelet() {
  running kubelet && return 0
  cat > "$rn_dir/kubelet.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: $rn_ip
port: $kubelet_port
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: $kubelet_healthz_port
# only holders of a certificate of the local CA (the API server, metrics-server) may call it
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: false}
  x509: {clientCAFile: $pki/ca.crt}
authorization: {mode: AlwaysAllow}
containerRuntimeEndpoint: unix://$rn_sock
cgroupDriver: cgroupfs
cgroupRoot: /$rn_cgroup
failCgroupV1: false
failSwapOn: false
podCIDR: $rn_cidr
podLogsDir: $dir/pod-logs
clusterDomain: cluster.local
resolvConf: /etc/resolv.conf
maxPods: 40
serializeImagePulls: false
# the images are imported, never pulled: never collect them
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard: {memory.available: 100Mi, nodefs.available: 1%, imagefs.available: 1%}
registerWithTaints:
- {key: ecs.facade.dev/cluster, value: "$rn_cluster", effect: NoSchedule}
EOF
  start kubelet "$(bin_dir)/kubelet" --config "$rn_dir/kubelet.yaml" \
    --kubeconfig "$rn_dir/kubelet.kubeconfig" --hostname-override "$rn_node" --node-ip "$rn_ip" \
    --node-labels "ecs.facade.dev/cluster=$rn_cluster,ecs.facade.dev/real-node=true,type=real" \
    --root-dir "$dir/kubelet" --cert-dir "$rn_dir/kubelet-pki" \
    --volume-plugin-dir "$dir/kubelet/volume-plugins"
}

start_kube_proxy() {
  running kube-proxy && return 0
  cat > "$rn_dir/kube-proxy.yaml" <<EOF
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection: {kubeconfig: $rn_dir/kube-proxy.kubeconfig}
hostnameOverride: $rn_node
mode: iptables
clusterCIDR: $rn_cidr
healthzBindAddress: 127.0.0.1:$proxy_healthz_port
metricsBindAddress: 127.0.0.1:$proxy_metrics_port
nodePortAddresses: ["$rn_ip/32"]
iptables: {localhostNodePorts: false}
# leave the host's conntrack settings alone
conntrack: {maxPerCore: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s}
EOF
  start kube-proxy "$(bin_dir)/kube-proxy" --config "$rn_dir/kube-proxy.yaml"
}

real_node_ready() {
  [[ "$(kctl get node "$rn_node" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}')" == True ]]
}

real_node_up() {
  real_node_prereqs
  mkdir -p "$rn_dir"
  if ! running kube-proxy && [[ "$(kube_rules | grep -c '^:KUBE-SERVICES' || true)" -gt 0 ]]; then
    die "another kube-proxy's chains (KUBE-SERVICES) are on this machine: only one real node at a time; if none runs, \`kube-proxy --cleanup\` removes them"
  fi
  # from here on the KUBE-* chains are this lane's: `down` removes them
  touch "$rn_dir/iptables"
  record_host
  "$here/images/build.sh" > "$rn_dir/images"
  rn_pause_image="$(awk '$1 ~ /\/pause:/ {print $1}' "$rn_dir/images")"
  real_node_pki
  real_node_network
  real_node_cgroups
  write_crictl_config
  start_containerd
  import_images
  start_kubelet
  start_kube_proxy
  wait_for "the real node $rn_node" 120 real_node_ready
  wait_for kube-proxy 60 curl -sf "http://127.0.0.1:$proxy_healthz_port/healthz"
}

real_node_down() {
  [[ -d "$rn_dir" || -f "$pids/containerd.pid" ]] || return 0
  # the pods go first, while the kubelet still runs: it stops them and tears their network
  # down (CNI DEL) itself
  if running kubelet && running kube-apiserver && running containerd; then
    kctl delete pods --all-namespaces --field-selector "spec.nodeName=$rn_node" \
      --grace-period=0 --force --wait=false >/dev/null 2>&1 || true
    local deadline=$((SECONDS + 10))
    while [[ -n "$(rn_ctr tasks ls -q 2>/dev/null)" ]] && ((SECONDS < deadline)); do sleep 0.5; done
  fi
  stop kube-proxy
  stop kubelet
  if running containerd; then
    local id
    for id in $(rn_ctr tasks ls -q 2>/dev/null); do rn_ctr tasks kill -s SIGKILL "$id" >/dev/null 2>&1 || true; done
    sleep 0.5
    for id in $(rn_ctr tasks ls -q 2>/dev/null); do rn_ctr tasks delete -f "$id" >/dev/null 2>&1 || true; done
    for id in $(rn_ctr containers ls -q 2>/dev/null); do rn_ctr containers delete "$id" >/dev/null 2>&1 || true; done
  fi
  stop containerd
  # shims outlive containerd; containerd v2 records no shim PID, but each of this lane's
  # shims was started with this containerd's socket as its -address
  local pid
  for pid in $(rn_shim_pids); do
    log "stopping containerd shim (pid $pid)"
    kill -9 "$pid" 2>/dev/null || true
  done
  # a container whose shim is gone (containerd died first) still runs in the pods' cgroups:
  # every process left in them is this lane's
  local pids_left
  pids_left="$(rn_cgroup_pids)"
  if [[ -n "$pids_left" ]]; then
    log "killing the processes left in the pods' cgroups: ${pids_left//$'\n'/ }"
    # shellcheck disable=SC2086
    kill -9 $pids_left 2>/dev/null || true
    local deadline=$((SECONDS + 5))
    while ((SECONDS < deadline)) && [[ -n "$(rn_cgroup_pids)" ]]; do sleep 0.2; done
  fi
  # mounts under the cluster folder (pod volumes, the kubelet's root, rootfs overlays, the
  # pods' network namespaces), deepest first
  local m
  for m in $(awk -v d="$dir/" 'index($2, d) == 1 {print $2}' /proc/mounts | sort -r | uniq); do
    umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || log "warning: could not unmount $m"
  done
  rm -rf --one-file-system "$rn_ctrd/state" "$rn_ctrd/tmp" "$dir/cni/ipam" "$rn_ctrd/runc"
  rm -rf --one-file-system "$rn_run"
  # the pods' cgroups, deepest first
  for m in /sys/fs/cgroup/*/"$rn_cgroup"; do
    if [[ -d "$m" ]]; then find "$m" -depth -type d -exec rmdir {} + 2>/dev/null || true; fi
  done
  # kube-proxy's rules (its own --cleanup), then every KUBE-* chain the kubelet made; only
  # when this lane made them (`up` stops before, when another lane's are there)
  if [[ -f "$rn_dir/iptables" ]]; then
    if [[ -x "$(bin_dir)/kube-proxy" && "$(kube_rules | grep -c KUBE || true)" -gt 0 ]]; then
      "$(bin_dir)/kube-proxy" --cleanup >>"$logs/kube-proxy.log" 2>&1 || true
    fi
    remove_kube_chains
    rm -f "$rn_dir/iptables"
  fi
  remove_new_empty_nft_tables
  ip link del "$rn_bridge" 2>/dev/null || true
  rm -f /var/lib/cni/results/"$rn_net"-* 2>/dev/null || true
  # the kubelet's links to the pod logs
  if [[ -d /var/log/containers ]]; then
    find /var/log/containers -maxdepth 1 -type l -lname "$dir/*" -delete 2>/dev/null || true
  fi
  if [[ -f "$rn_dir/created" ]]; then
    local d
    while read -r d; do
      [[ -n "$d" ]] && rm -rf --one-file-system "$d" 2>/dev/null || true
    done < "$rn_dir/created"
  fi
  if [[ -f "$rn_dir/sysctls" ]]; then
    local kv
    while read -r kv; do sysctl -qw "$kv" || log "warning: could not restore $kv"; done < "$rn_dir/sysctls"
    rm -f "$rn_dir/sysctls" "$rn_dir/created" "$rn_dir/nft-tables"
  fi
}

# the PIDs of the runc shims of this lane's containerd: the shim binary, with `-address <this
# lane's containerd socket>` on its command line
rn_shim_pids() {
  local p args
  for p in /proc/[0-9]*; do
    [[ "$(readlink "$p/exe" 2>/dev/null)" == */containerd-shim-runc-v2 ]] || continue
    args="$(tr '\0' ' ' < "$p/cmdline" 2>/dev/null)" || continue
    [[ " $args" == *" -address $rn_sock "* ]] && echo "${p#/proc/}"
  done
  return 0
}

rn_cgroup_pids() {
  local c
  for c in /sys/fs/cgroup/*/"$rn_cgroup"; do
    [[ -d "$c" ]] && find "$c" -name cgroup.procs -exec cat {} + 2>/dev/null
  done | sort -un
  return 0
}

kube_rules() { { iptables-save; ip6tables-save; } 2>/dev/null || true; }

remove_kube_chains() {
  local ipt table chain
  for ipt in iptables ip6tables; do
    command -v "$ipt" >/dev/null || continue
    for table in filter nat mangle; do
      # the rules in the built-in chains that jump to a KUBE-* chain, then the chains
      "$ipt-save" -t "$table" 2>/dev/null | grep -E '^-A [A-Z]+ .*-j KUBE-' | grep -vE '^-A KUBE-' |
        while read -r _ rule; do eval "$ipt -t $table -D $rule" 2>/dev/null || true; done || true
      for chain in $("$ipt-save" -t "$table" 2>/dev/null | sed -n 's/^:\(KUBE-[^ ]*\) .*/\1/p'); do
        "$ipt" -t "$table" -F "$chain" 2>/dev/null || true
      done
      for chain in $("$ipt-save" -t "$table" 2>/dev/null | sed -n 's/^:\(KUBE-[^ ]*\) .*/\1/p'); do
        "$ipt" -t "$table" -X "$chain" 2>/dev/null || true
      done
    done
  done
}

# iptables-nft makes the nftables tables ip/ip6 filter, nat and mangle when the kubelet and
# kube-proxy first add a chain; the ones that were not there before `up` go again once empty
# (no rule left, only built-in chains)
remove_new_empty_nft_tables() {
  command -v nft >/dev/null && [[ -f "$rn_dir/nft-tables" ]] || return 0
  local line
  while read -r line; do
    grep -qxF "$line" "$rn_dir/nft-tables" && continue
    # shellcheck disable=SC2086
    if ! nft list $line 2>/dev/null | grep -vE '^\s*(table .*\{|chain .*\{|type .* hook .*;|\}|)\s*$' | grep -q .; then
      # shellcheck disable=SC2086
      nft delete $line 2>/dev/null || true
    fi
  done < <(nft list tables 2>/dev/null || true)
}
