/*
 * Binary search over arrays of structs sorted by a 64-bit key field: the
 * one loop the chunk table's side lists, the walk's free-list marks and the
 * types' pointer members all need.
 */
#ifndef HEAPCORE_SORTED_SEARCH_H
#define HEAPCORE_SORTED_SEARCH_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/*
 * Index of the first of n elements (stride bytes apart from base, each with
 * its uint64_t key key_offset bytes in, sorted by it) whose key is >= key;
 * n if none is.
 */
static inline uint32_t hc_lower_bound_u64(const void *base, uint32_t n, size_t stride, size_t key_offset,
					  uint64_t key)
{
	/* an empty list may have no array at all: no offset is applied to NULL */
	if (n == 0)
		return 0;
	const unsigned char *b = (const unsigned char *)base + key_offset;
	uint32_t lo = 0, hi = n;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		uint64_t k;
		memcpy(&k, b + (size_t)mid * stride, sizeof(k));
		if (k < key)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

#endif
