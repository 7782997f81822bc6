/*
 * Shortest reference chains (hc_chains_*): graphs built by hand over a
 * synthetic core that holds the nodes' and globals' bytes, so that each
 * step's pointer word can be found in memory.
 */
#include <CUnit/CUnit.h>
#include <elf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixtures.h"
#include "hand_graph.h"
#include "heapcore/graph.h"
#include "heapcore/target.h"
#include "suites.h"
#include "synthetic_core.h"

#define DATA 0x600000ull       /* a data segment for the owners' words */
#define HEAP_BYTES 0x1000ull   /* 64 hand-graph nodes */
#define UNMAPPED 0x900000ull

static uint8_t heap_bytes[HEAP_BYTES], data_bytes[0x1000];

static void clear_memory(void)
{
	memset(heap_bytes, 0, sizeof(heap_bytes));
	memset(data_bytes, 0, sizeof(data_bytes));
}

/* Stores value at addr in the memory the next core will hold. */
static void poke(uint64_t addr, uint64_t value)
{
	if (addr >= HAND_BASE && addr + 8 <= HAND_BASE + HEAP_BYTES)
		memcpy(heap_bytes + (addr - HAND_BASE), &value, 8);
	else if (addr >= DATA && addr + 8 <= DATA + sizeof(data_bytes))
		memcpy(data_bytes + (addr - DATA), &value, 8);
	else
		CU_FAIL("poke outside the synthetic memory");
}

static uint64_t node_addr(uint32_t i)
{
	return HAND_BASE + HAND_STRIDE * i;
}

/* A core holding heap_bytes and data_bytes, with one thread whose fs_base is fs_base. */
static struct hc_target *memory_core(const char *name, uint64_t fs_base)
{
	struct synth_segment segs[] = {
		{ HAND_BASE, HEAP_BYTES, HEAP_BYTES, PF_R | PF_W, heap_bytes },
		{ DATA, sizeof(data_bytes), sizeof(data_bytes), PF_R | PF_W, data_bytes },
	};
	struct synth_core c;
	synth_core_build(&c, 77, 0x401000, 0x7ffc0000, fs_base, "chains", segs, 2);
	const char *path = hc_fixture_write_file(name, c.data, c.len);
	synth_core_free(&c);
	struct hc_target *t = NULL;
	struct hc_error *err = hc_target_open_core(path, &t);
	if (err) {
		fprintf(stderr, "\n  %s: %s\n", path, err->message);
		hc_error_destroy(err);
	}
	return t;
}

static struct hc_chains *chains(const struct hc_graph *g)
{
	struct hc_chains *c = NULL;
	struct hc_error *err = hc_chains_compute(g, &c);
	if (err) {
		fprintf(stderr, "\n  chains: %s\n", err->message);
		hc_error_destroy(err);
	}
	return c;
}

static void set_owner_range(struct hc_graph *g, uint32_t o, uint64_t start, uint64_t end)
{
	g->owners[o].start = g->roots[o].start = start;
	g->owners[o].end = g->roots[o].end = end;
}

/* A list of four nodes, its next pointer at offset 8, its head in the global at DATA + 0x100. */
static struct hc_graph *list_of_four(void)
{
	clear_memory();
	struct hand_edge e[] = { { 4, 0 }, { 0, 1 }, { 1, 2 }, { 2, 3 } };
	struct hc_graph *g = hand_graph(4, 1, e, 4, NULL);
	set_owner_range(g, 0, DATA + 0x100, DATA + 0x108);
	poke(DATA + 0x100, node_addr(0));
	for (uint32_t i = 0; i < 3; i++)
		poke(node_addr(i) + 8, node_addr(i + 1));
	return g;
}

