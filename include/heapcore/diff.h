/*
 * Growth between two snapshots of one program (`heapcore diff`): what each
 * analysis keeps of itself for comparing (a snapshot: the program's
 * identity, the core's time, every type's count and bytes, every owner's
 * retained bytes and allocations, every large Python container by its
 * path and length), and the comparison of two of them: growth per type
 * and per owner, findings new or worse, the rate and a projection. The
 * snapshot is JSON so that the analysis it came from can be freed before
 * the next one runs: two cores never need to be in memory at once.
 */
#ifndef HEAPCORE_DIFF_H
#define HEAPCORE_DIFF_H

#include <jansson.h>
#include <stdio.h>

#include "heapcore/analysis.h"
#include "heapcore/cpython.h"
#include "heapcore/cpython_heap.h"
#include "heapcore/error.h"

/*
 * The snapshot of analysis a (with the Python heap ph and its runtime rt
 * when the process runs Python, else NULL): heapcore.snapshot/1, keys in
 * docs/json.md. NULL on allocation failure.
 */
json_t *hc_diff_snapshot(const struct hc_analysis *a, const struct hc_cpython_runtime *rt,
			 const struct hc_pyheap *ph);

struct hc_diff_options {
	double interval;           /* seconds between the snapshots; 0: from the cores' times */
	uint64_t limit;            /* bytes the process may reach (--limit), for the projection; 0: none */
	bool force;                /* compare even if the programs look different */
};

/*
 * Compares two analyze reports that carry a snapshot (the older first):
 * heapcore.diff/1 in *out. HC_ERR_USAGE if they are of different programs
 * (unless opts->force), naming both.
 */
struct hc_error *hc_diff_compare(const json_t *old_report, const json_t *new_report,
				 const struct hc_diff_options *opts, json_t **out);

/* The diff as text: growth findings first (as analyze's findings), then the tables. */
void hc_report_diff_text(const json_t *diff, FILE *out);

#endif
