/*
 * The dominator tree and retained sizes (hc_dominators_compute) on graphs
 * built by hand, and on a few hundred random graphs checked against the
 * definition: x dominates y when removing x leaves y unreachable.
 */
#include <CUnit/CUnit.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hand_graph.h"
#include "heapcore/graph.h"
#include "suites.h"

#define ROOT HC_DOM_VIRTUAL_ROOT

static struct hc_dominators *dominators(const struct hc_graph *g)
{
	struct hc_dominators *d = NULL;
	struct hc_error *err = hc_dominators_compute(g, &d);
	if (err) {
		fprintf(stderr, "\n  dominators: %s\n", err->message);
		hc_error_destroy(err);
	}
	return d;
}

static void test_an_owner_is_dominated_by_the_virtual_root(void)
{
	/* nodes 0, 1; owners 2, 3 */
	struct hand_edge e[] = { { 2, 0 }, { 3, 1 } };
	struct hc_graph *g = hand_graph(2, 2, e, 2, NULL);
	struct hc_dominators *d = dominators(g);
	CU_ASSERT_FATAL(d != NULL);
	CU_ASSERT_EQUAL(d->idom[2], ROOT);
	CU_ASSERT_EQUAL(d->idom[3], ROOT);
	CU_ASSERT_EQUAL(d->idom[0], 2);
	CU_ASSERT_EQUAL(d->idom[1], 3);
	hc_dominators_destroy(d);
	hand_graph_free(g);
}

static void test_a_node_held_by_two_owners_is_dominated_by_the_virtual_root(void)
{
	/* node 0 <- owners 2 and 3; node 1 below it */
	struct hand_edge e[] = { { 2, 0 }, { 3, 0 }, { 0, 1 } };
	struct hc_graph *g = hand_graph(2, 2, e, 3, NULL);
	struct hc_dominators *d = dominators(g);
	CU_ASSERT_FATAL(d != NULL);
	CU_ASSERT_EQUAL(d->idom[0], ROOT);
	CU_ASSERT_EQUAL(d->idom[1], 0);
	/* neither owner keeps it alive alone */
	CU_ASSERT_EQUAL(d->retained[2], 0);
	CU_ASSERT_EQUAL(d->retained[3], 0);
	CU_ASSERT_EQUAL(d->retained[0], 2 * HAND_SIZE);
	hc_dominators_destroy(d);
	hand_graph_free(g);
}

/*
 * Node 1's one node predecessor is 0, but the DFS reaches 1 first from owner
 * 2: a single predecessor is the idom only when it is the DFS parent.
 */
static void test_a_single_predecessor_that_is_not_the_dfs_parent_does_not_dominate(void)
{
	/* owner 2 -> 1; owner 3 -> 0 -> 1 */
	struct hand_edge e[] = { { 2, 1 }, { 3, 0 }, { 0, 1 } };
	struct hc_graph *g = hand_graph(2, 2, e, 3, NULL);
	struct hc_dominators *d = dominators(g);
	CU_ASSERT_FATAL(d != NULL);
	CU_ASSERT_EQUAL(d->idom[1], ROOT);
	CU_ASSERT_EQUAL(d->idom[0], 3);
	CU_ASSERT_EQUAL(d->retained[0], HAND_SIZE);
	CU_ASSERT_EQUAL(d->retained[2], 0);
	hc_dominators_destroy(d);
	hand_graph_free(g);
}

static void test_retained_size_of_a_list_head_is_the_whole_list(void)
{
	/* owner 4 -> 0 -> 1 -> 2 -> 3 */
	struct hand_edge e[] = { { 4, 0 }, { 0, 1 }, { 1, 2 }, { 2, 3 } };
	uint64_t sizes[] = { 16, 32, 48, 64 };
	struct hc_graph *g = hand_graph(4, 1, e, 4, sizes);
	struct hc_dominators *d = dominators(g);
	CU_ASSERT_FATAL(d != NULL);
	CU_ASSERT_EQUAL(d->retained[0], 160);
	CU_ASSERT_EQUAL(d->retained[2], 112);
	CU_ASSERT_EQUAL(d->retained[3], 64);
	CU_ASSERT_EQUAL(d->retained[4], 160);
	for (uint32_t i = 1; i < 4; i++)
		CU_ASSERT_EQUAL(d->idom[i], i - 1);
	hc_dominators_destroy(d);
	hand_graph_free(g);
}

