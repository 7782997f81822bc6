/*
 * One whole analysis of a target: the allocator walk, the reference graph,
 * types, leak classification, dominators and chains, each phase timed and
 * its peak memory sampled. With two CPUs, types and chains run on a thread
 * beside leaks and dominators, and a thread populates the big arrays' pool
 * while the walk runs (src/large_alloc.h). This is the library's main entry
 * point; the CLI's analyze and explain commands are thin layers over it.
 */
#ifndef HEAPCORE_ANALYSIS_H
#define HEAPCORE_ANALYSIS_H

#include "heapcore/glibc_heap.h"
#include "heapcore/graph.h"
#include "heapcore/symbols.h"
#include "heapcore/target.h"
#include "heapcore/types.h"
#include "heapcore/unwind.h"

enum hc_phase {
	HC_PHASE_WALK,
	HC_PHASE_UNWIND,
	HC_PHASE_GRAPH,
	HC_PHASE_TYPES,
	HC_PHASE_LEAKS,
	HC_PHASE_DOMINATORS,
	HC_PHASE_CHAINS,
	HC_PHASE_COUNT,
};

const char *hc_phase_name(enum hc_phase p);

/* Whether the big arrays come from a pool populated during the walk (src/large_alloc.h). */
enum hc_pool_use {
	HC_POOL_AUTO = 0,          /* for cores of 64 MiB and more, given two CPUs */
	HC_POOL_ALWAYS = 1,        /* whatever the core's size (tests) */
	HC_POOL_NEVER = 2,
};

struct hc_analysis_options {
	struct hc_glibc_walk_options walk;
	struct hc_graph_options graph;
	enum hc_pool_use pool;
	/* called when a phase starts (done = 0) and ends (done = 1) */
	void (*phase)(enum hc_phase p, int done, void *arg);
	void *phase_arg;
};

struct hc_analysis {
	struct hc_target *target;        /* borrowed */
	struct hc_symbols *symbols;      /* borrowed */
	struct hc_glibc_heap *heap;
	struct hc_unwind *unwind;        /* every thread's frames, for naming stack roots */
	struct hc_graph *graph;
	struct hc_leaks *leaks;
	struct hc_dominators *dominators;
	struct hc_chains *chains;
	struct hc_types *types;          /* per allocation: vtable, DWARF or signature type */
	double seconds[HC_PHASE_COUNT];
	/* the process's peak resident bytes during each phase (sampled, rss_sampler.h); 0 if unknown */
	uint64_t peak_bytes[HC_PHASE_COUNT];
	bool pool;                       /* the big arrays come from the process's pool (src/large_alloc.h) */
};

struct hc_error *hc_analysis_run(struct hc_target *t, struct hc_symbols *s,
				 const struct hc_analysis_options *opts, struct hc_analysis **out);
void hc_analysis_destroy(struct hc_analysis *a);

/*
 * Gives back what only `explain` reads (the in-CSR, the shape letters and
 * slots, the address index, each node's leak class and cluster and the
 * member it was typed through) and the phases' scratch arrays still kept
 * for reuse, leaving what hc_report_analyze reads: the
 * CLI has the kernel free those pages on the idle CPU while the analyze
 * report is built. Released arrays are NULL afterwards.
 */
void hc_analysis_trim(struct hc_analysis *a);

#endif
