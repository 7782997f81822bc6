/*
 * Benchmark driver for hc_dominators_compute and hc_chains_compute on a
 * synthetic graph the size of a large heap (not a test: nothing is asserted).
 * It prints the time and the peak memory of each, the latter both as the
 * library counts it (peak_bytes) and as the kernel saw it (VmHWM growth).
 *
 * Build and run (from the source tree), on a synthetic graph:
 *   gcc -O2 -std=gnu11 -D_GNU_SOURCE -Iinclude -Isrc scripts/bench-dominators.c \
 *       src/dominators.c src/chains.c src/error.c src/target.c src/target_core.c \
 *       src/decompress.c -lzstd -llzma -llz4 -o /tmp/bench-dominators
 *   /tmp/bench-dominators [heap|random] [nodes] [edges]
 * or on the graph of a real core (scripts/bench-analyze.sh makes a 15 M
 * allocation one), linked with the library of a build (BUILD=build):
 *   gcc -O2 -std=gnu11 -D_GNU_SOURCE -DBENCH_CORE -Iinclude -Isrc \
 *       scripts/bench-dominators.c $BUILD/libheapcore_lib.a \
 *       $(pkg-config --libs libdw libelf capstone jansson libzstd liblzma liblz4) \
 *       -lpthread -o /tmp/bench-dominators-core
 *   /tmp/bench-dominators-core core CORE
 *
 * Shapes: "heap" (default) is node ids in address order, a spanning tree of
 * mostly local edges (list next pointers to the following allocation,
 * pointers to nearby allocations) plus extra edges half local, half far,
 * 10 000 owners and 1/64 of the nodes in leaked regions; "random" gives every
 * edge a uniformly random source and target, the worst case for caches.
 * Defaults: 15 M nodes, 20 M edges.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "heapcore/glibc_heap.h"
#include "heapcore/graph.h"
#include "heapcore/symbols.h"
#include "heapcore/target.h"

static uint64_t rng = 0x2545f4914f6cdd1dull;

static uint32_t rnd(uint32_t bound)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)((rng >> 11) % bound);
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* CPU time of this thread: what the phase cost even when other processes share the cores. */
static double cpu(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* VmHWM or VmRSS of this process, in bytes. */
static uint64_t status_kb(const char *field)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	uint64_t kb = 0;
	size_t n = strlen(field);
	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, field, n))
			kb = strtoull(line + n + 1, NULL, 10);
	if (f)
		fclose(f);
	return kb * 1024;
}

/* Resets VmHWM to the current RSS (Linux 4.0+), so the next peak is this phase's. */
static void reset_peak(void)
{
	FILE *f = fopen("/proc/self/clear_refs", "w");
	if (f) {
		fputs("5", f);
		fclose(f);
	}
}

/* Leaked regions: one 4096-node block in 64, which nothing outside points into. */
static bool leaked_block(uint32_t i)
{
	return (i >> 12) % 64 == 7;
}

/* Puts each edge at its source's row (edges: pairs from, to), then the reverse CSR. */
static void make_csr(struct hc_graph *g, const uint32_t *edges, uint64_t m)
{
	uint32_t n = g->nnodes;
	g->nedges = m;
	g->out_start = calloc((size_t)n + 1, 4);
	g->in_start = calloc((size_t)n + 1, 4);
	g->out = malloc(m * 4);
	g->in = malloc(m * 4);
	g->out_flags = calloc(m, 1);
	g->in_flags = calloc(m, 1);
	for (uint64_t k = 0; k < m; k++) {
		g->out_start[edges[2 * k] + 1]++;
		g->in_start[edges[2 * k + 1] + 1]++;
	}
	for (uint32_t i = 0; i < n; i++) {
		g->out_start[i + 1] += g->out_start[i];
		g->in_start[i + 1] += g->in_start[i];
	}
	uint32_t *fill = malloc(((size_t)n + 1) * 4);
	memcpy(fill, g->out_start, ((size_t)n + 1) * 4);
	for (uint64_t k = 0; k < m; k++)
		g->out[fill[edges[2 * k]]++] = edges[2 * k + 1];
	memcpy(fill, g->in_start, ((size_t)n + 1) * 4);
	for (uint32_t i = 0; i < n; i++)
		for (uint32_t k = g->out_start[i]; k < g->out_start[i + 1]; k++)
			g->in[fill[g->out[k]]++] = i;
	free(fill);
}

