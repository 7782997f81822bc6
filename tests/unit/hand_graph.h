/*
 * Reference graphs built by hand from an edge list, for testing what runs on
 * a graph (dominators, chains) without a core or hc_graph_build.
 */
#ifndef HEAPCORE_TEST_HAND_GRAPH_H
#define HEAPCORE_TEST_HAND_GRAPH_H

#include <stddef.h>
#include <stdint.h>

#include "heapcore/graph.h"

/*
 * One edge in hc_dominators' id space: nodes 0..nnodes-1, owners
 * nnodes..nnodes+nowners-1. An edge from an owner is an owner->node edge.
 */
struct hand_edge {
	uint32_t from, to;
};

#define HAND_BASE 0x100000ull  /* node i is at HAND_BASE + HAND_STRIDE * i unless changed */
#define HAND_STRIDE 0x40ull
#define HAND_SIZE 0x30ull      /* each node's size unless sizes are given */

/*
 * A graph with CSR arrays in both directions, built from edges in the order
 * given (a row keeps its edges' order). sizes may be NULL. Owners are
 * HC_ROOT_DATA owners named "owner<k>" over ranges [0, 0) until a test sets
 * them; there is one root range per owner. NULL if an edge is out of range.
 */
struct hc_graph *hand_graph(uint32_t nnodes, uint32_t nowners, const struct hand_edge *edges,
			    size_t nedges, const uint64_t *sizes);
void hand_graph_free(struct hc_graph *g);

#endif
