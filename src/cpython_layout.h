/*
 * Private to cpython_*.c: the offsets of one CPython minor version's
 * runtime, interpreter and thread state (GIL builds), from its headers
 * (../shared/reference/internals.md §2.7-2.8). The table is in
 * cpython_runtime.c.
 */
#ifndef HEAPCORE_CPYTHON_LAYOUT_H
#define HEAPCORE_CPYTHON_LAYOUT_H

#include <stdbool.h>
#include <stdint.h>

struct hc_cpython_layout {
	unsigned minor;
	uint32_t interpreters_head;  /* _PyRuntime.interpreters.head */
	uint32_t interpreters_main;  /* _PyRuntime.interpreters.main */
	uint32_t interp_next;        /* PyInterpreterState.next */
	uint32_t interp_threads;     /* PyInterpreterState's first thread state */
	uint32_t interp_gc;          /* PyInterpreterState.gc (struct _gc_runtime_state) */
	uint32_t gc_generations;     /* in it: three gc_generation {PyGC_Head head; int threshold, count} */
	uint32_t gc_permanent;       /* and the permanent generation's */
	uint32_t tstate_next, tstate_interp;
	uint32_t tstate_thread_id, tstate_native_id; /* native: 0 where there is none */
	/*
	 * Frames: the thread state's current frame at tstate_frame, or through
	 * the pointer there (a _PyCFrame, 3.11/3.12) at cframe_frame; then each
	 * frame's code object and the previous frame. 3.9's frames are
	 * PyFrameObjects; 3.11+'s are _PyInterpreterFrames, whose owner byte
	 * marks the interpreter's own shims (owner_skip_min and up).
	 */
	uint32_t tstate_frame;
	int32_t cframe_frame;        /* -1: tstate_frame is the frame itself */
	uint32_t frame_code, frame_previous;
	int32_t frame_owner;         /* -1: none (3.9) */
	uint8_t owner_skip_min;
	uint8_t code_is_stackref;    /* 3.14: the code pointer's low two bits are tags */
	uint32_t co_filename, co_name;
	uint32_t str_ascii_data;     /* a compact ASCII str's characters */
	uint32_t str_compact_data;   /* a compact non-ASCII str's */
};

/* PyUnicodeObject: length, and the state bits (kind 2-4, compact 5, ascii 6): the same offsets in 3.9-3.14 */
#define HC_CPYTHON_STR_LENGTH 16
#define HC_CPYTHON_STR_STATE 32

/* The layout of CPython major.minor, or NULL. */
const struct hc_cpython_layout *hc_cpython_layout_for(unsigned major, unsigned minor);

/* sizeof(gc_generation); PyGC_Head is the first 16 bytes of each, and precedes each tracked object */
#define HC_CPYTHON_GC_GENERATION 24
#define HC_CPYTHON_GC_HEAD 16
/* PyObject.ob_type, PyTypeObject.tp_name (a C string): the same in every GIL build */
#define HC_CPYTHON_OB_TYPE 8
#define HC_CPYTHON_TP_NAME 24

/*
 * Calls fn(ctx, object, its type) for each object on every interpreter's gc
 * generation lists and permanent one (cpython_census.c). A list that leaves
 * the core or loops ends with a warning. False if fn said stop.
 */
struct hc_target;
struct hc_cpython_runtime;
typedef bool (*hc_cpython_gc_fn)(void *ctx, uint64_t obj, uint64_t type);
bool hc_cpython_gc_each(struct hc_target *t, const struct hc_cpython_runtime *r, hc_cpython_gc_fn fn, void *ctx);

/*
 * Checks r->layout (and the object layouts) against the DWARF of the module
 * holding _PyRuntime, when it has any (cpython_dwarf.c): counts in
 * r->dwarf_checked; a disagreement warns and clears r->layout_known.
 */
struct hc_symbols;
void hc_cpython_check_layout_dwarf(struct hc_target *t, const struct hc_symbols *s, struct hc_cpython_runtime *r);

#endif
