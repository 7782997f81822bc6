/*
 * The dominator tree of the reference graph and the retained size of every
 * node and owner (hc_dominators_compute), as Eclipse MAT shows them: x
 * dominates y when every path from the roots to y goes through x, so freeing
 * x would free everything x dominates, and x's retained size is the bytes of
 * its dominator subtree.
 *
 * The graph is rooted at a virtual root whose successors are the owners in
 * order, which are followed by the node->node edges. Nodes no owner reaches
 * (leaked) are not in the tree: idom HC_DOM_NONE, and retained = their own
 * size only. What a leaked cluster keeps alive is the leak report's business
 * (hc_leaks: a cluster's bytes); dominance below a leaked head would need a
 * second root set, which nothing asks for yet.
 *
 * Sizes are hc_graph_node_size(), the usable size of each allocation: what the program
 * asked for (rounded up), not the chunk with its header, so the retained size
 * of a list is the sum of what its allocations can hold. Owners weigh 0.
 *
 * Algorithm: semi-NCA (Georgiadis' thesis; LLVM's SemiNCAInfo) over a DFS
 * preorder numbering. Step 1 computes semidominators in reverse preorder with
 * Lengauer-Tarjan's eval and simple path compression; step 2 takes each
 * vertex's idom as the nearest common ancestor, in the tree built so far, of
 * its DFS parent and its semidominator. It needs fewer arrays than
 * Lengauer-Tarjan's buckets and is as fast in practice on sparse graphs.
 * O(E log N) worst case.
 *
 * Memory is what limits us (15 M nodes on a 1 GiB core), so:
 *  - everything is 32-bit and indexed by preorder number, and there is no
 *    recursion: the DFS keeps its path in the parent links and a cursor per
 *    vertex, and eval reverses the ancestor links it climbs instead of
 *    stacking them (Schorr-Waite style), so no stack grows with the depth;
 *  - the result's idom array first holds the preorder number of each id;
 *  - the DFS cursors become the semidominators, and in step 1 each
 *    vertex[w] is replaced by w's DFS parent once w is done (nothing reads
 *    vertex[w] again), so step 2 finds the parents there and writes the
 *    idoms over them; the preorder->id map is rebuilt from the preorder
 *    numbers once step 1's arrays are freed.
 * Peak: 20 bytes per vertex, of which 12 are the results (idom, retained);
 * see peak_bytes. Time is all cache misses; see the prefetching below.
 *
 * The graph comes from another layer and is not trusted to be consistent: an
 * edge to a node that does not exist or a CSR that runs backwards is an
 * internal error, not a crash.
 */
#include "heapcore/graph.h"

#include "large_alloc.h"

#include <stdlib.h>
#include <string.h>

#define NONE UINT32_MAX

/*
 * How far ahead the loops below prefetch. Every phase is bound by cache
 * misses on arrays of tens of MB indexed at random, and most misses depend on
 * the one before (a node's row start, then its row, then its successors'
 * numbers), so each loop issues the misses of iterations ahead of it in
 * stages: the row start AHEAD_ROW iterations ahead, the row AHEAD_EDGES
 * ahead, the other ends' preorder numbers AHEAD_TARGETS ahead and their
 * links AHEAD_LINKS ahead, at most PREFETCH_EDGES per row (a hash table's
 * row would flood the cache).
 */
#define AHEAD_ROW 24
#define AHEAD_EDGES 12
#define AHEAD_TARGETS 6
#define AHEAD_LINKS 3
#define PREFETCH_EDGES 4

/*
 * A macro, and the functions that only prefetch are always_inline: GCC 12's
 * mod/ref analysis finds such a function free of side effects and deletes
 * the calls to it before it would inline them.
 */
#define prefetch(p) __builtin_prefetch(p)

/*
 * Step 1's state per preorder number, interleaved because eval reads both of
 * a vertex at once: one cache miss instead of two.
 */
struct link {
	uint32_t anc;            /* DFS parent until processed, then the path-compressed ancestor */
	uint32_t best;           /* least semidominator on the compressed path from here up */
};

