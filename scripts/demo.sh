#!/usr/bin/env bash
# Installs what is missing, builds heapcore and runs it on the bundled demo core.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
dir=$(scripts/build.sh)
core=tests/cores/committed/native/heap_basic.core.zst
echo "== heapcore info $core" >&2
"$dir/heapcore" info "$core" | head -20
echo >&2
echo "== heapcore heap $core" >&2
"$dir/heapcore" heap "$core"
