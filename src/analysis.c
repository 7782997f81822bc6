/* Runs the analysis phases in order and times them (see analysis.h). */
#include "heapcore/analysis.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

const char *hc_phase_name(enum hc_phase p)
{
	static const char *const names[HC_PHASE_COUNT] = { "walk", "unwind", "graph", "types",
							   "leaks", "dominators", "chains" };
	return (unsigned)p < HC_PHASE_COUNT ? names[p] : "unknown";
}

/*
 * The process's peak resident memory since the last reset (VmHWM), in
 * bytes; 0 where /proc cannot say. Writing 5 to clear_refs resets the peak
 * (Linux 4.0 on), so that each phase's own peak can be read at its end.
 */
static void reset_peak(void)
{
	FILE *f = fopen("/proc/self/clear_refs", "w");
	if (f) {
		fputs("5", f);
		fclose(f);
	}
}

static uint64_t read_peak(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	unsigned long long kb = 0;
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "VmHWM: %llu kB", &kb) == 1)
			break;
	if (f)
		fclose(f);
	return (uint64_t)kb * 1024;
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct hc_error *hc_analysis_run(struct hc_target *t, struct hc_symbols *s,
				 const struct hc_analysis_options *opts, struct hc_analysis **out)
{
	*out = NULL;
	struct hc_analysis *a = calloc(1, sizeof(*a));
	if (!a)
		return &hc_error_nomem;
	a->target = t;
	a->symbols = s;
	struct hc_analysis_options none = { 0 };
	if (!opts)
		opts = &none;
	struct hc_error *err = NULL;
	for (enum hc_phase p = 0; p < HC_PHASE_COUNT && !err; p++) {
		if (opts->phase)
			opts->phase(p, 0, opts->phase_arg);
		reset_peak();
		double start = now();
		switch (p) {
		case HC_PHASE_WALK:
			err = hc_glibc_walk(t, s, &opts->walk, &a->heap);
			break;
		case HC_PHASE_UNWIND:
			err = hc_unwind_threads(t, s, &a->unwind);
			break;
		case HC_PHASE_GRAPH:
			err = hc_graph_build(t, s, a->heap, &opts->graph, &a->graph);
			break;
		case HC_PHASE_LEAKS:
			err = hc_leaks_classify(a->graph, &a->leaks);
			break;
		case HC_PHASE_DOMINATORS:
			err = hc_dominators_compute(a->graph, &a->dominators);
			break;
		case HC_PHASE_CHAINS:
			err = hc_chains_compute(a->graph, &a->chains);
			break;
		case HC_PHASE_TYPES: {
			struct hc_types_options to = { .unwind = a->unwind };
			err = hc_types_infer_opts(a->graph, s, &to, &a->types);
			break;
		}
		case HC_PHASE_COUNT:
			break;
		}
		/*
		 * The walk, the graph's scan and the types' passes each read the
		 * core's pages in address order (the last two let them go as they
		 * go); after each, the kernel can drop what is left, so that the
		 * core's share of memory is one pass's window, not its size. Pages
		 * read later (a few chains) come back from the file.
		 */
		if (p == HC_PHASE_WALK || p == HC_PHASE_GRAPH || p == HC_PHASE_TYPES)
			hc_target_release_pages(t);
		a->seconds[p] = now() - start;
		a->peak_bytes[p] = read_peak();
		if (opts->phase)
			opts->phase(p, 1, opts->phase_arg);
	}
	if (err) {
		hc_analysis_destroy(a);
		return err;
	}
	*out = a;
	return NULL;
}

void hc_analysis_destroy(struct hc_analysis *a)
{
	if (!a)
		return;
	hc_types_destroy(a->types);
	hc_unwind_destroy(a->unwind);
	hc_chains_destroy(a->chains);
	hc_dominators_destroy(a->dominators);
	hc_leaks_destroy(a->leaks);
	hc_graph_destroy(a->graph);
	hc_glibc_heap_destroy(a->heap);
	free(a);
}
