/*
 * Fuzz target: glibc's heap found and walked over a core whose bytes the
 * fuzzer controls (arena, chunk headers, free lists, tcache; with every
 * method in turn, the headless walk of a cut core included), then heap's
 * report. Seeds: tests/fuzz/corpus/glibc, cut-down scenario cores.
 */
#include <jansson.h>
#include <stdlib.h>

#include "fuzz_input.h"
#include "heapcore/glibc_heap.h"
#include "heapcore/report.h"

static void walk(struct hc_target *t, struct hc_symbols *s)
{
	struct hc_glibc_walk_options wo = { .method = HC_ARENA_METHOD_AUTO };
	struct hc_glibc_heap *h = NULL;
	struct hc_error *err = hc_glibc_walk(t, s, &wo, &h);
	if (!err) {
		json_t *r = hc_report_heap(t, h);
		char *text = r ? json_dumps(r, 0) : NULL;
		free(text);
		json_decref(r);
		hc_glibc_heap_destroy(h);
	}
	hc_error_destroy(err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_with_core(data, size, walk);
	return 0;
}
