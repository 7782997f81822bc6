#!/usr/bin/env bash
# fetch-runtimes.sh [DIR] - private glibc roots for the test cores.
#
# Makes DIR/trixie (glibc 2.41) and DIR/sid (glibc 2.43): libc6 and libc6-dbg
# unpacked with dpkg -x, plus the /lib64 and /lib links a chroot needs, so that
#   chroot DIR/sid /lib64/ld-linux-x86-64.so.2 --version
# works and a scenario binary built against the host glibc runs in it.
# libstdc++6 and libgcc-s1 are unpacked too, for the C++ scenario (leak_cxx);
# a root fetched before they were added gets them on the next run (marker
# ROOT/.heapcore-cxx.json), without touching its libc.
#
# It also makes DIR/python3.9 (bullseye), DIR/python3.13 (trixie) and
# DIR/python3.14 (sid): the suite's libc6, zlib1g, libexpat1, libffi and
# python3.X-minimal, libpython3.X-minimal and libpython3.X-stdlib, so that
#   chroot DIR/python3.13 /usr/bin/python3.13 -c 'import ctypes, threading'
# runs, for the CPython test cores (tests/unit/test_cpython.c). Narrow them
# with HEAPCORE_PYTHONS="3.13" (default "3.9 3.13 3.14"; "" for none).
#
# DIR defaults to ${HEAPCORE_RUNTIMES:-${HOME:-/root}/.cache/heapcore/runtimes}.
# The suites to fetch can be narrowed with HEAPCORE_SUITES="sid" (default
# "trixie sid"). A root that is already complete is left alone (delete it,
# or set HEAPCORE_REFRESH=1, to fetch again).
#
# apt runs with a private configuration (its own sources.list, lists and
# cache under DIR/.apt); the host's apt state is not touched. The mirror is
# the Debian archive this machine's own apt sources use (override with
# HEAPCORE_DEBIAN_MIRROR=URI).
#
# Prints one line per root; exits non-zero with a one-line reason on failure.
set -euo pipefail

die() { echo "fetch-runtimes: $*" >&2; exit 1; }

DIR=${1:-${HEAPCORE_RUNTIMES:-${HOME:-/root}/.cache/heapcore/runtimes}}
SUITES=${HEAPCORE_SUITES:-trixie sid}
ARCH=$(dpkg --print-architecture 2>/dev/null) || die "dpkg not found (Debian/Ubuntu host needed)"

command -v apt-get >/dev/null || die "apt-get not found"
command -v dpkg-deb >/dev/null || die "dpkg-deb not found"


