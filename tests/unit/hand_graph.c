/* Reference graphs built by hand (see hand_graph.h). */
#include "hand_graph.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Counts per row, then places each edge: a stable counting sort into CSR. */
static void fill_csr(uint32_t nrows, size_t nedges, const struct hand_edge *edges, bool reverse,
		     uint32_t row_base, uint32_t *start, uint32_t *col)
{
	memset(start, 0, ((size_t)nrows + 1) * sizeof(*start));
	for (size_t i = 0; i < nedges; i++) {
		uint32_t r = reverse ? edges[i].to : edges[i].from;
		if (r >= row_base && r - row_base < nrows)
			start[r - row_base + 1]++;
	}
	for (uint32_t r = 0; r < nrows; r++)
		start[r + 1] += start[r];
	uint32_t *next = malloc(((size_t)nrows + 1) * sizeof(*next));
	memcpy(next, start, ((size_t)nrows + 1) * sizeof(*next));
	for (size_t i = 0; i < nedges; i++) {
		uint32_t r = reverse ? edges[i].to : edges[i].from;
		if (r >= row_base && r - row_base < nrows)
			col[next[r - row_base]++] = reverse ? edges[i].from : edges[i].to;
	}
	free(next);
}

struct hc_graph *hand_graph(uint32_t nnodes, uint32_t nowners, const struct hand_edge *edges,
			    size_t nedges, const uint64_t *sizes)
{
	size_t nnode_edges = 0, nowner_edges = 0;
	for (size_t i = 0; i < nedges; i++) {
		if (edges[i].to >= nnodes || edges[i].from >= nnodes + nowners)
			return NULL;
		if (edges[i].from < nnodes)
			nnode_edges++;
		else
			nowner_edges++;
	}
	struct hc_graph *g = calloc(1, sizeof(*g));
	g->nnodes = nnodes;
	/* nodes' addresses and sizes live in a chunk table, as a walked heap's do: chunk i is node i */
	struct hc_glibc_heap *h = calloc(1, sizeof(*h));
	h->nchunks = nnodes;
	h->chunk_addr = calloc(nnodes + 1, sizeof(uint64_t));
	h->chunk_size32 = calloc(nnodes + 1, sizeof(uint32_t));
	h->chunk_state = calloc(nnodes + 1, 1);
	g->heap = h;
	g->chunk = calloc(nnodes + 1, sizeof(uint32_t));
	g->root_kinds = calloc(nnodes + 1, 1);
	for (uint32_t i = 0; i < nnodes; i++) {
		h->chunk_addr[i] = HAND_BASE + HAND_STRIDE * i - 16;
		/* a chunk in use holds its size + 8 usable bytes */
		h->chunk_size32[i] = (uint32_t)((sizes ? sizes[i] : HAND_SIZE) + 8);
		h->chunk_state[i] = HC_CHUNK_USED;
		g->chunk[i] = i;
	}
	g->nedges = nnode_edges;
	g->out_start = malloc(((size_t)nnodes + 1) * sizeof(uint32_t));
	g->in_start = malloc(((size_t)nnodes + 1) * sizeof(uint32_t));
	g->out = malloc((nnode_edges + 1) * sizeof(uint32_t));
	g->in = malloc((nnode_edges + 1) * sizeof(uint32_t));
	g->out_flags = calloc(nnode_edges + 1, 1);
	g->in_flags = calloc(nnode_edges + 1, 1);
	/* node rows only: owner edges have rows >= nnodes and fall outside */
	fill_csr(nnodes, nedges, edges, false, 0, g->out_start, g->out);
	/* the reverse CSR must hold node->node edges only, so give it those alone */
	struct hand_edge *node_edges = malloc((nnode_edges + 1) * sizeof(*node_edges));
	size_t k = 0;
	for (size_t i = 0; i < nedges; i++)
		if (edges[i].from < nnodes)
			node_edges[k++] = edges[i];
	fill_csr(nnodes, k, node_edges, true, 0, g->in_start, g->in);
	free(node_edges);

	g->nowners = nowners;
	g->nroots = nowners;
	g->roots = calloc(nowners + 1, sizeof(*g->roots));
	g->owners = calloc(nowners + 1, sizeof(*g->owners));
	for (uint32_t o = 0; o < nowners; o++) {
		g->roots[o] = (struct hc_root_range){ .kind = HC_ROOT_DATA, .thread = -1, .module = -1 };
		g->owners[o].kind = HC_ROOT_DATA;
		g->owners[o].range = o;
		char name[32];
		snprintf(name, sizeof(name), "owner%u", o);
		g->owners[o].name = strdup(name);
	}
	g->owner_out_start = malloc(((size_t)nowners + 1) * sizeof(uint32_t));
	g->owner_out = malloc((nowner_edges + 1) * sizeof(uint32_t));
	g->owner_out_flags = calloc(nowner_edges + 1, 1);
	fill_csr(nowners, nedges, edges, false, nnodes, g->owner_out_start, g->owner_out);
	return g;
}

void hand_graph_free(struct hc_graph *g)
{
	/* built field by field like hc_graph_build's result, so freed the same way */
	struct hc_glibc_heap *h = g ? (struct hc_glibc_heap *)g->heap : NULL;
	hc_graph_destroy(g);
	hc_glibc_heap_destroy(h);
}
