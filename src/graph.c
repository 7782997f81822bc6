/*
 * The reference graph: nodes (in-use chunks), the address-to-node index,
 * the conservative scan of nodes and roots, the CSR edge arrays in both
 * directions, and owners. Root ranges come from roots.c.
 *
 * Each scanned word is looked up in graph_index.h's index: one 16-byte
 * entry says whether it points into a node, which one, and whether at its
 * start. Words are looked up in batches (the index entries prefetched while
 * the batch fills), so the cache misses of lookups into cold parts of the
 * heap overlap instead of queueing.
 *
 * The scan walks nodes in address order, within spans of dumped bytes
 * fetched once per run of nodes, so a node's targets are appended as it is
 * scanned and the out-CSR is built in the same pass (no edge list to sort).
 * With two threads, each starts with half the bytes and scans blocks of
 * nodes into its own buffers, taking from the other when it runs out
 * (scan_share.h); the runs of nodes each scanned are put in node order
 * afterwards. The node table and the in-CSR
 * (a counting sort of the out-CSR, whose counts the scan takes as it closes
 * each node, with atomic increments) are split between them too. Nothing
 * depends on the thread count.
 */
#include "heapcore/graph.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "address_ranges.h"
#include "graph_index.h"
#include "large_alloc.h"
#include "roots.h"
#include "scan_share.h"
#include "thread_pair.h"

#define NONE UINT32_MAX
#define CHUNK_HDR_SZ 16
/* below this many nodes a second thread costs more than it saves */
#define MIN_NODES_PER_THREAD 65536
/* unsymbolized data words of one module each name an owner, up to this many; then one owner for the rest */
#define MAX_SLOT_OWNERS_PER_MODULE 4096
#define PROGRESS_STEP (64ull << 20)
#define PROGRESS_PHASE "graph"

const char *hc_root_kind_name(enum hc_root_kind k)
{
	static const char *const names[] = { "register", "stack", "data", "tls", "other" };
	return (unsigned)k < HC_ROOT_KIND_COUNT ? names[k] : "unknown";
}

uint32_t hc_graph_node_at(const struct hc_graph *g, uint64_t addr)
{
	uint8_t interior;
	return g && g->index ? hc_index_lookup(g->index, addr, &interior) : NONE;
}

uint64_t hc_graph_node_bytes(const struct hc_graph *g, uint32_t node)
{
	const struct hc_glibc_heap *h = g->heap;
	uint32_t c = g->chunk[node];
	if (h->chunk_state[c] != HC_CHUNK_MMAPPED)
		return hc_glibc_chunk_size(h, c);
	/* as the walk's tally counts it: the whole mapping */
	uint64_t prev_size = 0;
	hc_target_read_u64(g->target, h->chunk_addr[c], &prev_size);
	const struct hc_glibc_layout *L = h->location.layout;
	return prev_size + hc_glibc_chunk_size(h, c) + (L && L->mmapped_size_excludes_header ? CHUNK_HDR_SZ : 0);
}

struct node_fill {
	struct hc_graph *g;
	const struct hc_glibc_heap *h;
	uint32_t c0, c1;             /* chunks read */
	uint32_t k0;                 /* the first node written */
};

static void *fill_nodes(void *arg)
{
	struct node_fill *f = arg;
	const struct hc_glibc_heap *h = f->h;
	struct hc_graph *g = f->g;
	uint32_t k = f->k0;
	for (uint32_t i = f->c0; i < f->c1; i++) {
		uint8_t st = h->chunk_state[i];
		if (st != HC_CHUNK_USED && st != HC_CHUNK_MMAPPED)
			continue;
		g->chunk[k] = i;
		k++;
	}
	return NULL;
}

/* The node table; its first writes (page faults, costly on VMs) split over the threads. */
static struct hc_error *nodes_build(struct hc_graph *g, const struct hc_glibc_heap *h, unsigned nthreads)
{
	uint32_t half = h->nchunks / 2, n0 = 0, n1 = 0;
	for (uint32_t i = 0; i < h->nchunks; i++) {
		bool node = h->chunk_state[i] == HC_CHUNK_USED || h->chunk_state[i] == HC_CHUNK_MMAPPED;
		*(i < half ? &n0 : &n1) += node;
	}
	uint32_t n = n0 + n1;
	size_t cnt = n ? n : 1;
	g->chunk = hc_alloc_large(cnt * sizeof(*g->chunk));
	g->root_kinds = hc_calloc_large(cnt, 1);
	if (!g->chunk || !g->root_kinds)
		return &hc_error_nomem;
	/* an mmapped chunk runs to its mapping's end, which 2.43 puts 16 bytes further (its size excludes the header) */
	const struct hc_glibc_layout *L = h->location.layout;
	g->mmapped_hdr = L && L->mmapped_size_excludes_header ? 0 : CHUNK_HDR_SZ;
	struct node_fill f[2] = { { g, h, 0, half, 0 }, { g, h, half, h->nchunks, n0 } };
	hc_run_pair(nthreads, fill_nodes, &f[0], &f[1]);
	g->nnodes = n;
	return NULL;
}

/* ---- the scan ---- */

struct edges {
	uint32_t *to;
	uint8_t *flags;
	uint16_t *slot;
	uint64_t n, cap;
};

/* Moves an edge array to a block of cap entries from hc_alloc_large; NULL (p kept) if there is none. */
static void *edges_move(void *p, uint64_t n, uint64_t old_cap, uint64_t cap, size_t elem)
{
	void *q = hc_alloc_large(cap * elem);
	if (q) {
		if (n)
			memcpy(q, p, n * elem);
		hc_free_large(p, old_cap * elem);
	}
	return q;
}

/*
 * Room for more edges. The first buffers come from hc_alloc_large: the
 * pool's pages are in already (the populator filled them during the walk),
 * where fresh buffers cost the scan a populate before it starts. Buffers
 * grow by moving to a bigger block, or, once out of the pool, by realloc
 * (an mremap for glibc's mmapped blocks, not a copy).
 */
