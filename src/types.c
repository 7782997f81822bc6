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

#include "large_alloc.h"
#include "types_internal.h"

const char *hc_type_source_name(enum hc_type_source s)
{
	switch (s) {
	case HC_TYPE_SOURCE_VTABLE: return "vtable";
	case HC_TYPE_SOURCE_DWARF: return "dwarf";
	case HC_TYPE_SOURCE_SIGNATURE: return "signature";
	case HC_TYPE_SOURCE_ALLOCATOR: return "allocator";
	case HC_TYPE_SOURCE_SHAPE: return "shape";
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
	uint64_t key = (uint64_t)so << 4 | (uint64_t)source;
	uint32_t id = hc_u64map_get(&b->type_ids, key);
	if (id != HC_MAP_NONE)
		return id;
	struct hc_types *ty = b->ty;
	if (ty->ntypes == b->types_cap) {
		uint32_t cap = b->types_cap ? b->types_cap * 2 : 256;
		struct hc_type *t = realloc(ty->types, cap * sizeof(*t));
		if (t)
			ty->types = t;
		uint32_t *tl = t ? realloc(b->p->type_layout, cap * sizeof(*tl)) : NULL;
		if (!tl) {
			b->nomem = true;
			return HC_TYPE_NONE;
		}
		b->p->type_layout = tl;
		b->types_cap = cap;
	}
	id = ty->ntypes;
	/* name holds the string offset until the pool stops moving */
	ty->types[id] = (struct hc_type){ .name = (const char *)(uintptr_t)so, .source = source };
	b->p->type_layout[id] = HC_TYPE_NONE;
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
		if (hc_graph_node_addr(g, mid) <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0)
		return HC_TYPE_NONE;
	uint32_t n = lo - 1;
	return addr - hc_graph_node_addr(g, n) < (hc_graph_node_size(g, n) ? hc_graph_node_size(g, n) : 1) ? n : HC_TYPE_NONE;
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

uint32_t hc_types_node_layout(const struct hc_types *ty, uint32_t n)
{
	const struct hc_types_priv *p = ty->priv;
	if (p->layout_sel && p->layout_sel[n])
		return p->sel_codes[p->layout_sel[n] - 1];
	if (p->layout_exc.count) {
		uint32_t code = hc_u64map_get(&p->layout_exc, n);
		if (code != HC_MAP_NONE)
			return code;
	}
	uint32_t id = ty->node_type[n];
	return id != HC_TYPE_NONE ? p->type_layout[id] : HC_TYPE_NONE;
}

bool hc_types_set_node_layout(struct hc_types_build *b, uint32_t n, uint32_t code)
{
	struct hc_types_priv *p = b->p;
	uint32_t k = 0;
	while (k < p->nsel_codes && p->sel_codes[k] != code)
		k++;
	if (k == HC_LAYOUT_SELS)
		return hc_u64map_put(&p->layout_exc, n, code);
	if (!p->layout_sel) {
		/* zeroed pages cost nothing until written: only the pages of such nodes are */
		p->layout_sel = calloc(b->g->nnodes, 1);
		if (!p->layout_sel)
			return false;
	}
	if (k == p->nsel_codes)
		p->sel_codes[p->nsel_codes++] = code;
	p->layout_sel[n] = (uint8_t)(k + 1);
	return true;
}

/* ---- the driver ---- */

/* node_type and node_via are read and written in pointer-chasing order: see large_alloc.h. */
static void *alloc_nodes(size_t count, size_t elem)
{
	return hc_alloc_large((count ? count : 1) * elem);
}

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

/* One thread's tally of a range of nodes: count and bytes per type. */
struct tally {
	const struct hc_types_build *b;
	uint32_t n0, n1;
	uint64_t *count, *bytes;
};

static void *tally_run(void *arg)
{
	struct tally *t = arg;
	const struct hc_graph *g = t->b->g;
	const uint32_t *type = t->b->ty->node_type;
	bool chunks = g->heap && g->chunk && g->target;
	const struct hc_glibc_heap *h = g->heap;
	for (uint32_t n = t->n0; n < t->n1; n++) {
		t->count[type[n]]++;
		if (!chunks) {
			t->bytes[type[n]] += hc_graph_node_size(g, n);
			continue;
		}
		/* an arena chunk's bytes inline; an mmapped one's mapping has its header read */
		uint32_t c = g->chunk[n];
		t->bytes[type[n]] += h->chunk_state[c] != HC_CHUNK_MMAPPED ? hc_glibc_chunk_size(h, c) : hc_graph_node_bytes(g, n);
	}
	return NULL;
}

/* Renumbers a range of nodes' types: rank[old id] is the new one. */
struct renumber {
	uint32_t *type, *rank;
	uint32_t n0, n1;
};

static void *renumber_run(void *arg)
{
	struct renumber *r = arg;
	for (uint32_t n = r->n0; n < r->n1; n++)
		r->type[n] = r->rank[r->type[n]];
	return NULL;
}

/*
 * Counts, then sorts the table by bytes and renumbers the nodes' types (and
 * the per-type layouts with them). The order is total (a name and a source
 * name one type), so the result does not depend on the order the passes
 * made the types in, which two threads do not keep.
 */
static bool finish(struct hc_types_build *b)
{
	struct hc_types *ty = b->ty;
	const struct hc_graph *g = b->g;
	for (uint32_t i = 0; i < ty->ntypes; i++)
		ty->types[i].name = ty->strings + (uintptr_t)ty->types[i].name;
	size_t nt = ty->ntypes ? ty->ntypes : 1;
	uint64_t *counts = calloc(4 * nt, sizeof(uint64_t));
	uint32_t *order = malloc(nt * sizeof(*order));
	uint32_t *rank = malloc(nt * sizeof(*rank));
	uint32_t *layout = malloc(nt * sizeof(*layout));
	struct hc_type *sorted = malloc(nt * sizeof(*sorted));
	if (!counts || !order || !rank || !layout || !sorted) {
		free(counts);
		free(order);
		free(rank);
		free(layout);
		free(sorted);
		return false;
	}
	uint32_t half = g->nnodes / 2;
	struct tally t[2] = { { b, 0, half, counts, counts + nt }, { b, half, g->nnodes, counts + 2 * nt, counts + 3 * nt } };
	hc_run_pair(b->nthreads, tally_run, &t[0], &t[1]);
	for (uint32_t i = 0; i < ty->ntypes; i++) {
		ty->types[i].count = t[0].count[i] + t[1].count[i];
		ty->types[i].bytes = t[0].bytes[i] + t[1].bytes[i];
	}
	free(counts);
	for (uint32_t i = 0; i < ty->ntypes; i++)
		order[i] = i;
	qsort_r(order, ty->ntypes, sizeof(*order), cmp_type, ty);
	for (uint32_t i = 0; i < ty->ntypes; i++) {
		sorted[i] = ty->types[order[i]];
		layout[i] = b->p->type_layout[order[i]];
		rank[order[i]] = i;
	}
	struct renumber r[2] = { { ty->node_type, rank, 0, half }, { ty->node_type, rank, half, g->nnodes } };
	hc_run_pair(b->nthreads, renumber_run, &r[0], &r[1]);
	free(ty->types);
	ty->types = sorted;
	free(b->p->type_layout);
	b->p->type_layout = layout;
	free(order);
	free(rank);
	return true;
}

/*
 * The allocations glibc makes for itself and the walk found: each thread's
 * tcache_perthread_struct, which otherwise reads as a signature of small
 * integers held by the thread's TLS.
 */
static void allocator_types(struct hc_types_build *b)
{
	const struct hc_graph *g = b->g;
	const struct hc_glibc_heap *h = g->heap;
	for (uint32_t k = 0; h && k < h->ntcaches && !b->nomem; k++) {
		uint64_t u = h->tcaches[k].address;
		uint32_t n = hc_types_node_at(g, u);
		if (n == HC_TYPE_NONE || hc_graph_node_addr(g, n) != u || b->ty->node_type[n] != HC_TYPE_NONE)
			continue;
		uint32_t id = hc_types_type(b, HC_TYPE_SOURCE_ALLOCATOR, "glibc tcache_perthread_struct");
		if (id == HC_TYPE_NONE)
			b->nomem = true;
		else
			b->ty->node_type[n] = id;
	}
}

/* Below this many nodes a second thread costs more than it saves. */
#define MIN_NODES_PER_THREAD (1u << 18)

static void build_free(struct hc_types_build *b)
{
	pthread_mutex_destroy(&b->lock);
	hc_u64map_free(&b->strs);
	hc_u64map_free(&b->type_ids);
	hc_u64map_free(&b->layout_ids);
	hc_ranges_free(&b->modules);
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
	struct hc_types_priv *p = calloc(1, sizeof(*p));
	if (!ty || !p || pthread_mutex_init(&p->lock, NULL)) {
		free(ty);
		free(p);
		return &hc_error_nomem;
	}
	ty->priv = p;
	p->g = g;
	ty->nnodes = g->nnodes;
	ty->symbols = s;
	/* the vtable pass sets both to HC_TYPE_NONE for every node first */
	ty->node_type = alloc_nodes(g->nnodes, sizeof(uint32_t));
	ty->node_via = alloc_nodes(g->nnodes, sizeof(uint32_t));
	struct hc_types_build b = { .g = g, .s = s, .t = s->target, .unwind = o ? o->unwind : NULL, .ty = ty, .p = p,
				    .nthreads = hc_thread_count(o ? o->threads : 0, g->nnodes, MIN_NODES_PER_THREAD) };
	if (!ty->node_type || !ty->node_via || pthread_mutex_init(&b.lock, NULL)) {
		hc_types_destroy(ty);
		return &hc_error_nomem;
	}
	if (!hc_ranges_of_modules(b.s, &b.modules)) {
		build_free(&b);
		hc_types_destroy(ty);
		return &hc_error_nomem;
	}
	if (g->nnodes) {
		uint32_t last = g->nnodes - 1;
		/* a little past the last node's end: what is inside, hc_types_node_at decides */
		b.heap_lo = hc_graph_node_addr(g, 0);
		b.heap_len = hc_graph_node_addr(g, last) + hc_graph_node_size(g, last) + 16 - hc_graph_node_addr(g, 0);
	}
	/* an empty string at offset 0, so that no real string's offset is mistaken for "none" */
	hc_types_str(&b, "");
	if (!b.nomem)
		hc_types_vtables(&b);
	if (!b.nomem)
		allocator_types(&b);
	if (!b.nomem)
		hc_types_dwarf(&b);
	if (!b.nomem)
		hc_types_shapes(&b);
	if (!b.nomem)
		hc_types_signatures(&b);
	hc_types_shapes_free(&b);
	bool ok = !b.nomem && finish(&b);
	build_free(&b);
	if (!ok) {
		hc_types_destroy(ty);
		return &hc_error_nomem;
	}
	*out = ty;
	return NULL;
}

void hc_types_trim(struct hc_types *t)
{
	if (!t)
		return;
	hc_release_large(t->node_via, (size_t)t->nnodes * sizeof(*t->node_via));
	t->node_via = NULL;
}

void hc_types_destroy(struct hc_types *t)
{
	if (!t)
		return;
	struct hc_types_priv *p = t->priv;
	if (p) {
		free(p->type_layout);
		free(p->layout_sel);
		hc_u64map_free(&p->layout_exc);
		hc_u64map_free(&p->root_member);
		free(p->ptrs);
		hc_u64map_free(&p->spelled_at);
		for (uint32_t i = 0; i < p->nspelled; i++)
			free(p->spelled[i]);
		free(p->spelled);
		pthread_mutex_destroy(&p->lock);
		free(p);
	}
	free(t->types);
	hc_free_large(t->node_type, 0);
	hc_free_large(t->node_via, 0);
	free(t->layouts);
	free(t->strings);
	free(t);
}

/*
 * A spelling kept for the life of t, once per distinct string (however many
 * nodes ask for it); NULL on allocation failure. t is shared between
 * threads, so this is the one place its queries write, under its lock.
 */
static const char *keep_spelling(const struct hc_types *t, const char *s)
{
	struct hc_types_priv *p = t->priv;
	uint64_t h = hash_str(s);
	const char *kept = NULL;
	pthread_mutex_lock(&p->lock);
	uint32_t i = hc_u64map_get(&p->spelled_at, h);
	if (i != HC_MAP_NONE && !strcmp(p->spelled[i], s)) {
		kept = p->spelled[i];
	} else {
		if (p->nspelled == p->spelled_cap) {
			uint32_t cap = p->spelled_cap ? p->spelled_cap * 2 : 16;
			char **a = cap > p->spelled_cap ? realloc(p->spelled, cap * sizeof(*a)) : NULL;
			if (a) {
				p->spelled = a;
				p->spelled_cap = cap;
			}
		}
		char *copy = p->nspelled < p->spelled_cap ? strdup(s) : NULL;
		/* a hash collision keeps the first string in the map; the second is kept unmapped, still right */
		if (copy && (i != HC_MAP_NONE || hc_u64map_put(&p->spelled_at, h, p->nspelled))) {
			p->spelled[p->nspelled++] = copy;
			kept = copy;
		} else {
			free(copy);
		}
	}
	pthread_mutex_unlock(&p->lock);
	return kept;
}

const char *hc_types_incoming_member(const struct hc_types *t, uint32_t node)
{
	if (!t || node >= t->nnodes || t->node_via[node] == HC_TYPE_NONE)
		return NULL;
	if (t->node_via[node] == HC_TYPE_VIA_ROOT) {
		uint32_t off = hc_u64map_get(&t->priv->root_member, node);
		return off != HC_MAP_NONE ? t->strings + off : NULL;
	}
	uint64_t elem;
	uint32_t path;
	if (!hc_types_incoming_slot(t, node, &elem, &path))
		return NULL;
	const char *ps = t->strings + path;
	/* a member of a single object is a pool string already; an array's element is spelled once */
	if (elem == UINT64_MAX)
		return ps;
	char buf[600];
	snprintf(buf, sizeof(buf), "[%llu]%s%s", (unsigned long long)elem, ps[0] && ps[0] != '[' ? "." : "", ps);
	return keep_spelling(t, buf);
}

bool hc_types_member_at(const struct hc_types *t, uint32_t node, uint64_t offset, char *buf, size_t len)
{
	if (!t || node >= t->nnodes || !buf || !len)
		return false;
	uint32_t code = hc_types_node_layout(t, node);
	if (code == HC_TYPE_NONE)
		return false;
	uint32_t li = code & ~HC_LAYOUT_ARRAY;
	bool array = code & HC_LAYOUT_ARRAY;
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
