/*
 * The Python part of analyze's report built from the object graph
 * (heapcore/cpython_heap.h): the census of every object by type (count and
 * bytes), the largest containers with their lengths and paths, the garbage
 * a gc.collect() would free, and the objects kept alive from outside Python
 * (refcount higher than the references found) with what they keep. Text
 * and JSON; docs/json.md names the fields.
 */
#include "report_python.h"
#include "ranked.h"

#include <stdlib.h>
#include <string.h>

#define TOP_TYPES 50
#define TOP_CONTAINERS 20
#define TOP_KEPT 20
#define PATH_LEN 1024


static json_t *types_json(const struct hc_pyheap *h, bool garbage)
{
	struct hc_ranked *r = malloc((h->ntypes ? h->ntypes : 1) * sizeof(*r));
	json_t *list = json_array();
	if (!r)
		return list;
	uint32_t n = 0;
	for (uint32_t i = 0; i < h->ntypes; i++) {
		uint64_t bytes = garbage ? h->types[i].garbage_bytes : h->types[i].bytes;
		if (garbage ? h->types[i].garbage_count : h->types[i].count)
			r[n++] = (struct hc_ranked){ bytes, i };
	}
	qsort(r, n, sizeof(*r), hc_ranked_desc);
	for (uint32_t k = 0; k < n && k < TOP_TYPES; k++) {
		const struct hc_pyheap_type *t = &h->types[r[k].i];
		json_array_append_new(list, json_pack("{s:s, s:I, s:I}", "type", t->name, "count",
						      (json_int_t)(garbage ? t->garbage_count : t->count), "bytes",
						      (json_int_t)(garbage ? t->garbage_bytes : t->bytes)));
	}
	free(r);
	return list;
}

static json_t *object_json(const struct hc_pyheap *h, uint32_t i)
{
	char *path = malloc(PATH_LEN), preview[256];
	if (path)
		hc_pyheap_path(h, i, path, PATH_LEN);
	hc_pyheap_preview(h, i, preview, sizeof(preview));
	json_t *o = json_pack("{s:o, s:s, s:I, s:I, s:s, s:s}", "address", hc_json_address(h->addr[i]), "type",
			      h->types[h->type[i]].name, "bytes", (json_int_t)h->size[i], "retained_bytes",
			      (json_int_t)(h->retained ? h->retained[i] : h->size[i]), "preview", preview, "path",
			      path ? path : "");
	free(path);
	return o;
}

/*
 * The largest holders: objects by the bytes they retain, each the deepest
 * of its line that still holds most of it. Candidates retain 1% of the
 * heap or more; a module, a class, a module's dict or sys.modules itself
 * is where everything hangs, not what holds it: those are left out. A
 * candidate dominated by one already listed, retaining nine tenths of it
 * or more, replaces it: the list names the accumulation point (a list of
 * a million items, not the module holding it).
 */
#define TOP_LARGEST 20

static bool holder_candidate(const struct hc_pyheap *h, uint32_t i, uint64_t floor)
{
	if (!(h->flags[i] & (HC_PYOBJ_REACHABLE | HC_PYOBJ_KEPT)) || h->retained[i] < floor)
		return false;
	const char *tn = h->types[h->type[i]].name;
	uint32_t up = h->parent[i];
	bool module_dict = up < h->n && !strcmp(h->types[h->type[up]].name, "module");
	bool sys_modules = h->parent[i] != HC_PYPARENT_NONE && (h->parent[i] & HC_PYPARENT_ROOT) &&
			   h->roots[h->parent[i] & ~HC_PYPARENT_ROOT].kind == HC_PYROOT_SYS_MODULES;
	return strcmp(tn, "module") && strcmp(tn, "type") && !module_dict && !sys_modules;
}

static bool dominates(const struct hc_pyheap *h, uint32_t a, uint32_t b)
{
	for (uint32_t d = h->idom[b], n = 0; d < h->n && n < 10000; d = h->idom[d], n++)
		if (d == a)
			return true;
	return false;
}

