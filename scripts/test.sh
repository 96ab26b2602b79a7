#!/usr/bin/env bash
# Set up everything the tests need on a fresh machine, then run them.
# `.ci/run` calls this same script; the README quotes it.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/pip install --quiet --disable-pip-version-check -e '.[dev]'
# The checkov security scanner lives in its own venv (tests/security runs it).
bash scripts/install-checkov.sh
exec .venv/bin/python -m pytest "$@"
