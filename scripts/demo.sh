#!/usr/bin/env bash
# The README's first command: a whole small city through farebridge, on SQLite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
exec .venv/bin/farebridge demo "$@"
