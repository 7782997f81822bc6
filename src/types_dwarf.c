/*
 * DWARF types followed from typed variables through the heap. Seeds: every
 * word of the modules' writable data (the graph's HC_ROOT_DATA ranges) that
 * points at a node's start and lies in a variable whose member there is a
 * pointer: g_list is "struct node *", so the node it points at is a struct
 * node; given the threads' frames, the same for words of the stacks
 * (HC_ROOT_STACK ranges) in typed locals. Then breadth-first: each typed node's pointer members (from its
 * DWARF layout, through nested structs and arrays) type the nodes they point
 * at. Each node is visited once, so the pass reads each typed node's pointer
 * words once.
 *
 * Rules:
 *   - Only pointers to a node's start type it: an interior pointer says the
 *     node contains the type somewhere, not what the node is.
 *   - The first evidence wins (the root scan in address order, then the
 *     breadth-first order, so the shortest typed path); a later pointer of
 *     another type counts as a conflict on the kept type, and changes nothing.
 *   - A vtable's name is kept over DWARF's (a Gadget reached through a
 *     Widget * stays a Gadget). Objects typed by a vtable are laid out by
 *     their class's DWARF when the vtable's module has it (found by name),
 *     else by the first typed pointer reaching them (valid for the base
 *     part), so the walk goes on through them.
 *   - A node reached as a scalar or pointer type holds an array of it when
 *     it is at least twice the type's size and larger than glibc would have
 *     made a chunk for one (request rounded up to 16 with 8 bytes of header,
 *     32 at least); scalars smaller than a word (char, int) are arrays from
 *     two of them. Its name gets "[]" ("char[]", "app::Widget *[]") and every
 *     element is followed. A struct is never taken for an array of itself:
 *     malloc(sizeof(struct hdr) + len) is as common as malloc(n * sizeof
 *     (struct x)) and the two cannot be told apart, so the node is named
 *     "struct x" and its first element alone is followed.
 *   - void *, function pointers and types without a known size type nothing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "types_internal.h"

/* Pointer members looked at per layout: the first ones of a huge struct or array are the ones that matter. */
#define PTRS_PER_LAYOUT 1024
#define DIE_BITS 40

/* The layout index of a type handle, added on first sight; HC_TYPE_NONE if it cannot be. */
static uint32_t layout_of(struct hc_types_build *b, struct hc_type_ref ref)
{
	if (!ref.module || ref.die >> DIE_BITS)
		return HC_TYPE_NONE;
	uint64_t mod = (uint64_t)(ref.module - b->s->modules);
	uint64_t key = ref.die | (uint64_t)ref.alt << DIE_BITS | mod << (DIE_BITS + 1);
	uint32_t idx = hc_u64map_get(&b->layout_ids, key);
	if (idx != HC_MAP_NONE)
		return idx;
	struct hc_types *ty = b->ty;
	if (ty->nlayouts == b->layouts_cap) {
		uint32_t cap = b->layouts_cap ? b->layouts_cap * 2 : 64;
		struct hc_type_layout *l = realloc(ty->layouts, cap * sizeof(*l));
		if (!l || cap >= HC_LAYOUT_ARRAY) {
			if (l)
				ty->layouts = l;
			b->nomem = true;
			return HC_TYPE_NONE;
		}
		ty->layouts = l;
		b->layouts_cap = cap;
	}
	char name[512];
	if (!hc_symbols_type_name(b->s, ref, name, sizeof(name)))
		return HC_TYPE_NONE;
	uint32_t so = hc_types_str(b, name);
	if (so == HC_TYPE_NONE)
		return HC_TYPE_NONE;
	uint64_t size = 0;
	if (!hc_symbols_type_size(b->s, ref, &size))
		size = 0;
	idx = ty->nlayouts++;
	ty->layouts[idx] = (struct hc_type_layout){ .ref = ref, .name = so, .size = size,
						  .aggregate = hc_symbols_type_is_aggregate(b->s, ref),
						  .type_id = { HC_TYPE_NONE, HC_TYPE_NONE } };
	if (!hc_u64map_put(&b->layout_ids, key, idx))
		b->nomem = true;
	return idx;
}

