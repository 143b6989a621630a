#!/usr/bin/env bash
# The README's second command: installs everything, then runs every check
# (lint, format, types, proto lint and drift, the test suite on SQLite and
# PostgreSQL). Any failure makes it exit non-zero.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
export PATH="$PWD/.venv/bin:$PATH"

packages=(clearing readers wallets simulators protos/farebridge/codecs)

echo "== ruff check"
ruff check .
echo "== ruff format --check"
ruff format --check .
echo "== mypy --strict"
mypy "${packages[@]}" scripts
echo "== buf lint"
buf lint protos
echo "== proto drift"
python scripts/generate_protos.py --check
echo "== pytest"
workers="${PYTEST_WORKERS:-auto}"
pytest -n "$workers" "$@"