static void test_chain_to_the_last_node_of_a_list_starts_at_its_global(void)
{
	struct hc_graph *g = list_of_four();
	struct hc_target *t = memory_core("chain_list.core", 0);
	CU_ASSERT_FATAL(t != NULL);
	g->target = t;
	struct hc_chains *c = chains(g);
	CU_ASSERT_FATAL(c != NULL);
	struct hc_chain_step s[8];
	CU_ASSERT_EQUAL_FATAL(hc_chains_get(c, g, 3, s, 8), 4);
	CU_ASSERT_TRUE(s[0].from_owner);
	CU_ASSERT_EQUAL(s[0].from, 0);
	CU_ASSERT_EQUAL(s[0].from_addr, DATA + 0x100);
	CU_ASSERT_EQUAL(s[0].to, 0);
	for (uint32_t i = 1; i < 4; i++) {
		CU_ASSERT_FALSE(s[i].from_owner);
		CU_ASSERT_EQUAL(s[i].from, i - 1);
		CU_ASSERT_EQUAL(s[i].to, i);
		CU_ASSERT_EQUAL(s[i].from_addr, node_addr(i - 1) + 8);
		CU_ASSERT_FALSE(s[i].interior);
	}
	hc_chains_destroy(c);
	hand_graph_free(g);
	hc_target_destroy(t);
}

static void test_a_chain_takes_the_shortest_way(void)
{
	/* the list, and a second owner (a range of words) pointing at its third node */
	clear_memory();
	struct hand_edge e[] = { { 4, 0 }, { 0, 1 }, { 1, 2 }, { 2, 3 }, { 5, 2 } };
	struct hc_graph *g = hand_graph(4, 2, e, 5, NULL);
	set_owner_range(g, 0, DATA + 0x100, DATA + 0x108);
	set_owner_range(g, 1, DATA + 0x200, DATA + 0x300);
	poke(DATA + 0x100, node_addr(0));
	for (uint32_t i = 0; i < 3; i++)
		poke(node_addr(i) + 8, node_addr(i + 1));
	poke(DATA + 0x248, node_addr(2));
	struct hc_target *t = memory_core("chain_shortest.core", 0);
	CU_ASSERT_FATAL(t != NULL);
	g->target = t;
	struct hc_chains *c = chains(g);
	CU_ASSERT_FATAL(c != NULL);
	struct hc_chain_step s[8];
	CU_ASSERT_EQUAL_FATAL(hc_chains_get(c, g, 3, s, 8), 2);
	CU_ASSERT_TRUE(s[0].from_owner);
	CU_ASSERT_EQUAL(s[0].from, 1);
	CU_ASSERT_EQUAL(s[0].from_addr, DATA + 0x248);
	CU_ASSERT_EQUAL(s[1].from, 2);
	CU_ASSERT_EQUAL(s[1].to, 3);
	hc_chains_destroy(c);
	hand_graph_free(g);
	hc_target_destroy(t);
}

static void test_among_equally_short_chains_the_earliest_owner_wins(void)
{
	struct hand_edge e[] = { { 3, 1 }, { 2, 0 }, { 2, 1 }, { 0, 1 } };
	struct hc_graph *g = hand_graph(2, 2, e, 4, NULL);
	struct hc_chains *c = chains(g);
	CU_ASSERT_FATAL(c != NULL);
	struct hc_chain_step s[4];
	CU_ASSERT_EQUAL_FATAL(hc_chains_get(c, g, 1, s, 4), 1);
	CU_ASSERT_TRUE(s[0].from_owner);
	CU_ASSERT_EQUAL(s[0].from, 0);
	hc_chains_destroy(c);
	hand_graph_free(g);
}

static void test_a_leaked_node_has_no_chain(void)
{
	struct hand_edge e[] = { { 3, 0 }, { 1, 0 }, { 2, 2 } };
	struct hc_graph *g = hand_graph(3, 1, e, 3, NULL);
	struct hc_chains *c = chains(g);
	CU_ASSERT_FATAL(c != NULL);
	struct hc_chain_step s[4];
	CU_ASSERT_EQUAL(hc_chains_get(c, g, 0, s, 4), 1);
	CU_ASSERT_EQUAL(hc_chains_get(c, g, 1, s, 4), 0);
	CU_ASSERT_EQUAL(hc_chains_get(c, g, 2, s, 4), 0);
	CU_ASSERT_EQUAL(hc_chains_get(c, g, 3, s, 4), 0); /* not a node */
	hc_chains_destroy(c);
	hand_graph_free(g);
}