static void test_leaked_nodes_are_not_in_the_tree(void)
{
	/* owner 5 -> 0 -> 1; leaked 2 -> 1 (does not count); leaked ring 3 <-> 4 */
	struct hand_edge e[] = { { 5, 0 }, { 0, 1 }, { 2, 1 }, { 3, 4 }, { 4, 3 } };
	uint64_t sizes[] = { 10, 20, 30, 40, 50 };
	struct hc_graph *g = hand_graph(5, 1, e, 5, sizes);
	struct hc_dominators *d = dominators(g);
	CU_ASSERT_FATAL(d != NULL);
	CU_ASSERT_EQUAL(d->idom[1], 0);
	CU_ASSERT_EQUAL(d->retained[0], 30);
	for (uint32_t i = 2; i < 5; i++) {
		CU_ASSERT_EQUAL(d->idom[i], HC_DOM_NONE);
		CU_ASSERT_EQUAL(d->retained[i], sizes[i]);
	}
	CU_ASSERT_EQUAL(d->retained[5], 30);
	hc_dominators_destroy(d);
	hand_graph_free(g);
}

static void test_the_join_of_a_diamond_is_dominated_by_its_top(void)
{
	/* owner 4 -> 0; 0 -> 1, 0 -> 2; 1 -> 3, 2 -> 3 */
	struct hand_edge e[] = { { 4, 0 }, { 0, 1 }, { 0, 2 }, { 1, 3 }, { 2, 3 } };
	struct hc_graph *g = hand_graph(4, 1, e, 5, NULL);
	struct hc_dominators *d = dominators(g);
	CU_ASSERT_FATAL(d != NULL);
	CU_ASSERT_EQUAL(d->idom[0], 4);
	CU_ASSERT_EQUAL(d->idom[1], 0);
	CU_ASSERT_EQUAL(d->idom[2], 0);
	CU_ASSERT_EQUAL(d->idom[3], 0);
	CU_ASSERT_EQUAL(d->retained[1], HAND_SIZE);
	CU_ASSERT_EQUAL(d->retained[0], 4 * HAND_SIZE);
	hc_dominators_destroy(d);
	hand_graph_free(g);
}

static void test_a_cycle_reachable_from_one_owner_is_dominated_by_its_entry(void)
{
	/* owner 3 -> 0 -> 1 -> 2 -> 0 */
	struct hand_edge e[] = { { 3, 0 }, { 0, 1 }, { 1, 2 }, { 2, 0 } };
	struct hc_graph *g = hand_graph(3, 1, e, 4, NULL);
	struct hc_dominators *d = dominators(g);
	CU_ASSERT_FATAL(d != NULL);
	CU_ASSERT_EQUAL(d->idom[0], 3);
	CU_ASSERT_EQUAL(d->idom[1], 0);
	CU_ASSERT_EQUAL(d->idom[2], 1);
	CU_ASSERT_EQUAL(d->retained[0], 3 * HAND_SIZE);
	CU_ASSERT_EQUAL(d->retained[3], 3 * HAND_SIZE);
	hc_dominators_destroy(d);
	hand_graph_free(g);
}

