#!/usr/bin/env bash
# Set up everything the tests need on a fresh machine, then run them.
# `.ci/run` calls this same script; the README quotes it.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/pip install --quiet --disable-pip-version-check -e '.[dev]'
# The checkov security scanner lives in its own venv (tests/security runs it).
bash scripts/install-checkov.sh
# Graphviz `dot` draws `infra graph --format svg`; without it those tests skip, so this is
# best effort: a machine without apt, root or the network still runs everything else.
if ! command -v dot >/dev/null && command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
  { timeout 300 apt-get install -y -qq graphviz >/dev/null 2>&1 ||
    { timeout 300 apt-get update -qq >/dev/null 2>&1 &&
      timeout 300 apt-get install -y -qq graphviz >/dev/null 2>&1; }; } ||
    echo "scripts/test.sh: graphviz not installed; the svg tests will skip" >&2
fi
# A real PostgreSQL server for examples/app's tests (tests/app): Debian's package. Best
# effort like graphviz above; without it those tests skip and say why.
if ! command -v initdb >/dev/null && ! compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null &&
  command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
  { timeout 600 apt-get install -y -qq postgresql openssl >/dev/null 2>&1 ||
    { timeout 300 apt-get update -qq >/dev/null 2>&1 &&
      timeout 600 apt-get install -y -qq postgresql openssl >/dev/null 2>&1; }; } ||
    echo "scripts/test.sh: postgresql not installed; tests/app will skip" >&2
fi
exec .venv/bin/python -m pytest "$@"
