#!/usr/bin/env bash
# Set up everything the tests need on a fresh machine, then run them.
# `.ci/run` calls this same script; the README quotes it.
#
#   bash scripts/test.sh [--fast] [pytest arguments]
#
# --fast: the developer's tier (docs/testing.md): no AWS emulator, PostgreSQL, checkov,
# pip installs or property tests, and none of their set-up either. Without it: everything.
# The tests run on $INFRA_TEST_WORKERS pytest-xdist workers (default 2; 0 runs them in
# this process); the set-up steps keep what they install outside the clone, so a second
# fresh clone is set up in seconds (scripts/setup-venv.sh, scripts/install-checkov.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
# What the set-up steps install once for every clone on the machine (see below).
export INFRA_TEST_CACHE="${INFRA_TEST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/infra-compiler-tests}"
# With PYTHONDONTWRITEBYTECODE set (so it is on the CI machine), every process compiled
# this clone's modules again, and pytest rewrote every test module's asserts again, in
# each worker on each run (5 s of CPU a worker). Keep the bytecode outside the clone.
if [ -n "${PYTHONDONTWRITEBYTECODE:-}" ] && [ -z "${PYTHONPYCACHEPREFIX:-}" ]; then
  unset PYTHONDONTWRITEBYTECODE
  export PYTHONPYCACHEPREFIX="$INFRA_TEST_CACHE/pycache"
fi
fast=false
if [ "${1:-}" = "--fast" ]; then
  fast=true
fi
bash scripts/setup-venv.sh
if ! $fast; then
  # The checkov security scanner lives in its own venv (tests/security runs it).
  bash scripts/install-checkov.sh
fi
# Graphviz `dot` draws `infra graph --format svg`; without it those tests skip, so this is
# best effort: a machine without apt, root or the network still runs everything else.
if ! $fast && ! command -v dot >/dev/null && command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
  { timeout 300 apt-get install -y -qq graphviz >/dev/null 2>&1 ||
    { timeout 300 apt-get update -qq >/dev/null 2>&1 &&
      timeout 300 apt-get install -y -qq graphviz >/dev/null 2>&1; }; } ||
    echo "scripts/test.sh: graphviz not installed; the svg tests will skip" >&2
fi
# A real PostgreSQL server for examples/app's tests (tests/app): Debian's package. Best
# effort like graphviz above; without it those tests skip and say why.
if ! $fast && ! command -v initdb >/dev/null && ! compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null &&
  command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
  { timeout 600 apt-get install -y -qq postgresql openssl >/dev/null 2>&1 ||
    { timeout 300 apt-get update -qq >/dev/null 2>&1 &&
      timeout 600 apt-get install -y -qq postgresql openssl >/dev/null 2>&1; }; } ||
    echo "scripts/test.sh: postgresql not installed; tests/app will skip" >&2
fi
# --dist loadscope: a module's tests (a class's, for class-scoped fixtures) stay on one
# worker, so a module-scoped deployment or compile is made once, not once per worker.
# --no-loadscope-reorder: xdist hands the modules out in the order tests/conftest.py
# collects them, costliest first as earlier runs measured them, not fewest tests last.
# Arguments come last: a -n of the caller's wins.
exec .venv/bin/python -m pytest -n "${INFRA_TEST_WORKERS:-2}" --dist loadscope --no-loadscope-reorder "$@"
