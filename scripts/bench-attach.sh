#!/usr/bin/env bash
# bench-attach.sh [OUTDIR] - how long `heapcore attach` stops a 1 GiB process, against gcore.
#
# Runs scripts/bench/bench_python.py under /usr/bin/python3.11 (BENCH_ITEMS, default 1200000:
# about 1 GiB), then BENCH_REPEAT (3) times each: `heapcore dump PID -o FILE` (the copy
# attach makes, whose pause heapcore reports: from the first thread stopped to the last let
# go), and `gcore PID` (timed whole: gdb stops the process for all of it). Appends a row to the
# attach table of docs/benchmarks.md (BENCH_DOCS=0: not). OUTDIR defaults to
# ${TMPDIR:-/tmp}/heapcore-bench-attach; the cores are deleted.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
OUTDIR=${1:-${TMPDIR:-/tmp}/heapcore-bench-attach}
HC=${HEAPCORE:-$REPO/build/heapcore}
REPEAT=${BENCH_REPEAT:-3}
export BENCH_ITEMS=${BENCH_ITEMS:-1200000} BENCH_PAIRS=${BENCH_PAIRS:-0}
mkdir -p "$OUTDIR"
[ -x "$HC" ] || { echo "bench-attach: $HC not built" >&2; exit 1; }
/usr/bin/python3.11 "$HERE/bench/bench_python.py" >"$OUTDIR/out" &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
for _ in $(seq 1 600); do grep -q READY "$OUTDIR/out" 2>/dev/null && break; sleep 0.5; done
rss=$(sed -n 's/^VmRSS:[[:space:]]*\([0-9]*\) kB/\1/p' /proc/$pid/status)
pauses=() gcores=()
for _ in $(seq 1 "$REPEAT"); do
	rm -f "$OUTDIR/dump.core"
	p=$("$HC" dump $pid -o "$OUTDIR/dump.core" 2>&1 | sed -n 's/.*paused \([0-9.]*\) s.*/\1/p')
	pauses+=("$p")
	size=$(stat -c %s "$OUTDIR/dump.core")
	rm -f "$OUTDIR/dump.core" "$OUTDIR/gcore.$pid"
	t0=$(date +%s.%N)
	gcore -o "$OUTDIR/gcore" $pid >/dev/null 2>&1
	t1=$(date +%s.%N)
	gcores+=("$(python3 -c "print('%.2f' % ($t1 - $t0))")")
	rm -f "$OUTDIR/gcore.$pid"
done
best() { printf '%s\n' "$@" | sort -n | head -n 1; }
machine="$(nproc) CPU $(sed -n 's/^model name[^:]*: *//p' /proc/cpuinfo | head -n 1), $(free -g | awk '/^Mem:/ {print $2}') GiB, Linux $(uname -r)"
rev=$(git -C "$REPO" rev-parse --short HEAD)$(git -C "$REPO" diff --quiet -- src || echo +)
row="| $(date -u +%F) | $machine | $rev | $((rss >> 10)) MiB RSS, $((size >> 20)) MiB core | **$(best "${pauses[@]}") s** ($(IFS=,; echo "${pauses[*]}")) | $(best "${gcores[@]}") s ($(IFS=,; echo "${gcores[*]}")) |"
echo "bench-attach: pause $(best "${pauses[@]}") s (heapcore dump) against $(best "${gcores[@]}") s (gcore), process of $((rss >> 10)) MiB"
if [ "${BENCH_DOCS:-1}" != 0 ]; then
	python3 - "$REPO/docs/benchmarks.md" "$row" <<'PYEOF'
import sys
doc, row = sys.argv[1:3]
s = open(doc).read()
s = s.replace("<!-- attach rows -->", row + "\n<!-- attach rows -->", 1)
open(doc, "w").write(s)
PYEOF
	echo "bench-attach: appended a row to docs/benchmarks.md"
fi
