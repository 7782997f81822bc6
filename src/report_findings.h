/*
 * Private to the report: the findings' part of analyze's report
 * (report_findings.c): JSON `findings` and `summary`, and the text's ranked
 * sections.
 */
#ifndef HEAPCORE_REPORT_FINDINGS_H
#define HEAPCORE_REPORT_FINDINGS_H

#include <jansson.h>
#include <stdio.h>

#include "heapcore/findings.h"

/* Sets r's "findings" and "summary". */
void hc_report_findings_json(const struct hc_findings *f, json_t *r);
/* CRITICAL ISSUES, WARNINGS, OPTIMIZATION OPPORTUNITIES and SUMMARY, from r's findings. */
void hc_report_findings_text(const json_t *r, FILE *out);

#endif
