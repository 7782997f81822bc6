/*
 * The `analyze` report for a native heap: what is leaked (grouped), who holds
 * the rest (owners and allocations ranked by retained bytes), each with the
 * chain of references that keeps it alive.
 */
#include "heapcore/diff.h"
#include "heapcore/report.h"

#include "heapcore/cpython.h"
#include "report_findings.h"
#include "report_python.h"

#include <inttypes.h>
#include <stdlib.h>
#include <time.h>

#define TOP_OWNERS 20
#define TOP_ALLOCATIONS 20
#define TOP_CLUSTERS 50
#define MAX_CHAIN 64

static json_t *tally_json(const struct hc_tally *t)
{
	return json_pack("{s:I, s:I}", "count", (json_int_t)t->count, "bytes", (json_int_t)t->bytes);
}

/* "0x55d0c2a6b2a0" or "0x55d0c2a6b2a0+0x10" */
static json_t *place_json(uint64_t base, uint64_t at)
{
	char buf[48];
	if (at == base)
		snprintf(buf, sizeof(buf), "0x%" PRIx64, base);
	else
		snprintf(buf, sizeof(buf), "0x%" PRIx64 "+0x%" PRIx64, base, at - base);
	return json_string(buf);
}

const char *hc_report_node_type(const struct hc_analysis *a, uint32_t node)
{
	if (!a->types || node >= a->types->nnodes)
		return NULL;
	return a->types->types[a->types->node_type[node]].name;
}

/* Names a root word: its variable (data), or its thread, frame and local (stack). */
static void name_root_word(const struct hc_analysis *a, const struct hc_owner *ow, uint64_t at, json_t *o,
			   char *label, size_t len)
{
	const struct hc_graph *g = a->graph;
	struct hc_variable var;
	snprintf(label, len, "%s", ow->name);
	if (ow->kind == HC_ROOT_DATA && a->symbols && hc_symbols_variable_at(a->symbols, at, &var)) {
		json_object_set_new(o, "variable", json_string(var.path));
		if (var.type_name[0])
			json_object_set_new(o, "type", json_string(var.type_name));
		if (var.decl_file) {
			char decl[320];
			snprintf(decl, sizeof(decl), "%s:%u", var.decl_file, var.decl_line);
			json_object_set_new(o, "declared", json_string(decl));
		}
		snprintf(label, len, "%s", var.path);
	} else if (ow->kind == HC_ROOT_STACK && a->unwind && g->roots[ow->range].thread >= 0) {
		uint32_t th = (uint32_t)g->roots[ow->range].thread;
		char where[320];
		hc_unwind_describe(a->unwind, th, at, where, sizeof(where));
		json_object_set_new(o, "frame", json_string(where));
		snprintf(label, len, "%s", where);
		if (hc_unwind_local_at(a->unwind, a->symbols, th, at, &var)) {
			json_object_set_new(o, "variable", json_string(var.path));
			if (var.type_name[0])
				json_object_set_new(o, "type", json_string(var.type_name));
			size_t n = strlen(label);
			snprintf(label + n, len - n, ", local %s", var.path);
		}
	}
}

