/*
 * The two-thread pattern of the passes over every node (graph, index,
 * types): how many threads a pass gets, and running a pass's two halves at
 * once. Results never depend on the count: each half writes its own part.
 */
#ifndef HEAPCORE_THREAD_PAIR_H
#define HEAPCORE_THREAD_PAIR_H

#include <stdint.h>

/*
 * Threads for a pass over `items`: the count asked for (at most 2), or when
 * 0 is asked, 2 if there are two CPUs and each half would get at least
 * min_per_thread items.
 */
unsigned hc_thread_count(unsigned requested, uint64_t items, uint64_t min_per_thread);

/* Runs fn(a) and fn(b), at once on two threads when nthreads is 2 (and a thread can be had). */
void hc_run_pair(unsigned nthreads, void *(*fn)(void *), void *a, void *b);

#endif