static json_t *largest_json(const struct hc_pyheap *h)
{
	json_t *list = json_array();
	if (!h->retained)
		return list;
	uint64_t floor = h->bytes / 100 ? h->bytes / 100 : 1;
	uint32_t n = 0;
	for (uint32_t i = 0; i < h->n; i++)
		n += holder_candidate(h, i, floor);
	struct hc_ranked *r = malloc((n ? n : 1) * sizeof(*r));
	if (!r)
		return list;
	n = 0;
	for (uint32_t i = 0; i < h->n; i++)
		if (holder_candidate(h, i, floor))
			r[n++] = (struct hc_ranked){ h->retained[i], i };
	qsort(r, n, sizeof(*r), hc_ranked_desc);
	uint32_t top[TOP_LARGEST], ntop = 0;
	for (uint32_t k = 0; k < n; k++) {
		uint32_t c = r[k].i;
		bool placed = false;
		for (uint32_t j = 0; j < ntop && !placed; j++)
			if (dominates(h, top[j], c)) {
				if (h->retained[c] * 10 >= h->retained[top[j]] * 9)
					top[j] = c;
				placed = true;
			}
		if (!placed && ntop < TOP_LARGEST)
			top[ntop++] = c;
	}
	free(r);
	for (uint32_t j = 0; j < ntop; j++)
		json_array_append_new(list, object_json(h, top[j]));
	return list;
}

static json_t *containers_json(const struct hc_pyheap *h)
{
	struct hc_ranked top[TOP_CONTAINERS];
	uint32_t n = 0;
	for (uint32_t i = 0; i < h->n; i++) {
		uint64_t len;
		if (!h->types[h->type[i]].container || !hc_pyheap_len(h, i, &len))
			continue;
		/* keep the largest TOP_CONTAINERS, smallest last */
		if (n == TOP_CONTAINERS && len <= top[n - 1].key)
			continue;
		uint32_t k = n < TOP_CONTAINERS ? n++ : n - 1;
		for (; k > 0 && top[k - 1].key < len; k--)
			top[k] = top[k - 1];
		top[k] = (struct hc_ranked){ len, i };
	}
	json_t *list = json_array();
	for (uint32_t k = 0; k < n; k++) {
		json_t *o = object_json(h, top[k].i);
		json_object_set_new(o, "length", json_integer((json_int_t)top[k].key));
		json_array_append_new(list, o);
	}
	return list;
}

/* The kept-from-outside objects with a refcount gap, each with what it keeps (through its kept chain). */
static json_t *kept_json(const struct hc_pyheap *h)
{
	uint64_t *count = calloc(h->n ? h->n : 1, sizeof(*count)), *bytes = calloc(h->n ? h->n : 1, sizeof(*bytes));
	json_t *list = json_array();
	if (!count || !bytes) {
		free(count);
		free(bytes);
		return list;
	}
	uint32_t nseeds = 0;
	for (uint32_t i = 0; i < h->n; i++) {
		if (!(h->flags[i] & HC_PYOBJ_KEPT))
			continue;
		uint32_t o = i;
		for (uint32_t d = 0; d < h->n && !(h->flags[o] & HC_PYOBJ_GAP); d++)
			o = h->parent[o];
		count[o]++;
		bytes[o] += h->size[i];
		nseeds += o == i;
	}
	struct hc_ranked *r = malloc((nseeds ? nseeds : 1) * sizeof(*r));
	uint32_t n = 0;
	for (uint32_t i = 0; r && i < h->n; i++)
		if (h->flags[i] & HC_PYOBJ_GAP)
			r[n++] = (struct hc_ranked){ bytes[i], i };
	if (r)
		qsort(r, n, sizeof(*r), hc_ranked_desc);
	for (uint32_t k = 0; k < n && k < TOP_KEPT; k++) {
		uint32_t i = r[k].i;
		json_t *o = object_json(h, i);
		json_object_del(o, "path");
		json_object_set_new(o, "refcount", json_integer((json_int_t)h->refcnt[i]));
		json_object_set_new(o, "references_found", json_integer(h->found_refs[i]));
		json_object_set_new(o, "gap", json_integer((json_int_t)(h->refcnt[i] - h->found_refs[i])));
		json_object_set_new(o, "keeps", json_pack("{s:I, s:I}", "count", (json_int_t)count[i], "bytes",
							  (json_int_t)bytes[i]));
		json_array_append_new(list, o);
	}
	free(r);
	free(count);
	free(bytes);
	return list;
}

