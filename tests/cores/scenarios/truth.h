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

#ifdef __cplusplus
extern "C" {
#endif

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

/*
 * Groups: structures whose leak classification is known (leak_* scenarios).
 * Written to the truth JSON as "groups" (only when a scenario defines one).
 *
 * Nothing here keeps a binary copy of a node's address: truth_group_node()
 * turns it into text at once (hex text is no pointer), and sums chunk sizes
 * and malloc_usable_size(). A scenario must also drop its own copies (see
 * truth_scrub()), or the ground truth is wrong: a stray copy anchors a leak.
 *
 * expect: "leaked" or "anchored". A leaked group's nodes are TRUTH_UNREFERENCED
 * (no allocation points to them: valgrind's "definitely lost") or
 * TRUTH_INDIRECT (only leaked allocations point to them); clusters = how many
 * weakly connected components of the leaked subgraph the group makes (a leaked
 * list or ring: 1), cyclic = whether it contains a cycle. An anchored group's
 * nodes are TRUTH_ANCHORED.
 * Returns the group's index. TYPE (a C++ class name) may be NULL.
 */
enum truth_role { TRUTH_ANCHORED = 0, TRUTH_UNREFERENCED = 1, TRUTH_INDIRECT = 2 };
int truth_group(const char *name, const char *expect, const char *type, int clusters, int cyclic);
/* Adds one allocation (the pointer malloc/new returned) to group G. */
void truth_group_node(int g, const void *p, enum truth_role role);
/* The anchor of an anchored group: a global (SYMBOL is its name, e.g. "g_list";
 * SLOT/LEN the bytes holding the reference), or a thread's stack (the local at
 * SLOT, in FUNCTION, on thread TID). INTERIOR: the anchor points inside the
 * allocation, not at its start. */
void truth_group_anchor_global(int g, const char *symbol, const void *slot, size_t len, int interior);
void truth_group_anchor_stack(int g, pid_t tid, const char *function, const void *slot, int interior);
/* Other memory outside the group allowed to point into it (e.g. a std::vector's
 * buffer, itself an allocation of another group); for the stray-pointer check. */
void truth_group_referrer(int g, const void *start, size_t len);

/*
 * Drops stray copies of pointers from the calling thread: zeroes BYTES of the
 * stack below the caller's frame (where the frames of functions that already
 * returned were) and the general, SSE and AVX registers that calls may clobber.
 * Call it after the functions that built a structure have returned.
 */
void truth_scrub(size_t bytes);

/* Records everything, prints READY <pid>, then pauses forever (or aborts). */
void truth_finish(void) __attribute__((noreturn));

#ifdef __cplusplus
}
#endif

#endif
