/*
 * Private to the graph: finding the root ranges of a target, the memory
 * outside the heap whose words can keep allocations alive (see roots.c).
 */
#ifndef HEAPCORE_ROOTS_H
#define HEAPCORE_ROOTS_H

#include "heapcore/graph.h"

/*
 * The root ranges of t: per thread its registers, stack and TLS window, then
 * modules' data, then other writable mappings; memory ranges never overlap.
 * Notes what it had to guess in t->warnings (HC_WARN_INFO). s may be NULL
 * (no modules known: all writable mappings are then HC_ROOT_OTHER).
 */
struct hc_error *hc_roots_find(struct hc_target *t, const struct hc_symbols *s,
			       const struct hc_glibc_heap *h, struct hc_root_range **out,
			       uint32_t *nout);

/*
 * Each module's writable data (relro, .data, and the .bss after it) as
 * [start, end) with the module's index, in address order: the ranges
 * hc_roots_find gives as HC_ROOT_DATA before it carves out the heap.
 */
typedef void (*hc_module_range_fn)(void *ctx, uint64_t start, uint64_t end, int32_t module);
void hc_module_data_ranges(const struct hc_target *t, const struct hc_symbols *s, hc_module_range_fn fn, void *ctx);

#endif
