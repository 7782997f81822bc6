/*
 * How the graph scan's two threads share the nodes (scan_share.c): each
 * starts with a range, takes blocks from its front, and when it runs out
 * takes the back half of what the other has left. The halves of a heap
 * rarely cost the same (one thread also scans the roots, one half holds
 * the denser pointers, the VM's other tenants slow either), so a fixed
 * split leaves one CPU idle for a tenth of a second or more.
 *
 * Each thread appends the edges of the blocks it scans to its own
 * buffers; a run of consecutive nodes is a segment (struct hc_scan_segment)
 * and the graph puts the segments in node order afterwards. Thread 0 only
 * steals above what it has scanned, so its segments are in node order in
 * its buffers and can move up in place to make room for thread 1's.
 */
#ifndef HEAPCORE_SCAN_SHARE_H
#define HEAPCORE_SCAN_SHARE_H

#include <stdbool.h>
#include <stdint.h>

#define HC_SCAN_BLOCK 4096

struct hc_scan_share {
	/* per thread: next node << 32 | end of its range, so one compare-and-swap moves either */
	uint64_t range[2];
	uint32_t block;              /* nodes taken at a time */
};

/* Nodes [n0, n1) whose edges start at e0 in the buffers of the thread that scanned them. */
struct hc_scan_segment {
	uint32_t n0, n1;
	uint64_t e0;
};

/* Thread 0 starts with [0, split), thread 1 with [split, n); block 0 means HC_SCAN_BLOCK. */
void hc_scan_share_init(struct hc_scan_share *s, uint32_t split, uint32_t n, uint32_t block);

/*
 * The next block for thread self (0 or 1), [*n0, *n1): from its own range,
 * else the back half of the other's. last_end is where self's last block
 * ended (0 before the first). False when nothing is left worth taking: a
 * range under two blocks is not split.
 */
bool hc_scan_share_claim(struct hc_scan_share *s, unsigned self, uint32_t last_end, uint32_t *n0, uint32_t *n1);

#endif
