/*
 * C++ objects by their vtable pointer. A polymorphic object's first word is
 * its primary vptr: the address of an entry inside its class's vtable
 * (_ZTV<class> + 16 usually, further in with virtual bases). A word is taken
 * for a vptr when it points into a module outside its code and the entry it
 * points at is a code address (the first virtual function). The class is
 * named, in order of trust, by:
 *
 *   1. the symbol enclosing the address, if it is a _ZTV symbol: .symtab of
 *      an unstripped file, or .dynsym, which holds the vtables of classes a
 *      library (or a -rdynamic executable) exports;
 *   2. RTTI: vtable[-1] is the class's type_info, whose second word points
 *      at its mangled name ("N3app6WidgetE"), in the file's .rodata;
 *   3. nothing: "vtable 0x... (module+0x...)", so that objects of one class
 *      still group together. Only when the module has no .symtab (which
 *      would have named a real vtable) and the offset-to-top before the entry
 *      reads 0, as it does in a primary vtable.
 *
 * Every distinct first word is classified once (a cache), so the pass costs
 * one read per node.
 */
#include <stdio.h>
#include <string.h>

#include "heapcore/demangle.h"
#include "types_internal.h"

/* Cached answer for a first word that is no vptr. */
#define NOT_VTABLE (HC_MAP_NONE - 1)
#define RTTI_NAME_MAX 1024

/* A NUL-terminated string from the core or the module's file, read in small pieces near segment ends. */
static bool read_cstr(const struct hc_symbols *s, uint64_t addr, char *buf, size_t max)
{
	size_t n = 0;
	while (n + 16 < max) {
		if (!hc_types_read(s, addr + n, buf + n, 16)) {
			/* the last bytes of a segment: one at a time */
			if (!hc_types_read(s, addr + n, buf + n, 1))
				return false;
			if (!buf[n])
				return true;
			n++;
			continue;
		}
		void *z = memchr(buf + n, 0, 16);
		if (z)
			return true;
		n += 16;
	}
	return false;
}

/* The class named by RTTI: vtable[-1] -> type_info { vptr, const char *name }. */
static bool rtti_name(const struct hc_symbols *s, uint64_t vptr, char *buf, size_t len)
{
	uint64_t ti, ti_vptr, name_addr;
	char mangled[RTTI_NAME_MAX];
	if (!hc_types_read(s, vptr - 8, &ti, 8) || !ti || !hc_symbols_module_at(s, ti) ||
	    !hc_types_read(s, ti, &ti_vptr, 8) || !hc_symbols_module_at(s, ti_vptr) ||
	    !hc_types_read(s, ti + 8, &name_addr, 8) || !hc_symbols_module_at(s, name_addr) ||
	    !read_cstr(s, name_addr, mangled, sizeof(mangled)))
		return false;
	return hc_demangle_type(mangled, buf, len);
}

/* The type id for objects whose first word is v, or NOT_VTABLE. */
static uint32_t classify(struct hc_types_build *b, uint64_t v)
{
	const struct hc_symbols *s = b->s;
	const struct hc_module *m = hc_symbols_module_at(s, v);
	uint64_t entry;
	if (!m || (v & 7) || hc_types_is_code(s, v) || !hc_types_read(s, v, &entry, 8) ||
	    !hc_types_is_code(s, entry))
		return NOT_VTABLE;
	char name[1024];
	struct hc_symbol sym;
	if (hc_symbols_symbol_at(s, v, &sym)) {
		/* a vtable's entries start 16 bytes in, after offset-to-top and the type_info pointer */
		if (strncmp(sym.name, "_ZTV", 4) || v - sym.address < 16 || !hc_demangle_type(sym.name + 4, name, sizeof(name)))
			return NOT_VTABLE;
	} else {
		uint64_t top;
		if (!hc_types_read(s, v - 16, &top, 8) || top != 0)
			return NOT_VTABLE;
		if (!rtti_name(s, v, name, sizeof(name))) {
			if (m->has_symtab)
				return NOT_VTABLE;
			char where[512];
			if (!hc_symbols_describe(s, v, where, sizeof(where)))
				snprintf(where, sizeof(where), "?");
			snprintf(name, sizeof(name), "vtable 0x%llx (%s)", (unsigned long long)v, where);
		}
	}
	/* the type's vtable address is set when the pass ends: the first node's, whichever thread met it first */
	uint32_t id = hc_types_type(b, HC_TYPE_SOURCE_VTABLE, name);
	return id == HC_TYPE_NONE ? NOT_VTABLE : id;
}

