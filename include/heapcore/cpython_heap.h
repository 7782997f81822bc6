/*
 * A Python process's objects and their references, from a core
 * (cpython_heap.c): every object the garbage collector tracks and every
 * object reachable from them or from the Python roots, each with its type,
 * size (as sys.getsizeof counts it, near enough) and refcount; the
 * references between them as the interpreter holds them; and what keeps
 * each alive.
 *
 * Roots, in the order chains prefer them: sys.modules; each thread's
 * Python frames (function, globals, locals and evaluation stack); then what
 * C holds: the thread and interpreter states, and the writable data of
 * every module (static types, singletons, C globals), each word of which is
 * a reference only where the target's refcount leaves room for it. An object no root
 * reaches is either garbage a gc.collect() would free, or kept alive from
 * outside Python: its refcount is higher than the references found (a C
 * extension's reference, or a leaked one), and so is all it reaches.
 */
#ifndef HEAPCORE_CPYTHON_HEAP_H
#define HEAPCORE_CPYTHON_HEAP_H

#include <stdbool.h>
#include <stdint.h>

#include "heapcore/cpython.h"
#include "heapcore/glibc_heap.h"

enum hc_pyroot_kind {
	HC_PYROOT_SYS_MODULES = 0, /* an interpreter's sys.modules */
	HC_PYROOT_FRAME,           /* a word of a thread's Python frame */
	HC_PYROOT_THREAD_STATE,    /* a word of a thread state */
	HC_PYROOT_INTERPRETER,     /* a word of an interpreter state */
	HC_PYROOT_DATA,            /* a word of a module's writable data */
};

struct hc_pyroot {
	uint8_t kind;              /* enum hc_pyroot_kind */
	uint32_t target;           /* object index */
	uint64_t where;            /* the word's address (the dict's, for sys.modules) */
	int32_t thread;            /* HC_PYROOT_FRAME/THREAD_STATE: index into runtime->threads */
	uint64_t frame;            /* HC_PYROOT_FRAME: the frame; slot: index into localsplus, or -1 - field */
	int32_t slot;              /* HC_PYROOT_DATA: HC_PYROOT_SLOT_ITSELF for a static object, a root itself */
	/*
	 * A word of C memory is taken for a reference only where the target's
	 * refcount has room for it beyond the references objects and frames
	 * hold: a stale pointer (a cache's, a free list's) holds no count.
	 */
	bool accepted;
};

#define HC_PYROOT_SLOT_ITSELF (-100)

/* Object flags */
#define HC_PYOBJ_TRACKED 1u    /* on a gc list */
#define HC_PYOBJ_IMMORTAL 2u   /* 3.12+'s immortal refcount */
#define HC_PYOBJ_REACHABLE 4u  /* from a root */
#define HC_PYOBJ_KEPT 8u       /* not reachable, but kept alive from outside Python */
#define HC_PYOBJ_GARBAGE 16u   /* not reachable: what gc.collect() frees */
#define HC_PYOBJ_GAP 32u       /* refcount higher than the references found (among the unreachable) */
#define HC_PYOBJ_GC_UNREACHABLE 64u /* of the garbage, what gc.collect() counts: tracked and unreachable its way */

#define HC_PYPARENT_NONE UINT32_MAX
#define HC_PYPARENT_ROOT 0x80000000u /* | root index */

struct hc_pyheap_type {
	uint64_t addr;
	char *name;                /* module.QualName for classes, tp_name for the rest */
	uint64_t count, bytes;
	uint64_t tracked;          /* of count, on a gc list: what gc.get_objects() returns */
	uint64_t garbage_count, garbage_bytes;
	uint64_t garbage_tracked;  /* of garbage_count, what gc.collect() counts (HC_PYOBJ_GC_UNREACHABLE) */
	bool container;            /* list, tuple, dict, set: has a len() */
};

