#!/usr/bin/env bash
# docs/gen-shapes.sh - refresh the snapshots of every dialect's views and the regions of
# docs/api.md that show them (tests/tests/api/views.rs).
#
# Usage: docs/gen-shapes.sh [--docs-only]
#
#   1. runs the view tests with INSTA_UPDATE=always, rewriting
#      tests/tests/api/snapshots/api__views__*.snap from what the server answers now
#      (needs PostgreSQL and Redis: found or started by deploy/dev/services.sh); a failing
#      view test stops the script, and `git checkout tests/tests/api/snapshots` undoes it;
#   2. rewrites each `<!-- shapes:begin NAME -->` … `<!-- shapes:end NAME -->` region of
#      docs/api.md from its snapshot file (OPENCLAW_WRITE_SHAPES=1).
#
# --docs-only skips step 1 (after editing a snapshot by hand, or `cargo insta review`).
# Review `git diff tests/tests/api/snapshots docs/api.md` before committing.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

if [[ "${1:-}" != "--docs-only" ]]; then
    eval "$(deploy/dev/services.sh up --require-redis)"
    # From scratch, so that a view no longer taken leaves no stale file behind.
    rm -f tests/tests/api/snapshots/api__views__*.snap tests/tests/api/snapshots/api__views__*.snap.new
    INSTA_UPDATE=always cargo nextest run -p openclaw-tests --test api \
        -E 'test(/^views::/) and not test(views::docs_show_the_snapshots)'
fi
OPENCLAW_WRITE_SHAPES=1 cargo nextest run -p openclaw-tests --test api \
    -E 'test(views::docs_show_the_snapshots)'