static bool edges_reserve(struct edges *e, uint64_t more)
{
	if (e->n + more <= e->cap)
		return true;
	uint64_t cap = e->cap ? e->cap + e->cap / 2 : 4096;
	if (cap < e->n + more)
		cap = e->n + more;
	if (!e->cap || hc_pool_owns(e->to)) {
		uint32_t *to = edges_move(e->to, e->n, e->cap, cap, sizeof(*to));
		if (!to)
			return false;
		e->to = to;
		uint8_t *f = edges_move(e->flags, e->n, e->cap, cap, 1);
		if (!f)
			return false;
		e->flags = f;
		uint16_t *sl = edges_move(e->slot, e->n, e->cap, cap, sizeof(*sl));
		if (!sl)
			return false;
		e->slot = sl;
		e->cap = cap;
		return true;
	}
	uint32_t *to = realloc(e->to, cap * sizeof(*to));
	if (!to)
		return false;
	e->to = to;
	uint8_t *f = realloc(e->flags, cap);
	if (!f)
		return false;
	e->flags = f;
	uint16_t *sl = realloc(e->slot, cap * sizeof(*sl));
	if (!sl)
		return false;
	e->slot = sl;
	/* the new part is written soon: its pages at once (large_alloc.h) */
	hc_populate(e->to + e->cap, (cap - e->cap) * sizeof(*to));
	hc_populate(e->flags + e->cap, cap - e->cap);
	hc_populate(e->slot + e->cap, (cap - e->cap) * sizeof(*sl));
	e->cap = cap;
	return true;
}

static void edges_free(struct edges *e)
{
	hc_free_large(e->to, e->cap * sizeof(*e->to));
	hc_free_large(e->flags, e->cap);
	hc_free_large(e->slot, e->cap * sizeof(*e->slot));
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return (x > y) - (x < y);
}

/* Sorts m keys below 2^bits in 10-bit passes, tmp as big as a; the result is back in a. */
static void radix_sort(uint64_t *a, uint64_t *tmp, uint64_t m, unsigned bits)
{
	uint64_t count[1024], *src = a, *dst = tmp;
	for (unsigned sh = 0; sh < bits; sh += 10) {
		memset(count, 0, sizeof(count));
		for (uint64_t i = 0; i < m; i++)
			count[(src[i] >> sh) & 1023]++;
		uint64_t pos = 0;
		for (unsigned d = 0; d < 1024; d++) {
			uint64_t c = count[d];
			count[d] = pos;
			pos += c;
		}
		for (uint64_t i = 0; i < m; i++)
			dst[count[(src[i] >> sh) & 1023]++] = src[i];
		uint64_t *x = src;
		src = dst;
		dst = x;
	}
	if (src != a)
		memcpy(a, src, m * sizeof(*a));
}

/* An edge's sort key: by target, then a pointer at the start before interior ones, then the lowest word. */
#define KEY_SLOT_BITS 16
#define KEY_BITS (32 + 1 + KEY_SLOT_BITS)

static uint64_t edge_key(uint32_t to, uint8_t flags, uint16_t slot)
{
	return (uint64_t)to << (KEY_SLOT_BITS + 1) | (uint64_t)(flags & HC_EDGE_INTERIOR) << KEY_SLOT_BITS | slot;
}

/*
 * Makes to[b..n) distinct by target, sorted; a target keeps the interior
 * flag only if every word into it was interior, and the slot of the first
 * word pointing at its start (of the first word into it if none does).
 * slot may be NULL (owners' edges). scratch holds at least 2 * (n - b).
 */
static uint64_t dedupe(uint32_t *to, uint8_t *flags, uint16_t *slot, uint64_t b, uint64_t n, uint64_t *scratch)
{
	uint64_t m = n - b;
	if (m < 2)
		return n;
	bool ascending = true;
	for (uint64_t i = 0; i < m; i++) {
		scratch[i] = edge_key(to[b + i], flags[b + i], slot ? slot[b + i] : 0);
		ascending &= !i || scratch[i - 1] <= scratch[i];
	}
	if (ascending) {
		/* arrays of pointers to objects allocated in order: already sorted */
	} else if (m <= 32) {
		for (uint64_t i = 1; i < m; i++)
			for (uint64_t j = i; j > 0 && scratch[j - 1] > scratch[j]; j--) {
				uint64_t x = scratch[j];
				scratch[j] = scratch[j - 1];
				scratch[j - 1] = x;
			}
	} else if (m <= 1024) {
		qsort(scratch, m, sizeof(*scratch), cmp_u64);
	} else {
		/* a big array of pointers in no order (a hash table's buckets) */
		radix_sort(scratch, scratch + m, m, KEY_BITS);
	}
	uint64_t w = b;
	for (uint64_t i = 0; i < m; i++) {
		uint32_t t = (uint32_t)(scratch[i] >> (KEY_SLOT_BITS + 1));
		/* equal targets sort with the pointer at the start first: the first one decides */
		if (i && t == (uint32_t)(scratch[i - 1] >> (KEY_SLOT_BITS + 1)))
			continue;
		to[w] = t;
		flags[w] = (uint8_t)(scratch[i] >> KEY_SLOT_BITS) & HC_EDGE_INTERIOR;
		if (slot)
			slot[w] = (uint16_t)scratch[i];
		w++;
	}
	return w;
}

/*
 * Candidates of a batch: words that fall into an index block, waiting for
 * the block to reach the cache. Resolving a few hundred at a time, their
 * prefetches issued as the batch fills, overlaps the cache misses that
 * one-at-a-time lookups into cold parts of the heap would pay in turn.
 */
#define BATCH_FLUSH 256          /* resolve once this many candidates wait, after a node */
#define BATCH_CAP 1024           /* a node with more is resolved in parts */

struct pending {
	uint32_t src;                /* the node the candidates came from */
	uint32_t end;                /* its candidates end here in the batch */
	bool last;                   /* its scan is done: count and dedupe its edges */
};

/* One per scanning thread; aligned to cache lines so that the two never share one. */
struct __attribute__((aligned(64))) scanner {
	const struct hc_graph *g;
	const struct hc_target *t;
	struct hc_scan_share *share;
	unsigned self;               /* this thread's range in share */
	struct hc_scan_segment *seg; /* in the order scanned */
	uint32_t nseg, seg_cap;
	uint32_t *counts;            /* counts[n + 1] = out-degree of n (g->out_start) */
	uint32_t *in_counts;         /* in_counts[n + 2] = in-degree of n (g->in_start), shared by both threads */
	struct edges e;
	uint64_t *scratch;
	uint64_t scratch_cap;
	uint64_t done;               /* bytes scanned, read by the progress reporter */
	bool oom;
	/* the batch */
	uint64_t *cand_v;            /* the word */
	uint16_t *cand_w;            /* its slot in its node (HC_SLOT_FAR past the last one that fits) */
	const struct hc_index_block **cand_b; /* its index block, prefetched */
	uint32_t ncand;
	struct pending *pend;
	uint32_t npend;
	uint32_t open_src;           /* the node whose edges are being appended, NONE between nodes */
	uint64_t open_base;          /* where they began in e */
	/* the calling thread's scanner reports progress for both */
	void (*progress)(const char *phase, uint64_t done, uint64_t total, void *arg);
	void *progress_arg;
	const struct scanner *peer;
	uint64_t total, next_report;
	struct hc_release_cursor release; /* the core's pages behind the scan go */
	/* nodes whose first word points into a module (C++ objects' vptrs among them), in order */
	const struct hc_ranges *modules;
	uint32_t *word0, nword0, word0_cap;
};

