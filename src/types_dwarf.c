/*
 * DWARF types followed from typed variables through the heap. Seeds: every
 * word of the modules' writable data (the graph's HC_ROOT_DATA ranges) that
 * points at a node's start and lies in a variable whose member there is a
 * pointer: g_list is "struct node *", so the node it points at is a struct
 * node; given the threads' frames, the same for words of the stacks
 * (HC_ROOT_STACK ranges) in typed locals. Then breadth-first: each typed
 * node's pointer members (from its DWARF layout, through nested structs and
 * arrays) type the nodes they point at. Each node is visited once, so the pass reads each typed node's pointer
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
 *
 * The walk reads no allocation's memory: the graph's edges say which
 * node each one points at, and their slots at which word, so a typed node's
 * pointer members are its edges whose word falls on a pointer member of
 * its layout. (Only an edge beyond the 65534th word of its node has to read
 * the word's offset from memory.) A pass over the core in address order can
 * so let its pages go behind it (hc_target_release_range) without this walk
 * faulting them back in at random.
 *
 * Cost: per typed node its edges, and per edge the target's node_type and
 * node_via, all cache misses in a heap far bigger than the caches: the walk
 * asks for the lines of nodes a little further on the queue before it
 * needs them, so that the misses overlap. Per node it keeps nothing but
 * node_type and node_via (types_internal.h); the member a node was reached
 * through is found again from its via node when asked for
 * (hc_types_incoming_slot).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "large_alloc.h"
#include "sorted_search.h"
#include "types_internal.h"

/* Pointer members looked at per layout: the first ones of a huge struct or array are the ones that matter. */
#define PTRS_PER_LAYOUT 1024
#define DIE_BITS 40

/* How many queued nodes ahead the walk asks for their edge lists, and (half as far) for the edges themselves. */
#define AHEAD 16

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
	struct hc_types_priv *p = b->p;
	uint32_t n = hc_symbols_type_pointers(b->s, b->ty->layouts[li].ref, scratch, PTRS_PER_LAYOUT);
	if (p->nptrs + n > b->ptrs_cap) {
		uint32_t cap = b->ptrs_cap ? b->ptrs_cap : 256;
		while (cap < p->nptrs + n)
			cap *= 2;
		struct hc_layout_ptr *a = realloc(p->ptrs, cap * sizeof(*a));
		if (!a) {
			b->nomem = true;
			return;
		}
		p->ptrs = a;
		b->ptrs_cap = cap;
	}
	uint32_t first = p->nptrs;
	for (uint32_t i = 0; i < n && !b->nomem; i++) {
		/* layout_of may move the layouts: index, never hold a pointer across it */
		uint32_t pointee = layout_of(b, scratch[i].pointee);
		uint32_t path = hc_types_str(b, scratch[i].path);
		if (pointee == HC_TYPE_NONE || path == HC_TYPE_NONE)
			continue;
		p->ptrs[p->nptrs++] = (struct hc_layout_ptr){ scratch[i].offset, pointee, path };
	}
	/* by offset, for looking up the member an edge's word is in; members at one offset (a union's) keep their order */
	for (uint32_t i = first + 1; i < p->nptrs; i++)
		for (uint32_t j = i; j > first && p->ptrs[j - 1].offset > p->ptrs[j].offset; j--) {
			struct hc_layout_ptr x = p->ptrs[j];
			p->ptrs[j] = p->ptrs[j - 1];
			p->ptrs[j - 1] = x;
		}
	b->ty->layouts[li].first_ptr = first;
	b->ty->layouts[li].nptrs = p->nptrs - first;
}

/* The first pointer member of layout l at byte offset `at`, or NULL. */
static const struct hc_layout_ptr *member_at(const struct hc_types_priv *p, const struct hc_type_layout *l, uint64_t at)
{
	uint32_t lo = l->first_ptr + hc_lower_bound_u64(p->ptrs + l->first_ptr, l->nptrs, sizeof(*p->ptrs),
							 offsetof(struct hc_layout_ptr, offset), at);
	return lo < l->first_ptr + l->nptrs && p->ptrs[lo].offset == at ? &p->ptrs[lo] : NULL;
}

