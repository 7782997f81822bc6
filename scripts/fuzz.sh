#!/usr/bin/env bash
# fuzz.sh [SECONDS] [--docs] [TARGET...] - runs the fuzz targets of tests/fuzz (libFuzzer, ASan,
# UBSan; default all: core glibc cpython json) for SECONDS each (default 600), two at a time,
# from their committed seed corpus and what earlier runs added, and prints per target the
# executions, coverage and any finding. With --docs it appends the figures to docs/fuzzing.md.
# SECONDS 0 runs each target over its corpus once.
# Needs clang (with its libFuzzer runtime). Crashes are left in build-fuzz/findings/TARGET.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-600}
shift || true
docs=0
if [ "${1:-}" = --docs ]; then
	docs=1
	shift
fi
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(core glibc cpython json)
command -v clang >/dev/null || { echo "fuzz: clang not found (apt-get install clang)" >&2; exit 1; }
CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=Debug -DHEAPCORE_FUZZ=ON >/dev/null
cmake --build build-fuzz -j"$(nproc)" >/dev/null
declare -A maxlen=([core]=1048576 [glibc]=1048576 [cpython]=65536 [json]=4096)
run() {
	local t=$1 work=build-fuzz/corpus/$1 out=build-fuzz/findings/$1
	# what an earlier run found is looked at (and replayed) by hand; this run reports its own
	rm -rf "$out"
	mkdir -p "$work" "$out"
	local args=(-max_len="${maxlen[$t]}" -rss_limit_mb=2048 -timeout=10 -artifact_prefix="$out/" -print_final_stats=1)
	if [ "$secs" = 0 ]; then
		args+=(-runs=0)
	else
		args+=(-max_total_time="$secs")
	fi
	"build-fuzz/fuzz_$t" "${args[@]}" "$work" "tests/fuzz/corpus/$t" >"build-fuzz/fuzz_$t.log" 2>&1
}
status=0
for ((i = 0; i < ${#targets[@]}; i += 2)); do
	pids=()
	for t in "${targets[@]:i:2}"; do
		run "$t" &
		pids+=($!)
	done
	for p in "${pids[@]}"; do wait "$p" || status=1; done
done
rows=()
for t in "${targets[@]}"; do
	log=build-fuzz/fuzz_$t.log
	# a target stopped by a finding at once has no coverage lines: its figures are "?"
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1 || true)
	cov=$( (grep -o 'cov: [0-9]*' "$log" || true) | tail -n 1 | cut -d' ' -f2)
	ft=$( (grep -o 'ft: [0-9]*' "$log" || true) | tail -n 1 | cut -d' ' -f2)
	crashes=$(find "build-fuzz/findings/$t" -type f | wc -l)
	echo "fuzz_$t: ${execs:-0} executions, coverage ${cov:-?} edges (${ft:-?} features), $crashes crash(es)"
	[ "$crashes" = 0 ] || { status=1; grep -m1 -E 'ERROR|SUMMARY' "$log" >&2 || true; }
	rows+=("| $(date -u +%F) | fuzz_$t | $secs s | ${execs:-0} | ${cov:-?} | ${ft:-?} | $crashes |")
done
if [ "$docs" = 1 ]; then
	for r in "${rows[@]}"; do
		python3 - docs/fuzzing.md "$r" <<'PYEOF'
import sys
doc, row = sys.argv[1:3]
s = open(doc).read()
s = s.replace("<!-- fuzz rows -->", row + "\n<!-- fuzz rows -->", 1)
open(doc, "w").write(s)
PYEOF
	done
fi
exit $status
