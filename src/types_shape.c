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
	uint32_t dwarf;            /* the struct type typed allocations of the shape have, or SHAPE_NONE */
	uint32_t count;            /* how many */
	uint32_t named;            /* the SHAPE type given to the untyped ones, or SHAPE_NONE */
	bool mixed;                /* typed allocations of the shape have two types or more */
};

static uint64_t shape_key(const struct hc_graph *g, uint32_t n)
{
	uint64_t size = hc_graph_node_size(g, n);
	return size < (1ull << 40) ? size << 24 | g->sig_code[n] : UINT64_MAX;
}

/*
 * The shape index of key. A heap has few shapes but millions of
 * allocations, interleaved: a small direct-mapped cache of answers stays
 * in the CPU's cache where the map's probing would not.
 */
struct lookup {
	const struct hc_u64map *index;
	uint64_t key[1u << CACHE_BITS];
	uint32_t k[1u << CACHE_BITS];
};

static void lookup_reset(struct lookup *l)
{
	for (uint32_t i = 0; i < (1u << CACHE_BITS); i++)
		l->key[i] = UINT64_MAX;
}

static uint32_t cache_slot(uint64_t key)
{
	return (uint32_t)((key * 0x9e3779b97f4a7c15ull) >> (64 - CACHE_BITS));
}

static uint32_t shape_of(struct lookup *l, uint64_t key)
{
	if (key == UINT64_MAX)
		return HC_MAP_NONE;
	uint32_t slot = cache_slot(key);
	if (l->key[slot] != key) {
		l->key[slot] = key;
		l->k[slot] = hc_u64map_get(l->index, key);
	}
	return l->k[slot];
}

void hc_types_shapes(struct hc_types_build *b)
{
	const struct hc_graph *g = b->g;
	struct hc_types *ty = b->ty;
	if (!g->sig_code || !g->nnodes)
		return;
	/* the untyped allocations and their shapes: few distinct ones, however many allocations */
	struct hc_u64map index = { 0 };
	struct shape *shapes = NULL;
	uint32_t nshapes = 0, cap = 0, *untyped = NULL, nuntyped = 0, ucap = 0;
	struct lookup *l = malloc(sizeof(*l));
	if (!l) {
		b->nomem = true;
		return;
	}
	l->index = &index;
	lookup_reset(l);
	for (uint32_t n = 0; n < g->nnodes && !b->nomem; n++) {
		if (ty->node_type[n] != HC_TYPE_NONE)
			continue;
		uint64_t key = shape_key(g, n);
		if (key == UINT64_MAX)
			continue;
		if (nuntyped == ucap) {
			ucap = ucap ? ucap * 2 : 1024;
			uint32_t *u = realloc(untyped, ucap * sizeof(*u));
			if (!u) {
				b->nomem = true;
				break;
			}
			untyped = u;
		}
		untyped[nuntyped++] = n;
		if (shape_of(l, key) != HC_MAP_NONE)
			continue;
		if (nshapes == cap) {
			cap = cap ? cap * 2 : 64;
			struct shape *sh = realloc(shapes, cap * sizeof(*sh));
			if (!sh) {
				b->nomem = true;
				break;
			}
			shapes = sh;
		}
		shapes[nshapes] = (struct shape){ SHAPE_NONE, 0, SHAPE_NONE, false };
		if (!hc_u64map_put(&index, key, nshapes))
			b->nomem = true;
		/* the cache said "none" for this key a moment ago */
		l->k[cache_slot(key)] = nshapes++;
	}
	/*
	 * Which types the typed allocations of those shapes have. Only DWARF
	 * structs count; any other type on a shape makes it mixed. Whether a
	 * type is a struct is asked once per type, not per allocation.
	 */
	uint8_t *kind = nshapes ? calloc(ty->ntypes ? ty->ntypes : 1, 1) : NULL; /* 0 unknown, 1 struct, 2 other */
	if (nshapes && !kind)
		b->nomem = true;
	for (uint32_t n = 0; n < g->nnodes && kind && !b->nomem; n++) {
		uint32_t id = ty->node_type[n];
		if (id == HC_TYPE_NONE || id >= ty->ntypes)
			continue;
		if (!kind[id]) {
			uint32_t code = b->p->type_layout[id];
			kind[id] = ty->types[id].source == HC_TYPE_SOURCE_DWARF && code != HC_TYPE_NONE &&
						   !(code & HC_LAYOUT_ARRAY) && ty->layouts[code].aggregate
					   ? 1
					   : 2;
		}
		if (ty->types[id].source != HC_TYPE_SOURCE_DWARF)
			continue;
		uint32_t k = shape_of(l, shape_key(g, n));
		if (k == HC_MAP_NONE)
			continue;
		struct shape *s = &shapes[k];
		if (kind[id] != 1 || (s->dwarf != SHAPE_NONE && s->dwarf != id))
			s->mixed = true;
		s->dwarf = id;
		s->count++;
	}
	free(kind);
	/* the untyped allocations of a shape that names one struct */
	for (uint32_t i = 0; i < nuntyped && nshapes && !b->nomem; i++) {
		uint32_t n = untyped[i];
		uint32_t k = shape_of(l, shape_key(g, n));
		if (k == HC_MAP_NONE)
			continue;
		struct shape *s = &shapes[k];
		if (s->mixed || s->dwarf == SHAPE_NONE || s->count < MIN_TYPED)
			continue;
		if (s->named == SHAPE_NONE) {
			char name[600];
			/* the name is still a string offset: the pool is not final */
			snprintf(name, sizeof(name), "%s (by shape)", ty->strings + (uintptr_t)ty->types[s->dwarf].name);
			uint32_t layout = b->p->type_layout[s->dwarf];
			s->named = hc_types_type(b, HC_TYPE_SOURCE_SHAPE, name);
			if (s->named == HC_TYPE_NONE)
				break;
			/* laid out as the struct, so that chains through it name its members */
			b->p->type_layout[s->named] = layout;
		}
		ty->node_type[n] = s->named;
	}
	hc_u64map_free(&index);
	free(shapes);
	free(untyped);
	free(l);
}
