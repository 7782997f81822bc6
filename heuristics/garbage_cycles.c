/*
 * Reference cycles (Python): the garbage gc.collect() would free (the
 * objects the collector finds unreachable), split into its connected
 * groups, and the groups gathered by shape: the member types and the links
 * between them (`Node.other -> Node`), so that 400 000 pairs are one
 * finding. The evidence says whether the collector is disabled (then the
 * garbage never goes: high confidence) or enabled (it will go at the next
 * full collection: a cost in the meantime, lower confidence), and whether a
 * member's class defines __del__ (finalizers run in an order the cycle
 * does not define). Native leaked cycles are reported by leaked_clusters.c.
 */
#include "heuristics.h"

#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint32_t find(uint32_t *up, uint32_t x)
{
	while (up[x] != x) {
		up[x] = up[up[x]];
		x = up[x];
	}
	return x;
}

struct shape {
	char key[256];
	uint64_t groups, count, bytes;
	uint32_t example, example_via, example_to;
	bool finalizer;
};

/* A reference from o to another member of its type, directly or through a dict it holds (3.9's __dict__). */
static void find_link(const struct hc_pyheap *h, uint32_t o, uint32_t *via, uint32_t *to)
{
	const uint8_t gc = HC_PYOBJ_GC_UNREACHABLE;
	*via = *to = UINT32_MAX;
	for (uint32_t e = h->out_start[o]; e < h->out_start[o + 1]; e++) {
		uint32_t d = h->out[e] & HC_PYEDGE_TARGET;
		if ((h->flags[d] & gc) && !(h->out[e] & HC_PYEDGE_WEAK) && d != o && h->type[d] == h->type[o]) {
			*to = d;
			return;
		}
	}
	for (uint32_t e = h->out_start[o]; e < h->out_start[o + 1]; e++) {
		uint32_t d = h->out[e] & HC_PYEDGE_TARGET;
		if (!(h->flags[d] & gc) || (h->out[e] & HC_PYEDGE_WEAK) || strcmp(h->types[h->type[d]].name, "dict"))
			continue;
		for (uint32_t f = h->out_start[d]; f < h->out_start[d + 1]; f++) {
			uint32_t x = h->out[f] & HC_PYEDGE_TARGET;
			if ((h->flags[x] & gc) && x != o && h->type[x] == h->type[o]) {
				*via = d;
				*to = x;
				return;
			}
		}
	}
}

/* A component's shape: its member types, sorted and unique, as "Node" or "Node, dict". */
static void shape_of(const struct hc_pyheap *h, const uint32_t *members, uint32_t n, char *buf, size_t len)
{
	uint32_t types[8], nt = 0;
	for (uint32_t k = 0; k < n && nt < 8; k++) {
		if (!(h->flags[members[k]] & HC_PYOBJ_GC_UNREACHABLE))
			continue;
		uint32_t t = h->type[members[k]], j = 0;
		while (j < nt && types[j] != t)
			j++;
		if (j == nt)
			types[nt++] = t;
	}
	for (uint32_t a = 1; a < nt; a++)
		for (uint32_t b = a; b > 0 && strcmp(h->types[types[b - 1]].name, h->types[types[b]].name) > 0; b--) {
			uint32_t x = types[b];
			types[b] = types[b - 1];
			types[b - 1] = x;
		}
	size_t w = 0;
	buf[0] = 0;
	for (uint32_t k = 0; k < nt && w < len; k++)
		w += (size_t)snprintf(buf + w, len - w, "%s%s", k ? ", " : "", h->types[types[k]].name);
}