static void test_an_interior_pointer_is_marked_and_its_word_found(void)
{
	clear_memory();
	struct hand_edge e[] = { { 2, 0 }, { 0, 1 } };
	struct hc_graph *g = hand_graph(2, 1, e, 2, NULL);
	g->out_flags[0] = HC_EDGE_INTERIOR;
	set_owner_range(g, 0, DATA, DATA + 8);
	poke(DATA, node_addr(0));
	poke(node_addr(0) + 0x10, node_addr(1) + 0x20);
	struct hc_target *t = memory_core("chain_interior.core", 0);
	CU_ASSERT_FATAL(t != NULL);
	g->target = t;
	struct hc_chains *c = chains(g);
	CU_ASSERT_FATAL(c != NULL);
	struct hc_chain_step s[4];
	CU_ASSERT_EQUAL_FATAL(hc_chains_get(c, g, 1, s, 4), 2);
	CU_ASSERT_FALSE(s[0].interior);
	CU_ASSERT_TRUE(s[1].interior);
	CU_ASSERT_EQUAL(s[1].from_addr, node_addr(0) + 0x10);
	hc_chains_destroy(c);
	hand_graph_free(g);
	hc_target_destroy(t);
}

static void test_a_pointer_to_the_start_is_preferred_to_an_interior_one(void)
{
	clear_memory();
	struct hand_edge e[] = { { 2, 0 }, { 0, 1 } };
	struct hc_graph *g = hand_graph(2, 1, e, 2, NULL);
	set_owner_range(g, 0, DATA, DATA + 8);
	poke(DATA, node_addr(0));
	poke(node_addr(0), node_addr(1) + 8);
	poke(node_addr(0) + 0x18, node_addr(1));
	/* one past the end is not inside it */
	poke(node_addr(0) + 0x8, node_addr(1) + HAND_SIZE);
	struct hc_target *t = memory_core("chain_prefer_start.core", 0);
	CU_ASSERT_FATAL(t != NULL);
	g->target = t;
	struct hc_chains *c = chains(g);
	CU_ASSERT_FATAL(c != NULL);
	struct hc_chain_step s[4];
	CU_ASSERT_EQUAL_FATAL(hc_chains_get(c, g, 1, s, 4), 2);
	CU_ASSERT_FALSE(s[1].interior);
	CU_ASSERT_EQUAL(s[1].from_addr, node_addr(0) + 0x18);
	hc_chains_destroy(c);
	hand_graph_free(g);
	hc_target_destroy(t);
}

static void test_a_register_owner_names_the_register_index(void)
{
	clear_memory();
	struct hand_edge e[] = { { 1, 0 } };
	struct hc_graph *g = hand_graph(1, 1, e, 1, NULL);
	struct hc_target *t = memory_core("chain_register.core", node_addr(0));
	CU_ASSERT_FATAL(t != NULL);
	g->target = t;
	g->owners[0].kind = g->roots[0].kind = HC_ROOT_REGISTER;
	g->roots[0].thread = 0;
	set_owner_range(g, 0, 0, 8ull * t->threads[0].nregs);
	struct hc_chains *c = chains(g);
	CU_ASSERT_FATAL(c != NULL);
	struct hc_chain_step s[4];
	CU_ASSERT_EQUAL_FATAL(hc_chains_get(c, g, 0, s, 4), 1);
	CU_ASSERT_TRUE(s[0].from_owner);
	CU_ASSERT_EQUAL(s[0].from_addr, 21); /* fs_base in x86-64 user_regs_struct */
	CU_ASSERT_FALSE(s[0].interior);
	hc_chains_destroy(c);
	hand_graph_free(g);
	hc_target_destroy(t);
}

