/*
 * Leak classification: on a core of the scenario program (graph_program.h),
 * the exact leaked lists, ring and stale-stack allocation with their
 * clusters, the root kinds that reach each anchored structure and tallies
 * that add up to the heap's in-use bytes; on graphs made by hand, the shapes
 * a core cannot easily pin down (lasso, leaked nodes pointing at anchored
 * ones, several root kinds, cluster order).
 */
#include <CUnit/CUnit.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixtures.h"
#include "graph_program.h"
#include "hand_graph.h"
#include "heapcore/graph.h"
#include "suites.h"

#define NONE UINT32_MAX

struct classified {
	struct hc_target *t;
	struct hc_symbols *s;
	struct hc_glibc_heap *h;
	struct hc_graph *g;
	struct hc_leaks *l;
	char *out;
};

static bool classify_core(struct classified *c)
{
	memset(c, 0, sizeof(*c));
	const char *core = hc_fixture_make_core("leak_scenarios", gp_program);
	if (!core)
		return false;
	char path[400];
	snprintf(path, sizeof(path), "%s/leak_scenarios.out", hc_fixture_tmpdir());
	c->out = hc_fixture_read_file(path, NULL);
	struct hc_symbol_options so = { 0 };
	struct hc_error *err = hc_target_open_core(core, &c->t);
	if (!err)
		err = hc_symbols_open(c->t, &so, &c->s);
	if (!err)
		err = hc_glibc_walk(c->t, c->s, NULL, &c->h);
	if (!err)
		err = hc_graph_build(c->t, c->s, c->h, NULL, &c->g);
	if (!err)
		err = hc_leaks_classify(c->g, NULL, &c->l);
	if (err) {
		fprintf(stderr, "\n  %s: %s\n", core, err->message);
		hc_error_destroy(err);
		return false;
	}
	return c->out != NULL;
}

/* The root kinds that reach node v (hc_leaks_reached_by), 0xff if it ran out of memory. */
static uint8_t reached_by(const struct hc_graph *g, uint32_t v)
{
	uint8_t kinds;
	return hc_leaks_reached_by(g, v, &kinds) ? kinds : 0xff;
}

static void classified_free(struct classified *c)
{
	hc_leaks_destroy(c->l);
	hc_graph_destroy(c->g);
	hc_glibc_heap_destroy(c->h);
	hc_symbols_destroy(c->s);
	hc_target_destroy(c->t);
	free(c->out);
}

static uint32_t node_for(const struct classified *c, const char *key, int *n)
{
	uint64_t a = gp_value(c->out, key, n);
	uint32_t v = a ? hc_graph_node_at(c->g, a) : NONE;
	return v != NONE && hc_graph_node_addr(c->g, v) == a ? v : NONE;
}

/* A list's (or ring's) nodes by its next pointers, at most max, stopping where it comes back. */
static uint32_t list_nodes(const struct classified *c, uint64_t head, uint32_t *nodes, uint32_t max)
{
	uint32_t n = 0;
	uint64_t p = head;
	while (p && n < max) {
		uint32_t v = hc_graph_node_at(c->g, p);
		if (v == NONE || hc_graph_node_addr(c->g, v) != p)
			break;
		nodes[n++] = v;
		if (!hc_target_read_u64(c->t, p, &p) || p == head)
			break;
	}
	return n;
}

