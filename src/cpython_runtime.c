/*
 * Finding the CPython runtime in a target (see heapcore/cpython.h): the
 * module exporting _PyRuntime, the version, and the thread states of every
 * interpreter.
 *
 * _PyRuntime is in .dynsym of libpython3.X.so and of Debian's statically
 * linked /usr/bin/python3.X, stripped or not. The version comes, in order
 * of trust, from _Py_DebugOffsets (3.13+: member 0 of _PyRuntime, the
 * cookie "xdebugpy" then PY_VERSION_HEX), from the Py_Version variable
 * (3.11+, read-only data: from the module's file when the core lacks it),
 * or from the module's file name. Each value read from the core is bounds
 * checked through the target; a list that loops or leaves the core ends
 * with a warning.
 */
#include "heapcore/cpython.h"

#include "cpython_layout.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Offsets in one minor version's structs (internals.md §2.7; GIL builds). */
static const struct hc_cpython_layout layouts[] = {
	/*
	 * minor; runtime: head, main; interp: next, threads, gc, gc's generations, its permanent one;
	 * tstate: next, interp, ids; frames: tstate's, through a cframe, code, previous, owner, shims;
	 * code: co_filename, co_name; str: ASCII data, other compact data
	 */
	{ 9, 32, 40, 0, 8, 616, 24, 104, 8, 16, 176, 0, 24, -1, 32, 24, -1, 0, 0, 104, 112, 48, 72 },
	{ 11, 40, 48, 0, 16, 648, 24, 104, 8, 16, 152, 160, 56, 8, 32, 48, 69, 3, 0, 112, 120, 48, 72 },
	{ 12, 40, 48, 0, 72, 112, 24, 104, 8, 16, 136, 144, 56, 0, 0, 8, 70, 3, 0, 112, 120, 40, 56 },
	/* PyGC_Head is only 4-aligned in 3.13: the generations start at 20 */
	{ 13, 632, 640, 7264, 7344, 7400, 20, 104, 8, 16, 152, 160, 72, -1, 0, 8, 70, 3, 0, 112, 120, 40, 56 },
	/* young and two old spaces (3.14.0-3.14.4) or three generations (3.14.5+): the same three heads */
	{ 14, 808, 816, 7272, 7344, 7408, 24, 96, 8, 16, 152, 160, 72, -1, 0, 8, 74, 3, 1, 112, 120, 40, 56 },
};

/* No process has more; a longer list has looped or is not a list. */
#define MAX_INTERPS 256
#define MAX_THREADS 65536

const char *hc_cpython_version_source_name(enum hc_cpython_version_source v)
{
	static const char *const names[] = { "none", "_Py_DebugOffsets", "Py_Version", "file name" };
	return (unsigned)v < sizeof(names) / sizeof(names[0]) ? names[v] : "unknown";
}

/* A u64 at addr: from the core, else (read-only data a core may lack) from the module's file. */
static bool read_u64(const struct hc_target *t, const struct hc_symbols *s, const struct hc_module *m, uint64_t addr,
		     uint64_t *v)
{
	return hc_target_read_u64(t, addr, v) ||
	       (s && hc_symbols_read_file(s, m, addr, v, sizeof(*v)) == HC_READ_OK);
}

/* "python3.11", "libpython3.9.so.1.0": the minor version in a file name, or 0. */
static unsigned minor_from_name(const char *path)
{
	const char *base = strrchr(path, '/');
	base = base ? base + 1 : path;
	const char *p = strstr(base, "python3.");
	if (!p)
		return 0;
	p += strlen("python3.");
	unsigned minor = 0;
	for (int digits = 0; *p >= '0' && *p <= '9' && digits < 3; p++, digits++)
		minor = minor * 10 + (unsigned)(*p - '0');
	return minor;
}

static void set_hexversion(struct hc_cpython_runtime *r, uint32_t hex, enum hc_cpython_version_source src)
{
	r->hexversion = hex;
	r->major = hex >> 24;
	r->minor = (hex >> 16) & 0xff;
	r->micro = (hex >> 8) & 0xff;
	r->version_source = src;
}

/* The version, most trusted source first; false if none says. */
static bool find_version(const struct hc_target *t, const struct hc_symbols *s, struct hc_cpython_runtime *r)
{
	char cookie[8];
	uint64_t v;
	if (hc_target_read(t, r->runtime, cookie, sizeof(cookie)) == HC_READ_OK &&
	    !memcmp(cookie, "xdebugpy", 8) && read_u64(t, s, r->module, r->runtime + 8, &v) &&
	    (v >> 24) == 3 && ((v >> 16) & 0xff) >= 13) {
		set_hexversion(r, (uint32_t)v, HC_CPYTHON_VERSION_DEBUG_OFFSETS);
		return true;
	}
	struct hc_symbol sym;
	if (hc_symbols_lookup(s, r->module, "Py_Version", &sym) && read_u64(t, s, r->module, sym.address, &v) &&
	    (v >> 24) == 3) {
		set_hexversion(r, (uint32_t)v, HC_CPYTHON_VERSION_PY_VERSION);
		return true;
	}
	unsigned minor = minor_from_name(r->module->name);
	if (minor) {
		r->major = 3;
		r->minor = minor;
		r->version_source = HC_CPYTHON_VERSION_FILE_NAME;
		return true;
	}
	return false;
}

const struct hc_cpython_layout *hc_cpython_layout_for(unsigned major, unsigned minor)
{
	for (size_t i = 0; major == 3 && i < sizeof(layouts) / sizeof(layouts[0]); i++)
		if (layouts[i].minor == minor)
			return &layouts[i];
	return NULL;
}