# The .debs of DL unpacked into a fresh root TMP, for chroot: merged-/usr packages ship only usr/,
# so lib, lib64, bin and sbin link into it; and the directories a chroot needs.
unpack_root() {
	local dl=$1 tmp=$2 deb d
	rm -rf "$tmp" && mkdir -p "$tmp"
	for deb in "$dl"/*.deb; do
		dpkg-deb -x "$deb" "$tmp" || die "dpkg-deb -x $deb failed"
	done
	for d in lib lib64 bin sbin; do
		if [ ! -e "$tmp/$d" ] && [ ! -L "$tmp/$d" ]; then
			mkdir -p "$tmp/usr/$d"
			ln -s "usr/$d" "$tmp/$d"
		fi
	done
	mkdir -p "$tmp/tmp" "$tmp/proc" "$tmp/dev" && chmod 1777 "$tmp/tmp"
}
# The Debian archive URI this machine's apt uses: the first URI in
# /etc/apt/sources.list{,.d/*} whose path ends in /debian (not debian-security).
find_mirror() {
	local f
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
		[ -r "$f" ] || continue
		case "$f" in
		*.sources)
			awk 'tolower($1) == "uris:" { for (i = 2; i <= NF; i++) print $i }' "$f" ;;
		*)
			# one-line format: deb [opts] URI suite components
			awk '$1 == "deb" { for (i = 2; i <= NF; i++) { if ($i ~ /^\[/) { while ($i !~ /\]$/ && i < NF) i++; continue } print $i; break } }' "$f" ;;
		esac
	done | grep -E '^(https?|ftp)://[^ ]*/debian/?$' | head -n 1 | sed 's:/*$::'
}

MIRROR=${HEAPCORE_DEBIAN_MIRROR:-$(find_mirror || true)}
[ -n "$MIRROR" ] || die "no Debian archive URI (…/debian) in /etc/apt/sources.list*; set HEAPCORE_DEBIAN_MIRROR"

KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
[ -r "$KEYRING" ] || die "$KEYRING missing (install debian-archive-keyring)"

mkdir -p "$DIR" || die "cannot create $DIR"
DIR=$(cd "$DIR" && pwd)

# A root is complete when its marker exists and the loader runs in it.
root_ok() {
	local root=$1
	[ -f "$root/.heapcore-runtime.json" ] && [ -e "$root/lib64/ld-linux-x86-64.so.2" ] &&
		{ [ -e "$root/usr/lib/x86_64-linux-gnu/libc.so.6" ] || [ -e "$root/lib/x86_64-linux-gnu/libc.so.6" ]; }
}

# The C++ runtime (leak_cxx) is in the root.
cxx_ok() {
	local root=$1
	[ -f "$root/.heapcore-cxx.json" ] && [ -e "$root/usr/lib/x86_64-linux-gnu/libstdc++.so.6" ] &&
		[ -e "$root/usr/lib/x86_64-linux-gnu/libgcc_s.so.1" ]
}
CXX_PKGS="libstdc++6 libgcc-s1"

apt_opts() {
	local suite=$1
	local base=$DIR/.apt/$suite
	printf '%s\n' \
		-q -q \
		-o "Dir::Etc::SourceList=$base/sources.list" \
		-o "Dir::Etc::SourceParts=/dev/null" \
		-o "Dir::Etc::Preferences=/dev/null" \
		-o "Dir::Etc::PreferencesParts=/dev/null" \
		-o "Dir::State::Lists=$base/lists" \
		-o "Dir::State::status=$base/status" \
		-o "Dir::Cache=$base/cache" \
		-o "Dir::Cache::pkgcache=" \
		-o "Dir::Cache::srcpkgcache=" \
		-o "APT::Architecture=$ARCH" \
		-o "APT::Architectures=$ARCH" \
		-o "Acquire::Languages=none" \
		-o "Acquire::IndexTargets::deb::Contents-deb::DefaultEnabled=false" \
		-o "Acquire::http::Timeout=30" \
		-o "Acquire::https::Timeout=30" \
		-o "Acquire::Retries=2" \
		-o "Debug::NoLocking=1"
}

# DEBDIR ROOT: ROOT/.heapcore-cxx.json from the C++ runtime packages in DEBDIR.
write_cxx_marker() {
	local dl=$1 root=$2 vstd vgcc
	vstd=$(dpkg-deb -f "$dl"/libstdc++6_*.deb Version) || die "no libstdc++6 package in $dl"
	vgcc=$(dpkg-deb -f "$dl"/libgcc-s1_*.deb Version) || die "no libgcc-s1 package in $dl"
	[ -e "$root/usr/lib/x86_64-linux-gnu/libstdc++.so.6" ] || die "libstdc++6 $vstd has no libstdc++.so.6"
	cat >"$root/.heapcore-cxx.json" <<EOF
{"libstdc++6": "$vstd", "libgcc-s1": "$vgcc"}
EOF
}

fetch_suite() {
	local suite=$1
	local root=$DIR/$suite base=$DIR/.apt/$suite
	if [ "${HEAPCORE_REFRESH:-0}" != 1 ] && root_ok "$root" && cxx_ok "$root"; then
		echo "$suite: present in $root ($(sed -n 's/.*"glibc": *"\([^"]*\)".*/glibc \1/p' "$root/.heapcore-runtime.json"))"
		return 0
	fi
	mkdir -p "$base/lists/partial" "$base/cache/archives/partial"
	: >"$base/status"
	echo "deb [signed-by=$KEYRING] $MIRROR $suite main" >"$base/sources.list"
	mapfile -t opts < <(apt_opts "$suite")

	local log=$base/apt.log
	if ! apt-get "${opts[@]}" --error-on=any update >"$log" 2>&1; then
		die "apt-get update for $suite from $MIRROR failed (mirror unreachable?): $(grep -E '^(E|W):' "$log" | head -n 1)"
	fi

	local dl=$base/debs
	if [ "${HEAPCORE_REFRESH:-0}" != 1 ] && root_ok "$root"; then
		# a complete root from before the C++ runtime was added: add it only
		rm -rf "$dl" && mkdir -p "$dl"
		# shellcheck disable=SC2086
		if ! (cd "$dl" && apt-get "${opts[@]}" download $CXX_PKGS) >>"$log" 2>&1; then
			die "apt-get download $CXX_PKGS ($suite) failed: $(grep -E '^(E|W):' "$log" | head -n 1)"
		fi
		local deb
		for deb in "$dl"/*.deb; do
			dpkg-deb -x "$deb" "$root" || die "dpkg-deb -x $deb failed"
		done
		write_cxx_marker "$dl" "$root"
		rm -rf "$dl"
		echo "$suite: added $CXX_PKGS to $root ($(sed -n 's/.*"glibc": *"\([^"]*\)".*/glibc \1/p' "$root/.heapcore-runtime.json"))"
		return 0
	fi

	rm -rf "$dl" && mkdir -p "$dl"
	# shellcheck disable=SC2086
	if ! (cd "$dl" && apt-get "${opts[@]}" download libc6 libc6-dbg $CXX_PKGS) >>"$log" 2>&1; then
		die "apt-get download libc6 libc6-dbg $CXX_PKGS ($suite) failed: $(grep -E '^(E|W):' "$log" | head -n 1)"
	fi

	local tmp=$root.tmp.$$
	unpack_root "$dl" "$tmp"
	# the ELF interpreter is /lib64/ld-linux-x86-64.so.2, a relative link: the root is read from outside too
	if [ ! -e "$tmp/lib64/ld-linux-x86-64.so.2" ]; then
		mkdir -p "$tmp/usr/lib64"
		ln -sf ../lib/x86_64-linux-gnu/ld-linux-x86-64.so.2 "$tmp/usr/lib64/ld-linux-x86-64.so.2"
	fi

	local v6 vdbg glibc
	v6=$(dpkg-deb -f "$dl"/libc6_*.deb Version)
	vdbg=$(dpkg-deb -f "$dl"/libc6-dbg_*.deb Version)
	glibc=${v6%%-*}
	glibc=${glibc#*:}
	local libc=$tmp/usr/lib/x86_64-linux-gnu/libc.so.6
	[ -e "$libc" ] || libc=$tmp/lib/x86_64-linux-gnu/libc.so.6
	[ -e "$libc" ] || die "$suite: libc.so.6 not found in the unpacked libc6 $v6"
	local bid
	bid=$(readelf -n "$libc" 2>/dev/null | sed -n 's/^ *Build ID: *//p' | head -n 1)
	[ -n "$bid" ] || die "$suite: no build-id in libc.so.6"
	[ -e "$tmp/usr/lib/debug/.build-id/${bid:0:2}/${bid:2}.debug" ] ||
		die "$suite: libc6-dbg $vdbg has no debug file for libc build-id $bid"

	write_cxx_marker "$dl" "$tmp"
	cat >"$tmp/.heapcore-runtime.json" <<EOF
{"runtime": "$suite", "glibc": "$glibc", "libc6": "$v6", "libc6_dbg": "$vdbg", "libc_build_id": "$bid"}
EOF
	if ! chroot "$tmp" /lib64/ld-linux-x86-64.so.2 --version >/dev/null 2>&1; then
		die "$suite: chroot $tmp /lib64/ld-linux-x86-64.so.2 --version fails"
	fi
	rm -rf "$root"
	mv "$tmp" "$root"
	rm -rf "$dl"
	echo "$suite: glibc $glibc (libc6 $v6, build-id $bid) in $root"
}

# Python V from SUITE into DIR/pythonV, with the libffi it needs; left alone when complete.
fetch_python() {
	local v=$1 suite=$2 ffi=$3
	local root=$DIR/python$v base=$DIR/.apt/$suite
	if [ "${HEAPCORE_REFRESH:-0}" != 1 ] && [ -f "$root/.heapcore-python.json" ] &&
		chroot "$root" /usr/bin/python$v -c 'import ctypes, threading, json' >/dev/null 2>&1; then
		echo "python$v: present in $root"
		return 0
	fi
	mkdir -p "$base/lists/partial" "$base/cache/archives/partial"
	[ -e "$base/status" ] || : >"$base/status"
	echo "deb [signed-by=$KEYRING] $MIRROR $suite main" >"$base/sources.list"
	mapfile -t opts < <(apt_opts "$suite")
	local log=$base/apt-python.log
	if ! apt-get "${opts[@]}" --error-on=any update >"$log" 2>&1; then
		die "apt-get update for $suite from $MIRROR failed (mirror unreachable?): $(grep -E '^(E|W):' "$log" | head -n 1)"
	fi
	local dl=$base/python-debs pkgs="libc6 zlib1g libexpat1 $ffi python$v-minimal libpython$v-minimal libpython$v-stdlib"
	rm -rf "$dl" && mkdir -p "$dl"
	# shellcheck disable=SC2086
	if ! (cd "$dl" && apt-get "${opts[@]}" download $pkgs) >>"$log" 2>&1; then
		die "apt-get download $pkgs ($suite) failed: $(grep -E '^(E|W):' "$log" | head -n 1)"
	fi
	local tmp=$root.tmp.$$
	unpack_root "$dl" "$tmp"
	if [ ! -e "$tmp/lib64/ld-linux-x86-64.so.2" ]; then
		local ld
		ld=$(cd "$tmp" && { ls lib/x86_64-linux-gnu/ld-*.so usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2 2>/dev/null || true; } | head -n 1)
		[ -n "$ld" ] || die "python$v: no dynamic loader in $suite's libc6"
		mkdir -p "$tmp/lib64"
		ln -sf "/$ld" "$tmp/lib64/ld-linux-x86-64.so.2"
	fi
	local vpy
	vpy=$(dpkg-deb -f "$dl"/python$v-minimal_*.deb Version)
	printf '{"runtime": "python%s", "suite": "%s", "python": "%s"}\n' "$v" "$suite" "$vpy" >"$tmp/.heapcore-python.json"
	if ! chroot "$tmp" /usr/bin/python$v -c 'import ctypes, threading, json' >>"$log" 2>&1; then
		die "python$v: chroot $tmp /usr/bin/python$v cannot import ctypes, threading, json"
	fi
	rm -rf "$root"
	mv "$tmp" "$root"
	rm -rf "$dl"
	echo "python$v: $vpy ($suite) in $root"
}

for s in $SUITES; do
	case "$s" in
	trixie | sid | forky | testing | unstable | bookworm) fetch_suite "$s" ;;
	*) die "unknown suite '$s'" ;;
	esac
done
for v in ${HEAPCORE_PYTHONS-3.9 3.13 3.14}; do
	case "$v" in
	3.9) fetch_python 3.9 bullseye libffi7 ;;
	3.13) fetch_python 3.13 trixie libffi8 ;;
	3.14) fetch_python 3.14 sid libffi8 ;;
	*) die "unknown Python '$v'" ;;
	esac
done