static void test_a_cycle_entered_from_two_owners_is_dominated_by_neither(void)
{
	/* owner 3 -> 0, owner 4 -> 2, ring 0 -> 1 -> 2 -> 0 */
	struct hand_edge e[] = { { 3, 0 }, { 4, 2 }, { 0, 1 }, { 1, 2 }, { 2, 0 } };
	struct hc_graph *g = hand_graph(3, 2, e, 5, NULL);
	struct hc_dominators *d = dominators(g);
	CU_ASSERT_FATAL(d != NULL);
	CU_ASSERT_EQUAL(d->idom[0], ROOT);
	CU_ASSERT_EQUAL(d->idom[1], 0);
	CU_ASSERT_EQUAL(d->idom[2], ROOT);
	CU_ASSERT_EQUAL(d->retained[3], 0);
	CU_ASSERT_EQUAL(d->retained[4], 0);
	hc_dominators_destroy(d);
	hand_graph_free(g);
}

static void test_a_self_loop_changes_nothing(void)
{
	struct hand_edge e[] = { { 2, 0 }, { 0, 0 }, { 0, 1 }, { 1, 1 } };
	struct hc_graph *g = hand_graph(2, 1, e, 4, NULL);
	struct hc_dominators *d = dominators(g);
	CU_ASSERT_FATAL(d != NULL);
	CU_ASSERT_EQUAL(d->idom[0], 2);
	CU_ASSERT_EQUAL(d->idom[1], 0);
	CU_ASSERT_EQUAL(d->retained[0], 2 * HAND_SIZE);
	hc_dominators_destroy(d);
	hand_graph_free(g);
}

static void test_an_owner_pointing_below_its_own_subtree_shortcuts_the_dominator(void)
{
	/* owner 4 -> 0 -> 1 -> 2 -> 3, and owner 4 -> 2: 2 hangs from the owner, not from 1 */
	struct hand_edge e[] = { { 4, 0 }, { 0, 1 }, { 1, 2 }, { 2, 3 }, { 4, 2 } };
	struct hc_graph *g = hand_graph(4, 1, e, 5, NULL);
	struct hc_dominators *d = dominators(g);
	CU_ASSERT_FATAL(d != NULL);
	CU_ASSERT_EQUAL(d->idom[1], 0);
	CU_ASSERT_EQUAL(d->idom[2], 4);
	CU_ASSERT_EQUAL(d->idom[3], 2);
	CU_ASSERT_EQUAL(d->retained[0], 2 * HAND_SIZE);
	CU_ASSERT_EQUAL(d->retained[4], 4 * HAND_SIZE);
	hc_dominators_destroy(d);
	hand_graph_free(g);
}

/*
 * A chain of a million nodes from one owner, in id order or reversed, with a
 * back edge from its end to its second node.
 */
static void check_deep_chain(bool reversed)
{
	const uint32_t n = 1000000;
	struct hand_edge *e = malloc((n + 1) * sizeof(*e));
	CU_ASSERT_FATAL(e != NULL);
#define ID(i) (reversed ? n - 1 - (i) : (i))
	e[0] = (struct hand_edge){ n, ID(0) };
	for (uint32_t i = 1; i < n; i++)
		e[i] = (struct hand_edge){ ID(i - 1), ID(i) };
	/* makes step 1's eval climb the whole chain once */
	e[n] = (struct hand_edge){ ID(n - 1), ID(1) };
	struct hc_graph *g = hand_graph(n, 1, e, n + 1, NULL);
	free(e);
	CU_ASSERT_FATAL(g != NULL);
	struct hc_dominators *d = dominators(g);
	CU_ASSERT_FATAL(d != NULL);
	uint32_t wrong = 0;
	for (uint32_t i = 1; i < n; i++)
		wrong += d->idom[ID(i)] != ID(i - 1) || d->retained[ID(i)] != (uint64_t)(n - i) * HAND_SIZE;
	CU_ASSERT_EQUAL(wrong, 0);
	CU_ASSERT_EQUAL(d->idom[ID(0)], n);
	CU_ASSERT_EQUAL(d->retained[n], (uint64_t)n * HAND_SIZE);
#undef ID
	hc_dominators_destroy(d);
	hand_graph_free(g);
}

static void test_a_million_node_chain_needs_no_stack(void)
{
	check_deep_chain(false);
}

static void test_a_million_node_chain_in_reverse_id_order_needs_no_stack(void)
{
	check_deep_chain(true);
}

