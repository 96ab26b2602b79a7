#!/usr/bin/env bash
# Install the checkov security scanner into its own virtual environment, .venv-checkov.
# checkov pins old versions of packages the project also uses, so it must not share .venv.
# Idempotent: does nothing when the pinned version is already installed there.
set -euo pipefail
cd "$(dirname "$0")/.."

CHECKOV_VERSION="3.3.30"
VENV=".venv-checkov"

# Asking the tool itself (not just pip's metadata) also catches a half-finished install.
installed="$("$VENV/bin/checkov" --version 2>/dev/null || true)"
if [ "$installed" = "$CHECKOV_VERSION" ]; then
    exit 0
fi

echo "Installing checkov $CHECKOV_VERSION into $VENV (takes a few minutes)..."
python3 -m venv "$VENV"
"$VENV/bin/pip" install --quiet --disable-pip-version-check "checkov==$CHECKOV_VERSION"
"$VENV/bin/checkov" --version
