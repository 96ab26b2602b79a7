#!/usr/bin/env bash
# Start a local moto_server and deploy the example spec (infra.yaml) with ONE run of the
# generated deploy.sh, exactly as tests/deploy/test_one_run.py does, printing what it runs.
# --three-regions: infra.yaml with a third region; --again: a second run (a no-op).
# Needs the dev extras (`bash scripts/test.sh` or `pip install -e '.[dev]'`). What the
# emulator proves and what it does not: docs/deploying.md.
set -euo pipefail
cd "$(dirname "$0")/.."
# Without the dev extras the import below fails with a traceback: say what to run instead.
if ! .venv/bin/python -c 'import moto, pytest' 2>/dev/null; then
  echo "scripts/try-deploy.sh: needs the test dependencies in .venv (moto, pytest, the AWS CLI);" \
    "run \`bash scripts/setup-venv.sh\` first" >&2
  exit 2
fi
# deploy.sh runs the `aws` first on PATH: the one installed with the test dependencies.
PATH="$PWD/.venv/bin:$PATH" exec .venv/bin/python -m tests.deploy.try_deploy "$@"