static void test_owners_are_listed_by_retained_size_largest_first(void)
{
	/* owner 0 (id 3) holds nothing, owners 1 and 3 (ids 4, 6) share node 0, owner 2 (id 5) holds 1 -> 2 */
	struct hand_edge e[] = { { 4, 0 }, { 5, 1 }, { 1, 2 }, { 6, 0 } };
	uint64_t sizes[] = { 100, 40, 40 };
	struct hc_graph *g = hand_graph(3, 4, e, 4, sizes);
	struct hc_dominators *d = dominators(g);
	CU_ASSERT_FATAL(d != NULL);
	/* sharing node 0, owners 1 and 3 retain nothing; ties stay in owner order */
	CU_ASSERT_EQUAL(d->owners_by_retained[0], 2);
	CU_ASSERT_EQUAL(d->owners_by_retained[1], 0);
	CU_ASSERT_EQUAL(d->owners_by_retained[2], 1);
	CU_ASSERT_EQUAL(d->owners_by_retained[3], 3);
	CU_ASSERT_EQUAL(d->retained[5], 80);
	hc_dominators_destroy(d);
	hand_graph_free(g);
}

static void test_an_empty_graph_has_empty_results(void)
{
	struct hc_graph *g = hand_graph(0, 0, NULL, 0, NULL);
	struct hc_dominators *d = dominators(g);
	CU_ASSERT_PTR_NOT_NULL(d);
	hc_dominators_destroy(d);
	hand_graph_free(g);
}

static void test_without_owners_every_node_is_leaked(void)
{
	struct hand_edge e[] = { { 0, 1 } };
	struct hc_graph *g = hand_graph(2, 0, e, 1, NULL);
	struct hc_dominators *d = dominators(g);
	CU_ASSERT_FATAL(d != NULL);
	CU_ASSERT_EQUAL(d->idom[0], HC_DOM_NONE);
	CU_ASSERT_EQUAL(d->idom[1], HC_DOM_NONE);
	CU_ASSERT_EQUAL(d->retained[0], HAND_SIZE);
	hc_dominators_destroy(d);
	hand_graph_free(g);
}

/*
 * The reverse edge corrupted is one of node 1's two: a vertex with a single
 * predecessor whose DFS parent is a node never reads its reverse edge.
 */
static void test_an_edge_to_a_node_that_does_not_exist_is_an_internal_error(void)
{
	struct hand_edge e[] = { { 3, 0 }, { 0, 1 }, { 0, 2 }, { 2, 1 } };
	struct hc_graph *g = hand_graph(3, 1, e, 4, NULL);
	CU_ASSERT_FATAL(g->in_start[1] == 0 && g->in_start[2] == 2);
	g->out[0] = 7;
	struct hc_dominators *d = NULL;
	struct hc_error *err = hc_dominators_compute(g, &d);
	CU_ASSERT_PTR_NULL(d);
	CU_ASSERT_FATAL(err != NULL);
	CU_ASSERT_EQUAL(err->code, HC_ERR_INTERNAL);
	hc_error_destroy(err);
	g->out[0] = 1;
	g->in[0] = 9;
	err = hc_dominators_compute(g, &d);
	CU_ASSERT_PTR_NULL(d);
	CU_ASSERT_PTR_NOT_NULL(err);
	hc_error_destroy(err);
	hand_graph_free(g);
}

static void test_peak_memory_is_at_most_20_bytes_per_vertex(void)
{
	struct hand_edge e[] = { { 3, 0 }, { 0, 1 }, { 1, 2 } };
	struct hc_graph *g = hand_graph(3, 1, e, 3, NULL);
	struct hc_dominators *d = dominators(g);
	CU_ASSERT_FATAL(d != NULL);
	/* 4 ids and the virtual root; owners_by_retained adds 4 bytes per owner */
	CU_ASSERT(d->peak_bytes <= 20 * 5 + 4);
	CU_ASSERT(d->peak_bytes >= 12 * 4);
	hc_dominators_destroy(d);
	hand_graph_free(g);
}