static bool add_thread(struct hc_cpython_runtime *r, uint32_t *cap, struct hc_cpython_thread th)
{
	if (r->nthreads == *cap) {
		uint32_t c = *cap ? *cap * 2 : 16;
		struct hc_cpython_thread *a = realloc(r->threads, c * sizeof(*a));
		if (!a)
			return false;
		r->threads = a;
		*cap = c;
	}
	r->threads[r->nthreads++] = th;
	return true;
}

/* Every interpreter's thread states, each matched to the core's thread of its kernel id. */
static struct hc_error *find_threads(struct hc_target *t, struct hc_cpython_runtime *r, const struct hc_cpython_layout *L)
{
	uint64_t interp;
	if (!hc_target_read_u64(t, r->runtime + L->interpreters_head, &interp) ||
	    !hc_target_read_u64(t, r->runtime + L->interpreters_main, &r->main_interp)) {
		hc_warnings_add(&t->warnings, HC_WARN_PARTIAL, "python: _PyRuntime at 0x%llx is not in the core",
				(unsigned long long)r->runtime);
		return NULL;
	}
	uint32_t cap = 0;
	for (; interp && r->ninterps < MAX_INTERPS; r->ninterps++) {
		uint64_t ts;
		if (!hc_target_read_u64(t, interp + L->interp_threads, &ts)) {
			hc_warnings_add(&t->warnings, HC_WARN_PARTIAL,
					"python: interpreter 0x%llx is not in the core", (unsigned long long)interp);
			return NULL;
		}
		for (uint32_t n = 0; ts; n++) {
			struct hc_cpython_thread th = { .tstate = ts, .core_thread = -1 };
			uint64_t next;
			if (n == MAX_THREADS || !hc_target_read_u64(t, ts + L->tstate_next, &next) ||
			    !hc_target_read_u64(t, ts + L->tstate_interp, &th.interp) ||
			    !hc_target_read_u64(t, ts + L->tstate_thread_id, &th.thread_id) ||
			    (L->tstate_native_id && !hc_target_read_u64(t, ts + L->tstate_native_id, &th.native_id))) {
				hc_warnings_add(&t->warnings, HC_WARN_PARTIAL,
						"python: the thread list of interpreter 0x%llx ends at 0x%llx, which is "
						"not a thread state in the core",
						(unsigned long long)interp, (unsigned long long)ts);
				break;
			}
			/* a thread state names its interpreter: one that does not is no thread state */
			if (th.interp != interp) {
				hc_warnings_add(&t->warnings, HC_WARN_PARTIAL,
						"python: thread state 0x%llx names interpreter 0x%llx, not 0x%llx",
						(unsigned long long)ts, (unsigned long long)th.interp,
						(unsigned long long)interp);
				break;
			}
			/* by kernel id (3.11+); else pthread_t, which glibc makes the thread pointer */
			for (uint32_t i = 0; i < t->nthreads; i++)
				if (th.native_id ? (uint64_t)t->threads[i].tid == th.native_id
						 : t->threads[i].has_tp && t->threads[i].tp == th.thread_id)
					th.core_thread = (int32_t)i;
			if (!add_thread(r, &cap, th))
				return &hc_error_nomem;
			ts = next;
		}
		if (!hc_target_read_u64(t, interp + L->interp_next, &interp))
			break;
	}
	return NULL;
}

struct hc_error *hc_cpython_find(struct hc_target *t, const struct hc_symbols *s, struct hc_cpython_runtime *out)
{
	memset(out, 0, sizeof(*out));
	struct hc_symbol sym;
	for (uint32_t i = 0; s && i < s->nmodules && !out->found; i++) {
		const struct hc_module *m = &s->modules[i];
		if (hc_symbols_lookup(s, m, "_PyRuntime", &sym) && !sym.is_tls) {
			out->found = true;
			out->module = m;
			out->runtime = sym.address;
		}
	}
	if (!out->found)
		return NULL;
	if (!find_version(t, s, out)) {
		hc_warnings_add(&t->warnings, HC_WARN_PARTIAL, "python: %s has _PyRuntime but says no version",
				out->module->name);
		return NULL;
	}
	/*
	 * A free-threaded build (3.13t+) says so in _Py_DebugOffsets (after the
	 * cookie and version) and in its file name: its objects have another
	 * header and live in mimalloc's heaps, not pymalloc's or on gc lists
	 */
	uint64_t ft = 0;
	size_t nlen = strlen(out->module->name);
	if ((out->version_source == HC_CPYTHON_VERSION_DEBUG_OFFSETS &&
	     read_u64(t, s, out->module, out->runtime + 16, &ft) && ft) ||
	    (nlen > 1 && out->module->name[nlen - 1] == 't' && strstr(out->module->name, "python3.")) ||
	    strstr(out->module->name, "t.so")) {
		out->free_threaded = true;
		hc_warnings_add(&t->warnings, HC_WARN_PARTIAL,
				"python %u.%u: a free-threaded build (no GIL), whose objects heapcore does not read yet; "
				"the native heap is analysed as usual",
				out->major, out->minor);
		return NULL;
	}
	const struct hc_cpython_layout *L = hc_cpython_layout_for(out->major, out->minor);
	if (!L) {
		hc_warnings_add(&t->warnings, HC_WARN_PARTIAL,
				"python %u.%u: no known layout for this version; its objects are not read",
				out->major, out->minor);
		return NULL;
	}
	out->layout_known = true;
	out->layout = L;
	hc_cpython_check_layout_dwarf(t, s, out);
	if (!out->layout_known)
		return NULL;
	return find_threads(t, out, L);
}

void hc_cpython_runtime_free(struct hc_cpython_runtime *r)
{
	free(r->threads);
	r->threads = NULL;
	r->nthreads = 0;
}
