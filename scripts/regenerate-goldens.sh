#!/usr/bin/env bash
# Rewrite the golden outputs of every example (templates_out/ for the root infra.yaml,
# tests/fixtures/golden/<name>/ for examples/<name>/infra.yaml) after a compiler change
# you mean to make; then review `git diff -- tests/fixtures/golden templates_out`.
# Arguments: example names to regenerate only those (default: all).
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p tests/fixtures/golden
exec .venv/bin/python -m tests.fixtures.regenerate "$@"