static void report(struct scanner *s, uint64_t extra)
{
	uint64_t d = s->done + extra + (s->peer ? __atomic_load_n(&s->peer->done, __ATOMIC_RELAXED) : 0);
	if (d < s->next_report)
		return;
	s->progress(PROGRESS_PHASE, d, s->total, s->progress_arg);
	s->next_report = d + PROGRESS_STEP;
}

static bool scratch_reserve(struct scanner *s, uint64_t n)
{
	if (n <= s->scratch_cap)
		return true;
	uint64_t cap = n > 2 * s->scratch_cap ? n : 2 * s->scratch_cap;
	uint64_t *p = realloc(s->scratch, cap * sizeof(*p));
	if (!p)
		return false;
	s->scratch = p;
	s->scratch_cap = cap;
	return true;
}

/* Resolves every waiting candidate into edges, in order, and closes the nodes that are done. */
static void flush(struct scanner *s)
{
	if (!edges_reserve(&s->e, s->ncand)) {
		s->oom = true;
		return;
	}
	uint32_t *to = s->e.to;
	uint8_t *fl = s->e.flags;
	uint16_t *sl = s->e.slot;
	/*
	 * Every candidate resolved first, its target's in-degree counter asked
	 * for: the counters are bumped with atomic adds when the node closes,
	 * and a locked add that misses the cache holds up everything after it
	 * (0.1 s of the graph's time on the benchmark core). cand_v then holds
	 * the node found (NONE for none) and, in bit 32, whether inside it.
	 */
	for (uint32_t k = 0; k < s->ncand; k++) {
		uint8_t interior = 0;
		uint32_t n = hc_index_resolve(s->cand_b[k], s->cand_v[k], &interior);
		if (n != NONE)
			__builtin_prefetch(&s->in_counts[n + 2], 1);
		s->cand_v[k] = n | (uint64_t)(interior != 0) << 32;
	}
	uint32_t i = 0;
	for (uint32_t p = 0; p < s->npend; p++) {
		const struct pending *pd = &s->pend[p];
		if (s->open_src != pd->src) {
			s->open_src = pd->src;
			s->open_base = s->e.n;
		}
		uint64_t ne = s->e.n;
		for (; i < pd->end; i++) {
			uint32_t n = (uint32_t)s->cand_v[i];
			bool interior = s->cand_v[i] >> 32;
			if (n == NONE)
				continue;
			/* a pointer into any node (its own included) is a "p" in the shape signature */
			if (s->cand_w[i] < HC_SIG_WORDS) {
				unsigned sh = 3u * s->cand_w[i];
				uint32_t *code = &s->g->sig_code[pd->src];
				*code = (*code & ~(7u << sh)) | (uint32_t)HC_WORD_POINTER << sh;
			}
			if (n == pd->src)
				continue;
			to[ne] = n;
			fl[ne] = interior ? HC_EDGE_INTERIOR : 0;
			sl[ne] = s->cand_w[i];
			ne++;
		}
		s->e.n = ne;
		if (!pd->last)
			continue;
		uint64_t m = ne - s->open_base;
		if (m > 1) {
			if (!scratch_reserve(s, 2 * m)) {
				s->oom = true;
				return;
			}
			s->e.n = dedupe(to, fl, sl, s->open_base, ne, s->scratch);
		}
		s->counts[pd->src + 1] = (uint32_t)(s->e.n - s->open_base);
		/* the in-CSR's counts, two ahead (in_csr()): its targets are in the cache now, not in a later pass */
		for (uint64_t k = s->open_base; k < s->e.n; k++)
			__atomic_fetch_add(&s->in_counts[to[k] + 2], 1, __ATOMIC_RELAXED);
		s->open_src = NONE;
	}
	s->ncand = 0;
	s->npend = 0;
}

static void pend(struct scanner *s, uint32_t src, bool last)
{
	s->pend[s->npend++] = (struct pending){ src, s->ncand, last };
}

/* The letter of a word in the shape signature, but HC_WORD_POINTER: flush() sets that once a lookup finds a node. */
static unsigned sig_letter(const struct scanner *s, uint64_t v, bool in_index)
{
	if (!in_index && hc_ranges_has(s->modules, v))
		return HC_WORD_MODULE;
	return hc_word_letter_of_value(v);
}

/* Lists node n among those whose first word points into a module (g->word0_module). */
static void note_word0(struct scanner *s, uint32_t n)
{
	if (s->nword0 == s->word0_cap) {
		uint32_t cap = s->word0_cap ? s->word0_cap * 2 : 1024;
		uint32_t *w = realloc(s->word0, cap * sizeof(*w));
		if (!w) {
			s->oom = true;
			return;
		}
		s->word0 = w;
		s->word0_cap = cap;
	}
	s->word0[s->nword0++] = n;
}

/* HC_WORD_UNREAD in each of the HC_SIG_WORDS letters of a shape code */
#define UNREAD_LETTERS (HC_WORD_UNREAD * 011111111u)
_Static_assert(HC_SIG_WORDS == 8 && HC_WORD_UNREAD < 8, "UNREAD_LETTERS has eight 3-bit letters");

/*
 * Queues word v (word `slot` of node n), which falls in index block bk, and
 * asks for the block. False when that filled the batch and it was resolved
 * (flush(), which may upgrade n's shape letters in memory).
 */
static inline bool queue_word(struct scanner *s, uint32_t n, const struct hc_index_block *bk, uint64_t v, uint64_t slot,
			      bool *queued)
{
	__builtin_prefetch(bk);
	s->cand_v[s->ncand] = v;
	s->cand_w[s->ncand] = slot < HC_SLOT_FAR ? (uint16_t)slot : HC_SLOT_FAR;
	s->cand_b[s->ncand] = bk;
	*queued = true;
	if (++s->ncand < BATCH_CAP)
		return true;
	pend(s, n, false);
	flush(s);
	return false;
}