/* --- random graphs against the definition --- */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint32_t rnd(uint32_t bound)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return bound ? (uint32_t)(rng_state % bound) : 0;
}

/*
 * Marks what the virtual root reaches without going through `removed`
 * (UINT32_MAX: nothing removed). Vertices: ids 0..nids-1; the root's
 * successors are the owners.
 */
static void naive_reach(const struct hc_graph *g, uint32_t removed, uint8_t *seen, uint32_t *stack)
{
	uint32_t nids = g->nnodes + g->nowners, top = 0;
	memset(seen, 0, nids);
	for (uint32_t o = 0; o < g->nowners; o++)
		if (g->nnodes + o != removed) {
			seen[g->nnodes + o] = 1;
			stack[top++] = g->nnodes + o;
		}
	while (top) {
		uint32_t x = stack[--top];
		const uint32_t *succ, *start;
		uint32_t row;
		if (x >= g->nnodes) {
			succ = g->owner_out;
			start = g->owner_out_start;
			row = x - g->nnodes;
		} else {
			succ = g->out;
			start = g->out_start;
			row = x;
		}
		for (uint32_t e = start[row]; e < start[row + 1]; e++) {
			uint32_t s = succ[e];
			if (s != removed && !seen[s]) {
				seen[s] = 1;
				stack[top++] = s;
			}
		}
	}
}

/* Checks d against dominance by definition; returns the number of ids that disagree. */
static uint32_t naive_check(const struct hc_graph *g, const struct hc_dominators *d)
{
	uint32_t nids = g->nnodes + g->nowners, bad = 0;
	uint8_t *all = malloc(nids + 1), *cut = malloc(nids + 1);
	uint8_t *dom = calloc((size_t)nids * nids + 1, 1); /* dom[w * nids + x]: x dominates w */
	uint32_t *stack = malloc((nids + 1) * sizeof(uint32_t) * 2 + 8 * (g->nedges + 1));
	uint32_t *ndom = calloc(nids + 1, sizeof(uint32_t));
	naive_reach(g, UINT32_MAX, all, stack);
	for (uint32_t x = 0; x < nids; x++) {
		if (!all[x])
			continue;
		naive_reach(g, x, cut, stack);
		for (uint32_t w = 0; w < nids; w++)
			if (all[w] && (!cut[w] || w == x)) {
				dom[(size_t)w * nids + x] = 1;
				ndom[w]++;
			}
	}
	for (uint32_t w = 0; w < nids; w++) {
		uint32_t want = HC_DOM_NONE;
		uint64_t retained = w < g->nnodes ? hc_graph_node_size(g, w) : 0;
		if (all[w]) {
			/* strict dominators form a chain: the immediate one has the most dominators itself */
			want = ROOT;
			uint32_t best = 0;
			for (uint32_t x = 0; x < nids; x++)
				if (x != w && dom[(size_t)w * nids + x] && ndom[x] > best) {
					best = ndom[x];
					want = x;
				}
			retained = 0;
			for (uint32_t v = 0; v < g->nnodes; v++)
				if (dom[(size_t)v * nids + w])
					retained += hc_graph_node_size(g, v);
		}
		if (d->idom[w] != want || d->retained[w] != retained)
			bad++;
	}
	free(all);
	free(cut);
	free(dom);
	free(stack);
	free(ndom);
	return bad;
}

