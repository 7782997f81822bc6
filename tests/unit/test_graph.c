/*
 * The reference graph on a core of the scenario program (graph_program.h):
 * roots of every kind, owners named for what holds the pointer, edges with
 * their interior flag, mmapped and thread-arena allocations, the lookup's
 * boundaries, and CSR arrays that agree with each other and do not depend
 * on the number of scanning threads.
 */
#include <CUnit/CUnit.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixtures.h"
#include "graph_program.h"
#include "heapcore/graph.h"
#include "scan_share.h"
#include "suites.h"

#define NONE UINT32_MAX

struct built {
	struct hc_target *t;
	struct hc_symbols *s;
	struct hc_glibc_heap *h;
	struct hc_graph *g;
	char *out;                   /* what the program printed */
};

static bool build(struct built *b, unsigned threads, uint32_t scan_block, uint32_t scan_split)
{
	memset(b, 0, sizeof(*b));
	const char *core = hc_fixture_make_core("graph_scenarios", gp_program);
	if (!core)
		return false;
	char path[400];
	snprintf(path, sizeof(path), "%s/graph_scenarios.out", hc_fixture_tmpdir());
	b->out = hc_fixture_read_file(path, NULL);
	struct hc_symbol_options so = { 0 };
	struct hc_graph_options go = { .threads = threads, .scan_block = scan_block, .scan_split = scan_split };
	struct hc_error *err = hc_target_open_core(core, &b->t);
	if (!err)
		err = hc_symbols_open(b->t, &so, &b->s);
	if (!err)
		err = hc_glibc_walk(b->t, b->s, NULL, &b->h);
	if (!err)
		err = hc_graph_build(b->t, b->s, b->h, &go, &b->g);
	if (err) {
		fprintf(stderr, "\n  %s: %s\n", core, err->message);
		hc_error_destroy(err);
		return false;
	}
	return b->out != NULL;
}

static void built_free(struct built *b)
{
	hc_graph_destroy(b->g);
	hc_glibc_heap_destroy(b->h);
	hc_symbols_destroy(b->s);
	hc_target_destroy(b->t);
	free(b->out);
}

/* The node starting exactly at the address the program printed for key, or NONE. */
static uint32_t node_for(const struct built *b, const char *key)
{
	uint64_t a = gp_value(b->out, key, NULL);
	uint32_t n = a ? hc_graph_node_at(b->g, a) : NONE;
	return n != NONE && hc_graph_node_addr(b->g, n) == a ? n : NONE;
}

static uint32_t owner_named(const struct hc_graph *g, const char *name)
{
	for (uint32_t o = 0; o < g->nowners; o++)
		if (!strcmp(g->owners[o].name, name))
			return o;
	return NONE;
}

/* Does owner o point at node n? Its flags in *flags. */
static bool owner_edge(const struct hc_graph *g, uint32_t o, uint32_t n, uint8_t *flags)
{
	for (uint32_t i = g->owner_out_start[o]; i < g->owner_out_start[o + 1]; i++)
		if (g->owner_out[i] == n) {
			*flags = g->owner_out_flags[i];
			return true;
		}
	return false;
}

static bool out_edge(const struct hc_graph *g, uint32_t u, uint32_t v, uint8_t *flags)
{
	for (uint32_t i = g->out_start[u]; i < g->out_start[u + 1]; i++)
		if (g->out[i] == v) {
			*flags = g->out_flags[i];
			return true;
		}
	return false;
}

static bool in_edge(const struct hc_graph *g, uint32_t v, uint32_t u, uint8_t *flags)
{
	for (uint32_t i = g->in_start[v]; i < g->in_start[v + 1]; i++)
		if (g->in[i] == u) {
			*flags = g->in_flags[i];
			return true;
		}
	return false;
}

/* Follows a list's next pointers (first word) in target memory: its nodes, at most max. */
static uint32_t list_nodes(const struct built *b, uint64_t head, uint32_t *nodes, uint32_t max)
{
	uint32_t n = 0;
	while (head && n < max) {
		uint32_t v = hc_graph_node_at(b->g, head);
		if (v == NONE || hc_graph_node_addr(b->g, v) != head)
			break;
		nodes[n++] = v;
		if (!hc_target_read_u64(b->t, head, &head))
			break;
	}
	return n;
}

