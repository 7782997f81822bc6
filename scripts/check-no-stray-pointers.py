#!/usr/bin/env python3
"""check-no-stray-pointers.py CORE TRUTH [--verbose]

Checks that the "groups" of a leak scenario's truth JSON (tests/cores/README.md)
are what the core really holds, independently of heapcore: it scans every
8-byte-aligned word of the core's memory (all PT_LOAD data) and of its notes
(registers: NT_PRSTATUS, NT_FPREGSET, NT_X86_XSTATE, ...) for values that point
into a group's node (at its start, "exact", or inside its usable bytes,
"interior"), and requires:

  - every such word lies inside a node of the same group, or in one of the
    group's "referrers" ranges (its anchor slot, e.g. &g_list or the stack
    local of hold_on_stack, or a std::vector's buffer): anything else is a
    STRAY copy, which would make the ground truth wrong (a stray copy of a
    leaked pointer anchors it; a stray copy of an anchored one can change the
    chain heapcore reports);
  - a leaked group: its "unreferenced" nodes are pointed to by nothing, its
    "indirect" ones by at least one word (from inside the group);
  - an anchored group: every node is pointed to, and the anchor slot holds a
    pointer to the head (exact, or interior when "anchor_interior");
  - each node's chunk header agrees with the truth (count, chunk_bytes, bytes);
  - no thread's stack reads as zeros at its stack pointer (gcore failed to
    read it: its anchors are gone from that core).

Usable bytes of a node: chunksize - 8 (heap chunk; the last 8 are the next
chunk's prev_size), chunksize - 16 (mmapped chunk). Words are scanned where
the core has file data (gdb writes PROT_NONE reservations as zeros, which
match nothing). Exits 0 when every group passes, 1 otherwise; prints one line
per group and one per stray word.
"""
import bisect
import json
import struct
import sys

PT_LOAD, PT_NOTE = 1, 4
NOTE_NAMES = {1: "NT_PRSTATUS", 2: "NT_FPREGSET", 3: "NT_PRPSINFO", 6: "NT_AUXV",
              0x53494749: "NT_SIGINFO", 0x46494C45: "NT_FILE", 0x202: "NT_X86_XSTATE"}
# offsets of the general registers in NT_PRSTATUS (x86-64 user_regs_struct at 112)
REGS = ["r15", "r14", "r13", "r12", "rbp", "rbx", "r11", "r10", "r9", "r8", "rax", "rcx",
        "rdx", "rsi", "rdi", "orig_rax", "rip", "cs", "eflags", "rsp", "ss", "fs_base",
        "gs_base", "ds", "es", "fs", "gs"]
ZERO = bytes(4096)


def die(msg):
    sys.stderr.write("check-no-stray-pointers: %s\n" % msg)
    sys.exit(2)


class Core:
    def __init__(self, path):
        with open(path, "rb") as f:
            self.data = memoryview(f.read())
        d = self.data
        if bytes(d[:4]) != b"\x7fELF" or d[4] != 2 or d[5] != 1:
            die("%s: not a little-endian ELF64 file" % path)
        if struct.unpack_from("<H", d, 16)[0] != 4:
            die("%s: not a core file" % path)
        phoff, = struct.unpack_from("<Q", d, 32)
        phentsize, phnum = struct.unpack_from("<HH", d, 54)
        self.loads, self.notes, self.threads = [], [], []
        for i in range(phnum):
            p = phoff + i * phentsize
            ptype, pflags, off, vaddr, _, filesz, memsz = struct.unpack_from("<IIQQQQQ", d, p)
            if ptype == PT_LOAD:
                self.loads.append((vaddr, memsz, off, filesz, pflags))
            elif ptype == PT_NOTE:
                self._notes(off, filesz)
        self.loads.sort()
        self.starts = [l[0] for l in self.loads]

    def _notes(self, off, size):
        d, o, end = self.data, off, off + size
        while o + 12 <= end:
            namesz, descsz, ntype = struct.unpack_from("<III", d, o)
            name_off = o + 12
            desc_off = name_off + ((namesz + 3) & ~3)
            self.notes.append((ntype, desc_off, descsz))
            if ntype == 1 and descsz >= 112 + 27 * 8:
                pid, = struct.unpack_from("<i", d, desc_off + 32)
                regs = struct.unpack_from("<27Q", d, desc_off + 112)
                self.threads.append((pid, regs[REGS.index("rsp")]))
            o = desc_off + ((descsz + 3) & ~3)

    def read(self, addr, n):
        i = bisect.bisect_right(self.starts, addr) - 1
        if i < 0:
            return None
        vaddr, memsz, off, filesz, _ = self.loads[i]
        if addr + n > vaddr + memsz:
            return None
        if addr + n > vaddr + filesz:
            return bytes(n) if addr >= vaddr + filesz else None
        return bytes(self.data[off + addr - vaddr: off + addr - vaddr + n])

    def u64(self, addr):
        b = self.read(addr, 8)
        return None if b is None else struct.unpack("<Q", b)[0]

    def where(self, addr):
        i = bisect.bisect_right(self.starts, addr) - 1
        if i < 0 or addr >= self.loads[i][0] + self.loads[i][1]:
            return "outside every segment"
        vaddr, memsz, _, _, flags = self.loads[i]
        perm = ("r" if flags & 4 else "-") + ("w" if flags & 2 else "-") + ("x" if flags & 1 else "-")
        s = "segment %#x-%#x %s +%#x" % (vaddr, vaddr + memsz, perm, addr - vaddr)
        for pid, rsp in self.threads:
            if vaddr <= rsp < vaddr + memsz:
                s += " (thread %d's stack, %s rsp)" % (pid, "below" if addr < rsp else "above")
        return s


