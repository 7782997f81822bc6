"""heapcore in gdb: `source scripts/heapcore-gdb.py`, then `heapcore [OPTIONS]` at the gdb prompt.

It runs `heapcore analyze` on the current inferior and prints the report: on the core file gdb
has open, or, for a live process, on a core gdb writes of it first (`gcore`, into a temporary
directory deleted afterwards). OPTIONS go to heapcore (`heapcore --format json`, `heapcore --top 3`).
The heapcore binary is $HEAPCORE, else build/heapcore beside this script's directory, else
heapcore on PATH.
"""
import os
import re
import shlex
import shutil
import subprocess
import tempfile

import gdb  # noqa: provided by gdb

_HERE = os.path.dirname(os.path.abspath(__file__))


def _heapcore():
    for candidate in (os.environ.get("HEAPCORE"), os.path.join(_HERE, "..", "build", "heapcore")):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return shutil.which("heapcore") or "heapcore"


def _core_file():
    """The core file gdb has open, or None for a live process."""
    files = gdb.execute("info files", to_string=True)
    m = re.search(r"Local core dump file:\s*`([^']+)'", files)
    return m.group(1) if m else None


class HeapcoreCommand(gdb.Command):
    """Run heapcore analyze on the current inferior (a core, or a live process via gcore)."""

    def __init__(self):
        super().__init__("heapcore", gdb.COMMAND_USER)

    def invoke(self, arg, from_tty):
        inferior = gdb.selected_inferior()
        if inferior is None or (inferior.pid == 0 and _core_file() is None):
            raise gdb.GdbError("heapcore: no inferior: run, attach to a process, or open a core")
        binary = gdb.current_progspace().filename
        tmp = None
        core = _core_file()
        try:
            if core is None:
                tmp = tempfile.mkdtemp(prefix="heapcore-gdb-")
                core = os.path.join(tmp, "core")
                gdb.execute("gcore " + core, to_string=True)
            cmd = [_heapcore(), "analyze"] + shlex.split(arg) + [core] + ([binary] if binary else [])
            result = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            gdb.write(result.stdout)
            if result.returncode not in (0, 9):
                gdb.write("heapcore exited with %d\n" % result.returncode)
        finally:
            if tmp:
                shutil.rmtree(tmp, ignore_errors=True)


HeapcoreCommand()
