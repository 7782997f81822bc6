/*
 * Allocations no pointer typed, named after the DWARF struct that every
 * typed allocation of their shape has. A leaked list's nodes are reached by
 * no typed pointer (that is what leaked means), so they would group by
 * signature alone ("sig 40:piii"); when the program's live lists of a
 * struct have exactly that size and first-word shape, and no other struct's
 * typed allocations share it, the leaked ones are very likely of that
 * struct too: they are typed "struct item (by shape)", a type of their own
 * (source SHAPE) so that the report never passes a guess off as DWARF's
 * word, laid out as the struct so that chains through them name members.
 *
 * A shape is the signature key (types_signature.c): the usable size and the
 * letters of the first words, as the graph's scan recorded them. It names a
 * struct only when at least MIN_TYPED typed allocations have it and all of
 * them are of one struct (never an array, never a vtable's class: those
 * have names of their own). Every typed allocation is looked at: a sample
 * of each type's first ones missed the rare other struct that makes a
 * shape mixed.
 */
#include <stdio.h>
#include <stdlib.h>

#include "types_internal.h"

#define MIN_TYPED 2
#define CACHE_BITS 10
#define SHAPE_NONE HC_MAP_NONE

struct shape {
	uint32_t dwarf;            /* the struct type typed allocations of the shape have */
	uint32_t count;            /* how many */
	uint32_t named;            /* the SHAPE type given to the untyped ones, SHAPE_NONE until asked for */
	bool mixed;                /* typed allocations of the shape have two types or more, or not a struct */
};

/*
 * The shapes of the typed allocations. A heap has few shapes but millions
 * of allocations, interleaved: a small direct-mapped cache of answers stays
 * in the CPU's cache where the map's probing would not.
 */
struct hc_types_shapes {
	struct hc_u64map index;    /* key -> index into shapes */
	struct shape *shapes;
	uint32_t n, cap;
	uint64_t cache_key[1u << CACHE_BITS];
	uint32_t cache_k[1u << CACHE_BITS];
};

static uint64_t shape_key(const struct hc_graph *g, uint32_t n)
{
	uint64_t size = hc_graph_node_size(g, n);
	return size < (1ull << 40) ? size << 24 | g->sig_code[n] : UINT64_MAX;
}

static uint32_t cache_slot(uint64_t key)
{
	return (uint32_t)((key * 0x9e3779b97f4a7c15ull) >> (64 - CACHE_BITS));
}

/* The index of key's shape, added if new; HC_MAP_NONE when out of memory. */
static uint32_t shape_at(struct hc_types_build *b, struct hc_types_shapes *t, uint64_t key)
{
	uint32_t slot = cache_slot(key);
	if (t->cache_key[slot] == key)
		return t->cache_k[slot];
	uint32_t k = hc_u64map_get(&t->index, key);
	if (k == HC_MAP_NONE) {
		if (t->n == t->cap) {
			uint32_t cap = t->cap ? t->cap * 2 : 64;
			struct shape *sh = realloc(t->shapes, cap * sizeof(*sh));
			if (!sh) {
				b->nomem = true;
				return HC_MAP_NONE;
			}
			t->shapes = sh;
			t->cap = cap;
		}
		t->shapes[t->n] = (struct shape){ SHAPE_NONE, 0, SHAPE_NONE, false };
		if (!hc_u64map_put(&t->index, key, t->n)) {
			b->nomem = true;
			return HC_MAP_NONE;
		}
		k = t->n++;
	}
	t->cache_key[slot] = key;
	t->cache_k[slot] = k;
	return k;
}

void hc_types_shapes(struct hc_types_build *b)
{
	const struct hc_graph *g = b->g;
	struct hc_types *ty = b->ty;
	if (!g->sig_code || !g->nnodes)
		return;
	struct hc_types_shapes *t = calloc(1, sizeof(*t));
	/* 0 not asked yet, 1 a DWARF struct, 2 anything else: asked once per type, not per allocation */
	uint8_t *kind = calloc(ty->ntypes ? ty->ntypes : 1, 1);
	if (!t || !kind) {
		free(t);
		free(kind);
		b->nomem = true;
		return;
	}
	for (uint32_t i = 0; i < (1u << CACHE_BITS); i++)
		t->cache_key[i] = UINT64_MAX;
	for (uint32_t n = 0; n < g->nnodes && !b->nomem; n++) {
		uint32_t id = ty->node_type[n];
		/* vtable and allocator types have first words no untyped allocation shares */
		if (id >= ty->ntypes || ty->types[id].source != HC_TYPE_SOURCE_DWARF)
			continue;
		if (!kind[id]) {
			uint32_t code = b->p->type_layout[id];
			kind[id] = code != HC_TYPE_NONE && !(code & HC_LAYOUT_ARRAY) && ty->layouts[code].aggregate ? 1 : 2;
		}
		uint64_t key = shape_key(g, n);
		uint32_t k = key == UINT64_MAX ? HC_MAP_NONE : shape_at(b, t, key);
		if (k == HC_MAP_NONE)
			continue;
		struct shape *s = &t->shapes[k];
		if (kind[id] != 1 || (s->dwarf != SHAPE_NONE && s->dwarf != id))
			s->mixed = true;
		s->dwarf = id;
		s->count++;
	}
	free(kind);
	b->shapes = t;
}

uint32_t hc_types_shape_type(struct hc_types_build *b, uint64_t key)
{
	struct hc_types_shapes *t = b->shapes;
	uint32_t k = t && key != UINT64_MAX ? hc_u64map_get(&t->index, key) : HC_MAP_NONE;
	if (k == HC_MAP_NONE)
		return HC_TYPE_NONE;
	struct shape *s = &t->shapes[k];
	if (s->mixed || s->dwarf == SHAPE_NONE || s->count < MIN_TYPED)
		return HC_TYPE_NONE;
	if (s->named == SHAPE_NONE) {
		struct hc_types *ty = b->ty;
		char name[600];
		/* the name is still a string offset: the pool is not final */
		snprintf(name, sizeof(name), "%s (by shape)", ty->strings + (uintptr_t)ty->types[s->dwarf].name);
		uint32_t layout = b->p->type_layout[s->dwarf];
		uint32_t id = hc_types_type(b, HC_TYPE_SOURCE_SHAPE, name);
		if (id == HC_TYPE_NONE)
			return HC_TYPE_NONE;
		/* laid out as the struct, so that chains through it name its members */
		b->p->type_layout[id] = layout;
		s->named = id;
	}
	return s->named;
}

void hc_types_shapes_free(struct hc_types_build *b)
{
	if (!b->shapes)
		return;
	hc_u64map_free(&b->shapes->index);
	free(b->shapes->shapes);
	free(b->shapes);
	b->shapes = NULL;
}