def hexint(s):
    return int(s, 16)


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    verbose = "--verbose" in sys.argv
    if len(args) != 2:
        die("usage: check-no-stray-pointers.py CORE TRUTH [--verbose]")
    core = Core(args[0])
    truth = json.load(open(args[1]))
    groups = truth.get("groups")
    if not groups:
        die("%s has no groups" % args[1])

    # node ranges [start, end) -> (group index, node address)
    ranges = []
    errors = 0
    # a stack that reads as zeros (gcore could not read its mapping, e.g. a
    # glibc 2.43 MADV_GUARD_INSTALL guard page) anchors nothing: the truth
    # would be wrong for that core
    for pid, rsp in core.threads:
        top = core.read(rsp, 256)
        if top is None or top == bytes(256):
            print("FAIL thread %d: its stack at rsp %#x is %s" % (pid, rsp, "missing" if top is None else "zeros"))
            errors += 1
    for gi, g in enumerate(groups):
        if not g.get("nodes_complete"):
            die("group %s: node list incomplete; cannot check" % g["name"])
        chunk_bytes = nbytes = 0
        for n in g["nodes"]:
            a = hexint(n)
            sf = core.u64(a - 8)
            if sf is None:
                die("group %s: node %#x not in the core" % (g["name"], a))
            cs = sf & ~7
            chunk_bytes += cs
            if sf & 2:  # mmapped: the whole mapping (padding + chunk, + 16 on 2.43+)
                m = core.u64(a - 16) + cs
                nbytes += m + 16 if m % 4096 == 4096 - 16 else m
            else:
                nbytes += cs
            usable = cs - (16 if sf & 2 else 8)
            ranges.append((a, a + usable, gi, a))
        if chunk_bytes != g["chunk_bytes"] or len(g["nodes"]) != g["count"] or \
                ("bytes" in g and nbytes != g["bytes"]):
            print("FAIL %s: the core's chunk headers sum to %d (bytes %d) over %d nodes; truth says %d (%s) over %d"
                  % (g["name"], chunk_bytes, nbytes, len(g["nodes"]), g["chunk_bytes"], g.get("bytes"), g["count"]))
            errors += 1
    ranges.sort()
    rstarts = [r[0] for r in ranges]
    for i in range(1, len(ranges)):
        if ranges[i][0] < ranges[i - 1][1]:
            die("nodes %#x and %#x overlap" % (ranges[i - 1][3], ranges[i][3]))
    mb = set()
    for s, e, _, _ in ranges:
        mb.update(range(s >> 20, ((e - 1) >> 20) + 1))

    def lookup(v):
        if (v >> 20) not in mb:
            return None
        i = bisect.bisect_right(rstarts, v) - 1
        if i >= 0 and v < ranges[i][1]:
            return ranges[i]
        return None

    # hits: (location description or address, value, range)
    hits = []  # (loc_addr or None, loc_desc, value, range)

    def scan(buf, base_addr, desc_fn):
        n = len(buf) // 8 * 8
        for page in range(0, n, 4096):
            chunk = buf[page: min(page + 4096, n)]
            if len(chunk) == 4096 and chunk == ZERO:
                continue
            words = chunk.cast("Q")
            for j, v in enumerate(words):
                if (v >> 20) in mb:
                    r = lookup(v)
                    if r is not None:
                        hits.append((base_addr + page + j * 8 if base_addr is not None else None,
                                     desc_fn(page + j * 8), v, r))

    for vaddr, memsz, off, filesz, flags in core.loads:
        if filesz == 0:
            continue
        if vaddr % 8:
            die("segment %#x not 8-aligned" % vaddr)
        scan(core.data[off: off + filesz], vaddr, lambda o: None)
    for ntype, doff, dsz in core.notes:
        if ntype == 0x46494C45:  # NT_FILE: mapping ranges of files, not data
            continue
        name = NOTE_NAMES.get(ntype, "note type %#x" % ntype)

        def ndesc(o, name=name, ntype=ntype, doff=doff):
            s = name
            if ntype == 1:
                pid, = struct.unpack_from("<i", core.data, doff + 32)
                s += " of thread %d" % pid
                if o >= 112 and (o - 112) // 8 < len(REGS):
                    s += " register %s" % REGS[(o - 112) // 8]
            return s + " +%#x" % o
        scan(core.data[doff: doff + dsz], None, ndesc)

    # node ranges for "is this location inside a node of group g"
    def node_of_loc(addr):
        return lookup(addr) if addr is not None else None

    refs = {}  # node -> count of (allowed) references
    stray = {}
    for loc, desc, v, r in hits:
        gi, node = r[2], r[3]
        g = groups[gi]
        allowed = False
        if loc is not None:
            lr = node_of_loc(loc)
            if lr is not None and lr[2] == gi:
                allowed = True
            for s, e in g.get("referrers", []):
                if hexint(s) <= loc < hexint(e):
                    allowed = True
        if allowed:
            refs[node] = refs.get(node, 0) + 1
        else:
            stray.setdefault(gi, []).append((loc, desc, v, node))

    for gi, g in enumerate(groups):
        nodes = [hexint(n) for n in g["nodes"]]
        bad = []
        for loc, desc, v, node in stray.get(gi, []):
            if loc is not None:
                d = core.where(loc)
                lr = node_of_loc(loc)
                if lr is not None:
                    d += " (inside node %#x of group %s)" % (lr[3], groups[lr[2]]["name"])
                d = "%#x, %s" % (loc, d)
            else:
                d = desc
            bad.append("STRAY %s: %s holds %#x (%s node %#x)"
                       % (g["name"], d, v, "exact" if v == node else "interior +%#x" % (v - node), node))
        head = hexint(g["head"])
        if g["expect"] == "leaked":
            unref = sum(1 for a in nodes if refs.get(a, 0) == 0)
            if unref != g["unreferenced"]:
                bad.append("FAIL %s: %d nodes have no reference, truth says unreferenced %d"
                           % (g["name"], unref, g["unreferenced"]))
            if g["unreferenced"] and refs.get(head, 0):
                bad.append("FAIL %s: head %#x is referenced" % (g["name"], head))
        else:
            missing = [a for a in nodes if refs.get(a, 0) == 0]
            if missing:
                bad.append("FAIL %s: %d anchored nodes have no reference (first %#x)"
                           % (g["name"], len(missing), missing[0]))
            if g.get("anchor_slot"):
                slot = hexint(g["anchor_slot"])
                v = core.u64(slot)
                ok = v == head or (g.get("anchor_interior") and v is not None and
                                   (lookup(v) or (0, 0, -1, 0))[3] == head)
                if not ok:
                    bad.append("FAIL %s: anchor slot %#x holds %s, not the head %#x"
                               % (g["name"], slot, "?" if v is None else "%#x" % v, head))
        status = "OK  " if not bad else "FAIL"
        print("%s %-20s %-8s nodes %5d  chunk_bytes %9d  references inside/allowed %5d  stray %d"
              % (status, g["name"], g["expect"], len(nodes), g["chunk_bytes"],
                 sum(refs.get(a, 0) for a in nodes), len(stray.get(gi, []))))
        for line in bad[: (len(bad) if verbose else 20)]:
            print("  " + line)
        if len(bad) > 20 and not verbose:
            print("  ... %d more (--verbose)" % (len(bad) - 20))
        errors += bool(bad)
    print("check-no-stray-pointers: %s: %s" % (args[0], "OK" if not errors else "%d group(s) FAIL" % errors))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