json_t *hc_report_python_heap(const struct hc_pyheap *h)
{
	json_t *o = json_object();
	json_object_set_new(o, "objects",
			    json_pack("{s:I, s:I, s:I, s:I, s:I, s:o}", "count", (json_int_t)h->n, "bytes",
				      (json_int_t)h->bytes, "tracked", (json_int_t)h->tracked, "types",
				      (json_int_t)h->ntypes, "references", (json_int_t)h->nedges, "by_type",
				      types_json(h, false)));
	json_object_set_new(json_object_get(o, "objects"), "pymalloc",
			    json_pack("{s:I, s:I}", "pools", (json_int_t)h->pools, "blocks", (json_int_t)h->blocks));
	json_object_set_new(json_object_get(o, "objects"), "malloc_chunks", json_integer((json_int_t)h->big_chunks));
	json_object_set_new(o, "containers", containers_json(h));
	json_object_set_new(o, "largest", largest_json(h));
	json_t *g = json_pack("{s:I, s:I, s:I, s:o}", "count", (json_int_t)h->garbage, "tracked",
			      (json_int_t)h->garbage_tracked, "bytes", (json_int_t)h->garbage_bytes, "by_type",
			      types_json(h, true));
	json_object_set_new(g, "gc_enabled", h->gc_enabled_known ? json_boolean(h->gc_enabled) : json_null());
	json_object_set_new(o, "garbage", g);
	json_object_set_new(o, "kept_from_outside",
			    json_pack("{s:I, s:I, s:o}", "count", (json_int_t)h->kept, "bytes", (json_int_t)h->kept_bytes,
				      "holders", kept_json(h)));
	return o;
}

void hc_report_python_text(const json_t *py, FILE *out)
{
	const json_t *objs = json_object_get(py, "objects");
	if (!objs)
		return;
	fprintf(out, "\nPython objects: %lld (%lld bytes), of %lld types; %lld tracked by the gc\n",
		hc_json_int(objs, "count"), hc_json_int(objs, "bytes"), hc_json_int(objs, "types"),
		hc_json_int(objs, "tracked"));
	fprintf(out, "  %10s  %12s  type\n", "count", "bytes");
	const json_t *by = json_object_get(objs, "by_type");
	for (size_t i = 0; i < json_array_size(by) && i < 15; i++)
		fprintf(out, "  %10lld  %12lld  %s\n", hc_json_int(json_array_get(by, i), "count"),
			hc_json_int(json_array_get(by, i), "bytes"), hc_json_str(json_array_get(by, i), "type"));
	const json_t *cs = json_object_get(py, "containers");
	if (json_array_size(cs)) {
		fprintf(out, "\nLargest containers:\n");
		for (size_t i = 0; i < json_array_size(cs) && i < 10; i++) {
			const json_t *c = json_array_get(cs, i);
			fprintf(out, "  %10lld items  %s at %s  %s\n      %s\n", hc_json_int(c, "length"), hc_json_str(c, "type"),
				hc_json_str(c, "address"), hc_json_str(c, "preview"), hc_json_str(c, "path"));
		}
	}
	const json_t *lg = json_object_get(py, "largest");
	if (json_array_size(lg)) {
		fprintf(out, "\nLargest holders (bytes each keeps alive):\n");
		for (size_t i = 0; i < json_array_size(lg) && i < 10; i++) {
			const json_t *c = json_array_get(lg, i);
			fprintf(out, "  %12lld  %s %s\n      %s\n", hc_json_int(c, "retained_bytes"), hc_json_str(c, "type"),
				hc_json_str(c, "preview"), hc_json_str(c, "path"));
		}
	}
	const json_t *g = json_object_get(py, "garbage");
	const json_t *en = json_object_get(g, "gc_enabled");
	fprintf(out, "\nGarbage (unreachable; gc.collect() would free it): %lld objects (%lld tracked), %lld bytes%s\n",
		hc_json_int(g, "count"), hc_json_int(g, "tracked"), hc_json_int(g, "bytes"),
		json_is_false(en) ? " -- the garbage collector is DISABLED (gc.disable())" : "");
	by = json_object_get(g, "by_type");
	for (size_t i = 0; i < json_array_size(by) && i < 10; i++)
		fprintf(out, "  %10lld  %12lld  %s\n", hc_json_int(json_array_get(by, i), "count"),
			hc_json_int(json_array_get(by, i), "bytes"), hc_json_str(json_array_get(by, i), "type"));
	const json_t *k = json_object_get(py, "kept_from_outside");
	const json_t *hs = json_object_get(k, "holders");
	if (json_array_size(hs)) {
		fprintf(out, "\nKept alive from outside Python (refcount higher than the references found): %lld objects, "
			     "%lld bytes\n",
			hc_json_int(k, "count"), hc_json_int(k, "bytes"));
		for (size_t i = 0; i < json_array_size(hs) && i < 10; i++) {
			const json_t *x = json_array_get(hs, i);
			fprintf(out, "  %s %s: refcount %lld, %lld reference(s) found: %lld unexplained; keeps %lld "
				     "objects, %lld bytes\n",
				hc_json_str(x, "type"), hc_json_str(x, "address"), hc_json_int(x, "refcount"),
				hc_json_int(x, "references_found"), hc_json_int(x, "gap"),
				hc_json_int(json_object_get(x, "keeps"), "count"),
				hc_json_int(json_object_get(x, "keeps"), "bytes"));
		}
	}
}