static void test_a_leaked_list_is_one_cluster_headed_by_its_first_node(void)
{
	struct classified c;
	CU_ASSERT_FATAL(classify_core(&c));
	const struct hc_leaks *l = c.l;
	int count = 0;
	uint32_t head = node_for(&c, "leak_list", &count), anchor = node_for(&c, "anchor", NULL);
	CU_ASSERT_FATAL(head != NONE && anchor != NONE);
	CU_ASSERT_EQUAL(count, GP_LEAK_N);
	uint32_t nodes[GP_LEAK_N + 2];
	/* the list's tail points at the anchored node: one more on the walk */
	CU_ASSERT_EQUAL(list_nodes(&c, hc_graph_node_addr(c.g, head), nodes, GP_LEAK_N + 2), GP_LEAK_N + 1);
	CU_ASSERT_EQUAL(nodes[GP_LEAK_N], anchor);
	CU_ASSERT_EQUAL(l->cls[head], HC_LEAKED_UNREFERENCED);
	for (uint32_t i = 1; i < GP_LEAK_N; i++) {
		CU_ASSERT_EQUAL(l->cls[nodes[i]], HC_LEAKED_INDIRECT);
		CU_ASSERT_EQUAL(l->cluster[nodes[i]], l->cluster[head]);
		CU_ASSERT_EQUAL(reached_by(c.g, nodes[i]), 0);
	}
	CU_ASSERT_EQUAL(l->cls[anchor], HC_ANCHORED);
	CU_ASSERT_EQUAL(l->cluster[anchor], NONE);
	CU_ASSERT_EQUAL(reached_by(c.g, anchor), 1u << HC_ROOT_DATA);
	CU_ASSERT_FATAL(l->cluster[head] < l->nclusters);
	const struct hc_leak_cluster *k = &l->clusters[l->cluster[head]];
	CU_ASSERT_EQUAL(k->head, head);
	CU_ASSERT_EQUAL(k->nnodes, GP_LEAK_N);
	CU_ASSERT_EQUAL(k->bytes, GP_LEAK_N * GP_NODE_CHUNK);
	CU_ASSERT_EQUAL(k->nheads, 1);
	CU_ASSERT_FALSE(k->cyclic);
	/* the largest cluster of the core */
	CU_ASSERT_EQUAL(l->cluster[head], 0);
	classified_free(&c);
}

static void test_a_leaked_ring_is_one_cyclic_cluster_without_heads(void)
{
	struct classified c;
	CU_ASSERT_FATAL(classify_core(&c));
	const struct hc_leaks *l = c.l;
	int count = 0;
	uint32_t low = node_for(&c, "ring", &count);
	CU_ASSERT_FATAL(low != NONE);
	CU_ASSERT_EQUAL(count, GP_RING_N);
	uint32_t nodes[GP_RING_N + 1];
	CU_ASSERT_EQUAL(list_nodes(&c, hc_graph_node_addr(c.g, low), nodes, GP_RING_N + 1), GP_RING_N);
	for (uint32_t i = 0; i < GP_RING_N; i++) {
		CU_ASSERT_EQUAL(l->cls[nodes[i]], HC_LEAKED_INDIRECT);
		CU_ASSERT_EQUAL(l->cluster[nodes[i]], l->cluster[low]);
	}
	CU_ASSERT_FATAL(l->cluster[low] < l->nclusters);
	const struct hc_leak_cluster *k = &l->clusters[l->cluster[low]];
	CU_ASSERT_EQUAL(k->head, low);
	CU_ASSERT_EQUAL(k->nnodes, GP_RING_N);
	CU_ASSERT_EQUAL(k->bytes, GP_RING_N * GP_NODE_CHUNK);
	CU_ASSERT_EQUAL(k->nheads, 0);
	CU_ASSERT_TRUE(k->cyclic);
	classified_free(&c);
}

static void test_a_leak_in_a_thread_arena_and_one_held_by_a_dead_stack_are_found(void)
{
	struct classified c;
	CU_ASSERT_FATAL(classify_core(&c));
	const struct hc_leaks *l = c.l;
	uint32_t head = node_for(&c, "thread_leak", NULL), dead = node_for(&c, "dead_stack", NULL);
	CU_ASSERT_FATAL(head != NONE && dead != NONE);
	CU_ASSERT_NOT_EQUAL(hc_glibc_chunk_arena(c.h, c.g->chunk[head]), 0);
	CU_ASSERT_EQUAL(l->cls[head], HC_LEAKED_UNREFERENCED);
	CU_ASSERT_FATAL(l->cluster[head] < l->nclusters);
	const struct hc_leak_cluster *k = &l->clusters[l->cluster[head]];
	CU_ASSERT_EQUAL(k->head, head);
	CU_ASSERT_EQUAL(k->nnodes, GP_THREAD_LEAK_N);
	CU_ASSERT_EQUAL(k->bytes, GP_THREAD_LEAK_N * GP_NODE_CHUNK);
	CU_ASSERT_EQUAL(l->cls[dead], HC_LEAKED_UNREFERENCED);
	CU_ASSERT_FATAL(l->cluster[dead] < l->nclusters);
	CU_ASSERT_EQUAL(l->clusters[l->cluster[dead]].nnodes, 1);
	CU_ASSERT_EQUAL(l->clusters[l->cluster[dead]].bytes, GP_NODE_CHUNK);
	classified_free(&c);
}

