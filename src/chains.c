/*
 * Reference chains (hc_chains_*): for any anchored node, a shortest path
 * from an owner to it, and for each step the word that holds the pointer, as
 * MAT's "path to GC roots" and chap's "explain" show it.
 *
 * The chains come from one breadth-first search from a virtual root whose
 * successors are the owners, in their order, keeping each node's BFS parent
 * (an id as hc_dominators numbers them: a node, or nnodes + owner index):
 * 4 bytes per node, and a 4-byte queue entry. So every chain is as short as
 * any, and among equally short ones it starts at the earliest owner and
 * follows the earliest edges.
 *
 * The search runs only as far as the chains asked for need, and resumes
 * from where it stopped for the next: a node's parent is final once it is
 * seen, so the parents are those of the whole search, in any order of
 * asking. analyze asks for the allocations at the top of the dominator
 * tree, which an owner mostly points at: the first layer or two of the
 * search, not its 15 million nodes. hc_chains_compute itself allocates
 * nothing.
 *
 * hc_chains_get rebuilds one chain from the parents and finds each step's
 * pointer word by rescanning the parent's memory through the target's
 * bounds-checked reads: the graph keeps edges, not where they were found,
 * because that would cost 8 bytes per edge for something asked of a few
 * nodes. A word at the child's start is preferred to one inside it. Register
 * owners have no address: their step's from_addr is the register's index in
 * the thread's regs[]. When the parent's bytes are not in the core, from_addr
 * is HC_CHAIN_NO_ADDR and `interior` comes from the edge's flag.
 */
#include "heapcore/graph.h"

#include "large_alloc.h"

#include <stdlib.h>
#include <string.h>

#define NONE UINT32_MAX

struct hc_chains {
	const struct hc_graph *g;
	uint32_t nnodes, nowners;
	/* per node: BFS parent id + 1, 0 until seen (so that the pool's zero pages need no filling) */
	uint32_t *parent;
	uint32_t *queue;           /* seen nodes in order; [head, tail) not yet visited */
	uint32_t head, tail;
	uint32_t next_owner;       /* owners [0, next_owner) visited */
	struct hc_error *err;      /* the graph turned out inconsistent: the search stopped */
};

static struct hc_error *corrupt(const char *what, uint64_t where)
{
	return hc_error_create(HC_ERR_INTERNAL, "chains: inconsistent graph: %s at %llu", what,
			       (unsigned long long)where);
}

void hc_chains_destroy(struct hc_chains *c)
{
	if (!c)
		return;
	hc_free_large(c->parent, (size_t)c->nnodes * sizeof(uint32_t));
	hc_free_large(c->queue, (size_t)c->nnodes * sizeof(uint32_t));
	hc_error_destroy(c->err);
	free(c);
}

struct hc_error *hc_chains_error(const struct hc_chains *c)
{
	return c ? c->err : NULL;
}

/*
 * How far ahead the BFS prefetches, in queue entries. Every step is a cache
 * miss on arrays of tens of MB (a node's row start, its row, its targets'
 * parents), each depending on the one before; but the queue says which nodes
 * come next, so the misses of the nodes ahead are issued in stages and
 * overlap: row starts AHEAD_ROW entries ahead, rows AHEAD_EDGES ahead,
 * targets AHEAD_TARGETS ahead (at most PREFETCH_EDGES of a row).
 */
#define AHEAD_ROW 32
#define AHEAD_EDGES 16
#define AHEAD_TARGETS 8
#define PREFETCH_EDGES 8

/*
 * A macro, and the functions that only prefetch are always_inline: GCC 12's
 * mod/ref analysis finds such a function free of side effects and deletes
 * the calls to it before it would inline them.
 */
#define prefetch(p) __builtin_prefetch(p)

__attribute__((always_inline)) static inline void prefetch_ahead(const struct hc_graph *g,
								 const uint32_t *queue, uint32_t head,
								 uint32_t tail, const uint32_t *parent)
{
	if (head + AHEAD_ROW < tail)
		prefetch(&g->out_start[queue[head + AHEAD_ROW]]);
	if (head + AHEAD_EDGES < tail) {
		uint32_t b = g->out_start[queue[head + AHEAD_EDGES]];
		if (b < g->nedges)
			prefetch(&g->out[b]);
	}
	if (head + AHEAD_TARGETS < tail) {
		uint32_t x = queue[head + AHEAD_TARGETS];
		uint32_t b = g->out_start[x], e = g->out_start[x + 1];
		for (uint32_t k = b; k < e && k < b + PREFETCH_EDGES && k < g->nedges; k++)
			if (g->out[k] < g->nnodes)
				prefetch(&parent[g->out[k]]);
	}
}

