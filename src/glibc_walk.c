/*
 * The glibc chunk walk: every chunk of every arena (main sbrk heap and
 * heap_info heaps), every mmapped chunk, and every thread's tcache, each
 * chunk given the state glibc itself would give it.
 *
 * Free lists are read first (bins, fastbins), then each heap is walked by
 * chunk sizes and each chunk looked up in those lists; tcache lists are
 * applied last, because tcache chunks look in use to the heap walk and can
 * belong to any arena. The heap is untrusted: each list walk is bounded and
 * cycle-checked, each header is checked against the allocator's invariants,
 * and a bad header is recorded as corruption and skipped to the next chunk
 * known from the free lists, so one damaged chunk costs only its neighbourhood.
 */
#include "heapcore/glibc_heap.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "large_alloc.h"
#include "sorted_search.h"
#include "thread_pair.h"

#define SIZE_SZ 8
#define MINSIZE 0x20
#define CHUNK_HDR_SZ 0x10
#define PREV_INUSE 1
#define IS_MMAPPED 2
#define NON_MAIN_ARENA 4
#define SIZE_BITS 7
#define NBINS 128
#define PAGE 4096

#define MAX_ARENAS 1024
/* chunk table entries populated at a time */
#define POPULATE_AHEAD (1u << 18)
#define MAX_HEAPS_PER_ARENA 65536
#define MAX_CORRUPTIONS 1000
/* tcache counts are 16-bit: no list can be longer, whatever a damaged count says */
#define MAX_TCACHE_LIST 65536

enum free_kind { KIND_NONE, KIND_UNSORTED, KIND_SMALL, KIND_LARGE };

/* A chunk some free list names, before the heap walk confirms it. */
struct mark {
	uint64_t addr;
	uint8_t state;
	uint8_t kind;
};

struct walk {
	struct hc_target *t;
	struct hc_glibc_heap *h;
	const struct hc_glibc_layout *L;
	uint64_t max_list;           /* no list can hold more chunks than the core has bytes for */
	struct mark *marks;
	uint32_t nmarks, marks_cap;
	uint32_t chunks_cap;
	uint32_t chunks_hint;        /* first capacity of the chunk table */
	uint8_t *chunk_kind;         /* enum free_kind per chunk, parallel to the chunk arrays */
	/* chunks arrive in sorted runs (one per heap, one for the mmapped scan): where each begins */
	uint32_t *run_start;
	uint32_t nruns;
	/* populates the chunk table's next window while the walk fills this one (NULL: inline) */
	struct hc_populator *populator;
	uint32_t pool_bytes_per_chunk; /* and the pool that far ahead (hc_glibc_walk_options) */
	bool oom;
	/* main_arena is not in the core (hc_glibc_location.headless): the main heap has no bins to check */
	bool headless;
	bool arena_list_broken;      /* the next ring did not close: look for the arenas it lost by their heaps */
};

static void start_run(struct walk *w)
{
	/* an empty run just moves its start */
	if (w->nruns && w->run_start[w->nruns - 1] == w->h->nchunks)
		return;
	if ((w->nruns & (w->nruns - 1)) == 0) {
		uint32_t *r = realloc(w->run_start, (w->nruns ? w->nruns * 2 : 1) * sizeof(*r));
		if (!r) {
			w->oom = true;
			return;
		}
		w->run_start = r;
	}
	w->run_start[w->nruns++] = w->h->nchunks;
}

const char *hc_chunk_state_name(enum hc_chunk_state s)
{
	static const char *const names[] = { "used", "free", "fastbin", "tcache", "top", "mmapped" };
	return (unsigned)s < HC_CHUNK_STATE_COUNT ? names[s] : "unknown";
}