struct hc_pyheap {
	/* objects, struct of arrays, by discovery: the tracked ones first */
	uint32_t n;
	uint64_t *addr;
	uint32_t *type;            /* index into types */
	uint64_t *refcnt;
	uint32_t *found_refs;      /* strong references found, from objects and roots */
	uint64_t *size;
	uint8_t *flags;
	/* how it was first reached: a parent object, HC_PYPARENT_ROOT | root, or none (garbage) */
	uint32_t *parent;
	/* out-references (CSR): target index (HC_PYEDGE_TARGET) and HC_PYEDGE_* flags */
	uint32_t *out_start, *out;
	uint64_t nedges;
	struct hc_pyroot *roots;
	uint32_t nroots;
	/*
	 * The dominator tree (hc_pyheap_dominators): each object's immediate
	 * dominator (HC_PYDOM_ROOT: no single object, HC_PYDOM_NONE: outside the
	 * tree, garbage) and retained bytes (its own and all it dominates).
	 */
	uint32_t *idom;
	uint64_t *retained;
	struct hc_pyheap_type *types;
	uint32_t ntypes;
	/* the first interpreter's gc.isenabled(), if read, and gc.get_threshold()[0] (-1 if unread) */
	bool gc_enabled, gc_enabled_known;
	int32_t gc_threshold0;
	uint64_t reachable, garbage, garbage_tracked, kept, tracked;
	/* pymalloc: pools walked, blocks allocated in them; objects the pool and chunk walks found first */
	uint64_t pools, blocks, walked;
	/* glibc's used chunks over pymalloc's 512 bytes that were looked at */
	uint64_t big_chunks;
	uint64_t garbage_bytes, kept_bytes, bytes;
	struct hc_pyheap_private *priv;
};

#define HC_PYDOM_ROOT 0xfffffffeu
#define HC_PYDOM_NONE 0xffffffffu

#define HC_PYEDGE_WEAK 0x80000000u
#define HC_PYEDGE_UNTRAVERSED 0x40000000u /* strong, but gc's tp_traverse does not see it */
#define HC_PYEDGE_TARGET 0x3fffffffu

/*
 * Builds it. With glibc's heap (may be NULL), its chunks too big for
 * pymalloc are looked at for objects as pymalloc's blocks are. A runtime
 * without a known layout gives an empty heap. Damage ends single walks with
 * a warning in t->warnings; only allocation failure is an error. t, s, r
 * and the glibc heap must outlive it.
 */
struct hc_error *hc_pyheap_build(struct hc_target *t, const struct hc_symbols *s,
				 const struct hc_cpython_runtime *r, const struct hc_glibc_heap *glibc,
				 struct hc_pyheap **out);
void hc_pyheap_destroy(struct hc_pyheap *h);

/*
 * Fills idom and retained: a tree from one virtual root over the accepted
 * roots and the objects kept from outside, over strong references.
 * hc_pyheap_build calls it; only allocation failure is an error.
 */
struct hc_error *hc_pyheap_dominators(struct hc_pyheap *h);

/* The object at addr (its PyObject*, exactly), or UINT32_MAX. */
uint32_t hc_pyheap_find(const struct hc_pyheap *h, uint64_t addr);

/*
 * The chain that keeps object i alive, spelled as Python would:
 * "sys.modules['app'].__dict__['_cache']['key-17']"; from the object that is
 * kept from outside for a kept one; "" for garbage. Truncated to len.
 */
void hc_pyheap_path(const struct hc_pyheap *h, uint32_t i, char *buf, size_t len);

/* A repr-like preview: 'text', 123, <list len=3: 1, 'a', ...>, <__main__.C object>. */
void hc_pyheap_preview(const struct hc_pyheap *h, uint32_t i, char *buf, size_t len);

/* len() of a list, tuple, dict or set; false for others. */
bool hc_pyheap_len(const struct hc_pyheap *h, uint32_t i, uint64_t *len);

/* For the detectors: how object `from` refers to `to`, spelled as in a path ("['k']", ".attr", "[3]"). */
void hc_pyheap_ref_label(const struct hc_pyheap *h, uint32_t from, uint32_t to, char *buf, size_t len);
/* A str object's text (false if i is none, or not ASCII/Latin-1); *interned whether it is interned. */
bool hc_pyheap_str(const struct hc_pyheap *h, uint32_t i, char *buf, size_t len, bool *interned);
/* The value under the str key `key` in dict object i, UINT32_MAX if none (or i is no dict). */
uint32_t hc_pyheap_dict_get(const struct hc_pyheap *h, uint32_t i, const char *key);
/*
 * Where class t (index into types) is defined, near enough: the file and
 * first line of its earliest method's code. False for a class without one.
 */
bool hc_pyheap_type_source(const struct hc_pyheap *h, uint32_t t, char *file, size_t len, int32_t *line);
/* Whether type t (index into types) has `name` in its own __dict__ (a class defining __del__, __slots__). */
bool hc_pyheap_type_defines(const struct hc_pyheap *h, uint32_t t, const char *name);

#endif