static void test_roots_cover_every_thread_and_never_overlap(void)
{
	struct built b;
	CU_ASSERT_FATAL(build(&b, 0, 0, 0));
	const struct hc_graph *g = b.g;
	/* main, the coroutine's, the one on its own stack, the arena thread, the register thread */
	CU_ASSERT_EQUAL(b.t->nthreads, 5);
	for (uint32_t i = 0; i < b.t->nthreads; i++) {
		const struct hc_thread *th = &b.t->threads[i];
		bool regs = false, stack = false, tls = false;
		for (uint32_t r = 0; r < g->nroots; r++) {
			const struct hc_root_range *rr = &g->roots[r];
			if (rr->thread != (int32_t)i)
				continue;
			regs |= rr->kind == HC_ROOT_REGISTER && rr->start == 0 && rr->end == th->nregs * 8ull;
			stack |= rr->kind == HC_ROOT_STACK && rr->start <= th->sp && th->sp < rr->end;
			tls |= rr->kind == HC_ROOT_TLS && rr->start <= th->tp && th->tp < rr->end;
		}
		CU_ASSERT_TRUE(regs);
		CU_ASSERT_TRUE(stack);
		CU_ASSERT_TRUE(tls);
	}
	/* memory ranges are disjoint: sorted by kind then start, so compare every pair */
	for (uint32_t r = 0; r < g->nroots; r++)
		for (uint32_t q = r + 1; q < g->nroots; q++)
			if (g->roots[r].kind != HC_ROOT_REGISTER && g->roots[q].kind != HC_ROOT_REGISTER)
				CU_ASSERT_TRUE(g->roots[r].end <= g->roots[q].start ||
					       g->roots[q].end <= g->roots[r].start);
	/* g_list's word lies in a data range of the executable */
	struct hc_symbol sym;
	CU_ASSERT_FATAL(hc_symbols_lookup(b.s, NULL, "g_list", &sym));
	bool data = false;
	for (uint32_t r = 0; r < g->nroots; r++)
		data |= g->roots[r].kind == HC_ROOT_DATA && g->roots[r].start <= sym.address &&
			sym.address < g->roots[r].end && g->roots[r].module >= 0 &&
			b.s->modules[g->roots[r].module].is_main;
	CU_ASSERT_TRUE(data);
	/*
	 * no root range reaches into an arena heap or the mmapped chunk, but for
	 * the stack and TLS of the thread running on a malloc'd stack, which stay
	 * inside that chunk
	 */
	uint64_t big = gp_value(b.out, "big", NULL);
	uint32_t own = node_for(&b, "own_stack"), co = node_for(&b, "co_stack");
	CU_ASSERT_FATAL(own != NONE && co != NONE);
	for (uint32_t r = 0; r < g->nroots; r++) {
		const struct hc_root_range *rr = &g->roots[r];
		if (rr->kind == HC_ROOT_REGISTER)
			continue;
		CU_ASSERT_FALSE(rr->start <= big && big < rr->end);
		if ((rr->kind == HC_ROOT_STACK || rr->kind == HC_ROOT_TLS) && rr->start >= hc_graph_node_addr(g, own) &&
		    rr->end <= hc_graph_node_addr(g, own) + hc_graph_node_size(g, own))
			continue;
		if (rr->kind == HC_ROOT_STACK && rr->start >= hc_graph_node_addr(g, co) && rr->end <= hc_graph_node_addr(g, co) + hc_graph_node_size(g, co))
			continue;
		for (uint32_t a = 0; a < b.h->narenas; a++)
			for (uint32_t j = 0; j < b.h->arenas[a].nheaps; j++)
				CU_ASSERT_TRUE(rr->end <= b.h->arenas[a].heaps[j].start ||
					       rr->start >= b.h->arenas[a].heaps[j].end);
	}
	built_free(&b);
}

