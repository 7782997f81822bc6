/*
 * Per-node arrays of millions of entries: allocated once, on transparent
 * huge pages where the kernel only gives them on request (THP "madvise"
 * mode, the common default). With 4 KiB pages nearly every random access to
 * a 60 MB array also misses the TLB, and first touching it costs a page
 * fault per 4 KiB; the dominator, chain and type passes read such arrays in
 * pointer-chasing order.
 */
#ifndef HEAPCORE_LARGE_ALLOC_H
#define HEAPCORE_LARGE_ALLOC_H

#include <stddef.h>

/* Asks for huge pages under [p, p + bytes); only the 2 MiB-aligned interior can be covered; failure changes nothing. */
void hc_hint_huge_pages(void *p, size_t bytes);

/* malloc(bytes), with the hint for blocks of 8 MiB and more. */
void *hc_alloc_large(size_t bytes);

#endif