struct dom_ctx {
	const struct hc_graph *g;
	uint32_t nnodes, nowners, nids;
	uint64_t nedges;
	uint32_t n;              /* vertices reached, the virtual root (preorder 0) included */
	uint32_t *pre;           /* per id: preorder number or NONE; lives in the result's idom */
	uint32_t *vertex;        /* per preorder number: id (vertex[0] = the virtual root) */
	struct link *link;       /* .anc holds the DFS parent from the DFS on */
	uint32_t *semi;          /* DFS edge cursor, then the semidominator */
	uint64_t bytes, peak;    /* what we hold now and at most, for peak_bytes */
};

static void *ctx_alloc(struct dom_ctx *c, uint64_t count, size_t elem)
{
	if (count > SIZE_MAX / elem)
		return NULL;
	void *p = hc_alloc_large(count * elem);
	if (p) {
		c->bytes += count * elem;
		if (c->bytes > c->peak)
			c->peak = c->bytes;
	}
	return p;
}

static void ctx_free(struct dom_ctx *c, void *p, uint64_t bytes)
{
	if (p) {
		hc_free_large(p, bytes);
		c->bytes -= bytes;
	}
}

static struct hc_error *corrupt(const char *what, uint64_t where)
{
	return hc_error_create(HC_ERR_INTERNAL, "dominators: inconsistent graph: %s at %llu", what,
			       (unsigned long long)where);
}

/* [*begin, *end) of a CSR row, after checking the row is in bounds. */
static inline bool csr_row(const uint32_t *start, uint32_t row, uint64_t limit, uint32_t *begin,
			   uint32_t *end)
{
	*begin = start[row];
	*end = start[row + 1];
	return *begin <= *end && *end <= limit;
}

/*
 * Numbers the vertices reached from the virtual root in DFS preorder and
 * records each one's DFS parent. The current path is the chain of parents
 * and each vertex keeps a cursor into its successor list, so an arbitrarily
 * deep path costs no stack. A DFS is a chain of dependent misses (a row's
 * start, the row, its targets' numbers); when a vertex is discovered, the
 * numbers and row starts of its first successors are prefetched together.
 */
static struct hc_error *dfs(struct dom_ctx *c)
{
	const struct hc_graph *g = c->g;
	uint32_t *pre = c->pre, *vertex = c->vertex, *cursor = c->semi;
	struct link *link = c->link;
	uint64_t owner_edges = c->nowners ? g->owner_out_start[c->nowners] : 0;
	memset(pre, 0xff, (size_t)c->nids * sizeof(*pre));
	vertex[0] = HC_DOM_VIRTUAL_ROOT;
	link[0].anc = 0;
	cursor[0] = 0;
	uint32_t n = 1, u = 0;
	for (;;) {
		uint32_t x = vertex[u], next = NONE;
		if (x == HC_DOM_VIRTUAL_ROOT) {
			/* owners have no other predecessor: each is new when the root gets to it */
			if (cursor[u] < c->nowners)
				next = c->nnodes + cursor[u]++;
		} else {
			const uint32_t *succ;
			uint32_t end;
			if (x >= c->nnodes) {
				succ = g->owner_out;
				end = g->owner_out_start[x - c->nnodes + 1];
			} else {
				succ = g->out;
				end = g->out_start[x + 1];
			}
			while (cursor[u] < end) {
				uint32_t s = succ[cursor[u]++];
				if (s >= c->nnodes)
					return corrupt("edge to a node that does not exist", s);
				if (pre[s] == NONE) {
					next = s;
					break;
				}
			}
		}
		if (next == NONE) {
			if (u == 0)
				break;
			u = link[u].anc;
			continue;
		}
		uint32_t begin, end;
		const uint32_t *succ = g->out;
		bool ok;
		if (next >= c->nnodes) {
			succ = g->owner_out;
			ok = csr_row(g->owner_out_start, next - c->nnodes, owner_edges, &begin, &end);
		} else {
			ok = csr_row(g->out_start, next, c->nedges, &begin, &end);
		}
		if (!ok)
			return corrupt("CSR row out of order", next);
		for (uint32_t e = begin; e < end && e < begin + PREFETCH_EDGES; e++) {
			uint32_t s = succ[e];
			if (s < c->nnodes) {
				prefetch(&pre[s]);
				prefetch(&g->out_start[s]);
			}
		}
		pre[next] = n;
		vertex[n] = next;
		link[n].anc = u;
		cursor[n] = begin;
		u = n++;
	}
	c->n = n;
	return NULL;
}

