#!/usr/bin/env bash
# bench-analyze.sh [OUTDIR] - benchmarks heapcore on a large core.
#
# 1. builds scripts/bench/bench_heap.c (gcc -O2 -g) into OUTDIR and runs it:
#    about 15 million allocations, about 1.2 GB of chunks, about 2 million
#    leaked in clusters; fixed seed, so the same heap every run; it records
#    its truth in OUTDIR/bench_heap.truth.json (mallinfo2, how many it
#    allocated, anchored, leaked: counts and chunk bytes);
# 2. takes a core of it: OUTDIR/bench_heap.core (gdb gcore, or the kernel's
#    with BENCH_CORE=kernel: needs core_pattern "core" and RLIMIT_CORE);
# 3. if heapcore is built (build/heapcore, or $HEAPCORE), runs under
#    /usr/bin/time -v
#      heapcore heap --format json CORE
#      heapcore analyze --format json CORE     (skipped, with a message, while
#                                               heapcore has no working analyze)
#    and appends one row per command to docs/benchmarks.md: date, machine,
#    core size, allocation count, wall time, max RSS, and the per-phase
#    seconds of analyze's JSON "timings" object when it has one.
#
# Environment: HEAPCORE (default build/heapcore), BENCH_REV (the "rev" column;
# default: git revision of the tree for build/heapcore, with "+" when src/ has
# uncommitted changes, else "heapcore --version"), BENCH_CORE=gcore|kernel,
# BENCH_SCALE (default 1: bench_heap --scale), BENCH_REPEAT (runs of each
# heapcore command, default 3: the fastest is reported, with every wall time
# in the notes), BENCH_DOCS=0 (do not touch
# docs/benchmarks.md), BENCH_KEEP_CORE=0 (delete the core afterwards).
# OUTDIR defaults to ${TMPDIR:-/tmp}/heapcore-bench. Needs gcc, gdb (for
# gcore), python3 and /usr/bin/time (apt-get install time).
set -euo pipefail

die() { echo "bench-analyze: $*" >&2; exit 1; }
say() { echo "bench-analyze: $*"; }

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
OUTDIR=${1:-${TMPDIR:-/tmp}/heapcore-bench}
HC=${HEAPCORE:-$REPO/build/heapcore}
CORE_KIND=${BENCH_CORE:-gcore}
SCALE=${BENCH_SCALE:-1}
DOCS=${BENCH_DOCS:-1}
DOC=$REPO/docs/benchmarks.md

for tool in gcc python3; do
	command -v "$tool" >/dev/null || die "$tool not found"
done
[ -x /usr/bin/time ] || die "/usr/bin/time not found (apt-get install time)"
case "$CORE_KIND" in
gcore) command -v gdb >/dev/null || die "gdb not found (needed for gcore; or BENCH_CORE=kernel)" ;;
kernel)
	pattern=$(cat /proc/sys/kernel/core_pattern)
	case "$pattern" in core | core.*) ;; *) die "core_pattern is '$pattern', not 'core' in the cwd" ;; esac
	ulimit -c unlimited 2>/dev/null || die "cannot raise RLIMIT_CORE"
	;;
*) die "BENCH_CORE must be gcore or kernel" ;;
esac

mkdir -p "$OUTDIR" || die "cannot create $OUTDIR"
OUTDIR=$(cd "$OUTDIR" && pwd)
CORE=$OUTDIR/bench_heap.core
TRUTH=$OUTDIR/bench_heap.truth.json