/* Every node of the list at key is anchored and reached through exactly the kinds given. */
static void check_reached(const struct classified *c, const char *key, uint32_t want_n, uint8_t kinds)
{
	uint32_t head = node_for(c, key, NULL);
	CU_ASSERT_FATAL(head != NONE);
	uint32_t nodes[64];
	uint32_t n = list_nodes(c, hc_graph_node_addr(c->g, head), nodes, 64);
	CU_ASSERT_EQUAL(n, want_n);
	for (uint32_t i = 0; i < n; i++) {
		CU_ASSERT_EQUAL(c->l->cls[nodes[i]], HC_ANCHORED);
		CU_ASSERT_EQUAL(reached_by(c->g, nodes[i]), kinds);
	}
}

static void test_anchored_structures_are_reached_by_their_holders_kind(void)
{
	struct classified c;
	CU_ASSERT_FATAL(classify_core(&c));
	check_reached(&c, "global", GP_GLOBAL_N, 1u << HC_ROOT_DATA);
	check_reached(&c, "stack", GP_STACK_N, 1u << HC_ROOT_STACK);
	check_reached(&c, "thread_list", GP_THREAD_N, 1u << HC_ROOT_STACK);
	/* held only by the mmapped chunk a stack variable holds */
	check_reached(&c, "big_child", 1, 1u << HC_ROOT_STACK);
	check_reached(&c, "interior_b", 1, 1u << HC_ROOT_DATA);
	if (c.t->arch == HC_ARCH_X86_64)
		check_reached(&c, "register", 1, 1u << HC_ROOT_REGISTER);
	classified_free(&c);
}

static void test_tallies_add_up_to_the_heaps_in_use_bytes(void)
{
	struct classified c;
	CU_ASSERT_FATAL(classify_core(&c));
	const struct hc_leaks *l = c.l;
	const struct hc_tally *used = &c.h->totals[HC_CHUNK_USED], *mm = &c.h->totals[HC_CHUNK_MMAPPED];
	CU_ASSERT_EQUAL(l->anchored.count + l->leaked.count, used->count + mm->count);
	CU_ASSERT_EQUAL(l->anchored.bytes + l->leaked.bytes, used->bytes + mm->bytes);
	CU_ASSERT_EQUAL(l->leaked.count, l->unreferenced.count + l->indirect.count);
	CU_ASSERT_EQUAL(l->leaked.bytes, l->unreferenced.bytes + l->indirect.bytes);
	/* the scenario leaks exactly these: the list, the ring, the thread's list, the dead stack's node */
	CU_ASSERT_EQUAL(l->leaked.count, GP_LEAK_N + GP_RING_N + GP_THREAD_LEAK_N + 1);
	CU_ASSERT_EQUAL(l->leaked.bytes, (GP_LEAK_N + GP_RING_N + GP_THREAD_LEAK_N + 1) * GP_NODE_CHUNK);
	CU_ASSERT_EQUAL(l->nclusters, 4);
	uint64_t count = 0, bytes = 0, heads = 0;
	for (uint32_t i = 0; i < l->nclusters; i++) {
		count += l->clusters[i].nnodes;
		bytes += l->clusters[i].bytes;
		heads += l->clusters[i].nheads;
		if (i)
			CU_ASSERT_TRUE(l->clusters[i - 1].bytes >= l->clusters[i].bytes);
	}
	CU_ASSERT_EQUAL(count, l->leaked.count);
	CU_ASSERT_EQUAL(bytes, l->leaked.bytes);
	CU_ASSERT_EQUAL(heads, l->unreferenced.count);
	/* the anchored bytes are the heap's less the leaked: the same as adding up the anchored nodes */
	uint64_t anchored = 0;
	for (uint32_t v = 0; v < c.g->nnodes; v++)
		anchored += l->cls[v] == HC_ANCHORED ? hc_graph_node_bytes(c.g, v) : 0;
	CU_ASSERT_EQUAL(l->anchored.bytes, anchored);
	for (uint32_t v = 0; v < c.g->nnodes; v++)
		if ((l->cls[v] == HC_ANCHORED) != (l->cluster[v] == NONE)) {
			CU_FAIL("class and cluster disagree");
			break;
		}
	/* reached_by is asked of one node at a time: a sample of both classes */
	for (uint32_t v = 0; v < c.g->nnodes; v += 1 + c.g->nnodes / 64)
		if ((l->cls[v] == HC_ANCHORED) != (reached_by(c.g, v) != 0)) {
			CU_FAIL("class and reached_by disagree");
			break;
		}
	classified_free(&c);
}