/*
 * Lengauer-Tarjan's EVAL with simple path compression, returning the value
 * semi-NCA needs: the least semidominator on the path from v up to (not
 * including) the first vertex not yet processed (preorder < last). Keeping
 * that value per vertex (best) instead of the vertex holding it (LT's label)
 * saves an indirection per step. The climb reverses the ancestor links
 * behind it and the way down restores them compressed, so that no stack as
 * deep as the path is needed.
 */
static inline uint32_t eval(struct link *link, uint32_t v, uint32_t last)
{
	if (link[v].anc < last)
		return link[v].best;
	uint32_t below = NONE, x = v;
	do {
		uint32_t up = link[x].anc;
		link[x].anc = below;
		below = x;
		x = up;
	} while (link[x].anc >= last);
	/* x is the topmost processed vertex: everything below it now hangs from its ancestor */
	uint32_t top = link[x].anc, best = link[x].best;
	while (below != NONE) {
		uint32_t down = link[below].anc;
		link[below].anc = top;
		if (best < link[below].best)
			link[below].best = best;
		else
			best = link[below].best;
		below = down;
	}
	return link[v].best;
}

/*
 * Owner->node edges have no reverse CSR, so their part of each node's
 * semidominator is folded in before step 1, from the forward edges. An owner
 * o is a child of the root and nothing else points to it, so for a node w:
 * if o comes after w in preorder, the path root->o->w passes only through
 * vertices numbered above w and sdom(w) is the root (0); if o comes before
 * w, o is a DFS ancestor of w and offers itself. semi[] starts as the DFS
 * parent, as semi-NCA initialises it.
 */
static void owner_semis(struct dom_ctx *c)
{
	const struct hc_graph *g = c->g;
	for (uint32_t w = 0; w < c->n; w++)
		c->semi[w] = c->link[w].anc;
	for (uint32_t o = 0; o < c->nowners; o++) {
		uint32_t po = c->pre[c->nnodes + o];
		for (uint32_t e = g->owner_out_start[o]; e < g->owner_out_start[o + 1]; e++) {
			uint32_t pw = c->pre[g->owner_out[e]]; /* checked and reached in dfs() */
			uint32_t cand = po > pw ? 0 : po;
			if (cand < c->semi[pw])
				c->semi[pw] = cand;
		}
	}
}

/* Prefetches, in stages, what step 1 will read for vertex w a few iterations from now. */
__attribute__((always_inline)) static inline void prefetch_preds(const struct dom_ctx *c,
								 uint32_t w)
{
	const struct hc_graph *g = c->g;
	const uint32_t *vertex = c->vertex;
	uint32_t x;
	if (w >= AHEAD_ROW && (x = vertex[w - AHEAD_ROW]) < c->nnodes)
		prefetch(&g->in_start[x]);
	/* a vertex with one predecessor is mostly skipped (see semidominators()): its edge is not fetched */
	if (w >= AHEAD_EDGES && (x = vertex[w - AHEAD_EDGES]) < c->nnodes && g->in_start[x] < c->nedges &&
	    g->in_start[x + 1] - g->in_start[x] > 1)
		prefetch(&g->in[g->in_start[x]]);
	if (w >= AHEAD_TARGETS && (x = vertex[w - AHEAD_TARGETS]) < c->nnodes &&
	    g->in_start[x + 1] - g->in_start[x] > 1) {
		uint32_t b = g->in_start[x], e = g->in_start[x + 1];
		for (uint32_t k = b; k < e && k < b + PREFETCH_EDGES && k < c->nedges; k++)
			if (g->in[k] < c->nnodes)
				prefetch(&c->pre[g->in[k]]);
	}
	if (w >= AHEAD_LINKS && (x = vertex[w - AHEAD_LINKS]) < c->nnodes && g->in_start[x + 1] - g->in_start[x] > 1) {
		uint32_t b = g->in_start[x], e = g->in_start[x + 1];
		for (uint32_t k = b; k < e && k < b + PREFETCH_EDGES && k < c->nedges; k++) {
			uint32_t v = g->in[k];
			if (v < c->nnodes && c->pre[v] != NONE && c->pre[v] < c->n)
				prefetch(&c->link[c->pre[v]]);
		}
	}
}

