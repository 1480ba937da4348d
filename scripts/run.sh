#!/usr/bin/env bash
# Sets up and runs the bot. Without BOT_TOKEN it starts the local sandbox at http://127.0.0.1:8080.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/python -m bot "$@"
