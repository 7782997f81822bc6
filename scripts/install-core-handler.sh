#!/bin/sh
# install-core-handler.sh - shows how to send the kernel's cores to heapcore-core-handler.
#
# It changes nothing: it prints the current /proc/sys/kernel/core_pattern, the line that would
# make the kernel pipe cores to scripts/heapcore-core-handler, the command that installs it, and
# the command that puts the current setting back. Run the printed commands as root if you agree.
# On a machine where systemd-coredump owns core_pattern, use scripts/heapcore-coredumpctl.sh
# instead (it analyses the cores systemd-coredump stores).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
current=$(cat /proc/sys/kernel/core_pattern)
line="|$here/heapcore-core-handler %P %e %s %t"
echo "current core_pattern:  $current"
echo "heapcore's:            $line"
echo
echo "to install (as root; cores then go to \${HEAPCORE_CORE_DIR:-/var/lib/heapcore/cores}):"
echo "  echo '$line' > /proc/sys/kernel/core_pattern"
echo "  ulimit -c unlimited    # in the services' limits, e.g. LimitCORE=infinity in systemd units"
echo
echo "to undo:"
echo "  echo '$current' > /proc/sys/kernel/core_pattern"
