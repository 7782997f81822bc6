/*
 * heap_basic: one thread, the main arena in every state a chunk can be in.
 *
 *   live chunks of many sizes            -> used
 *   3 mmapped chunks (256 KiB, 1 MiB, a 64 KiB-aligned posix_memalign one
 *   whose chunk starts after a padding recorded in prev_size) -> mmapped
 *   a series of 0x100 chunks freed one by one: the first ones fill the
 *   tcache bin, the rest go to the bins (unsorted on 2.36, smallbin directly
 *   on 2.41+), and are sorted into the small bin by a large malloc
 *   -> tcache / free
 *   large chunks (0x1010, 0x1020, 0x1410) freed to the unsorted bin, then
 *   sorted into the large bins by the same malloc -> free
 *   a series of 0x40 chunks freed after that malloc: tcache, then fastbins
 *   (2.36, 2.41) or the small bin (2.43 has no fastbins) -> tcache / fastbin / free
 *   a few more tcache bins partly filled (0x50 x3, 0x410 x1) -> tcache
 *   one 0x1800 chunk freed last, so it stays in the unsorted bin -> free
 *
 * Every labelled chunk to be freed is allocated up front, from the top chunk,
 * each followed by a live guard, so no free merges with a neighbour; the
 * state of each free is what mallinfo2 reports (see truth.h).
 * Built again as heap_no_tcache (run with glibc.malloc.tcache_count=0).
 */
#define _GNU_SOURCE
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "truth.h"

#ifndef SCENARIO_NAME
#define SCENARIO_NAME "heap_basic"
#endif

#define GUARD 0x18        /* chunk 0x20, never freed */
#define SERIES 24         /* > 16 (2.43 tcache fill) + 2 */
#define WANT_BINNED 2     /* stop a series after this many non-tcache frees */

struct series {
	size_t req;
	int n, nfreed;
	void *v[SERIES];
};

static pid_t tid;

static void series_alloc(struct series *s, size_t req, int n)
{
	s->req = req;
	s->n = n;
	for (int i = 0; i < n; i++) {
		s->v[i] = tmalloc(req);
		(void)tmalloc(GUARD);
	}
}

/* Frees until WANT_BINNED frees did not go to the tcache; returns how many
 * went to the tcache first. Unfreed ones stay live and are labelled so. */
static int series_free(struct series *s, const char *tc_label, const char *other_label,
		       const char *live_label)
{
	int binned = 0, tcached = 0;
	int i;
	for (i = 0; i < s->n && binned < WANT_BINNED; i++) {
		const char *st = truth_free(tc_label, other_label, s->v[i], tid);
		if (strcmp(st, "tcache") == 0) {
			if (binned)
				tcached = -1000; /* tcache after a binned free: unexpected */
			else
				tcached++;
		} else {
			binned++;
		}
	}
	for (; i < s->n; i++)
		truth_live(live_label, s->v[i], tid);
	return tcached;
}

int main(int argc, char **argv)
{
	truth_init(SCENARIO_NAME, argc, argv);
	tid = gettid();
	truth_thread(tid, "main");

	/* Warm-up: glibc 2.43 allocates the tcache on the first free; do that
	 * now, outside the measured frees. No later request is of this chunk
	 * size (0x3d0), so the chunk stays in the tcache (unlabelled). */
	tfree(tmalloc(0x3c8));

	/* live chunks of many sizes */
	static const size_t live[] = {1, 8, 24, 25, 40, 56, 100, 120, 200, 256, 500, 1000,
				      1024, 2000, 4000, 8000, 16000, 32000, 64000, 100000};
	for (size_t i = 0; i < sizeof live / sizeof live[0]; i++) {
		void *p = tmalloc(live[i]);
		char label[32];
		if (live[i] == 24)
			snprintf(label, sizeof label, "live_small");
		else if (live[i] == 1000)
			snprintf(label, sizeof label, "live_medium");
		else if (live[i] == 100000)
			snprintf(label, sizeof label, "live_large");
		else
			snprintf(label, sizeof label, "live_%zu", live[i]);
		truth_live(label, p, tid);
	}

	/* mmapped chunks first: a later large malloc would consolidate the
	 * fastbins and sort the unsorted bin */
	truth_live("mmapped_256k", tmalloc(256 * 1024), tid);
	truth_live("mmapped_1m", tmalloc(1024 * 1024), tid);
	void *al = NULL;
	if (posix_memalign(&al, 64 * 1024, 300 * 1024) != 0)
		return 2;
	memset(al, 0x5a, 32);
	truth_live("mmapped_memalign", al, tid);

	/* every chunk to be freed, each with a live guard after it */
	struct series small, fast, part50;
	series_alloc(&small, 0xf8, SERIES); /* chunk 0x100 */
	series_alloc(&fast, 0x38, SERIES);  /* chunk 0x40 */
	series_alloc(&part50, 0x48, 3);     /* chunk 0x50 */
	void *part410 = tmalloc(0x408);     /* chunk 0x410, the largest tcache size */
	(void)tmalloc(GUARD);
	void *large[3];
	static const size_t large_req[3] = {0x1000, 0x1400, 0x1018}; /* chunks 0x1010 0x1410 0x1020 */
	for (int i = 0; i < 3; i++) {
		large[i] = tmalloc(large_req[i]);
		(void)tmalloc(GUARD);
	}
	void *unsorted = tmalloc(0x17f8); /* chunk 0x1800 */
	(void)tmalloc(GUARD);

	/* large chunks -> unsorted; the 0x100 series -> tcache, then bins */
	for (int i = 0; i < 3; i++)
		truth_free("largebin_freed", "largebin_freed", large[i], tid);
	truth_observe("tcache_fill_0x100", series_free(&small, "tcache_freed", "smallbin_freed", "live_0x100"));

	/* a request larger than any free chunk: glibc sorts the unsorted bin
	 * into the small and large bins and carves this from top */
	truth_live("sort_trigger", tmalloc(0x4000), tid);

	/* 0x40 series -> tcache, then fastbins (<= 2.42) or the small bin */
	truth_observe("tcache_fill_0x40", series_free(&fast, "tcache_freed_0x40", "fastbin_freed", "live_0x40"));

	/* partly filled tcache bins */
	for (int i = 0; i < part50.n; i++)
		truth_free("tcache_partial_0x50", "tcache_partial_0x50_binned", part50.v[i], tid);
	truth_free("tcache_partial_0x410", "tcache_partial_0x410_binned", part410, tid);

	/* last free: stays in the unsorted bin (no malloc follows) */
	truth_free("unsorted_freed", "unsorted_freed", unsorted, tid);

	truth_finish();
}
