#!/usr/bin/env bash
# The aws CLI (v1, from the Python registry) in a virtual environment of its own: its botocore
# pin is not the project's, so it cannot share .venv. Installed once, kept while the version
# matches; prints the path of `aws` on stdout, everything else goes to stderr.
#
# Settings (environment): AWSCLI_VENV (default <repo>/.venv-awscli), PYTHON (default python3).
# Used by the e2e suite's ECS API tests (tests/e2e/ecs_api.py) and by .ci/run.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(dirname "$here")"
version="1.46.2"
venv="${AWSCLI_VENV:-$repo/.venv-awscli}"
python="${PYTHON:-python3}"

installed() { [[ -x "$venv/bin/aws" ]] && "$venv/bin/aws" --version 2>&1 | grep -q "^aws-cli/$version "; }

if ! installed; then
  mkdir -p "$(dirname "$venv")"
  exec 9>"$venv.lock"
  flock 9  # two e2e sessions at once install it once
  if ! installed; then
    echo "awscli: installing aws-cli $version into $venv" >&2
    rm -rf "$venv"
    "$python" -m venv "$venv" >&2
    "$venv/bin/pip" install --quiet --disable-pip-version-check "awscli==$version" >&2
    installed || { echo "awscli: $venv/bin/aws is not aws-cli $version" >&2; exit 1; }
  fi
fi
echo "$venv/bin/aws"