static void test_a_global_holds_its_list_through_an_owner_named_for_it(void)
{
	struct built b;
	CU_ASSERT_FATAL(build(&b, 0, 0, 0));
	const struct hc_graph *g = b.g;
	uint32_t head = node_for(&b, "global");
	CU_ASSERT_FATAL(head != NONE);
	uint32_t o = owner_named(g, "g_list");
	CU_ASSERT_FATAL(o != NONE);
	struct hc_symbol sym;
	CU_ASSERT_FATAL(hc_symbols_lookup(b.s, NULL, "g_list", &sym));
	CU_ASSERT_EQUAL(g->owners[o].kind, HC_ROOT_DATA);
	CU_ASSERT_EQUAL(g->owners[o].start, sym.address);
	CU_ASSERT_EQUAL(g->owners[o].end, sym.address + 8);
	uint8_t f = 0xff;
	CU_ASSERT_TRUE(owner_edge(g, o, head, &f));
	CU_ASSERT_EQUAL(f, 0);
	CU_ASSERT_EQUAL(g->owner_out_start[o + 1] - g->owner_out_start[o], 1);
	CU_ASSERT_EQUAL(g->root_kinds[head], 1u << HC_ROOT_DATA);
	/* each node points at the next and nothing else; the last at nothing */
	uint32_t nodes[64];
	uint32_t n = list_nodes(&b, hc_graph_node_addr(g, head), nodes, 64);
	CU_ASSERT_EQUAL(n, GP_GLOBAL_N);
	for (uint32_t i = 0; i < n; i++) {
		CU_ASSERT_EQUAL(hc_graph_node_size(g, nodes[i]), GP_NODE_CHUNK - 8);
		uint32_t deg = g->out_start[nodes[i] + 1] - g->out_start[nodes[i]];
		CU_ASSERT_EQUAL(deg, i + 1 < n ? 1 : 0);
		if (i + 1 < n) {
			CU_ASSERT_TRUE(out_edge(g, nodes[i], nodes[i + 1], &f) && f == 0);
			CU_ASSERT_TRUE(in_edge(g, nodes[i + 1], nodes[i], &f) && f == 0);
			CU_ASSERT_EQUAL(g->root_kinds[nodes[i + 1]], 0);
		}
	}
	built_free(&b);
}

static void test_a_stack_variable_holds_its_list_through_its_thread_stack(void)
{
	struct built b;
	CU_ASSERT_FATAL(build(&b, 0, 0, 0));
	const struct hc_graph *g = b.g;
	uint32_t head = node_for(&b, "stack");
	CU_ASSERT_FATAL(head != NONE);
	int tid = 0;
	gp_value(b.out, "main_tid", &tid);
	char name[64];
	snprintf(name, sizeof(name), "thread %d stack", tid);
	uint32_t o = owner_named(g, name);
	CU_ASSERT_FATAL(o != NONE);
	CU_ASSERT_EQUAL(g->owners[o].kind, HC_ROOT_STACK);
	uint8_t f;
	CU_ASSERT_TRUE(owner_edge(g, o, head, &f));
	CU_ASSERT_EQUAL(g->root_kinds[head], 1u << HC_ROOT_STACK);
	built_free(&b);
}

static void test_a_register_holds_a_node(void)
{
	struct built b;
	CU_ASSERT_FATAL(build(&b, 0, 0, 0));
	if (b.t->arch != HC_ARCH_X86_64) {
		/* the scenario parks the pointer in r12 with x86-64 assembly */
		built_free(&b);
		return;
	}
	const struct hc_graph *g = b.g;
	uint32_t v = node_for(&b, "register");
	CU_ASSERT_FATAL(v != NONE);
	CU_ASSERT_EQUAL(g->root_kinds[v], 1u << HC_ROOT_REGISTER);
	uint32_t holders = 0;
	for (uint32_t o = 0; o < g->nowners; o++) {
		uint8_t f;
		if (g->owners[o].kind == HC_ROOT_REGISTER && owner_edge(g, o, v, &f)) {
			holders++;
			CU_ASSERT_PTR_NOT_NULL(strstr(g->owners[o].name, " registers"));
		}
	}
	CU_ASSERT_EQUAL(holders, 1);
	built_free(&b);
}

