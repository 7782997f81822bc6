/*
 * What one analysis keeps of itself for `heapcore diff` (heapcore/diff.h):
 * the program's identity, the core's time, the heap's footprint, every
 * type's count and bytes, every owner's retained bytes and the number of
 * allocations it retains (a native list's length), every large Python
 * container by its path with its len(). Matching across two cores is by
 * name: a type's, an owner's (a global variable, a thread's stack), a
 * container's path from sys.modules; addresses are never compared.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "heapcore/diff.h"
#include "heapcore/graph.h"
#include "heapcore/report.h"
#include "heapcore/symbols.h"
#include "heapcore/types.h"
#include "ranked.h"

/* Enough for any program's globals and types that matter; the rest are the smallest. */
#define SNAPSHOT_TYPES 2000
#define SNAPSHOT_OWNERS 2000
#define SNAPSHOT_CONTAINERS 1000
#define PATH_LEN 1024

static json_t *program_json(const struct hc_analysis *a)
{
	json_t *o = json_object();
	const struct hc_module *m = a->symbols ? hc_symbols_main_module(a->symbols) : NULL;
	if (m) {
		json_object_set_new(o, "executable", json_string(m->name));
		if (m->build_id_len) {
			char hex[2 * sizeof(m->build_id) + 1];
			for (uint32_t i = 0; i < m->build_id_len && i < sizeof(m->build_id); i++)
				snprintf(hex + 2 * i, 3, "%02x", m->build_id[i]);
			json_object_set_new(o, "build_id", json_string(hex));
		}
	}
	const struct hc_process_info *p = &a->target->process;
	if (p->present) {
		json_object_set_new(o, "pid", json_integer(p->pid));
		json_object_set_new(o, "command", json_string(p->psargs));
	}
	return o;
}

/*
 * Per owner, the allocations it retains: the sizes of the owners' subtrees
 * in the dominator tree, counted deepest node first (each node's depth is
 * found once, an explicit stack standing in for recursion), so that a
 * list of a million nodes costs a million steps, not a million squared.
 * NULL when memory runs out.
 */
static uint64_t *owner_counts(const struct hc_graph *g, const struct hc_dominators *d)
{
	uint32_t n = g->nnodes;
	uint64_t *owner = calloc(g->nowners ? g->nowners : 1, sizeof(*owner));
	uint32_t *depth = malloc((n ? n : 1) * sizeof(*depth)), *stack = malloc((n ? n : 1) * sizeof(*stack));
	uint32_t *bucket = NULL;
	if (!owner || !depth || !stack)
		goto fail;
	memset(depth, 0xff, (size_t)n * sizeof(*depth));
	uint32_t maxdepth = 0;
	for (uint32_t v = 0; v < n; v++) {
		if (depth[v] != UINT32_MAX || d->idom[v] == HC_DOM_NONE)
			continue;
		uint32_t sp = 0, u = v;
		while (u < n && depth[u] == UINT32_MAX && d->idom[u] != HC_DOM_NONE && sp < n) {
			stack[sp++] = u;
			u = d->idom[u];
		}
		uint32_t base = u < n && depth[u] != UINT32_MAX ? depth[u] + 1 : 0;
		while (sp > 0)
			depth[stack[--sp]] = base++;
		if (base > maxdepth)
			maxdepth = base;
	}
	/* deepest first: a counting sort of the nodes in the tree by depth */
	bucket = calloc((size_t)maxdepth + 2, sizeof(*bucket));
	if (!bucket)
		goto fail;
	for (uint32_t v = 0; v < n; v++)
		if (depth[v] != UINT32_MAX)
			bucket[depth[v] + 1]++;
	for (uint32_t k = 1; k <= maxdepth + 1; k++)
		bucket[k] += bucket[k - 1];
	for (uint32_t v = 0; v < n; v++)
		if (depth[v] != UINT32_MAX)
			stack[bucket[depth[v]]++] = v;
	uint32_t placed = bucket[maxdepth];
	/* depth is no longer needed: it becomes each node's subtree count */
	memset(depth, 0, (size_t)n * sizeof(*depth));
	for (uint32_t k = placed; k-- > 0;) {
		uint32_t v = stack[k], p = d->idom[v];
		depth[v]++;
		if (p < n)
			depth[p] += depth[v];
		else if (p != HC_DOM_VIRTUAL_ROOT && p != HC_DOM_NONE && p - n < g->nowners)
			owner[p - n] += depth[v];
	}
	free(bucket);
	free(depth);
	free(stack);
	return owner;
fail:
	free(bucket);
	free(owner);
	free(depth);
	free(stack);
	return NULL;
}