/* Whether a node of `usable` bytes reached as l holds an array of it (see the rules above). */
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

/* A queued node and its layout code (layout index | HC_LAYOUT_ARRAY). */
struct qent {
	uint32_t n, code;
};

/*
 * The breadth-first queue: a node is queued once at most (claim() lays a
 * node out before queueing it, and never queues a laid-out one), so one
 * array of a slot per node holds every entry, from the pool
 * (large_alloc.h). A ring that doubled as the frontier grew cleared 256 MB
 * of fresh pages on the benchmark core, a third of the pass's time.
 */
struct walk {
	struct hc_types_build *b;
	struct hc_type_pointer *scratch;
	struct qent *queue;
	uint64_t cap;
	uint64_t read, tail;       /* [read, tail) are queued and not followed yet */
};

static void push(struct walk *w, uint32_t n, uint32_t code)
{
	/* cannot happen (each node once), but a full queue must not overflow */
	if (w->tail == w->cap) {
		w->b->nomem = true;
		return;
	}
	w->queue[w->tail++] = (struct qent){ n, code };
}

/*
 * Node n is pointed at by a pointer to layout li, from node `via`'s memory
 * or, via HC_TYPE_VIA_ROOT, from a variable (local) whose path is the
 * string root_path.
 */
static void claim(struct walk *w, uint32_t n, uint32_t li, uint32_t via, uint32_t root_path)
{
	struct hc_types_build *b = w->b;
	struct hc_types *ty = b->ty;
	struct hc_types_priv *p = b->p;
	uint32_t id = ty->node_type[n];
	/* laid out already: reached before (via set), or an object whose vtable's class gave its type a layout */
	if (ty->node_via[n] != HC_TYPE_NONE || (id != HC_TYPE_NONE && p->type_layout[id] != HC_TYPE_NONE)) {
		/* a derived object reached through a base pointer is no conflict: only DWARF against DWARF */
		if (id != HC_TYPE_NONE && ty->types[id].source == HC_TYPE_SOURCE_DWARF) {
			uint32_t old = hc_types_node_layout(ty, n) & ~HC_LAYOUT_ARRAY;
			if (ty->layouts[old].name != ty->layouts[li].name)
				ty->types[id].conflicts++;
		}
		/* an object typed by its vtable still learns the member it was first reached through */
		if (ty->node_via[n] == HC_TYPE_NONE) {
			ty->node_via[n] = via;
			if (via == HC_TYPE_VIA_ROOT && !hc_u64map_put(&p->root_member, n, root_path))
				b->nomem = true;
		}
		return;
	}
	const struct hc_type_layout *l = &ty->layouts[li];
	/* a struct is never an array of itself: its node's size is not even read */
	bool array = !l->aggregate && l->size && holds_array(hc_graph_node_size(b->g, n), l);
	uint32_t code = li | (array ? HC_LAYOUT_ARRAY : 0);
	if (id == HC_TYPE_NONE) {
		id = ty->layouts[li].type_id[array];
		if (id == HC_TYPE_NONE) {
			char name[600];
			snprintf(name, sizeof(name), "%s%s", ty->strings + ty->layouts[li].name, array ? "[]" : "");
			id = hc_types_type(b, HC_TYPE_SOURCE_DWARF, name);
			if (id == HC_TYPE_NONE)
				return;
			ty->layouts[li].type_id[array] = id;
		}
		ty->node_type[n] = id;
		/* a DWARF type is laid out as the first node that got it; the others are the exceptions */
		if (p->type_layout[id] == HC_TYPE_NONE)
			p->type_layout[id] = code;
	}
	if (code != p->type_layout[id] && !hc_types_set_node_layout(b, n, code))
		b->nomem = true;
	ty->node_via[n] = via;
	if (via == HC_TYPE_VIA_ROOT && !hc_u64map_put(&p->root_member, n, root_path))
		b->nomem = true;
	push(w, n, code);
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
	bool any = false;
	for (uint32_t id = 0; id < ntypes && !b->nomem; id++) {
		const struct hc_type *t = &ty->types[id];
		struct hc_type_ref ref;
		/* the name is still a string offset: the pool is not final */
		const char *name = ty->strings + (uintptr_t)t->name;
		if (t->source != HC_TYPE_SOURCE_VTABLE || !t->vtable || !strncmp(name, "vtable 0x", 9) ||
		    !hc_symbols_type_by_name(b->s, hc_symbols_module_at(b->s, t->vtable), name, &ref))
			continue;
		/* every object of the class is laid out by it: the type's layout, no per-node entry */
		b->p->type_layout[id] = layout_of(b, ref);
		any |= b->p->type_layout[id] != HC_TYPE_NONE;
	}
	for (uint32_t n = 0; any && n < b->g->nnodes && !b->nomem; n++) {
		uint32_t id = ty->node_type[n];
		if (id < ntypes && b->p->type_layout[id] != HC_TYPE_NONE)
			push(w, n, b->p->type_layout[id]);
	}
}

