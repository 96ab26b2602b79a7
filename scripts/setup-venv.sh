#!/usr/bin/env bash
# Make .venv: this clone's package (editable) and the dev dependencies, for the tests.
#
# Installing the dependencies takes minutes (awscli, moto, cfn-lint: thousands of files),
# so they are installed once per set of requirements into a shared environment outside
# the clone, $INFRA_TEST_CACHE (default ~/.cache/infra-compiler-tests)/deps-<key>, where
# <key> hashes pyproject's requirements and the interpreter (scripts/venv_key.py). A
# fresh .venv is then a bare venv that reaches those site-packages through a .pth file,
# with its own console scripts, and this clone installed into it (editable, no deps):
# seconds. A .venv made some other way (by hand, as the README's first command does) is
# kept and updated with pip as before.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV="$PWD/.venv"
PTH="infra-test-deps.pth"      # the file that marks a .venv made by this script
MARKER="$VENV/.infra-test-deps" # what the .venv was made from: key and pyproject hash

key="$(python3 scripts/venv_key.py key)"
stamp="$key $(sha256sum pyproject.toml | cut -d' ' -f1)"
if [ -f "$MARKER" ] && [ "$(cat "$MARKER")" = "$stamp" ]; then
  exit 0 # nothing changed since this .venv was made
fi

site_packages() { "$1/bin/python" -c 'import sysconfig; print(sysconfig.get_path("purelib"))'; }

if [ -d "$VENV" ] && ! compgen -G "$VENV/lib/python*/site-packages/$PTH" >/dev/null; then
  # Someone else's venv: update it in place rather than replace it.
  "$VENV/bin/pip" install --quiet --disable-pip-version-check -e '.[dev]'
  echo "$stamp" >"$MARKER"
  exit 0
fi

cache="${INFRA_TEST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/infra-compiler-tests}"
deps="$cache/deps-$key"
mkdir -p "$cache"
# One builder at a time: a second clone set up meanwhile waits, then uses the result.
exec 9>"$deps.lock"
flock 9
if [ ! -f "$deps/.complete" ]; then
  echo "Installing the test dependencies into $deps (once; takes a few minutes)..."
  rm -rf "$deps" # an install that was interrupted
  python3 -m venv "$deps"
  python3 scripts/venv_key.py requirements >"$deps/requirements.txt"
  "$deps/bin/pip" install --quiet --disable-pip-version-check -r "$deps/requirements.txt"
  touch "$deps/.complete"
fi
flock -u 9

rm -rf "$VENV"
python3 -m venv --without-pip "$VENV"
site_packages "$deps" >"$(site_packages "$VENV")/$PTH"
# The dependencies' console scripts (pip, pytest, moto_server, aws, cfn-lint, ruff...),
# run by this venv's interpreter so they see this clone's package too.
for script in "$deps"/bin/*; do
  name="${script##*/}"
  target="$VENV/bin/$name"
  if [ ! -f "$script" ] || [ -e "$target" ]; then
    continue # a directory (__pycache__), or the venv's own (python, activate)
  fi
  if [ "$(head -c 2 "$script")" = "#!" ]; then
    sed "s|$deps/bin/python|$VENV/bin/python|g" "$script" >"$target"
    chmod +x "$target"
  else
    ln -s "$script" "$target" # a native program (ruff)
  fi
done
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
  --no-deps --no-build-isolation -e .
echo "$stamp" >"$MARKER"
