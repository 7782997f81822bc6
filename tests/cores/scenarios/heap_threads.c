/*
 * heap_threads: the main thread and 4 threads, each thread in an arena of
 * its own (threads that first malloc while fewer than 8 * ncpus arenas exist
 * get a new one), all alive and blocked while the core is taken.
 *
 * Each thread (main included):
 *   1. allocates its labelled chunks first, from its arena's top, each with a
 *      live guard after it (0x100 and 0x70 series, a 0x1010 chunk);
 *   2. all threads start together and churn concurrently: random sizes from
 *      a set disjoint from the labelled sizes, freeing and reallocating, so
 *      the tcache, the fastbins (<= 2.42) and the bins are busy;
 *      thread 1 also allocates 700 x 100 KB (below the 128 KiB mmap
 *      threshold: no mmapped chunk is ever freed, so the threshold stays),
 *      more than one 64 MiB heap: its arena gets a heap_info chain;
 *   3. one at a time (no other thread touches the heap then), frees its
 *      labelled chunks and records their state from mallinfo2 (truth.h).
 * Then the main thread records the truth and every thread blocks.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "truth.h"

#define NTHREADS 4            /* besides main */
#define GUARD 0x18            /* chunk 0x20 */
#define SERIES 20             /* > 16 + 2 */
#define WANT_BINNED 2
#define CHURN_SLOTS 256
#define CHURN_ITERS 4000
#define BIG_PIECES 700
#define BIG_PIECE 100000

struct worker {
	int idx; /* 0 = main */
	pid_t tid;
	void *small[SERIES], *fast[SERIES], *large;
	void *slots[CHURN_SLOTS];
	uint64_t rng;
};

static struct worker W[NTHREADS + 1];
static pthread_barrier_t start_barrier, churned_barrier, done_barrier;
static pthread_mutex_t turn_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t turn_cond = PTHREAD_COND_INITIALIZER;
static int turn; /* index of the worker whose labelled frees run now */
static void *big[BIG_PIECES];

static uint64_t next_rand(struct worker *w)
{
	w->rng ^= w->rng << 13;
	w->rng ^= w->rng >> 7;
	w->rng ^= w->rng << 17;
	return w->rng;
}

/*
 * Churn chunk sizes 0x30 0x50 0x90 0xb0 0x200 0x400 0x800 0x2000. A malloc
 * may hand out a chunk 0x10 larger than asked (when the rest of a split free
 * chunk would be smaller than MINSIZE), so churn also frees chunks of
 * 0x40 0x60 0xa0 0xc0 0x210 0x410 0x810 0x2010 into the tcache and bins.
 * The labelled sizes 0x70 and 0x100 are none of these: their tcache bins are
 * empty when the labelled frees start.
 */
static const size_t churn_req[] = {0x28, 0x48, 0x88, 0xa8, 0x1f8, 0x3f8, 0x7f8, 0x1ff8};

static void alloc_labelled(struct worker *w)
{
	for (int i = 0; i < SERIES; i++) {
		w->small[i] = tmalloc(0xf8); /* chunk 0x100 */
		(void)tmalloc(GUARD);
	}
	for (int i = 0; i < SERIES; i++) {
		w->fast[i] = tmalloc(0x68); /* chunk 0x70, fastbin range */
		(void)tmalloc(GUARD);
	}
	w->large = tmalloc(0x1000); /* chunk 0x1010 */
	(void)tmalloc(GUARD);
}

static void churn(struct worker *w)
{
	for (int it = 0; it < CHURN_ITERS; it++) {
		uint64_t r = next_rand(w);
		int slot = (int)(r % CHURN_SLOTS);
		size_t req = churn_req[(r >> 16) % (sizeof churn_req / sizeof churn_req[0])];
		if (w->slots[slot])
			tfree(w->slots[slot]);
		w->slots[slot] = (r >> 40) % 4 == 0 ? NULL : tmalloc(req);
	}
	if (w->idx == 1)
		for (int i = 0; i < BIG_PIECES; i++)
			big[i] = tmalloc(BIG_PIECE);
}

