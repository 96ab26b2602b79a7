#!/usr/bin/env bash
# Install what the benchmark's optional CDK rows need (benchmarks/cdk_app/): the AWS CDK
# v2 Python library in its own virtual environment, .venv-cdk, and the CDK CLI under
# benchmarks/.cdk-cli. Both stay out of .venv: aws-cdk-lib brings jsii, typeguard and
# cattrs pins the compiler does not need. Node.js (18 or later) and npm must be installed.
# Idempotent: does nothing when the pinned versions are already installed.
set -euo pipefail
cd "$(dirname "$0")/.."

CDK_LIB_VERSION="2.275.0"
CDK_CLI_VERSION="2.1149.0"  # CLI releases are numbered apart from the library: 2.1xxx
VENV=".venv-cdk"
CLI_DIR="benchmarks/.cdk-cli"
# Read from the metadata: importing aws_cdk starts Node, and it has no __version__.
LIB_VERSION="from importlib.metadata import version; print(version('aws-cdk-lib'))"

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    echo "install-cdk.sh: Node.js and npm are needed (the CDK runs its library in Node)" >&2
    exit 1
fi

lib="$("$VENV/bin/python" -c "$LIB_VERSION" 2>/dev/null || true)"
if [ "$lib" != "$CDK_LIB_VERSION" ]; then
    echo "Installing aws-cdk-lib $CDK_LIB_VERSION into $VENV (takes a few minutes)..."
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check \
        "aws-cdk-lib==$CDK_LIB_VERSION" "constructs>=10,<11"
fi

cli="$("$CLI_DIR/node_modules/.bin/cdk" --version 2>/dev/null || true)"
if [ "${cli%% *}" != "$CDK_CLI_VERSION" ]; then
    echo "Installing the CDK CLI (aws-cdk $CDK_CLI_VERSION) into $CLI_DIR..."
    mkdir -p "$CLI_DIR"
    npm install --silent --no-audit --no-fund --prefix "$CLI_DIR" "aws-cdk@$CDK_CLI_VERSION"
fi
echo "aws-cdk-lib $("$VENV/bin/python" -c "$LIB_VERSION")"
echo "cdk CLI $("$CLI_DIR/node_modules/.bin/cdk" --version)"
