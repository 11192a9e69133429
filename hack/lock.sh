#!/usr/bin/env bash
# Refresh the lock files from pyproject.toml (`make lock`), with uv's resolver:
#
#   requirements.lock        the operator's dependencies (`[project].dependencies`): the image
#   requirements-dev.lock    the same versions plus the `dev` extra: `make venv`, so CI
#   requirements-build.lock  pip and the build backend (`[build-system].requires`)
#
# Every package pinned with `==` and the sha256 of every file the registry has for that
# version (`pip install --require-hashes` refuses anything else). One resolution for every
# platform and Python >= 3.11 (`--universal`): a package needed only somewhere carries a marker.
#
# Versions already in a lock file are kept (uv prefers them); a dependency added to or removed
# from pyproject.toml, or a range that no longer holds the locked version, changes only what
# it must. `UPGRADE=1 make lock` moves everything to the newest allowed version instead,
# `UPGRADE_PACKAGE=kopf make lock` only that package (and what it needs).
#
# uv is pinned here and installed once into its own venv in the cache, not into the project's.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

UV_VERSION=0.13.9
cache_root="${ECS_FACADE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ecs-facade}"
tool="$cache_root/uv-$UV_VERSION"
if [[ ! -x "$tool/bin/uv" ]]; then
  echo "lock: installing uv $UV_VERSION into $tool" >&2
  rm -rf "$tool"
  "${PYTHON:-python3}" -m venv "$tool"
  "$tool/bin/pip" install --quiet "uv==$UV_VERSION"
fi
uv="$tool/bin/uv"

# the oldest Python the project supports (requires-python); --universal covers the newer ones
opts=(--universal --python-version 3.11 --generate-hashes --quiet)
[[ -n "${UPGRADE:-}" ]] && opts+=(--upgrade)
[[ -n "${UPGRADE_PACKAGE:-}" ]] && opts+=(--upgrade-package "$UPGRADE_PACKAGE")
export UV_CUSTOM_COMPILE_COMMAND="make lock"

"$uv" pip compile pyproject.toml "${opts[@]}" -o requirements.lock
# the runtime lock as constraints: CI tests exactly the versions the image runs
"$uv" pip compile pyproject.toml --extra dev -c requirements.lock "${opts[@]}" -o requirements-dev.lock
"${PYTHON:-python3}" -c '
import tomllib
print("pip")
print("\n".join(tomllib.load(open("pyproject.toml", "rb"))["build-system"]["requires"]))
' | "$uv" pip compile - "${opts[@]}" -o requirements-build.lock

echo "lock: requirements.lock requirements-dev.lock requirements-build.lock written; review \`git diff\`" >&2
