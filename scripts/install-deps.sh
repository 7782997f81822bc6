#!/usr/bin/env bash
# Installs the Debian packages heapcore needs to build and test, if any is missing.
# Why each is needed: docs/dependencies.md.
set -euo pipefail

packages=(
  gcc g++ make cmake pkg-config time
  libdw-dev libelf-dev libcapstone-dev libjansson-dev
  libzstd-dev liblzma-dev liblz4-dev
  libcunit1-dev
  gdb libc6-dbg dwz zstd xz-utils lz4 python3
  clang libclang-rt-14-dev
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "heapcore: installing ${missing[*]}" >&2
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