static void corruption(struct walk *w, uint64_t addr, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Records damage found at addr, described by msg (taken over). */
static void corruption_msg(struct walk *w, uint64_t addr, char *msg)
{
	struct hc_glibc_heap *h = w->h;
	hc_warnings_add(&w->t->warnings, HC_WARN_PARTIAL, "heap corruption at 0x%llx: %s",
			(unsigned long long)addr, msg);
	if (h->ncorruptions >= MAX_CORRUPTIONS) {
		h->corruptions_dropped++;
		free(msg);
		return;
	}
	if (h->ncorruptions % 64 == 0) {
		struct hc_corruption *c =
			realloc(h->corruptions, (h->ncorruptions + 64) * sizeof(*c));
		if (!c) {
			free(msg);
			return;
		}
		h->corruptions = c;
	}
	h->corruptions[h->ncorruptions].address = addr;
	h->corruptions[h->ncorruptions].message = msg;
	h->ncorruptions++;
}

static void corruption(struct walk *w, uint64_t addr, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void corruption(struct walk *w, uint64_t addr, const char *fmt, ...)
{
	char *msg;
	va_list ap;
	va_start(ap, fmt);
	int n = vasprintf(&msg, fmt, ap);
	va_end(ap);
	if (n >= 0)
		corruption_msg(w, addr, msg);
}

static bool rd(struct walk *w, uint64_t addr, uint64_t *v)
{
	return hc_target_read_u64(w->t, addr, v);
}

/* Brent's cycle check: true once p has been seen before in this list. */
struct cycle_check {
	uint64_t saved;
	uint64_t steps, limit;
};

static bool cycle_seen(struct cycle_check *c, uint64_t p)
{
	if (c->limit && p == c->saved)
		return true;
	if (++c->steps >= c->limit) {
		c->saved = p;
		c->limit = c->limit ? c->limit * 2 : 2;
		c->steps = 0;
	}
	return false;
}

/* Appends x to the growing array *arr of *n marks; false if out of memory. */
static bool push_mark(struct mark **arr, uint32_t *n, uint32_t *cap, struct mark x)
{
	if (*n == *cap) {
		uint32_t c = *cap ? *cap * 2 : 1024;
		struct mark *m = realloc(*arr, c * sizeof(*m));
		if (!m)
			return false;
		*arr = m;
		*cap = c;
	}
	(*arr)[(*n)++] = x;
	return true;
}

static int compare_marks(const void *a, const void *b)
{
	const struct mark *x = a, *y = b;
	return x->addr < y->addr ? -1 : x->addr > y->addr;
}

/* Index of the first mark with addr >= a. */
static uint32_t mark_lower_bound(const struct walk *w, uint64_t a)
{
	return hc_lower_bound_u64(w->marks, w->nmarks, sizeof(*w->marks), offsetof(struct mark, addr), a);
}

static uint64_t ms_field(const uint8_t *ms, int32_t off)
{
	uint64_t v;
	memcpy(&v, ms + off, 8);
	return v;
}

static uint64_t reveal(const struct walk *w, uint64_t field_addr, uint64_t stored)
{
	return w->L->safe_linking ? (field_addr >> 12) ^ stored : stored;
}

/* Smallbins hold one size each; largebins a range (largebin_index_64). */
static unsigned bin_index_for_size(uint64_t sz)
{
	if (sz < 0x400)
		return sz >> 4;
	uint64_t s = sz;
	if ((s >> 6) <= 48)
		return 48 + (s >> 6);
	if ((s >> 9) <= 20)
		return 91 + (s >> 9);
	if ((s >> 12) <= 10)
		return 110 + (s >> 12);
	if ((s >> 15) <= 4)
		return 119 + (s >> 15);
	if ((s >> 18) <= 2)
		return 124 + (s >> 18);
	return 126;
}

/*
 * The free lists of one arena: the bins (lists 1..NBINS-1) and fastbins
 * (lists NBINS + i). Following them is a chain of reads at random places
 * in the core, each a page fault the first time: a third of the walk of
 * the benchmark core's main arena. Two threads follow half the lists each
 * (list_job), into sinks that keep what each list gave, so that the marks
 * and the damage reported come out in list order, as from one thread.
 */
#define NLISTS (NBINS + 16)

struct damage {
	uint64_t addr;
	char *msg;
	uint32_t list;
};

struct list_sink {
	struct mark *marks;
	uint32_t nmarks, marks_cap;
	uint32_t list_start[NLISTS + 1]; /* marks of list l: [list_start[l], list_start[l + 1]) when this sink had it */
	struct damage *damage;
	uint32_t ndamage, damage_cap;
	bool oom;
};

static void sink_mark(struct list_sink *k, uint64_t addr, uint8_t state, uint8_t kind)
{
	if (!push_mark(&k->marks, &k->nmarks, &k->marks_cap, (struct mark){ addr, state, kind }))
		k->oom = true;
}

static void sink_damage(struct list_sink *k, uint32_t list, uint64_t addr, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void sink_damage(struct list_sink *k, uint32_t list, uint64_t addr, const char *fmt, ...)
{
	char *msg;
	va_list ap;
	va_start(ap, fmt);
	int n = vasprintf(&msg, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if (k->ndamage == k->damage_cap) {
		uint32_t cap = k->damage_cap ? k->damage_cap * 2 : 16;
		struct damage *d = realloc(k->damage, cap * sizeof(*d));
		if (!d) {
			free(msg);
			return;
		}
		k->damage = d;
		k->damage_cap = cap;
	}
	k->damage[k->ndamage++] = (struct damage){ addr, msg, list };
}

static void collect_bin(const struct walk *w, struct list_sink *k, unsigned i, uint64_t arena, const uint8_t *ms)
{
	const struct hc_glibc_layout *L = w->L;
	uint64_t head = arena + L->ms_bins + (uint64_t)(i - 1) * 16 - 16;
	uint64_t p = ms_field(ms, L->ms_bins + (i - 1) * 16), prev = head;
	uint8_t kind = i == 1 ? KIND_UNSORTED : i < 64 ? KIND_SMALL : KIND_LARGE;
	struct cycle_check cc = { 0 };
	uint64_t n = 0;
	while (p != head) {
		uint64_t size, bk;
		if (p & 15) {
			sink_damage(k, i, head, "bin %u points to misaligned chunk 0x%llx", i, (unsigned long long)p);
			break;
		}
		if (!hc_target_read_u64(w->t, p + 8, &size) || !hc_target_read_u64(w->t, p + 24, &bk)) {
			sink_damage(k, i, head, "bin %u points to 0x%llx, which is not in the core", i,
				    (unsigned long long)p);
			break;
		}
		if (cycle_seen(&cc, p) || ++n > w->max_list) {
			sink_damage(k, i, head, "bin %u list loops without returning to its head", i);
			break;
		}
		if (bk != prev)
			sink_damage(k, i, p, "bin %u: chunk's bk is 0x%llx, expected 0x%llx", i,
				    (unsigned long long)bk, (unsigned long long)prev);
		uint64_t sz = size & ~(uint64_t)SIZE_BITS;
		if (i > 1 && bin_index_for_size(sz) != i)
			sink_damage(k, i, p, "chunk of size 0x%llx is in bin %u", (unsigned long long)sz, i);
		sink_mark(k, p, HC_CHUNK_FREE, kind);
		prev = p;
		if (!hc_target_read_u64(w->t, p + 16, &p))
			break;
	}
}

static void collect_fastbin(const struct walk *w, struct list_sink *k, unsigned i, uint64_t arena, const uint8_t *ms)
{
	const struct hc_glibc_layout *L = w->L;
	uint32_t list = NBINS + i;
	uint64_t p = ms_field(ms, L->ms_fastbins + 8 * i);
	struct cycle_check cc = { 0 };
	uint64_t n = 0;
	while (p) {
		uint64_t size, next;
		if (p & 15) {
			sink_damage(k, list, arena, "fastbin %u holds misaligned pointer 0x%llx", i, (unsigned long long)p);
			break;
		}
		if (!hc_target_read_u64(w->t, p + 8, &size) || !hc_target_read_u64(w->t, p + 16, &next)) {
			sink_damage(k, list, arena, "fastbin %u points to 0x%llx, which is not in the core", i,
				    (unsigned long long)p);
			break;
		}
		if (cycle_seen(&cc, p) || ++n > w->max_list) {
			sink_damage(k, list, p, "fastbin %u list loops", i);
			break;
		}
		if (((size & ~(uint64_t)SIZE_BITS) >> 4) - 2 != i)
			sink_damage(k, list, p, "chunk of size 0x%llx is in fastbin %u",
				    (unsigned long long)(size & ~(uint64_t)SIZE_BITS), i);
		sink_mark(k, p, HC_CHUNK_FASTBIN, KIND_NONE);
		p = reveal(w, p + 16, next);
	}
}

/* One per thread; aligned to cache lines so that the two never share one. */
struct __attribute__((aligned(64))) list_job {
	const struct walk *w;
	uint64_t arena;
	const uint8_t *ms;
	unsigned parity;             /* this job's lists: those with list % 2 == parity */
	struct list_sink sink;
};

static void *list_run(void *arg)
{
	struct list_job *j = arg;
	unsigned nfast = j->w->L->nfastbins < NLISTS - NBINS ? j->w->L->nfastbins : NLISTS - NBINS;
	for (uint32_t l = 1; l < NBINS + nfast; l++) {
		j->sink.list_start[l] = j->sink.nmarks;
		if (l % 2 != j->parity)
			continue;
		if (l < NBINS)
			collect_bin(j->w, &j->sink, l, j->arena, j->ms);
		else
			collect_fastbin(j->w, &j->sink, l - NBINS, j->arena, j->ms);
	}
	j->sink.list_start[NBINS + nfast] = j->sink.nmarks;
	return NULL;
}

/* Follows every free list of the arena and adds what they name to w's marks, in list order. */
static void collect_lists(struct walk *w, uint64_t arena, const uint8_t *ms)
{
	struct list_job job[2];
	memset(job, 0, sizeof(job));
	for (unsigned t = 0; t < 2; t++)
		job[t] = (struct list_job){ .w = w, .arena = arena, .ms = ms, .parity = t };
	hc_run_pair(hc_thread_count(0, 2, 1), list_run, &job[0], &job[1]);
	unsigned nfast = w->L->nfastbins < NLISTS - NBINS ? w->L->nfastbins : NLISTS - NBINS;
	uint32_t d[2] = { 0, 0 };
	for (uint32_t l = 1; l < NBINS + nfast && !w->oom; l++) {
		struct list_sink *k = &job[l % 2].sink;
		for (uint32_t m = k->list_start[l]; m < k->list_start[l + 1]; m++)
			if (!push_mark(&w->marks, &w->nmarks, &w->marks_cap, k->marks[m]))
				w->oom = true;
		for (; d[l % 2] < k->ndamage && k->damage[d[l % 2]].list == l; d[l % 2]++)
			corruption_msg(w, k->damage[d[l % 2]].addr, k->damage[d[l % 2]].msg);
	}
	for (unsigned t = 0; t < 2; t++) {
		w->oom |= job[t].sink.oom;
		/* what was not handed over (out of memory on the way) */
		for (; d[t] < job[t].sink.ndamage; d[t]++)
			free(job[t].sink.damage[d[t]].msg);
		free(job[t].sink.marks);
		free(job[t].sink.damage);
	}
}

/* Populates the chunk table's entries [first, first + POPULATE_AHEAD), as far as its capacity goes. */
static void populate_window(struct walk *w, uint32_t first, struct hc_populator *p)
{
	struct hc_glibc_heap *h = w->h;
	if (first >= w->chunks_cap)
		return;
	uint32_t n = w->chunks_cap - first < POPULATE_AHEAD ? w->chunks_cap - first : POPULATE_AHEAD;
	hc_populator_request(p, h->chunk_addr + first, (size_t)n * 8);
	hc_populator_request(p, h->chunk_size32 + first, (size_t)n * 4);
	hc_populator_request(p, h->chunk_state + first, n);
	hc_populator_request(p, w->chunk_kind + first, n);
}

static bool push_chunk(struct walk *w, uint64_t addr, uint64_t size, uint8_t state, uint8_t kind)
{
	struct hc_glibc_heap *h = w->h;
	if (h->nchunks == UINT32_MAX) {
		w->oom = true;
		return false;
	}
	if (h->nchunks == w->chunks_cap) {
		/*
		 * The first size is the most chunks the core could hold: large
		 * allocations are mapped lazily, so the untouched tail costs no
		 * memory, and 15 M chunks are never copied by doubling.
		 */
		uint32_t cap = w->chunks_cap ? (w->chunks_cap > UINT32_MAX / 2 ? UINT32_MAX : w->chunks_cap * 2)
					     : w->chunks_hint;
		/* the arrays may move: nothing may still be populating them */
		hc_populator_wait(w->populator);
		uint64_t *a = realloc(h->chunk_addr, (size_t)cap * 8);
		if (a)
			h->chunk_addr = a;
		uint32_t *s = realloc(h->chunk_size32, (size_t)cap * 4);
		if (s)
			h->chunk_size32 = s;
		uint8_t *st = realloc(h->chunk_state, cap);
		if (st)
			h->chunk_state = st;
		uint8_t *k = realloc(w->chunk_kind, cap);
		if (k)
			w->chunk_kind = k;
		if (!a || !s || !st || !k) {
			w->oom = true;
			return false;
		}
		w->chunks_cap = cap;
	}
	/*
	 * The table's pages a window at a time, not a fault each, and the next
	 * window by the other CPU while this one fills (large_alloc.h): on a VM
	 * clearing fresh pages costs the walk as much as reading the heap.
	 */
	if (!(h->nchunks % POPULATE_AHEAD)) {
		if (!h->nchunks)
			populate_window(w, 0, NULL);
		populate_window(w, h->nchunks + POPULATE_AHEAD, w->populator);
		if (w->pool_bytes_per_chunk)
			hc_pool_populate(w->populator,
					 ((size_t)h->nchunks + 2 * POPULATE_AHEAD) * w->pool_bytes_per_chunk);
	}
	if (size >= HC_CHUNK_SIZE_BIG) {
		if ((h->nbig_chunks & (h->nbig_chunks + 1)) == 0 || !h->big_chunks) {
			struct hc_glibc_big_chunk *b = realloc(h->big_chunks, (h->nbig_chunks + 1) * 2 * sizeof(*b));
			if (!b) {
				w->oom = true;
				return false;
			}
			h->big_chunks = b;
		}
		h->big_chunks[h->nbig_chunks++] = (struct hc_glibc_big_chunk){ addr, size };
	}
	uint32_t i = h->nchunks++;
	h->chunk_addr[i] = addr;
	h->chunk_size32[i] = size < HC_CHUNK_SIZE_BIG ? (uint32_t)size : HC_CHUNK_SIZE_BIG;
	h->chunk_state[i] = state;
	w->chunk_kind[i] = kind;
	return true;
}

/* Whether size is a header an arena chunk in [q, end) could carry. */
static bool plausible_header(uint64_t q, uint64_t size, uint64_t end, uint64_t top, bool is_main)
{
	uint64_t sz = size & ~(uint64_t)SIZE_BITS;
	return sz >= MINSIZE && !(sz & 15) && sz <= end - q && !(top && q < top && sz > top - q) &&
	       !(size & IS_MMAPPED) && !(is_main && (size & NON_MAIN_ARENA));
}

/* Chunks a run of headers must chain through before the walk trusts it again. */
#define RESYNC_CHAIN 6

/*
 * The next address in (p, end) where the walk can pick up again: the first
 * chunk the free lists vouch for or the top chunk, or, sooner, the first
 * 16-byte-aligned address from which RESYNC_CHAIN headers chain one to the
 * next (or run exactly into top, the heap's end or a listed chunk). A
 * zeroed page or a smashed header then costs its own bytes, not everything
 * up to the next free chunk. Bounded: one pass over the damaged bytes, a
 * few reads per address.
 */
static uint64_t resync_point(const struct walk *w, uint64_t p, uint64_t end, uint64_t top, bool is_main)
{
	uint32_t i = mark_lower_bound(w, p + 1);
	uint64_t next = i < w->nmarks && w->marks[i].addr < end ? w->marks[i].addr : end;
	if (top > p && top < next)
		next = top;
	for (uint64_t q = p + 16; q < next; q += 16) {
		uint64_t size, c = q;
		unsigned n = 0;
		if (!hc_target_read_u64(w->t, q + 8, &size)) {
			/* past the bytes the core holds (a cut core) nothing follows until a listed chunk */
			const struct hc_segment *seg = hc_target_segment(w->t, q);
			if (!seg || q + 8 >= seg->start + seg->dumped)
				return next;
			continue;
		}
		while (n < RESYNC_CHAIN && c < next && hc_target_read_u64(w->t, c + 8, &size) &&
		       plausible_header(c, size, end, top, is_main)) {
			c += size & ~(uint64_t)SIZE_BITS;
			n++;
		}
		if (n == RESYNC_CHAIN || (n > 0 && c == next))
			return q;
	}
	return next;
}

static struct hc_glibc_arena *arena_at(struct walk *w, uint32_t idx)
{
	return &w->h->arenas[idx];
}

/*
 * How far ahead of the chunk it is on the walk asks for the heap's bytes.
 * The headers come in address order but a chunk apart, which the CPU's
 * own prefetcher follows poorly across pages; asking for the line 1.5 KiB
 * on took the walk of the benchmark core from 0.43 to 0.37 s (mean of 8).
 */
#define WALK_AHEAD 1536

/*
 * Walks [first, end) of one heap. top is the arena's top chunk when it lies in
 * this heap (the walk ends there), else 0 and the heap ends in fenceposts.
 */
static void walk_heap(struct walk *w, uint32_t arena_idx, uint64_t first, uint64_t end, uint64_t top,
		      bool is_main)
{
	struct hc_glibc_arena *a = arena_at(w, arena_idx);
	uint64_t p = first;
	start_run(w);
	/* a heap is one mapping: one span serves every header read, a lookup only where it ends */
	struct hc_span span;
	hc_target_span(w->t, first, end - first, &span);
	/* chunks come in address order, so the free-list marks are met in order too */
	uint32_t m = mark_lower_bound(w, first);
	struct hc_release_cursor release = { w->t, 0 };
	while (p < end && !w->oom) {
		uint64_t size;
		if (p == top) {
			if (!rd(w, p + 8, &size)) {
				corruption(w, p, "top chunk header is not in the core");
				a->unwalked_bytes += end - p;
				return;
			}
			uint64_t sz = size & ~(uint64_t)SIZE_BITS;
			if (p + sz != end)
				corruption(w, p, "top chunk of size 0x%llx ends at 0x%llx, the heap at 0x%llx",
					   (unsigned long long)sz, (unsigned long long)(p + sz),
					   (unsigned long long)end);
			push_chunk(w, p, sz, HC_CHUNK_TOP, KIND_NONE);
			return;
		}
		const char *problem = NULL;
		uint64_t sz = 0;
		if (!hc_span_u64(&span, p + 8, &size) && !rd(w, p + 8, &size)) {
			problem = "chunk header is not in the core";
		} else {
			sz = size & ~(uint64_t)SIZE_BITS;
			/* an older heap ends with fenceposts: a 0x10 chunk, then a bare 0 header */
			if (!top && sz == CHUNK_HDR_SZ && p + 2 * CHUNK_HDR_SZ <= end) {
				a->fenceposts.count++;
				a->fenceposts.bytes += end - p;
				if (p + 2 * CHUNK_HDR_SZ != end)
					corruption(w, p, "fencepost found 0x%llx bytes before the heap's end",
						   (unsigned long long)(end - p));
				return;
			}
			if (sz < MINSIZE || (sz & 15))
				problem = "chunk size is below the minimum or misaligned";
			else if (sz > end - p)
				problem = "chunk size runs past the end of its heap";
			else if (top && p < top && sz > top - p)
				problem = "chunk size runs over the top chunk";
			else if (is_main && (size & NON_MAIN_ARENA))
				problem = "NON_MAIN_ARENA bit set in the main arena";
			else if (size & IS_MMAPPED)
				problem = "IS_MMAPPED bit set inside an arena heap";
		}
		if (problem) {
			corruption(w, p, "%s (size field 0x%llx)", problem, (unsigned long long)size);
			uint64_t next = resync_point(w, p, end, top, is_main);
			a->unwalked_bytes += next - p;
			p = next;
			m = mark_lower_bound(w, p);
			continue;
		}
		uint8_t state = HC_CHUNK_USED, kind = KIND_NONE;
		if (w->headless && is_main && p + sz == end) {
			/* no main_arena to name it: the chunk that ends the heap is its top */
			push_chunk(w, p, sz, HC_CHUNK_TOP, KIND_NONE);
			return;
		}
		while (m < w->nmarks && w->marks[m].addr < p)
			m++;
		bool listed = m < w->nmarks && w->marks[m].addr == p;
		if (listed) {
			state = w->marks[m].state;
			kind = w->marks[m].kind;
		}
		/* glibc sets NON_MAIN_ARENA on chunks it hands out; set_head of free chunks drops it */
		if (!is_main && state != HC_CHUNK_FREE && !(size & NON_MAIN_ARENA))
			corruption(w, p, "NON_MAIN_ARENA bit clear on an allocated chunk of a thread arena");
		uint64_t next_size;
		/* a next header that is itself damaged says nothing of this chunk */
		if (p + sz < end && (hc_span_u64(&span, p + sz + 8, &next_size) || rd(w, p + sz + 8, &next_size)) &&
		    (p + sz == top || plausible_header(p + sz, next_size, end, top, is_main))) {
			bool prev_inuse = next_size & PREV_INUSE;
			if (state == HC_CHUNK_FREE && prev_inuse)
				corruption(w, p, "chunk is on a bin list but the next chunk marks it in use");
			else if (state != HC_CHUNK_FREE && !prev_inuse) {
				if (!(w->headless && is_main))
					corruption(w, p, "chunk is free by the next chunk's PREV_INUSE bit but on no bin");
				state = HC_CHUNK_FREE;
			}
		}
		push_chunk(w, p, sz, state, kind);
		p += sz;
		hc_span_prefetch(&span, p + WALK_AHEAD);
		/* the core's pages behind the walk go (hc_target_release_range): it reads each once */
		if (!(w->h->nchunks & 0xffff))
			hc_release_cursor_advance(&release, p);
	}
	if (top && p != top && p <= end)
		corruption(w, top, "walk ended at 0x%llx without reaching the top chunk",
			   (unsigned long long)p);
}

static bool push_heap_range(struct walk *w, struct hc_glibc_arena *a, uint64_t start, uint64_t end,
			    uint64_t first)
{
	struct hc_glibc_heap_range *r = realloc(a->heaps, (a->nheaps + 1) * sizeof(*r));
	if (!r) {
		w->oom = true;
		return false;
	}
	a->heaps = r;
	r[a->nheaps++] = (struct hc_glibc_heap_range){ start, end, first };
	return true;
}

static uint64_t first_chunk_after(uint64_t addr)
{
	uint64_t misalign = (addr + CHUNK_HDR_SZ) & 15;
	return misalign ? addr + 16 - misalign : addr;
}

static void walk_main_heap(struct walk *w, uint32_t idx, uint64_t top)
{
	struct hc_glibc_arena *a = arena_at(w, idx);
	uint64_t size;
	if (!rd(w, top + 8, &size)) {
		corruption(w, top, "main arena's top chunk is not in the core");
		return;
	}
	uint64_t end = top + (size & ~(uint64_t)SIZE_BITS);
	uint64_t start = 0;
	const struct hc_glibc_location *loc = &w->h->location;
	if (loc->mp && w->L->mp_sbrk_base >= 0 && rd(w, loc->mp + w->L->mp_sbrk_base, &start) &&
	    start && start <= top) {
		/* sbrk_base is exact; the segment start is a fallback */
	} else {
		const struct hc_segment *seg = hc_target_segment(w->t, top);
		start = seg ? seg->start : top;
	}
	uint64_t first = first_chunk_after(start);
	if (!push_heap_range(w, a, start, end, first))
		return;
	a->overhead_bytes += first - start;
	walk_heap(w, idx, first, end, top, true);
}

static void walk_thread_heaps(struct walk *w, uint32_t idx, uint64_t arena, uint64_t top)
{
	const struct hc_glibc_layout *L = w->L;
	struct hc_glibc_arena *a = arena_at(w, idx);
	uint64_t hmax = L->heap_max_size;
	uint64_t hi = top & ~(hmax - 1);
	bool newest = true;
	for (unsigned n = 0; hi && n < MAX_HEAPS_PER_ARENA && !w->oom; n++) {
		uint64_t ar_ptr, prev, size;
		if (!rd(w, hi, &ar_ptr) || !rd(w, hi + 8, &prev) || !rd(w, hi + 16, &size)) {
			corruption(w, hi, "heap_info of arena 0x%llx is not in the core",
				   (unsigned long long)arena);
			return;
		}
		if (ar_ptr != arena) {
			corruption(w, hi, "heap_info.ar_ptr is 0x%llx, not its arena 0x%llx",
				   (unsigned long long)ar_ptr, (unsigned long long)arena);
			return;
		}
		if (size > hmax || size < PAGE) {
			corruption(w, hi, "heap_info.size 0x%llx is impossible", (unsigned long long)size);
			return;
		}
		bool holds_arena = arena >= hi && arena < hi + hmax;
		uint64_t first = holds_arena ? first_chunk_after(arena + L->ms_size)
					     : first_chunk_after(hi + L->heap_info_size);
		uint64_t end = hi + size;
		if (!push_heap_range(w, a, hi, end, first))
			return;
		a->overhead_bytes += first - hi;
		walk_heap(w, idx, first, end, newest ? top : 0, false);
		newest = false;
		if (!prev)
			return;
		if (prev & (hmax - 1)) {
			corruption(w, hi, "heap_info.prev 0x%llx is not heap-aligned",
				   (unsigned long long)prev);
			return;
		}
		hi = prev;
	}
}

/* The arenas' heaps as spans sorted by start, for the mmapped scan to skip. */
struct heap_spans {
	struct hc_glibc_heap_range *v;   /* start and end only */
	uint32_t n;
};

static int compare_spans(const void *x, const void *y)
{
	const struct hc_glibc_heap_range *a = x, *b = y;
	return a->start < b->start ? -1 : a->start > b->start;
}

static bool heap_spans_build(const struct hc_glibc_heap *h, uint64_t hmax, struct heap_spans *out)
{
	uint64_t n = 0;
	for (uint32_t i = 0; i < h->narenas; i++)
		n += h->arenas[i].nheaps;
	out->n = 0;
	out->v = malloc((n ? n : 1) * sizeof(*out->v));
	if (!out->v)
		return false;
	for (uint32_t i = 0; i < h->narenas; i++)
		for (uint32_t j = 0; j < h->arenas[i].nheaps; j++) {
			uint64_t s = h->arenas[i].heaps[j].start;
			/* a thread heap reserves its whole aligned span */
			uint64_t e = h->arenas[i].is_main ? h->arenas[i].heaps[j].end : s + hmax;
			out->v[out->n++] = (struct hc_glibc_heap_range){ s, e, 0 };
		}
	if (out->n)
		qsort(out->v, out->n, sizeof(*out->v), compare_spans);
	return true;
}

/* Whether addr is in a heap; if so, *skip_to is where that heap's span ends. */
static bool in_heap_range(const struct heap_spans *sp, uint64_t addr, uint64_t *skip_to)
{
	/* the last span starting at or below addr; spans may overlap (damage), so look back a little */
	uint32_t lo = 0, hi = sp->n;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (sp->v[mid].start <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (uint32_t k = lo, seen = 0; k > 0 && seen < 8; k--, seen++)
		if (addr < sp->v[k - 1].end) {
			*skip_to = sp->v[k - 1].end;
			return true;
		}
	return false;
}

/* An mmapped chunk whose mapping starts at map and whose header is at c; its mapping size or 0. */
static uint64_t mmapped_chunk_at(struct walk *w, uint64_t map, uint64_t c, uint64_t limit)
{
	uint64_t prev_size, size;
	if (!rd(w, c, &prev_size) || !rd(w, c + 8, &size))
		return 0;
	if ((size & SIZE_BITS) != IS_MMAPPED || prev_size != c - map)
		return 0;
	uint64_t sz = size & ~(uint64_t)SIZE_BITS;
	uint64_t mapped = prev_size + sz + (w->L->mmapped_size_excludes_header ? CHUNK_HDR_SZ : 0);
	if (sz < PAGE / 2 || (mapped & (PAGE - 1)) || mapped > limit - map || (c + CHUNK_HDR_SZ) & 15)
		return 0;
	return mapped;
}

/*
 * A memalign'd mmapped chunk starts after padding that glibc never writes, so
 * its mapping begins with zero pages and its header can be pages further on:
 * look in the page at a for a header whose prev_size leads back to a
 * page-aligned mapping start at or before a, within [floor, a].
 */
static uint64_t memaligned_chunk_in_page(struct walk *w, uint64_t a, uint64_t floor, uint64_t limit,
					 uint64_t *map_out, uint64_t *head_out)
{
	struct hc_span span;
	hc_target_span(w->t, a, PAGE, &span);
	for (uint64_t off = 0; off + 16 <= span.len; off += 16) {
		uint64_t ps, size;
		if (!hc_span_u64(&span, a + off, &ps) || !hc_span_u64(&span, a + off + 8, &size))
			break;
		if ((size & SIZE_BITS) != IS_MMAPPED || ps < 16 || ps > a + off - floor)
			continue;
		uint64_t map = a + off - ps;
		if (map & (PAGE - 1))
			continue;
		uint64_t mapped = mmapped_chunk_at(w, map, a + off, limit);
		if (mapped) {
			*map_out = map;
			*head_out = a + off;
			return mapped;
		}
	}
	return 0;
}

/*
 * memalign of an mmapped chunk leaves the mapping's original header in place
 * (prev_size 0) and writes the real one at the aligned address, with
 * prev_size = the lead. The aligned user address is the first multiple of the
 * alignment at least MINSIZE past the mapping start, so one probe per power of
 * two finds it. Returns the real header's address, or map if there is none.
 */
static uint64_t memaligned_chunk_behind_stale_header(struct walk *w, uint64_t map, uint64_t mapped,
						     uint64_t limit)
{
	for (uint64_t align = 32; align && align < mapped; align <<= 1) {
		uint64_t user = (map + CHUNK_HDR_SZ + align - 1) & ~(align - 1);
		if (user - CHUNK_HDR_SZ - map < MINSIZE)
			user += align;
		uint64_t c = user - CHUNK_HDR_SZ;
		if (c - map >= mapped)
			break;
		if (mmapped_chunk_at(w, map, c, limit) == mapped)
			return c;
	}
	return map;
}

static void find_mmapped_chunks(struct walk *w)
{
	const struct hc_target *t = w->t;
	struct heap_spans spans;
	if (!heap_spans_build(w->h, w->L->heap_max_size, &spans)) {
		w->oom = true;
		return;
	}
	for (uint32_t i = 0; i < t->nsegments && !w->oom; i++) {
		const struct hc_segment *seg = &t->segments[i];
		if (!(seg->perms & HC_PERM_W) || seg->file >= 0)
			continue;
		/* the scan is in address order inside a segment; heaps may lie between segments */
		start_run(w);
		uint64_t a = seg->start;
		/* where the current run of zero-headed pages began: a padded mapping may start there */
		uint64_t floor = seg->start;
		/* only pages the core holds can start a chunk it can show: a segment's claimed size is no bound */
		uint64_t scan_end = seg->start + seg->dumped;
		while (a + PAGE <= scan_end && !w->oom) {
			uint64_t skip;
			if (in_heap_range(&spans, a, &skip)) {
				a = floor = skip;
				start_run(w);
				continue;
			}
			uint64_t mapped = mmapped_chunk_at(w, a, a, seg->end), head = a, map = a;
			if (mapped)
				head = memaligned_chunk_behind_stale_header(w, a, mapped, seg->end);
			uint64_t w0 = 1, w1 = 1;
			if (!mapped && rd(w, a, &w0) && rd(w, a + 8, &w1) && !w0 && !w1)
				mapped = memaligned_chunk_in_page(w, a, floor, seg->end, &map, &head);
			if (mapped) {
				uint64_t size;
				rd(w, head + 8, &size);
				push_chunk(w, head, size & ~(uint64_t)SIZE_BITS, HC_CHUNK_MMAPPED, KIND_NONE);
				a = floor = map + mapped;
			} else {
				a += PAGE;
				if (w0 || w1)
					floor = a;
			}
		}
	}
	free(spans.v);
}

static int compare_by_address(const void *x, const void *y, void *arg)
{
	const uint64_t *addr = arg;
	uint64_t a = addr[*(const uint32_t *)x], b = addr[*(const uint32_t *)y];
	return a < b ? -1 : a > b;
}

struct run {
	uint64_t first_addr;
	uint32_t start, end;
};

static int compare_runs(const void *x, const void *y)
{
	const struct run *a = x, *b = y;
	return a->first_addr < b->first_addr ? -1 : a->first_addr > b->first_addr;
}

/*
 * Puts the chunk table in address order. Each run is sorted and runs do not
 * overlap (heaps and mappings are disjoint), so ordering the runs by their
 * first chunk orders the table: O(chunks), with no sort over 15 M entries.
 */
static void sort_chunks(struct walk *w)
{
	struct hc_glibc_heap *h = w->h;
	uint32_t n = h->nchunks;
	struct run *runs = calloc(w->nruns ? w->nruns : 1, sizeof(*runs));
	if (!runs) {
		w->oom = true;
		return;
	}
	uint32_t nr = 0;
	for (uint32_t i = 0; i < w->nruns; i++) {
		uint32_t start = w->run_start[i], end = i + 1 < w->nruns ? w->run_start[i + 1] : n;
		if (start < end)
			runs[nr++] = (struct run){ h->chunk_addr[start], start, end };
	}
	qsort(runs, nr, sizeof(*runs), compare_runs);
	bool in_order = true;
	for (uint32_t i = 1; i < nr && in_order; i++)
		in_order = runs[i].start == runs[i - 1].end;
	if (in_order) {
		free(runs);
		return;
	}
	uint32_t *perm = malloc((size_t)n * sizeof(*perm));
	void *tmp = malloc((size_t)n * 8);
	if (!perm || !tmp) {
		free(perm);
		free(tmp);
		free(runs);
		w->oom = true;
		return;
	}
	uint32_t k = 0;
	for (uint32_t i = 0; i < nr; i++)
		for (uint32_t j = runs[i].start; j < runs[i].end; j++)
			perm[k++] = j;
	/* runs interleave only if a heap lies inside a scanned mapping: sort the few it takes */
	bool sorted = true;
	for (uint32_t i = 1; i < n && sorted; i++)
		sorted = h->chunk_addr[perm[i - 1]] <= h->chunk_addr[perm[i]];
	if (!sorted)
		qsort_r(perm, n, sizeof(*perm), compare_by_address, h->chunk_addr);
	/* chunks of distinct heaps can only overlap when damage made two arenas claim the same memory */
	for (uint32_t i = 1; i < n; i++) {
		uint64_t prev = h->chunk_addr[perm[i - 1]], end = prev + hc_glibc_chunk_size(h, perm[i - 1]);
		if (end > h->chunk_addr[perm[i]]) {
			corruption(w, h->chunk_addr[perm[i]], "chunk overlaps the chunk at 0x%llx; two heaps claim the same memory",
				   (unsigned long long)prev);
			break;
		}
	}
	uint64_t *t64 = tmp;
	for (uint32_t i = 0; i < n; i++)
		t64[i] = h->chunk_addr[perm[i]];
	memcpy(h->chunk_addr, t64, (size_t)n * 8);
	uint32_t *t32 = tmp;
	for (uint32_t i = 0; i < n; i++)
		t32[i] = h->chunk_size32[perm[i]];
	memcpy(h->chunk_size32, t32, (size_t)n * 4);
	uint8_t *t8 = tmp;
	for (uint32_t i = 0; i < n; i++)
		t8[i] = h->chunk_state[perm[i]];
	memcpy(h->chunk_state, t8, n);
	for (uint32_t i = 0; i < n; i++)
		t8[i] = w->chunk_kind[perm[i]];
	memcpy(w->chunk_kind, t8, n);
	free(perm);
	free(tmp);
	free(runs);
}

/* Index of the chunk whose header is at addr, or -1. */
static int64_t chunk_index(const struct hc_glibc_heap *h, uint64_t addr)
{
	uint32_t lo = 0, hi = h->nchunks;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (h->chunk_addr[mid] < addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < h->nchunks && h->chunk_addr[lo] == addr ? (int64_t)lo : -1;
}

static uint64_t tcache_bin_chunk_size(unsigned bin)
{
	return (uint64_t)(bin + 2) * 16;
}

static uint32_t tcache_count(const struct walk *w, const uint8_t *ts, unsigned bin, uint64_t fill,
			     bool *known)
{
	const struct hc_glibc_layout *L = w->L;
	uint32_t v = L->tcache_counts_width == 1 ? ts[bin] : (uint32_t)ts[2 * bin] | (uint32_t)ts[2 * bin + 1] << 8;
	*known = true;
	if (!L->tcache_counts_free_slots)
		return v;
	/* 2.42+: num_slots counts free slots; entries = the fill count minus those */
	if (!fill || v > fill) {
		*known = false;
		return 0;
	}
	return (uint32_t)(fill - v);
}

/*
 * Walks the lists of the tcache_perthread_struct at user address u. With
 * apply, marks their chunks TCACHE and reports damage as corruption, going
 * on past it; without, only checks that u looks like a live struct: every
 * entry a chunk of its bin's size that the walk saw in use, every count in
 * agreement with its list. Returns the chunks on the lists, or -1 when
 * checking and u fails (or holds nothing: an empty struct cannot be told
 * from zeroed user data, and holds nothing anyway).
 */
static int64_t tcache_lists(struct walk *w, uint64_t u, uint64_t fill, bool apply)
{
	const struct hc_glibc_layout *L = w->L;
	struct hc_glibc_heap *h = w->h;
	uint8_t ts[1024];
	uint64_t len = L->tcache_entries_offset + 8ull * L->tcache_nbins;
	if (len > sizeof(ts) || hc_target_read(w->t, u, ts, len) != HC_READ_OK) {
		if (apply)
			corruption(w, u, "tcache_perthread_struct is not in the core");
		return apply ? 0 : -1;
	}
	int64_t total = 0;
	for (unsigned bin = 0; bin < L->tcache_nbins; bin++) {
		uint64_t e;
		memcpy(&e, ts + L->tcache_entries_offset + 8 * bin, 8);
		bool count_known;
		uint32_t want = tcache_count(w, ts, bin, fill, &count_known);
		uint32_t n = 0;
		struct cycle_check cc = { 0 };
		const char *problem = NULL;
		while (e && !problem) {
			if ((e & 15) || n >= MAX_TCACHE_LIST || cycle_seen(&cc, e)) {
				problem = (e & 15) ? "has a misaligned entry" : "loops";
				break;
			}
			int64_t ci = chunk_index(h, e - CHUNK_HDR_SZ);
			uint8_t st = ci < 0 ? HC_CHUNK_STATE_COUNT : h->chunk_state[ci];
			if (ci < 0) {
				problem = "has an entry that is not a chunk";
			} else if (st != HC_CHUNK_USED && !(apply && st == HC_CHUNK_MMAPPED)) {
				problem = "has a chunk that is not in use";
			} else if (bin < 64 && hc_glibc_chunk_size(h, ci) != tcache_bin_chunk_size(bin)) {
				if (!apply)
					return -1;
				corruption(w, e - CHUNK_HDR_SZ, "chunk of size 0x%llx is in tcache bin %u",
					   (unsigned long long)hc_glibc_chunk_size(h, ci), bin);
			}
			if (problem)
				break;
			if (apply)
				h->chunk_state[ci] = HC_CHUNK_TCACHE;
			n++;
			uint64_t next;
			if (!rd(w, e, &next)) {
				problem = "runs out of the core";
				break;
			}
			e = reveal(w, e, next);
		}
		if (problem) {
			if (!apply)
				return -1;
			corruption(w, u, "tcache bin %u: its list %s at 0x%llx", bin, problem,
				   (unsigned long long)e);
		} else if (count_known && n != want) {
			if (!apply)
				return -1;
			corruption(w, u, "tcache bin %u: its count says %u chunks, its list holds %u", bin,
				   want, n);
		}
		total += n;
	}
	return apply || total > 0 ? total : -1;
}

static bool add_tcache(struct walk *w, int32_t tid, uint64_t u)
{
	struct hc_glibc_heap *h = w->h;
	for (uint32_t i = 0; i < h->ntcaches; i++)
		if (h->tcaches[i].address == u)
			return false;
	struct hc_glibc_tcache *n = realloc(h->tcaches, (h->ntcaches + 1) * sizeof(*n));
	if (!n) {
		w->oom = true;
		return false;
	}
	h->tcaches = n;
	h->tcaches[h->ntcaches++] = (struct hc_glibc_tcache){ tid, u, 0 };
	return true;
}

/* Is u the user address of an in-use chunk the size of a tcache_perthread_struct? */
static bool tcache_struct_chunk(struct walk *w, uint64_t u)
{
	int64_t ci = chunk_index(w->h, u - CHUNK_HDR_SZ);
	return ci >= 0 && w->h->chunk_state[ci] == HC_CHUNK_USED &&
	       hc_glibc_chunk_size(w->h, ci) == w->L->tcache_struct_chunk;
}

static void find_tcaches(struct walk *w, uint64_t fill)
{
	const struct hc_glibc_location *loc = &w->h->location;
	const struct hc_target *t = w->t;
	struct hc_glibc_heap *h = w->h;
	uint32_t unresolved = 0;
	for (uint32_t i = 0; i < t->nthreads && loc->have_tcache_tp_offset; i++) {
		const struct hc_thread *th = &t->threads[i];
		uint64_t u = 0;
		if (!th->has_tp || !rd(w, th->tp + (uint64_t)loc->tcache_tp_offset, &u)) {
			unresolved++;
			continue;
		}
		if (u && tcache_struct_chunk(w, u)) {
			add_tcache(w, th->tid, u);
		} else if (!u && w->L->tcache_never_null) {
			/* 2.43+ points an idle tcache at a static dummy, never at NULL */
			unresolved++;
			hc_warnings_add(&w->t->warnings, HC_WARN_INFO,
					"thread %d: its tcache pointer reads as NULL, which this glibc never leaves; "
					"the thread's memory in the core looks zeroed (gdb's gcore loses thread "
					"stacks that carry guard regions); its tcache is looked for by shape",
					th->tid);
		} else if (u && chunk_index(h, u - CHUNK_HDR_SZ) >= 0) {
			unresolved++;
			corruption(w, u, "thread %d's tcache pointer does not point to a tcache", th->tid);
		}
		/* else: no tcache yet (NULL before 2.43), or a static dummy (2.43+) */
	}
	if (loc->have_tcache_tp_offset && !unresolved)
		return;
	/* without a usable TLS slot for some thread: every chunk of the struct's size whose lists validate */
	for (uint32_t i = 0; i < h->nchunks && !w->oom; i++) {
		if (h->chunk_state[i] != HC_CHUNK_USED || hc_glibc_chunk_size(h, i) != w->L->tcache_struct_chunk)
			continue;
		uint64_t u = h->chunk_addr[i] + CHUNK_HDR_SZ;
		if (tcache_lists(w, u, fill, false) > 0)
			add_tcache(w, 0, u);
	}
}

static int compare_extents(const void *x, const void *y)
{
	const struct hc_glibc_arena_extent *a = x, *b = y;
	return a->start < b->start ? -1 : a->start > b->start;
}

static int compare_big_chunks(const void *x, const void *y)
{
	const struct hc_glibc_big_chunk *a = x, *b = y;
	return a->addr < b->addr ? -1 : a->addr > b->addr;
}

/* The arenas' heap extents in address order, for hc_glibc_chunk_arena; the big chunks too. */
static void index_extents(struct walk *w)
{
	struct hc_glibc_heap *h = w->h;
	uint32_t n = 0;
	for (uint32_t a = 0; a < h->narenas; a++)
		n += h->arenas[a].nheaps;
	h->extents = malloc((n ? n : 1) * sizeof(*h->extents));
	if (!h->extents) {
		w->oom = true;
		return;
	}
	for (uint32_t a = 0; a < h->narenas; a++)
		for (uint32_t k = 0; k < h->arenas[a].nheaps; k++)
			h->extents[h->nextents++] = (struct hc_glibc_arena_extent){ h->arenas[a].heaps[k].start,
										    h->arenas[a].heaps[k].end, a };
	qsort(h->extents, h->nextents, sizeof(*h->extents), compare_extents);
	if (h->nbig_chunks)
		qsort(h->big_chunks, h->nbig_chunks, sizeof(*h->big_chunks), compare_big_chunks);
}

uint32_t hc_glibc_chunk_arena(const struct hc_glibc_heap *h, uint32_t i)
{
	if (h->chunk_state[i] == HC_CHUNK_MMAPPED)
		return HC_NO_ARENA;
	uint64_t addr = h->chunk_addr[i];
	/* the last extent starting at or below addr */
	uint32_t lo = addr == UINT64_MAX ? h->nextents
					 : hc_lower_bound_u64(h->extents, h->nextents, sizeof(*h->extents),
							      offsetof(struct hc_glibc_arena_extent, start), addr + 1);
	return lo && addr < h->extents[lo - 1].end ? h->extents[lo - 1].arena : HC_NO_ARENA;
}

uint64_t hc_glibc_big_chunk_size(const struct hc_glibc_heap *h, uint32_t i)
{
	uint64_t addr = h->chunk_addr[i];
	uint32_t lo = hc_lower_bound_u64(h->big_chunks, h->nbig_chunks, sizeof(*h->big_chunks),
					 offsetof(struct hc_glibc_big_chunk, addr), addr);
	return lo < h->nbig_chunks && h->big_chunks[lo].addr == addr ? h->big_chunks[lo].size : 0;
}

/*
 * What tally() counts, for a range of chunks: one per thread, added up
 * after. Aligned to cache lines: two threads counting into neighbours that
 * share one would bounce it between the CPUs at every chunk.
 */
struct __attribute__((aligned(64))) tally_part {
	struct walk *w;
	uint32_t c0, c1;
	struct hc_tally totals[HC_CHUNK_STATE_COUNT];
	struct hc_tally size_used[64], size_free[64];
	/* per arena: its tally by state, then free_unsorted, free_small, free_large */
	struct hc_tally (*arena)[HC_CHUNK_STATE_COUNT + 3];
};

static void add_tally(struct hc_tally *t, uint64_t bytes)
{
	t->count++;
	t->bytes += bytes;
}

static void *tally_run(void *arg)
{
	struct tally_part *part = arg;
	struct walk *w = part->w;
	struct hc_tally (*per_arena)[HC_CHUNK_STATE_COUNT + 3] = part->arena;
	struct hc_glibc_heap *h = w->h;
	if (part->c0 >= part->c1)
		return NULL;
	/* chunks and extents are both in address order: one cursor finds each chunk's arena */
	uint32_t e = (uint32_t)hc_lower_bound_u64(h->extents, h->nextents, sizeof(*h->extents),
						  offsetof(struct hc_glibc_arena_extent, end), h->chunk_addr[part->c0] + 1);
	for (uint32_t i = part->c0; i < part->c1; i++) {
		uint64_t bytes = hc_glibc_chunk_size(h, i), addr = h->chunk_addr[i];
		uint8_t st = h->chunk_state[i];
		if (st != HC_CHUNK_TOP && bytes)
			add_tally(st == HC_CHUNK_USED || st == HC_CHUNK_MMAPPED ? &part->size_used[63 - __builtin_clzll(bytes)]
										: &part->size_free[63 - __builtin_clzll(bytes)],
				  bytes);
		while (e < h->nextents && h->extents[e].end <= addr)
			e++;
		uint32_t arena = st != HC_CHUNK_MMAPPED && e < h->nextents && h->extents[e].start <= addr
					 ? h->extents[e].arena
					 : HC_NO_ARENA;
		if (st == HC_CHUNK_MMAPPED || arena == HC_NO_ARENA) {
			uint64_t prev_size = 0;
			rd(w, h->chunk_addr[i], &prev_size);
			bytes = prev_size + bytes + (w->L->mmapped_size_excludes_header ? CHUNK_HDR_SZ : 0);
		}
		add_tally(&part->totals[st], bytes);
		if (arena == HC_NO_ARENA)
			continue;
		add_tally(&per_arena[arena][st], bytes);
		if (st == HC_CHUNK_FREE)
			add_tally(&per_arena[arena][HC_CHUNK_STATE_COUNT + (w->chunk_kind[i] == KIND_SMALL   ? 1
									     : w->chunk_kind[i] == KIND_LARGE ? 2
														: 0)],
				  bytes);
	}
	return NULL;
}

static void sum_tally(struct hc_tally *into, const struct hc_tally *a, const struct hc_tally *b)
{
	into->count += a->count + b->count;
	into->bytes += a->bytes + b->bytes;
}

/* Totals, per-arena tallies and size buckets of every chunk, two threads taking half the chunks each. */
static void tally(struct walk *w)
{
	struct hc_glibc_heap *h = w->h;
	struct tally_part part[2];
	memset(part, 0, sizeof(part));
	uint32_t half = h->nchunks / 2;
	for (int t = 0; t < 2; t++) {
		part[t].w = w;
		part[t].c0 = t ? half : 0;
		part[t].c1 = t ? h->nchunks : half;
		part[t].arena = calloc(h->narenas ? h->narenas : 1, sizeof(*part[t].arena));
		if (!part[t].arena) {
			w->oom = true;
			free(part[0].arena);
			return;
		}
	}
	hc_run_pair(hc_thread_count(0, h->nchunks, 1u << 20), tally_run, &part[0], &part[1]);
	for (int s = 0; s < HC_CHUNK_STATE_COUNT; s++)
		sum_tally(&h->totals[s], &part[0].totals[s], &part[1].totals[s]);
	for (int b = 0; b < 64; b++) {
		sum_tally(&h->size_used[b], &part[0].size_used[b], &part[1].size_used[b]);
		sum_tally(&h->size_free[b], &part[0].size_free[b], &part[1].size_free[b]);
	}
	for (uint32_t i = 0; i < h->narenas; i++) {
		struct hc_glibc_arena *a = &h->arenas[i];
		for (int s = 0; s < HC_CHUNK_STATE_COUNT; s++)
			sum_tally(&a->tally[s], &part[0].arena[i][s], &part[1].arena[i][s]);
		sum_tally(&a->free_unsorted, &part[0].arena[i][HC_CHUNK_STATE_COUNT], &part[1].arena[i][HC_CHUNK_STATE_COUNT]);
		sum_tally(&a->free_small, &part[0].arena[i][HC_CHUNK_STATE_COUNT + 1], &part[1].arena[i][HC_CHUNK_STATE_COUNT + 1]);
		sum_tally(&a->free_large, &part[0].arena[i][HC_CHUNK_STATE_COUNT + 2], &part[1].arena[i][HC_CHUNK_STATE_COUNT + 2]);
	}
	free(part[0].arena);
	free(part[1].arena);
}

static void check_arena_totals(struct walk *w)
{
	struct hc_glibc_heap *h = w->h;
	for (uint32_t i = 0; i < h->narenas; i++) {
		struct hc_glibc_arena *a = &h->arenas[i];
		uint64_t walked = a->overhead_bytes + a->fenceposts.bytes + a->unwalked_bytes;
		for (int s = 0; s < HC_CHUNK_STATE_COUNT; s++)
			walked += a->tally[s].bytes;
		if (a->nheaps && walked != a->system_mem)
			hc_warnings_add(&w->t->warnings, HC_WARN_INFO,
					"arena 0x%llx: walked %llu bytes, its system_mem says %llu",
					(unsigned long long)a->address, (unsigned long long)walked,
					(unsigned long long)a->system_mem);
	}
}

/* Adds the arena at address (0: the main arena of a headless walk) to the table; its index, or UINT32_MAX. */
static uint32_t new_arena(struct walk *w, uint64_t address, bool is_main, const uint8_t *ms)
{
	struct hc_glibc_heap *h = w->h;
	struct hc_glibc_arena *arr = realloc(h->arenas, (h->narenas + 1) * sizeof(*arr));
	if (!arr) {
		w->oom = true;
		return UINT32_MAX;
	}
	h->arenas = arr;
	uint32_t idx = h->narenas++;
	struct hc_glibc_arena *a = &h->arenas[idx];
	memset(a, 0, sizeof(*a));
	a->address = address;
	a->is_main = is_main;
	a->system_mem = ms ? ms_field(ms, w->L->ms_system_mem) : 0;
	return idx;
}

/* One arena whose malloc_state ms was read from arena: its free lists, then its heaps. */
static void walk_arena(struct walk *w, uint64_t arena, const uint8_t *ms, bool is_main)
{
	const struct hc_glibc_layout *L = w->L;
	uint32_t idx = new_arena(w, arena, is_main, ms);
	if (idx == UINT32_MAX)
		return;
	collect_lists(w, arena, ms);
	/* marks stay sorted per arena for the walk's lookups */
	if (w->nmarks)
		qsort(w->marks, w->nmarks, sizeof(*w->marks), compare_marks);

	uint64_t top = ms_field(ms, L->ms_top);
	uint64_t initial_top = arena + L->ms_bins - 16;
	if (top == initial_top || top == 0) {
		/* an arena that never allocated has no heap */
	} else if (top & 15) {
		corruption(w, arena, "top 0x%llx is misaligned", (unsigned long long)top);
	} else if (is_main) {
		walk_main_heap(w, idx, top);
	} else {
		walk_thread_heaps(w, idx, arena, top);
	}
}

static struct hc_error *walk_arenas(struct walk *w)
{
	const struct hc_glibc_layout *L = w->L;
	struct hc_glibc_heap *h = w->h;
	uint64_t arena = h->location.main_arena;
	uint8_t ms[4096];
	if (L->ms_size > sizeof(ms))
		return hc_error_create(HC_ERR_INTERNAL, "malloc_state layout larger than expected");
	for (unsigned n = 0; n < MAX_ARENAS; n++) {
		if (hc_target_read(w->t, arena, ms, L->ms_size) != HC_READ_OK) {
			if (n == 0)
				return hc_error_create(HC_ERR_DAMAGED, "main_arena at 0x%llx is not in the core",
						       (unsigned long long)arena);
			corruption(w, arena, "arena is not in the core; the arena list ends here");
			w->arena_list_broken = true;
			return NULL;
		}
		walk_arena(w, arena, ms, n == 0);
		if (w->oom)
			return &hc_error_nomem;

		uint64_t next = ms_field(ms, L->ms_next);
		if (next == h->location.main_arena)
			return NULL;
		for (uint32_t j = 0; j < h->narenas; j++) {
			if (h->arenas[j].address == next) {
				corruption(w, arena, "arena list loops back to 0x%llx, not main_arena",
					   (unsigned long long)next);
				w->arena_list_broken = true;
				return NULL;
			}
		}
		if (!next || (next & 7)) {
			corruption(w, arena, "arena's next pointer 0x%llx is invalid", (unsigned long long)next);
			w->arena_list_broken = true;
			return NULL;
		}
		arena = next;
	}
	corruption(w, h->location.main_arena, "more than %d arenas; the rest are not walked", MAX_ARENAS);
	return NULL;
}

/*
 * Thread arenas not yet walked, found by their heaps: the malloc_state
 * right after the heap_info that starts a HEAP_MAX-aligned anonymous
 * mapping and points to it. For when the next ring cannot be followed.
 */
static void find_arenas_by_heap(struct walk *w)
{
	const struct hc_glibc_layout *L = w->L;
	const struct hc_target *t = w->t;
	uint8_t ms[4096];
	if (L->ms_size > sizeof(ms))
		return;
	for (uint32_t i = 0; i < t->nsegments && !w->oom && w->h->narenas < MAX_ARENAS; i++) {
		const struct hc_segment *seg = &t->segments[i];
		uint64_t ar_ptr, arena = seg->start + L->heap_info_size;
		if (seg->file >= 0 || !(seg->perms & HC_PERM_W) || (seg->start & (L->heap_max_size - 1)) ||
		    !rd(w, seg->start, &ar_ptr) || ar_ptr != arena ||
		    hc_target_read(t, arena, ms, L->ms_size) != HC_READ_OK)
			continue;
		bool known = false;
		for (uint32_t j = 0; j < w->h->narenas && !known; j++)
			known = w->h->arenas[j].address == arena;
		if (!known) {
			if (!w->headless)
				hc_warnings_add(&w->t->warnings, HC_WARN_PARTIAL,
						"arena 0x%llx is off the broken arena list; found by its heap",
						(unsigned long long)arena);
			walk_arena(w, arena, ms, false);
		}
	}
}

/*
 * Without main_arena (hc_glibc_location.headless): the main heap from its
 * first chunk to its mapping's end, with no bins; then every thread arena
 * by its heap.
 */
static struct hc_error *walk_headless(struct walk *w)
{
	const struct hc_target *t = w->t;
	const struct hc_segment *main_seg = hc_target_segment(t, w->h->location.main_heap);
	if (!main_seg)
		return hc_error_create(HC_ERR_INTERNAL, "headless walk: the main heap is not in the core");
	uint32_t idx = new_arena(w, 0, true, NULL);
	if (idx == UINT32_MAX)
		return &hc_error_nomem;
	if (push_heap_range(w, &w->h->arenas[idx], main_seg->start, main_seg->end, main_seg->start))
		walk_heap(w, idx, main_seg->start, main_seg->end, 0, true);
	find_arenas_by_heap(w);
	return w->oom ? &hc_error_nomem : NULL;
}

static uint64_t core_bytes(const struct hc_target *t)
{
	uint64_t n = 0;
	for (uint32_t i = 0; i < t->nsegments; i++)
		n += t->segments[i].dumped;
	return n;
}

/* libc's DWARF verdict on the layout the walk reads with (hc_glibc_dwarf_verdict), taken beside it. */
struct dwarf_job {
	struct hc_symbols *s;
	const struct hc_module *libc;
	const struct hc_glibc_layout *layout;
	int verdict;
};

static void *dwarf_run(void *arg)
{
	struct dwarf_job *j = arg;
	j->verdict = hc_glibc_dwarf_verdict(j->s, j->libc, j->layout);
	return NULL;
}

/*
 * Locates the arenas and walks them. With `speculate`, libc's DWARF (whose
 * loading takes longer than locating) judges the layout on another thread
 * while the walk reads with it; in the rare case it disagrees, all of it
 * is undone (warnings included) and done again with the layout the DWARF
 * picks. Only a version's own layout is judged so: any other was chosen
 * after the DWARF's first choice failed, as hc_glibc_locate would.
 */
static struct hc_error *locate_and_walk(struct hc_target *t, struct hc_symbols *s,
					const struct hc_glibc_walk_options *opts, bool speculate,
					struct hc_glibc_heap **out)
{
	*out = NULL;
	struct hc_glibc_heap *h = calloc(1, sizeof(*h));
	if (!h)
		return &hc_error_nomem;
	enum hc_arena_method method = opts ? opts->method : HC_ARENA_METHOD_AUTO;
	struct hc_warnings_mark mark = hc_warnings_mark(&t->warnings);
	struct hc_error *err = hc_glibc_locate_opts(t, s, method, !speculate, &h->location);
	if (!err && speculate && !h->location.version_known) {
		hc_warnings_rewind(&t->warnings, mark);
		speculate = false;
		err = hc_glibc_locate_opts(t, s, method, true, &h->location);
	}
	if (err) {
		free(h);
		return err;
	}
	struct dwarf_job dj = { s, h->location.libc, h->location.layout, -1 };
	pthread_t th;
	speculate = speculate && !h->location.headless;
	bool checking = speculate && pthread_create(&th, NULL, dwarf_run, &dj) == 0;
	if (speculate && !checking) {
		dwarf_run(&dj);
		if (dj.verdict == 0) {
			hc_glibc_heap_destroy(h);
			hc_warnings_rewind(&t->warnings, mark);
			return locate_and_walk(t, s, opts, false, out);
		}
	}
	struct walk w = { .t = t, .h = h, .L = h->location.layout };
	w.max_list = core_bytes(t) / MINSIZE + 1;
	w.chunks_hint = w.max_list < 4096 ? 4096 : w.max_list > (1u << 28) ? (1u << 28) : (uint32_t)w.max_list;
	bool own_populator = !opts || !opts->populator;
	w.populator = own_populator ? hc_populator_start() : opts->populator;
	w.pool_bytes_per_chunk = opts ? opts->pool_bytes_per_chunk : 0;
	w.headless = h->location.headless;
	err = w.headless ? walk_headless(&w) : walk_arenas(&w);
	if (!err && w.arena_list_broken)
		find_arenas_by_heap(&w);
	if (!err && w.oom)
		err = &hc_error_nomem;
	if (!err)
		find_mmapped_chunks(&w);
	/* a shared populator goes on with what is queued: the chunk table no longer moves */
	if (own_populator)
		hc_populator_stop(w.populator);
	w.populator = NULL;
	if (checking)
		pthread_join(th, NULL);
	if (checking && dj.verdict == 0) {
		/* libc's DWARF disagrees with the layout all of this was read with */
		free(w.marks);
		free(w.chunk_kind);
		free(w.run_start);
		hc_glibc_heap_destroy(h);
		hc_warnings_rewind(&t->warnings, mark);
		return locate_and_walk(t, s, opts, false, out);
	}
	if (!err) {
		sort_chunks(&w);
		index_extents(&w);
		uint64_t fill = 0;
		if (w.L->tcache_counts_free_slots && h->location.mp && w.L->mp_tcache_count >= 0)
			rd(&w, h->location.mp + w.L->mp_tcache_count, &fill);
		if (w.L->has_tcache)
			find_tcaches(&w, fill);
		for (uint32_t i = 0; i < h->ntcaches && !w.oom; i++)
			h->tcaches[i].count = (uint32_t)tcache_lists(&w, h->tcaches[i].address, fill, true);
		if (w.oom)
			err = &hc_error_nomem;
	}
	if (!err) {
		tally(&w);
		check_arena_totals(&w);
	}
	free(w.marks);
	free(w.chunk_kind);
	free(w.run_start);
	if (err) {
		hc_glibc_heap_destroy(h);
		return err;
	}
	*out = h;
	return NULL;
}

struct hc_error *hc_glibc_walk(struct hc_target *t, struct hc_symbols *s,
			       const struct hc_glibc_walk_options *opts, struct hc_glibc_heap **out)
{
	return locate_and_walk(t, s, opts, s && hc_thread_count(0, 2, 1) == 2, out);
}

void hc_glibc_heap_destroy(struct hc_glibc_heap *h)
{
	if (!h)
		return;
	for (uint32_t i = 0; i < h->narenas; i++)
		free(h->arenas[i].heaps);
	for (uint32_t i = 0; i < h->ncorruptions; i++)
		free(h->corruptions[i].message);
	free(h->corruptions);
	free(h->arenas);
	free(h->tcaches);
	free(h->chunk_addr);
	free(h->chunk_size32);
	free(h->chunk_state);
	free(h->big_chunks);
	free(h->extents);
	free(h);
}

int64_t hc_glibc_chunk_at_or_before(const struct hc_glibc_heap *h, uint64_t addr)
{
	uint32_t lo = 0, hi = h->nchunks;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (h->chunk_addr[mid] <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return (int64_t)lo - 1;
}

int64_t hc_glibc_chunk_containing(const struct hc_glibc_heap *h, uint64_t addr)
{
	int64_t i = hc_glibc_chunk_at_or_before(h, addr);
	/* mmapped chunks: the mapping may hold a memalign lead before the header; not part of the chunk */
	return i >= 0 && addr < h->chunk_addr[i] + hc_glibc_chunk_size(h, i) ? i : -1;
}
