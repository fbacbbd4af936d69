#!/usr/bin/env bash
# Create .venv/ with a Python >= 3.12 and install bayeslaw (editable) with the extras given
# as arguments (default: test). Finds the interpreter by itself: $BAYESLAW_PYTHON, then
# python3.13/python3.12/python3 on PATH, then any pyenv-installed 3.12+, then uv.
# Reinstalls only when pyproject.toml changed since the last install.
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-test}"

ok() { "$1" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)' 2>/dev/null; }

find_python() {
  local c
  for c in "${BAYESLAW_PYTHON:-}" python3.14 python3.13 python3.12 python3; do
    [ -n "$c" ] && command -v "$c" >/dev/null 2>&1 && ok "$(command -v "$c")" && { command -v "$c"; return; }
  done
  if command -v pyenv >/dev/null 2>&1; then
    local root; root="$(pyenv root)"
    for c in $(ls -d "$root"/versions/3.1[2-9]* 2>/dev/null | sort -rV); do
      [ -x "$c/bin/python3" ] && ok "$c/bin/python3" && { echo "$c/bin/python3"; return; }
    done
  fi
  for c in "$HOME"/.pyenv/versions/3.1[2-9]*/bin/python3; do
    [ -x "$c" ] && ok "$c" && { echo "$c"; return; }
  done
  if command -v uv >/dev/null 2>&1; then
    uv python install 3.12 >/dev/null 2>&1 && uv python find 3.12 && return
  fi
  return 1
}

if [ ! -x .venv/bin/python ] || ! ok .venv/bin/python; then
  py="$(find_python)" || {
    echo "bootstrap: no Python >= 3.12 found. Install one (e.g. 'pyenv install 3.12'," \
         "or your OS package python3.12) or set BAYESLAW_PYTHON=/path/to/python3.12" >&2
    exit 1
  }
  echo "bootstrap: creating .venv with $py ($("$py" --version))"
  rm -rf .venv
  "$py" -m venv .venv
fi

stamp=".venv/.bayeslaw-installed-$(echo "$extras" | tr ',' '-')"
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  echo "bootstrap: installing bayeslaw[$extras] into .venv"
  .venv/bin/python -m pip install --quiet --upgrade pip >/dev/null
  .venv/bin/python -m pip install --quiet -e ".[$extras]"
  touch "$stamp"
fi
