#!/usr/bin/env bash
# Build the tools pinned in hack/tools/go.mod into a cache outside the repository:
#   - containerd, its runc shim (containerd-shim-runc-v2) and ctr (containerd v2): the real
#     node's container runtime (hack/real-node.sh). Debian's containerd is 1.6, older than
#     Kubernetes 1.37 supports; built from the pinned module instead, like the control plane.
#   - crictl, to inspect the real node's containerd through the CRI as the kubelet sees it.
#
# A module of its own, not hack/controlplane: cri-tools and containerd would upgrade
# dependencies the kubelet shares (k8s.io/cri-client, gRPC, OpenTelemetry, protobuf) and
# change the control plane's cache key, so adding a tool would rebuild the whole control plane.
#
# Prints the bin directory on stdout when done; everything else goes to stderr. The cache
# key is a hash of go.mod + go.sum and the build flags below: a tool is rebuilt only when
# they change.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
mod="$here/tools"

# name|package|-ldflags (@VERSION@ = the module's version)|build tags
# All static and without cgo (no C toolchain needed). containerd's own Makefile builds the
# shim with the tag no_grpc (the shim speaks ttrpc only) and every binary with
# urfave_cli_no_docs; its version variables are stamped as that Makefile stamps them.
ctrd=github.com/containerd/containerd/v2
ctrd_ld="-X $ctrd/version.Version=@VERSION@ -X $ctrd/version.Package=$ctrd"
targets=(
  "containerd|$ctrd/cmd/containerd|$ctrd_ld|urfave_cli_no_docs"
  "containerd-shim-runc-v2|$ctrd/cmd/containerd-shim-runc-v2|$ctrd_ld|urfave_cli_no_docs no_grpc"
  "ctr|$ctrd/cmd/ctr|$ctrd_ld|urfave_cli_no_docs"
  "crictl|sigs.k8s.io/cri-tools/cmd/crictl|-X sigs.k8s.io/cri-tools/pkg/version.Version=@VERSION_NO_V@|"
)

key="$({ cat "$mod/go.mod" "$mod/go.sum"; printf '%s\n' "${targets[@]}"; } | sha256sum | cut -c1-12)"
cache_root="${ECS_FACADE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ecs-facade}"
bin="$cache_root/tools-$key/bin"

missing=()
for t in "${targets[@]}"; do
  [[ -x "$bin/${t%%|*}" ]] || missing+=("$t")
done
if [[ ${#missing[@]} -eq 0 ]]; then
  echo "$bin"
  exit 0
fi

echo "building tools into $bin (about 2 minutes on a 2-core machine; later runs reuse the cache)" >&2
mkdir -p "$bin"
start=$SECONDS
cd "$mod"
go mod download
for t in "${missing[@]}"; do
  IFS='|' read -r name pkg ldflags tags <<<"$t"
  module="$(go list -f '{{.Module.Path}}' "$pkg")"
  version="$(go list -m -f '{{.Version}}' "$module")"
  ldflags="${ldflags//@VERSION_NO_V@/${version#v}}"
  ldflags="${ldflags//@VERSION@/$version}"
  t0=$SECONDS
  CGO_ENABLED=0 go build -trimpath -tags "$tags" -ldflags "-s -w $ldflags" -o "$bin/$name.tmp" "$pkg"
  mv "$bin/$name.tmp" "$bin/$name"
  echo "built $name $version in $((SECONDS - t0))s" >&2
done
echo "tools built in $((SECONDS - start))s" >&2
echo "$bin"