static void test_an_mmapped_allocation_is_a_node_scanned_to_its_end(void)
{
	struct built b;
	CU_ASSERT_FATAL(build(&b, 0, 0, 0));
	const struct hc_graph *g = b.g;
	uint32_t big = node_for(&b, "big"), child = node_for(&b, "big_child");
	CU_ASSERT_FATAL(big != NONE && child != NONE);
	uint32_t c = g->chunk[big];
	CU_ASSERT_EQUAL(b.h->chunk_state[c], HC_CHUNK_MMAPPED);
	uint64_t hdr = b.h->location.layout->mmapped_size_excludes_header ? 0 : 16;
	CU_ASSERT_EQUAL(hc_graph_node_size(g, big), hc_glibc_chunk_size(b.h, c) - hdr);
	CU_ASSERT_TRUE(hc_graph_node_size(g, big) >= 1u << 20);
	/* malloc(1 MiB) maps 1 MiB + a page (docs/glibc-truth-mapping.md) */
	CU_ASSERT_EQUAL(hc_graph_node_bytes(g, big), 0x101000);
	CU_ASSERT_EQUAL(hc_graph_node_at(g, hc_graph_node_addr(g, big) + hc_graph_node_size(g, big) - 1), big);
	uint8_t f;
	CU_ASSERT_TRUE(out_edge(g, big, child, &f) && f == 0);
	CU_ASSERT_TRUE(in_edge(g, child, big, &f) && f == 0);
	CU_ASSERT_EQUAL(g->root_kinds[big], 1u << HC_ROOT_STACK);
	CU_ASSERT_EQUAL(g->root_kinds[child], 0);
	built_free(&b);
}

static void test_interior_pointers_are_flagged(void)
{
	struct built b;
	CU_ASSERT_FATAL(build(&b, 0, 0, 0));
	const struct hc_graph *g = b.g;
	uint32_t base = node_for(&b, "interior"), holder = node_for(&b, "holder"), target = node_for(&b, "interior_b");
	CU_ASSERT_FATAL(base != NONE && holder != NONE && target != NONE);
	CU_ASSERT_EQUAL(hc_graph_node_at(g, hc_graph_node_addr(g, base) + 40), base);
	uint32_t o = owner_named(g, "g_interior");
	CU_ASSERT_FATAL(o != NONE);
	uint8_t f = 0;
	CU_ASSERT_TRUE(owner_edge(g, o, base, &f));
	CU_ASSERT_EQUAL(f, HC_EDGE_INTERIOR);
	CU_ASSERT_TRUE(out_edge(g, holder, target, &f));
	CU_ASSERT_EQUAL(f, HC_EDGE_INTERIOR);
	CU_ASSERT_TRUE(in_edge(g, target, holder, &f));
	CU_ASSERT_EQUAL(f, HC_EDGE_INTERIOR);
	/* the holder itself is held at its start */
	CU_ASSERT_TRUE(owner_edge(g, owner_named(g, "g_holder"), holder, &f) && f == 0);
	built_free(&b);
}

static void test_a_second_threads_arena_is_scanned_and_held_by_its_stack(void)
{
	struct built b;
	CU_ASSERT_FATAL(build(&b, 0, 0, 0));
	const struct hc_graph *g = b.g;
	uint32_t head = node_for(&b, "thread_list");
	CU_ASSERT_FATAL(head != NONE);
	uint32_t arena = hc_glibc_chunk_arena(b.h, g->chunk[head]);
	CU_ASSERT_TRUE(arena != 0 && arena != HC_NO_ARENA);
	uint32_t nodes[64];
	CU_ASSERT_EQUAL(list_nodes(&b, hc_graph_node_addr(g, head), nodes, 64), GP_THREAD_N);
	for (uint32_t i = 0; i < GP_THREAD_N; i++)
		CU_ASSERT_EQUAL(hc_glibc_chunk_arena(b.h, g->chunk[nodes[i]]), arena);
	int tid = 0;
	gp_value(b.out, "main_tid", &tid);
	uint32_t holders = 0;
	for (uint32_t o = 0; o < g->nowners; o++) {
		uint8_t f;
		if (owner_edge(g, o, head, &f)) {
			holders++;
			CU_ASSERT_EQUAL(g->owners[o].kind, HC_ROOT_STACK);
			int otid = 0;
			CU_ASSERT_EQUAL(sscanf(g->owners[o].name, "thread %d stack", &otid), 1);
			CU_ASSERT_NOT_EQUAL(otid, tid);
		}
	}
	CU_ASSERT_EQUAL(holders, 1);
	built_free(&b);
}

