#!/usr/bin/env bash
# make-test-cores.sh OUTDIR [RUNTIME...]
#
# Builds the scenarios of tests/cores/scenarios (gcc -O1 -g, against the host
# glibc; leak_* with -fno-omit-frame-pointer; .cpp ones with g++) into
# OUTDIR/bin, runs each on each RUNTIME, waits for READY, takes a core with
# gdb's gcore and kills the process. RUNTIME is
#   native   the host glibc
#   trixie   glibc 2.41 in a private root (scripts/fetch-runtimes.sh)
#   sid      glibc 2.43 in a private root
# Default: native plus every root already present in
# ${HEAPCORE_RUNTIMES:-${HOME:-/root}/.cache/heapcore/runtimes}. A runtime named on the
# command line but missing is fetched first (needs the Debian mirror), and a root
# without libstdc++6/libgcc-s1 gets them when a C++ scenario is to be made.
# Under trixie/sid the binary is copied into the root and run with chroot, so
# the core's paths are the root's (give heapcore --sysroot ROOT); the NT_FILE
# paths that gcore takes from the host's view are rewritten to match.
#
# Output, per runtime R:
#   OUTDIR/R/<scenario>.core             gcore core
#   OUTDIR/R/<scenario>.truth.json       ground truth (tests/cores/scenarios/truth.h)
#   OUTDIR/R/<scenario>.malloc_info.xml  malloc_info(0) at the same moment
#   OUTDIR/R/<s>.kernel.core             kernel core of the same process, for heap_basic,
#                                        heap_threads and leak_native
#                                        (SIGABRT after gcore; skipped with a warning
#                                        if core_pattern is a pipe or RLIMIT_CORE is 0)
#   OUTDIR/R/runtime.json                {"runtime", "sysroot", "glibc", "libc_build_id", ...}
# A scenario whose truth has "groups" (leak_*) is checked for stray copies of
# its pointers (scripts/check-no-stray-pointers.py; HEAPCORE_CHECK_STRAY=0 skips).
#
# Environment: HEAPCORE_SCENARIOS (default "heap_basic heap_no_tcache heap_threads
# leak_native leak_cxx"),
# HEAPCORE_READY_TIMEOUT (s, default 60), HEAPCORE_GCORE_TIMEOUT (s, default 600),
# HEAPCORE_KERNEL_CORE=0 to skip the kernel core, =require to fail without it,
# HEAPCORE_CHECK_TRUTH=1 to cross-check each core against its truth with gdb and
# libc's debug symbols (scripts/gdb-check-truth.py; needs libc6-dbg in the root,
# which the fetched roots have; for native: apt-get install libc6-dbg).
# Exits non-zero with a one-line reason on failure; never leaves a scenario running.
set -euo pipefail

die() { echo "make-test-cores: $*" >&2; exit 1; }
warn() { echo "make-test-cores: warning: $*" >&2; }

[ $# -ge 1 ] || die "usage: make-test-cores.sh OUTDIR [native|trixie|sid]..."
OUTDIR=$1
shift
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SRC=$HERE/../tests/cores/scenarios
RUNTIMES_DIR=${HEAPCORE_RUNTIMES:-${HOME:-/root}/.cache/heapcore/runtimes}
SCENARIOS=${HEAPCORE_SCENARIOS:-heap_basic heap_no_tcache heap_threads leak_native leak_cxx}
READY_TIMEOUT=${HEAPCORE_READY_TIMEOUT:-60}
GCORE_TIMEOUT=${HEAPCORE_GCORE_TIMEOUT:-600}
KERNEL_CORE=${HEAPCORE_KERNEL_CORE:-1}
CHECK=${HEAPCORE_CHECK_TRUTH:-0}
CHECK_STRAY=${HEAPCORE_CHECK_STRAY:-1}

for tool in gcc gdb python3 readelf timeout; do
	command -v "$tool" >/dev/null || die "$tool not found (apt-get install gcc gdb python3 binutils coreutils)"
done
[ -f "$SRC/truth.c" ] || die "scenario sources not found in $SRC"
needs_cxx=0
if ! command -v g++ >/dev/null && [ -z "${HEAPCORE_SCENARIOS:-}" ]; then
	# the default list: make the C scenarios anyway
	kept=
	for s in $SCENARIOS; do
		if [ -f "$SRC/$s.cpp" ]; then
			warn "g++ not found (apt-get install g++): $s not made"
		else
			kept="$kept $s"
		fi
	done
	SCENARIOS=$kept
fi
for s in $SCENARIOS; do
	[ -f "$SRC/$s.cpp" ] && needs_cxx=1
done
if [ $needs_cxx = 1 ]; then
	command -v g++ >/dev/null || die "g++ not found (apt-get install g++), needed for the C++ scenarios"
fi

mkdir -p "$OUTDIR" || die "cannot create $OUTDIR"
OUTDIR=$(cd "$OUTDIR" && pwd)

# --- children are always killed ------------------------------------------
CHILDREN=()
cleanup() {
	local pid
	for pid in "${CHILDREN[@]}"; do
		kill -KILL "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- runtimes ---------------------------------------------------------------
root_of() {
	case "$1" in
	native) echo / ;;
	*) echo "$RUNTIMES_DIR/$1" ;;
	esac
}
root_present() { [ -f "$RUNTIMES_DIR/$1/.heapcore-runtime.json" ]; }
# present, with libstdc++ if a C++ scenario is to run (fetch-runtimes.sh adds it)
root_complete() {
	root_present "$1" && { [ $needs_cxx = 0 ] || [ -f "$RUNTIMES_DIR/$1/.heapcore-cxx.json" ]; }
}

