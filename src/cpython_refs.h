/*
 * Private to cpython_*.c: what one Python object refers to (cpython_refs.c),
 * the way the interpreter's own tp_traverse sees it for the core types and
 * with a conservative scan of the body for the rest, each reference labelled
 * so that a chain can be spelled as Python would (`['key']`, `[3]`,
 * `.__dict__`, `.attr`). Also the per-type facts that need (kind, sizes,
 * offsets), cached per type, and each version's object layouts.
 */
#ifndef HEAPCORE_CPYTHON_REFS_H
#define HEAPCORE_CPYTHON_REFS_H

#include <stdbool.h>
#include <stdint.h>

#include "heapcore/cpython.h"
#include "heapcore/target.h"

/* How the objects of a type hold their references. */
enum hc_pykind {
	HC_PYKIND_GENERIC = 0, /* a conservative scan of the body */
	HC_PYKIND_LEAF,        /* no references (float, complex, bytearray: data only) */
	HC_PYKIND_STR,
	HC_PYKIND_INT,
	HC_PYKIND_BYTES,
	HC_PYKIND_TUPLE,
	HC_PYKIND_LIST,
	HC_PYKIND_DICT,
	HC_PYKIND_SET,
	HC_PYKIND_WEAKREF,
	HC_PYKIND_MODULE,
	HC_PYKIND_TYPE,
	HC_PYKIND_FUNCTION,
	HC_PYKIND_METHOD,
	HC_PYKIND_CELL,
	HC_PYKIND_DEQUE,       /* collections.deque: items in a list of 64-item blocks */
	HC_PYKIND_FRAME,       /* a frame object: what frame_traverse visits, no stale stack slots */
	HC_PYKIND_CODE,        /* a code object: its fields, not its bytecode and inline caches */
	HC_PYKIND_BYTEARRAY,   /* no references; its buffer (ob_alloc bytes) is its own */
};

/* What a reference is, for spelling a chain. */
enum hc_pyref_label {
	HC_PYREF_FIELD = 0,    /* a named field (name) or a word of the body (offset) */
	HC_PYREF_ITEM,         /* list/tuple item index */
	HC_PYREF_DICT_KEY,     /* a dict's key (key = the key object) */
	HC_PYREF_DICT_VALUE,   /* a dict's value under key */
	HC_PYREF_ATTR,         /* an instance attribute held in its managed dict or inline values: key = name */
	HC_PYREF_SET_ITEM,
	HC_PYREF_TYPE,         /* ob_type of an instance of a heap type */
};

struct hc_pyref {
	uint64_t target;       /* a candidate: the caller checks it is an object */
	uint64_t key;          /* HC_PYREF_DICT_*, ATTR: the key object; ITEM: the index */
	uint32_t offset;       /* FIELD: offset in the object (or its module state) */
	const char *name;      /* FIELD: Python's name for it ("__dict__"), or NULL */
	uint8_t label;         /* enum hc_pyref_label */
	bool weak;             /* a weak reference: not counted, never keeps alive */
	bool untraversed;      /* a real reference that tp_traverse does not visit (a type's names) */
};

struct hc_pytype {
	uint64_t addr;
	uint64_t flags;        /* tp_flags */
	uint64_t basicsize, itemsize;
	int64_t dictoffset, weaklistoffset;
	uint32_t base_size;    /* bytes of the body the kind's own reading covers; the scan starts here */
	uint8_t kind;          /* enum hc_pykind */
	bool heap;             /* Py_TPFLAGS_HEAPTYPE */
	bool gc;               /* Py_TPFLAGS_HAVE_GC */
	uint8_t preheader;     /* bytes before the GC head (managed dict / weakref) */
	char *name;            /* module.QualName for classes, tp_name for static types */
};

