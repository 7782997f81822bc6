/*
 * The type table of a graph's nodes (include/heapcore/types.h): the passes
 * run in order of trust (vtables, then DWARF, then signatures, each typing
 * only what the ones before left), then the table is counted and sorted.
 * Also the helpers the passes share: strings, the table, a hash map, node
 * lookup and reads that fall back to the modules' files.
 */
#include "heapcore/types.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "types_internal.h"

const char *hc_type_source_name(enum hc_type_source s)
{
	switch (s) {
	case HC_TYPE_SOURCE_VTABLE: return "vtable";
	case HC_TYPE_SOURCE_DWARF: return "dwarf";
	case HC_TYPE_SOURCE_SIGNATURE: return "signature";
	}
	return "?";
}

/* ---- the map ---- */

static uint32_t map_slot(const struct hc_u64map *m, uint64_t key)
{
	uint64_t h = key * 0x9e3779b97f4a7c15ull;
	uint32_t mask = m->cap - 1;
	uint32_t i = (uint32_t)(h >> 32) & mask;
	while (m->vals[i] != HC_MAP_NONE && m->keys[i] != key)
		i = (i + 1) & mask;
	return i;
}

uint32_t hc_u64map_get(const struct hc_u64map *m, uint64_t key)
{
	if (!m->cap)
		return HC_MAP_NONE;
	return m->vals[map_slot(m, key)];
}

bool hc_u64map_put(struct hc_u64map *m, uint64_t key, uint32_t val)
{
	if ((m->count + 1) * 2 > m->cap) {
		uint32_t cap = m->cap ? m->cap * 2 : 1024;
		struct hc_u64map n = { malloc(cap * sizeof(uint64_t)), malloc(cap * sizeof(uint32_t)), 0, cap };
		if (!n.keys || !n.vals || cap < m->cap) {
			free(n.keys);
			free(n.vals);
			return false;
		}
		memset(n.vals, 0xff, cap * sizeof(uint32_t));
		for (uint32_t i = 0; i < m->cap; i++) {
			if (m->vals[i] != HC_MAP_NONE) {
				uint32_t j = map_slot(&n, m->keys[i]);
				n.keys[j] = m->keys[i];
				n.vals[j] = m->vals[i];
				n.count++;
			}
		}
		hc_u64map_free(m);
		*m = n;
	}
	uint32_t i = map_slot(m, key);
	if (m->vals[i] == HC_MAP_NONE)
		m->count++;
	m->keys[i] = key;
	m->vals[i] = val;
	return true;
}

void hc_u64map_free(struct hc_u64map *m)
{
	free(m->keys);
	free(m->vals);
	memset(m, 0, sizeof(*m));
}

/* ---- strings and the table ---- */

static uint64_t hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ull;
	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 1099511628211ull;
	return h;
}

uint32_t hc_types_str(struct hc_types_build *b, const char *s)
{
	uint64_t h = hash_str(s);
	uint32_t off = hc_u64map_get(&b->strs, h);
	if (off != HC_MAP_NONE && !strcmp(b->ty->strings + off, s))
		return off;
	size_t n = strlen(s) + 1;
	if (b->slen + n >= HC_TYPE_NONE - 1) {
		b->nomem = true;
		return HC_TYPE_NONE;
	}
	if (b->slen + n > b->scap) {
		size_t cap = b->scap ? b->scap * 2 : 4096;
		while (cap < b->slen + n)
			cap *= 2;
		char *p = realloc(b->ty->strings, cap);
		if (!p) {
			b->nomem = true;
			return HC_TYPE_NONE;
		}
		b->ty->strings = p;
		b->scap = cap;
	}
	memcpy(b->ty->strings + b->slen, s, n);
	uint32_t at = (uint32_t)b->slen;
	b->slen += n;
	/* a hash collision keeps the first string in the map; the second is stored twice, still right */
	if (off == HC_MAP_NONE && !hc_u64map_put(&b->strs, h, at))
		b->nomem = true;
	return at;
}