/* The thread's stack range lies inside the heap chunk at key, and holds the list at list_key. */
static void check_stack_in_chunk(const struct built *b, const char *key, const char *list_key)
{
	const struct hc_graph *g = b->g;
	uint32_t stk = node_for(b, key), list = node_for(b, list_key);
	CU_ASSERT_FATAL(stk != NONE && list != NONE);
	uint32_t ranges = 0;
	for (uint32_t r = 0; r < g->nroots; r++) {
		const struct hc_root_range *rr = &g->roots[r];
		if (rr->kind != HC_ROOT_STACK || rr->start < hc_graph_node_addr(g, stk) || rr->start >= hc_graph_node_addr(g, stk) + hc_graph_node_size(g, stk))
			continue;
		ranges++;
		CU_ASSERT_TRUE(rr->end <= hc_graph_node_addr(g, stk) + hc_graph_node_size(g, stk));
	}
	CU_ASSERT_EQUAL(ranges, 1);
	CU_ASSERT_EQUAL(g->root_kinds[list], 1u << HC_ROOT_STACK);
}

static void test_a_stack_in_a_heap_chunk_ends_with_the_chunk(void)
{
	struct built b;
	CU_ASSERT_FATAL(build(&b, 0, 0, 0));
	check_stack_in_chunk(&b, "own_stack", "own_stack_list");
	check_stack_in_chunk(&b, "co_stack", "co_list");
	/* nothing after the coroutine's stack in the heap is taken for stack: the anchor is g_anchor's only */
	uint32_t anchor = node_for(&b, "anchor"), co = node_for(&b, "co_stack");
	CU_ASSERT_FATAL(anchor != NONE && co != NONE);
	CU_ASSERT_TRUE(hc_graph_node_addr(b.g, anchor) > hc_graph_node_addr(b.g, co));
	CU_ASSERT_EQUAL(b.g->root_kinds[anchor], 1u << HC_ROOT_DATA);
	built_free(&b);
}

static void test_a_cached_stack_of_an_exited_thread_is_no_root(void)
{
	struct built b;
	CU_ASSERT_FATAL(build(&b, 0, 0, 0));
	uint32_t v = node_for(&b, "dead_stack");
	CU_ASSERT_FATAL(v != NONE);
	CU_ASSERT_EQUAL(b.g->root_kinds[v], 0);
	CU_ASSERT_EQUAL(b.g->in_start[v + 1] - b.g->in_start[v], 0);
	built_free(&b);
}

static void test_lookup_boundaries(void)
{
	struct built b;
	CU_ASSERT_FATAL(build(&b, 0, 0, 0));
	const struct hc_graph *g = b.g;
	uint32_t v = node_for(&b, "anchor");
	CU_ASSERT_FATAL(v != NONE);
	uint64_t a = hc_graph_node_addr(g, v);
	CU_ASSERT_EQUAL(hc_graph_node_at(g, a + 1), v);
	/* the next chunk's prev_size word is this allocation's last */
	CU_ASSERT_EQUAL(hc_graph_node_at(g, a + hc_graph_node_size(g, v) - 1), v);
	CU_ASSERT_EQUAL(hc_graph_node_size(g, v), GP_NODE_CHUNK - 8);
	/* the next chunk's size field and this chunk's own size field belong to nobody */
	CU_ASSERT_EQUAL(hc_graph_node_at(g, a + hc_graph_node_size(g, v)), NONE);
	CU_ASSERT_EQUAL(hc_graph_node_at(g, a - 8), NONE);
	CU_ASSERT_EQUAL(hc_graph_node_at(g, 0), NONE);
	CU_ASSERT_EQUAL(hc_graph_node_at(g, UINT64_MAX), NONE);
	/* every node found at its start, its middle and its end; nodes sorted and disjoint */
	for (uint32_t n = 0; n < g->nnodes; n++) {
		CU_ASSERT_EQUAL(g->heap->chunk_state[g->chunk[n]] == HC_CHUNK_USED ||
					g->heap->chunk_state[g->chunk[n]] == HC_CHUNK_MMAPPED, true);
		if (n)
			CU_ASSERT_TRUE(hc_graph_node_addr(g, n - 1) + hc_graph_node_size(g, n - 1) <= hc_graph_node_addr(g, n));
		if (hc_graph_node_at(g, hc_graph_node_addr(g, n)) != n || hc_graph_node_at(g, hc_graph_node_addr(g, n) + hc_graph_node_size(g, n) / 2) != n ||
		    hc_graph_node_at(g, hc_graph_node_addr(g, n) + hc_graph_node_size(g, n) - 1) != n) {
			CU_FAIL("a node is not found where it lies");
			break;
		}
	}
	/* free chunks are no nodes */
	for (uint32_t c = 0; c < b.h->nchunks; c++)
		if (b.h->chunk_state[c] != HC_CHUNK_USED && b.h->chunk_state[c] != HC_CHUNK_MMAPPED)
			CU_ASSERT_EQUAL(hc_graph_node_at(g, b.h->chunk_addr[c] + 16), NONE);
	built_free(&b);
}

