/*
 * Building the address-to-node index (the layout and the lookup are in
 * graph_index.h). Three sweeps, all forward because nodes are sorted: the
 * superblocks nodes touch and each one's block span; the start and inside
 * bits of each node; the ranks, a running count of start bits.
 */
#include "graph_index.h"
#include "large_alloc.h"
#include "thread_pair.h"

#include <stdlib.h>

#define SUPER_SHIFT 26
/* the superblock table has at most this many entries; superblocks widen to fit */
#define MAX_SUPER_ENTRIES (1u << 22)
#define BLOCK_SHIFT HC_INDEX_BLOCK_SHIFT

void hc_graph_index_destroy(struct hc_graph_index *ix)
{
	if (!ix)
		return;
	free(ix->top);
	free(ix->supers);
	hc_free_large(ix->blocks, 0);
	free(ix);
}

/* A node's extent for the index: a node of no bytes still needs its start bit for the ranks. */
static uint64_t node_end(const struct hc_graph *g, uint32_t i)
{
	uint64_t size = hc_graph_node_size(g, i);
	return hc_graph_node_addr(g, i) + (size ? size : 1);
}

/* Makes superblock sbn reach block last, creating it (first block first) unless it is the latest one. */
static struct hc_error *touch(struct hc_graph_index *ix, uint32_t *cap, uint64_t sbn, uint64_t first, uint64_t last)
{
	uint32_t *slot = &ix->top[sbn - ix->top_base];
	if (!*slot) {
		if (ix->nsupers == UINT32_MAX - 1)
			return hc_error_create(HC_ERR_UNSUPPORTED, "the heap is spread too thin to index");
		if (ix->nsupers == *cap) {
			uint32_t c = *cap ? *cap * 2 : 64;
			struct hc_index_super *s = realloc(ix->supers, c * sizeof(*s));
			if (!s)
				return &hc_error_nomem;
			ix->supers = s;
			*cap = c;
		}
		ix->supers[ix->nsupers] = (struct hc_index_super){ first, 0, 0 };
		*slot = ++ix->nsupers;
	}
	struct hc_index_super *sb = &ix->supers[*slot - 1];
	sb->count = last - sb->b_first + 1;
	return NULL;
}

/*
 * The superblocks and each one's span of blocks, from the first node in it
 * to the end of the last: found by binary search for the last node starting
 * in each superblock, so the cost is per superblock, not per node.
 */
static struct hc_error *superblocks(struct hc_graph_index *ix, const struct hc_graph *g, uint32_t n)
{
	unsigned ss = ix->super_shift;
	uint32_t cap = 0;
	for (uint32_t i = 0; i < n;) {
		uint64_t ai = hc_graph_node_addr(g, i), sbn = ai >> ss, limit = (sbn + 1) << ss;
		uint32_t lo = i, hi = n;
		while (lo < hi) {
			uint32_t mid = lo + (hi - lo) / 2;
			if (hc_graph_node_addr(g, mid) < limit)
				lo = mid + 1;
			else
				hi = mid;
		}
		uint32_t j = lo - 1; /* the last node starting in sbn */
		uint64_t e = node_end(g, j) - 1;
		/* that node may run on through later superblocks */
		for (uint64_t k = sbn; k <= e >> ss; k++) {
			uint64_t first = k == sbn ? ai >> BLOCK_SHIFT : (k << ss) >> BLOCK_SHIFT;
			uint64_t last = k == e >> ss ? e >> BLOCK_SHIFT : (((k + 1) << ss) - 1) >> BLOCK_SHIFT;
			struct hc_error *err = touch(ix, &cap, k, first, last);
			if (err)
				return err;
		}
		i = j + 1;
	}
	for (uint32_t i = 0; i < ix->nsupers; i++) {
		ix->supers[i].base = ix->nblocks;
		ix->nblocks += ix->supers[i].count;
	}
	return NULL;
}

