/* The `heap` report: glibc arenas, chunk states with counts and bytes, size histogram, damage. */
#include "heapcore/report.h"

#include <inttypes.h>

static const char *const state_keys[HC_CHUNK_STATE_COUNT] = { "used", "free", "fastbin",
							       "tcache", "top", "mmapped" };

static json_t *tally_json(const struct hc_tally *t)
{
	return json_pack("{s:I, s:I}", "count", (json_int_t)t->count, "bytes", (json_int_t)t->bytes);
}

static void add_states(json_t *o, const struct hc_tally *tallies)
{
	for (int s = 0; s < HC_CHUNK_STATE_COUNT; s++)
		json_object_set_new(o, state_keys[s], tally_json(&tallies[s]));
}

static json_t *arena_json(const struct hc_glibc_arena *a)
{
	json_t *o = json_pack("{s:o, s:b, s:I, s:I, s:I}", "address", hc_json_address(a->address),
			      "main", a->is_main, "system_mem", (json_int_t)a->system_mem,
			      "overhead_bytes", (json_int_t)a->overhead_bytes, "unwalked_bytes",
			      (json_int_t)a->unwalked_bytes);
	add_states(o, a->tally);
	json_object_set_new(o, "free_bins",
			    json_pack("{s:o, s:o, s:o}", "unsorted", tally_json(&a->free_unsorted),
				      "small", tally_json(&a->free_small), "large",
				      tally_json(&a->free_large)));
	json_object_set_new(o, "fenceposts", tally_json(&a->fenceposts));
	json_t *heaps = json_array();
	for (uint32_t i = 0; i < a->nheaps; i++)
		json_array_append_new(heaps, json_pack("{s:o, s:o}", "start",
						       hc_json_address(a->heaps[i].start), "end",
						       hc_json_address(a->heaps[i].end)));
	json_object_set_new(o, "heaps", heaps);
	return o;
}

/* Chunk sizes in power-of-two buckets (counted by the walk): where the bytes are, in use and free. */
static json_t *histogram_json(const struct hc_glibc_heap *h)
{
	json_t *list = json_array();
	for (int b = 5; b < 63; b++) {
		if (!h->size_used[b].count && !h->size_free[b].count)
			continue;
		json_array_append_new(list, json_pack("{s:I, s:I, s:o, s:o}", "min",
						      (json_int_t)(1ull << b), "max",
						      (json_int_t)((1ull << (b + 1)) - 1), "in_use",
						      tally_json(&h->size_used[b]), "free", tally_json(&h->size_free[b])));
	}
	return list;
}

json_t *hc_report_heap(const struct hc_target *t, const struct hc_glibc_heap *h)
{
	const struct hc_glibc_location *loc = &h->location;
	json_t *glibc = json_pack("{s:s, s:b, s:s, s:s, s:o}", "version", loc->version,
				  "version_known", loc->version_known, "layout", loc->layout->name,
				  "arena_method", hc_arena_method_name(loc->method), "main_arena",
				  hc_json_address(loc->main_arena));
	if (loc->headless) {
		/* main_arena was cut from the core: the walk started at the main heap's first chunk */
		json_object_set_new(glibc, "arena_method", json_string("none (not in the core)"));
		json_object_set_new(glibc, "main_heap", hc_json_address(loc->main_heap));
	}
	if (loc->mp)
		json_object_set_new(glibc, "mp", hc_json_address(loc->mp));
	if (loc->have_tcache_tp_offset)
		json_object_set_new(glibc, "tcache_tp_offset", json_integer(loc->tcache_tp_offset));

	json_t *totals = json_object();
	add_states(totals, h->totals);
	json_t *arenas = json_array();
	for (uint32_t i = 0; i < h->narenas; i++)
		json_array_append_new(arenas, arena_json(&h->arenas[i]));
	json_t *tcaches = json_array();
	for (uint32_t i = 0; i < h->ntcaches; i++) {
		json_t *o = json_pack("{s:o, s:i}", "address", hc_json_address(h->tcaches[i].address),
				      "count", h->tcaches[i].count);
		if (h->tcaches[i].tid)
			json_object_set_new(o, "tid", json_integer(h->tcaches[i].tid));
		json_array_append_new(tcaches, o);
	}
	json_t *corrupt = json_array();
	for (uint32_t i = 0; i < h->ncorruptions; i++)
		json_array_append_new(corrupt, json_pack("{s:o, s:s}", "address",
							 hc_json_address(h->corruptions[i].address),
							 "message", h->corruptions[i].message));
	json_t *heap = json_pack("{s:o, s:o, s:o, s:o, s:o, s:I}", "totals", totals, "arenas",
				 arenas, "tcaches", tcaches, "histogram", histogram_json(h),
				 "corruptions", corrupt, "corruptions_dropped",
				 (json_int_t)h->corruptions_dropped);
	return json_pack("{s:{s:s}, s:o, s:o}", "core", "path", t->path, "glibc", glibc, "heap", heap);
}