json_t *hc_report_chain_path(const struct hc_analysis *a, uint32_t node, char *path, size_t path_len)
{
	const struct hc_graph *g = a->graph;
	struct hc_chain_step steps[MAX_CHAIN];
	uint32_t n = hc_chains_get(a->chains, g, node, steps, MAX_CHAIN);
	json_t *list = json_array();
	/* the chain in one line: "g_list -> .next -> .next", "thread 12 (main) in f() at f.c:9, local p -> +0x10" */
	size_t plen = 0;
	if (path_len)
		path[0] = 0;
	for (uint32_t i = 0; i < n && i < MAX_CHAIN; i++) {
		const struct hc_chain_step *st = &steps[i];
		json_t *o;
		char label[400] = "";
		if (st->from_owner) {
			const struct hc_owner *ow = &g->owners[st->from];
			o = json_pack("{s:s, s:s}", "owner", ow->name, "kind", hc_root_kind_name(ow->kind));
			if (ow->kind == HC_ROOT_REGISTER) {
				json_object_set_new(o, "register", json_integer((json_int_t)st->from_addr));
				snprintf(label, sizeof(label), "%s", ow->name);
			} else if (st->from_addr == HC_CHAIN_NO_ADDR) {
				snprintf(label, sizeof(label), "%s", ow->name);
			} else {
				json_object_set_new(o, "at", place_json(ow->start, st->from_addr));
				name_root_word(a, ow, st->from_addr, o, label, sizeof(label));
			}
		} else {
			uint64_t base = hc_graph_node_addr(g, st->from);
			o = json_pack("{s:o}", "allocation", hc_json_address(base));
			const char *type = hc_report_node_type(a, st->from);
			if (type)
				json_object_set_new(o, "type", json_string(type));
			if (st->from_addr != HC_CHAIN_NO_ADDR) {
				json_object_set_new(o, "at", place_json(base, st->from_addr));
				char member[200];
				if (a->types && hc_types_member_at(a->types, st->from, st->from_addr - base, member,
								   sizeof(member))) {
					json_object_set_new(o, "member", json_string(member));
					snprintf(label, sizeof(label), "%s%s", member[0] == '[' ? "" : ".", member);
				} else {
					snprintf(label, sizeof(label), "+0x%" PRIx64, st->from_addr - base);
				}
			}
		}
		json_object_set_new(o, "to", hc_json_address(hc_graph_node_addr(g, st->to)));
		if (st->interior)
			json_object_set_new(o, "interior", json_true());
		json_array_append_new(list, o);
		if (plen < path_len)
			plen += snprintf(path + plen, path_len - plen, "%s%s", i ? " -> " : "", label);
	}
	if (n > MAX_CHAIN) {
		json_array_append_new(list, json_pack("{s:I}", "more_steps", (json_int_t)(n - MAX_CHAIN)));
		if (plen < path_len)
			snprintf(path + plen, path_len - plen, " -> ... %u more", n - MAX_CHAIN);
	}
	return list;
}

json_t *hc_report_chain(const struct hc_analysis *a, uint32_t node)
{
	return hc_report_chain_path(a, node, NULL, 0);
}

/* A leaked cluster's group: what its head looks like, until types name it. */
static void cluster_key(const struct hc_analysis *a, const struct hc_leak_cluster *c, char *buf,
			size_t len)
{
	const char *type = hc_report_node_type(a, c->head);
	if (type)
		snprintf(buf, len, "%s", type);
	else
		snprintf(buf, len, "%" PRIu64 "-byte allocations", hc_graph_node_size(a->graph, c->head));
}

