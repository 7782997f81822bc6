/*
 * The `explain` report: what one address is (an allocation and where in it, a
 * free chunk, allocator metadata, or memory outside the heap), and for an
 * allocation why it is alive (its chain from a root, what it retains) or why
 * it is leaked (its cluster), with its incoming and outgoing references.
 */
#include "heapcore/report.h"
#include "report_python.h"

#include <inttypes.h>

#define MAX_REFS 50

static const char *class_name(uint8_t cls)
{
	switch (cls) {
	case HC_ANCHORED:
		return "anchored";
	case HC_LEAKED_UNREFERENCED:
		return "leaked (unreferenced: nothing points to it)";
	case HC_LEAKED_INDIRECT:
		return "leaked (indirectly: only leaked allocations point to it)";
	}
	return "unknown";
}

static json_t *incoming_json(const struct hc_analysis *a, uint32_t v)
{
	const struct hc_graph *g = a->graph;
	json_t *list = json_array();
	for (uint32_t o = 0; o < g->nowners && json_array_size(list) < MAX_REFS; o++)
		for (uint32_t e = g->owner_out_start[o]; e < g->owner_out_start[o + 1]; e++)
			if (g->owner_out[e] == v) {
				json_array_append_new(list, json_pack("{s:s, s:s}", "owner", g->owners[o].name,
								      "kind",
								      hc_root_kind_name(g->owners[o].kind)));
				break;
			}
	for (uint32_t e = g->in_start[v]; e < g->in_start[v + 1] && json_array_size(list) < MAX_REFS; e++) {
		uint32_t u = g->in[e];
		json_t *o = json_pack("{s:o, s:s}", "allocation", hc_json_address(hc_graph_node_addr(g, u)), "class",
				      class_name(a->leaks->cls[u]));
		if (g->in_flags[e] & HC_EDGE_INTERIOR)
			json_object_set_new(o, "interior", json_true());
		json_array_append_new(list, o);
	}
	return list;
}

/* Each pointer word in the allocation that points into another allocation. */
static json_t *outgoing_json(const struct hc_analysis *a, uint32_t v)
{
	const struct hc_graph *g = a->graph;
	json_t *list = json_array();
	uint64_t end = hc_graph_node_addr(g, v) + hc_graph_node_size(g, v);
	for (uint64_t at = hc_graph_node_addr(g, v); at + 8 <= end && json_array_size(list) < MAX_REFS; at += 8) {
		uint64_t word;
		if (!hc_target_read_u64(a->target, at, &word))
			break;
		uint32_t to = hc_graph_node_at(g, word);
		if (to == UINT32_MAX)
			continue;
		json_t *o = json_pack("{s:I, s:o}", "offset", (json_int_t)(at - hc_graph_node_addr(g, v)), "to",
				      hc_json_address(hc_graph_node_addr(g, to)));
		if (word != hc_graph_node_addr(g, to))
			json_object_set_new(o, "interior", json_true());
		json_array_append_new(list, o);
	}
	return list;
}

/* Where glibc's own links end in a free chunk: what follows is stale user data. */
static uint64_t free_chunk_user_start(uint8_t state, uint64_t chunk_size)
{
	/* fd, bk (bins) or next, key (tcache); large bins add fd_nextsize, bk_nextsize */
	if (state == HC_CHUNK_FREE && chunk_size >= 0x400)
		return 48;
	return state == HC_CHUNK_FASTBIN ? 24 : 32;
}

/* Free chunks whose stale words point into node v: a use-after-free, or memory still being read. */
static json_t *free_references_json(const struct hc_analysis *a, uint32_t v)
{
	const struct hc_glibc_heap *h = a->heap;
	const struct hc_graph *g = a->graph;
	uint64_t lo = hc_graph_node_addr(g, v), hi = hc_graph_node_addr(g, v) + hc_graph_node_size(g, v);
	json_t *list = json_array();
	for (uint32_t i = 0; i < h->nchunks && json_array_size(list) < MAX_REFS; i++) {
		uint8_t st = h->chunk_state[i];
		if (st != HC_CHUNK_FREE && st != HC_CHUNK_FASTBIN && st != HC_CHUNK_TCACHE)
			continue;
		uint64_t start = h->chunk_addr[i] + free_chunk_user_start(st, hc_glibc_chunk_size(h, i));
		uint64_t end = h->chunk_addr[i] + hc_glibc_chunk_size(h, i);
		struct hc_span span;
		hc_target_span(a->target, start, end > start ? end - start : 0, &span);
		for (uint64_t at = start; at + 8 <= start + span.len; at += 8) {
			uint64_t word;
			if (hc_span_u64(&span, at, &word) && word >= lo && word < hi) {
				json_array_append_new(list, json_pack("{s:o, s:s, s:I, s:o}", "chunk",
								      hc_json_address(h->chunk_addr[i]), "state",
								      hc_chunk_state_name(st), "offset",
								      (json_int_t)(at - h->chunk_addr[i] - 16),
								      "to", hc_json_address(word)));
				break;
			}
		}
	}
	return list;
}

