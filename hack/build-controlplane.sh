#!/usr/bin/env bash
# Build the local control plane (kube-apiserver, kube-controller-manager,
# kube-scheduler, kubectl, etcd, kwok, helm, metrics-server) and the real node's
# kubelet and kube-proxy from the Go module pinned in hack/controlplane/go.mod,
# into a cache outside the repository.
#
# Prints the bin directory on stdout when done (kwok stages are written to
# ../kwok-stages.yaml next to it); everything else goes to stderr.
# The cache key is a hash of go.mod + go.sum, so binaries are rebuilt only when
# the pinned versions change.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
mod="$here/controlplane"

key="$(cat "$mod/go.mod" "$mod/go.sum" | sha256sum | cut -c1-12)"
k8s_version="$(cd "$mod" && go list -m -f '{{.Version}}' k8s.io/kubernetes)"
cache_root="${ECS_FACADE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ecs-facade}"
bin="$cache_root/controlplane-$k8s_version-$key/bin"

# name=package; kube binaries get their version stamped so that clients
# (helm, kubectl) see a real server version instead of v0.0.0-master.
targets=(
  "metrics-server=sigs.k8s.io/metrics-server/cmd/metrics-server"
  "etcd=go.etcd.io/etcd/server/v3"
  "kwok=sigs.k8s.io/kwok/cmd/kwok"
  "kube-apiserver=k8s.io/kubernetes/cmd/kube-apiserver"
  "kube-controller-manager=k8s.io/kubernetes/cmd/kube-controller-manager"
  "kube-scheduler=k8s.io/kubernetes/cmd/kube-scheduler"
  "kubectl=k8s.io/kubernetes/cmd/kubectl"
  # the real node (ECS_FACADE_REAL_NODES=1 hack/cluster.sh up)
  "kubelet=k8s.io/kubernetes/cmd/kubelet"
  "kube-proxy=k8s.io/kubernetes/cmd/kube-proxy"
  "helm=helm.sh/helm/v3/cmd/helm"
)

stages="$(dirname "$bin")/kwok-stages.yaml"

# kwok's controller has no built-in stages: take its default "fast" node and
# pod stages and its resource-usage metrics from the pinned kwok module (the
# ones kwokctl would load) and append ecs-facade's own
# (hack/kwok/ecs-facade-stages.yaml).
write_stages() {
  local src
  src="$(cd "$mod" && go mod download -json sigs.k8s.io/kwok | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')/kustomize/stage"
  {
    for f in node/fast/node-initialize.yaml node/heartbeat-with-lease/node-heartbeat-with-lease.yaml \
             pod/fast/pod-ready.yaml pod/fast/pod-complete.yaml pod/fast/pod-delete.yaml; do
      echo "---"; cat "$src/$f"
    done
    # simulated resource usage for metrics-server: the kubelet resource-metrics endpoint and
    # pod usage from the annotations kwok.x-k8s.io/usage-cpu / usage-memory
    for f in metrics/resource/metrics-resource.yaml metrics/usage/usage-from-annotation.yaml; do
      echo "---"; cat "$src/../$f"
    done
    echo "---"; cat "$here/kwok/ecs-facade-stages.yaml"
  } > "$stages.tmp"
  mv "$stages.tmp" "$stages"
}

missing=()
for t in "${targets[@]}"; do
  [[ -x "$bin/${t%%=*}" ]] || missing+=("$t")
done
if [[ ${#missing[@]} -eq 0 ]]; then
  # cheap, and keeps the project's own stages current when they are edited
  write_stages
  echo "$bin"
  exit 0
fi

minor="${k8s_version#v1.}"; minor="${minor%%.*}"
ldflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ldflags+=" -X $pkg.gitVersion=$k8s_version -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
  ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
done

echo "building control plane $k8s_version into $bin" >&2
echo "the first build takes about 10 minutes on a 2-core machine (module download ~1 min, compile ~9 min);" >&2
echo "later runs reuse the cache and take seconds." >&2
mkdir -p "$bin"
start=$SECONDS
cd "$mod"
echo "[0/${#missing[@]}] downloading modules" >&2
go mod download
i=0
for t in "${missing[@]}"; do
  i=$((i + 1))
  name="${t%%=*}"; pkg="${t#*=}"
  t0=$SECONDS
  echo "[$i/${#missing[@]}] building $name ($pkg), $((SECONDS - start))s elapsed" >&2
  CGO_ENABLED=0 go build -trimpath -ldflags "$ldflags" -o "$bin/$name.tmp" "$pkg"
  mv "$bin/$name.tmp" "$bin/$name"
  echo "[$i/${#missing[@]}] built $name in $((SECONDS - t0))s" >&2
done
write_stages
echo "control plane built in $((SECONDS - start))s" >&2
echo "$bin"