static void test_random_graphs_agree_with_the_definition_of_dominance(void)
{
	uint32_t graphs_wrong = 0;
	for (int round = 0; round < 400; round++) {
		uint32_t nnodes = 1 + rnd(48), nowners = rnd(5);
		/* from sparse trees to dense tangles */
		uint32_t nedges = rnd(1 + nnodes * (1 + rnd(4)));
		struct hand_edge *e = malloc((nedges + 1) * sizeof(*e));
		uint64_t *sizes = malloc(nnodes * sizeof(uint64_t));
		for (uint32_t i = 0; i < nnodes; i++)
			sizes[i] = rnd(100);
		for (uint32_t i = 0; i < nedges; i++) {
			/* a third of the edges leave owners, when there are owners */
			uint32_t from = nowners && rnd(3) == 0 ? nnodes + rnd(nowners) : rnd(nnodes);
			/* edges mostly go forward so that long paths form, some backwards for cycles */
			uint32_t to = rnd(4) ? (from < nnodes ? from + 1 + rnd(4) : rnd(nnodes)) : rnd(nnodes);
			e[i] = (struct hand_edge){ from, to < nnodes ? to : rnd(nnodes) };
		}
		struct hc_graph *g = hand_graph(nnodes, nowners, e, nedges, sizes);
		struct hc_dominators *d = dominators(g);
		CU_ASSERT_FATAL(d != NULL);
		uint32_t bad = naive_check(g, d);
		if (bad && graphs_wrong++ == 0)
			fprintf(stderr, "\n  round %d: %u nodes, %u owners, %u edges: %u ids wrong\n", round,
				nnodes, nowners, nedges, bad);
		for (uint32_t o = 1; o < nowners; o++)
			CU_ASSERT(d->retained[nnodes + d->owners_by_retained[o - 1]] >=
				  d->retained[nnodes + d->owners_by_retained[o]]);
		hc_dominators_destroy(d);
		hand_graph_free(g);
		free(e);
		free(sizes);
	}
	CU_ASSERT_EQUAL(graphs_wrong, 0);
}

void hc_test_register_dominators(void)
{
	CU_pSuite s = CU_add_suite("dominators", NULL, NULL);
	CU_add_test(s, "an owner is dominated by the virtual root", test_an_owner_is_dominated_by_the_virtual_root);
	CU_add_test(s, "a node held by two owners is dominated by the virtual root", test_a_node_held_by_two_owners_is_dominated_by_the_virtual_root);
	CU_add_test(s, "a single predecessor that is not the DFS parent does not dominate",
		    test_a_single_predecessor_that_is_not_the_dfs_parent_does_not_dominate);
	CU_add_test(s, "the retained size of a list head is the whole list", test_retained_size_of_a_list_head_is_the_whole_list);
	CU_add_test(s, "leaked nodes are not in the tree", test_leaked_nodes_are_not_in_the_tree);
	CU_add_test(s, "the join of a diamond is dominated by its top", test_the_join_of_a_diamond_is_dominated_by_its_top);
	CU_add_test(s, "a cycle reachable from one owner is dominated by its entry", test_a_cycle_reachable_from_one_owner_is_dominated_by_its_entry);
	CU_add_test(s, "a cycle entered from two owners is dominated by neither", test_a_cycle_entered_from_two_owners_is_dominated_by_neither);
	CU_add_test(s, "a self-loop changes nothing", test_a_self_loop_changes_nothing);
	CU_add_test(s, "an owner pointing below its own subtree shortcuts the dominator", test_an_owner_pointing_below_its_own_subtree_shortcuts_the_dominator);
	CU_add_test(s, "a million-node chain needs no stack", test_a_million_node_chain_needs_no_stack);
	CU_add_test(s, "a million-node chain in reverse id order needs no stack", test_a_million_node_chain_in_reverse_id_order_needs_no_stack);
	CU_add_test(s, "owners are listed by retained size, largest first", test_owners_are_listed_by_retained_size_largest_first);
	CU_add_test(s, "an empty graph has empty results", test_an_empty_graph_has_empty_results);
	CU_add_test(s, "without owners every node is leaked", test_without_owners_every_node_is_leaked);
	CU_add_test(s, "an edge to a node that does not exist is an internal error", test_an_edge_to_a_node_that_does_not_exist_is_an_internal_error);
	CU_add_test(s, "peak memory is at most 20 bytes per vertex", test_peak_memory_is_at_most_20_bytes_per_vertex);
	CU_add_test(s, "random graphs agree with the definition of dominance", test_random_graphs_agree_with_the_definition_of_dominance);
}
