/* Large arrays, populated up front (see large_alloc.h). */
#include "large_alloc.h"

#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

/* below this, the faults are too few to matter */
#define POPULATE_MIN (1u << 20)

void hc_populate(void *p, size_t bytes)
{
	const uintptr_t page = 4096;
	if (!p || bytes < POPULATE_MIN)
		return;
	uintptr_t start = ((uintptr_t)p + page - 1) & ~(page - 1), end = ((uintptr_t)p + bytes) & ~(page - 1);
	/* EINVAL before 5.14: the pages then fault in as they are written */
	if (end > start)
		madvise((void *)start, end - start, MADV_POPULATE_WRITE);
}

void *hc_alloc_large(size_t bytes)
{
	void *p = malloc(bytes ? bytes : 1);
	hc_populate(p, bytes);
	return p;
}

void *hc_calloc_large(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);
	/* calloc of a fresh mapping skips its memset: the pages are still untouched */
	if (p && n && size <= SIZE_MAX / n)
		hc_populate(p, n * size);
	return p;
}
