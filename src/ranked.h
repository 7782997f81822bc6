/*
 * Indices ranked by a 64-bit key, largest first, ties by index (so the
 * order never depends on qsort's): the Python report's and the diff
 * snapshot's tables of types and objects.
 */
#ifndef HEAPCORE_RANKED_H
#define HEAPCORE_RANKED_H

#include <stdint.h>

struct hc_ranked {
	uint64_t key;
	uint32_t i;
};

/* qsort comparator for struct hc_ranked: key descending, then index ascending. */
static inline int hc_ranked_desc(const void *x, const void *y)
{
	const struct hc_ranked *a = x, *b = y;
	if (a->key != b->key)
		return a->key > b->key ? -1 : 1;
	return (a->i > b->i) - (a->i < b->i);
}

#endif
