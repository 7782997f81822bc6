#!/usr/bin/env python3
"""Makes the fuzz targets' seed corpora (tests/fuzz/corpus/TARGET/) from the committed scenario
cores, cut down, and a hand-made memory image for the CPython decoder. Deterministic; the
outputs are committed, and this script says how they were made: python3 tests/fuzz/make-seeds.py"""
import os, struct, subprocess, sys

here = os.path.dirname(os.path.abspath(__file__))
repo = os.path.dirname(os.path.dirname(here))
committed = os.path.join(repo, "tests", "cores", "committed", "native")


def core_bytes(name):
    return subprocess.run(["zstd", "-dc", os.path.join(committed, name)], check=True,
                          stdout=subprocess.PIPE).stdout


def cut_down(core, keep_max=1 << 19):
    """The core with every PT_LOAD over keep_max bytes emptied (filesz 0): stacks and big maps go,
    the heap, libc's data and the notes stay; the data packed after the headers and notes."""
    phoff, = struct.unpack_from("<Q", core, 0x20)
    phnum, = struct.unpack_from("<H", core, 0x38)
    ph = [list(struct.unpack_from("<IIQQQQQQ", core, phoff + i * 56)) for i in range(phnum)]
    out = bytearray(core[:phoff + phnum * 56])
    blobs = []
    for p in ph:
        if p[0] == 4 or (p[0] == 1 and 0 < p[5] <= keep_max):  # PT_NOTE, or a small PT_LOAD
            blobs.append((p, core[p[2]:p[2] + p[5]]))
        else:
            p[5] = 0
            p[2] = 0
    off = len(out)
    for p, data in blobs:
        off = (off + 15) & ~15
        p[2] = off
        off += len(data)
    for i, p in enumerate(ph):
        struct.pack_into("<IIQQQQQQ", out, phoff + i * 56, *p)
    out += bytes(off - len(out))
    for p, data in blobs:
        out[p[2]:p[2] + len(data)] = data
    return bytes(out)


def python_image():
    """Python 3.11's layout: a thread state and an interpreter whose youngest gc list holds one
    object of a type whose type is itself; word 0 the thread state, word 1 the interpreter."""
    base, img = 0x10000000, bytearray(0x6000)
    ts, interp, node, typ = base + 0x100, base + 0x1000, base + 0x3000, base + 0x4000
    struct.pack_into("<QQ", img, 0, ts, interp)
    struct.pack_into("<Q", img, 0x100 + 16, interp)            # tstate.interp
    gc = interp + 648                                          # interp.gc
    for g in range(3):                                         # generations, each a list head
        head = gc + 24 + g * 24
        nxt = node if g == 0 else head
        struct.pack_into("<QQ", img, head - base, nxt, nxt)
    struct.pack_into("<QQ", img, gc + 104 - base, gc + 104, gc + 104)  # the permanent one, empty
    struct.pack_into("<QQ", img, node - base, gc + 24, gc + 24)        # the object's PyGC_Head
    struct.pack_into("<QQ", img, node + 16 - base, 1, typ)             # refcnt, ob_type
    struct.pack_into("<QQ", img, typ - base, 1, typ)                   # type(type) is type
    struct.pack_into("<QQQ", img, typ + 24 - base, 0, 32, 0)           # tp_name, basicsize, itemsize
    struct.pack_into("<Q", img, typ + 168 - base, (1 << 12) | (1 << 14) | (1 << 31))  # READY, GC, TYPE
    return bytes([1]) + bytes(img)                             # first byte: 3.11


def write(target, name, data):
    d = os.path.join(here, "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)
    print("%s/%s: %d bytes" % (target, name, len(data)))


kernel = core_bytes("heap_basic.kernel.core.zst")
write("core", "heap_basic.kernel.head", kernel[:1 << 16])
write("glibc", "heap_basic.kernel.cut", cut_down(kernel))
write("cpython", "py311.image", python_image())
write("json", "strings", b"title\0app._cache\0/srv/app.py\0sys.modules['app']\0\xff\xfe odd \x01\0fix it")