/* Fills the layout's pointer members once. */
static void ensure_pointers(struct hc_types_build *b, uint32_t li, struct hc_type_pointer *scratch)
{
	if (b->ty->layouts[li].pointers_done)
		return;
	b->ty->layouts[li].pointers_done = true;
	uint32_t n = hc_symbols_type_pointers(b->s, b->ty->layouts[li].ref, scratch, PTRS_PER_LAYOUT);
	if (b->nptrs + n > b->ptrs_cap) {
		uint32_t cap = b->ptrs_cap ? b->ptrs_cap : 256;
		while (cap < b->nptrs + n)
			cap *= 2;
		struct hc_layout_ptr *p = realloc(b->ptrs, cap * sizeof(*p));
		if (!p) {
			b->nomem = true;
			return;
		}
		b->ptrs = p;
		b->ptrs_cap = cap;
	}
	uint32_t first = b->nptrs;
	for (uint32_t i = 0; i < n && !b->nomem; i++) {
		/* layout_of may move the layouts: index, never hold a pointer across it */
		uint32_t pointee = layout_of(b, scratch[i].pointee);
		uint32_t path = hc_types_str(b, scratch[i].path);
		if (pointee == HC_TYPE_NONE || path == HC_TYPE_NONE)
			continue;
		b->ptrs[b->nptrs++] = (struct hc_layout_ptr){ scratch[i].offset, pointee, path };
	}
	b->ty->layouts[li].first_ptr = first;
	b->ty->layouts[li].nptrs = b->nptrs - first;
}

static bool holds_array(uint64_t usable, const struct hc_type_layout *l)
{
	uint64_t size = l->size;
	if (l->aggregate || !size || usable < 2 * size)
		return false;
	if (size < 8)
		return true;
	uint64_t chunk = (size + 8 + 15) & ~15ull;
	if (chunk < 32)
		chunk = 32;
	return usable > chunk - 8;
}

struct walk {
	struct hc_types_build *b;
	uint32_t *queue;
	uint32_t head, tail;
};

/* The member string of a claim: the member's path, "[elem]" prefixed for an array element. */
static uint32_t member_string(struct hc_types_build *b, uint64_t elem, uint32_t path)
{
	if (elem == UINT64_MAX)
		return path;
	/* the path lives in the pool, which interning may move: copied out first */
	const char *p = b->ty->strings + path;
	char buf[600];
	snprintf(buf, sizeof(buf), "[%llu]%s%s", (unsigned long long)elem, p[0] && p[0] != '[' ? "." : "", p);
	return hc_types_str(b, buf);
}

/*
 * Node n is pointed at by a pointer to layout li, through member `path` (a
 * string offset) of node `via`, or of element elem of it when via holds an
 * array (elem UINT64_MAX otherwise).
 */
static void claim(struct walk *w, uint32_t n, uint32_t li, uint32_t via, uint64_t elem, uint32_t path)
{
	struct hc_types_build *b = w->b;
	struct hc_types *ty = b->ty;
	if (ty->node_layout[n] != HC_TYPE_NONE) {
		uint32_t old = ty->node_layout[n] & ~HC_LAYOUT_ARRAY;
		/* a derived object reached through a base pointer is no conflict: only DWARF against DWARF */
		if (ty->layouts[old].name != ty->layouts[li].name && ty->node_type[n] != HC_TYPE_NONE &&
		    ty->types[ty->node_type[n]].source == HC_TYPE_SOURCE_DWARF)
			ty->types[ty->node_type[n]].conflicts++;
		/* an object typed by its vtable still learns the member it was first reached through */
		if (ty->node_member[n] == HC_TYPE_NONE) {
			ty->node_member[n] = member_string(b, elem, path);
			ty->node_via[n] = via;
		}
		return;
	}
	bool array = holds_array(b->g->size[n], &ty->layouts[li]);
	if (ty->node_type[n] == HC_TYPE_NONE) {
		uint32_t id = ty->layouts[li].type_id[array];
		if (id == HC_TYPE_NONE) {
			char name[600];
			snprintf(name, sizeof(name), "%s%s", ty->strings + ty->layouts[li].name, array ? "[]" : "");
			id = hc_types_type(b, HC_TYPE_SOURCE_DWARF, name);
			if (id == HC_TYPE_NONE)
				return;
			ty->layouts[li].type_id[array] = id;
		}
		ty->node_type[n] = id;
	}
	ty->node_layout[n] = li | (array ? HC_LAYOUT_ARRAY : 0);
	ty->node_member[n] = member_string(b, elem, path);
	ty->node_via[n] = via;
	w->queue[w->tail++] = n;
}

/*
 * Objects typed by their vtable are laid out by their class's DWARF, when the
 * module holding the vtable has it: their pointer members are followed too.
 */
static void seed_vtables(struct walk *w)
{
	struct hc_types_build *b = w->b;
	struct hc_types *ty = b->ty;
	uint32_t ntypes = ty->ntypes;
	if (!ntypes)
		return;
	uint32_t *layout = malloc(ntypes * sizeof(*layout));
	if (!layout) {
		b->nomem = true;
		return;
	}
	bool any = false;
	for (uint32_t id = 0; id < ntypes && !b->nomem; id++) {
		layout[id] = HC_TYPE_NONE;
		const struct hc_type *t = &ty->types[id];
		struct hc_type_ref ref;
		/* the name is still a string offset: the pool is not final */
		const char *name = ty->strings + (uintptr_t)t->name;
		if (t->source != HC_TYPE_SOURCE_VTABLE || !t->vtable || !strncmp(name, "vtable 0x", 9) ||
		    !hc_symbols_type_by_name(b->s, hc_symbols_module_at(b->s, t->vtable), name, &ref))
			continue;
		layout[id] = layout_of(b, ref);
		any |= layout[id] != HC_TYPE_NONE;
	}
	for (uint32_t n = 0; any && n < b->g->nnodes && !b->nomem; n++) {
		uint32_t id = ty->node_type[n];
		if (id < ntypes && layout[id] != HC_TYPE_NONE) {
			ty->node_layout[n] = layout[id];
			w->queue[w->tail++] = n;
		}
	}
	free(layout);
}

