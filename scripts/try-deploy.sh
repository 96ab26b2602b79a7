#!/usr/bin/env bash
# Start a local moto_server and deploy the example spec (infra.yaml) with the generated
# deploy.sh exactly as tests/deploy/test_deploy_script.py does, printing what it runs.
# Needs the dev extras (`bash scripts/test.sh` or `pip install -e '.[dev]'`). What the
# emulator proves and what it does not: docs/deploying.md.
set -euo pipefail
cd "$(dirname "$0")/.."
exec .venv/bin/python -m tests.deploy.try_deploy "$@"
