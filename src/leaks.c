/*
 * Leak classification over the reference graph: which nodes nothing
 * reaches (leaked), which of those nothing points to at all
 * (unreferenced), and the clusters the leaked ones form; and, asked of one
 * node, which root kinds reach it.
 *
 * Everything is iterative over the CSR arrays (15 M nodes: no recursion):
 *   - anchored: the nodes the dominators' DFS reached, when the caller has
 *     the dominators (it is the same search), else a breadth-first search
 *     of its own from the owners;
 *   - reached by (hc_leaks_reached_by): the node's ancestors, searched
 *     backwards along in-edges when asked. Only explain asks, for one
 *     node, so no pass over the whole graph keeps a mask per node;
 *   - clusters: breadth-first over in- and out-edges of leaked nodes, started
 *     from each unassigned leaked node in address order, counting the edges
 *     inside each;
 *   - cycles: Kahn's algorithm on the clusters with as many edges as nodes
 *     or more (every edge into a leaked node comes from its cluster); what
 *     it cannot peel off lies on or after a cycle. A cluster with fewer is
 *     a tree even ignoring directions: most leaks (lists, trees) need no
 *     second pass.
 * Both run over a list of the leaked nodes, not over all nodes: leaks are
 * usually a small part of a big heap.
 */
#include "heapcore/graph.h"

#include <stdlib.h>
#include <string.h>

#include "large_alloc.h"

#define NONE UINT32_MAX
/* scratch bit in cls while classifying: the node is on or after a cycle */
#define CLS_CYCLIC 0x80

static uint64_t node_bytes(const struct hc_graph *g, uint32_t v)
{
	const struct hc_glibc_heap *h = g->heap;
	/* a graph made without a target (by hand, in tests) has only usable sizes */
	if (!g->target)
		return hc_graph_node_size(g, v);
	uint32_t c = g->chunk[v];
	return h->chunk_state[c] == HC_CHUNK_MMAPPED ? hc_graph_node_bytes(g, v) : hc_glibc_chunk_size(h, c);
}

/* Nodes taken from the queue at once, their edges and targets prefetched before any is worked on. */
#define REACH_BATCH 32

/*
 * Sets seen[v] for every node the owners reach, breadth-first. The queue
 * holds each node once. Nodes are taken in batches whose CSR rows and
 * targets' marks are prefetched first: a node's targets are anywhere in
 * the heap, and waiting for them one by one is most of the cost.
 */
static void reach(const struct hc_graph *g, uint8_t *seen, uint32_t *queue)
{
	uint32_t n = g->nnodes, head = 0, tail = 0;
	const uint32_t *st = g->out_start, *out = g->out;
	memset(seen, 0, n);
	/* the owners' edges say the same as root_kinds for a built graph; a graph made by hand may have only them */
	for (uint32_t v = 0; g->root_kinds && v < n; v++)
		if (g->root_kinds[v]) {
			seen[v] = 1;
			queue[tail++] = v;
		}
	for (uint32_t i = 0; g->nowners && i < g->owner_out_start[g->nowners]; i++) {
		uint32_t v = g->owner_out[i];
		if (v < n && !seen[v]) {
			seen[v] = 1;
			queue[tail++] = v;
		}
	}
	while (head < tail) {
		uint32_t k = tail - head < REACH_BATCH ? tail - head : REACH_BATCH;
		for (uint32_t j = 0; j < k; j++)
			__builtin_prefetch(&st[queue[head + j]]);
		for (uint32_t j = 0; j < k; j++)
			__builtin_prefetch(&out[st[queue[head + j]]]);
		for (uint32_t j = 0; j < k; j++)
			for (uint32_t i = st[queue[head + j]]; i < st[queue[head + j] + 1]; i++)
				__builtin_prefetch(&seen[out[i]]);
		for (uint32_t j = 0; j < k; j++) {
			uint32_t u = queue[head++];
			for (uint32_t i = st[u]; i < st[u + 1]; i++) {
				uint32_t w = out[i];
				if (!seen[w]) {
					seen[w] = 1;
					queue[tail++] = w;
				}
			}
		}
	}
}

