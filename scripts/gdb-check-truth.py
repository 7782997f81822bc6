# gdb-check-truth.py: cross-checks a scenario's truth JSON against its core
# with gdb and libc's debug symbols (libc6-dbg), independently of heapcore.
#
#   TRUTH=OUTDIR/sid/heap_basic.truth.json gdb -batch -nx \
#     -iex 'set sysroot ROOT' -iex 'set debug-file-directory ROOT/usr/lib/debug' \
#     -x scripts/gdb-check-truth.py EXE CORE
#
# Walks every arena's bins and fastbins (<= 2.42) through main_arena.next and
# checks: each "free" label is on a bin list, each "fastbin" label on a fastbin
# list, each "tcache" label carries tcache_key at user+8 and is on no list,
# each "used" label is on no list and lacks the key, each "mmapped" label has
# IS_MMAPPED; and that mallinfo2 in the truth equals what the arenas and mp_
# hold (arena, ordblks, smblks, fsmblks, fordblks, hblks, hblkhd, keepcost).
# Prints "truth-check OK ..." or the mismatches, and exits gdb with 0 / 1.
import json
import os

import gdb

inf = gdb.selected_inferior()


def u64(addr):
    return int.from_bytes(bytes(inf.read_memory(addr, 8)), "little")


def ev(expr):
    return int(gdb.parse_and_eval(expr))


