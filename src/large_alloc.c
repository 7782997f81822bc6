/* Huge-page hints for large per-node arrays (see large_alloc.h). */
#include "large_alloc.h"

#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>

void hc_hint_huge_pages(void *p, size_t bytes)
{
#ifdef MADV_HUGEPAGE
	const uintptr_t huge = 2u << 20;
	uintptr_t start = ((uintptr_t)p + huge - 1) & ~(huge - 1), end = ((uintptr_t)p + bytes) & ~(huge - 1);
	if (p && end > start)
		madvise((void *)start, end - start, MADV_HUGEPAGE);
#else
	(void)p;
	(void)bytes;
#endif
}

void *hc_alloc_large(size_t bytes)
{
	void *p = malloc(bytes ? bytes : 1);
	if (bytes >= (8u << 20))
		hc_hint_huge_pages(p, bytes);
	return p;
}
