/*
 * Waste: memory nothing is wrong with but that could be given back.
 * - Equal strings (Python): str objects of 16 characters or more, not
 *   interned, with the same text; all copies but one could go (sys.intern,
 *   or build the string once).
 * - Free memory inside glibc's arenas: free chunks and the top chunk that
 *   malloc keeps for later but the process no longer uses; malloc_trim(0)
 *   gives the whole free pages of it back to the kernel.
 * - Instances with a __dict__ each (Python): 10 000 or more of one class
 *   that does not define __slots__; __slots__ would save each instance's
 *   own dict (3.9's, or one a 3.11+ instance materialized) or its
 *   pre-header and values array (16 bytes and up).
 * - Mostly-empty containers (Python): a dict whose table is eight times or
 *   more what its items need, or a list with four times its length
 *   allocated (a dict never shrinks when items are deleted), 64 KiB or more
 *   wasted.
 * All are opportunities, never warnings: nothing grows.
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

#define MIN_INSTANCES 10000

static bool instances_without_slots(const struct hc_pyheap *h, struct hc_findings *out)
{
	uint64_t *saving = calloc(h->ntypes ? h->ntypes : 1, sizeof(*saving));
	if (!saving)
		return false;
	/* per instance of a class: its own dict if it has one (dominated by it), else the pre-header */
	for (uint32_t i = 0; i < h->n; i++) {
		uint32_t t = h->type[i];
		if (h->types[t].count < MIN_INSTANCES || !(h->flags[i] & (HC_PYOBJ_REACHABLE | HC_PYOBJ_KEPT)))
			continue;
		uint64_t s = 16;
		for (uint32_t e = h->out_start[i]; e < h->out_start[i + 1]; e++) {
			uint32_t d = h->out[e] & HC_PYEDGE_TARGET;
			if (h->idom && h->idom[d] == i && !strcmp(h->types[h->type[d]].name, "dict")) {
				s = h->size[d];
				break;
			}
		}
		saving[t] += s;
	}
	bool ok = true;
	for (uint32_t t = 0; t < h->ntypes && ok; t++) {
		if (saving[t] < (256u << 10) || !strchr(h->types[t].name, '.') ||
		    hc_pyheap_type_defines(h, t, "__slots__"))
			continue;
		/* a class (module.QualName) with instances that have a dict: not a builtin */
		char file[512] = "", size[32], title[400], evidence[300], rec[400];
		int32_t line = 0;
		if (!hc_pyheap_type_source(h, t, file, sizeof(file), &line))
			continue; /* no Python methods: a C type or a namedtuple-like one */
		hc_heuristics_bytes(saving[t], size, sizeof(size));
		snprintf(title, sizeof(title), "%llu instances of %s each carry a __dict__: __slots__ would save about %s",
			 (unsigned long long)h->types[t].count, h->types[t].name, size);
		snprintf(evidence, sizeof(evidence), "the class defines no __slots__; %llu instances, %llu bytes",
			 (unsigned long long)h->types[t].count, (unsigned long long)h->types[t].bytes);
		snprintf(rec, sizeof(rec),
			 "declare the attributes: __slots__ = ('a', 'b', ...) in %.200s (or @dataclass(slots=True))",
			 h->types[t].name);
		struct hc_finding f = { .severity = HC_SEVERITY_OPPORTUNITY,
					.kind = "instances-without-slots",
					.title = title,
					.count = h->types[t].count,
					.bytes = h->types[t].bytes,
					.retained_bytes = saving[t],
					.location = h->types[t].name,
					.file = file,
					.line = line,
					.evidence = evidence,
					.recommendation = rec,
					.expected_reduction = saving[t],
					.confidence = 0.6 };
		ok = hc_findings_add(out, &f);
	}
	free(saving);
	return ok;
}

static bool sparse_containers(const struct hc_pyheap *h, struct hc_findings *out)
{
	bool ok = true;
	for (uint32_t i = 0; i < h->n && ok; i++) {
		const char *tn = h->types[h->type[i]].name;
		bool dict = !strcmp(tn, "dict"), list = !strcmp(tn, "list");
		uint64_t len;
		if ((!dict && !list) || h->size[i] < (64u << 10) || !(h->flags[i] & HC_PYOBJ_REACHABLE) ||
		    !hc_pyheap_len(h, i, &len))
			continue;
		/* what the same items would take in a fresh container, near enough */
		uint64_t need = dict ? 64 + len * 40 : 56 + len * 8;
		if (h->size[i] < (dict ? 8 : 4) * need || h->size[i] - need < (64u << 10))
			continue;
		char path[1024], name[512], size[32], title[700], evidence[300], rec[300];
		hc_pyheap_path(h, i, path, sizeof(path));
		hc_heuristics_python_name(path, name, sizeof(name));
		hc_heuristics_bytes(h->size[i] - need, size, sizeof(size));
		snprintf(title, sizeof(title), "%s %s is mostly empty: %llu items in %llu bytes, %s to spare", tn, name,
			 (unsigned long long)len, (unsigned long long)h->size[i], size);
		snprintf(evidence, sizeof(evidence), "%s of %llu items would take about %llu bytes", tn,
			 (unsigned long long)len, (unsigned long long)need);
		snprintf(rec, sizeof(rec), "%s",
			 dict ? "rebuild it once it has shrunk (d = dict(d)): a dict keeps its table when items are deleted"
			      : "copy it once it has shrunk (l = l[:] or list(l)), or build it at its final size");
		struct hc_finding f = { .severity = HC_SEVERITY_OPPORTUNITY,
					.kind = "sparse-container",
					.title = title,
					.count = len,
					.bytes = h->size[i],
					.retained_bytes = h->size[i] - need,
					.address = h->addr[i],
					.location = name,
					.path = path,
					.evidence = evidence,
					.recommendation = rec,
					.expected_reduction = h->size[i] - need,
					.confidence = 0.8 };
		ok = hc_findings_add(out, &f);
	}
	return ok;
}

bool hc_detect_waste(const struct hc_heuristics_input *in, struct hc_findings *out)
{
	if (in->py && (!instances_without_slots(in->py, out) || !sparse_containers(in->py, out)))
		return false;
	if (in->py && !duplicate_strings(in->py, out))
		return false;
	if (in->a && in->a->heap && !free_in_arenas(in->a, out))
		return false;
	return true;
}