static json_t *native_json(const struct hc_analysis *a)
{
	const struct hc_glibc_heap *h = a->heap;
	uint64_t system = 0;
	for (uint32_t i = 0; i < h->narenas; i++)
		system += h->arenas[i].system_mem;
	const struct hc_tally *t = h->totals;
	uint64_t in_use = t[HC_CHUNK_USED].bytes + t[HC_CHUNK_MMAPPED].bytes;
	uint64_t arena_bytes = t[HC_CHUNK_USED].bytes + t[HC_CHUNK_FREE].bytes + t[HC_CHUNK_FASTBIN].bytes +
			       t[HC_CHUNK_TCACHE].bytes + t[HC_CHUNK_TOP].bytes;
	/* what the heap takes from the system: the arenas' memory (as they count it) and the mmapped chunks */
	uint64_t footprint = (system > arena_bytes ? system : arena_bytes) + t[HC_CHUNK_MMAPPED].bytes;
	json_t *o = json_pack("{s:I, s:I, s:I}", "allocations",
			      (json_int_t)(t[HC_CHUNK_USED].count + t[HC_CHUNK_MMAPPED].count), "bytes",
			      (json_int_t)in_use, "footprint", (json_int_t)footprint);

	json_t *types = json_array();
	for (uint32_t i = 0; a->types && i < a->types->ntypes && i < SNAPSHOT_TYPES; i++) {
		const struct hc_type *ty = &a->types->types[i];
		json_array_append_new(types, json_pack("{s:s, s:I, s:I}", "name", ty->name, "count",
						       (json_int_t)ty->count, "bytes", (json_int_t)ty->bytes));
	}
	json_object_set_new(o, "types", types);

	json_t *owners = json_array();
	const struct hc_graph *g = a->graph;
	const struct hc_dominators *d = a->dominators;
	uint64_t *counts = d ? owner_counts(g, d) : NULL;
	for (uint32_t k = 0; counts && k < g->nowners && k < SNAPSHOT_OWNERS; k++) {
		uint32_t i = d->owners_by_retained[k];
		uint64_t retained = d->retained[g->nnodes + i];
		if (!retained)
			break;
		const struct hc_owner *ow = &g->owners[i];
		json_array_append_new(owners, json_pack("{s:s, s:s, s:I, s:I}", "name", ow->name, "kind",
							hc_root_kind_name(ow->kind), "retained_bytes",
							(json_int_t)retained, "retained_count", (json_int_t)counts[i]));
	}
	free(counts);
	json_object_set_new(o, "owners", owners);
	return o;
}

static json_t *python_json(const struct hc_cpython_runtime *rt, const struct hc_pyheap *h)
{
	json_t *o = json_pack("{s:I, s:I}", "objects", (json_int_t)h->n, "bytes", (json_int_t)h->bytes);
	if (rt)
		json_object_set_new(o, "version", json_sprintf("%u.%u", rt->major, rt->minor));
	/* the types, largest first */
	struct hc_ranked *order = malloc((h->ntypes ? h->ntypes : 1) * sizeof(*order));
	json_t *types = json_array();
	if (order) {
		uint32_t n = 0;
		for (uint32_t i = 0; i < h->ntypes; i++)
			if (h->types[i].count)
				order[n++] = (struct hc_ranked){ h->types[i].bytes, i };
		qsort(order, n, sizeof(*order), hc_ranked_desc);
		for (uint32_t k = 0; k < n && k < SNAPSHOT_TYPES; k++) {
			const struct hc_pyheap_type *ty = &h->types[order[k].i];
			json_array_append_new(types, json_pack("{s:s, s:I, s:I}", "name", ty->name ? ty->name : "?", "count",
							       (json_int_t)ty->count, "bytes", (json_int_t)ty->bytes));
		}
		free(order);
	}
	json_object_set_new(o, "types", types);

	/* __main__.__file__: the script, which tells two programs of one interpreter apart */
	for (uint32_t k = 0; k < h->nroots; k++) {
		if (h->roots[k].kind != HC_PYROOT_SYS_MODULES)
			continue;
		uint32_t m = hc_pyheap_dict_get(h, h->roots[k].target, "__main__");
		if (m == UINT32_MAX || h->out_start[m + 1] == h->out_start[m])
			continue;
		/* a module's first reference is its __dict__ */
		uint32_t f = hc_pyheap_dict_get(h, h->out[h->out_start[m]] & HC_PYEDGE_TARGET, "__file__");
		char file[PATH_LEN];
		bool interned;
		if (f != UINT32_MAX && hc_pyheap_str(h, f, file, sizeof(file), &interned)) {
			json_object_set_new(o, "main", json_string(file));
			break;
		}
	}

	/* the longest containers, each by its path from a root */
	uint32_t n = 0;
	for (uint32_t i = 0; i < h->n; i++) {
		uint64_t len;
		n += h->types[h->type[i]].container && hc_pyheap_len(h, i, &len) && len > 0;
	}
	struct hc_ranked *r = malloc((n ? n : 1) * sizeof(*r));
	json_t *containers = json_array();
	if (r) {
		n = 0;
		for (uint32_t i = 0; i < h->n; i++) {
			uint64_t len;
			if (h->types[h->type[i]].container && hc_pyheap_len(h, i, &len) && len > 0)
				r[n++] = (struct hc_ranked){ len, i };
		}
		qsort(r, n, sizeof(*r), hc_ranked_desc);
		char path[PATH_LEN];
		for (uint32_t k = 0; k < n && k < SNAPSHOT_CONTAINERS; k++) {
			uint32_t i = r[k].i;
			hc_pyheap_path(h, i, path, sizeof(path));
			json_t *c = json_pack("{s:s, s:s, s:I, s:I}", "path", path, "type",
					      h->types[h->type[i]].name ? h->types[h->type[i]].name : "?", "length",
					      (json_int_t)r[k].key, "bytes", (json_int_t)h->size[i]);
			if (h->retained)
				json_object_set_new(c, "retained_bytes", json_integer((json_int_t)h->retained[i]));
			json_array_append_new(containers, c);
		}
		free(r);
	}
	json_object_set_new(o, "containers", containers);
	return o;
}

json_t *hc_diff_snapshot(const struct hc_analysis *a, const struct hc_cpython_runtime *rt,
			 const struct hc_pyheap *ph)
{
	json_t *o = json_pack("{s:s, s:o, s:o}", "schema", "heapcore.snapshot/1", "program", program_json(a),
			      "native", native_json(a));
	if (!o)
		return NULL;
	if (a->target->mtime >= 0) {
		json_object_set_new(o, "time", json_real((double)a->target->mtime + a->target->mtime_nsec / 1e9));
		json_object_set_new(o, "time_from",
				    json_string(a->target->time_from_coredump ? "systemd-coredump" : "file"));
	}
	if (ph && ph->n)
		json_object_set_new(o, "python", python_json(rt, ph));
	return o;
}