PID=
cleanup() {
	if [ -n "$PID" ]; then
		kill -KILL "$PID" 2>/dev/null || true
		wait "$PID" 2>/dev/null || true
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- 1. build and run the generator ------------------------------------------
gcc -O2 -g -Wall -Wextra -Werror -pthread -I "$REPO/tests/cores/scenarios" -o "$OUTDIR/bench_heap" \
	"$HERE/bench/bench_heap.c" "$REPO/tests/cores/scenarios/truth.c" \
	2>"$OUTDIR/build.log" || die "building bench_heap failed: $(head -n 1 "$OUTDIR/build.log")"
rm -f "$CORE" "$TRUTH" "$OUTDIR"/core "$OUTDIR"/core.*
abort=()
[ "$CORE_KIND" = kernel ] && abort=(--abort)
t0=$(date +%s.%N)
"$OUTDIR/bench_heap" --outdir "$OUTDIR" --scale "$SCALE" "${abort[@]}" >"$OUTDIR/stdout" 2>"$OUTDIR/stderr" &
PID=$!
waited=0
while ! grep -q '^READY ' "$OUTDIR/stdout" 2>/dev/null; do
	if ! kill -0 "$PID" 2>/dev/null; then
		[ "$CORE_KIND" = kernel ] && grep -q '^READY ' "$OUTDIR/stdout" && break
		die "bench_heap exited before READY: $(head -n 1 "$OUTDIR/stderr")"
	fi
	[ $waited -lt 3000 ] || die "bench_heap: no READY within 300 s"
	sleep 0.1
	waited=$((waited + 1))
done
t1=$(date +%s.%N)
say "bench_heap ready after $(python3 -c "print('%.1f' % ($t1 - $t0))") s: $(python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
print("%d allocations (%d anchored, %d leaked in %d clusters), build %.1f s" % (d["allocations"],
      d["anchored"]["count"], d["leaked"]["count"], d["leaked"]["clusters"], d["build_seconds"]))' "$TRUTH")"

# --- 2. the core --------------------------------------------------------------
t0=$(date +%s.%N)
if [ "$CORE_KIND" = gcore ]; then
	timeout 1200 gdb -batch -nx -iex "set debuginfod enabled off" -iex "set auto-load no" \
		-ex "attach $PID" -ex "gcore $CORE.tmp" -ex detach -ex quit >"$OUTDIR/gcore.log" 2>&1 ||
		die "gcore failed: $(grep -iE 'error|cannot|fail' "$OUTDIR/gcore.log" | head -n 1)"
	[ -s "$CORE.tmp" ] || die "gcore wrote no core"
	kill -KILL "$PID"
	wait "$PID" 2>/dev/null || true
	fallocate --dig-holes "$CORE.tmp" 2>/dev/null || true
	mv "$CORE.tmp" "$CORE"
else
	wait "$PID" 2>/dev/null || true
	kc=
	for f in "$OUTDIR/core.$PID" "$OUTDIR/core"; do
		[ -s "$f" ] && kc=$f && break
	done
	[ -n "$kc" ] || die "the kernel wrote no core in $OUTDIR"
	mv "$kc" "$CORE"
fi
PID=
t1=$(date +%s.%N)
core_secs=$(python3 -c "print('%.1f' % ($t1 - $t0))")
core_size=$(stat -c %s "$CORE")
say "$CORE_KIND core: $CORE, $core_size bytes, $core_secs s"

# --- 3. heapcore -----------------------------------------------------------------
# RESULT lines: command|wall_seconds|max_rss_kib|phases|note
RESULTS=()
REPEAT=${BENCH_REPEAT:-3}
timed() { # OUTFILE CMD... -> rc; runs CMD REPEAT times (stops at a failure); the
	# output and /usr/bin/time -v output of the fastest run in OUTFILE and OUTFILE.time,
	# every wall time in OUTFILE.walls
	local out=$1
	shift
	local rc=0 i best=
	: >"$out.walls"
	for ((i = 0; i < REPEAT; i++)); do
		/usr/bin/time -v -o "$out.time.$i" "$@" >"$out" 2>"$out.err" || rc=$?
		[ $rc = 0 ] || [ $rc = 5 ] || { cp "$out.time.$i" "$out.time"; return $rc; }
		read -r w _ < <(time_field "$out.time.$i")
		echo "$w" >>"$out.walls"
		if [ -z "$best" ] || python3 -c "import sys; sys.exit(0 if $w < $best else 1)"; then
			best=$w
			cp "$out.time.$i" "$out.time"
			cp "$out" "$out.best"
		fi
		rm -f "$out.time.$i"
	done
	mv "$out.best" "$out"
	return $rc
}
walls() { # OUTFILE -> "best of N (a, b, c s)" or "" for one run
	local n
	n=$(wc -l <"$1.walls")
	[ "$n" -gt 1 ] && echo "best of $n ($(paste -sd, "$1.walls" | sed 's/,/, /g') s); "
	return 0
}
time_field() { # FILE -> "wall_seconds max_rss_kib"
	python3 - "$1" <<'EOF'
import re, sys
t = open(sys.argv[1]).read()
m = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)", t)
parts = [float(x) for x in m.group(1).split(":")]
secs = 0.0
for p in parts:
    secs = secs * 60 + p
rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", t).group(1))
print("%.2f %d" % (secs, rss))
EOF
}

if [ ! -x "$HC" ]; then
	say "no heapcore at $HC (run scripts/build.sh, or set HEAPCORE): heapcore not run"