static void test_a_pointer_word_the_core_lacks_has_no_address(void)
{
	clear_memory();
	struct hand_edge e[] = { { 1, 0 } };
	struct hc_graph *g = hand_graph(1, 1, e, 1, NULL);
	g->owner_out_flags[0] = HC_EDGE_INTERIOR;
	/* a range partly unmapped, partly holding no pointer to the node */
	set_owner_range(g, 0, DATA + 0xf00, UNMAPPED + 0x100);
	struct hc_target *t = memory_core("chain_no_word.core", 0);
	CU_ASSERT_FATAL(t != NULL);
	g->target = t;
	struct hc_chains *c = chains(g);
	CU_ASSERT_FATAL(c != NULL);
	struct hc_chain_step s[4];
	CU_ASSERT_EQUAL_FATAL(hc_chains_get(c, g, 0, s, 4), 1);
	CU_ASSERT_EQUAL(s[0].from_addr, HC_CHAIN_NO_ADDR);
	CU_ASSERT_TRUE(s[0].interior); /* from the edge's flag */
	hc_chains_destroy(c);
	hand_graph_free(g);
	hc_target_destroy(t);
}

static void test_a_word_past_a_hole_in_the_owner_range_is_found(void)
{
	clear_memory();
	struct hand_edge e[] = { { 1, 0 } };
	struct hc_graph *g = hand_graph(1, 1, e, 1, NULL);
	/* from unmapped memory below the heap, across the heap, into the data segment */
	set_owner_range(g, 0, 0x1000, DATA + 0x40);
	poke(DATA + 0x38, node_addr(0));
	struct hc_target *t = memory_core("chain_hole.core", 0);
	CU_ASSERT_FATAL(t != NULL);
	g->target = t;
	struct hc_chains *c = chains(g);
	CU_ASSERT_FATAL(c != NULL);
	struct hc_chain_step s[4];
	CU_ASSERT_EQUAL_FATAL(hc_chains_get(c, g, 0, s, 4), 1);
	CU_ASSERT_EQUAL(s[0].from_addr, DATA + 0x38);
	hc_chains_destroy(c);
	hand_graph_free(g);
	hc_target_destroy(t);
}

static void test_max_limits_the_steps_written_not_the_length(void)
{
	struct hc_graph *g = list_of_four();
	struct hc_chains *c = chains(g);
	CU_ASSERT_FATAL(c != NULL);
	struct hc_chain_step s[4];
	memset(s, 0xee, sizeof(s));
	CU_ASSERT_EQUAL(hc_chains_get(c, g, 3, s, 2), 4);
	CU_ASSERT_TRUE(s[0].from_owner);
	CU_ASSERT_EQUAL(s[1].from, 0);
	CU_ASSERT_EQUAL(s[1].to, 1);
	CU_ASSERT_EQUAL(s[2].to, 0xeeeeeeeeu); /* untouched */
	CU_ASSERT_EQUAL(hc_chains_get(c, g, 3, NULL, 0), 4);
	hc_chains_destroy(c);
	hand_graph_free(g);
}

static void test_without_a_target_steps_have_no_address(void)
{
	struct hc_graph *g = list_of_four();
	struct hc_chains *c = chains(g);
	CU_ASSERT_FATAL(c != NULL);
	struct hc_chain_step s[4];
	CU_ASSERT_EQUAL_FATAL(hc_chains_get(c, g, 1, s, 4), 2);
	CU_ASSERT_EQUAL(s[0].from_addr, HC_CHAIN_NO_ADDR);
	CU_ASSERT_EQUAL(s[1].from_addr, HC_CHAIN_NO_ADDR);
	hc_chains_destroy(c);
	hand_graph_free(g);
}

