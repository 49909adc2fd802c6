#!/usr/bin/env bash
# Installs doohickey with its test extras and runs the whole test suite (lint included).
set -euo pipefail
cd "$(dirname "$0")/.."
python -m pip install -q -e ".[test,tryton]"
python -m ruff check src tests bench
python -m pytest "$@"