if [ $# -eq 0 ]; then
	set -- native
	for r in trixie sid; do
		if root_present "$r"; then set -- "$@" "$r"; fi
	done
fi
for r in "$@"; do
	case "$r" in
	native) ;;
	trixie | sid)
		if ! root_complete "$r"; then
			HEAPCORE_SUITES=$r HEAPCORE_PYTHONS= "$HERE/fetch-runtimes.sh" "$RUNTIMES_DIR" >/dev/null ||
				die "runtime $r is missing (or lacks libstdc++ for the C++ scenarios) and could not be fetched"
		fi
		;;
	*) die "unknown runtime '$r' (native, trixie, sid)" ;;
	esac
done

# --- build ------------------------------------------------------------------
BIN=$OUTDIR/bin
mkdir -p "$BIN"
for s in $SCENARIOS; do
	extra=()
	case "$s" in leak_*) extra=(-fno-omit-frame-pointer) ;; esac
	if [ -f "$SRC/$s.c" ]; then
		gcc -O1 -g -Wall -Wextra -Werror -pthread "${extra[@]}" -o "$BIN/$s" "$SRC/$s.c" "$SRC/truth.c" \
			2>"$BIN/$s.build.log" || die "building $s failed: $(head -n 1 "$BIN/$s.build.log")"
	elif [ -f "$SRC/$s.cpp" ]; then
		{ gcc -O1 -g -Wall -Wextra -Werror -pthread "${extra[@]}" -c -o "$BIN/$s.truth.o" "$SRC/truth.c" &&
			g++ -O1 -g -Wall -Wextra -Werror -pthread "${extra[@]}" -o "$BIN/$s" "$SRC/$s.cpp" "$BIN/$s.truth.o"; } \
			2>"$BIN/$s.build.log" || die "building $s failed: $(head -n 1 "$BIN/$s.build.log")"
		rm -f "$BIN/$s.truth.o"
	else
		die "no scenario $s ($SRC/$s.c or .cpp)"
	fi
done

# --- kernel cores -----------------------------------------------------------
kernel_core_ok=1
if [ "$KERNEL_CORE" != 0 ]; then
	pattern=$(cat /proc/sys/kernel/core_pattern 2>/dev/null || echo "?")
	case "$pattern" in
	core | core.%p | core.*) ;;
	*) kernel_core_ok=0; why="core_pattern is '$pattern', not 'core' in the cwd" ;;
	esac
	if [ $kernel_core_ok = 1 ] && ! ulimit -c unlimited 2>/dev/null; then
		kernel_core_ok=0
		why="cannot raise RLIMIT_CORE (hard limit $(ulimit -H -c))"
	fi
	if [ $kernel_core_ok = 0 ]; then
		[ "$KERNEL_CORE" = require ] && die "no kernel core possible: $why"
		warn "no kernel core: $why"
	fi
else
	kernel_core_ok=0
fi

glibc_of_root() { # ROOT -> version from the loader
	if [ "$1" = / ]; then
		getconf GNU_LIBC_VERSION | awk '{print $2}'
	else
		chroot "$1" /lib64/ld-linux-x86-64.so.2 --version | sed -n '1s/.* version \([0-9][0-9.]*[0-9]\).*/\1/p'
	fi
}

