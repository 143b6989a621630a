#!/usr/bin/env bash
# The README's second command: installs everything, then runs every check
# (lint, format, types, proto lint and drift, the test suite on SQLite and
# PostgreSQL). Any failure makes it exit non-zero.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
export PATH="$PWD/.venv/bin:$PATH"

# hledger is not on PyPI; the export tests run it, so install Debian's
# package where this machine allows it (CI fails those tests without it).
if ! command -v hledger >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1 &&
  [[ "$(id -u)" == "0" ]]; then
  echo "== installing hledger"
  apt-get install -y -q hledger >/dev/null 2>&1 ||
    { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q hledger >/dev/null 2>&1; } ||
    echo "could not install hledger"
fi

packages=(clearing readers wallets simulators protos/farebridge/codecs)

echo "== ruff check"
ruff check .
echo "== ruff format --check"
ruff format --check .
echo "== mypy --strict"
mypy "${packages[@]}" scripts benchmarks
echo "== buf lint"
buf lint protos
echo "== proto drift"
python scripts/generate_protos.py --check
echo "== pytest"
workers="${PYTEST_WORKERS:-auto}"
pytest -n "$workers" "$@"
