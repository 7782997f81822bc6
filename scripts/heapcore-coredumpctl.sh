#!/bin/sh
# heapcore-coredumpctl.sh [MATCH...] - analyses the newest core systemd-coredump stored.
#
# MATCH is what coredumpctl takes (a PID, an executable's name or path, COREDUMP_UID=...);
# without one, the newest core of all. The core is extracted with `coredumpctl dump`, analysed
# with `heapcore analyze` (its report on stdout; pass options in HEAPCORE_OPTIONS, e.g.
# "--format json"), and deleted. HEAPCORE: the heapcore binary (default build/heapcore beside
# this script's directory, else heapcore on PATH).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
hc=${HEAPCORE:-$here/../build/heapcore}
[ -x "$hc" ] || hc=$(command -v heapcore || echo heapcore)
command -v coredumpctl >/dev/null || { echo "heapcore-coredumpctl: coredumpctl not found (systemd-coredump)" >&2; exit 3; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
coredumpctl -q -1 dump -o "$tmp/core" "$@" >/dev/null
exe=$(coredumpctl -q -1 info "$@" | sed -n 's/^ *Executable: //p' | head -n 1)
# shellcheck disable=SC2086
"$hc" analyze ${HEAPCORE_OPTIONS:-} "$tmp/core" ${exe:+"$exe"}