static void test_csr_arrays_agree(void)
{
	struct built b;
	CU_ASSERT_FATAL(build(&b, 0, 0, 0));
	const struct hc_graph *g = b.g;
	CU_ASSERT_EQUAL(g->out_start[0], 0);
	CU_ASSERT_EQUAL(g->out_start[g->nnodes], g->nedges);
	CU_ASSERT_EQUAL(g->in_start[g->nnodes], g->nedges);
	bool ok = true;
	for (uint32_t u = 0; u < g->nnodes && ok; u++) {
		for (uint32_t i = g->out_start[u]; i < g->out_start[u + 1] && ok; i++) {
			uint32_t v = g->out[i];
			uint8_t f;
			/* distinct targets in ascending order, none itself, each mirrored in in[] */
			ok = v < g->nnodes && v != u && (i == g->out_start[u] || g->out[i - 1] < v) &&
			     in_edge(g, v, u, &f) && f == g->out_flags[i];
		}
		for (uint32_t i = g->in_start[u]; i < g->in_start[u + 1] && ok; i++)
			ok = i == g->in_start[u] || g->in[i - 1] < g->in[i];
	}
	CU_ASSERT_TRUE(ok);
	uint8_t *kinds = calloc(g->nnodes, 1);
	CU_ASSERT_FATAL(kinds != NULL);
	for (uint32_t o = 0; o < g->nowners; o++) {
		CU_ASSERT_TRUE(g->owner_out_start[o + 1] > g->owner_out_start[o]);
		CU_ASSERT_TRUE(g->owners[o].range < g->nroots);
		CU_ASSERT_EQUAL(g->owners[o].kind, g->roots[g->owners[o].range].kind);
		for (uint32_t i = g->owner_out_start[o]; i < g->owner_out_start[o + 1]; i++)
			kinds[g->owner_out[i]] |= 1u << g->owners[o].kind;
	}
	CU_ASSERT_EQUAL(memcmp(kinds, g->root_kinds, g->nnodes), 0);
	free(kinds);
	built_free(&b);
}

/* Every array the scan fills, equal in x and y. */
static void assert_same_graph(const struct hc_graph *x, const struct hc_graph *y)
{
	CU_ASSERT_FATAL(x->nnodes == y->nnodes && x->nedges == y->nedges && x->nowners == y->nowners &&
			x->nroots == y->nroots && x->nword0_module == y->nword0_module);
	uint32_t n = x->nnodes;
	CU_ASSERT_EQUAL(memcmp(x->chunk, y->chunk, n * 4ull), 0);
	CU_ASSERT_EQUAL(memcmp(x->out_start, y->out_start, (n + 1) * 4ull), 0);
	CU_ASSERT_EQUAL(memcmp(x->out, y->out, x->nedges * 4), 0);
	CU_ASSERT_EQUAL(memcmp(x->out_flags, y->out_flags, x->nedges), 0);
	CU_ASSERT_EQUAL(memcmp(x->out_slot, y->out_slot, x->nedges * 2), 0);
	CU_ASSERT_EQUAL(memcmp(x->in_start, y->in_start, (n + 1) * 4ull), 0);
	CU_ASSERT_EQUAL(memcmp(x->in, y->in, x->nedges * 4), 0);
	CU_ASSERT_EQUAL(memcmp(x->in_flags, y->in_flags, x->nedges), 0);
	CU_ASSERT_EQUAL(memcmp(x->root_kinds, y->root_kinds, n), 0);
	CU_ASSERT_EQUAL(memcmp(x->sig_code, y->sig_code, n * 4ull), 0);
	CU_ASSERT_EQUAL(memcmp(x->word0_module, y->word0_module, x->nword0_module * 4ull), 0);
	for (uint32_t o = 0; o < x->nowners; o++)
		CU_ASSERT_STRING_EQUAL(x->owners[o].name, y->owners[o].name);
}

