#!/usr/bin/env bash
# The README's first command: a simulated city day through farebridge, on SQLite (about a minute).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
exec .venv/bin/farebridge demo "$@"