bool hc_leaks_reached_by(const struct hc_graph *g, uint32_t node, uint8_t *kinds)
{
	*kinds = 0;
	uint32_t n = g->nnodes;
	if (node >= n)
		return true;
	/* the node and its ancestors: a bit each, and a queue as long as they are many */
	uint64_t *seen = calloc((n + 63) / 64, sizeof(uint64_t));
	uint32_t *queue = malloc(n * sizeof(*queue));
	if (!seen || !queue) {
		free(seen);
		free(queue);
		return false;
	}
	uint32_t head = 0, tail = 0;
	seen[node / 64] |= 1ull << (node % 64);
	queue[tail++] = node;
	while (head < tail) {
		uint32_t u = queue[head++];
		if (g->root_kinds)
			*kinds |= g->root_kinds[u];
		for (uint32_t i = g->in_start[u]; i < g->in_start[u + 1]; i++) {
			uint32_t w = g->in[i];
			if (w < n && !(seen[w / 64] >> (w % 64) & 1)) {
				seen[w / 64] |= 1ull << (w % 64);
				queue[tail++] = w;
			}
		}
	}
	/* the owners pointing at any of them (the only kinds a graph made by hand has) */
	for (uint32_t o = 0; o < g->nowners; o++)
		for (uint32_t i = g->owner_out_start[o]; i < g->owner_out_start[o + 1]; i++) {
			uint32_t w = g->owner_out[i];
			if (w < n && seen[w / 64] >> (w % 64) & 1)
				*kinds |= (uint8_t)(1u << g->owners[o].kind);
		}
	free(seen);
	free(queue);
	return true;
}

/*
 * Marks CLS_CYCLIC on the leaked nodes of list lk (nl of them, whole
 * clusters) that Kahn's algorithm cannot remove. indeg is scratch, read
 * and written only at the listed nodes.
 */
static void mark_cycles(const struct hc_graph *g, uint8_t *cls, uint32_t *indeg, const uint32_t *lk, uint32_t nl,
			uint32_t *queue)
{
	uint32_t qn = 0;
	for (uint32_t j = 0; j < nl; j++) {
		uint32_t v = lk[j];
		indeg[v] = g->in_start[v + 1] - g->in_start[v];
		if (!indeg[v])
			queue[qn++] = v;
	}
	for (uint32_t q = 0; q < qn; q++) {
		uint32_t u = queue[q];
		for (uint32_t i = g->out_start[u]; i < g->out_start[u + 1]; i++) {
			uint32_t w = g->out[i];
			/* a leaked node may point at an anchored one, which is not in this subgraph */
			if (cls[w] != HC_ANCHORED && --indeg[w] == 0)
				queue[qn++] = w;
		}
	}
	for (uint32_t j = 0; j < nl; j++)
		if (indeg[lk[j]])
			cls[lk[j]] |= CLS_CYCLIC;
}

static int cmp_cluster(const void *a, const void *b, void *arg)
{
	const struct hc_leak_cluster *x = a, *y = b;
	const struct hc_graph *g = arg;
	if (x->bytes != y->bytes)
		return x->bytes > y->bytes ? -1 : 1;
	return (hc_graph_node_addr(g, x->head) > hc_graph_node_addr(g, y->head)) - (hc_graph_node_addr(g, x->head) < hc_graph_node_addr(g, y->head));
}

/*
 * The weakly connected components of the leaked nodes (list lk, in address
 * order); each cluster's `cyclic` says for now whether it may hold a cycle.
 */
