/*
 * Listener leaks (Python): a list, set, dict or deque of 20 or more items
 * that are mostly callbacks held strongly (bound methods, functions,
 * functools.partial): the registry of an event bus, a signal, an observer
 * list. Bound methods keep their instance alive, and through it whatever
 * the instance holds, long after the rest of the program let go of it. The
 * finding names the registry (its path) and the callback (`Widget.on_event`),
 * how many distinct instances it keeps and the bytes it retains. Callbacks
 * held through weakref.WeakMethod or a WeakSet are weak references, not
 * callbacks, and are not counted. Namespaces (a class's or a module's
 * __dict__) and dicts of plain functions (dispatch tables) are not
 * registries.
 */
#include "heuristics.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MIN_CALLBACKS 20

bool hc_detect_listener_leaks(const struct hc_heuristics_input *in, struct hc_findings *out)
{
	const struct hc_pyheap *h = in->py;
	if (!h || !h->retained)
		return true;
	bool ok = true;
	for (uint32_t i = 0; i < h->n && ok; i++) {
		const char *tn = h->types[h->type[i]].name;
		uint64_t len;
		enum hc_severity sev;
		if (!hc_heuristics_big_container(h, i, HC_PYOBJ_REACHABLE | HC_PYOBJ_KEPT, MIN_CALLBACKS, out, &len, &sev))
			continue;
		bool dict = !strcmp(tn, "dict");
		uint32_t items = 0, methods = 0, funcs = 0, example = UINT32_MAX, self_type = UINT32_MAX;
		uint32_t func = UINT32_MAX;
		bool one_func = true;
		for (uint32_t e = h->out_start[i], k = 0; e < h->out_start[i + 1]; e++, k++) {
			if (dict && !(k & 1))
				continue;
			uint32_t d = h->out[e] & HC_PYEDGE_TARGET;
			const char *dn = h->types[h->type[d]].name;
			items++;
			if (!strcmp(dn, "method") && h->out_start[d + 1] - h->out_start[d] >= 2) {
				/* a bound method's references: __func__, then __self__ */
				uint32_t f = h->out[h->out_start[d]] & HC_PYEDGE_TARGET,
					 self = h->out[h->out_start[d] + 1] & HC_PYEDGE_TARGET;
				methods++;
				if (example == UINT32_MAX) {
					example = d;
					func = f;
					self_type = h->type[self];
				}
				one_func &= f == func;
			} else if (!strcmp(dn, "function") || !strcmp(dn, "functools.partial")) {
				funcs++;
				if (example == UINT32_MAX)
					example = d;
			}
		}
		uint32_t callbacks = methods + funcs;
		/* a dict of plain functions is a namespace or a dispatch table, not a registry */
		if (callbacks < MIN_CALLBACKS || callbacks * 10 < items * 8 || (dict && !methods))
			continue;
		char path[1024], name[512], cb[300], size[32], title[1400], evidence[600], rec[900];
		hc_pyheap_path(h, i, path, sizeof(path));
		size_t plen = strlen(path);
		if (plen > 9 && !strcmp(path + plen - 9, ".__dict__"))
			continue; /* a class's or a module's namespace */
		hc_heuristics_python_name(path, name, sizeof(name));
		if (methods && func != UINT32_MAX) {
			char fp[256];
			hc_pyheap_preview(h, func, fp, sizeof(fp)); /* <function Widget.on_event> */
			size_t n = strlen(fp);
			if (!strncmp(fp, "<function ", 10) && n > 11)
				snprintf(cb, sizeof(cb), "%.*s", (int)(n - 11), fp + 10);
			else
				snprintf(cb, sizeof(cb), "%s", fp);
		} else {
			hc_pyheap_preview(h, example, cb, sizeof(cb));
		}
		hc_heuristics_bytes(h->retained[i], size, sizeof(size));
		snprintf(title, sizeof(title), "%s holds %u callbacks (%s%s), keeping %s alive", name, callbacks, cb,
			 methods && one_func && methods == callbacks ? " of each instance" : " and others", size);
		snprintf(evidence, sizeof(evidence),
			 "%u of its %u items are strong callbacks (%u bound methods%s%s); a bound method keeps its "
			 "instance and all it holds",
			 callbacks, items, methods, methods && self_type != UINT32_MAX ? " of " : "",
			 methods && self_type != UINT32_MAX ? h->types[self_type].name : "");
		snprintf(rec, sizeof(rec),
			 "unsubscribe when a subscriber is done (%.300s.remove(callback)), or hold callbacks weakly: "
			 "weakref.WeakMethod(obj.method) for bound methods, a weakref.WeakSet of subscribers",
			 name);
		char file[512];
		hc_heuristics_module_file(h, i, file, sizeof(file));
		struct hc_finding f = { .severity = sev,
					.kind = "listener-leak",
					.file = file,
					.title = title,
					.count = callbacks,
					.bytes = h->size[i],
					.retained_bytes = h->retained[i],
					.address = h->addr[i],
					.location = name,
					.path = path,
					.evidence = evidence,
					.recommendation = rec,
					.expected_reduction = h->retained[i] > h->size[i] ? h->retained[i] - h->size[i] : 0,
					.confidence = methods && one_func ? 0.85 : 0.7 };
		ok = hc_findings_add(out, &f);
	}
	return ok;
}