static struct hc_graph *make_graph(uint32_t n, uint64_t m, bool random_shape, uint32_t nowners)
{
	struct hc_graph *g = calloc(1, sizeof(*g));
	g->nnodes = n;
	g->addr = malloc((size_t)n * 8);
	g->size = malloc((size_t)n * 8);
	for (uint32_t i = 0; i < n; i++) {
		g->addr[i] = 0x10000000ull + 64ull * i;
		g->size[i] = 24 + 8 * rnd(6);
	}
	uint32_t *edges = malloc(m * 8);
	uint64_t k = 0;
	if (random_shape) {
		for (; k < m; k++) {
			edges[2 * k] = rnd(n);
			edges[2 * k + 1] = rnd(n);
		}
	} else {
		/*
		 * A spanning tree in allocation order: each node is pointed to by
		 * the previous allocation (lists, 60%), a nearby one (25%) or any
		 * earlier one (15%); then the rest of the edges: half near their
		 * source, half anywhere (shared objects, back pointers, hash tables).
		 */
		for (uint32_t i = 1; i < n && k < m; i++) {
			uint32_t r = rnd(100), p;
			if (leaked_block(i))
				p = (i & 4095) ? i - 1 : i; /* a block's first node is its unreferenced head */
			else if (r < 60)
				p = i - 1;
			else if (r < 85)
				p = i > 2000 ? i - 1 - rnd(2000) : rnd(i);
			else
				p = rnd(i);
			if (leaked_block(p) && !leaked_block(i))
				p = (p & ~4095u) - 1; /* the node before the leaked block */
			if (p == i)
				continue;
			edges[2 * k] = p;
			edges[2 * k + 1] = i;
			k++;
		}
		while (k < m) {
			uint32_t from = rnd(n), to;
			if (rnd(2)) {
				uint32_t d = 1 + rnd(2000);
				to = rnd(2) && from >= d ? from - d : (from + d < n ? from + d : from);
			} else {
				to = rnd(n);
			}
			if (leaked_block(to) && (to >> 12) != (from >> 12))
				to = from;
			edges[2 * k] = from;
			edges[2 * k + 1] = to;
			k++;
		}
	}
	make_csr(g, edges, k);
	free(edges);
	/* owners: the first holds node 0, the others a few nodes each, none in a leaked block */
	g->nowners = nowners;
	g->owners = calloc(nowners, sizeof(*g->owners));
	g->owner_out_start = malloc(((size_t)nowners + 1) * 4);
	g->owner_out = malloc((size_t)nowners * 8 * 4);
	g->owner_out_flags = calloc((size_t)nowners * 8, 1);
	uint32_t oe = 0;
	for (uint32_t o = 0; o < nowners; o++) {
		g->owner_out_start[o] = oe;
		if (o == 0)
			g->owner_out[oe++] = 0;
		for (uint32_t j = 1 + rnd(8); j > 1; j--) {
			uint32_t t = rnd(n);
			if (random_shape || !leaked_block(t))
				g->owner_out[oe++] = t;
		}
	}
	g->owner_out_start[nowners] = oe;
	return g;
}

#ifdef BENCH_CORE
/* The graph of a real core, as `heapcore analyze` builds it. */
static struct hc_graph *core_graph(const char *path)
{
	struct hc_target *t = NULL;
	struct hc_symbols *s = NULL;
	struct hc_glibc_heap *h = NULL;
	struct hc_graph *g = NULL;
	struct hc_symbol_options so = { 0 };
	struct hc_graph_options go = { 0 };
	struct hc_error *err = hc_target_open_core(path, &t);
	if (!err)
		err = hc_symbols_open(t, &so, &s);
	if (!err)
		err = hc_glibc_walk(t, s, NULL, &h);
	if (!err)
		err = hc_graph_build(t, s, h, &go, &g);
	if (err) {
		fprintf(stderr, "%s: %s\n", path, err->message);
		exit(1);
	}
	return g; /* the rest stays alive with it until exit */
}
#endif