bool hc_detect_garbage_cycles(const struct hc_heuristics_input *in, struct hc_findings *out)
{
	const struct hc_pyheap *h = in->py;
	if (!h || !h->garbage_tracked)
		return true;
	uint32_t *up = malloc(h->n * sizeof(*up)), *order = malloc(h->n * sizeof(*order)),
		 *start = calloc((size_t)h->n + 1, sizeof(*start));
	struct shape *shapes = NULL;
	uint32_t nshapes = 0;
	bool ok = up && order && start;
	for (uint32_t i = 0; ok && i < h->n; i++)
		up[i] = i;
	/* components of all the garbage (what the cycles keep, untracked objects included); counted by their tracked members */
	const uint8_t gc = HC_PYOBJ_GARBAGE;
	for (uint32_t i = 0; ok && i < h->n; i++) {
		if (!(h->flags[i] & gc))
			continue;
		for (uint32_t e = h->out_start[i]; e < h->out_start[i + 1]; e++) {
			uint32_t d = h->out[e] & HC_PYEDGE_TARGET;
			if (!(h->out[e] & HC_PYEDGE_WEAK) && (h->flags[d] & gc))
				up[find(up, i)] = find(up, d);
		}
	}
	/* members grouped by their component's root (counting sort) */
	for (uint32_t i = 0; ok && i < h->n; i++)
		if (h->flags[i] & gc)
			start[find(up, i) + 1]++;
	for (uint32_t i = 0; ok && i < h->n; i++)
		start[i + 1] += start[i];
	for (uint32_t i = 0; ok && i < h->n; i++)
		if (h->flags[i] & gc)
			order[start[find(up, i)]++] = i;
	for (uint32_t i = h->n; ok && i > 0; i--)
		start[i] = start[i - 1];
	if (ok)
		start[0] = 0;
	for (uint32_t r = 0; ok && r < h->n; r++) {
		uint32_t n = start[r + 1] - start[r];
		if (!n)
			continue;
		const uint32_t *m = &order[start[r]];
		char key[256];
		shape_of(h, m, n, key, sizeof(key));
		if (!key[0])
			continue; /* untracked leftovers only */
		uint32_t s = 0;
		while (s < nshapes && strcmp(shapes[s].key, key))
			s++;
		if (s == nshapes) {
			if (nshapes % 16 == 0) {
				struct shape *x = realloc(shapes, (nshapes + 16) * sizeof(*x));
				if (!x) {
					ok = false;
					break;
				}
				shapes = x;
			}
			memset(&shapes[s], 0, sizeof(shapes[s]));
			snprintf(shapes[s].key, sizeof(shapes[s].key), "%s", key);
			uint32_t first = 0;
			while (first < n && !(h->flags[m[first]] & HC_PYOBJ_GC_UNREACHABLE))
				first++;
			shapes[s].example = m[first];
			shapes[s].example_to = UINT32_MAX;
			/* one link inside the cycle, to spell it (Node.other -> Node), through an instance dict if need be */
			find_link(h, m[first], &shapes[s].example_via, &shapes[s].example_to);
			for (uint32_t k = 0; k < n && k < 8; k++)
				shapes[s].finalizer |= hc_pyheap_type_defines(h, h->type[m[k]], "__del__");
			nshapes++;
		}
		shapes[s].groups++;
		for (uint32_t k = 0; k < n; k++) {
			shapes[s].count += (h->flags[m[k]] & HC_PYOBJ_GC_UNREACHABLE) != 0;
			shapes[s].bytes += h->size[m[k]];
		}
	}
	for (uint32_t s = 0; ok && s < nshapes; s++) {
		enum hc_severity sev;
		if (!hc_findings_severity_for(out, shapes[s].bytes, &sev))
			continue;
		char size[32], link[700] = "", title[1400], evidence[600], rec[1000], loc[300];
		hc_heuristics_bytes(shapes[s].bytes, size, sizeof(size));
		if (shapes[s].example_to != UINT32_MAX) {
			char label[120] = "", label2[120] = "";
			uint32_t from = shapes[s].example, via = shapes[s].example_via;
			hc_pyheap_ref_label(h, from, via != UINT32_MAX ? via : shapes[s].example_to, label, sizeof(label));
			if (via != UINT32_MAX)
				hc_pyheap_ref_label(h, via, shapes[s].example_to, label2, sizeof(label2));
			/* Node.__dict__['other'] reads better as Node.other */
			if (via != UINT32_MAX && !strcmp(label, ".__dict__") && !strncmp(label2, "['", 2)) {
				snprintf(label, sizeof(label), ".%.*s", (int)strlen(label2) - 4, label2 + 2);
				label2[0] = 0;
			}
			snprintf(link, sizeof(link), "%s%s%s -> %s", h->types[h->type[from]].name, label, label2,
				 h->types[h->type[shapes[s].example_to]].name);
		}
		snprintf(title, sizeof(title), "%s in %" PRIu64 " unreachable reference cycle(s) of %s%s%s%s", size,
			 shapes[s].groups, shapes[s].key, link[0] ? " (" : "", link, link[0] ? ")" : "");
		snprintf(evidence, sizeof(evidence),
			 "%" PRIu64 " objects nothing outside the cycles refers to: gc.collect() would free them; %s%s",
			 shapes[s].count,
			 !h->gc_enabled_known ? "whether the collector runs is unknown"
			 : !h->gc_enabled     ? "the collector is DISABLED (gc.disable()): they are never freed"
			 : h->gc_threshold0 == 0
				 ? "the collector is enabled but its threshold is 0 (gc.set_threshold(0)): it never runs "
				   "by itself, so they are never freed"
				 : "the collector is enabled: they wait for the next full collection",
			 shapes[s].finalizer ? "; a member's class defines __del__" : "");
		/* the attribute of the link, for the fix: "other" in "Node.other -> Node" */
		char attr[120] = "link";
		const char *dot = strstr(link, " -> ");
		if (dot) {
			const char *a0 = dot;
			while (a0 > link && a0[-1] != '.')
				a0--;
			if (a0 > link && dot - a0 < (ptrdiff_t)sizeof(attr) && strspn(a0, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") == (size_t)(dot - a0))
				snprintf(attr, sizeof(attr), "%.*s", (int)(dot - a0), a0);
		}
		snprintf(rec, sizeof(rec),
			 "break the cycle where it is made: hold the back link weakly (obj.%.100s = weakref.ref(other), "
			 "read as obj.%.100s()), or clear it (obj.%.100s = None) when done; %s",
			 attr, attr, attr,
			 h->gc_enabled ? "a gc.collect() after each batch frees them sooner"
				       : "or re-enable the collector (gc.enable())");
		snprintf(loc, sizeof(loc), "%s", shapes[s].key);
		char file[512] = "";
		int32_t line = 0;
		hc_pyheap_type_source(h, h->type[shapes[s].example], file, sizeof(file), &line);
		struct hc_finding f = { .severity = sev,
					.kind = "garbage-cycle",
					.file = file,
					.line = line,
					.title = title,
					.count = shapes[s].count,
					.bytes = shapes[s].bytes,
					.retained_bytes = shapes[s].bytes,
					.address = h->addr[shapes[s].example],
					.location = loc,
					.path = "",
					.evidence = evidence,
					.recommendation = rec,
					.expected_reduction = shapes[s].bytes,
					.confidence = h->gc_enabled && h->gc_threshold0 != 0 ? 0.5 : 0.95 };
		ok = hc_findings_add(out, &f);
	}
	free(up);
	free(order);
	free(start);
	free(shapes);
	return ok;
}
