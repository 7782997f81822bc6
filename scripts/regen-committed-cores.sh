#!/usr/bin/env bash
# regen-committed-cores.sh - remakes tests/cores/committed/.
#
# Fetches the trixie and sid roots if needed (scripts/fetch-runtimes.sh), makes
# every scenario's cores on native, trixie and sid (scripts/make-test-cores.sh,
# with a kernel core required and each core cross-checked against its truth by
# gdb + libc6-dbg), then keeps:
#   <rt>/heap_basic.core.zst          gcore core, zstd -19        (native trixie sid)
#   <rt>/heap_basic.kernel.core.zst   kernel core, same process   (native trixie sid)
#   <rt>/heap_no_tcache.core.zst      gcore core                  (native trixie sid)
#   sid/heap_threads.core.zst         gcore core, 5 arenas        (sid only; 340 MB unpacked,
#                                     mostly zero PROT_NONE heap reservations; gdb wrote the
#                                     thread stacks as zeros, since glibc 2.43's stack guard
#                                     regions fail its reads: heapcore must cope)
#   <rt>/<scenario>.truth.json, <rt>/<scenario>.malloc_info.xml
#   native/heap_basic.kernel.core.xz, .lz4   the smallest core in the other formats
#   native/leak_native.core.zst + native/leak_native   the demo core and its executable
#                                     (passed as BINARY: DWARF names the chains)
#   manifest.json                     what each file is and how it was made
# Needs root (chroot), gcc, gdb, python3, zstd, xz, lz4, and for the native
# truth check libc6-dbg (apt-get install libc6-dbg).
set -euo pipefail

die() { echo "regen-committed-cores: $*" >&2; exit 1; }

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
DEST=$HERE/../tests/cores/committed
RUNTIMES_DIR=${HEAPCORE_RUNTIMES:-${HOME:-/root}/.cache/heapcore/runtimes}
for tool in zstd xz lz4 python3; do
	command -v "$tool" >/dev/null || die "$tool not found"
done

HEAPCORE_SUITES="trixie sid" "$HERE/fetch-runtimes.sh" "$RUNTIMES_DIR" >/dev/null ||
	die "fetching the trixie/sid roots failed"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/heapcore-regen.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
HEAPCORE_RUNTIMES=$RUNTIMES_DIR HEAPCORE_KERNEL_CORE=require HEAPCORE_CHECK_TRUTH=1 \
	HEAPCORE_SCENARIOS="heap_basic heap_no_tcache heap_threads" \
	"$HERE/make-test-cores.sh" "$WORK" native trixie sid >"$WORK/make.log" 2>&1 ||
	die "make-test-cores failed: $(tail -n 1 "$WORK/make.log")"

rm -rf "$DEST/native" "$DEST/trixie" "$DEST/sid" "$DEST/manifest.json"
mkdir -p "$DEST"
keep() { # RT SCENARIO [kernel]
	local rt=$1 s=$2 d=$DEST/$1
	mkdir -p "$d"
	zstd -19 -T0 -q -f "$WORK/$rt/$s.core" -o "$d/$s.core.zst"
	if [ "${3:-}" = kernel ]; then
		zstd -19 -T0 -q -f "$WORK/$rt/$s.kernel.core" -o "$d/$s.kernel.core.zst"
	fi
	cp "$WORK/$rt/$s.truth.json" "$WORK/$rt/$s.malloc_info.xml" "$d/"
}
for rt in native trixie sid; do
	keep "$rt" heap_basic kernel
	keep "$rt" heap_no_tcache
done
keep sid heap_threads
# the demo core (scripts/demo.sh): leaks, anchors and chains, with its binary for names
keep native leak_native
cp "$WORK/bin/leak_native" "$DEST/native/leak_native"
xz -9 -c "$WORK/native/heap_basic.kernel.core" >"$DEST/native/heap_basic.kernel.core.xz"
lz4 -9 -q -c "$WORK/native/heap_basic.kernel.core" >"$DEST/native/heap_basic.kernel.core.lz4"

python3 - "$WORK" "$DEST" <<'EOF'
import hashlib, json, os, platform, subprocess, sys, time
work, dest = sys.argv[1], sys.argv[2]

def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for b in iter(lambda: f.read(1 << 20), b""):
            h.update(b)
    return h.hexdigest()

def first_line(cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True).stdout.splitlines()[0]
    except Exception:
        return ""

files = []
for rt in ("native", "trixie", "sid"):
    rtinfo = json.load(open(os.path.join(work, rt, "runtime.json")))
    for name in sorted(os.listdir(os.path.join(dest, rt))):
        path = os.path.join(dest, rt, name)
        if os.path.isdir(path) or ".core" not in name:
            continue
        base = name.split(".")[0]
        comp = name.rsplit(".", 1)[1]
        raw = os.path.join(work, rt, name[: name.index(".core") + 5])
        truth = json.load(open(os.path.join(dest, rt, base + ".truth.json")))
        files.append({
            "file": "%s/%s" % (rt, name),
            "scenario": base,
            "runtime": rt,
            "glibc": rtinfo["glibc"],
            "libc6": rtinfo["libc6"],
            "libc_build_id": rtinfo["libc_build_id"],
            "libc_in_core": "/usr/lib/x86_64-linux-gnu/libc.so.6",
            "maker": "kernel (SIGABRT, core_pattern 'core')" if ".kernel." in name else "gdb gcore",
            "compression": {"zst": "zstd -19", "xz": "xz -9", "lz4": "lz4 -9"}[comp],
            "size": os.path.getsize(raw),
            "sha256": sha256(raw),
            "truth": "%s/%s.truth.json" % (rt, base),
            "malloc_info": "%s/%s.malloc_info.xml" % (rt, base),
            "pid": truth["pid"],
            "tunables": truth["tunables"],
        })
manifest = {
    "made_by": "scripts/regen-committed-cores.sh (scripts/make-test-cores.sh + scripts/gdb-check-truth.py)",
    "date": time.strftime("%Y-%m-%d"),
    "host": {"kernel": platform.release(), "gcc": first_line(["gcc", "--version"]),
             "gdb": first_line(["gdb", "--version"])},
    "scenarios_built_with": "gcc -O1 -g -pthread against the host glibc 2.36 headers",
    "notes": [
        "Each core is compressed; the tool reads .zst/.xz/.lz4 directly.",
        "heap_basic.core and heap_basic.kernel.core of a runtime are the same process: one truth.",
        "trixie/sid cores ran under chroot ROOT; their NT_FILE paths are the root's.",
        "No libc is committed: the tests read these cores from the core alone, and with files"
        " when scripts/fetch-runtimes.sh still fetches the same libc6 (build-ids in 'files').",
        "sid/heap_threads.core unpacks to ~340 MB (zero PROT_NONE heap reservations).",
    ],
    "files": files,
}
with open(os.path.join(dest, "manifest.json"), "w") as f:
    json.dump(manifest, f, indent=1)
    f.write("\n")
EOF
echo "regen-committed-cores: $(du -sb "$DEST" | cut -f1) bytes in $DEST"