/* The block numbered b (address >> BLOCK_SHIFT); *d is a cursor over the superblocks, moving forward only. */
static struct hc_index_block *block_at(struct hc_graph_index *ix, uint32_t *d, uint64_t b)
{
	while (b - ix->supers[*d].b_first >= ix->supers[*d].count)
		(*d)++;
	return &ix->blocks[ix->supers[*d].base + (b - ix->supers[*d].b_first)];
}

struct bit_part {
	struct hc_graph_index *ix;
	const struct hc_graph *g;
	uint32_t i0, i1;             /* nodes; no block holds bits of both parts */
};

/* Sets the start and inside bits of nodes [i0, i1). */
static void *set_bits(void *arg)
{
	struct bit_part *p = arg;
	struct hc_graph_index *ix = p->ix;
	const struct hc_graph *g = p->g;
	if (p->i0 >= p->i1)
		return NULL;
	uint32_t d = ix->top[(hc_graph_node_addr(g, p->i0) >> ix->super_shift) - ix->top_base] - 1;
	for (uint32_t i = p->i0; i < p->i1; i++) {
		uint64_t a = hc_graph_node_addr(g, i), size = hc_graph_node_size(g, i);
		struct hc_index_block *bk = block_at(ix, &d, a >> BLOCK_SHIFT);
		bk->start |= 1u << ((a >> 4) & 31);
		if (!size)
			continue;
		/* 8-byte halves [h0, h1] of the node, 64 to a block */
		uint64_t h0 = a >> 3, h1 = (a + size - 1) >> 3;
		if (h0 >> 6 == h1 >> 6) {
			bk->inside |= (~0ull >> (63 - (h1 - h0))) << (h0 & 63);
			continue;
		}
		for (uint64_t b = h0 >> 6; b <= h1 >> 6; b++) {
			unsigned lo_bit = b == h0 >> 6 ? (unsigned)(h0 & 63) : 0;
			unsigned hi_bit = b == h1 >> 6 ? (unsigned)(h1 & 63) : 63;
			block_at(ix, &d, b)->inside |= (~0ull >> (63 - (hi_bit - lo_bit))) << lo_bit;
		}
	}
	return NULL;
}

struct hc_error *hc_graph_index_build(const struct hc_graph *g, unsigned nthreads, struct hc_graph_index **out)
{
	uint32_t n = g->nnodes;
	*out = NULL;
	struct hc_graph_index *ix = calloc(1, sizeof(*ix));
	if (!ix)
		return &hc_error_nomem;
	ix->nnodes = n;
	*out = ix;
	if (!n)
		return NULL;
	uint64_t lo = hc_graph_node_addr(g, 0), hi = node_end(g, n - 1);
	ix->lo = lo;
	ix->span = hi - lo;
	unsigned ss = SUPER_SHIFT;
	while (((hi - 1) >> ss) - (lo >> ss) + 1 > MAX_SUPER_ENTRIES)
		ss++;
	ix->super_shift = ss;
	ix->top_base = lo >> ss;
	ix->ntop = ((hi - 1) >> ss) - ix->top_base + 1;
	ix->top = calloc(ix->ntop, sizeof(*ix->top));
	if (!ix->top)
		return &hc_error_nomem;
	struct hc_error *err = superblocks(ix, g, n);
	if (err)
		return err;
	ix->blocks = hc_calloc_large(ix->nblocks ? ix->nblocks : 1, sizeof(*ix->blocks));
	if (!ix->blocks)
		return &hc_error_nomem;

	/* two parts split where no block holds bits of both: past a node ending in an earlier block */
	uint32_t k = n / 2;
	while (k < n && k > 0 && hc_graph_node_addr(g, k) >> BLOCK_SHIFT == (node_end(g, k - 1) - 1) >> BLOCK_SHIFT)
		k++;
	struct bit_part parts[2] = { { ix, g, 0, k }, { ix, g, k, n } };
	hc_run_pair(nthreads, set_bits, &parts[0], &parts[1]);
	uint32_t rank = 0;
	for (uint64_t b = 0; b < ix->nblocks; b++) {
		ix->blocks[b].rank = rank;
		rank += hc_popcount32(ix->blocks[b].start);
	}
	return NULL;
}