static json_t *leaks_json(const struct hc_analysis *a)
{
	const struct hc_leaks *l = a->leaks;
	const struct hc_graph *g = a->graph;
	json_t *clusters = json_array();
	for (uint32_t i = 0; i < l->nclusters && i < TOP_CLUSTERS; i++) {
		const struct hc_leak_cluster *c = &l->clusters[i];
		json_array_append_new(clusters,
				      json_pack("{s:o, s:I, s:I, s:I, s:b}", "head",
						hc_json_address(hc_graph_node_addr(g, c->head)), "count",
						(json_int_t)c->nnodes, "bytes", (json_int_t)c->bytes,
						"unreferenced_heads", (json_int_t)c->nheads, "cyclic",
						c->cyclic));
	}
	/* groups: clusters with the same key, in order of first appearance (largest first) */
	json_t *groups = json_array();
	json_t *index = json_object();
	for (uint32_t i = 0; i < l->nclusters; i++) {
		const struct hc_leak_cluster *c = &l->clusters[i];
		char key[160];
		cluster_key(a, c, key, sizeof(key));
		json_t *grp = json_object_get(index, key);
		if (!grp) {
			grp = json_pack("{s:s, s:I, s:I, s:I, s:o}", "what", key, "clusters", (json_int_t)0,
					"count", (json_int_t)0, "bytes", (json_int_t)0, "example",
					hc_json_address(hc_graph_node_addr(g, c->head)));
			json_array_append_new(groups, grp);
			json_object_set(index, key, grp);
		}
		json_object_set_new(grp, "clusters",
				    json_integer(json_integer_value(json_object_get(grp, "clusters")) + 1));
		json_object_set_new(grp, "count", json_integer(json_integer_value(json_object_get(grp, "count")) +
							      (json_int_t)c->nnodes));
		json_object_set_new(grp, "bytes", json_integer(json_integer_value(json_object_get(grp, "bytes")) +
							      (json_int_t)c->bytes));
	}
	json_decref(index);
	return json_pack("{s:o, s:o, s:o, s:o, s:I, s:o, s:o}", "anchored", tally_json(&l->anchored),
			 "leaked", tally_json(&l->leaked), "unreferenced", tally_json(&l->unreferenced),
			 "indirect", tally_json(&l->indirect), "nclusters", (json_int_t)l->nclusters,
			 "groups", groups, "clusters", clusters);
}

static json_t *owners_json(const struct hc_analysis *a)
{
	const struct hc_graph *g = a->graph;
	const struct hc_dominators *d = a->dominators;
	json_t *list = json_array();
	for (uint32_t i = 0; i < g->nowners && i < TOP_OWNERS; i++) {
		uint32_t o = d->owners_by_retained[i];
		uint64_t retained = d->retained[g->nnodes + o];
		if (!retained)
			break;
		const struct hc_owner *ow = &g->owners[o];
		json_array_append_new(list, json_pack("{s:s, s:s, s:o, s:o, s:I, s:I}", "name", ow->name,
						      "kind", hc_root_kind_name(ow->kind), "start",
						      hc_json_address(ow->start), "end",
						      hc_json_address(ow->end), "retained_bytes",
						      (json_int_t)retained, "references",
						      (json_int_t)(g->owner_out_start[o + 1] -
								   g->owner_out_start[o])));
	}
	return list;
}

/* The allocations that hold the most: top-level in the dominator tree (dominated by an owner or several). */
static json_t *largest_json(const struct hc_analysis *a)
{
	const struct hc_graph *g = a->graph;
	const struct hc_dominators *d = a->dominators;
	json_t *list = json_array();
	/* the TOP_ALLOCATIONS largest, in order, ties to the lower address: kept as they are met */
	uint32_t top[TOP_ALLOCATIONS], n = 0;
	for (uint32_t i = 0; i < g->nnodes; i++) {
		uint32_t id = d->idom[i];
		if (id != HC_DOM_VIRTUAL_ROOT && (id == HC_DOM_NONE || id < g->nnodes))
			continue;
		uint64_t r = d->retained[i];
		if (n == TOP_ALLOCATIONS && r <= d->retained[top[n - 1]])
			continue;
		uint32_t k = n < TOP_ALLOCATIONS ? n++ : n - 1;
		for (; k > 0 && d->retained[top[k - 1]] < r; k--)
			top[k] = top[k - 1];
		top[k] = i;
	}
	for (uint32_t i = 0; i < n; i++) {
		uint32_t v = top[i];
		uint32_t id = d->idom[v];
		char path[1024];
		json_t *chain = hc_report_chain_path(a, v, path, sizeof(path));
		json_t *o = json_pack("{s:o, s:I, s:I, s:s, s:o, s:s}", "address", hc_json_address(hc_graph_node_addr(g, v)),
				      "size", (json_int_t)hc_graph_node_size(g, v), "retained_bytes",
				      (json_int_t)d->retained[v], "held_by",
				      id == HC_DOM_VIRTUAL_ROOT ? "several owners" : g->owners[id - g->nnodes].name,
				      "chain", chain, "path", path);
		const char *type = hc_report_node_type(a, v);
		if (type)
			json_object_set_new(o, "type", json_string(type));
		json_array_append_new(list, o);
	}
	return list;
}