/* One thread's part of the pass: a range of the graph's word0_module list, with its own cache. */
struct vt_part {
	struct hc_types_build *b;
	uint32_t k0, k1;
	struct hc_u64map cache;    /* first word -> type id or NOT_VTABLE */
	struct hc_u64map first;    /* type id -> the first node of the range that has it */
	bool nomem;
};

static void *vt_run(void *arg)
{
	struct vt_part *pt = arg;
	struct hc_types_build *b = pt->b;
	const struct hc_graph *g = b->g;
	uint32_t *type = b->ty->node_type;
	struct hc_span span = { 0 };
	for (uint32_t k = pt->k0; k < pt->k1; k++) {
		uint32_t n = g->word0_module[k];
		if (pt->nomem || hc_graph_node_size(g, n) < 8)
			continue;
		uint64_t a = hc_graph_node_addr(g, n), v;
		hc_types_span(b->t, &span, a, 8);
		/* a word across two segments (never one of a 16-aligned chunk): the exact read */
		if (!hc_span_u64(&span, a, &v) && !hc_target_read_u64(b->t, a, &v))
			continue;
		if (!v || (v & 7) || !hc_ranges_has(&b->modules, v) || !hc_symbols_module_at(b->s, v))
			continue;
		uint32_t id = hc_u64map_get(&pt->cache, v);
		if (id == HC_MAP_NONE) {
			/* the table, the strings and the symbols' lazy state are shared */
			pthread_mutex_lock(&b->lock);
			id = classify(b, v);
			pt->nomem |= b->nomem;
			pthread_mutex_unlock(&b->lock);
			if (!hc_u64map_put(&pt->cache, v, id))
				pt->nomem = true;
		}
		if (id == NOT_VTABLE)
			continue;
		type[n] = id;
		if (hc_u64map_get(&pt->first, id) == HC_MAP_NONE && !hc_u64map_put(&pt->first, id, n))
			pt->nomem = true;
	}
	return NULL;
}

/*
 * One pass over the nodes whose first word the graph's scan saw point into
 * a module (g->word0_module, in address order; two halves at once with two
 * threads), so that the other nodes' memory is not read again. The cache
 * answers all but the first object of each class. A type's vtable address
 * is its first node's first word, as one pass in address order would have
 * met it. Every node's type and via start as HC_TYPE_NONE here.
 */
void hc_types_vtables(struct hc_types_build *b)
{
	const struct hc_graph *g = b->g;
	memset(b->ty->node_type, 0xff, (size_t)g->nnodes * sizeof(uint32_t));
	memset(b->ty->node_via, 0xff, (size_t)g->nnodes * sizeof(uint32_t));
	uint32_t half = g->nword0_module / 2;
	struct vt_part parts[2] = { { .b = b, .k0 = 0, .k1 = half }, { .b = b, .k0 = half, .k1 = g->nword0_module } };
	hc_run_pair(b->nthreads, vt_run, &parts[0], &parts[1]);
	for (int i = 0; i < 2; i++) {
		struct vt_part *pt = &parts[i];
		b->nomem |= pt->nomem;
		for (uint32_t k = 0; k < pt->first.cap && !b->nomem; k++) {
			if (pt->first.vals[k] == HC_MAP_NONE)
				continue;
			uint64_t v;
			struct hc_type *t = &b->ty->types[pt->first.keys[k]];
			if (!t->vtable && hc_target_read_u64(b->t, hc_graph_node_addr(g, pt->first.vals[k]), &v))
				t->vtable = v;
		}
		hc_u64map_free(&pt->cache);
		hc_u64map_free(&pt->first);
	}
}
