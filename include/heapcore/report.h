/*
 * Reports: what the commands print. Each report is built once as a JSON
 * document (the stable, scriptable form; keys documented in docs/json.md) and
 * the text form is rendered from the same data, so the two never disagree.
 */
#ifndef HEAPCORE_REPORT_H
#define HEAPCORE_REPORT_H

#include <jansson.h>
#include <stdio.h>

#include "heapcore/glibc_heap.h"
#include "heapcore/symbols.h"
#include "heapcore/target.h"

/* `heapcore info`: process, signal, threads, modules, mappings. NULL on allocation failure. */
json_t *hc_report_info(const struct hc_target *t, const struct hc_symbols *s);
void hc_report_info_text(const json_t *info, FILE *out);

/* `heapcore heap`: per arena and in total, counts and bytes per chunk state, size histogram. */
json_t *hc_report_heap(const struct hc_target *t, const struct hc_glibc_heap *h);
void hc_report_heap_text(const json_t *heap, FILE *out);

/* {"partial": bool, "warnings": [...]} merged into a report's top level. */
int hc_report_add_warnings(json_t *report, const struct hc_warnings *w);
void hc_report_warnings_text(const json_t *report, FILE *out);

/* "0x1234" */
json_t *hc_json_address(uint64_t addr);
/* Reads back an address written by hc_json_address; false if absent or malformed. */
int hc_json_get_address(const json_t *obj, const char *key, uint64_t *out);

#endif