/* The census of a Python process's gc-tracked objects by type, most first; NULL if it ran no Python. */
#define TOP_PYTHON_TYPES 50
static double seconds_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/*
 * The python part; *rt and *heap are the caller's to free (the detectors read
 * them after). NULL if the process ran no Python.
 */
static json_t *python_json(const struct hc_analysis *a, struct hc_cpython_runtime *rt, struct hc_pyheap **heap)
{
	double t0 = seconds_now();
	/* the heap keeps a pointer to the runtime: it is the caller's, not a local */
	struct hc_error *err = hc_cpython_find(a->target, a->symbols, rt);
	*heap = NULL;
	if (err || !rt->found) {
		hc_error_destroy(err);
		return NULL;
	}
	char version[32];
	snprintf(version, sizeof(version), rt->version_source == HC_CPYTHON_VERSION_FILE_NAME ? "%u.%u" : "%u.%u.%u",
		 rt->major, rt->minor, rt->micro);
	json_t *threads = json_array();
	for (uint32_t i = 0; i < rt->nthreads && rt->layout_known; i++) {
		const struct hc_cpython_thread *th = &rt->threads[i];
		json_t *x = json_pack("{s:o}", "tstate", hc_json_address(th->tstate));
		if (th->core_thread >= 0)
			json_object_set_new(x, "tid", json_integer(a->target->threads[th->core_thread].tid));
		struct hc_cpython_stack st;
		if (!hc_cpython_thread_stack(a->target, a->symbols, rt, i, &st)) {
			json_t *frames = json_array();
			for (uint32_t k = 0; k < st.nframes; k++)
				json_array_append_new(frames, json_pack("{s:s, s:s, s:i, s:o}", "function",
									st.frames[k].function, "file", st.frames[k].file,
									"line", st.frames[k].line, "code",
									hc_json_address(st.frames[k].code)));
			json_object_set_new(x, "frames", frames);
			hc_cpython_stack_free(&st);
		}
		json_array_append_new(threads, x);
	}
	json_t *o = json_pack("{s:s, s:o, s:o}", "version", version, "runtime", hc_json_address(rt->runtime), "threads",
			      threads);
	struct hc_cpython_census c;
	err = hc_cpython_gc_census(a->target, a->symbols, rt, &c);
	if (!err && rt->layout_known) {
		json_t *types = json_array();
		for (uint32_t i = 0; i < c.ntypes && i < TOP_PYTHON_TYPES; i++)
			json_array_append_new(types, json_pack("{s:s, s:I}", "type", c.types[i].name, "count",
							       (json_int_t)c.types[i].count));
		json_object_set_new(o, "gc_objects", json_pack("{s:I, s:I, s:o}", "count", (json_int_t)c.objects,
							      "types", (json_int_t)c.ntypes, "by_type", types));
	}
	hc_error_destroy(err);
	hc_cpython_census_free(&c);
	struct hc_pyheap *ph = NULL;
	double t1 = seconds_now();
	err = rt->layout_known ? hc_pyheap_build(a->target, a->symbols, rt, a->heap, &ph) : NULL;
	double t2 = seconds_now();
	if (!err && ph && ph->n) {
		json_t *x = hc_report_python_heap(ph);
		json_object_update(o, x);
		json_decref(x);
		/* types[] {name, count, bytes}: the census the schema promises */
		json_t *types = json_array(), *by = json_object_get(json_object_get(o, "objects"), "by_type");
		for (size_t i = 0; i < json_array_size(by); i++) {
			json_t *t = json_array_get(by, i);
			json_array_append_new(types, json_pack("{s:O, s:O, s:O}", "name", json_object_get(t, "type"),
							       "count", json_object_get(t, "count"), "bytes",
							       json_object_get(t, "bytes")));
		}
		json_object_set_new(o, "types", types);
	}
	/* the runtime, threads' stacks and gc census; the object graph; its part of the report */
	json_object_set_new(o, "timings", json_pack("{s:f, s:f, s:f}", "runtime", t1 - t0, "objects", t2 - t1,
						    "report", seconds_now() - t2));
	hc_error_destroy(err);
	*heap = ph;
	return o;
}