/* ---- graphs made by hand ---- */

static struct hc_leaks *classify_hand(struct hc_graph *g)
{
	struct hc_leaks *l = NULL;
	struct hc_error *err = hc_leaks_classify(g, NULL, &l);
	CU_ASSERT_PTR_NULL(err);
	hc_error_destroy(err);
	return l;
}

static void test_a_lasso_has_one_head_and_a_cycle(void)
{
	/* 0 -> 1 -> 2 -> 3 -> 1; 4 <- owner 0 (node 5 is the owner id) */
	const struct hand_edge e[] = { { 0, 1 }, { 1, 2 }, { 2, 3 }, { 3, 1 }, { 5, 4 } };
	struct hc_graph *g = hand_graph(5, 1, e, 5, NULL);
	CU_ASSERT_FATAL(g != NULL);
	struct hc_leaks *l = classify_hand(g);
	CU_ASSERT_FATAL(l != NULL);
	CU_ASSERT_EQUAL(l->cls[0], HC_LEAKED_UNREFERENCED);
	for (int v = 1; v <= 3; v++)
		CU_ASSERT_EQUAL(l->cls[v], HC_LEAKED_INDIRECT);
	CU_ASSERT_EQUAL(l->cls[4], HC_ANCHORED);
	CU_ASSERT_EQUAL(reached_by(g, 4), 1u << HC_ROOT_DATA);
	CU_ASSERT_EQUAL(l->nclusters, 1);
	CU_ASSERT_EQUAL(l->clusters[0].head, 0);
	CU_ASSERT_EQUAL(l->clusters[0].nnodes, 4);
	CU_ASSERT_EQUAL(l->clusters[0].nheads, 1);
	CU_ASSERT_TRUE(l->clusters[0].cyclic);
	CU_ASSERT_EQUAL(l->clusters[0].bytes, 4 * HAND_SIZE);
	CU_ASSERT_EQUAL(l->leaked.count, 4);
	CU_ASSERT_EQUAL(l->anchored.count, 1);
	hc_leaks_destroy(l);
	hand_graph_free(g);
}

static void test_leaked_nodes_pointing_at_anchored_ones_do_not_join_them(void)
{
	/*
	 * owner 0 (id 6) -> 0 -> 1; leaked 2 -> 1 and 3 -> 1 (two heads meeting
	 * at an anchored node: two clusters, not one); leaked 4 <-> 5 pure cycle
	 */
	const struct hand_edge e[] = { { 6, 0 }, { 0, 1 }, { 2, 1 }, { 3, 1 }, { 4, 5 }, { 5, 4 } };
	const uint64_t sizes[] = { 0x30, 0x30, 0x100, 0x30, 0x50, 0x50 };
	struct hc_graph *g = hand_graph(6, 1, e, 6, sizes);
	CU_ASSERT_FATAL(g != NULL);
	struct hc_leaks *l = classify_hand(g);
	CU_ASSERT_FATAL(l != NULL);
	CU_ASSERT_EQUAL(l->cls[1], HC_ANCHORED);
	CU_ASSERT_EQUAL(l->cls[2], HC_LEAKED_UNREFERENCED);
	CU_ASSERT_EQUAL(l->cls[3], HC_LEAKED_UNREFERENCED);
	CU_ASSERT_EQUAL(l->nclusters, 3);
	CU_ASSERT_NOT_EQUAL(l->cluster[2], l->cluster[3]);
	/* by bytes: {2} 0x100, the cycle {4,5} 0xa0, {3} 0x30 */
	CU_ASSERT_EQUAL(l->cluster[2], 0);
	CU_ASSERT_EQUAL(l->cluster[4], 1);
	CU_ASSERT_EQUAL(l->cluster[5], 1);
	CU_ASSERT_EQUAL(l->cluster[3], 2);
	CU_ASSERT_FALSE(l->clusters[0].cyclic);
	CU_ASSERT_TRUE(l->clusters[1].cyclic);
	CU_ASSERT_EQUAL(l->clusters[1].head, 4);
	CU_ASSERT_EQUAL(l->clusters[1].nheads, 0);
	CU_ASSERT_EQUAL(l->clusters[1].bytes, 0xa0);
	CU_ASSERT_EQUAL(l->unreferenced.bytes, 0x130);
	CU_ASSERT_EQUAL(l->indirect.bytes, 0xa0);
	hc_leaks_destroy(l);
	hand_graph_free(g);
}