/* Visits row [begin, end) of succ from parent id `from`, queueing the nodes first seen. */
static struct hc_error *visit_row(struct hc_chains *c, const uint32_t *succ, uint32_t begin, uint32_t end,
				  uint32_t from)
{
	for (uint32_t e = begin; e < end; e++) {
		uint32_t s = succ[e];
		if (s >= c->nnodes)
			return corrupt("edge to a node that does not exist", s);
		if (!c->parent[s]) {
			c->parent[s] = from + 1;
			c->queue[c->tail++] = s; /* at most once per node: the queue cannot overflow */
		}
	}
	return NULL;
}

/* Runs the search on until node is seen or nothing is left; false if it cannot run. */
static bool search_until(struct hc_chains *c, uint32_t node)
{
	const struct hc_graph *g = c->g;
	if (c->err)
		return false;
	if (!c->parent) {
		/* zero is "not seen": the pool's pages are zero already (large_alloc.h) */
		c->parent = hc_calloc_large(c->nnodes ? c->nnodes : 1, sizeof(uint32_t));
		c->queue = hc_alloc_large((size_t)(c->nnodes ? c->nnodes : 1) * sizeof(uint32_t));
		if (!c->parent || !c->queue) {
			c->err = hc_error_create(HC_ERR_NOMEM, "chains: out of memory for %u nodes", c->nnodes);
			return false;
		}
	}
	uint64_t owner_edges = g->nowners ? g->owner_out_start[g->nowners] : 0;
	while (c->next_owner < c->nowners && !c->parent[node]) {
		uint32_t o = c->next_owner++, begin = g->owner_out_start[o], end = g->owner_out_start[o + 1];
		if (begin > end || end > owner_edges)
			c->err = corrupt("owner CSR row out of order", o);
		else
			c->err = visit_row(c, g->owner_out, begin, end, g->nnodes + o);
		if (c->err)
			return false;
	}
	while (c->head < c->tail && !c->parent[node]) {
		prefetch_ahead(g, c->queue, c->head, c->tail, c->parent);
		uint32_t x = c->queue[c->head++];
		uint32_t begin = g->out_start[x], end = g->out_start[x + 1];
		if (begin > end || end > g->nedges)
			c->err = corrupt("CSR row out of order", x);
		else
			c->err = visit_row(c, g->out, begin, end, x);
		if (c->err)
			return false;
	}
	return true;
}

struct hc_error *hc_chains_compute(const struct hc_graph *g, struct hc_chains **out)
{
	*out = NULL;
	if ((uint64_t)g->nnodes + g->nowners >= HC_DOM_VIRTUAL_ROOT)
		return hc_error_create(HC_ERR_UNSUPPORTED, "chains: too many nodes and owners");
	struct hc_chains *c = calloc(1, sizeof(*c));
	if (!c)
		return hc_error_create(HC_ERR_NOMEM, "chains: out of memory for %u nodes", g->nnodes);
	c->g = g;
	c->nnodes = g->nnodes;
	c->nowners = g->nowners;
	*out = c;
	return NULL;
}

/* A word found pointing at the child: where, and whether inside it rather than at its start. */
struct word_hit {
	uint64_t at;
	bool interior;
	bool found;
};

/* Records v if it points into [to, to + size); true once a word at the very start is found. */
static bool consider(struct word_hit *hit, uint64_t at, uint64_t v, uint64_t to, uint64_t size)
{
	if (v == to) {
		hit->at = at;
		hit->interior = false;
		hit->found = true;
		return true;
	}
	if (!hit->found && v > to && v - to < size) {
		hit->at = at;
		hit->interior = true;
		hit->found = true;
	}
	return false;
}