static json_t *analyze_report(const struct hc_analysis *a, bool snapshot)
{
	json_t *r = hc_report_heap(a->target, a->heap);
	if (!r)
		return NULL;
	json_t *timings = json_object(), *peaks = json_object();
	for (int p = 0; p < HC_PHASE_COUNT; p++) {
		json_object_set_new(timings, hc_phase_name(p), json_real(a->seconds[p]));
		json_object_set_new(peaks, hc_phase_name(p), json_integer((json_int_t)a->peak_bytes[p]));
	}
	json_object_set_new(r, "graph", json_pack("{s:I, s:I, s:I, s:I}", "allocations",
						  (json_int_t)a->graph->nnodes, "references",
						  (json_int_t)a->graph->nedges, "roots",
						  (json_int_t)a->graph->nroots, "owners",
						  (json_int_t)a->graph->nowners));
	json_object_set_new(r, "leaks", leaks_json(a));
	json_object_set_new(r, "owners", owners_json(a));
	json_object_set_new(r, "largest", largest_json(a));
	struct hc_cpython_runtime rt;
	struct hc_pyheap *ph = NULL;
	json_t *py = python_json(a, &rt, &ph);
	if (py)
		json_object_set_new(r, "python", py);
	struct hc_heuristics_input in = { a, rt.found ? &rt : NULL, ph && ph->n ? ph : NULL };
	struct hc_findings found;
	struct hc_error *err = hc_findings_collect(&in, &found);
	if (!err) {
		hc_report_findings_json(&found, r);
		hc_findings_free(&found);
	}
	hc_error_destroy(err);
	if (snapshot)
		json_object_set_new(r, "snapshot", hc_diff_snapshot(a, rt.found ? &rt : NULL, ph));
	hc_pyheap_destroy(ph);
	hc_cpython_runtime_free(&rt);
	json_object_set_new(r, "schema", json_string("heapcore.analyze/1"));
	json_object_set_new(r, "timings", timings);
	json_object_set_new(r, "peak_memory", peaks);
	return r;
}

json_t *hc_report_analyze(const struct hc_analysis *a)
{
	return analyze_report(a, false);
}

json_t *hc_report_analyze_with_snapshot(const struct hc_analysis *a)
{
	return analyze_report(a, true);
}

