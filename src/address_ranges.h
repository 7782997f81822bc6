/*
 * Sorted, disjoint address ranges (the modules' extents, merged), for
 * telling in a few compares that a word points into none of them before
 * asking hc_symbols_module_at, which is exact but slower. Private to the
 * graph's scan and the types.
 */
#ifndef HEAPCORE_ADDRESS_RANGES_H
#define HEAPCORE_ADDRESS_RANGES_H

#include <stdbool.h>
#include <stdint.h>

#include "heapcore/symbols.h"

struct hc_ranges {
	uint64_t *lo, *hi;
	uint32_t n;
	uint64_t min, max;         /* lo[0], hi[n - 1]; min > max when empty */
};

/* The modules' extents of s (none for a NULL s); false if out of memory. */
bool hc_ranges_of_modules(const struct hc_symbols *s, struct hc_ranges *r);
void hc_ranges_free(struct hc_ranges *r);

static inline bool hc_ranges_has(const struct hc_ranges *r, uint64_t v)
{
	if (v < r->min || v >= r->max)
		return false;
	uint32_t lo = 0, hi = r->n;
	while (hi - lo > 1) {
		uint32_t mid = (lo + hi) / 2;
		if (r->lo[mid] <= v)
			lo = mid;
		else
			hi = mid;
	}
	return v >= r->lo[lo] && v < r->hi[lo];
}

#endif