libc_path_of_root() {
	local root=${1%/} p
	for p in /usr/lib/x86_64-linux-gnu/libc.so.6 /lib/x86_64-linux-gnu/libc.so.6; do
		if [ -e "$root$p" ]; then
			readlink -f "$root$p"
			return
		fi
	done
}

# --- one scenario -------------------------------------------------------------
run_scenario() { # RUNTIME ROOT SCENARIO
	local rt=$1 root=$2 s=$3
	local dest=$OUTDIR/$rt rundir hostrundir cmd
	if [ "$root" = / ]; then
		hostrundir=$OUTDIR/$rt/run/$s
		rundir=$hostrundir
	else
		rundir=/heapcore-tests/run/$s
		hostrundir=$root$rundir
		mkdir -p "$root/heapcore-tests/bin"
		cp -f "$BIN/$s" "$root/heapcore-tests/bin/$s"
	fi
	rm -rf "$hostrundir" && mkdir -p "$hostrundir"
	rm -f "$dest/$s.core" "$dest/$s.truth.json" "$dest/$s.malloc_info.xml" "$dest/$s.kernel.core"

	local tunables=
	[ "$s" = heap_no_tcache ] && tunables=glibc.malloc.tcache_count=0
	if [ "$root" = / ]; then
		cmd=("$BIN/$s" --outdir "$rundir")
	else
		cmd=(chroot "$root" "/heapcore-tests/bin/$s" --outdir "$rundir")
	fi
	if [ -n "$tunables" ]; then
		env -u LD_PRELOAD GLIBC_TUNABLES=$tunables "${cmd[@]}" >"$hostrundir/stdout" 2>"$hostrundir/stderr" &
	else
		env -u LD_PRELOAD -u GLIBC_TUNABLES "${cmd[@]}" >"$hostrundir/stdout" 2>"$hostrundir/stderr" &
	fi
	local pid=$!
	CHILDREN+=("$pid")

	local waited=0
	while ! grep -q '^READY ' "$hostrundir/stdout" 2>/dev/null; do
		if ! kill -0 "$pid" 2>/dev/null; then
			wait "$pid" 2>/dev/null && rc=0 || rc=$?
			die "$rt/$s exited (status $rc) before READY: $(head -n 1 "$hostrundir/stderr")"
		fi
		if [ $waited -ge $((READY_TIMEOUT * 10)) ]; then
			die "$rt/$s: no READY within ${READY_TIMEOUT}s"
		fi
		sleep 0.1
		waited=$((waited + 1))
	done
	local rpid
	rpid=$(sed -n 's/^READY \([0-9]*\).*/\1/p' "$hostrundir/stdout" | head -n 1)
	[ "$rpid" = "$pid" ] || die "$rt/$s: READY $rpid, but the process started is $pid"

	local gdbargs=(-batch -nx -iex "set debuginfod enabled off" -iex "set auto-load no")
	if [ "$root" != / ]; then
		# the root's libthread_db cannot be loaded into the host's gdb; the
		# core gets every thread from /proc/PID/task anyway
		gdbargs+=(-iex "set sysroot $root" -iex "set libthread-db-search-path /nonexistent")
	fi
	gdbargs+=(-ex "attach $pid" -ex "gcore $dest/$s.core.tmp" -ex detach -ex quit)
	if ! timeout "$GCORE_TIMEOUT" gdb "${gdbargs[@]}" >"$hostrundir/gcore.log" 2>&1 ||
		[ ! -s "$dest/$s.core.tmp" ]; then
		die "$rt/$s: gcore failed: $(grep -iE 'error|cannot|fail' "$hostrundir/gcore.log" | head -n 1)"
	fi
	if [ "$root" != / ]; then
		python3 "$HERE/core-strip-sysroot.py" "$dest/$s.core.tmp" "$root" ||
			die "$rt/$s: rewriting the core's NT_FILE paths failed"
	fi
	# gdb writes PROT_NONE reservations (64 MiB per arena heap) as zeros:
	# make them holes on disk; readers see the same bytes
	fallocate --dig-holes "$dest/$s.core.tmp" 2>/dev/null || true
	mv "$dest/$s.core.tmp" "$dest/$s.core"

	local kernel=0
	if { [ "$s" = heap_basic ] || [ "$s" = heap_threads ] || [ "$s" = leak_native ]; } && [ $kernel_core_ok = 1 ]; then
		kernel=1
		kill -ABRT "$pid"
	else
		kill -KILL "$pid"
	fi
	wait "$pid" 2>/dev/null || true
	if [ $kernel = 1 ]; then
		local kc=
		for f in "$hostrundir/core.$pid" "$hostrundir/core"; do
			[ -s "$f" ] && kc=$f && break
		done
		if [ -n "$kc" ]; then
			mv "$kc" "$dest/$s.kernel.core"
		else
			[ "$KERNEL_CORE" = require ] && die "$rt/$s: the kernel wrote no core in $hostrundir"
			warn "$rt/$s: the kernel wrote no core in $hostrundir"
		fi
	fi

	for f in truth.json malloc_info.xml; do
		[ -s "$hostrundir/$s.$f" ] || die "$rt/$s: $s.$f missing"
		cp "$hostrundir/$s.$f" "$dest/$s.$f"
	done
	python3 - "$dest/$s.truth.json" "$pid" <<'EOF' || die "$rt/$s: bad truth JSON"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["pid"] == int(sys.argv[2]), "pid"
assert d["addresses"] and d["mallinfo2"]["arena"] > 0
EOF
	if [ "$CHECK_STRAY" != 0 ] && grep -q '"groups"' "$dest/$s.truth.json"; then
		local c
		: >"$dest/$s.stray-check.txt"
		for c in "$dest/$s.core" "$dest/$s.kernel.core"; do
			[ -e "$c" ] || continue
			python3 "$HERE/check-no-stray-pointers.py" "$c" "$dest/$s.truth.json" \
				>>"$dest/$s.stray-check.txt" 2>&1 ||
				die "$rt/$s: stray pointer check of $(basename "$c") failed: $(grep -m1 -E 'STRAY|FAIL|check-no-stray' "$dest/$s.stray-check.txt")"
		done
	fi
	local dbgfile=${root%/}/usr/lib/debug/.build-id/${LIBC_BID:0:2}/${LIBC_BID:2}.debug
	if [ "$CHECK" = 1 ] && [ ! -e "$dbgfile" ]; then
		warn "$rt/$s: no truth check: $dbgfile missing (apt-get install libc6-dbg)"
	elif [ "$CHECK" = 1 ]; then
		local c exe=$BIN/$s
		[ "$root" = / ] || exe=$root/heapcore-tests/bin/$s
		for c in "$dest/$s.core" "$dest/$s.kernel.core"; do
			[ -e "$c" ] || continue
			TRUTH=$dest/$s.truth.json timeout 300 gdb -batch -nx -iex "set debuginfod enabled off" \
				-iex "set auto-load no" -iex "set sysroot $root" \
				-iex "set debug-file-directory ${root%/}/usr/lib/debug" \
				-x "$HERE/gdb-check-truth.py" "$exe" "$c" >"$hostrundir/check.log" 2>&1 ||
				die "$rt/$s: truth check of $(basename "$c") failed: $(grep -m1 'truth-check FAIL' "$hostrundir/check.log")"
		done
	fi
	echo "$rt/$s: $(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); m=d["mallinfo2"]; print("glibc %s, %d threads, %d labels, %d groups; mallinfo2 arena=%d ordblks=%d smblks=%d hblks=%d hblkhd=%d uordblks=%d fordblks=%d fsmblks=%d keepcost=%d" % (d["glibc_version"], len(d["threads"]), len(d["addresses"]), len(d.get("groups", [])), m["arena"], m["ordblks"], m["smblks"], m["hblks"], m["hblkhd"], m["uordblks"], m["fordblks"], m["fsmblks"], m["keepcost"]))' "$dest/$s.truth.json")"
}

for rt in "$@"; do
	root=$(root_of "$rt")
	mkdir -p "$OUTDIR/$rt"
	glibc=$(glibc_of_root "$root") || true
	[ -n "$glibc" ] || die "$rt: cannot tell the glibc version of $root"
	libc=$(libc_path_of_root "$root")
	[ -n "$libc" ] || die "$rt: no libc.so.6 in $root"
	bid=$(readelf -n "$libc" | sed -n 's/^ *Build ID: *//p' | head -n 1)
	LIBC_BID=$bid
	pkg=
	if [ "$root" = / ]; then
		pkg=$(dpkg-query -W -f '${Version}' libc6 2>/dev/null || true)
	else
		pkg=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1])).get("libc6",""))' "$root/.heapcore-runtime.json")
	fi
	cat >"$OUTDIR/$rt/runtime.json" <<EOF
{"runtime": "$rt", "sysroot": "$root", "glibc": "$glibc", "libc6": "$pkg", "libc_build_id": "$bid"}
EOF
	for s in $SCENARIOS; do
		run_scenario "$rt" "$root" "$s"
	done
done
