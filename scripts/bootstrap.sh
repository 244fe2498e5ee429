#!/usr/bin/env bash
# Create .venv with a Python >= 3.12 and install the pinned requirements.
# Usage: scripts/bootstrap.sh [requirements-file]   (default: requirements.txt)
# Re-installs only when the requirements files changed since the last install.
set -euo pipefail
cd "$(dirname "$0")/.."
reqs="${1:-requirements.txt}"

find_python() {
  local candidates=(python3.13 python3.12 python3 python)
  if command -v pyenv >/dev/null 2>&1; then
    local root; root="$(pyenv root)"
    candidates+=("$root"/versions/3.13*/bin/python3 "$root"/versions/3.12*/bin/python3)
  fi
  candidates+=(/usr/local/bin/python3.13 /usr/local/bin/python3.12 /usr/bin/python3.13 /usr/bin/python3.12)
  for candidate in "${candidates[@]}"; do
    # Run each one: a pyenv shim exists but fails (exit 127) unless its version is selected.
    if "$candidate" -c 'import sys, venv; sys.exit(sys.version_info < (3, 12))' >/dev/null 2>&1; then
      echo "$candidate"; return 0
    fi
  done
  return 1
}

if [ ! -x .venv/bin/python ] || ! .venv/bin/python -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null; then
  python="$(find_python)" || {
    echo "error: Django 6 needs Python 3.12 or newer; install python3.12 (or 3.13) and re-run." >&2
    exit 1
  }
  echo "Creating .venv with $python ($("$python" --version))"
  rm -rf .venv
  "$python" -m venv .venv
  .venv/bin/python -m pip install --quiet --upgrade pip
fi

stamp=".venv/.installed-$(basename "$reqs")"
hash="$(cat requirements*.txt | sha256sum | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$hash" ]; then
  echo "Installing $reqs into .venv"
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -r "$reqs"
  echo "$hash" > "$stamp"
fi