static void free_series(struct worker *w, void **v, int n, const char *tc, const char *other,
			const char *live, const char *obs)
{
	int binned = 0, tcached = 0, i;
	for (i = 0; i < n && binned < WANT_BINNED; i++) {
		if (strcmp(truth_free(tc, other, v[i], w->tid), "tcache") == 0)
			tcached++;
		else
			binned++;
	}
	for (; i < n; i++)
		truth_live(live, v[i], w->tid);
	char key[64];
	snprintf(key, sizeof key, "%s_t%d", obs, w->idx);
	truth_observe(key, tcached);
}

static void labelled_frees(struct worker *w)
{
	char l1[48], l2[48], l3[48];
	snprintf(l1, sizeof l1, "t%d_tcache_freed", w->idx);
	snprintf(l2, sizeof l2, "t%d_smallbin_freed", w->idx);
	snprintf(l3, sizeof l3, "t%d_live_0x100", w->idx);
	free_series(w, w->small, SERIES, l1, l2, l3, "tcache_fill_0x100");
	snprintf(l1, sizeof l1, "t%d_tcache_freed_0x70", w->idx);
	snprintf(l2, sizeof l2, "t%d_fastbin_freed", w->idx);
	snprintf(l3, sizeof l3, "t%d_live_0x70", w->idx);
	free_series(w, w->fast, SERIES, l1, l2, l3, "tcache_fill_0x70");
	snprintf(l1, sizeof l1, "t%d_unsorted_freed", w->idx);
	truth_free(l1, l1, w->large, w->tid);
	/* a few churn survivors, labelled live */
	int n = 0;
	for (int s = 0; s < CHURN_SLOTS && n < 4; s++)
		if (w->slots[s]) {
			snprintf(l1, sizeof l1, "t%d_live_churn", w->idx);
			truth_live(l1, w->slots[s], w->tid);
			n++;
		}
	if (w->idx == 1) {
		truth_live("t1_big_first", big[0], w->tid);
		truth_live("t1_big_last", big[BIG_PIECES - 1], w->tid);
	}
}

static void run(struct worker *w)
{
	alloc_labelled(w);
	pthread_barrier_wait(&start_barrier);
	churn(w);
	/* after this barrier only the thread whose turn it is touches the
	 * heap, so the mallinfo2 deltas in truth_free are its own */
	pthread_barrier_wait(&churned_barrier);
	pthread_mutex_lock(&turn_lock);
	while (turn != w->idx)
		pthread_cond_wait(&turn_cond, &turn_lock);
	pthread_mutex_unlock(&turn_lock);
	labelled_frees(w);
	pthread_mutex_lock(&turn_lock);
	turn++;
	pthread_cond_broadcast(&turn_cond);
	pthread_mutex_unlock(&turn_lock);
	pthread_barrier_wait(&done_barrier);
}

static void *thread_main(void *arg)
{
	struct worker *w = arg;
	w->tid = gettid();
	char name[16];
	snprintf(name, sizeof name, "t%d", w->idx);
	truth_thread(w->tid, name);
	run(w);
	for (;;)
		pause();
	return NULL;
}

int main(int argc, char **argv)
{
	truth_init("heap_threads", argc, argv);
	pthread_barrier_init(&start_barrier, NULL, NTHREADS + 1);
	pthread_barrier_init(&churned_barrier, NULL, NTHREADS + 1);
	pthread_barrier_init(&done_barrier, NULL, NTHREADS + 1);
	W[0].idx = 0;
	W[0].tid = gettid();
	truth_thread(W[0].tid, "main");
	for (int i = 0; i <= NTHREADS; i++) {
		W[i].idx = i;
		W[i].rng = 0x9e3779b97f4a7c15ULL * (uint64_t)(i + 1);
	}
	/* small stacks keep the core small (gdb dumps a stack mapping whole) */
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 256 * 1024);
	for (int i = 1; i <= NTHREADS; i++) {
		pthread_t th;
		if (pthread_create(&th, &attr, thread_main, &W[i]) != 0)
			return 2;
	}
	run(&W[0]);
	truth_finish();
}