void hc_report_analyze_text(const json_t *r, FILE *out)
{
	if (json_object_get(r, "findings")) {
		hc_report_findings_text(r, out);
		fprintf(out, "\nDETAILS\n\n");
	}
	const json_t *g = json_object_get(r, "glibc");
	const json_t *heap = json_object_get(r, "heap");
	const json_t *totals = json_object_get(heap, "totals");
	const json_t *used = json_object_get(totals, "used"), *mm = json_object_get(totals, "mmapped");
	if (json_object_get(g, "main_heap"))
		fprintf(out, "glibc %s, main_arena not in the core: the main heap walked from its chunks alone\n",
			hc_json_str(g, "version"));
	else
		fprintf(out, "glibc %s, main_arena found by %s\n", hc_json_str(g, "version"), hc_json_str(g, "arena_method"));
	fprintf(out, "In use: %lld allocations, %lld bytes (%lld mmapped, %lld bytes)\n",
		hc_json_int(used, "count") + hc_json_int(mm, "count"), hc_json_int(used, "bytes") + hc_json_int(mm, "bytes"),
		hc_json_int(mm, "count"), hc_json_int(mm, "bytes"));

	const json_t *l = json_object_get(r, "leaks");
	const json_t *leaked = json_object_get(l, "leaked");
	fprintf(out, "\nLeaked: %lld allocations, %lld bytes, in %lld clusters (%lld unreferenced heads, %lld reached only through them)\n",
		hc_json_int(leaked, "count"), hc_json_int(leaked, "bytes"), hc_json_int(l, "nclusters"),
		hc_json_int(json_object_get(l, "unreferenced"), "count"), hc_json_int(json_object_get(l, "indirect"), "count"));
	const json_t *groups = json_object_get(l, "groups");
	if (json_array_size(groups)) {
		fprintf(out, "  %12s %10s %9s  %s\n", "bytes", "count", "clusters", "what (example)");
		for (size_t i = 0; i < json_array_size(groups) && i < 20; i++) {
			const json_t *gr = json_array_get(groups, i);
			fprintf(out, "  %12lld %10lld %9lld  %s (%s)\n", hc_json_int(gr, "bytes"), hc_json_int(gr, "count"),
				hc_json_int(gr, "clusters"), hc_json_str(gr, "what"), hc_json_str(gr, "example"));
		}
	}

	const json_t *py = json_object_get(r, "python");
	if (py) {
		const json_t *gc = json_object_get(py, "gc_objects");
		fprintf(out, "\nPython %s: %lld objects tracked by the garbage collector, of %lld types\n",
			hc_json_str(py, "version"), hc_json_int(gc, "count"), hc_json_int(gc, "types"));
		const json_t *by = json_object_get(gc, "by_type");
		for (size_t i = 0; i < json_array_size(by) && i < 15; i++)
			fprintf(out, "  %10lld  %s\n", hc_json_int(json_array_get(by, i), "count"),
				hc_json_str(json_array_get(by, i), "type"));
		hc_report_python_text(py, out);
		/* each thread's stack, innermost first, as py-spy dump lists it */
		const json_t *pt = json_object_get(py, "threads");
		for (size_t i = 0; i < json_array_size(pt); i++) {
			const json_t *th = json_array_get(pt, i), *frames = json_object_get(th, "frames");
			fprintf(out, "\nThread %lld (thread state %s):\n", hc_json_int(th, "tid"), hc_json_str(th, "tstate"));
			for (size_t k = 0; k < json_array_size(frames); k++)
				fprintf(out, "    %s (%s:%lld)\n", hc_json_str(json_array_get(frames, k), "function"),
					hc_json_str(json_array_get(frames, k), "file"),
					hc_json_int(json_array_get(frames, k), "line"));
		}
	}

	const json_t *owners = json_object_get(r, "owners");
	if (json_array_size(owners)) {
		fprintf(out, "\nLargest owners (bytes they keep alive):\n");
		for (size_t i = 0; i < json_array_size(owners) && i < 10; i++) {
			const json_t *o = json_array_get(owners, i);
			fprintf(out, "  %12lld  %s [%s]\n", hc_json_int(o, "retained_bytes"), hc_json_str(o, "name"), hc_json_str(o, "kind"));
		}
	}
	const json_t *largest = json_object_get(r, "largest");
	if (json_array_size(largest)) {
		fprintf(out, "\nLargest holders (allocations that keep the most alive):\n");
		for (size_t i = 0; i < json_array_size(largest) && i < 10; i++) {
			const json_t *o = json_array_get(largest, i);
			fprintf(out, "  %12lld  %s %s (%lld bytes)\n", hc_json_int(o, "retained_bytes"),
				*hc_json_str(o, "type") ? hc_json_str(o, "type") : "allocation", hc_json_str(o, "address"), hc_json_int(o, "size"));
			fprintf(out, "                via %s\n", hc_json_str(o, "path"));
		}
	}
	hc_report_warnings_text(r, out);
}