static json_t *allocation_json(const struct hc_analysis *a, uint32_t v, uint64_t addr)
{
	const struct hc_graph *g = a->graph;
	const struct hc_leaks *l = a->leaks;
	const struct hc_glibc_heap *h = a->heap;
	uint32_t ci = g->chunk[v];
	json_t *kinds = json_array();
	uint8_t reached = 0;
	/* out of memory: no kinds listed, as for a leaked node */
	hc_leaks_reached_by(g, v, &reached);
	for (int k = 0; k < HC_ROOT_KIND_COUNT; k++)
		if (reached & (1u << k))
			json_array_append_new(kinds, json_string(hc_root_kind_name(k)));
	json_t *o = json_pack("{s:o, s:I, s:I, s:o, s:I, s:s, s:s, s:o, s:I}", "address",
			      hc_json_address(hc_graph_node_addr(g, v)), "size", (json_int_t)hc_graph_node_size(g, v), "offset",
			      (json_int_t)(addr - hc_graph_node_addr(g, v)), "chunk", hc_json_address(h->chunk_addr[ci]),
			      "chunk_size", (json_int_t)hc_glibc_chunk_size(h, ci), "state",
			      hc_chunk_state_name(h->chunk_state[ci]), "class", class_name(l->cls[v]),
			      "reached_by", kinds, "retained_bytes",
			      (json_int_t)a->dominators->retained[v]);
	const char *type = hc_report_node_type(a, v);
	if (type)
		json_object_set_new(o, "type", json_string(type));
	if (l->cls[v] == HC_ANCHORED) {
		char path[1024];
		json_object_set_new(o, "chain", hc_report_chain_path(a, v, path, sizeof(path)));
		json_object_set_new(o, "path", json_string(path));
	} else if (l->cluster[v] != UINT32_MAX) {
		const struct hc_leak_cluster *c = &l->clusters[l->cluster[v]];
		json_object_set_new(o, "cluster",
				    json_pack("{s:o, s:I, s:I, s:I, s:b}", "head",
					      hc_json_address(hc_graph_node_addr(g, c->head)), "count",
					      (json_int_t)c->nnodes, "bytes", (json_int_t)c->bytes,
					      "unreferenced_heads", (json_int_t)c->nheads, "cyclic",
					      c->cyclic));
	}
	json_object_set_new(o, "incoming", incoming_json(a, v));
	json_object_set_new(o, "outgoing", outgoing_json(a, v));
	return o;
}

static json_t *outside_heap_json(const struct hc_analysis *a, uint64_t addr)
{
	json_t *o = json_object();
	const struct hc_segment *seg = hc_target_segment(a->target, addr);
	if (!seg) {
		json_object_set_new(o, "mapped", json_false());
		return o;
	}
	json_object_set_new(o, "mapped", json_true());
	json_object_set_new(o, "mapping", json_pack("{s:o, s:o}", "start", hc_json_address(seg->start),
						    "end", hc_json_address(seg->end)));
	if (seg->file >= 0)
		json_object_set_new(o, "file", json_string(a->target->files[seg->file].path));
	char where[256];
	if (a->symbols && hc_symbols_describe(a->symbols, addr, where, sizeof(where)))
		json_object_set_new(o, "symbol", json_string(where));
	const struct hc_graph *g = a->graph;
	for (uint32_t i = 0; i < g->nroots; i++) {
		const struct hc_root_range *r = &g->roots[i];
		if (r->kind != HC_ROOT_REGISTER && addr >= r->start && addr < r->end) {
			json_object_set_new(o, "root_kind", json_string(hc_root_kind_name(r->kind)));
			if (r->thread >= 0)
				json_object_set_new(o, "thread", json_integer(a->target->threads[r->thread].tid));
			break;
		}
	}
	uint64_t word;
	if (hc_target_read_u64(a->target, addr & ~7ull, &word)) {
		uint32_t to = hc_graph_node_at(g, word);
		if (to != UINT32_MAX)
			json_object_set_new(o, "points_to", hc_json_address(hc_graph_node_addr(g, to)));
	}
	return o;
}

