#!/usr/bin/env python3
"""core-strip-sysroot.py CORE SYSROOT

gdb's gcore writes the NT_FILE note from /proc/PID/maps as gdb sees it, so
for a process running under chroot SYSROOT every file path starts with
SYSROOT. A kernel core of the same process has the paths as the process sees
them. This rewrites the NT_FILE paths of CORE in place to the latter:
SYSROOT/usr/lib/x/libc.so.6 becomes /usr/lib/x/libc.so.6.

The paths only get shorter, so the note shrinks in place: its descsz, the
PT_NOTE segment's p_filesz and the size of the section that covers it (gdb
cores have section headers) are lowered, and the freed tail is zeroed.
Nothing else in the file moves. Exits 0 if nothing needed changing.
"""
import struct
import sys

NT_FILE = 0x46494C45


def die(msg):
    sys.stderr.write("core-strip-sysroot: %s\n" % msg)
    sys.exit(1)


def main():
    if len(sys.argv) != 3:
        die("usage: core-strip-sysroot.py CORE SYSROOT")
    path, root = sys.argv[1], sys.argv[2].rstrip("/").encode()
    if not root:
        return 0
    with open(path, "r+b") as f:
        data = bytearray(f.read())
        if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
            die("%s: not a little-endian ELF64 file" % path)
        e_type, = struct.unpack_from("<H", data, 16)
        if e_type != 4:
            die("%s: not a core file" % path)
        e_phoff, e_shoff = struct.unpack_from("<QQ", data, 32)
        e_phentsize, e_phnum, e_shentsize, e_shnum = struct.unpack_from("<HHHH", data, 54)
        changed = False
        for i in range(e_phnum):
            ph = e_phoff + i * e_phentsize
            p_type, = struct.unpack_from("<I", data, ph)
            if p_type != 4:  # PT_NOTE
                continue
            p_offset, = struct.unpack_from("<Q", data, ph + 8)
            p_filesz, = struct.unpack_from("<Q", data, ph + 32)
            o, end = p_offset, p_offset + p_filesz
            while o + 12 <= end:
                namesz, descsz, ntype = struct.unpack_from("<III", data, o)
                desc = o + 12 + ((namesz + 3) & ~3)
                nxt = desc + ((descsz + 3) & ~3)
                name = bytes(data[o + 12:o + 12 + namesz]).rstrip(b"\0")
                if ntype == NT_FILE and name == b"CORE":
                    count, _pagesz = struct.unpack_from("<QQ", data, desc)
                    sbase = desc + 16 + count * 24
                    names = bytes(data[sbase:desc + descsz]).split(b"\0")[:count]
                    if len(names) != count:
                        die("%s: NT_FILE holds %d names, wants %d" % (path, len(names), count))
                    new = [n[len(root):] if n.startswith(root + b"/") else n for n in names]
                    if new == names:
                        o = nxt
                        continue
                    blob = b"".join(n + b"\0" for n in new)
                    newdesc = 16 + count * 24 + len(blob)
                    shrink = ((descsz + 3) & ~3) - ((newdesc + 3) & ~3)
                    data[sbase:sbase + len(blob)] = blob
                    struct.pack_into("<I", data, o + 4, newdesc)
                    # move the notes after NT_FILE down, zero the freed tail
                    newnext = desc + ((newdesc + 3) & ~3)
                    data[newnext:end - shrink] = data[nxt:end]
                    data[end - shrink:end] = b"\0" * shrink
                    struct.pack_into("<Q", data, ph + 32, p_filesz - shrink)
                    for s in range(e_shnum):
                        sh = e_shoff + s * e_shentsize
                        sh_type, = struct.unpack_from("<I", data, sh + 4)
                        sh_offset, sh_size = struct.unpack_from("<QQ", data, sh + 24)
                        if sh_type == 7 and sh_offset == p_offset and sh_size == p_filesz:
                            struct.pack_into("<Q", data, sh + 32, sh_size - shrink)
                    changed = True
                    break
                o = nxt
        if changed:
            f.seek(0)
            f.write(data)
    return 0


if __name__ == "__main__":
    sys.exit(main())