/*
 * The words of the modules' data (and, given frames, of the threads'
 * stacks) that point at nodes, named by the variables (locals) holding them.
 */
static void seed(struct walk *w)
{
	struct hc_types_build *b = w->b;
	const struct hc_graph *g = b->g;
	const struct hc_types *ty = b->ty;
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
					/* not dumped here: skip to where the core has bytes again */
					uint64_t next = hc_target_next_dumped(b->t, a + 1);
					if (next >= rr->end)
						break;
					a = ((next + 7) & ~7ull) - 8;
					continue;
				}
			}
			if (v - b->heap_lo >= b->heap_len)
				continue;
			uint32_t n = hc_types_node_at(g, v);
			if (n == HC_TYPE_NONE || hc_graph_node_addr(g, n) != v)
				continue;
			uint32_t id = ty->node_type[n];
			if (ty->node_via[n] != HC_TYPE_NONE || (id != HC_TYPE_NONE && b->p->type_layout[id] != HC_TYPE_NONE))
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
				claim(w, n, li, HC_TYPE_VIA_ROOT, path);
		}
	}
}

/* Asks for the edge lists of the nodes queued a little further on, and for the edges of those nearer. */
static void look_ahead(const struct walk *w)
{
	const struct hc_graph *g = w->b->g;
	if (w->read + AHEAD < w->tail)
		__builtin_prefetch(&g->out_start[w->queue[w->read + AHEAD].n]);
	if (w->read + AHEAD / 2 < w->tail) {
		uint32_t i = g->out_start[w->queue[w->read + AHEAD / 2].n];
		__builtin_prefetch(&g->out[i]);
		__builtin_prefetch(&g->out_slot[i]);
		__builtin_prefetch(&g->out_flags[i]);
	}
}

/*
 * The byte offset in node u of the first word pointing at node v's start,
 * for an edge whose slot is HC_SLOT_FAR: read from u's memory, from that
 * slot on up to limit bytes. False if no such word can be read.
 */
static bool far_offset(const struct hc_types_build *b, uint32_t u, uint32_t v, uint64_t limit, uint64_t *off)
{
	const struct hc_graph *g = b->g;
	uint64_t base = hc_graph_node_addr(g, u), usable = hc_graph_node_size(g, u), want = hc_graph_node_addr(g, v);
	if (limit < usable)
		usable = limit;
	struct hc_span span = { 0 };
	for (uint64_t o = (uint64_t)HC_SLOT_FAR * 8; o + 8 <= usable; o += 8) {
		uint64_t x;
		if (!hc_span_u64(&span, base + o, &x)) {
			hc_target_span(b->t, base + o, usable - o, &span);
			if (!hc_span_u64(&span, base + o, &x))
				return false;
		}
		if (x == want) {
			*off = o;
			return true;
		}
	}
	return false;
}