int main(int argc, char **argv)
{
	bool random_shape = argc > 1 && !strcmp(argv[1], "random");
	uint32_t n = argc > 2 ? (uint32_t)strtoul(argv[2], NULL, 0) : 15000000;
	uint64_t m = argc > 3 ? strtoull(argv[3], NULL, 0) : 20000000;
	uint32_t nowners = 10000;
	double t0 = now();
	struct hc_graph *g;
	if (argc > 1 && !strcmp(argv[1], "core")) {
#ifdef BENCH_CORE
		if (argc < 3) {
			fprintf(stderr, "usage: %s core CORE\n", argv[0]);
			return 2;
		}
		g = core_graph(argv[2]);
		n = g->nnodes;
		nowners = g->nowners;
		printf("graph of %s: %u nodes, %llu edges, %u owners (core to graph in %.2f s)\n", argv[2],
		       n, (unsigned long long)g->nedges, nowners, now() - t0);
#else
		fprintf(stderr, "built without -DBENCH_CORE: no core mode\n");
		return 2;
#endif
	} else {
		g = make_graph(n, m, random_shape, nowners);
		printf("graph: %s, %u nodes, %llu edges, %u owners (built in %.2f s)\n",
		       random_shape ? "random" : "heap-like", n, (unsigned long long)g->nedges, nowners,
		       now() - t0);
	}

	reset_peak();
	uint64_t rss0 = status_kb("VmRSS:");
	t0 = now();
	double c0 = cpu();
	struct hc_dominators *d = NULL;
	struct hc_error *err = hc_dominators_compute(g, &d);
	double t_dom = now() - t0, c_dom = cpu() - c0;
	if (err) {
		fprintf(stderr, "dominators: %s\n", err->message);
		return 1;
	}
	uint64_t hwm = status_kb("VmHWM:");
	uint32_t reached = 0;
	for (uint32_t i = 0; i < n; i++)
		reached += d->idom[i] != HC_DOM_NONE;
	uint64_t total = 0;
	for (uint32_t o = 0; o < nowners; o++)
		total += d->retained[n + o];
	printf("dominators: %.3f s (cpu %.3f s); peak_bytes %.1f MB (%.1f B/vertex); VmHWM +%.1f MB; "
	       "%u nodes anchored; owners retain %.1f MB directly; largest owner %.1f KB\n",
	       t_dom, c_dom, d->peak_bytes / 1e6, (double)d->peak_bytes / (n + nowners + 1), (hwm - rss0) / 1e6,
	       reached, total / 1e6, d->retained[n + d->owners_by_retained[0]] / 1e3);
	hc_dominators_destroy(d);

	reset_peak();
	rss0 = status_kb("VmRSS:");
	t0 = now();
	c0 = cpu();
	struct hc_chains *c = NULL;
	err = hc_chains_compute(g, &c);
	double t_ch = now() - t0, c_ch = cpu() - c0;
	if (err) {
		fprintf(stderr, "chains: %s\n", err->message);
		return 1;
	}
	hwm = status_kb("VmHWM:");
	uint32_t longest = 0, deepest = 0;
	t0 = now();
	for (uint32_t i = 0; i < n; i += 997) {
		uint32_t len = hc_chains_get(c, g, i, NULL, 0);
		if (len > longest) {
			longest = len;
			deepest = i;
		}
	}
	double t_get = now() - t0;
	printf("chains: %.3f s (cpu %.3f s); VmHWM +%.1f MB (%.1f B/node); longest sampled chain %u steps (node %u); "
	       "%u gets in %.3f s\n",
	       t_ch, c_ch, (hwm - rss0) / 1e6, (double)(hwm - rss0) / n, longest, deepest, n / 997 + 1, t_get);
	hc_chains_destroy(c);
	return 0;
}
