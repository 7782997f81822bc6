/*
 * Unbounded containers (Python): a dict, list, set or deque that is large
 * (10 000 items or more, and its retained bytes enough for a finding) and
 * anchored somewhere that lives as long as the process: a module global,
 * a class attribute, a singleton reachable from sys.modules, or C's static
 * data. A container only a thread's frame holds is a local that goes when
 * the function returns: not reported. The evidence looks for what a cache
 * that never evicts leaves behind: keys that look like counters or request
 * ids ('key-17', 1234, uuids), values all of one type; each raises the
 * confidence. Containers mostly of callbacks are listener_leaks.c's.
 */
#include "heuristics.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MIN_ITEMS 10000
#define SAMPLE 64

/* Whether a key looks generated: digits at its end (a counter, an id), or a uuid's hex and dashes. */
static bool id_like(const char *s)
{
	size_t n = strlen(s), digits = 0, hex = 0;
	while (digits < n && isdigit((unsigned char)s[n - 1 - digits]))
		digits++;
	for (size_t i = 0; i < n; i++)
		hex += isxdigit((unsigned char)s[i]) || s[i] == '-';
	return (digits >= 1 && digits * 3 >= n / 2) || (n >= 16 && hex == n);
}

static bool is_callback(const char *tn)
{
	return !strcmp(tn, "method") || !strcmp(tn, "function") || !strcmp(tn, "functools.partial") ||
	       !strcmp(tn, "builtin_function_or_method");
}

bool hc_detect_unbounded_containers(const struct hc_heuristics_input *in, struct hc_findings *out)
{
	const struct hc_pyheap *h = in->py;
	if (!h || !h->retained)
		return true;
	bool ok = true;
	for (uint32_t i = 0; i < h->n && ok; i++) {
		const char *tn = h->types[h->type[i]].name;
		uint64_t len;
		enum hc_severity sev;
		if (!hc_heuristics_big_container(h, i, HC_PYOBJ_REACHABLE, MIN_ITEMS, out, &len, &sev))
			continue;
		char path[1024];
		hc_pyheap_path(h, i, path, sizeof(path));
		size_t plen = strlen(path);
		/* long-lived anchors only; not sys.modules, a module's or a class's namespace, a frame's local */
		if (strncmp(path, "sys.modules[", 12) || !strcmp(path, "sys.modules") ||
		    (plen > 9 && !strcmp(path + plen - 9, ".__dict__")) || strstr(path, "<thread"))
			continue;
		/* a sample of its items: keys (dicts) and values */
		uint32_t nkeys = 0, idkeys = 0, nvals = 0, callbacks = 0, same = 0, first_type = UINT32_MAX;
		bool dict = !strcmp(tn, "dict");
		for (uint32_t e = h->out_start[i], k = 0; e < h->out_start[i + 1] && k < 2 * SAMPLE; e++, k++) {
			uint32_t d = h->out[e] & HC_PYEDGE_TARGET;
			bool is_key = dict && !(k & 1);
			if (is_key) {
				char s[128];
				bool interned;
				nkeys++;
				if (hc_pyheap_str(h, d, s, sizeof(s), &interned))
					idkeys += id_like(s);
				else if (!strcmp(h->types[h->type[d]].name, "int"))
					idkeys++;
				continue;
			}
			nvals++;
			callbacks += is_callback(h->types[h->type[d]].name);
			if (first_type == UINT32_MAX)
				first_type = h->type[d];
			same += h->type[d] == first_type;
		}
		if (nvals && callbacks * 2 >= nvals)
			continue; /* callbacks: listener_leaks.c */
		double confidence = 0.5;
		char evidence[600], size[32], title[1200], rec[500], name[512], file[512] = "";
		size_t w = (size_t)snprintf(evidence, sizeof(evidence), "%" PRIu64 " items held by a long-lived anchor",
					    len);
		if (nkeys && idkeys * 10 >= nkeys * 8) {
			confidence += 0.2;
			w += (size_t)snprintf(evidence + w, sizeof(evidence) - w,
					      "; keys look generated (counters, ids): %u of %u sampled", idkeys, nkeys);
		}
		if (nvals && same * 10 >= nvals * 9 && first_type != UINT32_MAX) {
			confidence += 0.15;
			w += (size_t)snprintf(evidence + w, sizeof(evidence) - w, "; values all of one type (%s)",
					      h->types[first_type].name);
		}
		if (len >= 100000)
			confidence += 0.1;
		snprintf(evidence + w, sizeof(evidence) - w, "; no bound (maxsize, maxlen) is visible");
		hc_heuristics_python_name(path, name, sizeof(name));
		hc_heuristics_module_file(h, i, file, sizeof(file));
		hc_heuristics_bytes(h->retained[i], size, sizeof(size));
		snprintf(title, sizeof(title), "%s %s grows without bound: %" PRIu64 " items holding %s", tn, name, len,
			 size);
		if (dict)
			snprintf(rec, sizeof(rec),
				 "bound it: decorate the function that fills it with functools.lru_cache(maxsize=N), or "
				 "keep an OrderedDict and popitem(last=False) past N entries, or use a TTL cache; "
				 "delete entries that are done with");
		else if (!strcmp(tn, "collections.deque"))
			snprintf(rec, sizeof(rec), "give it a bound: collections.deque(maxlen=N)");
		else
			snprintf(rec, sizeof(rec),
				 "remove items once they are consumed, or keep the last N: collections.deque(maxlen=N)");
		uint64_t keep = h->retained[i] / len * 1000;
		struct hc_finding f = { .severity = sev,
					.kind = "unbounded-container",
					.title = title,
					.count = len,
					.bytes = h->size[i],
					.retained_bytes = h->retained[i],
					.address = h->addr[i],
					.location = name,
					.file = file,
					.path = path,
					.evidence = evidence,
					.recommendation = rec,
					.expected_reduction = h->retained[i] > keep ? h->retained[i] - keep : 0,
					.confidence = confidence > 0.95 ? 0.95 : confidence };
		ok = hc_findings_add(out, &f);
	}
	return ok;
}