/* Claims what the queued node q's pointer members point at: its edges to a node's start from such a member. */
static void follow(struct walk *w, struct qent q)
{
	struct hc_types_build *b = w->b;
	const struct hc_graph *g = b->g;
	uint32_t li = q.code & ~HC_LAYOUT_ARRAY;
	ensure_pointers(b, li, w->scratch);
	const struct hc_type_layout l = b->ty->layouts[li];
	if (!l.nptrs || b->nomem)
		return;
	bool array = q.code & HC_LAYOUT_ARRAY;
	uint64_t elems = array ? hc_graph_node_size(g, q.n) / l.size : 1;
	uint32_t i0 = g->out_start[q.n], i1 = g->out_start[q.n + 1];
	/* the targets' entries first, so their misses overlap */
	for (uint32_t i = i0; i < i1; i++) {
		__builtin_prefetch(&b->ty->node_type[g->out[i]]);
		__builtin_prefetch(&b->ty->node_via[g->out[i]]);
	}
	for (uint32_t i = i0; i < i1 && !b->nomem; i++) {
		/* only a pointer to a node's start types it */
		if (g->out_flags[i] & HC_EDGE_INTERIOR)
			continue;
		uint32_t v = g->out[i];
		uint64_t off = (uint64_t)g->out_slot[i] * 8;
		/*
		 * Arrays are of scalars or pointers (never of a struct): any word of
		 * one is an element's start. Past the slots, a struct's member needs
		 * the word's offset, read from memory (structs over 512 KiB only).
		 */
		if (g->out_slot[i] == HC_SLOT_FAR && !array &&
		    (l.size <= off || !far_offset(b, q.n, v, l.size, &off)))
			continue;
		/* an array's elements each have the members; a struct's first element alone is followed */
		uint64_t e = array ? off / l.size : 0, at = array ? off % l.size : off;
		if (e >= elems)
			continue;
		const struct hc_layout_ptr *p = member_at(b->p, &l, at);
		if (p)
			claim(w, v, p->pointee, q.n, HC_TYPE_NONE);
	}
}

void hc_types_dwarf(struct hc_types_build *b)
{
	if (!b->g->nnodes)
		return;
	struct walk w = { .b = b, .cap = b->g->nnodes };
	w.queue = hc_alloc_large(w.cap * sizeof(*w.queue));
	w.scratch = malloc(PTRS_PER_LAYOUT * sizeof(*w.scratch));
	if (!w.queue || !w.scratch) {
		hc_free_large(w.queue, w.cap * sizeof(*w.queue));
		free(w.scratch);
		b->nomem = true;
		return;
	}
	seed_vtables(&w);
	seed(&w);
	/* a graph without edges (made by hand) has no out-lists to follow */
	while (b->g->out_start && w.read < w.tail && !b->nomem) {
		look_ahead(&w);
		follow(&w, w.queue[w.read++]);
	}
	hc_free_large(w.queue, w.cap * sizeof(*w.queue));
	free(w.scratch);
}

bool hc_types_incoming_slot(const struct hc_types *t, uint32_t node, uint64_t *elem, uint32_t *path)
{
	const struct hc_graph *g = t->priv->g;
	uint32_t via = t->node_via[node];
	uint32_t code = via < t->nnodes ? hc_types_node_layout(t, via) : HC_TYPE_NONE;
	if (code == HC_TYPE_NONE)
		return false;
	const struct hc_type_layout *l = &t->layouts[code & ~HC_LAYOUT_ARRAY];
	bool array = code & HC_LAYOUT_ARRAY;
	uint64_t usable = hc_graph_node_size(g, via), elems = array ? usable / l->size : 1;
	struct hc_span span;
	hc_target_span(t->symbols->target, hc_graph_node_addr(g, via), usable, &span);
	/* as the walk read them: the first word holding node's address is the one that typed it */
	for (uint64_t e = 0; e < elems; e++) {
		for (uint32_t k = 0; k < l->nptrs; k++) {
			const struct hc_layout_ptr *p = &t->priv->ptrs[l->first_ptr + k];
			uint64_t off = e * l->size + p->offset, v;
			if (off + 8 <= usable && hc_span_u64(&span, hc_graph_node_addr(g, via) + off, &v) && v == hc_graph_node_addr(g, node)) {
				*elem = array ? e : UINT64_MAX;
				*path = p->path;
				return true;
			}
		}
	}
	return false;
}