static void test_a_cycle_is_walked_once(void)
{
	/* owner 3 -> 0 -> 1 -> 2 -> 0 */
	struct hand_edge e[] = { { 3, 0 }, { 0, 1 }, { 1, 2 }, { 2, 0 }, { 2, 2 } };
	struct hc_graph *g = hand_graph(3, 1, e, 5, NULL);
	struct hc_chains *c = chains(g);
	CU_ASSERT_FATAL(c != NULL);
	struct hc_chain_step s[8];
	CU_ASSERT_EQUAL_FATAL(hc_chains_get(c, g, 2, s, 8), 3);
	CU_ASSERT_EQUAL(s[2].from, 1);
	CU_ASSERT_EQUAL(hc_chains_get(c, g, 0, s, 8), 1);
	hc_chains_destroy(c);
	hand_graph_free(g);
}

static void test_a_million_node_chain_is_walked_to_its_end(void)
{
	const uint32_t n = 1000000;
	struct hand_edge *e = malloc(n * sizeof(*e));
	CU_ASSERT_FATAL(e != NULL);
	e[0] = (struct hand_edge){ n, 0 };
	for (uint32_t i = 1; i < n; i++)
		e[i] = (struct hand_edge){ i - 1, i };
	struct hc_graph *g = hand_graph(n, 1, e, n, NULL);
	free(e);
	struct hc_chains *c = chains(g);
	CU_ASSERT_FATAL(c != NULL);
	struct hc_chain_step s[2];
	CU_ASSERT_EQUAL(hc_chains_get(c, g, n - 1, s, 2), n);
	CU_ASSERT_TRUE(s[0].from_owner);
	CU_ASSERT_EQUAL(s[1].to, 1);
	hc_chains_destroy(c);
	hand_graph_free(g);
}

/* The search meets the bad edge when a chain asks it past node 0: no chain from there, and the error kept. */
static void test_an_edge_to_a_node_that_does_not_exist_stops_the_search_with_an_internal_error(void)
{
	struct hand_edge e[] = { { 2, 0 }, { 0, 1 } };
	struct hc_graph *g = hand_graph(2, 1, e, 2, NULL);
	g->out[0] = 5;
	struct hc_chains *c = chains(g);
	CU_ASSERT_FATAL(c != NULL);
	struct hc_chain_step s[4];
	CU_ASSERT_PTR_NULL(hc_chains_error(c));
	CU_ASSERT_EQUAL(hc_chains_get(c, g, 0, s, 4), 1);
	CU_ASSERT_EQUAL(hc_chains_get(c, g, 1, s, 4), 0);
	const struct hc_error *err = hc_chains_error(c);
	CU_ASSERT_FATAL(err != NULL);
	CU_ASSERT_EQUAL(err->code, HC_ERR_INTERNAL);
	/* and it stays stopped */
	CU_ASSERT_EQUAL(hc_chains_get(c, g, 0, s, 4), 0);
	hc_chains_destroy(c);
	hand_graph_free(g);
}

/*
 * The search stops as soon as the node asked for is seen and resumes for
 * the next: asked in any order, every chain is the one the whole search
 * gives (its BFS parents are final once seen).
 */
