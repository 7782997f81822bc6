/*
 * Per-node and per-edge arrays of millions of entries. First touching fresh
 * memory is a page fault per 4 KiB; on virtual machines those faults cost
 * more than the passes that write the arrays (0.7-0.9 s per GB measured
 * here, docs/benchmarks.md). Asking the kernel to populate a whole range
 * at once (MADV_POPULATE_WRITE, Linux 5.14) does the same work without a
 * trap per page, a third cheaper. Transparent huge pages would cut that
 * further, but only when the host backs them already: on a fresh VM a
 * 2 MiB fault cost up to 20 times more, so they are not asked for.
 *
 * Beyond that, the fastest page is one already in: a few big blocks one
 * phase frees are kept for the next (hc_free_large), and an analysis can
 * carve its arrays from a pool that a populator thread fills while the
 * single-threaded walk leaves the other CPU idle.
 */
#ifndef HEAPCORE_LARGE_ALLOC_H
#define HEAPCORE_LARGE_ALLOC_H

#include <stdbool.h>
#include <stddef.h>

struct hc_populator;

/* Populates the whole pages of [p, p + bytes) for writing; a no-op where the kernel cannot (or for small ranges). */
void hc_populate(void *p, size_t bytes);

/*
 * malloc(bytes), populated when it is large; or a block of between bytes
 * and twice that given back by hc_free_large, whose pages are in already.
 */
void *hc_alloc_large(size_t bytes);
/* calloc(n, size), populated when it is large (from the pool, whose pages are zero, or calloc). */
void *hc_calloc_large(size_t n, size_t size);
/*
 * Frees a block from hc_alloc_large (bytes: what was asked for), or keeps
 * a few big ones for the next phase's hc_alloc_large: one phase's scratch
 * arrays become the next one's without a page fault per 4 KiB. Thread-safe.
 */
void hc_free_large(void *p, size_t bytes);
/*
 * Frees the blocks kept (the end of an analysis). The pool's are forgotten
 * (their pages go with it), or with keep_pool_blocks stay kept, for
 * hc_large_cache_release or the pool's end.
 */
void hc_large_cache_drain(bool keep_pool_blocks);
/* Gives every block kept back to the kernel now (hc_release_large), the pool's pages included. */
void hc_large_cache_release(void);
/*
 * Gives a block from hc_alloc_large (bytes: what was asked for) back to the
 * kernel now, not when the pool or the cache goes: a pool block's pages are
 * dropped (the pool never hands its addresses out again), any other block
 * is freed. For letting go of arrays while other work goes on.
 */
void hc_release_large(void *p, size_t bytes);

/*
 * A pool for the big arrays of one analysis: `bytes` of address space,
 * populated ahead (hc_pool_populate) by a populator while the allocator
 * walk keeps the other CPU busy, so that the phases after it find their
 * arrays' pages in already. hc_alloc_large and hc_calloc_large carve from
 * it while it has room; hc_free_large leaves its blocks alone; it goes as a
 * whole at hc_pool_end, after everything carved from it. One per process:
 * false if another is active (its allocations then come from malloc).
 * Arrays from hc_alloc_large must be freed with hc_free_large.
 */
bool hc_pool_begin(size_t bytes);
/* Has p populate the pool up to `upto` bytes from its start (what is not yet), when it has nothing queued. */
void hc_pool_populate(struct hc_populator *p, size_t upto);
void hc_pool_end(void);
/* Whether p was carved from the pool. */
bool hc_pool_owns(const void *p);

/*
 * A thread that populates ranges a pass will write soon, so that a
 * single-threaded pass (the allocator walk) does not clear its own pages:
 * the idle CPU does. Requests are queued, ahead of the pool's; with no
 * thread (one CPU, or pthread_create failing) or a full queue they run at
 * once, in the caller.
 */
struct hc_populator *hc_populator_start(void);
void hc_populator_request(struct hc_populator *p, void *ptr, size_t bytes);
/* Waits until every request so far is done (before the ranges may move or go). */
void hc_populator_wait(struct hc_populator *p);
/* Ends the thread, dropping what it has not done yet (those pages fault in when first written). */
void hc_populator_stop(struct hc_populator *p);

#endif