json_t *hc_report_explain(const struct hc_analysis *a, uint64_t addr, bool scan_free)
{
	json_t *r = json_pack("{s:o}", "address", hc_json_address(addr));
	if (!r)
		return NULL;
	json_t *py = hc_report_python_object(a->target, a->symbols, a->heap, addr);
	if (py)
		json_object_set_new(r, "python", py);
	const struct hc_glibc_heap *h = a->heap;
	uint32_t v = hc_graph_node_at(a->graph, addr);
	if (v != UINT32_MAX) {
		json_object_set_new(r, "what", json_string("allocation"));
		json_t *al = allocation_json(a, v, addr);
		if (scan_free)
			json_object_set_new(al, "free_references", free_references_json(a, v));
		json_object_set_new(r, "allocation", al);
		return r;
	}
	int64_t ci = hc_glibc_chunk_containing(h, addr);
	if (ci >= 0) {
		uint8_t st = h->chunk_state[ci];
		bool in_use = st == HC_CHUNK_USED || st == HC_CHUNK_MMAPPED;
		json_object_set_new(r, "what", json_string(in_use ? "chunk header" : "free chunk"));
		json_object_set_new(r, "chunk",
				    json_pack("{s:o, s:I, s:s, s:I}", "address",
					      hc_json_address(h->chunk_addr[ci]), "size",
					      (json_int_t)hc_glibc_chunk_size(h, ci), "state", hc_chunk_state_name(st),
					      "offset", (json_int_t)(addr - h->chunk_addr[ci])));
		return r;
	}
	for (uint32_t i = 0; i < h->narenas; i++) {
		const struct hc_glibc_arena *ar = &h->arenas[i];
		for (uint32_t j = 0; j < ar->nheaps; j++)
			if (addr >= ar->heaps[j].start && addr < ar->heaps[j].first_chunk) {
				json_object_set_new(r, "what", json_string("allocator metadata"));
				json_object_set_new(r, "arena", hc_json_address(ar->address));
				return r;
			}
	}
	json_object_set_new(r, "what", json_string("not heap"));
	json_object_set_new(r, "outside", outside_heap_json(a, addr));
	return r;
}

