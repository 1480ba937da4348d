#!/usr/bin/env bash
# Creates .venv and installs the project from the hashed lock file (idempotent, quiet when current).
#   bash scripts/setup.sh        # runtime: requirements.lock
#   bash scripts/setup.sh dev    # runtime + tests and linters: requirements-dev.lock
# The lock files are made by scripts/lock.sh from the pins in pyproject.toml.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
extras=${1:-}
lock="requirements${extras:+-$extras}.lock"
if [ ! -f "$lock" ]; then
  echo "setup.sh: no lock file $lock (extras: '' or dev)" >&2
  exit 2
fi
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
stamp=".venv/.installed${extras:+-$extras}"
if [ ! -f "$stamp" ] || [ "$lock" -nt "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  # Every transitive dependency, pip and setuptools included, at its locked version and hash…
  .venv/bin/python -m pip install --quiet --require-hashes -r "$lock"
  # …then the project itself, built with that setuptools and bringing no dependency of its own.
  .venv/bin/python -m pip install --quiet --no-deps --no-build-isolation -e .
  touch "$stamp"
fi