static struct hc_error *clusters(const struct hc_graph *g, struct hc_leaks *l, const uint32_t *lk, uint32_t nl,
				 uint32_t *queue)
{
	uint32_t cap = 0;
	for (uint32_t j = 0; j < nl; j++) {
		uint32_t s = lk[j];
		if (l->cluster[s] != NONE)
			continue;
		if (l->nclusters == cap) {
			cap = cap ? cap * 2 : 256;
			struct hc_leak_cluster *c = realloc(l->clusters, (size_t)cap * sizeof(*c));
			if (!c)
				return &hc_error_nomem;
			l->clusters = c;
		}
		uint32_t id = l->nclusters++;
		struct hc_leak_cluster c = { NONE, 0, 0, 0, false };
		uint64_t edges = 0;
		uint32_t qn = 0;
		queue[qn++] = s;
		l->cluster[s] = id;
		for (uint32_t q = 0; q < qn; q++) {
			uint32_t u = queue[q];
			c.nnodes++;
			c.bytes += node_bytes(g, u);
			/* the lowest-address head: nodes are indices in address order */
			if (l->cls[u] == HC_LEAKED_UNREFERENCED) {
				c.nheads++;
				if (u < c.head)
					c.head = u;
			}
			for (int dir = 0; dir < 2; dir++) {
				const uint32_t *st = dir ? g->in_start : g->out_start, *adj = dir ? g->in : g->out;
				for (uint32_t i = st[u]; i < st[u + 1]; i++) {
					uint32_t w = adj[i];
					/* out-edges may lead to anchored nodes; in-edges never come from one */
					if (l->cls[w] == HC_ANCHORED)
						continue;
					edges += !dir;
					if (l->cluster[w] == NONE) {
						l->cluster[w] = id;
						queue[qn++] = w;
					}
				}
			}
		}
		/* no head: a pure cycle (and what hangs off it); s is its lowest address */
		if (c.head == NONE)
			c.head = s;
		/*
		 * For now: whether it can hold a cycle at all. With one edge fewer
		 * than nodes, connected, it is a tree even ignoring directions (a
		 * leaked list or tree, the common leak); cycles() decides the rest.
		 */
		c.cyclic = edges >= c.nnodes;
		l->clusters[id] = c;
	}
	return NULL;
}

/*
 * Decides which clusters hold a cycle: Kahn's algorithm over the nodes of
 * those that may (clusters()), not over every leaked node.
 */
static struct hc_error *cycles(const struct hc_graph *g, struct hc_leaks *l, const uint32_t *lk, uint32_t nl,
			       uint32_t *queue)
{
	uint32_t *maybe = NULL, nm = 0, *indeg = NULL;
	for (uint32_t j = 0; j < nl; j++)
		nm += l->clusters[l->cluster[lk[j]]].cyclic;
	if (!nm)
		return NULL;
	maybe = malloc((size_t)nm * sizeof(*maybe));
	indeg = hc_alloc_large((size_t)g->nnodes * sizeof(*indeg));
	if (!maybe || !indeg) {
		free(maybe);
		hc_free_large(indeg, (size_t)g->nnodes * sizeof(*indeg));
		return &hc_error_nomem;
	}
	nm = 0;
	for (uint32_t j = 0; j < nl; j++)
		if (l->clusters[l->cluster[lk[j]]].cyclic)
			maybe[nm++] = lk[j];
	mark_cycles(g, l->cls, indeg, maybe, nm, queue);
	for (uint32_t j = 0; j < nm; j++)
		l->clusters[l->cluster[maybe[j]]].cyclic = false;
	for (uint32_t j = 0; j < nm; j++) {
		uint32_t v = maybe[j];
		if (l->cls[v] & CLS_CYCLIC)
			l->clusters[l->cluster[v]].cyclic = true;
		l->cls[v] &= (uint8_t)~CLS_CYCLIC;
	}
	free(maybe);
	hc_free_large(indeg, (size_t)g->nnodes * sizeof(*indeg));
	return NULL;
}

/* Largest first: sorts the clusters and renumbers the nodes' cluster ids. */
static struct hc_error *sort_clusters(const struct hc_graph *g, struct hc_leaks *l, const uint32_t *lk, uint32_t nl)
{
	if (l->nclusters < 2)
		return NULL;
	/* largest first: sort a copy keyed by old id, then renumber the nodes */
	uint32_t *ren = malloc((size_t)l->nclusters * sizeof(*ren));
	if (!ren)
		return &hc_error_nomem;
	struct hc_leak_cluster *old = l->clusters;
	struct keyed {
		struct hc_leak_cluster c;
		uint32_t id;
	} *k = malloc((size_t)l->nclusters * sizeof(*k));
	if (!k) {
		free(ren);
		return &hc_error_nomem;
	}
	for (uint32_t i = 0; i < l->nclusters; i++)
		k[i] = (struct keyed){ old[i], i };
	qsort_r(k, l->nclusters, sizeof(*k), cmp_cluster, (void *)g);
	for (uint32_t i = 0; i < l->nclusters; i++) {
		old[i] = k[i].c;
		ren[k[i].id] = i;
	}
	free(k);
	for (uint32_t j = 0; j < nl; j++)
		l->cluster[lk[j]] = ren[l->cluster[lk[j]]];
	free(ren);
	return NULL;
}