else
	# heap
	rc=0
	timed "$OUTDIR/heap.json" "$HC" heap --format json "$CORE" || rc=$?
	if [ $rc = 0 ] || [ $rc = 5 ]; then
		read -r secs rss < <(time_field "$OUTDIR/heap.json.time")
		note=$(python3 - "$OUTDIR/heap.json" "$TRUTH" <<'EOF'
import json, sys
h = json.load(open(sys.argv[1]))["heap"]["totals"]
t = json.load(open(sys.argv[2]))
inuse = h["used"]["count"] + h["mmapped"]["count"]
print("%d chunks in use (bench made %d), %d free/fastbin/tcache" % (inuse, t["allocations"],
      h["free"]["count"] + h["fastbin"]["count"] + h["tcache"]["count"]))
EOF
)
		[ $rc = 5 ] && note="PARTIAL (exit 5); $note"
		note="$(walls "$OUTDIR/heap.json")$note"
		RESULTS+=("heapcore heap|$secs|$rss|-|$note")
		say "heapcore heap: $secs s, max RSS $((rss / 1024)) MiB; $note"
	else
		say "heapcore heap failed (exit $rc): $(head -n 1 "$OUTDIR/heap.json.err")"
		RESULTS+=("heapcore heap|-|-|-|failed: exit $rc")
	fi

	# analyze
	if ! "$HC" --help 2>&1 | grep -qE '^ +analyze '; then
		say "heapcore has no analyze command yet: analyze skipped"
	else
		rc=0
		timed "$OUTDIR/analyze.json" "$HC" analyze --format json "$CORE" || rc=$?
		if [ $rc = 2 ] && grep -q 'unknown command' "$OUTDIR/analyze.json.err"; then
			say "heapcore has no analyze command yet: analyze skipped"
		elif [ $rc = 0 ] || [ $rc = 5 ]; then
			read -r secs rss < <(time_field "$OUTDIR/analyze.json.time")
			# hook: per-phase seconds ("timings") and peak MiB ("peak_memory") from the JSON, whatever their keys
			phases=$(python3 - "$OUTDIR/analyze.json" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
t = d.get("timings") or {}
m = d.get("peak_memory") or {}
def cell(k, v):
    mem = m.get(k)
    return "%s %.2f" % (k, v) + (" / %d" % (mem >> 20) if isinstance(mem, int) and mem else "")
print(", ".join(cell(k, v) for k, v in t.items() if isinstance(v, (int, float))) or "-")
EOF
)
			note=$(python3 - "$OUTDIR/analyze.json" "$TRUTH" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
t = json.load(open(sys.argv[2]))
l = d.get("leaks") or {}
lk = (l.get("leaked") or {}).get("count")
if lk is None:
    print("no leaks object")
else:
    print("leaked %s (truth %d), unreferenced %s (truth %d), clusters %s (truth %d)" % (
        lk, t["leaked"]["count"], (l.get("unreferenced") or {}).get("count"), t["unreferenced"]["count"],
        l.get("nclusters"), t["leaked"]["clusters"]))
EOF
)
			[ $rc = 5 ] && note="PARTIAL (exit 5); $note"
			note="$(walls "$OUTDIR/analyze.json")$note"
			RESULTS+=("heapcore analyze|$secs|$rss|$phases|$note")
			say "heapcore analyze: $secs s, max RSS $((rss / 1024)) MiB; phases: $phases; $note"
		else
			msg=$(head -n 1 "$OUTDIR/analyze.json.err")
			say "heapcore analyze failed (exit $rc): $msg: not recorded"
		fi
	fi
fi

# --- 4. docs/benchmarks.md rows ----------------------------------------------
if [ "$DOCS" = 0 ] || [ ${#RESULTS[@]} = 0 ]; then
	say "docs/benchmarks.md not changed"
	exit 0
fi
[ -f "$DOC" ] || die "$DOC missing"
machine="$(nproc) CPU $(sed -n 's/^model name[^:]*: *//p' /proc/cpuinfo | head -n 1), $(free -g | awk '/^Mem:/ {print $2}') GiB, Linux $(uname -r)"
date=$(date -u +%Y-%m-%d)
if [ -n "${BENCH_REV:-}" ]; then
	rev=$BENCH_REV
elif [ "$HC" = "$REPO/build/heapcore" ]; then
	rev=$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo "?")
	dirty=$(git -C "$REPO" status --porcelain -- src include CMakeLists.txt 2>/dev/null | head -n 1)
	[ -n "$dirty" ] && rev="$rev+"
else
	rev=$("$HC" --version 2>/dev/null | head -n 1 | sed 's/^heapcore //')
fi
python3 - "$DOC" "$TRUTH" "$date" "$machine" "$core_size" "$CORE_KIND" "$rev" "$SCALE" "${RESULTS[@]}" <<'EOF'
import json, sys
doc, truth, date, machine, core_size, kind, rev, scale = sys.argv[1:9]
t = json.load(open(truth))
core = "%.2f GiB %s" % (int(core_size) / 2**30, kind)
allocs = "%.2fM (%.2fM leaked)" % (t["allocations"] / 1e6, t["leaked"]["count"] / 1e6)
if scale not in ("1", "1.0"):
    allocs += ", scale %s" % scale
rows = []
for r in sys.argv[9:]:
    cmd, secs, rss, phases, note = r.split("|", 4)
    rss_mib = "-" if rss == "-" else "%d" % (int(rss) // 1024)
    rows.append("| %s | %s | %s | %s | %s | `%s` | %s | %s | %s | %s |" % (
        date, machine, rev, core, allocs, cmd, secs, rss_mib, phases, note))
with open(doc, "a") as f:
    f.write("\n".join(rows) + "\n")
EOF
say "appended ${#RESULTS[@]} row(s) to $DOC"
[ "${BENCH_KEEP_CORE:-1}" = 0 ] && rm -f "$CORE"
exit 0