void hc_report_explain_text(const json_t *r, FILE *out)
{
	const char *what = hc_json_str(r, "what");
	const json_t *py = json_object_get(r, "python");
	if (py) {
		fprintf(out, "%s:\n", hc_json_str(r, "address"));
		hc_report_python_object_text(py, out);
		fprintf(out, "  in memory, ");
	}
	fprintf(out, "%s: ", hc_json_str(r, "address"));
	if (!strcmp(what, "allocation")) {
		const json_t *al = json_object_get(r, "allocation");
		fprintf(out, "offset %lld in the %lld-byte allocation at %s (%s; chunk %s, %s)\n",
			hc_json_int(al, "offset"), hc_json_int(al, "size"), hc_json_str(al, "address"),
			*hc_json_str(al, "type") ? hc_json_str(al, "type") : "type unknown", hc_json_str(al, "chunk"), hc_json_str(al, "state"));
		fprintf(out, "  %s", hc_json_str(al, "class"));
		const json_t *kinds = json_object_get(al, "reached_by");
		for (size_t i = 0; i < json_array_size(kinds); i++)
			fprintf(out, "%s%s", i ? ", " : "; reached from ", json_string_value(json_array_get(kinds, i)));
		fprintf(out, "\n  retains %lld bytes\n", hc_json_int(al, "retained_bytes"));
		const json_t *chain = json_object_get(al, "chain");
		if (json_array_size(chain)) {
			fprintf(out, "  kept alive by: %s\n", hc_json_str(al, "path"));
			for (size_t i = 0; i < json_array_size(chain); i++) {
				const json_t *st = json_array_get(chain, i);
				if (json_object_get(st, "owner"))
					fprintf(out, "    %s [%s] at %s\n", hc_json_str(st, "owner"), hc_json_str(st, "kind"),
						json_object_get(st, "register") ? "a register" : hc_json_str(st, "at"));
				else
					fprintf(out, "    -> %s%s%s\n", hc_json_str(st, "at"), *hc_json_str(st, "type") ? "  " : "",
						hc_json_str(st, "type"));
			}
			fprintf(out, "    -> %s\n", hc_json_str(al, "address"));
		}
		const json_t *c = json_object_get(al, "cluster");
		if (c)
			fprintf(out, "  in a leaked cluster of %lld allocations, %lld bytes, head %s%s\n",
				hc_json_int(c, "count"), hc_json_int(c, "bytes"), hc_json_str(c, "head"),
				json_is_true(json_object_get(c, "cyclic")) ? " (a cycle)" : "");
		const json_t *in = json_object_get(al, "incoming");
		fprintf(out, "  referenced by %zu:\n", json_array_size(in));
		for (size_t i = 0; i < json_array_size(in); i++) {
			const json_t *e = json_array_get(in, i);
			if (json_object_get(e, "owner"))
				fprintf(out, "    %s [%s]\n", hc_json_str(e, "owner"), hc_json_str(e, "kind"));
			else
				fprintf(out, "    %s (%s)%s\n", hc_json_str(e, "allocation"), hc_json_str(e, "class"),
					json_is_true(json_object_get(e, "interior")) ? " interior pointer" : "");
		}
		const json_t *stale = json_object_get(al, "free_references");
		if (stale) {
			fprintf(out, "  free chunks that still point to it: %zu\n", json_array_size(stale));
			for (size_t i = 0; i < json_array_size(stale); i++) {
				const json_t *e = json_array_get(stale, i);
				fprintf(out, "    %s (%s) at +%lld -> %s\n", hc_json_str(e, "chunk"), hc_json_str(e, "state"),
					hc_json_int(e, "offset"), hc_json_str(e, "to"));
			}
		}
		const json_t *outl = json_object_get(al, "outgoing");
		fprintf(out, "  points to %zu:\n", json_array_size(outl));
		for (size_t i = 0; i < json_array_size(outl); i++) {
			const json_t *e = json_array_get(outl, i);
			fprintf(out, "    +%lld -> %s%s\n", hc_json_int(e, "offset"), hc_json_str(e, "to"),
				json_is_true(json_object_get(e, "interior")) ? " (interior)" : "");
		}
	} else if (!strcmp(what, "free chunk") || !strcmp(what, "chunk header")) {
		const json_t *c = json_object_get(r, "chunk");
		fprintf(out, "%s: offset %lld in the %lld-byte chunk at %s (%s)\n", what, hc_json_int(c, "offset"),
			hc_json_int(c, "size"), hc_json_str(c, "address"), hc_json_str(c, "state"));
	} else if (!strcmp(what, "allocator metadata")) {
		fprintf(out, "glibc's own bookkeeping (heap_info / malloc_state) of arena %s\n", hc_json_str(r, "arena"));
	} else {
		const json_t *o = json_object_get(r, "outside");
		if (!json_is_true(json_object_get(o, "mapped"))) {
			fprintf(out, "not heap: no mapping of the process holds this address\n");
		} else {
			fprintf(out, "not heap: in mapping %s-%s", hc_json_str(json_object_get(o, "mapping"), "start"),
				hc_json_str(json_object_get(o, "mapping"), "end"));
			if (json_object_get(o, "file"))
				fprintf(out, " of %s", hc_json_str(o, "file"));
			if (json_object_get(o, "symbol"))
				fprintf(out, ", at %s", hc_json_str(o, "symbol"));
			if (json_object_get(o, "root_kind"))
				fprintf(out, " (%s root)", hc_json_str(o, "root_kind"));
			fprintf(out, "\n");
			if (json_object_get(o, "points_to"))
				fprintf(out, "  the word there points to the allocation at %s\n", hc_json_str(o, "points_to"));
		}
	}
	hc_report_warnings_text(r, out);
}