static void test_one_or_two_threads_build_the_same_graph(void)
{
	struct built a, b;
	CU_ASSERT_FATAL(build(&a, 1, 0, 0));
	CU_ASSERT_FATAL(build(&b, 2, 0, 0));
	assert_same_graph(a.g, b.g);
	built_free(&a);
	built_free(&b);
}

/*
 * Lopsided starts, in blocks of a node or a few. When the second thread
 * starts with the last node alone, it takes the back half of the first's
 * range over and over while the first scans the roots; when the first
 * starts with node 0 alone, it does the same to the second's range after
 * the roots, each half it takes below the one before (its segments out of
 * node order in its buffers). The segments they leave must still make the
 * one-thread graph, edge for edge, whichever thread scanned what.
 */
static void test_threads_stealing_each_others_nodes_build_the_same_graph(void)
{
	struct built a;
	CU_ASSERT_FATAL(build(&a, 1, 0, 0));
	for (uint32_t round = 0; round < 12; round++) {
		struct built b;
		CU_ASSERT_FATAL(build(&b, 2, 1 + round % 3, round % 2 ? 1 : a.g->nnodes - 1));
		assert_same_graph(a.g, b.g);
		built_free(&b);
	}
	built_free(&a);
}

/* Claims for thread t until it gets a block, or false; its blocks so far end at *last. */
static bool claim_for(struct hc_scan_share *sh, unsigned t, uint32_t *last, uint32_t *n0, uint32_t *n1)
{
	if (!hc_scan_share_claim(sh, t, *last, n0, n1))
		return false;
	*last = *n1;
	return true;
}

static void test_a_thread_out_of_nodes_takes_the_back_half_of_the_others_range(void)
{
	struct hc_scan_share sh;
	uint32_t last[2] = { 0, 0 }, a, b;
	hc_scan_share_init(&sh, 90, 100, 10);
	CU_ASSERT(claim_for(&sh, 1, &last[1], &a, &b) && a == 90 && b == 100);
	/* its own range is empty: half of thread 0's [0, 90) */
	CU_ASSERT(claim_for(&sh, 1, &last[1], &a, &b) && a == 45 && b == 55);
	CU_ASSERT(claim_for(&sh, 0, &last[0], &a, &b) && a == 0 && b == 10);
	/* thread 0 ends where thread 1 began taking */
	for (int i = 0; i < 3; i++)
		CU_ASSERT(claim_for(&sh, 0, &last[0], &a, &b) && b == 20 + 10 * (uint32_t)i);
	CU_ASSERT(claim_for(&sh, 0, &last[0], &a, &b) && a == 40 && b == 45);
	/* [55, 90) is thread 1's: thread 0 takes its back half, above all it scanned */
	CU_ASSERT(claim_for(&sh, 0, &last[0], &a, &b) && a == 72 && b == 82);
}

static void test_thread_0_leaves_a_range_below_what_it_scanned_alone(void)
{
	struct hc_scan_share sh;
	uint32_t last[2] = { 0, 0 }, a, b;
	hc_scan_share_init(&sh, 10, 100, 5);
	CU_ASSERT(claim_for(&sh, 0, &last[0], &a, &b) && a == 0 && b == 5);
	CU_ASSERT(claim_for(&sh, 0, &last[0], &a, &b) && a == 5 && b == 10);
	CU_ASSERT(claim_for(&sh, 0, &last[0], &a, &b) && a == 55 && b == 60);
	CU_ASSERT(claim_for(&sh, 1, &last[1], &a, &b) && a == 10 && b == 15);
	while (last[0] < 100)
		CU_ASSERT_FATAL(claim_for(&sh, 0, &last[0], &a, &b));
	/* thread 1 still has [15, 55), below thread 0's last block: thread 0 is done */
	CU_ASSERT_FALSE(claim_for(&sh, 0, &last[0], &a, &b));
	uint32_t next = 15;
	while (claim_for(&sh, 1, &last[1], &a, &b)) {
		CU_ASSERT(a == next);
		next = b;
	}
	CU_ASSERT_EQUAL(next, 55);
}