/* What a Python object is, for explain: type, preview, status, chain, referrers and references. */
json_t *hc_report_python_object(struct hc_target *t, const struct hc_symbols *s, const struct hc_glibc_heap *g,
				uint64_t addr)
{
	struct hc_cpython_runtime py;
	struct hc_error *err = hc_cpython_find(t, s, &py);
	struct hc_pyheap *h = NULL;
	if (!err && py.found && py.layout_known)
		err = hc_pyheap_build(t, s, &py, g, &h);
	hc_error_destroy(err);
	uint32_t i = h ? hc_pyheap_find(h, addr) : UINT32_MAX;
	json_t *o = NULL;
	if (i != UINT32_MAX) {
		o = object_json(h, i);
		uint8_t f = h->flags[i];
		json_object_set_new(o, "status", json_string(f & HC_PYOBJ_REACHABLE ? "reachable"
							     : f & HC_PYOBJ_GARBAGE ? "garbage (gc.collect() would free it)"
							     : f & HC_PYOBJ_KEPT	  ? "kept alive from outside Python"
										  : "immortal"));
		json_object_set_new(o, "refcount", json_integer((json_int_t)h->refcnt[i]));
		json_object_set_new(o, "references_found", json_integer(h->found_refs[i]));
		json_object_set_new(o, "tracked", json_boolean(f & HC_PYOBJ_TRACKED));
		uint64_t len;
		if (hc_pyheap_len(h, i, &len))
			json_object_set_new(o, "length", json_integer((json_int_t)len));
		char pv[256];
		json_t *refs = json_array(), *from = json_array();
		for (uint32_t e = h->out_start[i]; e < h->out_start[i + 1] && json_array_size(refs) < 20; e++) {
			uint32_t d = h->out[e] & HC_PYEDGE_TARGET;
			hc_pyheap_preview(h, d, pv, sizeof(pv));
			json_array_append_new(refs, json_pack("{s:o, s:s, s:s, s:b}", "to", hc_json_address(h->addr[d]),
							      "type", h->types[h->type[d]].name, "preview", pv, "weak",
							      (h->out[e] & HC_PYEDGE_WEAK) != 0));
		}
		for (uint32_t j = 0; j < h->n && json_array_size(from) < 20; j++)
			for (uint32_t e = h->out_start[j]; e < h->out_start[j + 1]; e++)
				if ((h->out[e] & HC_PYEDGE_TARGET) == i) {
					hc_pyheap_preview(h, j, pv, sizeof(pv));
					json_array_append_new(from, json_pack("{s:o, s:s, s:s}", "from",
									      hc_json_address(h->addr[j]), "type",
									      h->types[h->type[j]].name, "preview", pv));
					break;
				}
		json_object_set_new(o, "references", refs);
		json_object_set_new(o, "referrers", from);
	}
	hc_pyheap_destroy(h);
	hc_cpython_runtime_free(&py);
	return o;
}

void hc_report_python_object_text(const json_t *o, FILE *out)
{
	fprintf(out, "  Python %s object: %s (%lld bytes, refcount %lld, %lld reference(s) found)\n", hc_json_str(o, "type"),
		hc_json_str(o, "preview"), hc_json_int(o, "bytes"), hc_json_int(o, "refcount"),
		hc_json_int(o, "references_found"));
	fprintf(out, "  %s%s%s\n", hc_json_str(o, "status"), *hc_json_str(o, "path") ? ": " : "", hc_json_str(o, "path"));
	const json_t *from = json_object_get(o, "referrers"), *refs = json_object_get(o, "references");
	fprintf(out, "  referred to by %zu%s:\n", json_array_size(from), json_array_size(from) == 20 ? "+" : "");
	for (size_t k = 0; k < json_array_size(from); k++)
		fprintf(out, "    %s %s\n", hc_json_str(json_array_get(from, k), "from"),
			hc_json_str(json_array_get(from, k), "preview"));
	fprintf(out, "  refers to %zu%s:\n", json_array_size(refs), json_array_size(refs) == 20 ? "+" : "");
	for (size_t k = 0; k < json_array_size(refs); k++)
		fprintf(out, "    %s %s%s\n", hc_json_str(json_array_get(refs, k), "to"),
			hc_json_str(json_array_get(refs, k), "preview"),
			json_is_true(json_object_get(json_array_get(refs, k), "weak")) ? " (weak)" : "");
}