static void test_reached_by_collects_every_root_kind_on_the_way(void)
{
	/* owner 0 (stack, id 4) -> 0 -> 2; owner 1 (data, id 5) -> 1 -> 2 -> 3; 3 -> 0 */
	const struct hand_edge e[] = { { 4, 0 }, { 0, 2 }, { 5, 1 }, { 1, 2 }, { 2, 3 }, { 3, 0 } };
	struct hc_graph *g = hand_graph(4, 2, e, 6, NULL);
	CU_ASSERT_FATAL(g != NULL);
	g->owners[0].kind = HC_ROOT_STACK;
	g->roots[0].kind = HC_ROOT_STACK;
	struct hc_leaks *l = classify_hand(g);
	CU_ASSERT_FATAL(l != NULL);
	uint8_t both = 1u << HC_ROOT_STACK | 1u << HC_ROOT_DATA;
	CU_ASSERT_EQUAL(reached_by(g, 0), both);
	CU_ASSERT_EQUAL(reached_by(g, 1), 1u << HC_ROOT_DATA);
	CU_ASSERT_EQUAL(reached_by(g, 2), both);
	CU_ASSERT_EQUAL(reached_by(g, 3), both);
	CU_ASSERT_EQUAL(l->leaked.count, 0);
	CU_ASSERT_EQUAL(l->nclusters, 0);
	hc_leaks_destroy(l);
	hand_graph_free(g);
}

/* Same classes, clusters and tallies: what analyze gets (from the dominators) and what the search alone gives. */
static void assert_same_leaks(const struct hc_graph *g, const struct hc_leaks *x, const struct hc_leaks *y)
{
	CU_ASSERT_EQUAL(memcmp(x->cls, y->cls, g->nnodes), 0);
	CU_ASSERT_EQUAL(memcmp(x->cluster, y->cluster, g->nnodes * sizeof(uint32_t)), 0);
	CU_ASSERT_FATAL(x->nclusters == y->nclusters);
	for (uint32_t i = 0; i < x->nclusters; i++) {
		const struct hc_leak_cluster *a = &x->clusters[i], *b = &y->clusters[i];
		CU_ASSERT(a->head == b->head && a->nnodes == b->nnodes && a->bytes == b->bytes && a->nheads == b->nheads &&
			  a->cyclic == b->cyclic);
	}
	CU_ASSERT_EQUAL(memcmp(&x->anchored, &y->anchored, sizeof(x->anchored)), 0);
	CU_ASSERT_EQUAL(memcmp(&x->unreferenced, &y->unreferenced, sizeof(x->unreferenced)), 0);
	CU_ASSERT_EQUAL(memcmp(&x->indirect, &y->indirect, sizeof(x->indirect)), 0);
}