/*
 * Queues the words of node n (size bytes at a) that may point into a node,
 * fetching spans as the node crosses them (a node lies in one mapping, but
 * a core may hold only part of it). On the way it notes the shape letters
 * of the first words (g->sig_code) and whether the first points into a
 * module. Returns whether any word was queued.
 */
static bool scan_node(struct scanner *s, struct hc_span *span, uint32_t n, uint64_t a, uint64_t size)
{
	const struct hc_graph_index *ix = s->g->index;
	uint64_t end = a + size, base = a;
	bool queued = false;
	/* the shape letters of the first words, unread until read */
	uint64_t words = size / 8 < HC_SIG_WORDS ? size / 8 : HC_SIG_WORDS, sig_end = a + 8 * words;
	uint32_t code = UNREAD_LETTERS & ((1u << (3 * words)) - 1), *sig = &s->g->sig_code[n];
	/* in a register and in memory, where flush() may upgrade letters to pointers */
	*sig = code;
	while (a + 8 <= end) {
		if (!hc_span_contains(span, a, 8)) {
			hc_target_span(s->t, a, UINT64_MAX, span);
			if (!hc_span_contains(span, a, 8))
				break; /* not in the core past here: nothing more to read */
		}
		/* the span holds [a, stop): its words are read unchecked (hc_span_u64_within) */
		uint64_t stop = span->addr + span->len < end ? span->addr + span->len : end;
		/* the first words, whose shape letters are taken too */
		for (; a + 8 <= stop && a < sig_end; a += 8) {
			uint64_t v = hc_span_u64_within(span, a);
			const struct hc_index_block *bk = hc_index_block_of(ix, v);
			unsigned sh = (unsigned)(3 * ((a - base) / 8)), letter = sig_letter(s, v, bk != NULL);
			code = (code & ~(7u << sh)) | letter << sh;
			*sig = code;
			/* a vtable pointer, perhaps: types read these nodes' first words again */
			if (a == base && letter == HC_WORD_MODULE)
				note_word0(s, n);
			if (bk && !queue_word(s, n, bk, v, (a - base) / 8, &queued)) {
				/* the batch was resolved: flush() may have upgraded the letters in memory */
				code = *sig;
				if (s->oom)
					return queued;
			}
		}
		/* the rest: only whether each word points into a node */
		for (; a + 8 <= stop; a += 8) {
			uint64_t v = hc_span_u64_within(span, a);
			const struct hc_index_block *bk = hc_index_block_of(ix, v);
			if (bk && !queue_word(s, n, bk, v, (a - base) / 8, &queued) && s->oom)
				return queued;
		}
	}
	/* the core ended before the first words did: what was read */
	if (a < sig_end)
		*sig = code;
	return queued;
}

/*
 * How far ahead of the node it is on a scanning thread asks for the core's
 * bytes, once a node: as for the walk (glibc_walk.c), the CPU's own
 * prefetcher follows a read that crosses pages poorly (graph 0.97 -> 0.81 s,
 * means of 8 on a busy VM).
 */
#define SCAN_AHEAD 2048

static bool new_segment(struct scanner *s, uint32_t n0)
{
	if (s->nseg == s->seg_cap) {
		uint32_t cap = s->seg_cap ? 2 * s->seg_cap : 8;
		struct hc_scan_segment *seg = realloc(s->seg, cap * sizeof(*seg));
		if (!seg)
			return false;
		s->seg = seg;
		s->seg_cap = cap;
	}
	s->seg[s->nseg++] = (struct hc_scan_segment){ n0, n0, s->e.n };
	return true;
}

static void scan_nodes(struct scanner *s)
{
	struct hc_span span = { 0, 0, NULL };
	uint64_t done = 0;
	uint32_t b0, b1;
	s->open_src = NONE;
	while (!s->oom && hc_scan_share_claim(s->share, s->self, s->nseg ? s->seg[s->nseg - 1].n1 : 0, &b0, &b1)) {
		if (!s->nseg || s->seg[s->nseg - 1].n1 != b0) {
			/* the edges waiting belong to the segment before: they go first */
			flush(s);
			if (s->oom || !new_segment(s, b0)) {
				s->oom = true;
				break;
			}
			/* a jump forward must not let go of the pages between */
			s->release.from = 0;
		}
		for (uint32_t n = b0; n < b1 && !s->oom; n++) {
			uint64_t addr = hc_graph_node_addr(s->g, n), size = hc_graph_node_size(s->g, n);
			hc_span_prefetch(&span, addr + SCAN_AHEAD);
			/* a node resolved in parts is still open: its last part closes it, queued words or not */
			if (scan_node(s, &span, n, addr, size) || s->open_src == n)
				pend(s, n, true);
			if (s->ncand >= BATCH_FLUSH || s->npend == BATCH_CAP)
				flush(s);
			done += size;
			if (!(n & 0xfff)) {
				hc_release_cursor_advance(&s->release, addr);
				__atomic_store_n(&s->done, done, __ATOMIC_RELAXED);
				if (s->progress)
					report(s, 0);
			}
		}
		s->seg[s->nseg - 1].n1 = b1;
	}
	if (!s->oom)
		flush(s);
	__atomic_store_n(&s->done, done, __ATOMIC_RELAXED);
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return (x > y) - (x < y);
}

/* Moves len edges from src at position from to dst at position to (the two may be one buffer). */
static void move_edges(struct edges *dst, uint64_t to, const struct edges *src, uint64_t from, uint64_t len)
{
	memmove(dst->to + to, src->to + from, len * sizeof(*dst->to));
	memmove(dst->flags + to, src->flags + from, len);
	memmove(dst->slot + to, src->slot + from, len * sizeof(*dst->slot));
}

/*
 * Puts both threads' edges in node order in sc[0]'s buffers, grown to hold
 * them all. sc[0]'s segments are in node order in its buffers
 * (scan_share.h), so each moves up to its place, last first (never onto
 * one not yet moved), and sc[1]'s, in any order, are copied into the gaps.
 */