/* Version-specific object layouts (internals.md §2.4-2.6, §2.9), GIL builds. */
struct hc_pyobj_layout {
	unsigned minor;
	uint32_t tuple_items;
	uint32_t values_items;       /* PyDictValues: where values[] starts */
	uint32_t ht_qualname, ht_module, ht_cached_keys;
	uint32_t interp_modules;     /* PyInterpreterState: sys.modules */
	/* _PyInterpreterFrame (3.11+) */
	uint32_t frame_code, frame_func, frame_globals, frame_locals, frame_obj, frame_stack, frame_localsplus;
	bool stack_is_pointer;       /* 3.14: stackpointer, else the int stacktop */
	uint32_t co_localsplusnames; /* 3.11+ */
	uint32_t co_stacksize;       /* 3.11+: int */
	/* line numbers: the code's first line (int) and table (bytes), the frame's instruction */
	uint32_t co_firstlineno, co_linetable;
	uint32_t co_code_adaptive;   /* 3.11+: where the code units start in the code object */
	uint32_t frame_instr;        /* 3.9: f_lasti (int, bytes); 3.11/3.12 prev_instr, 3.13+ instr_ptr */
	uint32_t str_ascii_size, str_compact_size;
	bool refcnt32;               /* 3.12+: the low 32 bits count, (int32) < 0 is immortal */
	bool long_tag;               /* 3.12+: lv_tag >> 3 digits */
	const char *const *function_fields; /* names of PyFunctionObject's words from offset 16 */
};

const struct hc_pyobj_layout *hc_pyobj_layout_for(unsigned minor);

/* Reads the type at addr (no checks that it is one; hc_pyheap does those). */
bool hc_pytype_read(const struct hc_target *t, const struct hc_symbols *s, const struct hc_pyobj_layout *L,
		    uint64_t addr, struct hc_pytype *out);

/*
 * Calls fn for every reference of the object at obj of type ty; fn returns
 * false to stop. Returns false if fn stopped it. Reads that leave the core
 * end that part quietly: the caller has the object's other references.
 */
typedef bool (*hc_pyref_fn)(void *ctx, const struct hc_pyref *ref);
bool hc_pyrefs_each(const struct hc_target *t, const struct hc_pyobj_layout *L, const struct hc_pytype *ty,
		    uint64_t obj, hc_pyref_fn fn, void *ctx);

/*
 * The same, and damage (damage_len bytes, NUL-terminated) says the first
 * size field found impossible (a list longer than its allocation, a dict
 * with more entries than its table holds), "" if none: what is read stays
 * within the bounds the object's other fields set.
 */
bool hc_pyrefs_each_checked(const struct hc_target *t, const struct hc_pyobj_layout *L, const struct hc_pytype *ty,
			    uint64_t obj, hc_pyref_fn fn, void *ctx, char *damage, size_t damage_len);

/* Calls fn for each (key, value) of the dict at addr (HC_PYREF_DICT_KEY then _VALUE); as hc_pyrefs_each. */
bool hc_pydict_each(const struct hc_target *t, const struct hc_pyobj_layout *L, uint64_t dict, hc_pyref_fn fn,
		    void *ctx);

/* Items of a list, tuple, dict or set (len()); false for other kinds or if unreadable. */
bool hc_pyobj_len(const struct hc_target *t, const struct hc_pyobj_layout *L, const struct hc_pytype *ty,
		  uint64_t obj, uint64_t *len);

/* sys.getsizeof's count for the object, near enough: header, body, items and owned buffers. */
uint64_t hc_pyobj_size(const struct hc_target *t, const struct hc_pyobj_layout *L, const struct hc_pytype *ty,
		       uint64_t obj);

/* Reads ob_refcnt; *immortal for 3.12+'s immortal objects. */
bool hc_pyobj_refcnt(const struct hc_target *t, const struct hc_pyobj_layout *L, uint64_t obj, uint64_t *refcnt,
		     bool *immortal);

/* The C string at addr, from the core or else the file of the module holding it. */
bool hc_cpython_read_cstr(const struct hc_target *t, const struct hc_symbols *s, uint64_t addr, char *buf,
			  size_t len);

#endif
