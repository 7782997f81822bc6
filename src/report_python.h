/*
 * Private to the report: the Python object graph's part of analyze's report
 * (report_python.c).
 */
#ifndef HEAPCORE_REPORT_PYTHON_H
#define HEAPCORE_REPORT_PYTHON_H

#include <jansson.h>
#include <stdio.h>

#include "heapcore/cpython_heap.h"
#include "heapcore/report.h"

/* {objects, containers, garbage, kept_from_outside}, to merge into analyze's "python" */
json_t *hc_report_python_heap(const struct hc_pyheap *h);
void hc_report_python_text(const json_t *py, FILE *out);

/* explain's "python" part: the Python object at addr, or NULL if it is none (or no Python ran). */
json_t *hc_report_python_object(struct hc_target *t, const struct hc_symbols *s, const struct hc_glibc_heap *g,
				uint64_t addr);
void hc_report_python_object_text(const json_t *o, FILE *out);

#endif
