/*
 * The census of the objects CPython's garbage collector tracks (see
 * heapcore/cpython.h): every interpreter's generation lists and permanent
 * generation, walked through their PyGC_Head links, each object counted
 * under its type.
 *
 * A list is circular through its head; _gc_next's low bits are flags in
 * some versions (a collection's UNREACHABLE mark, 3.14.0-3.14.4's old
 * space), so the low two are masked: no more, since 3.13's list heads are
 * only 4-aligned (objects' are 16-aligned). No list is longer than the
 * core has 16-byte heads for: a longer one loops.
 */
#include "heapcore/cpython.h"

#include <stdlib.h>
#include <string.h>

#include "cpython_layout.h"
#include "cpython_refs.h"

/* A type's slot in the census's open-addressing table (type address -> index into types). */
struct census_build {
	const struct hc_target *t;
	const struct hc_symbols *s;
	struct hc_cpython_census *c;
	uint32_t cap;                /* of c->types */
	uint32_t *slot;              /* 0 empty, else index + 1 */
	uint32_t nslots;             /* a power of two, at least twice the types */
};

static uint32_t slot_of(const struct census_build *b, uint64_t type)
{
	uint32_t mask = b->nslots - 1, i = (uint32_t)((type * 0x9e3779b97f4a7c15ull) >> 32) & mask;
	while (b->slot[i] && b->c->types[b->slot[i] - 1].type != type)
		i = (i + 1) & mask;
	return i;
}

static bool grow(struct census_build *b)
{
	uint32_t n = b->nslots ? b->nslots * 2 : 256;
	uint32_t *slot = calloc(n, sizeof(*slot));
	if (!slot)
		return false;
	uint32_t *old = b->slot, nold = b->nslots;
	b->slot = slot;
	b->nslots = n;
	for (uint32_t i = 0; i < nold; i++)
		if (old[i])
			b->slot[slot_of(b, b->c->types[old[i] - 1].type)] = old[i];
	free(old);
	return true;
}

/* The census entry of type, added (its name read) if new; NULL if out of memory. */
static struct hc_cpython_type_count *entry(struct census_build *b, const struct hc_target *t, uint64_t type)
{
	if ((b->c->ntypes + 1) * 2 > b->nslots && !grow(b))
		return NULL;
	uint32_t i = slot_of(b, type);
	if (b->slot[i])
		return &b->c->types[b->slot[i] - 1];
	if (b->c->ntypes == b->cap) {
		uint32_t cap = b->cap ? b->cap * 2 : 64;
		struct hc_cpython_type_count *a = realloc(b->c->types, cap * sizeof(*a));
		if (!a)
			return NULL;
		b->c->types = a;
		b->cap = cap;
	}
	char name[256];
	uint64_t at;
	if (!hc_target_read_u64(t, type + HC_CPYTHON_TP_NAME, &at) || !hc_cpython_read_cstr(t, b->s, at, name, sizeof(name)))
		strcpy(name, "?");
	char *copy = strdup(name);
	if (!copy)
		return NULL;
	struct hc_cpython_type_count *e = &b->c->types[b->c->ntypes++];
	*e = (struct hc_cpython_type_count){ type, copy, 0 };
	b->slot[i] = b->c->ntypes;
	return e;
}

/* Calls fn for each object of the list whose head is at `head`; false if fn said stop. */
static bool walk_list(struct hc_target *t, uint64_t head, uint64_t limit, hc_cpython_gc_fn fn, void *ctx)
{
	uint64_t node;
	if (!hc_target_read_u64(t, head, &node)) {
		hc_warnings_add(&t->warnings, HC_WARN_PARTIAL, "python: gc list head 0x%llx is not in the core",
				(unsigned long long)head);
		return true;
	}
	for (uint64_t n = 0; (node & ~3ull) != head; n++) {
		node &= ~3ull;
		uint64_t type, next;
		if (n == limit || !node || !hc_target_read_u64(t, node + HC_CPYTHON_GC_HEAD + HC_CPYTHON_OB_TYPE, &type) ||
		    !hc_target_read_u64(t, node, &next)) {
			hc_warnings_add(&t->warnings, HC_WARN_PARTIAL,
					"python: the gc list at 0x%llx %s at 0x%llx; its objects past there are not counted",
					(unsigned long long)head, n == limit ? "loops" : "leaves the core",
					(unsigned long long)node);
			return true;
		}
		if (!fn(ctx, node + HC_CPYTHON_GC_HEAD, type))
			return false;
		node = next;
	}
	return true;
}

bool hc_cpython_gc_each(struct hc_target *t, const struct hc_cpython_runtime *r, hc_cpython_gc_fn fn, void *ctx)
{
	const struct hc_cpython_layout *L = r->layout;
	uint64_t bytes = 0;
	for (uint32_t i = 0; i < t->nsegments; i++)
		bytes += t->segments[i].dumped;
	/* the interpreters thread states named, each once */
	uint64_t seen[64];
	uint32_t nseen = 0;
	for (uint32_t k = 0; k < r->nthreads; k++) {
		uint64_t interp = r->threads[k].interp;
		bool dup = false;
		for (uint32_t j = 0; j < nseen; j++)
			dup |= seen[j] == interp;
		if (dup || nseen == 64)
			continue;
		seen[nseen++] = interp;
		uint64_t gc = interp + L->interp_gc;
		for (int g = 0; g < 3; g++)
			if (!walk_list(t, gc + L->gc_generations + (uint64_t)g * HC_CPYTHON_GC_GENERATION,
				       bytes / HC_CPYTHON_GC_HEAD, fn, ctx))
				return false;
		if (!walk_list(t, gc + L->gc_permanent, bytes / HC_CPYTHON_GC_HEAD, fn, ctx))
			return false;
	}
	return true;
}

static bool count_one(void *ctx, uint64_t obj, uint64_t type)
{
	(void)obj;
	struct census_build *b = ctx;
	struct hc_cpython_type_count *e = entry(b, b->t, type);
	if (!e)
		return false;
	e->count++;
	b->c->objects++;
	return true;
}

static int by_count(const void *x, const void *y)
{
	const struct hc_cpython_type_count *a = x, *b = y;
	if (a->count != b->count)
		return a->count > b->count ? -1 : 1;
	int c = strcmp(a->name, b->name);
	return c ? c : (a->type > b->type) - (a->type < b->type);
}

struct hc_error *hc_cpython_gc_census(struct hc_target *t, const struct hc_symbols *s,
				      const struct hc_cpython_runtime *r, struct hc_cpython_census *out)
{
	memset(out, 0, sizeof(*out));
	const struct hc_cpython_layout *L = r->layout;
	if (!r->found || !r->layout_known || !L)
		return NULL;
	struct census_build b = { .t = t, .s = s, .c = out };
	bool ok = hc_cpython_gc_each(t, r, count_one, &b);
	free(b.slot);
	if (!ok) {
		hc_cpython_census_free(out);
		return &hc_error_nomem;
	}
	if (out->ntypes)
		qsort(out->types, out->ntypes, sizeof(*out->types), by_count);
	return NULL;
}

void hc_cpython_census_free(struct hc_cpython_census *c)
{
	for (uint32_t i = 0; i < c->ntypes; i++)
		free(c->types[i].name);
	free(c->types);
	memset(c, 0, sizeof(*c));
}