static void print_states(FILE *out, const json_t *o)
{
	static const char *const labels[HC_CHUNK_STATE_COUNT] = {
		"in use", "free (bins)", "fastbin", "tcache", "top", "mmapped"
	};
	for (int s = 0; s < HC_CHUNK_STATE_COUNT; s++) {
		const json_t *t = json_object_get(o, state_keys[s]);
		fprintf(out, "    %-12s %10lld chunks %15lld bytes\n", labels[s], hc_json_int(t, "count"),
			hc_json_int(t, "bytes"));
	}
}

void hc_report_heap_text(const json_t *r, FILE *out)
{
	const json_t *g = json_object_get(r, "glibc");
	const json_t *heap = json_object_get(r, "heap");
	if (json_object_get(g, "main_heap"))
		fprintf(out, "glibc %s%s (layout %s); main_arena not in the core: main heap 0x%s walked from its chunks\n",
			*hc_json_str(g, "version") ? hc_json_str(g, "version") : "version unknown",
			json_is_true(json_object_get(g, "version_known")) ? "" : " (guessed)", hc_json_str(g, "layout"),
			hc_json_str(g, "main_heap") + 2);
	else
		fprintf(out, "glibc %s%s (layout %s); main_arena %s found by %s\n",
			*hc_json_str(g, "version") ? hc_json_str(g, "version") : "version unknown",
			json_is_true(json_object_get(g, "version_known")) ? "" : " (guessed)", hc_json_str(g, "layout"),
			hc_json_str(g, "main_arena"), hc_json_str(g, "arena_method"));
	fprintf(out, "\nTotal:\n");
	print_states(out, json_object_get(heap, "totals"));

	const json_t *arenas = json_object_get(heap, "arenas");
	for (size_t i = 0; i < json_array_size(arenas); i++) {
		const json_t *a = json_array_get(arenas, i);
		const json_t *heaps = json_object_get(a, "heaps");
		fprintf(out, "\nArena %s%s: %zu heap%s, system_mem %lld bytes\n", hc_json_str(a, "address"),
			json_is_true(json_object_get(a, "main")) ? " (main)" : "",
			json_array_size(heaps), json_array_size(heaps) == 1 ? "" : "s",
			hc_json_int(a, "system_mem"));
		print_states(out, a);
		const json_t *fb = json_object_get(a, "free_bins");
		fprintf(out, "    free by bin: unsorted %lld, small %lld, large %lld chunks\n",
			hc_json_int(json_object_get(fb, "unsorted"), "count"),
			hc_json_int(json_object_get(fb, "small"), "count"),
			hc_json_int(json_object_get(fb, "large"), "count"));
		if (hc_json_int(a, "unwalked_bytes"))
			fprintf(out, "    %lld bytes could not be walked (damaged headers)\n",
				hc_json_int(a, "unwalked_bytes"));
	}

	const json_t *tc = json_object_get(heap, "tcaches");
	if (json_array_size(tc)) {
		fprintf(out, "\nThread caches:\n");
		for (size_t i = 0; i < json_array_size(tc); i++) {
			const json_t *c = json_array_get(tc, i);
			if (json_object_get(c, "tid"))
				fprintf(out, "    tid %-8lld", hc_json_int(c, "tid"));
			else
				fprintf(out, "    %-12s", "(no thread)");
			fprintf(out, " %s: %lld chunks\n", hc_json_str(c, "address"), hc_json_int(c, "count"));
		}
	}

	const json_t *hist = json_object_get(heap, "histogram");
	fprintf(out, "\nChunk sizes:\n    %-22s %10s %15s %10s %15s\n", "size", "in use", "bytes",
		"free", "bytes");
	for (size_t i = 0; i < json_array_size(hist); i++) {
		const json_t *b = json_array_get(hist, i);
		char range[40];
		snprintf(range, sizeof(range), "%lld-%lld", hc_json_int(b, "min"), hc_json_int(b, "max"));
		const json_t *u = json_object_get(b, "in_use"), *f = json_object_get(b, "free");
		fprintf(out, "    %-22s %10lld %15lld %10lld %15lld\n", range, hc_json_int(u, "count"),
			hc_json_int(u, "bytes"), hc_json_int(f, "count"), hc_json_int(f, "bytes"));
	}

	const json_t *cor = json_object_get(heap, "corruptions");
	if (json_array_size(cor)) {
		fprintf(out, "\nHeap corruption (%zu%s):\n", json_array_size(cor),
			hc_json_int(heap, "corruptions_dropped") ? " shown" : "");
		for (size_t i = 0; i < json_array_size(cor) && i < 50; i++) {
			const json_t *c = json_array_get(cor, i);
			fprintf(out, "    %s: %s\n", hc_json_str(c, "address"), hc_json_str(c, "message"));
		}
	}
	/* the warnings repeat each corruption; show only the others */
	json_t *copy = json_deep_copy(r);
	json_t *filtered = json_array();
	const json_t *warnings = json_object_get(r, "warnings");
	for (size_t i = 0; i < json_array_size(warnings); i++) {
		const json_t *w = json_array_get(warnings, i);
		if (strncmp(hc_json_str(w, "message"), "heap corruption at ", 19) != 0)
			json_array_append(filtered, (json_t *)w);
	}
	if (copy) {
		json_object_set_new(copy, "warnings", filtered);
		hc_report_warnings_text(copy, out);
		json_decref(copy);
	} else {
		json_decref(filtered);
	}
}
