/*
 * The CPython runtime of a target (cpython_runtime.c): which interpreter
 * version the process ran, where its _PyRuntime is, and its interpreters'
 * thread states, matched to the core's threads. The first step of reading a
 * Python heap: everything else (objects, types, frames) hangs from these.
 *
 * Layouts are per minor version, from CPython's own headers as Debian
 * builds them (../shared/reference/internals.md §2.7, checked against
 * python3.X-dev): 3.9, 3.11, 3.12, 3.13 and 3.14 with the GIL. Tests check
 * 3.9, 3.11, 3.13 and 3.14 against live interpreters
 * (tests/unit/test_cpython.c); 3.12's, which no Debian suite ships, is
 * from the headers alone.
 */
#ifndef HEAPCORE_CPYTHON_H
#define HEAPCORE_CPYTHON_H

#include <stdbool.h>
#include <stdint.h>

#include "heapcore/error.h"
#include "heapcore/symbols.h"
#include "heapcore/target.h"

/* Where the version came from, most trusted first. */
enum hc_cpython_version_source {
	HC_CPYTHON_VERSION_NONE = 0,
	HC_CPYTHON_VERSION_DEBUG_OFFSETS, /* _Py_DebugOffsets.version (3.13+), at _PyRuntime */
	HC_CPYTHON_VERSION_PY_VERSION,    /* the Py_Version variable (3.11+) */
	HC_CPYTHON_VERSION_FILE_NAME,     /* "python3.9", "libpython3.9.so": no micro version */
};

struct hc_cpython_thread {
	uint64_t tstate;             /* PyThreadState address */
	uint64_t interp;             /* its PyInterpreterState */
	uint64_t thread_id;          /* pthread_t */
	uint64_t native_id;          /* kernel thread id; 0 where the version has none (3.9) */
	int32_t core_thread;         /* index into target->threads: that tid, or (3.9) that thread pointer; -1 */
};

struct hc_cpython_layout;

struct hc_cpython_runtime {
	bool found;                  /* a libpython or python executable with _PyRuntime */
	unsigned major, minor, micro;
	uint32_t hexversion;         /* PY_VERSION_HEX; 0 if only the file name said */
	enum hc_cpython_version_source version_source;
	bool layout_known;           /* the threads below were read with this version's layout */
	bool free_threaded;          /* a build without the GIL (3.13t+): not read (layout_known false) */
	/* offsets of the layout the interpreter's DWARF was asked about, and how many it disagreed on */
	uint32_t dwarf_checked, dwarf_mismatched;
	const struct hc_cpython_layout *layout; /* private (cpython_layout.h) */
	const struct hc_module *module;
	uint64_t runtime;            /* &_PyRuntime */
	uint64_t main_interp;        /* _PyRuntime.interpreters.main */
	uint32_t ninterps;
	struct hc_cpython_thread *threads;
	uint32_t nthreads;
};

/*
 * Finds the runtime. No Python in the process is not an error (found is
 * false); nor is a version without a known layout (layout_known false, a
 * warning in t->warnings). Damage in the thread lists ends them and warns.
 * Only allocation failure is an error. Free with hc_cpython_runtime_free.
 */
struct hc_error *hc_cpython_find(struct hc_target *t, const struct hc_symbols *s, struct hc_cpython_runtime *out);
void hc_cpython_runtime_free(struct hc_cpython_runtime *r);

const char *hc_cpython_version_source_name(enum hc_cpython_version_source v);

/*
 * The objects the garbage collector tracks (containers, instances of
 * classes), per type, from every interpreter's generation lists and its
 * permanent one (of each interpreter with a thread state): what
 * gc.get_objects() returns, counted as objgraph does. Static types' names
 * are read-only data a core may lack: they are read from the module's file.
 * Untracked objects (str, int, float, ...) are not in these lists: they
 * come from the allocator's walk (not yet done). A list that leaves the
 * core or loops ends with a warning.
 */
struct hc_cpython_type_count {
	uint64_t type;               /* the PyTypeObject */
	char *name;                  /* its tp_name, "?" if unreadable */
	uint64_t count;
};

struct hc_cpython_census {
	struct hc_cpython_type_count *types; /* most first, then by name */
	uint32_t ntypes;
	uint64_t objects;
};

/* One frame of a Python stack, innermost first. */
struct hc_cpython_frame {
	uint64_t frame;              /* the _PyInterpreterFrame (3.11+) or PyFrameObject (3.9) */
	uint64_t code;               /* its code object */
	char function[128];          /* co_name; "?" if it could not be read */
	char file[256];              /* co_filename */
	int32_t line;                /* the line it is at, from its instruction and the code's line table; -1 */
};

struct hc_cpython_stack {
	struct hc_cpython_frame *frames;
	uint32_t nframes;
};

/*
 * The Python stack of r->threads[thread], innermost frame first (the
 * interpreter's own shim frames left out), each frame with its function,
 * file and line. Damage ends it with a warning;
 * only allocation failure is an error. Free with hc_cpython_stack_free.
 */
struct hc_error *hc_cpython_thread_stack(struct hc_target *t, const struct hc_symbols *s,
					 const struct hc_cpython_runtime *r, uint32_t thread,
					 struct hc_cpython_stack *out);
void hc_cpython_stack_free(struct hc_cpython_stack *st);

/*
 * A str object's text as UTF-8 into buf (truncated to len - 1 bytes): compact
 * ASCII and Latin-1 strings; false for others (UCS-2/4, legacy) or if the
 * core lacks it.
 */
bool hc_cpython_read_str(const struct hc_target *t, const struct hc_cpython_runtime *r, uint64_t addr, char *buf,
			 size_t len);

struct hc_error *hc_cpython_gc_census(struct hc_target *t, const struct hc_symbols *s,
				      const struct hc_cpython_runtime *r, struct hc_cpython_census *out);
void hc_cpython_census_free(struct hc_cpython_census *c);

#endif