static struct hc_error *merge_edges(struct scanner *sc, uint32_t nnodes)
{
	struct edges *e0 = &sc[0].e, *e1 = &sc[1].e;
	uint64_t ne = e0->n + e1->n;
	uint32_t ns = sc[0].nseg + sc[1].nseg, k = 0;
	struct placed {
		struct hc_scan_segment s;
		unsigned thread;
		uint64_t len, dest;
	} *p = malloc((ns ? ns : 1) * sizeof(*p));
	if (!p || !edges_reserve(e0, e1->n)) {
		free(p);
		return &hc_error_nomem;
	}
	bool ordered = true;
	for (unsigned t = 0; t < 2; t++)
		for (uint32_t i = 0; i < sc[t].nseg; i++) {
			uint64_t end = i + 1 < sc[t].nseg ? sc[t].seg[i + 1].e0 : sc[t].e.n;
			p[k++] = (struct placed){ sc[t].seg[i], t, end - sc[t].seg[i].e0, 0 };
			ordered &= t == 1 || !i || sc[t].seg[i - 1].n1 <= sc[t].seg[i].n0;
		}
	/* few segments: an insertion sort by first node, then each one's place in the result */
	for (uint32_t i = 1; i < ns; i++)
		for (uint32_t j = i; j > 0 && p[j - 1].s.n0 > p[j].s.n0; j--) {
			struct placed x = p[j];
			p[j] = p[j - 1];
			p[j - 1] = x;
		}
	uint64_t at = 0;
	uint32_t covered = 0;
	for (uint32_t i = 0; i < ns && p[i].s.n0 == covered; i++) {
		covered = p[i].s.n1;
		p[i].dest = at;
		at += p[i].len;
	}
	/* cannot happen (scan_share.c): the blocks tile the nodes, and thread 0's ascend */
	if (covered != nnodes || !ordered) {
		free(p);
		return hc_error_create(HC_ERR_INTERNAL, "graph: the scanned ranges do not tile the nodes in order");
	}
	for (uint32_t i = ns; i-- > 0;)
		if (p[i].thread == 0 && p[i].dest != p[i].s.e0)
			move_edges(e0, p[i].dest, e0, p[i].s.e0, p[i].len);
	for (uint32_t i = 0; i < ns; i++)
		if (p[i].thread == 1)
			move_edges(e0, p[i].dest, e1, p[i].s.e0, p[i].len);
	free(p);
	e0->n = ne;
	return NULL;
}

static void *scan_thread(void *arg)
{
	scan_nodes(arg);
	return NULL;
}

/* ---- roots and owners ---- */

struct root_edges {
	uint32_t *owner, *to;
	uint8_t *flags;
	uint64_t n, cap;
};

struct owner_state {
	struct hc_graph *g;
	struct hc_target *t;
	const struct hc_symbols *s;
	struct root_edges re;
	uint32_t owners_cap;
	uint32_t cur;                /* the owner of the last word that pointed somewhere, or NONE */
	uint32_t cur_symbol;         /* the last data owner made for a symbol, or NONE */
	uint32_t *slot_owners;       /* per module: unsymbolized slots given owners so far */
	uint32_t *module_rest;       /* per module: the owner for the rest, NONE until needed */
	bool oom;
};

static const char *base_name(const char *path)
{
	const char *b = path ? strrchr(path, '/') : NULL;
	return b && b[1] ? b + 1 : path ? path : "?";
}

static uint32_t new_owner(struct owner_state *os, uint32_t range, uint64_t start, uint64_t end, char *name)
{
	struct hc_graph *g = os->g;
	if (!name || g->nowners == NONE - 1) {
		free(name);
		os->oom = true;
		return NONE;
	}
	if (g->nowners == os->owners_cap) {
		uint32_t cap = os->owners_cap ? os->owners_cap * 2 : 64;
		struct hc_owner *o = realloc(g->owners, cap * sizeof(*o));
		if (!o) {
			free(name);
			os->oom = true;
			return NONE;
		}
		g->owners = o;
		os->owners_cap = cap;
	}
	g->owners[g->nowners] = (struct hc_owner){ g->roots[range].kind, range, start, end, name };
	return g->nowners++;
}

