/*
 * Waste: memory nothing is wrong with but that could be given back.
 * - Equal strings (Python): str objects of 16 characters or more, not
 *   interned, with the same text; all copies but one could go (sys.intern,
 *   or build the string once).
 * - Free memory inside glibc's arenas: free chunks and the top chunk that
 *   malloc keeps for later but the process no longer uses; malloc_trim(0)
 *   gives the whole free pages of it back to the kernel.
 * Both are opportunities, never warnings: nothing grows.
 */
#include "heuristics.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MIN_LEN 16

struct str_entry {
	uint64_t hash;
	uint32_t obj;
};

static int by_hash(const void *a, const void *b)
{
	const struct str_entry *x = a, *y = b;
	return (x->hash > y->hash) - (x->hash < y->hash);
}

static uint64_t fnv1a(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ull;
	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 0x100000001b3ull;
	return h;
}

static bool duplicate_strings(const struct hc_pyheap *h, struct hc_findings *out)
{
	uint32_t n = 0;
	for (uint32_t i = 0; i < h->n; i++)
		n += !strcmp(h->types[h->type[i]].name, "str") && (h->flags[i] & HC_PYOBJ_REACHABLE);
	struct str_entry *e = malloc((n ? n : 1) * sizeof(*e));
	if (!e)
		return false;
	n = 0;
	char s[512];
	for (uint32_t i = 0; i < h->n; i++) {
		bool interned;
		if (strcmp(h->types[h->type[i]].name, "str") || !(h->flags[i] & HC_PYOBJ_REACHABLE) ||
		    !hc_pyheap_str(h, i, s, sizeof(s), &interned) || interned || strlen(s) < MIN_LEN)
			continue;
		e[n++] = (struct str_entry){ fnv1a(s), i };
	}
	qsort(e, n, sizeof(*e), by_hash);
	uint64_t copies = 0, wasted = 0, distinct = 0, best = 0;
	uint32_t example = UINT32_MAX;
	for (uint32_t a = 0, b; a < n; a = b) {
		for (b = a + 1; b < n && e[b].hash == e[a].hash; b++)
			;
		if (b - a < 2)
			continue;
		distinct++;
		copies += b - a - 1;
		uint64_t w = 0;
		for (uint32_t k = a + 1; k < b; k++)
			w += h->size[e[k].obj];
		wasted += w;
		if (w > best) {
			best = w;
			example = e[a].obj;
		}
	}
	free(e);
	if (wasted < (64u << 10) || example == UINT32_MAX)
		return true;
	char size[32], title[300], evidence[700], pv[200];
	hc_heuristics_bytes(wasted, size, sizeof(size));
	hc_pyheap_preview(h, example, pv, sizeof(pv));
	snprintf(title, sizeof(title), "%s in %" PRIu64 " duplicate copies of %" PRIu64 " strings", size, copies,
		 distinct);
	snprintf(evidence, sizeof(evidence),
		 "equal str objects, not interned, %d characters or more; the most wasteful: %s", MIN_LEN, pv);
	struct hc_finding f = { .severity = HC_SEVERITY_OPPORTUNITY,
				.kind = "duplicate-strings",
				.title = title,
				.count = copies,
				.bytes = wasted,
				.retained_bytes = wasted,
				.address = h->addr[example],
				.location = "str",
				.evidence = evidence,
				.recommendation = "make each once and share it: sys.intern(s) where they are read in, or a "
						  "dict that maps each value to its one string",
				.expected_reduction = wasted,
				.confidence = 0.7 };
	return hc_findings_add(out, &f);
}

static bool free_in_arenas(const struct hc_analysis *a, struct hc_findings *out)
{
	const struct hc_glibc_heap *g = a->heap;
	uint64_t used = g->totals[HC_CHUNK_USED].bytes;
	uint64_t free_bytes = g->totals[HC_CHUNK_FREE].bytes + g->totals[HC_CHUNK_FASTBIN].bytes +
			      g->totals[HC_CHUNK_TCACHE].bytes + g->totals[HC_CHUNK_TOP].bytes;
	if (free_bytes < (64ull << 20) && (free_bytes < (1u << 20) || free_bytes * 10 < (used + free_bytes) * 3))
		return true;
	char size[32], title[200], evidence[300];
	hc_heuristics_bytes(free_bytes, size, sizeof(size));
	snprintf(title, sizeof(title), "%s free inside glibc's arenas, kept by malloc", size);
	snprintf(evidence, sizeof(evidence),
		 "%" PRIu64 " bytes in free chunks, fastbins, tcache and top, against %" PRIu64 " in use",
		 free_bytes, used);
	struct hc_finding f = { .severity = HC_SEVERITY_OPPORTUNITY,
				.kind = "free-in-arenas",
				.title = title,
				.count = g->totals[HC_CHUNK_FREE].count + g->totals[HC_CHUNK_FASTBIN].count +
					 g->totals[HC_CHUNK_TCACHE].count,
				.bytes = free_bytes,
				.retained_bytes = free_bytes,
				.location = "glibc malloc",
				.evidence = evidence,
				.recommendation = "call malloc_trim(0) after the peak (from Python: "
						  "ctypes.CDLL('libc.so.6').malloc_trim(0)), or lower M_ARENA_MAX / "
						  "M_TRIM_THRESHOLD (MALLOC_ARENA_MAX=2)",
				.expected_reduction = free_bytes,
				.confidence = 0.5 };
	return hc_findings_add(out, &f);
}

bool hc_detect_waste(const struct hc_heuristics_input *in, struct hc_findings *out)
{
	if (in->py && !duplicate_strings(in->py, out))
		return false;
	if (in->a && in->a->heap && !free_in_arenas(in->a, out))
		return false;
	return true;
}