struct hc_error *hc_leaks_classify(const struct hc_graph *g, const struct hc_dominators *d, struct hc_leaks **out)
{
	*out = NULL;
	struct hc_leaks *l = calloc(1, sizeof(*l));
	if (!l)
		return &hc_error_nomem;
	uint32_t n = g->nnodes;
	size_t cnt = n ? n : 1;
	l->cls = hc_alloc_large(cnt);
	l->cluster = hc_alloc_large(cnt * sizeof(*l->cluster));
	uint32_t *queue = hc_alloc_large(cnt * sizeof(*queue)), *lk = NULL;
	struct hc_error *err = NULL;
	if (!l->cls || !l->cluster || !queue) {
		err = &hc_error_nomem;
		goto done;
	}
	/* cls holds "reached" until each node's class replaces it */
	if (!d)
		reach(g, l->cls, queue);
	/* the leaked nodes in address order, listed as they are classed: the rest of the work is theirs alone */
	lk = hc_alloc_large(cnt * sizeof(*lk));
	if (!lk) {
		err = &hc_error_nomem;
		goto done;
	}
	/*
	 * A built graph's nodes are the walk's in-use and mmapped chunks, whose
	 * bytes the walk has counted the same way: the anchored bytes are those
	 * less the leaked ones, and only the leaked nodes' sizes are read. A
	 * graph made by hand has no walk behind it: every node is counted.
	 */
	bool by_heap = g->target && g->heap;
	uint32_t nl = 0;
	for (uint32_t v = 0; v < n; v++) {
		bool anchored = d ? d->idom[v] != HC_DOM_NONE : l->cls[v];
		l->cluster[v] = NONE;
		if (anchored) {
			l->cls[v] = HC_ANCHORED;
			if (!by_heap) {
				l->anchored.count++;
				l->anchored.bytes += node_bytes(g, v);
			}
			continue;
		}
		uint8_t c = g->in_start[v + 1] == g->in_start[v] ? HC_LEAKED_UNREFERENCED : HC_LEAKED_INDIRECT;
		l->cls[v] = c;
		struct hc_tally *t = c == HC_LEAKED_UNREFERENCED ? &l->unreferenced : &l->indirect;
		t->count++;
		t->bytes += node_bytes(g, v);
		lk[nl++] = v;
	}
	l->leaked.count = l->unreferenced.count + l->indirect.count;
	l->leaked.bytes = l->unreferenced.bytes + l->indirect.bytes;
	if (by_heap) {
		const struct hc_tally *used = &g->heap->totals[HC_CHUNK_USED], *mm = &g->heap->totals[HC_CHUNK_MMAPPED];
		l->anchored.count = n - l->leaked.count;
		l->anchored.bytes = used->bytes + mm->bytes - l->leaked.bytes;
	}
	err = clusters(g, l, lk, nl, queue);
	if (!err)
		err = cycles(g, l, lk, nl, queue);
	if (!err)
		err = sort_clusters(g, l, lk, nl);
done:
	hc_free_large(lk, cnt * sizeof(*lk));
	hc_free_large(queue, cnt * sizeof(*queue));
	if (err) {
		hc_leaks_destroy(l);
		return err;
	}
	*out = l;
	return NULL;
}

void hc_leaks_trim(struct hc_leaks *l, uint32_t nnodes)
{
	if (!l)
		return;
	size_t cnt = nnodes ? nnodes : 1;
	hc_release_large(l->cls, cnt);
	hc_release_large(l->cluster, cnt * sizeof(*l->cluster));
	l->cls = NULL;
	l->cluster = NULL;
}

void hc_leaks_destroy(struct hc_leaks *l)
{
	if (!l)
		return;
	hc_free_large(l->cls, 0);
	hc_free_large(l->cluster, 0);
	free(l->clusters);
	free(l);
}
