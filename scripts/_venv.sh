# Shared by scripts/run and scripts/test: a project venv with the pinned dependencies installed.
# Sourced, not run. Re-installs only when pyproject.toml or constraints.txt changed.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${REPAIRBOT_VENV:-$ROOT/.venv}"
EXTRAS="${1:-}"
PY="${PYTHON:-python3}"
# pip here also reads this machine's local mirrors; their "Location ... is ignored" notes are noise.
quiet_pip() { "$@" 2>&1 | { grep -v "is ignored: it is neither a file nor a directory" || true; }; return "${PIPESTATUS[0]}"; }
if [ ! -x "$VENV/bin/python" ]; then
  "$PY" -m venv "$VENV"
  quiet_pip "$VENV/bin/python" -m pip install -q --upgrade "pip>=24"
fi
STAMP="$VENV/.installed$EXTRAS"
HASH="$(cat "$ROOT/pyproject.toml" "$ROOT/constraints.txt" | sha256sum | cut -d' ' -f1)"
if [ ! -f "$STAMP" ] || [ "$(cat "$STAMP")" != "$HASH" ]; then
  quiet_pip "$VENV/bin/python" -m pip install -q -c "$ROOT/constraints.txt" -e "$ROOT$EXTRAS"
  echo "$HASH" > "$STAMP"
fi
export PATH="$VENV/bin:$PATH"