static char *owner_name(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *owner_name(const char *fmt, ...)
{
	char *s;
	va_list ap;
	va_start(ap, fmt);
	int n = vasprintf(&s, fmt, ap);
	va_end(ap);
	return n < 0 ? NULL : s;
}

/* The owner of a pointer word at addr in root range r. */
static uint32_t owner_for(struct owner_state *os, uint32_t r, uint64_t addr)
{
	struct hc_graph *g = os->g;
	const struct hc_root_range *rr = &g->roots[r];
	const struct hc_target *t = os->t;
	if (os->cur != NONE && rr->kind != HC_ROOT_DATA) {
		const struct hc_owner *o = &g->owners[os->cur];
		if (o->range == r && addr >= o->start && addr < o->end)
			return os->cur;
	}
	int32_t tid = rr->thread >= 0 ? t->threads[rr->thread].tid : 0;
	switch (rr->kind) {
	case HC_ROOT_REGISTER:
		return new_owner(os, r, rr->start, rr->end, owner_name("thread %d registers", tid));
	case HC_ROOT_STACK:
		return new_owner(os, r, rr->start, rr->end, owner_name("thread %d stack", tid));
	case HC_ROOT_TLS:
		return new_owner(os, r, rr->start, rr->end, owner_name("thread %d TLS", tid));
	case HC_ROOT_OTHER: {
		/* one owner per mapping, even when carving split it into several ranges */
		const struct hc_segment *seg = hc_target_segment(t, addr);
		uint64_t s0 = seg ? seg->start : rr->start, e0 = seg ? seg->end : rr->end;
		if (os->cur != NONE && g->owners[os->cur].kind == HC_ROOT_OTHER && g->owners[os->cur].start == s0)
			return os->cur;
		const char *path = seg && seg->file >= 0 && (uint32_t)seg->file < t->nfiles ? t->files[seg->file].path
										       : NULL;
		return new_owner(os, r, s0, e0,
				 path ? owner_name("mapping %s 0x%llx-0x%llx", path, (unsigned long long)s0,
						   (unsigned long long)e0)
				      : owner_name("mapping 0x%llx-0x%llx", (unsigned long long)s0,
						   (unsigned long long)e0));
	}
	case HC_ROOT_DATA:
	default:
		break;
	}
	/* words are met in address order, so a variable's words come one after another */
	if (os->cur_symbol != NONE && addr >= g->owners[os->cur_symbol].start &&
	    addr < g->owners[os->cur_symbol].end)
		return os->cur_symbol;
	const struct hc_module *m = rr->module >= 0 && os->s ? &os->s->modules[rr->module] : NULL;
	struct hc_symbol sym;
	if (os->s && hc_symbols_symbol_at(os->s, addr, &sym) && addr - sym.address < sym.size) {
		uint32_t o = new_owner(os, r, sym.address, sym.address + sym.size, owner_name("%s", sym.name));
		os->cur_symbol = o;
		return o;
	}
	uint32_t mi = rr->module >= 0 ? (uint32_t)rr->module : 0;
	if (m && os->slot_owners[mi] >= MAX_SLOT_OWNERS_PER_MODULE) {
		if (os->module_rest[mi] == NONE)
			os->module_rest[mi] = new_owner(os, r, m->start, m->end,
							owner_name("%s writable data", base_name(m->name)));
		return os->module_rest[mi];
	}
	if (m)
		os->slot_owners[mi]++;
	char buf[512];
	if (os->s && hc_symbols_describe(os->s, addr, buf, sizeof(buf)))
		return new_owner(os, r, addr & ~7ull, (addr & ~7ull) + 8, owner_name("%s", buf));
	return new_owner(os, r, addr & ~7ull, (addr & ~7ull) + 8, owner_name("0x%llx", (unsigned long long)addr));
}

static void root_edge(struct owner_state *os, uint32_t owner, uint32_t to, uint8_t flags)
{
	struct root_edges *re = &os->re;
	if (re->n == re->cap) {
		uint64_t cap = re->cap ? re->cap * 2 : 1024;
		uint32_t *o = realloc(re->owner, cap * sizeof(*o));
		if (o)
			re->owner = o;
		uint32_t *t = realloc(re->to, cap * sizeof(*t));
		if (t)
			re->to = t;
		uint8_t *f = realloc(re->flags, cap);
		if (f)
			re->flags = f;
		if (!o || !t || !f) {
			os->oom = true;
			return;
		}
		re->cap = cap;
	}
	re->owner[re->n] = owner;
	re->to[re->n] = to;
	re->flags[re->n] = flags;
	re->n++;
}

/* A word of root range r at addr holds v. */
static void root_word(struct owner_state *os, uint32_t r, uint64_t addr, uint64_t v)
{
	struct hc_graph *g = os->g;
	uint8_t interior;
	uint32_t m = hc_index_lookup(g->index, v, &interior);
	if (m == NONE)
		return;
	uint32_t o = owner_for(os, r, addr);
	if (o == NONE)
		return;
	os->cur = o;
	root_edge(os, o, m, interior ? HC_EDGE_INTERIOR : 0);
	g->root_kinds[m] |= (uint8_t)(1u << g->roots[r].kind);
}

/* Scans every root range; sc (the calling thread's scanner) reports progress. */
static void scan_roots(struct owner_state *os, struct scanner *sc)
{
	struct hc_graph *g = os->g;
	const struct hc_target *t = os->t;
	uint64_t rdone = 0;
	os->cur = os->cur_symbol = NONE;
	for (uint32_t r = 0; r < g->nroots && !os->oom; r++) {
		const struct hc_root_range *rr = &g->roots[r];
		if (!g->nnodes)
			break;
		if (rr->kind == HC_ROOT_REGISTER) {
			const struct hc_thread *th = &t->threads[rr->thread];
			for (uint32_t i = 0; i < th->nregs && i < HC_MAX_REGS; i++)
				root_word(os, r, i * 8, th->regs[i]);
			continue;
		}
		struct hc_span span = { 0, 0, NULL };
		uint64_t a = (rr->start + 7) & ~7ull;
		while (a + 8 <= rr->end && !os->oom) {
			if (!hc_span_contains(&span, a, 8)) {
				hc_target_span(t, a, rr->end - a, &span);
				if (!span.len || span.addr + span.len < a + 8) {
					/* not dumped from here: skip to the next segment */
					const struct hc_segment *seg = hc_target_segment(t, a);
					if (!seg || seg->end >= rr->end)
						break;
					a = (seg->end + 7) & ~7ull;
					continue;
				}
			}
			uint64_t v;
			if (!hc_span_u64(&span, a, &v))
				break;
			if (v - g->index->lo < g->index->span)
				root_word(os, r, a, v);
			a += 8;
			rdone += 8;
			if (sc->progress && !(rdone & 0xffff))
				report(sc, rdone);
		}
	}
}

/* Owner CSR from the (owner, node) pairs, each owner's targets distinct and sorted. */
static struct hc_error *owner_csr(struct owner_state *os)
{
	struct hc_graph *g = os->g;
	struct root_edges *re = &os->re;
	g->owner_out_start = calloc((size_t)g->nowners + 1, sizeof(*g->owner_out_start));
	g->owner_out = malloc((re->n ? re->n : 1) * sizeof(*g->owner_out));
	g->owner_out_flags = malloc(re->n ? re->n : 1);
	uint64_t *scratch = malloc((re->n ? 2 * re->n : 1) * sizeof(*scratch));
	if (!g->owner_out_start || !g->owner_out || !g->owner_out_flags || !scratch) {
		free(scratch);
		return &hc_error_nomem;
	}
	uint32_t *st = g->owner_out_start;
	for (uint64_t i = 0; i < re->n; i++)
		st[re->owner[i] + 1]++;
	for (uint32_t o = 0; o < g->nowners; o++)
		st[o + 1] += st[o];
	/* st[o] is now o's first slot; use it as the cursor, then shift back */
	for (uint64_t i = 0; i < re->n; i++) {
		uint32_t p = st[re->owner[i]]++;
		g->owner_out[p] = re->to[i];
		g->owner_out_flags[p] = re->flags[i];
	}
	memmove(st + 1, st, (size_t)g->nowners * sizeof(*st));
	st[0] = 0;
	/* then make each owner's list distinct, compacting in place */
	uint32_t w = 0;
	for (uint32_t o = 0; o < g->nowners; o++) {
		uint32_t b = st[o], e = st[o + 1];
		memmove(g->owner_out + w, g->owner_out + b, (size_t)(e - b) * sizeof(*g->owner_out));
		memmove(g->owner_out_flags + w, g->owner_out_flags + b, e - b);
		uint32_t ne = (uint32_t)dedupe(g->owner_out, g->owner_out_flags, NULL, w, w + (e - b), scratch);
		st[o] = w;
		w = ne;
	}
	st[g->nowners] = w;
	free(scratch);
	return NULL;
}

/* One thread's share of the in-CSR: the in-lists of targets [v0, v1). */
struct in_part {
	struct hc_graph *g;
	uint32_t v0, v1;
};

static void *in_part(void *arg)
{
	struct in_part *p = arg;
	struct hc_graph *g = p->g;
	uint32_t *st = g->in_start, v0 = p->v0, w = p->v1 - p->v0;
	/* sources in ascending order, so each in-list comes out sorted */
	for (uint32_t u = 0; u < g->nnodes; u++)
		for (uint32_t i = g->out_start[u]; i < g->out_start[u + 1]; i++) {
			uint32_t v = g->out[i];
			if (v - v0 < w) {
				uint32_t q = st[v + 1]++;
				g->in[q] = u;
				g->in_flags[q] = g->out_flags[i];
			}
		}
	return NULL;
}

/*
 * The in-CSR: a counting sort of the out-CSR by target, the counts taken by
 * the scan. With two threads each takes half the targets and reads every
 * edge, keeping its own: they write disjoint parts of every array, so no
 * locks, and the same result.
 */
static struct hc_error *in_csr(struct hc_graph *g, unsigned nthreads)
{
	uint32_t n = g->nnodes;
	/* in_start holds the in-degrees two ahead already: the scan counted them */
	g->in = hc_alloc_large((g->nedges ? g->nedges : 1) * sizeof(*g->in));
	g->in_flags = hc_alloc_large(g->nedges ? g->nedges : 1);
	if (!g->in_start || !g->in || !g->in_flags)
		return &hc_error_nomem;
	uint32_t *st = g->in_start;
	struct in_part p[2] = { { g, 0, n / 2 }, { g, n / 2, n } };
	/* st[v + 1] = where v's list starts; filling moves it on to where v + 1's starts */
	for (uint32_t v = 0; v + 1 < n; v++)
		st[v + 2] += st[v + 1];
	hc_run_pair(nthreads, in_part, &p[0], &p[1]);
	return NULL;
}

static uint64_t roots_bytes(const struct hc_graph *g)
{
	uint64_t b = 0;
	for (uint32_t r = 0; r < g->nroots; r++)
		if (g->roots[r].kind != HC_ROOT_REGISTER)
			b += g->roots[r].end - g->roots[r].start;
	return b;
}

static struct hc_error *scan_all(struct hc_graph *g, struct hc_target *t, const struct hc_symbols *s,
				 const struct hc_graph_options *opts, unsigned nthreads)
{
	uint32_t n = g->nnodes;
	g->out_start = hc_calloc_large((size_t)n + 1, sizeof(*g->out_start));
	/* one slot more than the CSR needs: counts go two ahead, so filling leaves the starts in place */
	g->in_start = hc_calloc_large((size_t)n + 2, sizeof(*g->in_start));
	g->sig_code = hc_alloc_large(((size_t)n + 1) * sizeof(*g->sig_code));
	if (!g->out_start || !g->in_start || !g->sig_code)
		return &hc_error_nomem;
	uint64_t node_bytes = 0;
	for (uint32_t i = 0; i < n; i++)
		node_bytes += hc_graph_node_size(g, i);
	uint64_t rbytes = roots_bytes(g), total = node_bytes + rbytes;
	/* the calling thread scans the roots and then the first nodes; the other thread the rest, to start with */
	uint32_t split = n;
	if (nthreads == 2) {
		uint64_t want = total / 2 > rbytes ? total / 2 - rbytes : 0, acc = 0;
		split = 0;
		while (split < n && acc + hc_graph_node_size(g, split) <= want)
			acc += hc_graph_node_size(g, split++);
	}
	struct hc_ranges modules;
	if (!hc_ranges_of_modules(s, &modules))
		return &hc_error_nomem;
	struct scanner sc[2];
	memset(sc, 0, sizeof(sc));
	for (unsigned i = 0; i < 2; i++) {
		sc[i].g = g;
		sc[i].t = t;
		sc[i].counts = g->out_start;
		sc[i].in_counts = g->in_start;
		sc[i].release.t = t;
		sc[i].modules = &modules;
	}
	if (opts && opts->progress) {
		sc[0].progress = opts->progress;
		sc[0].progress_arg = opts->progress_arg;
		sc[0].peer = &sc[1];
		sc[0].total = total;
		sc[0].next_report = PROGRESS_STEP;
	}
	if (nthreads == 2 && opts && opts->scan_split && opts->scan_split < n)
		split = opts->scan_split;
	struct hc_scan_share share;
	hc_scan_share_init(&share, split, n, opts ? opts->scan_block : 0);
	for (unsigned i = 0; i < 2; i++) {
		sc[i].share = &share;
		sc[i].self = i;
	}
	/*
	 * Guess one edge per node, so most scans never grow their buffers; the
	 * first thread's room for all, since the other's edges join its buffers.
	 */
	bool ok = edges_reserve(&sc[0].e, (uint64_t)n + 1) && edges_reserve(&sc[1].e, n - split + 1);
	for (unsigned i = 0; i < 2; i++) {
		sc[i].cand_v = malloc(BATCH_CAP * sizeof(*sc[i].cand_v));
		sc[i].cand_w = malloc(BATCH_CAP * sizeof(*sc[i].cand_w));
		sc[i].cand_b = malloc(BATCH_CAP * sizeof(*sc[i].cand_b));
		sc[i].pend = malloc((BATCH_CAP + 1) * sizeof(*sc[i].pend));
		ok = ok && sc[i].cand_v && sc[i].cand_w && sc[i].cand_b && sc[i].pend;
	}
	if (!ok) {
		for (unsigned i = 0; i < 2; i++) {
			edges_free(&sc[i].e);
			free(sc[i].cand_v);
			free(sc[i].cand_w);
			free(sc[i].cand_b);
			free(sc[i].pend);
		}
		hc_ranges_free(&modules);
		return &hc_error_nomem;
	}
	pthread_t worker;
	bool threaded = split < n && pthread_create(&worker, NULL, scan_thread, &sc[1]) == 0;

	struct owner_state os = { .g = g, .t = t, .s = s, .cur = NONE, .cur_symbol = NONE };
	uint32_t nmod = s ? s->nmodules : 0;
	os.slot_owners = calloc(nmod + 1, sizeof(*os.slot_owners));
	os.module_rest = malloc((nmod + 1) * sizeof(*os.module_rest));
	if (os.slot_owners && os.module_rest) {
		memset(os.module_rest, 0xff, (nmod + 1) * sizeof(*os.module_rest));
		scan_roots(&os, &sc[0]);
	} else {
		os.oom = true;
	}
	scan_nodes(&sc[0]);
	if (threaded)
		pthread_join(worker, NULL);
	else
		scan_nodes(&sc[1]);
	free(os.slot_owners);
	free(os.module_rest);
	for (unsigned i = 0; i < 2; i++) {
		free(sc[i].scratch);
		free(sc[i].cand_v);
		free(sc[i].cand_w);
		free(sc[i].cand_b);
		free(sc[i].pend);
	}

	hc_ranges_free(&modules);
	struct hc_error *err = NULL;
	if (sc[0].oom || sc[1].oom || os.oom)
		err = &hc_error_nomem;
	if (!err) {
		g->nword0_module = sc[0].nword0 + sc[1].nword0;
		g->word0_module = malloc((g->nword0_module ? g->nword0_module : 1) * sizeof(*g->word0_module));
		if (!g->word0_module) {
			err = &hc_error_nomem;
		} else {
			if (sc[0].nword0)
				memcpy(g->word0_module, sc[0].word0, sc[0].nword0 * sizeof(uint32_t));
			if (sc[1].nword0)
				memcpy(g->word0_module + sc[0].nword0, sc[1].word0, sc[1].nword0 * sizeof(uint32_t));
			/* in address order: each thread's list is, but their ranges interleave once one steals */
			bool sorted = true;
			for (uint32_t i = 1; i < g->nword0_module && sorted; i++)
				sorted = g->word0_module[i - 1] < g->word0_module[i];
			if (!sorted)
				qsort(g->word0_module, g->nword0_module, sizeof(uint32_t), cmp_u32);
		}
	}
	free(sc[0].word0);
	free(sc[1].word0);
	uint64_t ne = sc[0].e.n + sc[1].e.n;
	if (!err && ne > UINT32_MAX)
		err = hc_error_create(HC_ERR_UNSUPPORTED, "%llu references: more than 32-bit edge ids hold",
				      (unsigned long long)ne);
	if (!err) {
		struct edges *e0 = &sc[0].e;
		if (!(err = merge_edges(sc, n))) {
			/* a block of the pool stays as it is (it goes with the pool); malloc's gives its tail back */
			if (!hc_pool_owns(e0->to)) {
				uint32_t *to = realloc(e0->to, (ne ? ne : 1) * sizeof(*to));
				uint8_t *fl = realloc(e0->flags, ne ? ne : 1);
				uint16_t *sl = realloc(e0->slot, (ne ? ne : 1) * sizeof(*sl));
				if (to)
					e0->to = to;
				if (fl)
					e0->flags = fl;
				if (sl)
					e0->slot = sl;
			}
			g->out = e0->to;
			g->out_flags = e0->flags;
			g->out_slot = e0->slot;
			e0->to = NULL;
			e0->flags = NULL;
			e0->slot = NULL;
			g->nedges = ne;
			for (uint32_t i = 0; i < n; i++)
				g->out_start[i + 1] += g->out_start[i];
		}
	}
	edges_free(&sc[0].e);
	edges_free(&sc[1].e);
	free(sc[0].seg);
	free(sc[1].seg);
	if (!err)
		err = owner_csr(&os);
	free(os.re.owner);
	free(os.re.to);
	free(os.re.flags);
	if (!err)
		err = in_csr(g, nthreads);
	if (!err && opts && opts->progress)
		opts->progress(PROGRESS_PHASE, total, total, opts->progress_arg);
	return err;
}

struct hc_error *hc_graph_build(struct hc_target *t, struct hc_symbols *s,
				const struct hc_glibc_heap *h, const struct hc_graph_options *opts,
				struct hc_graph **out)
{
	*out = NULL;
	struct hc_graph *g = calloc(1, sizeof(*g));
	if (!g)
		return &hc_error_nomem;
	g->heap = h;
	g->target = t;
	unsigned nthreads = hc_thread_count(opts ? opts->threads : 0, h->nchunks, MIN_NODES_PER_THREAD);
	struct hc_error *err = nodes_build(g, h, nthreads);
	if (!err)
		err = hc_graph_index_build(g, nthreads, &g->index);
	if (!err)
		err = hc_roots_find(t, s, h, &g->roots, &g->nroots);
	if (!err)
		err = scan_all(g, t, s, opts, nthreads);
	if (err) {
		hc_graph_destroy(g);
		return err;
	}
	*out = g;
	return NULL;
}

void hc_graph_trim(struct hc_graph *g)
{
	if (!g)
		return;
	hc_release_large(g->in, g->nedges * sizeof(*g->in));
	hc_release_large(g->in_flags, g->nedges);
	hc_release_large(g->in_start, ((size_t)g->nnodes + 2) * sizeof(*g->in_start));
	hc_release_large(g->sig_code, ((size_t)g->nnodes + 1) * sizeof(*g->sig_code));
	hc_release_large(g->out_slot, g->nedges * sizeof(*g->out_slot));
	hc_release_large(g->root_kinds, g->nnodes);
	g->in = NULL;
	g->in_flags = NULL;
	g->in_start = NULL;
	g->sig_code = NULL;
	g->out_slot = NULL;
	g->root_kinds = NULL;
	if (g->index) {
		hc_release_large(g->index->blocks, g->index->nblocks * sizeof(*g->index->blocks));
		g->index->blocks = NULL;
		hc_graph_index_destroy(g->index);
		g->index = NULL;
	}
}

void hc_graph_destroy(struct hc_graph *g)
{
	if (!g)
		return;
	hc_free_large(g->chunk, 0);
	hc_free_large(g->out_start, 0);
	hc_free_large(g->sig_code, 0);
	hc_free_large(g->out, g->nedges * sizeof(*g->out));
	hc_free_large(g->out_flags, g->nedges);
	hc_free_large(g->out_slot, g->nedges * sizeof(*g->out_slot));
	free(g->word0_module);
	hc_free_large(g->in_start, 0);
	hc_free_large(g->in, 0);
	hc_free_large(g->in_flags, 0);
	free(g->roots);
	for (uint32_t i = 0; i < g->nowners; i++)
		free(g->owners[i].name);
	free(g->owners);
	free(g->owner_out_start);
	free(g->owner_out);
	free(g->owner_out_flags);
	hc_free_large(g->root_kinds, 0);
	hc_graph_index_destroy(g->index);
	free(g);
}
