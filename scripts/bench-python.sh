#!/usr/bin/env bash
# bench-python.sh [OUTDIR] - benchmarks heapcore analyze on a large Python core.
#
# 1. runs scripts/bench/bench_python.py under $BENCH_PYTHON (default
#    /usr/bin/python3.11) until it prints READY: BENCH_ITEMS (1200000) Items
#    and BENCH_PAIRS (400000) unreachable Node pairs, gc disabled; its truth
#    goes to OUTDIR/bench_python.truth.json;
# 2. gcores it into OUTDIR/bench_python.core;
# 3. runs `heapcore analyze --format json` on it BENCH_REPEAT (3) times under
#    /usr/bin/time -v, keeps the fastest, and checks the report against the
#    truth (the gc garbage is the 2 x BENCH_PAIRS Nodes and the few cycles the
#    interpreter left; Items counted exactly);
# 4. appends a row to the Python table of docs/benchmarks.md (BENCH_DOCS=0:
#    not), with the machine, the core's size, objects found, wall time (all
#    runs in the notes), max RSS and python.timings.
# Environment: HEAPCORE (build/heapcore), BENCH_REV (default: git revision,
# "+" when src/ has uncommitted changes), BENCH_KEEP_CORE=0 deletes the core.
set -euo pipefail

die() { echo "bench-python: $*" >&2; exit 1; }
say() { echo "bench-python: $*"; }

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
OUTDIR=${1:-${TMPDIR:-/tmp}/heapcore-bench-python}
HC=${HEAPCORE:-$REPO/build/heapcore}
PY=${BENCH_PYTHON:-/usr/bin/python3.11}
REPEAT=${BENCH_REPEAT:-3}
DOC=$REPO/docs/benchmarks.md
export BENCH_ITEMS=${BENCH_ITEMS:-1200000} BENCH_PAIRS=${BENCH_PAIRS:-400000}

for tool in gdb python3 "$PY"; do command -v "$tool" >/dev/null || die "$tool not found"; done
[ -x /usr/bin/time ] || die "/usr/bin/time not found (apt-get install time)"
[ -x "$HC" ] || die "$HC not built (scripts/build.sh)"
mkdir -p "$OUTDIR" && OUTDIR=$(cd "$OUTDIR" && pwd)
CORE=$OUTDIR/bench_python.core TRUTH=$OUTDIR/bench_python.truth.json

# 1-2. the process and its core
"$PY" "$HERE/bench/bench_python.py" >"$OUTDIR/bench_python.out" &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
for _ in $(seq 1 600); do
	grep -q READY "$OUTDIR/bench_python.out" 2>/dev/null && break
	kill -0 $pid 2>/dev/null || die "bench_python.py exited early"
	sleep 0.5
done
grep -q READY "$OUTDIR/bench_python.out" || die "bench_python.py never said READY"
head -n 1 "$OUTDIR/bench_python.out" >"$TRUTH"
rm -f "$CORE" "$OUTDIR/bench_python.gcore.$pid"
gcore -o "$OUTDIR/bench_python.gcore" $pid >/dev/null 2>&1 || die "gcore failed"
mv "$OUTDIR/bench_python.gcore.$pid" "$CORE"
kill $pid
say "core: $CORE ($(($(stat -c %s "$CORE") >> 20)) MiB)"

# 3. analyze, fastest of REPEAT
best=
walls=()
for i in $(seq 1 "$REPEAT"); do
	/usr/bin/time -v "$HC" analyze --format json "$CORE" >"$OUTDIR/analyze.json" 2>"$OUTDIR/analyze.time" ||
		die "analyze failed: $(grep -v '^\s' "$OUTDIR/analyze.time" | head -n 1)"
	wall=$(python3 -c '
import sys
for l in open(sys.argv[1]):
    if "Elapsed (wall clock)" in l:
        v = l.rsplit(" ", 1)[1].strip().split(":")
        print("%.2f" % sum(float(x) * 60 ** i for i, x in enumerate(reversed(v))))' "$OUTDIR/analyze.time")
	rss=$(awk -F': ' '/Maximum resident/ {print $2}' "$OUTDIR/analyze.time")
	walls+=("$wall")
	if [ -z "$best" ] || python3 -c "import sys; sys.exit(not float(sys.argv[1]) < float(sys.argv[2]))" "$wall" "$best"; then
		best=$wall best_rss=$rss
		cp "$OUTDIR/analyze.json" "$OUTDIR/analyze.best.json"
	fi
done
summary=$(python3 - "$OUTDIR/analyze.best.json" "$TRUTH" <<'PYEOF'
import json, sys
r = json.load(open(sys.argv[1]))["python"]
t = json.load(open(sys.argv[2]))
items = {x["type"]: x["count"] for x in r["objects"]["by_type"]}.get("__main__.Item")
g = r["garbage"]["tracked"]
ok = items == t["items"] and 2 * t["pairs"] <= g <= 2 * t["pairs"] + 50
tm = r["timings"]
print("%d|%d|%s|runtime %.2f, objects %.2f, report %.2f|Items %s of %d, gc garbage %d (%d Nodes planted), gc objects %d (found %d tracked)%s" % (
    r["objects"]["count"], r["objects"]["tracked"], "ok" if ok else "MISMATCH", tm["runtime"], tm["objects"], tm["report"],
    items, t["items"], g, 2 * t["pairs"], t["gc_objects"], r["objects"]["tracked"], "" if ok else " -- MISMATCH"))
PYEOF
)
IFS='|' read -r objects tracked verdict phases note <<<"$summary"
say "analyze: best $best s of ${walls[*]}, max RSS $((best_rss >> 10)) MiB, $objects objects; $phases; $note"
[ "$verdict" = ok ] || die "the report does not match the truth: $note"

# 4. docs
if [ "${BENCH_DOCS:-1}" != 0 ]; then
	rev=${BENCH_REV:-$(git -C "$REPO" rev-parse --short HEAD)$(git -C "$REPO" diff --quiet -- src || echo +)}
	machine="$(nproc) CPU $(sed -n 's/^model name[^:]*: *//p' /proc/cpuinfo | head -n 1), $(free -g | awk '/^Mem:/ {print $2}') GiB, Linux $(uname -r)"
	row="| $(date -u +%F) | $machine | $rev | $(($(stat -c %s "$CORE") >> 20)) MiB | $objects | **$best s** ($(IFS=,; echo "${walls[*]}")) | $((best_rss >> 10)) MiB | $phases | $note |"
	grep -q '^<!-- python rows -->' "$DOC" || die "$DOC has no '<!-- python rows -->' marker"
	python3 - "$DOC" "$row" <<'PYEOF'
import sys
doc, row = sys.argv[1:3]
s = open(doc).read()
s = s.replace("<!-- python rows -->", row + "\n<!-- python rows -->", 1)
open(doc, "w").write(s)
PYEOF
	say "appended a row to $DOC"
fi
[ "${BENCH_KEEP_CORE:-1}" = 0 ] && rm -f "$CORE"
exit 0
