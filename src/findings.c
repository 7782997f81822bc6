/*
 * The findings list (heapcore/findings.h): severities and their thresholds,
 * adding, running the detectors of heuristics/ and ranking.
 */
#include "heapcore/findings.h"

#include <stdlib.h>
#include <string.h>

#include "../heuristics/heuristics.h"

static const char *const severity_names[] = { "opportunity", "warning", "critical" };

const char *hc_severity_name(enum hc_severity s)
{
	return (unsigned)s < 3 ? severity_names[s] : "?";
}

bool hc_severity_parse(const char *name, enum hc_severity *out)
{
	for (int i = 0; i < 3; i++)
		if (!strcmp(name, severity_names[i])) {
			*out = (enum hc_severity)i;
			return true;
		}
	return false;
}

bool hc_findings_severity_for(const struct hc_findings *f, uint64_t bytes, enum hc_severity *out)
{
	uint64_t p = f->process_bytes;
	if (bytes >= (256ull << 20) || (bytes >= (1u << 20) && bytes * 5 >= p))
		*out = HC_SEVERITY_CRITICAL;
	else if (bytes >= (256u << 10) && bytes * 20 >= p)
		*out = HC_SEVERITY_WARNING;
	else if (bytes >= (16u << 10))
		*out = HC_SEVERITY_OPPORTUNITY;
	else
		return false;
	return true;
}

static char *dup_or_empty(const char *s)
{
	return strdup(s ? s : "");
}

bool hc_findings_add(struct hc_findings *f, const struct hc_finding *x)
{
	if (f->n == f->cap) {
		uint32_t cap = f->cap ? f->cap * 2 : 16;
		struct hc_finding *a = realloc(f->items, cap * sizeof(*a));
		if (!a)
			return false;
		f->items = a;
		f->cap = cap;
	}
	struct hc_finding *y = &f->items[f->n];
	*y = *x;
	y->title = dup_or_empty(x->title);
	y->location = dup_or_empty(x->location);
	y->file = dup_or_empty(x->file);
	y->path = dup_or_empty(x->path);
	y->evidence = dup_or_empty(x->evidence);
	y->recommendation = dup_or_empty(x->recommendation);
	if (!y->title || !y->location || !y->file || !y->path || !y->evidence || !y->recommendation) {
		free(y->title);
		free(y->location);
		free(y->file);
		free(y->path);
		free(y->evidence);
		free(y->recommendation);
		return false;
	}
	f->n++;
	return true;
}

static double score(const struct hc_finding *x)
{
	return (double)x->retained_bytes * x->confidence;
}

static int by_score(const void *a, const void *b)
{
	double x = score(a), y = score(b);
	if (x != y)
		return x > y ? -1 : 1;
	return strcmp(((const struct hc_finding *)a)->title, ((const struct hc_finding *)b)->title);
}

struct hc_error *hc_findings_collect(const struct hc_heuristics_input *in, struct hc_findings *out)
{
	memset(out, 0, sizeof(*out));
	const struct hc_glibc_heap *h = in->a ? in->a->heap : NULL;
	if (h)
		out->process_bytes += h->totals[HC_CHUNK_USED].bytes + h->totals[HC_CHUNK_MMAPPED].bytes;
	if (in->py)
		out->process_bytes += in->py->bytes;
	static bool (*const detectors[])(const struct hc_heuristics_input *, struct hc_findings *) = {
		hc_detect_leaked_clusters, hc_detect_garbage_cycles, hc_detect_unbounded_containers,
		hc_detect_listener_leaks,  hc_detect_waste,
	};
	for (size_t i = 0; i < sizeof(detectors) / sizeof(detectors[0]); i++)
		if (!detectors[i](in, out)) {
			hc_findings_free(out);
			return &hc_error_nomem;
		}
	hc_findings_rank(out);
	return NULL;
}

void hc_findings_rank(struct hc_findings *f)
{
	if (f->n)
		qsort(f->items, f->n, sizeof(*f->items), by_score);
}

void hc_findings_free(struct hc_findings *f)
{
	for (uint32_t i = 0; i < f->n; i++) {
		struct hc_finding *x = &f->items[i];
		free(x->title);
		free(x->location);
		free(x->file);
		free(x->path);
		free(x->evidence);
		free(x->recommendation);
	}
	free(f->items);
	memset(f, 0, sizeof(*f));
}