/*
 * Step 1: semidominators in reverse preorder. A predecessor numbered below w
 * is an ancestor of w and offers itself; one numbered above w offers the
 * least semidominator on its compressed path. Afterwards vertex[w] is
 * replaced by w's DFS parent (still link[w].anc at that point), for step 2.
 *
 * Most vertices of a heap have one predecessor node, and when their DFS
 * parent is a node it is that predecessor, which offers only itself: what
 * semi[w] holds already. Those vertices skip their edge and its other
 * end's number, two cache misses of the three per vertex. (The parent is
 * unprocessed, so vertex[] still names it; it is mostly w - 1, in the cache.)
 */
static struct hc_error *semidominators(struct dom_ctx *c)
{
	const struct hc_graph *g = c->g;
	struct link *link = c->link;
	uint32_t *semi = c->semi, *vertex = c->vertex;
	const uint32_t *pre = c->pre;
	for (uint32_t w = c->n - 1; w >= 1; w--) {
		prefetch_preds(c, w);
		uint32_t x = vertex[w], s = semi[w];
		vertex[w] = link[w].anc;
		if (x < c->nnodes) {
			/* an owner's only predecessor is the root: its semi is 0 already */
			uint32_t begin, end;
			if (!csr_row(g->in_start, x, c->nedges, &begin, &end))
				return corrupt("reverse CSR row out of order", x);
			if (end - begin == 1 && vertex[link[w].anc] < c->nnodes)
				end = begin;
			for (uint32_t e = begin; e < end; e++) {
				uint32_t v = g->in[e];
				if (v >= c->nnodes)
					return corrupt("reverse edge from a node that does not exist", v);
				uint32_t pv = pre[v];
				if (pv == NONE)
					continue; /* a leaked node pointing into the live graph */
				uint32_t cand = pv <= w ? pv : eval(link, pv, w + 1);
				if (cand < s)
					s = cand;
			}
		}
		semi[w] = s;
		link[w].best = s;
	}
	vertex[0] = 0;
	return NULL;
}

/*
 * Step 2: idom(w) is the nearest common ancestor of parent(w) and sdom(w) in
 * the tree built so far: climb from the parent while above sdom(w). In
 * preorder every idom on the way is final, so the idoms overwrite the
 * parents in place.
 */
static void immediate_dominators(struct dom_ctx *c)
{
	uint32_t *idom = c->vertex; /* holds the DFS parents after step 1 */
	const uint32_t *semi = c->semi;
	for (uint32_t w = 1; w < c->n; w++) {
		if (w + AHEAD_EDGES < c->n)
			prefetch(&idom[idom[w + AHEAD_EDGES]]);
		uint32_t a = idom[w];
		while (a > semi[w])
			a = idom[a];
		idom[w] = a;
	}
}

/*
 * Retained sizes: reverse preorder visits every vertex after all it
 * dominates (an idom precedes what it dominates in preorder), so one pass
 * adds each subtree into its idom's. pre[] is no longer needed, so the
 * result's idom[] takes its final values in the same pass.
 */
static void retained_sizes(struct dom_ctx *c, const uint32_t *idom_pre, const uint32_t *vertex,
			   struct hc_dominators *d)
{
	uint64_t *retained = d->retained;
	for (uint32_t i = 0; i < c->nnodes; i++)
		retained[i] = hc_graph_node_size(c->g, i);
	memset(retained + c->nnodes, 0, (size_t)c->nowners * sizeof(uint64_t));
	for (uint32_t i = c->n - 1; i >= 1; i--) {
		if (i > 2 * AHEAD_EDGES) {
			prefetch(&vertex[idom_pre[i - 2 * AHEAD_EDGES]]);
			prefetch(&retained[vertex[i - 2 * AHEAD_EDGES]]);
			prefetch(&d->idom[vertex[i - 2 * AHEAD_EDGES]]);
		}
		if (i > AHEAD_EDGES && idom_pre[i - AHEAD_EDGES] != 0)
			prefetch(&retained[vertex[idom_pre[i - AHEAD_EDGES]]]);
		uint32_t v = vertex[i], p = idom_pre[i];
		if (p != 0) {
			retained[vertex[p]] += retained[v];
			d->idom[v] = vertex[p];
		} else {
			d->idom[v] = HC_DOM_VIRTUAL_ROOT;
		}
	}
}

static int cmp_owner(const void *a, const void *b, void *arg)
{
	const uint64_t *retained = arg;
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	if (retained[x] != retained[y])
		return retained[x] > retained[y] ? -1 : 1;
	return x < y ? -1 : x > y;
}

