#!/usr/bin/env bash
# Installs what is missing, builds heapcore and runs the main job, `analyze`, on the bundled demo
# core: a program that leaked a list, a ring and a tree, and holds others in globals and on stacks.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
dir=$(scripts/build.sh)
core=tests/cores/committed/native/leak_native.core.zst
binary=tests/cores/committed/native/leak_native
echo "== heapcore analyze $core $binary" >&2
"$dir/heapcore" analyze "$core" "$binary"