def main():
    truth = json.load(open(os.environ["TRUTH"]))
    errors = []
    ma = ev("(unsigned long)&main_arena")
    arenas = []
    a = ma
    while True:
        arenas.append(a)
        a = ev("(unsigned long)((struct malloc_state *)%d)->next" % a)
        if a == ma or len(arenas) > 1000:
            break
    has_fast = True
    try:
        gdb.parse_and_eval("main_arena.fastbinsY")
    except gdb.error:
        has_fast = False
    binned, fast = set(), set()
    ordblks = smblks = fsmblks = fordblks = system = 0
    for a in arenas:
        ms = "((struct malloc_state *)%d)" % a
        top = ev("(unsigned long)%s->top" % ms)
        topsize = u64(top + 8) & ~7
        fordblks += topsize
        ordblks += 1
        system += ev("%s->system_mem" % ms)
        bins = ev("(unsigned long)&%s->bins" % ms)
        for i in range(1, 128):
            b = bins + (i - 1) * 16 - 16
            p = u64(b + 16)
            n = 0
            while p != b:
                binned.add(p)
                ordblks += 1
                fordblks += u64(p + 8) & ~7
                p = u64(p + 16)
                n += 1
                if n > 1000000:
                    errors.append("bin %d of arena %#x does not close" % (i, a))
                    break
        if has_fast:
            for i in range(10):
                p = ev("(unsigned long)%s->fastbinsY[%d]" % (ms, i))
                n = 0
                while p:
                    fast.add(p)
                    sz = u64(p + 8) & ~7
                    smblks += 1
                    fsmblks += sz
                    fordblks += sz
                    p = ((p + 16) >> 12) ^ u64(p + 16)  # REVEAL_PTR (2.32+)
                    n += 1
                    if n > 1000000:
                        errors.append("fastbin %d of arena %#x does not close" % (i, a))
                        break
    # Walk every heap chunk by chunk and check the accounting that
    # docs/glibc-truth-mapping.md describes: per arena
    #   system_mem == headers + sum(chunks) and
    #   uordblks   == headers + in-use chunks (tcache included) + fenceposts.
    used_walk = overhead = fenceposts = 0
    hi_size = ev("sizeof(heap_info)")
    for a in arenas:
        ms = "((struct malloc_state *)%d)" % a
        top = ev("(unsigned long)%s->top" % ms)
        sysmem = ev("%s->system_mem" % ms)
        if a == ma:
            start = ev("(unsigned long)mp_.sbrk_base")
            start += (-(start + 16)) & 15
            spans = [(start, top, True)]
            overhead += start - ev("(unsigned long)mp_.sbrk_base")
            total = (top + (u64(top + 8) & ~7)) - ev("(unsigned long)mp_.sbrk_base")
        else:
            spans = []
            h = top & ~(64 * 1024 * 1024 - 1)
            newest = True
            total = 0
            while h:
                hsize = u64(h + 16)
                total += hsize
                if u64(h) == h + hi_size:  # first heap: malloc_state follows
                    first = h + hi_size + ev("sizeof(struct malloc_state)")
                    first += (-(first + 16)) & 15
                else:
                    first = h + hi_size
                overhead += first - h
                spans.append((first, top if newest else h + hsize, newest))
                newest = False
                h = u64(h + 8)  # prev
        if total != sysmem:
            errors.append("arena %#x: heaps span %d bytes, system_mem %d" % (a, total, sysmem))
        for first, end, is_top in spans:
            p = first
            while p < end:
                sz = u64(p + 8) & ~7
                if not is_top and sz == 0x10 and (u64(p + 24) & ~7) == 0:
                    fenceposts += 0x20  # 0x10|PREV_INUSE chunk + 0|PREV_INUSE header
                    p += 0x20
                    break
                if sz < 0x10:
                    errors.append("arena %#x: bad chunk size %#x at %#x" % (a, sz, p))
                    break
                if p not in binned and p not in fast:
                    used_walk += sz
                p += sz
            if is_top and p != top:
                errors.append("arena %#x: walk ended at %#x, top is %#x" % (a, p, top))
            if not is_top and p != end:
                errors.append("arena %#x: old heap walk ended at %#x, heap end %#x" % (a, p, end))
    walked_uord = used_walk + overhead + fenceposts
    key = ev("tcache_key")
    states = {}
    for lab in truth["addresses"]:
        c = int(lab["chunk"], 16)
        exp = lab["expect"]
        sf = u64(c + 8)
        if sf & ~7 != lab["chunk_size"]:
            errors.append("%s: chunk size %#x in the core, %#x in the truth" % (lab["label"], sf & ~7, lab["chunk_size"]))
        if exp == "free":
            ok = c in binned
        elif exp == "fastbin":
            ok = c in fast
        elif exp == "tcache":
            ok = c not in binned and c not in fast and u64(c + 24) == key
        elif exp == "used":
            ok = c not in binned and c not in fast and u64(c + 24) != key and not sf & 2
        elif exp == "mmapped":
            ok = bool(sf & 2)
        else:
            ok = False
        states[exp] = states.get(exp, 0) + 1
        if not ok:
            errors.append("%s (%#x): expect %s, not so in the core" % (lab["label"], c, exp))
    m = truth["mallinfo2"]
    want = {
        "arena": system,
        "ordblks": ordblks,
        "smblks": smblks,
        "fsmblks": fsmblks,
        "fordblks": fordblks,
        "uordblks": system - fordblks,
        "hblks": ev("mp_.n_mmaps"),
        "hblkhd": ev("mp_.mmapped_mem"),
        "keepcost": u64(ev("(unsigned long)main_arena.top") + 8) & ~7,
    }
    if walked_uord != m["uordblks"]:
        errors.append("walk: in-use %d + headers %d + fenceposts %d = %d, mallinfo2.uordblks %d" % (
            used_walk, overhead, fenceposts, walked_uord, m["uordblks"]))
    for k, v in want.items():
        if m[k] != v:
            errors.append("mallinfo2.%s: truth %d, core %d" % (k, m[k], v))
    if errors:
        for e in errors:
            print("truth-check FAIL: " + e)
        gdb.execute("quit 1")
    print("truth-check OK: %s glibc %s, %d arenas, %d labels %s, bins %d chunks, fastbins %d;"
          " walk: in-use %d + headers %d + fenceposts %d = uordblks" % (
              truth["scenario"], truth["glibc_version"], len(arenas), len(truth["addresses"]),
              json.dumps(states, sort_keys=True), len(binned), len(fast), used_walk, overhead, fenceposts))
    gdb.execute("quit 0")


try:
    main()
except gdb.error as e:
    print("truth-check FAIL: gdb: %s" % e)
    gdb.execute("quit 2")
