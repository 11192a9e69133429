#!/usr/bin/env bash
# Lint the Dockerfile with BuildKit's own checks (`docker build --check` rules), built from
# the Go module pinned in hack/dockerfile-lint/ (no Docker, no network: base images are
# not resolved). Exit 1 on a broken rule.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
mod="$here/dockerfile-lint"
key="$(cat "$mod/go.mod" "$mod/go.sum" "$mod/main.go" | sha256sum | cut -c1-12)"
cache_root="${ECS_FACADE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ecs-facade}"
bin="$cache_root/dockerfile-lint-$key"
if [[ ! -x "$bin" ]]; then
  echo "building dockerfile-lint (BuildKit's Dockerfile checks) into $bin" >&2
  mkdir -p "$cache_root"
  (cd "$mod" && CGO_ENABLED=0 go build -trimpath -o "$bin.tmp" .)
  mv "$bin.tmp" "$bin"
fi
exec "$bin" "${@:-$(dirname "$here")/Dockerfile}"
