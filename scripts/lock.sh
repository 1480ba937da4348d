#!/usr/bin/env bash
# Regenerates requirements.lock (runtime) and requirements-dev.lock (runtime + dev) with a hash for
# every file of every transitive dependency. Run after changing a pin in pyproject.toml:
#   bash scripts/lock.sh
# pip-tools runs from a throwaway venv: it is a tool of this script, not of the project.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
tools=$(mktemp -d)
trap 'rm -rf "$tools"' EXIT
"$PYTHON" -m venv "$tools"
"$tools/bin/python" -m pip install --quiet pip-tools==7.6.2
compile=("$tools/bin/pip-compile" --quiet --generate-hashes --allow-unsafe --strip-extras
  --no-emit-index-url --no-emit-find-links)
"${compile[@]}" --output-file requirements.lock pyproject.toml scripts/lock-build.in
# The dev lock is constrained by the runtime lock: both install the very same runtime versions.
"${compile[@]}" --extra dev --constraint requirements.lock --output-file requirements-dev.lock \
  pyproject.toml scripts/lock-build.in
