#!/usr/bin/env bash
# Runs `node ARGS…` with this folder's pinned npm packages (package.json, package-lock.json: the
# `ws` package S4's WebSocket example is written for) on NODE_PATH, so CommonJS scripts
# `require('ws')`. The packages are installed with `npm ci` under $HOME/.cache/openclaw-node on
# first use, and again when package-lock.json changes.
# Exit codes: node's own; 3 when the install fails (its output is printed).
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
dir="${OPENCLAW_NODE_DEPS:-$HOME/.cache/openclaw-node}"
stamp="$dir/.package-lock.sha256"
want="$(cat "$here/package.json" "$here/package-lock.json" | sha256sum | cut -d' ' -f1)"

install() {
    rm -rf "$dir/node_modules" &&
        cp "$here/package.json" "$here/package-lock.json" "$dir/" &&
        (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
}

# Tests run in parallel: one install at a time, and the others wait for it.
mkdir -p "$dir"
exec 9>"$dir.lock"
flock 9
if [[ ! -d "$dir/node_modules/ws" || "$(cat "$stamp" 2>/dev/null)" != "$want" ]]; then
    if ! log="$(install 2>&1)"; then
        echo "node.sh: could not install the npm packages into $dir:" >&2
        echo "$log" >&2
        exit 3
    fi
    echo "$want" >"$stamp"
fi
flock -u 9

NODE_PATH="$dir/node_modules${NODE_PATH:+:$NODE_PATH}" exec node "$@"