/*
 * The words of the modules' data (and, given frames, of the threads'
 * stacks) that point at nodes, named by the variables (locals) holding them.
 */
static void seed(struct walk *w)
{
	struct hc_types_build *b = w->b;
	const struct hc_graph *g = b->g;
	struct hc_variable var;
	for (uint32_t r = 0; r < g->nroots && !b->nomem; r++) {
		const struct hc_root_range *rr = &g->roots[r];
		bool stack = rr->kind == HC_ROOT_STACK && b->unwind && rr->thread >= 0;
		if ((rr->kind != HC_ROOT_DATA && !stack) || rr->end <= rr->start)
			continue;
		struct hc_span span = { 0 };
		for (uint64_t a = (rr->start + 7) & ~7ull; a + 8 <= rr->end && !b->nomem; a += 8) {
			uint64_t v;
			if (!hc_span_u64(&span, a, &v)) {
				hc_target_span(b->t, a, rr->end - a, &span);
				if (!hc_span_u64(&span, a, &v)) {
					/* not dumped here: skip to the next page */
					a = ((a + 4096) & ~4095ull) - 8;
					continue;
				}
			}
			uint32_t n = hc_types_node_at(g, v);
			if (n == HC_TYPE_NONE || g->addr[n] != v || b->ty->node_layout[n] != HC_TYPE_NONE)
				continue;
			struct hc_type_ref pointee;
			bool named = stack ? hc_unwind_local_at(b->unwind, b->s, (uint32_t)rr->thread, a, &var)
					   : hc_symbols_variable_at(b->s, a, &var);
			if (!named || !var.from_dwarf || !var.leaf.type.module ||
			    var.leaf.offset != var.offset || !hc_symbols_type_pointee(b->s, var.leaf.type, &pointee))
				continue;
			uint32_t li = layout_of(b, pointee);
			uint32_t path = hc_types_str(b, var.path);
			if (li != HC_TYPE_NONE && path != HC_TYPE_NONE)
				claim(w, n, li, HC_TYPE_VIA_ROOT, UINT64_MAX, path);
		}
	}
}

/* Follows node n's typed pointer words. */
static void expand(struct walk *w, uint32_t n, struct hc_type_pointer *scratch)
{
	struct hc_types_build *b = w->b;
	const struct hc_graph *g = b->g;
	uint32_t li = b->ty->node_layout[n] & ~HC_LAYOUT_ARRAY;
	bool array = b->ty->node_layout[n] & HC_LAYOUT_ARRAY;
	ensure_pointers(b, li, scratch);
	const struct hc_type_layout l = b->ty->layouts[li];
	if (!l.nptrs || b->nomem)
		return;
	uint64_t usable = g->size[n];
	uint64_t elems = array ? usable / l.size : 1;
	struct hc_span span;
	hc_target_span(b->t, g->addr[n], usable, &span);
	for (uint64_t e = 0; e < elems && !b->nomem; e++) {
		for (uint32_t k = 0; k < l.nptrs; k++) {
			const struct hc_layout_ptr p = b->ptrs[l.first_ptr + k];
			uint64_t off = e * l.size + p.offset;
			uint64_t v;
			if (off + 8 > usable || !hc_span_u64(&span, g->addr[n] + off, &v))
				continue;
			uint32_t t = hc_types_node_at(g, v);
			if (t == HC_TYPE_NONE || g->addr[t] != v || t == n)
				continue;
			claim(w, t, p.pointee, n, array ? e : UINT64_MAX, p.path);
		}
	}
}

void hc_types_dwarf(struct hc_types_build *b)
{
	if (!b->g->nnodes)
		return;
	struct walk w = { .b = b, .queue = malloc(b->g->nnodes * sizeof(uint32_t)) };
	struct hc_type_pointer *scratch = malloc(PTRS_PER_LAYOUT * sizeof(*scratch));
	if (!w.queue || !scratch) {
		free(w.queue);
		free(scratch);
		b->nomem = true;
		return;
	}
	seed_vtables(&w);
	seed(&w);
	while (w.head < w.tail && !b->nomem)
		expand(&w, w.queue[w.head++], scratch);
	free(w.queue);
	free(scratch);
}