/*
 * Whatever order the two threads ask in, the blocks cover every node once,
 * each thread ends only when nothing worth taking is left, and thread 0's
 * blocks ascend (graph.c moves its edges up in place on that promise).
 */
static void test_scan_blocks_tile_the_nodes_in_any_interleaving(void)
{
	static const uint32_t sizes[] = { 0, 1, 5, 100, 4097, 30000 }, blocks[] = { 1, 2, 3, 7, 64, 4096 };
	uint64_t x = 88172645463325252ull;
	uint8_t *seen = malloc(30000);
	CU_ASSERT_FATAL(seen != NULL);
	for (unsigned round = 0; round < 600; round++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		uint32_t n = sizes[round % 6], block = blocks[(round / 6) % 6];
		uint32_t split = n ? (uint32_t)(x % (n + 1)) : 0;
		struct hc_scan_share sh;
		hc_scan_share_init(&sh, split, n, block);
		memset(seen, 0, n);
		uint32_t last[2] = { 0, 0 }, left0 = 0, covered = 0;
		bool done[2] = { false, false }, ascending = true, once = true;
		while (!done[0] || !done[1]) {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			unsigned t = done[0] ? 1 : done[1] ? 0 : (unsigned)(x >> 11) & 1;
			uint32_t a, b;
			if (!claim_for(&sh, t, &last[t], &a, &b)) {
				done[t] = true;
				continue;
			}
			if (t == 0) {
				ascending &= a >= left0;
				left0 = b;
			}
			for (uint32_t v = a; v < b; v++) {
				once &= !seen[v];
				seen[v] = 1;
			}
			covered += b - a;
		}
		CU_ASSERT(once);
		CU_ASSERT(ascending);
		CU_ASSERT_EQUAL(covered, n);
	}
	free(seen);
}

void hc_test_register_graph(void)
{
	CU_pSuite s = CU_add_suite("graph", NULL, NULL);
	CU_add_test(s, "roots cover every thread and never overlap", test_roots_cover_every_thread_and_never_overlap);
	CU_add_test(s, "a global holds its list through an owner named for it", test_a_global_holds_its_list_through_an_owner_named_for_it);
	CU_add_test(s, "a stack variable holds its list through its thread's stack", test_a_stack_variable_holds_its_list_through_its_thread_stack);
	CU_add_test(s, "a register holds a node", test_a_register_holds_a_node);
	CU_add_test(s, "an mmapped allocation is a node scanned to its end", test_an_mmapped_allocation_is_a_node_scanned_to_its_end);
	CU_add_test(s, "interior pointers are flagged", test_interior_pointers_are_flagged);
	CU_add_test(s, "a second thread's arena is scanned and held by its stack", test_a_second_threads_arena_is_scanned_and_held_by_its_stack);
	CU_add_test(s, "a stack in a heap chunk ends with the chunk", test_a_stack_in_a_heap_chunk_ends_with_the_chunk);
	CU_add_test(s, "a cached stack of an exited thread is no root", test_a_cached_stack_of_an_exited_thread_is_no_root);
	CU_add_test(s, "lookup boundaries", test_lookup_boundaries);
	CU_add_test(s, "CSR arrays agree", test_csr_arrays_agree);
	CU_add_test(s, "one or two threads build the same graph", test_one_or_two_threads_build_the_same_graph);
	CU_add_test(s, "a thread out of nodes takes the back half of the other's range",
		    test_a_thread_out_of_nodes_takes_the_back_half_of_the_others_range);
	CU_add_test(s, "thread 0 leaves a range below what it scanned alone", test_thread_0_leaves_a_range_below_what_it_scanned_alone);
	CU_add_test(s, "scan blocks tile the nodes in any interleaving", test_scan_blocks_tile_the_nodes_in_any_interleaving);
	CU_add_test(s, "threads stealing each other's nodes build the same graph",
		    test_threads_stealing_each_others_nodes_build_the_same_graph);
}
