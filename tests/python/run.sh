#!/usr/bin/env bash
# Runs openai_sdk.py (or $OPENCLAW_PY_SCRIPT) with the pinned official OpenAI SDK and requests, in a venv under
# $HOME/.cache/openclaw-venv that is created on first use and re-installed when
# requirements.txt changes. Arguments go to the script: BASE_URL API_KEY SCENARIO.
# Exit codes: the script's own; 3 when the venv or the install fails (its output is printed).
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
venv="${OPENCLAW_VENV:-$HOME/.cache/openclaw-venv}"
stamp="$venv/.requirements.sha256"
want="$(sha256sum "$here/requirements.txt" | cut -d' ' -f1)"

install() {
    python3 -m venv "$venv" &&
        "$venv/bin/python" -m pip install -q --disable-pip-version-check -r "$here/requirements.txt"
}

# Tests run in parallel: one install at a time, and the others wait for it.
mkdir -p "$(dirname "$venv")"
exec 9>"$venv.lock"
flock 9
if [[ ! -x "$venv/bin/python" || "$(cat "$stamp" 2>/dev/null)" != "$want" ]]; then
    if ! log="$(install 2>&1)"; then
        echo "run.sh: could not set up the Python venv at $venv:" >&2
        echo "$log" >&2
        exit 3
    fi
    echo "$want" >"$stamp"
fi
flock -u 9

# OPENCLAW_PY_SCRIPT picks another script: a name in this folder (e.g. openai_sdk.py), or a
# path containing a `/` (absolute, or relative to the current directory), e.g.
# tests/seeds/s1.py.
script="${OPENCLAW_PY_SCRIPT:-openai_sdk.py}"
[[ "$script" == */* ]] || script="$here/$script"
exec "$venv/bin/python" "$script" "$@"
