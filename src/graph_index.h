/*
 * Private to the graph: the address-to-node index (graph_index.c), asked
 * for every word of every allocation, so its lookup is inline here.
 *
 * Nodes are disjoint and sorted, their user addresses 16-aligned (chunk +
 * 16) and their ends 8-aligned (an arena chunk's user bytes end 8 bytes into
 * the next chunk's header). The index keeps, per 512-byte block of the
 * address span nodes occupy, 16 bytes: a start bit per 16-byte slot (a node
 * begins there), two inside bits per slot (its first and last 8 bytes belong
 * to a node) and the rank of the block (how many nodes begin before it).
 * A lookup is then one 16-byte entry: inside bit, then node index = rank +
 * the start bits up to the slot - 1, and "at its start" = 16-aligned with the
 * slot's start bit set. No node array is read.
 *
 * Blocks exist only where nodes are: a table indexed by superblock (64 MiB,
 * address >> 26, wider if the address range needs it) names each
 * superblock's run of blocks, from its first node's block to its last's.
 * Memory: 16 bytes per 512 bytes of that span (3.1%), plus 4 bytes per
 * superblock of the address range.
 */
#ifndef HEAPCORE_GRAPH_INDEX_H
#define HEAPCORE_GRAPH_INDEX_H

#include <stdbool.h>
#include <stdint.h>

#include "heapcore/error.h"
#include "heapcore/graph.h"

#define HC_INDEX_BLOCK_SHIFT 9

struct hc_index_block {
	uint32_t rank;               /* nodes beginning before this block */
	uint32_t start;              /* bit i: a node begins at slot i (16 bytes each) */
	uint64_t inside;             /* bits 2i, 2i+1: slot i's first, last 8 bytes lie in a node */
};

struct hc_index_super {
	uint64_t b_first;            /* first block number (address >> HC_INDEX_BLOCK_SHIFT) indexed */
	uint64_t count;              /* blocks indexed */
	uint64_t base;               /* into blocks[] */
};

struct hc_graph_index {
	uint64_t lo, span;           /* nodes lie in [lo, lo + span) */
	unsigned super_shift;
	uint64_t top_base;           /* superblock number of lo */
	uint64_t ntop;
	uint32_t *top;               /* per superblock: 1 + index into supers, 0 if it holds no node */
	struct hc_index_super *supers;
	uint32_t nsupers;
	struct hc_index_block *blocks;
	uint64_t nblocks;
	uint32_t nnodes;
};

/* The index of g's nodes (sorted, disjoint; their chunk table filled in); on 1 or 2 threads. */
struct hc_error *hc_graph_index_build(const struct hc_graph *g, unsigned nthreads, struct hc_graph_index **out);
void hc_graph_index_destroy(struct hc_graph_index *ix);

/*
 * Bits set in x. Without -mpopcnt (baseline x86-64, as Debian builds)
 * __builtin_popcount is a call into libgcc per lookup; this is a dozen
 * inline instructions.
 */
static inline uint32_t hc_popcount32(uint32_t x)
{
#ifdef __POPCNT__
	return (uint32_t)__builtin_popcount(x);
#else
	x = x - ((x >> 1) & 0x55555555u);
	x = (x & 0x33333333u) + ((x >> 2) & 0x33333333u);
	x = (x + (x >> 4)) & 0x0f0f0f0fu;
	return (x * 0x01010101u) >> 24;
#endif
}

/* The block holding v, or NULL: the part of a lookup that needs no cache miss but its result's. */
static inline const struct hc_index_block *hc_index_block_of(const struct hc_graph_index *ix, uint64_t v)
{
	if (v - ix->lo >= ix->span)
		return 0;
	uint32_t d = ix->top[(v >> ix->super_shift) - ix->top_base];
	if (!d)
		return 0;
	const struct hc_index_super *sb = &ix->supers[d - 1];
	uint64_t b = (v >> HC_INDEX_BLOCK_SHIFT) - sb->b_first;
	return b < sb->count ? &ix->blocks[sb->base + b] : 0;
}

/* The node holding v, given v's block, or UINT32_MAX; *interior: v is not the node's start. */
static inline uint32_t hc_index_resolve(const struct hc_index_block *bk, uint64_t v, uint8_t *interior)
{
	unsigned slot = (unsigned)(v >> 4) & 31, half = (unsigned)(v >> 3) & 1;
	if (!((bk->inside >> (2 * slot + half)) & 1))
		return UINT32_MAX;
	uint32_t upto = (uint32_t)(((uint64_t)2 << slot) - 1);
	*interior = !((v & 15) == 0 && ((bk->start >> slot) & 1));
	/* the node holding v is the last one to begin at or before it */
	return bk->rank + hc_popcount32(bk->start & upto) - 1;
}

static inline uint32_t hc_index_lookup(const struct hc_graph_index *ix, uint64_t v, uint8_t *interior)
{
	const struct hc_index_block *bk = hc_index_block_of(ix, v);
	return bk ? hc_index_resolve(bk, v, interior) : UINT32_MAX;
}

#endif
