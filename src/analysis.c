/* Runs the analysis phases in order and times them (see analysis.h). */
#include "heapcore/analysis.h"

#include <pthread.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "large_alloc.h"
#include "rss_sampler.h"

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

/*
 * The pool (large_alloc.h): what the phases after the walk allocate per
 * chunk, about (graph 22 + 5 per edge + its index, types 8, leaks 10,
 * dominators 20, less what one phase reuses of another's), and below what
 * core size it is not worth a thread.
 */
#define POOL_BYTES_PER_CHUNK 64
#define POOL_MIN_CORE (64ull << 20)

/* Below this many allocations types run after the other phases: a thread would cost more than it saves. */
#define MIN_NODES_BESIDE 65536

/* The types phase, on a thread of its own beside dominators, leaks and chains. */
struct types_job {
	struct hc_analysis *a;
	unsigned threads;
	struct hc_error *err;
	double types_seconds;
};

static void *types_run(void *arg)
{
	struct types_job *j = arg;
	double start = now();
	struct hc_types_options to = { .unwind = j->a->unwind, .threads = j->threads };
	j->err = hc_types_infer_opts(j->a->graph, j->a->symbols, &to, &j->a->types);
	j->types_seconds = now() - start;
	return NULL;
}

/*
 * One phase on the calling thread, timed, its peak memory read. The walk,
 * the graph's scan and the types' passes each read the core's pages in
 * address order (the last two let them go as they go); after each, the
 * kernel can drop what is left, so that the core's share of memory is one
 * pass's window, not its size. Pages read later (a few chains) come back
 * from the file.
 */
static struct hc_error *run_phase(struct hc_analysis *a, const struct hc_analysis_options *opts,
				   struct hc_rss_sampler *rss, struct hc_populator *pop, enum hc_phase p)
{
	struct hc_target *t = a->target;
	struct hc_symbols *s = a->symbols;
	struct hc_error *err = NULL;
	if (opts->phase)
		opts->phase(p, 0, opts->phase_arg);
	hc_rss_sampler_mark(rss);
	double start = now();
	switch (p) {
	case HC_PHASE_WALK: {
		struct hc_glibc_walk_options wo = opts->walk;
		if (pop) {
			wo.populator = pop;
			wo.pool_bytes_per_chunk = a->pool ? POOL_BYTES_PER_CHUNK : 0;
		}
		err = hc_glibc_walk(t, s, &wo, &a->heap);
		break;
	}
	case HC_PHASE_UNWIND:
		err = hc_unwind_threads(t, s, &a->unwind);
		break;
	case HC_PHASE_GRAPH:
		err = hc_graph_build(t, s, a->heap, &opts->graph, &a->graph);
		break;
	case HC_PHASE_LEAKS:
		err = hc_leaks_classify(a->graph, a->dominators, &a->leaks);
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
	if (p == HC_PHASE_WALK || p == HC_PHASE_GRAPH || p == HC_PHASE_TYPES)
		hc_target_release_pages(t);
	a->seconds[p] = now() - start;
	a->peak_bytes[p] = hc_rss_sampler_peak(rss);
	if (opts->phase)
		opts->phase(p, 1, opts->phase_arg);
	return err;
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
	struct hc_rss_sampler rss;
	hc_rss_sampler_start(&rss);
	/*
	 * While the walk keeps one CPU busy, the other populates the pool the
	 * later phases' arrays come from (large_alloc.h): on a VM, clearing
	 * fresh pages is a large share of their cost.
	 */
	bool want_pool = opts->pool == HC_POOL_ALWAYS || (opts->pool == HC_POOL_AUTO && t->image_size >= POOL_MIN_CORE);
	struct hc_populator *pop = want_pool ? hc_populator_start() : NULL;
	if (pop)
		a->pool = hc_pool_begin((size_t)(t->image_size / 32 + 1) * POOL_BYTES_PER_CHUNK);
	static const enum hc_phase before[] = { HC_PHASE_WALK, HC_PHASE_UNWIND, HC_PHASE_GRAPH };
	/*
	 * Leaks after dominators: which nodes are anchored comes from the
	 * dominators' DFS. Chains only get ready here: the report's questions
	 * run their search (chains.c).
	 */
	static const enum hc_phase beside[] = { HC_PHASE_DOMINATORS, HC_PHASE_LEAKS, HC_PHASE_CHAINS };
	for (size_t i = 0; i < sizeof(before) / sizeof(before[0]) && !err; i++)
		err = run_phase(a, opts, &rss, pop, before[i]);
	/*
	 * Types read the graph and the core, and nothing else reads them until
	 * the report: with two CPUs they run on one beside dominators and leaks
	 * on the other. The passes are single-threaded, so the wall time is
	 * the longer of the two sides, not the sum (docs/benchmarks.md). The
	 * peak memory of types is then the highest of the phases they ran
	 * beside.
	 */
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	bool want_beside = !err && cpus >= 2 && a->graph->nnodes >= MIN_NODES_BESIDE &&
			   (!opts->graph.threads || opts->graph.threads > 1);
	struct types_job job = { .a = a, .threads = 1 };
	pthread_t th;
	bool beside_started = want_beside && pthread_create(&th, NULL, types_run, &job) == 0;
	if (beside_started && opts->phase)
		opts->phase(HC_PHASE_TYPES, 0, opts->phase_arg);
	for (size_t i = 0; i < sizeof(beside) / sizeof(beside[0]) && !err; i++)
		err = run_phase(a, opts, &rss, pop, beside[i]);
	if (beside_started) {
		pthread_join(th, NULL);
		if (!err)
			err = job.err;
		else
			hc_error_destroy(job.err);
		hc_target_release_pages(t);
		a->seconds[HC_PHASE_TYPES] = job.types_seconds;
		uint64_t peak = hc_rss_sampler_peak(&rss);
		for (size_t i = 0; i < sizeof(beside) / sizeof(beside[0]); i++)
			if (a->peak_bytes[beside[i]] > peak)
				peak = a->peak_bytes[beside[i]];
		a->peak_bytes[HC_PHASE_TYPES] = peak;
		if (opts->phase)
			opts->phase(HC_PHASE_TYPES, 1, opts->phase_arg);
	} else {
		if (!err)
			err = run_phase(a, opts, &rss, pop, HC_PHASE_TYPES);
	}
	hc_populator_stop(pop);
	/* the scratch arrays kept for reuse between phases go before the report; the pool's with hc_analysis_trim */
	hc_large_cache_drain(true);
	hc_rss_sampler_stop(&rss);
	if (err) {
		hc_analysis_destroy(a);
		return err;
	}
	*out = a;
	return NULL;
}

void hc_analysis_trim(struct hc_analysis *a)
{
	/* the phases' scratch arrays from the pool, still kept for reuse */
	hc_large_cache_release();
	hc_graph_trim(a->graph);
	hc_leaks_trim(a->leaks, a->graph ? a->graph->nnodes : 0);
	hc_types_trim(a->types);
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
	/* last: the arrays above may have come from it */
	if (a->pool)
		hc_pool_end();
	free(a);
}