static void test_chains_asked_in_any_order_are_those_of_the_whole_search(void)
{
	/* owner 9 -> 0 -> 1 -> 2 -> 3; owner 10 -> 4 -> 5 -> 3; 5 -> 6 -> 7; 2 -> 7; node 8 leaked */
	struct hand_edge e[] = { { 9, 0 }, { 10, 4 }, { 0, 1 }, { 1, 2 }, { 2, 3 }, { 2, 7 },
				 { 4, 5 }, { 5, 3 }, { 5, 6 }, { 6, 7 } };
	struct hc_graph *g = hand_graph(9, 2, e, 10, NULL);
	CU_ASSERT_FATAL(g != NULL);
	uint32_t want_len[8], want_from[8][8];
	struct hc_chains *whole = chains(g);
	CU_ASSERT_FATAL(whole != NULL);
	struct hc_chain_step s[8];
	/* the leaked node first: the whole search runs before any chain is read */
	CU_ASSERT_EQUAL(hc_chains_get(whole, g, 8, s, 8), 0);
	for (uint32_t v = 0; v < 8; v++) {
		want_len[v] = hc_chains_get(whole, g, v, s, 8);
		for (uint32_t k = 0; k < want_len[v]; k++)
			want_from[v][k] = s[k].from;
	}
	/* 10 -> 4 -> 5 -> 3 is shorter than 9 -> 0 -> 1 -> 2 -> 3; both ways to 7 are 4 long: the earliest owner's */
	CU_ASSERT_EQUAL(want_len[3], 3);
	CU_ASSERT_EQUAL(want_from[3][0], 1);
	CU_ASSERT_EQUAL(want_len[7], 4);
	CU_ASSERT_EQUAL(want_from[7][0], 0);
	static const uint32_t orders[][8] = { { 0, 1, 2, 3, 4, 5, 6, 7 }, { 3, 0, 7, 1, 6, 2, 5, 4 }, { 5, 4, 7, 6, 3, 2, 1, 0 } };
	for (size_t o = 0; o < sizeof(orders) / sizeof(orders[0]); o++) {
		struct hc_chains *c = chains(g);
		CU_ASSERT_FATAL(c != NULL);
		for (uint32_t i = 0; i < 8; i++) {
			uint32_t v = orders[o][i], n = hc_chains_get(c, g, v, s, 8);
			CU_ASSERT_EQUAL(n, want_len[v]);
			for (uint32_t k = 0; k < n && k < want_len[v]; k++)
				CU_ASSERT_EQUAL(s[k].from, want_from[v][k]);
		}
		hc_chains_destroy(c);
	}
	hc_chains_destroy(whole);
	hand_graph_free(g);
}

void hc_test_register_chains(void)
{
	CU_pSuite s = CU_add_suite("chains", NULL, NULL);
	CU_add_test(s, "the chain to the last node of a list starts at its global", test_chain_to_the_last_node_of_a_list_starts_at_its_global);
	CU_add_test(s, "a chain takes the shortest way", test_a_chain_takes_the_shortest_way);
	CU_add_test(s, "among equally short chains the earliest owner wins", test_among_equally_short_chains_the_earliest_owner_wins);
	CU_add_test(s, "a leaked node has no chain", test_a_leaked_node_has_no_chain);
	CU_add_test(s, "an interior pointer is marked and its word found", test_an_interior_pointer_is_marked_and_its_word_found);
	CU_add_test(s, "a pointer to the start is preferred to an interior one", test_a_pointer_to_the_start_is_preferred_to_an_interior_one);
	CU_add_test(s, "a register owner names the register index", test_a_register_owner_names_the_register_index);
	CU_add_test(s, "a pointer word the core lacks has no address", test_a_pointer_word_the_core_lacks_has_no_address);
	CU_add_test(s, "a word past a hole in the owner's range is found", test_a_word_past_a_hole_in_the_owner_range_is_found);
	CU_add_test(s, "max limits the steps written, not the length", test_max_limits_the_steps_written_not_the_length);
	CU_add_test(s, "without a target steps have no address", test_without_a_target_steps_have_no_address);
	CU_add_test(s, "a cycle is walked once", test_a_cycle_is_walked_once);
	CU_add_test(s, "a million-node chain is walked to its end", test_a_million_node_chain_is_walked_to_its_end);
	CU_add_test(s, "an edge to a node that does not exist stops the search with an internal error",
		    test_an_edge_to_a_node_that_does_not_exist_stops_the_search_with_an_internal_error);
	CU_add_test(s, "chains asked in any order are those of the whole search",
		    test_chains_asked_in_any_order_are_those_of_the_whole_search);
}