uint32_t hc_types_type(struct hc_types_build *b, enum hc_type_source source, const char *name)
{
	uint32_t so = hc_types_str(b, name);
	if (so == HC_TYPE_NONE)
		return HC_TYPE_NONE;
	uint64_t key = (uint64_t)so << 2 | (uint64_t)source;
	uint32_t id = hc_u64map_get(&b->type_ids, key);
	if (id != HC_MAP_NONE)
		return id;
	struct hc_types *ty = b->ty;
	if (ty->ntypes == b->types_cap) {
		uint32_t cap = b->types_cap ? b->types_cap * 2 : 256;
		struct hc_type *t = realloc(ty->types, cap * sizeof(*t));
		if (!t) {
			b->nomem = true;
			return HC_TYPE_NONE;
		}
		ty->types = t;
		b->types_cap = cap;
	}
	id = ty->ntypes;
	/* name holds the string offset until the pool stops moving */
	ty->types[id] = (struct hc_type){ .name = (const char *)(uintptr_t)so, .source = source };
	if (!hc_u64map_put(&b->type_ids, key, id)) {
		b->nomem = true;
		return HC_TYPE_NONE;
	}
	ty->ntypes++;
	return id;
}

/* ---- shared helpers ---- */

uint32_t hc_types_node_at(const struct hc_graph *g, uint64_t addr)
{
	/* The graph's own index when it has one; a hand-made graph is searched. */
	if (g->index)
		return hc_graph_node_at(g, addr);
	uint32_t lo = 0, hi = g->nnodes;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (g->addr[mid] <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0)
		return HC_TYPE_NONE;
	uint32_t n = lo - 1;
	return addr - g->addr[n] < (g->size[n] ? g->size[n] : 1) ? n : HC_TYPE_NONE;
}

bool hc_types_read(const struct hc_symbols *s, uint64_t addr, void *buf, size_t len)
{
	if (hc_target_read(s->target, addr, buf, len) == HC_READ_OK)
		return true;
	return hc_symbols_read_file(s, NULL, addr, buf, len) == HC_READ_OK;
}

bool hc_types_is_code(const struct hc_symbols *s, uint64_t addr)
{
	const struct hc_module *m = hc_symbols_module_at(s, addr);
	uint64_t lo, hi;
	return m && hc_symbols_code_range(s, m, &lo, &hi) && addr >= lo && addr < hi;
}

static uint64_t node_bytes(const struct hc_graph *g, uint32_t n)
{
	if (g->heap && g->chunk && g->target)
		return hc_graph_node_bytes(g, n);
	return g->size[n];
}

/* ---- the driver ---- */

static int cmp_type(const void *a, const void *b, void *arg)
{
	const struct hc_types *ty = arg;
	const struct hc_type *x = &ty->types[*(const uint32_t *)a], *y = &ty->types[*(const uint32_t *)b];
	if (x->bytes != y->bytes)
		return x->bytes > y->bytes ? -1 : 1;
	if (x->count != y->count)
		return x->count > y->count ? -1 : 1;
	int c = strcmp(x->name, y->name);
	return c ? c : (int)x->source - (int)y->source;
}

/* Counts, then sorts the table by bytes and renumbers the nodes' types. */
static bool finish(struct hc_types_build *b)
{
	struct hc_types *ty = b->ty;
	const struct hc_graph *g = b->g;
	for (uint32_t i = 0; i < ty->ntypes; i++)
		ty->types[i].name = ty->strings + (uintptr_t)ty->types[i].name;
	for (uint32_t n = 0; n < g->nnodes; n++) {
		struct hc_type *t = &ty->types[ty->node_type[n]];
		t->count++;
		t->bytes += node_bytes(g, n);
	}
	uint32_t *order = malloc((ty->ntypes ? ty->ntypes : 1) * sizeof(*order));
	uint32_t *rank = malloc((ty->ntypes ? ty->ntypes : 1) * sizeof(*rank));
	struct hc_type *sorted = malloc((ty->ntypes ? ty->ntypes : 1) * sizeof(*sorted));
	if (!order || !rank || !sorted) {
		free(order);
		free(rank);
		free(sorted);
		return false;
	}
	for (uint32_t i = 0; i < ty->ntypes; i++)
		order[i] = i;
	qsort_r(order, ty->ntypes, sizeof(*order), cmp_type, ty);
	for (uint32_t i = 0; i < ty->ntypes; i++) {
		sorted[i] = ty->types[order[i]];
		rank[order[i]] = i;
	}
	for (uint32_t n = 0; n < g->nnodes; n++)
		ty->node_type[n] = rank[ty->node_type[n]];
	free(ty->types);
	ty->types = sorted;
	free(order);
	free(rank);
	return true;
}

