#!/usr/bin/env bash
# Build the developer tools pinned in hack/tools/go.mod (crictl, to inspect the real node's
# containerd through the CRI as the kubelet sees it) into a cache outside the repository.
#
# A module of its own, not hack/controlplane: cri-tools would upgrade dependencies the
# kubelet shares (k8s.io/cri-client, gRPC, OpenTelemetry, protobuf) and change the control
# plane's cache key, so adding a tool would rebuild the whole control plane.
#
# Prints the bin directory on stdout when done; everything else goes to stderr. The cache
# key is a hash of go.mod + go.sum: a tool is rebuilt only when the pinned versions change.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
mod="$here/tools"

key="$(cat "$mod/go.mod" "$mod/go.sum" | sha256sum | cut -c1-12)"
cache_root="${ECS_FACADE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ecs-facade}"
bin="$cache_root/tools-$key/bin"

# name=package=version variable (stamped with the module's version, as upstream's Makefile does)
targets=(
  "crictl=sigs.k8s.io/cri-tools/cmd/crictl=sigs.k8s.io/cri-tools/pkg/version.Version"
)

missing=()
for t in "${targets[@]}"; do
  [[ -x "$bin/${t%%=*}" ]] || missing+=("$t")
done
if [[ ${#missing[@]} -eq 0 ]]; then
  echo "$bin"
  exit 0
fi

echo "building tools into $bin (about a minute on a 2-core machine; later runs reuse the cache)" >&2
mkdir -p "$bin"
start=$SECONDS
cd "$mod"
go mod download
for t in "${missing[@]}"; do
  name="${t%%=*}"; rest="${t#*=}"; pkg="${rest%%=*}"; var="${rest#*=}"
  module="$(go list -f '{{.Module.Path}}' "$pkg")"
  version="$(go list -m -f '{{.Version}}' "$module")"
  t0=$SECONDS
  CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X $var=${version#v}" -o "$bin/$name.tmp" "$pkg"
  mv "$bin/$name.tmp" "$bin/$name"
  echo "built $name $version in $((SECONDS - t0))s" >&2
done
echo "tools built in $((SECONDS - start))s" >&2
echo "$bin"
