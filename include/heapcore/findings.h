/*
 * Findings: what is wrong with a process's memory, each with its impact,
 * where it is anchored, the chain that keeps it, the evidence, what to
 * change and how sure heapcore is (src/findings.c). The detectors live in
 * heuristics/, one per file (docs/heuristics.md says what each looks for
 * and its thresholds); they are fed the native analysis and, for a Python
 * process, its object graph, and add findings; the list is then ranked by
 * retained bytes weighed by confidence, so the first is the one to fix
 * first.
 */
#ifndef HEAPCORE_FINDINGS_H
#define HEAPCORE_FINDINGS_H

#include <stdbool.h>
#include <stdint.h>

#include "heapcore/analysis.h"
#include "heapcore/cpython_heap.h"

enum hc_severity {
	HC_SEVERITY_OPPORTUNITY = 0, /* memory that could be saved; nothing is growing */
	HC_SEVERITY_WARNING = 1,
	HC_SEVERITY_CRITICAL = 2,
};

const char *hc_severity_name(enum hc_severity s); /* "opportunity", "warning", "critical" */
/* By name; false if none is so named. */
bool hc_severity_parse(const char *name, enum hc_severity *out);

struct hc_finding {
	enum hc_severity severity;
	const char *kind;            /* "leaked-cluster", "garbage-cycle", "unbounded-container", ... (static) */
	char *title;                 /* one line */
	uint64_t count;              /* objects or allocations it is about */
	uint64_t bytes;              /* their own bytes */
	uint64_t retained_bytes;     /* what they keep alive */
	uint64_t address;            /* the anchor: a container, a cluster's head; 0 if none */
	char *location;              /* the anchor by name: "app._cache", "g_list", "Node" */
	char *file;                  /* where that is declared, if known */
	int32_t line;                /* and its line; 0 if unknown */
	char *path;                  /* the chain from a root, spelled for the user; "" if none */
	char *evidence;              /* why heapcore thinks so */
	char *recommendation;        /* what to change, with a short fix */
	uint64_t expected_reduction; /* bytes the fix would give back */
	double confidence;           /* 0..1 */
};

struct hc_findings {
	struct hc_finding *items;    /* ranked: retained bytes x confidence, largest first */
	uint32_t n, cap;
	uint64_t process_bytes;      /* what the thresholds are relative to: heap in use and Python objects */
};

/* What the detectors read. py and runtime are NULL for a process without Python. */
struct hc_heuristics_input {
	const struct hc_analysis *a;
	const struct hc_cpython_runtime *runtime;
	const struct hc_pyheap *py;
};

/* Runs every detector and ranks what they found. Only allocation failure is an error. */
struct hc_error *hc_findings_collect(const struct hc_heuristics_input *in, struct hc_findings *out);
void hc_findings_free(struct hc_findings *f);
/* Ranks f's items: retained bytes x confidence, largest first (what collect does last). */
void hc_findings_rank(struct hc_findings *f);

/*
 * For the detectors (heuristics/): the severity an impact of `bytes` has
 * (critical: a fifth of the process and 1 MiB, or 256 MiB; warning: a
 * twentieth and 256 KiB; opportunity: 16 KiB); false if below all.
 */
bool hc_findings_severity_for(const struct hc_findings *f, uint64_t bytes, enum hc_severity *out);
/* Adds one; the strings are copied (NULL taken as ""). False if out of memory. */
bool hc_findings_add(struct hc_findings *f, const struct hc_finding *x);

#endif