void hc_dominators_destroy(struct hc_dominators *d)
{
	if (!d)
		return;
	hc_free_large(d->idom, 0);
	hc_free_large(d->retained, 0);
	hc_free_large(d->owners_by_retained, 0);
	free(d);
}

static struct hc_error *nomem(uint32_t nids)
{
	return hc_error_create(HC_ERR_NOMEM, "dominators: out of memory for %u vertices", nids);
}

struct hc_error *hc_dominators_compute(const struct hc_graph *g, struct hc_dominators **out)
{
	*out = NULL;
	uint64_t nids = (uint64_t)g->nnodes + g->nowners;
	/* preorder numbers and ids must stay below the two sentinels */
	if (nids + 1 >= HC_DOM_VIRTUAL_ROOT)
		return hc_error_create(HC_ERR_UNSUPPORTED, "dominators: %llu vertices is too many",
				       (unsigned long long)nids);
	if (g->nnodes && (g->out_start[0] != 0 || g->out_start[g->nnodes] != g->nedges ||
			  g->in_start[0] != 0 || g->in_start[g->nnodes] != g->nedges))
		return corrupt("edge arrays disagree with the edge count", g->nedges);
	if (g->nowners && g->owner_out_start[0] != 0)
		return corrupt("owner edge array does not start at 0", 0);

	struct dom_ctx c = { .g = g, .nnodes = g->nnodes, .nowners = g->nowners,
			     .nids = (uint32_t)nids, .nedges = g->nedges };
	struct hc_error *err = NULL;
	uint64_t nv = nids + 1;
	uint32_t *idom_pre = NULL, *vertex = NULL;
	struct hc_dominators *d = calloc(1, sizeof(*d));
	if (!d)
		return nomem(c.nids);
	d->idom = ctx_alloc(&c, nids, sizeof(uint32_t));
	c.vertex = ctx_alloc(&c, nv, sizeof(uint32_t));
	c.link = ctx_alloc(&c, nv, sizeof(struct link));
	c.semi = ctx_alloc(&c, nv, sizeof(uint32_t));
	if (!d->idom || !c.vertex || !c.link || !c.semi)
		goto nomem;
	c.pre = d->idom;
	if ((err = dfs(&c)))
		goto fail;
	owner_semis(&c);
	if ((err = semidominators(&c)))
		goto fail;
	/*
	 * Step 1's links become the retained sizes (8 bytes per vertex either
	 * way) and, after step 2, its semidominators the rebuilt preorder->id
	 * map: memory already faulted in, where fresh arrays would cost a page
	 * fault per 4 KiB again.
	 */
	_Static_assert(sizeof(struct link) == sizeof(uint64_t), "links are reused as retained sizes");
	d->retained = (uint64_t *)(void *)c.link;
	c.link = NULL;
	immediate_dominators(&c);
	vertex = c.semi;
	c.semi = NULL;

	/* the idoms are in vertex[] now; rebuild the preorder->id map beside it */
	idom_pre = c.vertex;
	c.vertex = NULL;
	d->owners_by_retained = ctx_alloc(&c, c.nowners, sizeof(uint32_t));
	if (!d->owners_by_retained)
		goto nomem;
	vertex[0] = HC_DOM_VIRTUAL_ROOT;
	for (uint32_t v = 0; v < c.nids; v++)
		if (c.pre[v] != NONE)
			vertex[c.pre[v]] = v;
	retained_sizes(&c, idom_pre, vertex, d);
	ctx_free(&c, idom_pre, nv * sizeof(uint32_t));
	ctx_free(&c, vertex, nv * sizeof(uint32_t));

	for (uint32_t o = 0; o < c.nowners; o++)
		d->owners_by_retained[o] = o;
	qsort_r(d->owners_by_retained, c.nowners, sizeof(uint32_t), cmp_owner, d->retained + c.nnodes);
	d->peak_bytes = c.peak;
	*out = d;
	return NULL;

nomem:
	err = nomem(c.nids);
fail:
	hc_free_large(c.vertex, 0);
	hc_free_large(c.link, 0);
	hc_free_large(c.semi, 0);
	hc_free_large(idom_pre, 0);
	hc_free_large(vertex, 0);
	hc_dominators_destroy(d);
	return err;
}