/* A cluster is cyclic iff one of its nodes reaches itself through leaked nodes (a small graph: by search from each). */
static void assert_cyclic_by_definition(const struct hc_graph *g, const struct hc_leaks *l)
{
	uint32_t n = g->nnodes, queue[64];
	bool want[64] = { false };
	CU_ASSERT_FATAL(n <= 64 && l->nclusters <= 64);
	for (uint32_t v = 0; v < n; v++) {
		if (l->cls[v] == HC_ANCHORED)
			continue;
		bool seen[64] = { false }, back = false;
		uint32_t qn = 0;
		for (uint32_t i = g->out_start[v]; i < g->out_start[v + 1]; i++)
			if (l->cls[g->out[i]] != HC_ANCHORED && !seen[g->out[i]]) {
				seen[g->out[i]] = true;
				queue[qn++] = g->out[i];
			}
		for (uint32_t q = 0; q < qn && !back; q++) {
			uint32_t u = queue[q];
			back = u == v;
			for (uint32_t i = g->out_start[u]; i < g->out_start[u + 1]; i++)
				if (l->cls[g->out[i]] != HC_ANCHORED && !seen[g->out[i]]) {
					seen[g->out[i]] = true;
					queue[qn++] = g->out[i];
				}
		}
		if (back)
			want[l->cluster[v]] = true;
	}
	for (uint32_t c = 0; c < l->nclusters; c++)
		CU_ASSERT_EQUAL(l->clusters[c].cyclic, want[c]);
}

static void test_anchored_from_the_dominators_tree_is_anchored_from_the_owners(void)
{
	struct classified c;
	CU_ASSERT_FATAL(classify_core(&c));
	struct hc_dominators *d = NULL;
	struct hc_leaks *l = NULL;
	CU_ASSERT_PTR_NULL_FATAL(hc_dominators_compute(c.g, &d));
	CU_ASSERT_PTR_NULL_FATAL(hc_leaks_classify(c.g, d, &l));
	assert_same_leaks(c.g, c.l, l);
	hc_leaks_destroy(l);
	hc_dominators_destroy(d);
	classified_free(&c);
	/* random graphs: cycles, shared nodes, nodes only an owner reaches, leaked parts pointing in */
	uint64_t x = 0x9e3779b97f4a7c15ull;
	for (int round = 0; round < 200; round++) {
		struct hand_edge e[120];
		uint32_t nn = 2 + (uint32_t)(round % 40), no = 1 + (uint32_t)(round % 3), ne = 0;
		for (uint32_t i = 0; i < 2 * nn && ne < 120; i++) {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			uint32_t from = (uint32_t)(x % (nn + no)), to = (uint32_t)((x >> 20) % nn);
			/* an owner's edges first, as the graph keeps them */
			e[ne++] = (struct hand_edge){ from, to };
		}
		struct hc_graph *g = hand_graph(nn, no, e, ne, NULL);
		CU_ASSERT_FATAL(g != NULL);
		struct hc_leaks *a = classify_hand(g), *b = NULL;
		CU_ASSERT_PTR_NULL_FATAL(hc_dominators_compute(g, &d));
		CU_ASSERT_PTR_NULL_FATAL(hc_leaks_classify(g, d, &b));
		CU_ASSERT_FATAL(a != NULL && b != NULL);
		assert_same_leaks(g, a, b);
		assert_cyclic_by_definition(g, b);
		hc_leaks_destroy(a);
		hc_leaks_destroy(b);
		hc_dominators_destroy(d);
		hand_graph_free(g);
	}
}

void hc_test_register_leaks(void)
{
	CU_pSuite s = CU_add_suite("leaks", NULL, NULL);
	CU_add_test(s, "a leaked list is one cluster headed by its first node", test_a_leaked_list_is_one_cluster_headed_by_its_first_node);
	CU_add_test(s, "a leaked ring is one cyclic cluster without heads", test_a_leaked_ring_is_one_cyclic_cluster_without_heads);
	CU_add_test(s, "a leak in a thread arena and one held by a dead stack are found", test_a_leak_in_a_thread_arena_and_one_held_by_a_dead_stack_are_found);
	CU_add_test(s, "anchored structures are reached by their holder's kind", test_anchored_structures_are_reached_by_their_holders_kind);
	CU_add_test(s, "tallies add up to the heap's in-use bytes", test_tallies_add_up_to_the_heaps_in_use_bytes);
	CU_add_test(s, "a lasso has one head and a cycle", test_a_lasso_has_one_head_and_a_cycle);
	CU_add_test(s, "leaked nodes pointing at anchored ones do not join them", test_leaked_nodes_pointing_at_anchored_ones_do_not_join_them);
	CU_add_test(s, "reached_by collects every root kind on the way", test_reached_by_collects_every_root_kind_on_the_way);
	CU_add_test(s, "anchored from the dominators' tree is anchored from the owners",
		    test_anchored_from_the_dominators_tree_is_anchored_from_the_owners);
}
