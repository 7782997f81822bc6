/*
 * Ground truth for the test-core scenarios.
 *
 * A scenario builds a heap, labels the pointers it cares about, and then calls
 * truth_finish(), which records what glibc itself says about the heap
 * (mallinfo2, malloc_info) into <outdir>/<scenario>.truth.json and
 * <outdir>/<scenario>.malloc_info.xml, prints "READY <pid>" and blocks until
 * the process is killed (or abort()s with --abort).
 *
 * Nothing here allocates after truth_init(): the JSON is built with snprintf
 * in a static buffer and written with write(2); the malloc_info FILE is
 * opened in truth_init() (before the heap is built) with a static buffer.
 *
 * States of a labelled pointer ("expect"), compared with heapcore's walk:
 *   used     allocated, on no free list
 *   tcache   freed into the thread's tcache (glibc counts it as in use)
 *   fastbin  freed into a fastbin (glibc <= 2.42)
 *   free     freed into the unsorted, a small or a large bin
 *   mmapped  allocated, in a mapping of its own
 * The state of a freed pointer is not assumed: truth_free() watches
 * mallinfo2 around the free() and records what glibc did with the chunk.
 *
 * Command line understood by truth_init(): --outdir DIR (default "."; the
 * process also chdir()s there, so a kernel core lands next to the truth),
 * --abort (abort() instead of pausing once READY).
 */
#ifndef HEAPCORE_TEST_TRUTH_H
#define HEAPCORE_TEST_TRUTH_H

#include <stddef.h>
#include <sys/types.h>

/* Call first in main(), before any other allocation. */
void truth_init(const char *scenario, int argc, char **argv);

/* Records a thread (tid from gettid()). Thread-safe. */
void truth_thread(pid_t tid, const char *name);

/* malloc/free that the compiler cannot elide; tmalloc aborts on failure and
 * writes a small pattern at the start of the block. */
void *tmalloc(size_t n);
void tfree(void *p);

/* Labels a live pointer: "mmapped" if its chunk header has IS_MMAPPED, else
 * "used". Labels are made unique with a _2, _3... suffix. */
void truth_live(const char *label, void *p, pid_t tid);

/*
 * Frees P and records its state from the mallinfo2 deltas around free():
 * nothing changed -> "tcache"; smblks +1 -> "fastbin"; ordblks +1 and
 * fordblks + chunk size -> "free". Anything else (the chunk merged with a
 * neighbour, or glibc allocated during free) aborts the scenario: labelled
 * chunks must sit between live neighbours. Returns the state recorded.
 * The entry is labelled LABEL_TCACHE if the chunk went to the tcache, else
 * LABEL_OTHER (labels are made unique with a _2, _3... suffix).
 * Callers must make sure no other thread touches the heap meanwhile.
 */
const char *truth_free(const char *label_tcache, const char *label_other, void *p, pid_t tid);

/* A number the scenario observed, e.g. how many frees of one size went to
 * the tcache before the bin filled ("tcache_fill_0x100"). */
void truth_observe(const char *key, long value);

/* Records everything, prints READY <pid>, then pauses forever (or aborts). */
void truth_finish(void) __attribute__((noreturn));

#endif