/* Scans the aligned words of [start, end) of target memory for one pointing into the child. */
static void scan_memory(const struct hc_target *t, uint64_t start, uint64_t end, uint64_t to,
			uint64_t size, struct word_hit *hit)
{
	if (start > UINT64_MAX - 7)
		return;
	uint64_t a = (start + 7) & ~7ull;
	while (a < end && end - a >= 8) {
		struct hc_span sp;
		hc_target_span(t, a, end - a, &sp);
		if (sp.len < 8) {
			uint64_t next = hc_target_next_dumped(t, a + 1);
			if (next > UINT64_MAX - 7)
				return;
			a = (next + 7) & ~7ull;
			continue;
		}
		for (uint64_t off = 0; off <= sp.len - 8; off += 8) {
			uint64_t v;
			if (!hc_span_u64(&sp, sp.addr + off, &v))
				return;
			if (consider(hit, sp.addr + off, v, to, size))
				return;
		}
		/* the span ends where the dumped bytes or the range do; a whole word further at most */
		if (sp.len > UINT64_MAX - sp.addr - 8)
			return;
		a = sp.addr + (sp.len & ~7ull);
	}
}

/* The edge flag of from -> to in the graph, for when the pointer word cannot be read. */
static bool edge_interior(const struct hc_graph *g, bool from_owner, uint32_t from, uint32_t to)
{
	const uint32_t *start = from_owner ? g->owner_out_start : g->out_start;
	const uint32_t *succ = from_owner ? g->owner_out : g->out;
	const uint8_t *flags = from_owner ? g->owner_out_flags : g->out_flags;
	if (!flags)
		return false;
	for (uint32_t e = start[from]; e < start[from + 1]; e++)
		if (succ[e] == to)
			return flags[e] & HC_EDGE_INTERIOR;
	return false;
}

static void locate_word(const struct hc_graph *g, struct hc_chain_step *s)
{
	const struct hc_target *t = g->target;
	uint64_t to = hc_graph_node_addr(g, s->to), size = hc_graph_node_size(g, s->to);
	struct word_hit hit = { 0 };
	if (t && !s->from_owner) {
		scan_memory(t, hc_graph_node_addr(g, s->from), hc_graph_node_addr(g, s->from) + hc_graph_node_size(g, s->from), to, size, &hit);
	} else if (t) {
		const struct hc_owner *o = &g->owners[s->from];
		if (o->kind != HC_ROOT_REGISTER) {
			scan_memory(t, o->start, o->end, to, size, &hit);
		} else if (o->range < g->nroots && g->roots[o->range].thread >= 0 &&
			   (uint32_t)g->roots[o->range].thread < t->nthreads) {
			const struct hc_thread *th = &t->threads[g->roots[o->range].thread];
			uint64_t last = o->end / 8 < th->nregs ? o->end / 8 : th->nregs;
			for (uint64_t r = o->start / 8; r < last && r < HC_MAX_REGS; r++)
				if (consider(&hit, r, th->regs[r], to, size))
					break;
		}
	}
	if (hit.found) {
		s->from_addr = hit.at;
		s->interior = hit.interior;
	} else {
		s->from_addr = HC_CHAIN_NO_ADDR;
		s->interior = edge_interior(g, s->from_owner, s->from, s->to);
	}
}

uint32_t hc_chains_get(struct hc_chains *c, const struct hc_graph *g, uint32_t node,
		       struct hc_chain_step *steps, uint32_t max)
{
	if (!c || g != c->g || node >= c->nnodes || !search_until(c, node) || !c->parent[node])
		return 0;
	/* BFS parents form a tree, so the walk ends within nnodes steps; the bound guards a broken one */
	uint32_t len = 0;
	for (uint32_t x = node;;) {
		uint32_t p = c->parent[x] - 1;
		if (p == NONE || ++len > c->nnodes)
			return 0;
		if (p >= c->nnodes)
			break;
		x = p;
	}
	if (max == 0)
		return len;
	uint32_t i = len;
	for (uint32_t x = node; i > 0;) {
		uint32_t p = c->parent[x] - 1;
		i--;
		if (i < max) {
			struct hc_chain_step *s = &steps[i];
			s->from_owner = p >= c->nnodes;
			s->from = s->from_owner ? p - c->nnodes : p;
			s->to = x;
			locate_word(g, s);
		}
		x = p;
	}
	return len;
}
