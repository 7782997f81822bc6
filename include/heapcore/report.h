/*
 * Reports: what the commands print. Each report is built once as a JSON
 * document (the stable, scriptable form; keys documented in docs/json.md) and
 * the text form is rendered from the same data, so the two never disagree.
 */
#ifndef HEAPCORE_REPORT_H
#define HEAPCORE_REPORT_H

#include <jansson.h>
#include <stdio.h>

#include "heapcore/analysis.h"
#include "heapcore/glibc_heap.h"
#include "heapcore/symbols.h"
#include "heapcore/target.h"

/*
 * `heapcore info`: process, signal, threads, the Python runtime if any
 * (its warnings go to t->warnings), modules, mappings. NULL on allocation
 * failure.
 */
json_t *hc_report_info(struct hc_target *t, const struct hc_symbols *s);
void hc_report_info_text(const json_t *info, FILE *out);

/* `heapcore heap`: per arena and in total, counts and bytes per chunk state, size histogram. */
json_t *hc_report_heap(const struct hc_target *t, const struct hc_glibc_heap *h);
void hc_report_heap_text(const json_t *heap, FILE *out);

/* `heapcore analyze`: heap totals, leaks grouped, owners and allocations ranked by retained bytes. */
json_t *hc_report_analyze(const struct hc_analysis *a);
/* The same with a "snapshot" member (heapcore/diff.h): what `heapcore diff` compares. */
json_t *hc_report_analyze_with_snapshot(const struct hc_analysis *a);
void hc_report_analyze_text(const json_t *report, FILE *out);

/*
 * `heapcore explain ADDR`: what the address is, why it is alive or leaked, its
 * references; with scan_free, also the free chunks whose stale words still
 * point into it (free memory is never an edge of the graph).
 */
json_t *hc_report_explain(const struct hc_analysis *a, uint64_t addr, bool scan_free);
void hc_report_explain_text(const json_t *report, FILE *out);

/* The chain that keeps node alive, root first, as JSON steps; an empty array if it is leaked. */
json_t *hc_report_chain(const struct hc_analysis *a, uint32_t node);
/* The same, also writing it as one line into path: "g_list -> .next -> .next". */
json_t *hc_report_chain_path(const struct hc_analysis *a, uint32_t node, char *path, size_t path_len);

/* The type name of an allocation (vtable, DWARF or signature), or NULL. */
const char *hc_report_node_type(const struct hc_analysis *a, uint32_t node);

/* {"partial": bool, "warnings": [...]} merged into a report's top level. */
int hc_report_add_warnings(json_t *report, const struct hc_warnings *w);
void hc_report_warnings_text(const json_t *report, FILE *out);

/* "0x1234" */
json_t *hc_json_address(uint64_t addr);
/* Readers for the text renderers: "" and 0 for a missing key. */
const char *hc_json_str(const json_t *obj, const char *key);
long long hc_json_int(const json_t *obj, const char *key);

#endif
