#!/usr/bin/env bash
# Install the checkov security scanner into its own virtual environment, .venv-checkov.
# checkov pins old versions of packages the project also uses, so it must not share .venv.
#
# The environment itself lives outside the clone, shared by every clone on the machine
# ($INFRA_TEST_CACHE, default ~/.cache/infra-compiler-tests, /checkov-<version>-<python>),
# and .venv-checkov is a link to it: installing checkov takes minutes, linking it none.
# Idempotent: does nothing when the pinned version already answers from .venv-checkov.
set -euo pipefail
cd "$(dirname "$0")/.."

CHECKOV_VERSION="3.3.30"
VENV=".venv-checkov"

# Asking the tool itself (not just pip's metadata) also catches a half-finished install.
installed="$("$VENV/bin/checkov" --version 2>/dev/null || true)"
if [ "$installed" = "$CHECKOV_VERSION" ]; then
  exit 0
fi

python="$(python3 -c 'import platform; print(platform.python_version())')"
cache="${INFRA_TEST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/infra-compiler-tests}"
shared="$cache/checkov-$CHECKOV_VERSION-py$python"
mkdir -p "$cache"
# One installer at a time: a second clone set up meanwhile waits, then links the result.
exec 9>"$shared.lock"
flock 9
if [ "$("$shared/bin/checkov" --version 2>/dev/null || true)" != "$CHECKOV_VERSION" ]; then
  echo "Installing checkov $CHECKOV_VERSION into $shared (once; takes a few minutes)..."
  rm -rf "$shared"
  python3 -m venv "$shared"
  "$shared/bin/pip" install --quiet --disable-pip-version-check "checkov==$CHECKOV_VERSION"
  "$shared/bin/checkov" --version
fi
flock -u 9
rm -rf "$VENV"
ln -s "$shared" "$VENV"
