#!/usr/bin/env bash
# Installs what is missing, builds heapcore twice (plain, and with ASan+UBSan),
# makes the scenario cores (native glibc, and glibc 2.41/2.43 from private
# Debian roots), runs the whole test suite against both builds, then every
# fuzz target briefly over its committed corpus (docs/fuzzing.md).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh

plain=$(scripts/build.sh)
asan=$(scripts/build.sh --sanitize)

cores="$PWD/build/cores"
runtimes="${HEAPCORE_RUNTIMES:-$HOME/.cache/heapcore/runtimes}"
scripts/fetch-runtimes.sh "$runtimes"
HEAPCORE_RUNTIMES="$runtimes" scripts/make-test-cores.sh "$cores" native trixie sid

status=0
for dir in "$plain" "$asan"; do
  echo "== tests in $dir" >&2
  HEAPCORE_CORES_DIR="$cores" HEAPCORE_RUNTIMES="$runtimes" ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --test-dir "$dir" -j2 --output-on-failure || status=1
done
echo "== fuzz targets, 10 s each" >&2
scripts/fuzz.sh 10 || status=1
exit $status