static void build_free(struct hc_types_build *b)
{
	hc_u64map_free(&b->strs);
	hc_u64map_free(&b->type_ids);
	hc_u64map_free(&b->layout_ids);
	free(b->ptrs);
}

struct hc_error *hc_types_infer(const struct hc_graph *g, struct hc_symbols *s, struct hc_types **out)
{
	return hc_types_infer_opts(g, s, NULL, out);
}

struct hc_error *hc_types_infer_opts(const struct hc_graph *g, struct hc_symbols *s, const struct hc_types_options *o,
				     struct hc_types **out)
{
	*out = NULL;
	struct hc_types *ty = calloc(1, sizeof(*ty));
	if (!ty)
		return &hc_error_nomem;
	size_t n = g->nnodes ? g->nnodes : 1;
	ty->nnodes = g->nnodes;
	ty->symbols = s;
	ty->node_type = malloc(n * sizeof(uint32_t));
	ty->node_via = malloc(n * sizeof(uint32_t));
	ty->node_member = malloc(n * sizeof(uint32_t));
	ty->node_layout = malloc(n * sizeof(uint32_t));
	struct hc_types_build b = { .g = g, .s = s, .t = s->target, .unwind = o ? o->unwind : NULL, .ty = ty };
	if (!ty->node_type || !ty->node_via || !ty->node_member || !ty->node_layout) {
		hc_types_destroy(ty);
		return &hc_error_nomem;
	}
	memset(ty->node_type, 0xff, n * sizeof(uint32_t));
	memset(ty->node_via, 0xff, n * sizeof(uint32_t));
	memset(ty->node_member, 0xff, n * sizeof(uint32_t));
	memset(ty->node_layout, 0xff, n * sizeof(uint32_t));
	/* an empty string at offset 0, so that no real string's offset is mistaken for "none" */
	hc_types_str(&b, "");
	if (!b.nomem)
		hc_types_vtables(&b);
	if (!b.nomem)
		hc_types_dwarf(&b);
	if (!b.nomem)
		hc_types_signatures(&b);
	bool ok = !b.nomem && finish(&b);
	build_free(&b);
	if (!ok) {
		hc_types_destroy(ty);
		return &hc_error_nomem;
	}
	*out = ty;
	return NULL;
}

void hc_types_destroy(struct hc_types *t)
{
	if (!t)
		return;
	free(t->types);
	free(t->node_type);
	free(t->node_via);
	free(t->node_member);
	free(t->node_layout);
	free(t->layouts);
	free(t->strings);
	free(t);
}

const char *hc_types_incoming_member(const struct hc_types *t, uint32_t node)
{
	if (!t || node >= t->nnodes || t->node_member[node] == HC_TYPE_NONE)
		return NULL;
	return t->strings + t->node_member[node];
}

bool hc_types_member_at(const struct hc_types *t, uint32_t node, uint64_t offset, char *buf, size_t len)
{
	if (!t || node >= t->nnodes || t->node_layout[node] == HC_TYPE_NONE || !buf || !len)
		return false;
	uint32_t li = t->node_layout[node] & ~HC_LAYOUT_ARRAY;
	bool array = t->node_layout[node] & HC_LAYOUT_ARRAY;
	const struct hc_type_layout *l = &t->layouts[li];
	/* an allocation holding several of its type: "[i].member" */
	uint64_t elem = array && l->size ? offset / l->size : 0;
	uint64_t inner = offset - elem * l->size;
	struct hc_type_member m;
	if (!hc_symbols_type_member_at(t->symbols, l->ref, inner, &m))
		return false;
	if (array) {
		const char *sep = m.path[0] && m.path[0] != '[' ? "." : "";
		snprintf(buf, len, "[%llu]%s%s", (unsigned long long)elem, sep, m.path);
	} else {
		snprintf(buf, len, "%s", m.path);
	}
	return true;
}
