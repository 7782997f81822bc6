#!/bin/sh
# heapcore-watch.sh - snapshots a process when its memory crosses a threshold.
#
#   heapcore-watch.sh --pid PID --max SIZE --out DIR [options]
#   heapcore-watch.sh --cgroup /sys/fs/cgroup/GROUP [--max SIZE | --fraction F] --out DIR [options]
#
# With --pid it watches the process's RSS; with --cgroup, the group's memory.current against
# --max, or against --fraction (default 0.9) of its memory.max (memory.high when max is "max"),
# and snapshots the group's process with the largest RSS. When the threshold is crossed it
# stops the process just long enough to copy it (`heapcore dump`), lets it go, and writes
# DIR/heapcore.PID.TIME.report.txt and .report.json (`heapcore analyze`), keeping the core
# (DIR/heapcore.PID.TIME.core) with --core. Then --then continue (the default) leaves the
# process running, --then kill kills it (SIGKILL).
# Bounded: one snapshot per episode (it re-arms when usage falls below 90% of the threshold),
# --episodes N of them (default 1) before it exits, and no snapshot when DIR already holds
# --max-disk bytes (default 8G). --interval SECONDS between readings (default 0.5).
# HEAPCORE: the heapcore binary (default build/heapcore beside this script's directory, else
# heapcore on PATH). Exit: 0 done (episodes taken, or the process ended), 2 usage.
set -u
here=$(cd "$(dirname "$0")" && pwd)
hc=${HEAPCORE:-$here/../build/heapcore}
[ -x "$hc" ] || hc=$(command -v heapcore || echo heapcore)
pid= cgroup= max= fraction=0.9 out= keep_core=0 then=continue interval=0.5 maxdisk=8G episodes=1

usage() { echo "heapcore-watch: $*" >&2; exit 2; }
bytes() {
	case "$1" in
	*K | *k) echo $(( ${1%?} * 1024 )) ;;
	*M | *m) echo $(( ${1%?} * 1048576 )) ;;
	*G | *g) echo $(( ${1%?} * 1073741824 )) ;;
	*[!0-9]*) usage "not a size: $1" ;;
	*) echo "$1" ;;
	esac
}
while [ $# -gt 0 ]; do
	case "$1" in
	--pid) pid=$2; shift ;;
	--cgroup) cgroup=$2; shift ;;
	--max) max=$(bytes "$2"); shift ;;
	--fraction) fraction=$2; shift ;;
	--out) out=$2; shift ;;
	--core) keep_core=1 ;;
	--then) then=$2; shift ;;
	--interval) interval=$2; shift ;;
	--max-disk) maxdisk=$(bytes "$2"); shift ;;
	--episodes) episodes=$2; shift ;;
	*) usage "unknown option $1" ;;
	esac
	shift
done
[ -n "$out" ] || usage "--out DIR is required"
[ -n "$pid$cgroup" ] || usage "--pid PID or --cgroup DIR is required"
[ -z "$pid" ] || [ -n "$max" ] || usage "--pid needs --max SIZE"
case "$then" in continue | kill) ;; *) usage "--then takes continue or kill" ;; esac
maxdisk=$(bytes "$maxdisk")
mkdir -p "$out" || usage "cannot create $out"

# the usage and the process to snapshot, as "BYTES PID"; empty when there is nothing to watch
reading() {
	if [ -n "$pid" ]; then
		kb=$(sed -n 's/^VmRSS:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$pid/status" 2>/dev/null)
		[ -n "$kb" ] && echo "$((kb * 1024)) $pid"
		return
	fi
	cur=$(cat "$cgroup/memory.current" 2>/dev/null) || return
	big= bigkb=0
	for p in $(cat "$cgroup/cgroup.procs" 2>/dev/null); do
		kb=$(sed -n 's/^VmRSS:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$p/status" 2>/dev/null)
		[ -n "$kb" ] && [ "$kb" -gt "$bigkb" ] && big=$p bigkb=$kb
	done
	[ -n "$big" ] && echo "$cur $big"
}
if [ -z "$max" ]; then
	limit=$(cat "$cgroup/memory.max" 2>/dev/null || echo max)
	[ "$limit" = max ] && limit=$(cat "$cgroup/memory.high" 2>/dev/null || echo max)
	[ "$limit" = max ] && usage "$cgroup has no memory.max or memory.high: give --max"
	max=$(awk -v l="$limit" -v f="$fraction" 'BEGIN { printf "%d", l * f }')
fi
rearm=$((max / 10 * 9))

taken=0 armed=1
while [ "$taken" -lt "$episodes" ]; do
	r=$(reading)
	if [ -z "$r" ]; then
		echo "heapcore-watch: nothing left to watch" >&2
		exit 0
	fi
	used=${r% *} target=${r#* }
	if [ "$armed" = 1 ] && [ "$used" -ge "$max" ]; then
		armed=0
		taken=$((taken + 1))
		stamp=$(date +%Y%m%dT%H%M%S)
		base="$out/heapcore.$target.$stamp"
		held=$(du -sb "$out" | cut -f1)
		if [ "$held" -ge "$maxdisk" ]; then
			echo "heapcore-watch: $out holds $held bytes (--max-disk $maxdisk): no snapshot of $target" >&2
		elif "$hc" dump "$target" -o "$base.core"; then
			"$hc" analyze "$base.core" >"$base.report.txt" 2>"$base.report.err"
			"$hc" analyze --format json "$base.core" >"$base.report.json" 2>>"$base.report.err"
			[ "$keep_core" = 1 ] || rm -f "$base.core"
			echo "heapcore-watch: process $target at $used bytes (threshold $max): report $base.report.txt" >&2
		fi
		[ "$then" = kill ] && kill -KILL "$target" 2>/dev/null
	elif [ "$armed" = 0 ] && [ "$used" -lt "$rearm" ]; then
		armed=1
	fi
	sleep "$interval"
done
exit 0
