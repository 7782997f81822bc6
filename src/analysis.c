/* Runs the analysis phases in order and times them (see analysis.h). */
#include "heapcore/analysis.h"

#include <stdlib.h>
#include <time.h>

const char *hc_phase_name(enum hc_phase p)
{
	static const char *const names[HC_PHASE_COUNT] = { "walk", "unwind", "graph", "types",
							   "leaks", "dominators", "chains" };
	return (unsigned)p < HC_PHASE_COUNT ? names[p] : "unknown";
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
		 * Types is the last phase that reads allocations' memory wholesale:
		 * from here on only a few chains are read, so the core's pages can go
		 * before leaks, dominators and chains allocate their per-node arrays.
		 */
		if (p == HC_PHASE_TYPES)
			hc_target_release_pages(t);
		a->seconds[p] = now() - start;
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
