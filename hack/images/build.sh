#!/usr/bin/env bash
# Container images for the real node, made without any registry: the sandbox (pause) image
# compiled from Kubernetes' own build/pause/linux/pause.c (the pinned k8s.io/kubernetes
# module of hack/controlplane/go.mod) with musl, statically; and a busybox test image from
# Debian's busybox-static. Each is written as a docker-archive tarball (what
# `ctr images import` reads), with fixed timestamps and owners, so the same inputs give the
# same image digest.
#
# Cached in ${ECS_FACADE_CACHE:-~/.cache/ecs-facade}/images-<hash of inputs>/; prints one
# line per image on stdout: `<reference> <tarball>`. Requirements: go, musl-gcc
# (musl-tools), busybox-static, python3.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
mod="$here/../controlplane"
cache_root="${ECS_FACADE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ecs-facade}"

# image names: a reserved top-level domain (.test), so a name can never reach a registry
prefix="ecs-facade.test"

k8s_dir="$(cd "$mod" && go mod download -json k8s.io/kubernetes | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')"
pause_src="$k8s_dir/build/pause/linux/pause.c"
pause_tag="$(sed -n 's/^TAG ?= *//p' "$k8s_dir/build/pause/Makefile")"
[[ -f "$pause_src" && -n "$pause_tag" ]] || { echo "images: no pause.c in $k8s_dir" >&2; exit 1; }
command -v musl-gcc >/dev/null || { echo "images: musl-gcc is required (apt-get install musl-tools)" >&2; exit 1; }
busybox=/bin/busybox
[[ -x "$busybox" && "$(ldd "$busybox" 2>&1 || true)" == *"not a dynamic"* ]] || { echo "images: a static $busybox is required (apt-get install busybox-static)" >&2; exit 1; }
busybox_version="$(dpkg-query -W -f '${Version}' busybox-static 2>/dev/null || "$busybox" | head -1 | awk '{print $2}')"
busybox_tag="$(echo "$busybox_version" | sed 's/^[0-9]*://; s/[^A-Za-z0-9_.-]/_/g')"

key="$(cat "$0" "$pause_src" "$busybox" | sha256sum | cut -c1-12)"
out="$cache_root/images-$key"
pause_ref="$prefix/pause:$pause_tag"
busybox_ref="$prefix/busybox:$busybox_tag"

if [[ ! -f "$out/done" ]]; then
  start=$SECONDS
  work="$(mktemp -d)"
  trap 'rm -rf "$work"' EXIT
  # the sandbox image: /pause only, as Kubernetes' own Dockerfile makes it
  mkdir -p "$work/pause"
  musl-gcc -Os -Wall -Werror -static -DVERSION="v$pause_tag-ecs-facade" -o "$work/pause/pause" "$pause_src"
  strip "$work/pause/pause"
  # busybox: the static binary, one link per applet, a passwd/group with root and nobody
  mkdir -p "$work/busybox/bin" "$work/busybox/etc" "$work/busybox/tmp" "$work/busybox/root"
  chmod 1777 "$work/busybox/tmp"
  cp "$busybox" "$work/busybox/bin/busybox"
  for applet in $("$busybox" --list); do
    [[ "$applet" == busybox ]] || ln -sf busybox "$work/busybox/bin/$applet"
  done
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' > "$work/busybox/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' > "$work/busybox/etc/group"
  mkdir -p "$out.tmp"
  python3 "$here/archive.py" "$work/pause" "$pause_ref" '{"Entrypoint": ["/pause"]}' "$out.tmp/pause.tar"
  python3 "$here/archive.py" "$work/busybox" "$busybox_ref" \
    '{"Cmd": ["sh"], "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]}' "$out.tmp/busybox.tar"
  printf '%s\n' "$pause_ref pause.tar" "$busybox_ref busybox.tar" > "$out.tmp/images"
  touch "$out.tmp/done"
  rm -rf "$out"; mv "$out.tmp" "$out"
  echo "images: built in $((SECONDS - start))s into $out" >&2
fi
while read -r ref file; do echo "$ref $out/$file"; done < "$out/images"
