/*
 * bench_heap: a large, deterministic glibc heap for benchmarking heapcore
 * (scripts/bench-analyze.sh). Defaults: about 15 million allocations, about
 * 1.1 GiB of chunks, about 2 million of them leaked in clusters; built in a
 * few seconds.
 *
 *   bench_heap [--outdir DIR] [--scale F] [--seed N] [--abort]
 *
 * Anchored (reachable from roots):
 *   g_lists[32]    32 singly linked lists of 125k nodes
 *   g_trees[8]     8 complete binary trees of 2^19-1 nodes
 *   g_arrays[256]  256 arrays of 8192 pointers (64 KiB each), each slot -> a small object
 *   g_hash         a chained hash table: 1M buckets (an 8 MiB mmapped array),
 *                  1M entries, each with a value blob
 *   bench_hold()   a 300k-node list held by a local on the main thread's stack
 *   worker_hold()  a second thread, in its own arena: a 500k-node list held by
 *                  a local on its stack
 * Leaked: while the anchored structures are built, leaked clusters are made
 * now and then (about 1 per 460 anchored allocations): lists (20-200 nodes,
 * head unreferenced), rings (10-100 nodes, no unreferenced node), trees
 * (depth 3-7, root unreferenced) and single blocks (unreferenced).
 * Freed: about 1 in 64 anchored allocations is followed by a temporary block,
 * all freed at the very end (tcache, fastbins, unsorted bin), never next to a
 * leaked node, so no bin, top or remainder pointer lands inside a leaked node.
 *
 * Sizes are drawn from 12 small request sizes (16..136 bytes, chunks 0x20..0x90).
 * The xorshift generator has a fixed seed: the same structures every run.
 * Nothing keeps a copy of a leaked pointer: builders return nothing, the
 * stack below main and the registers are zeroed before the core is taken.
 *
 * Writes DIR/bench_heap.truth.json (with write(2), after mallinfo2) and prints
 * "READY <pid>", then pauses (or abort()s with --abort).
 */
#define _GNU_SOURCE
#include <alloca.h>
#include <errno.h>
#include <fcntl.h>
#include <gnu/libc-version.h>
#include <malloc.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* truth_scrub: the scenario programs' scrubbing of dead stack and registers (tests/cores/scenarios) */
#include "truth.h"

#define NOINLINE __attribute__((noinline, noclone))

static const size_t req_sizes[] = {16, 24, 32, 40, 48, 56, 64, 72, 88, 104, 120, 136};
#define NSIZES (sizeof req_sizes / sizeof req_sizes[0])

struct node {
	struct node *next;
	long v;
};
struct tnode {
	struct tnode *left, *right;
};
struct entry {
	struct entry *next;
	uint64_t key;
	void *value;
	long len;
};

#define NLISTS 32
#define NTREES 8
#define TREE_DEPTH 19
#define NARRAYS 256
#define ARRAY_SLOTS 8192
#define MAX_TEMPS (1 << 19)

struct node *g_lists[NLISTS];
struct tnode *g_trees[NTREES];
void **g_arrays[NARRAYS];
struct entry **g_hash;
size_t g_hash_buckets;
void *g_guards[8];
static void *temps[MAX_TEMPS];
static long ntemps;

static struct {
	double scale;
	uint64_t rng;
	long leak_every; /* one leaked cluster per ~leak_every anchored allocations */
	/* counts, as heapcore's leak report counts them (bytes = chunk bytes) */
	long anchored, anchored_mmapped;
	size_t anchored_bytes;
	long leaked, unreferenced, indirect, clusters, cyclic_clusters;
	size_t leaked_bytes, leaked_usable, unreferenced_bytes, indirect_bytes;
	long freed;
	size_t freed_bytes;
	long shapes[4];
} B;

static pthread_barrier_t built;
static char outdir[1024] = ".";
static int abort_mode;
static double build_seconds;
static struct timespec t_start;
static pid_t worker_tid;

static void die(const char *msg)
{
	(void)!write(2, "bench_heap: ", 12);
	(void)!write(2, msg, strlen(msg));
	(void)!write(2, "\n", 1);
	_exit(3);
}

static uint64_t rnd(void)
{
	B.rng ^= B.rng << 13;
	B.rng ^= B.rng >> 7;
	B.rng ^= B.rng << 17;
	return B.rng;
}

/* The chunk's size field (flags: 2 IS_MMAPPED). */
static size_t size_field(const void *p)
{
	return *(const size_t *)((uintptr_t)p - sizeof(size_t));
}

static size_t chunk_size(const void *p)
{
	return size_field(p) & ~(size_t)7;
}

static void *xmalloc(size_t n)
{
	void *p = malloc(n);
	if (!p)
		die("out of memory");
	return p;
}

/* ---- leaked clusters ------------------------------------------------- */

static void *leak_alloc(size_t n, int unreferenced)
{
	void *p = xmalloc(n);
	memset(p, 0, n);
	size_t cs = chunk_size(p);
	B.leaked++;
	B.leaked_bytes += cs;
	B.leaked_usable += malloc_usable_size(p);
	if (unreferenced) {
		B.unreferenced++;
		B.unreferenced_bytes += cs;
	} else {
		B.indirect++;
		B.indirect_bytes += cs;
	}
	return p;
}

static struct tnode *leak_tree(int depth, int root)
{
	struct tnode *t = leak_alloc(req_sizes[2 + rnd() % (NSIZES - 2)], root);
	if (depth > 1) {
		t->left = leak_tree(depth - 1, 0);
		t->right = leak_tree(depth - 1, 0);
	}
	return t;
}

/* Builds one leaked cluster and drops it. */
static NOINLINE void leak_cluster(void)
{
	uint64_t r = rnd();
	int shape = (int)(r % 16);
	B.clusters++;
	if (shape < 7) { /* list */
		int n = 20 + (int)((r >> 8) % 181);
		struct node *prev = leak_alloc(req_sizes[(r >> 20) % NSIZES], 1);
		for (int i = 1; i < n; i++) {
			struct node *x = leak_alloc(req_sizes[rnd() % NSIZES], 0);
			prev->next = x;
			prev = x;
		}
		B.shapes[0]++;
	} else if (shape < 11) { /* ring */
		int n = 10 + (int)((r >> 8) % 91);
		struct node *first = leak_alloc(req_sizes[(r >> 20) % NSIZES], 0), *prev = first;
		for (int i = 1; i < n; i++) {
			struct node *x = leak_alloc(req_sizes[rnd() % NSIZES], 0);
			prev->next = x;
			prev = x;
		}
		prev->next = first;
		B.cyclic_clusters++;
		B.shapes[1]++;
	} else if (shape < 14) { /* tree */
		(void)leak_tree(3 + (int)((r >> 8) % 5), 1);
		B.shapes[2]++;
	} else { /* single block */
		(void)leak_alloc(req_sizes[(r >> 20) % NSIZES], 1);
		B.shapes[3]++;
	}
}

/* ---- anchored allocations ---------------------------------------------- */

/* An anchored allocation; the caller stores it in an anchored place. Now and
 * then a temporary block (freed at the end) follows it, and then, now and
 * then, a leaked cluster (never between the two). */
static void *anchored_alloc(size_t n)
{
	void *p = xmalloc(n);
	memset(p, 0, n);
	size_t cs = chunk_size(p);
	B.anchored++;
	B.anchored_bytes += cs;
	if (size_field(p) & 2)
		B.anchored_mmapped++;
	uint64_t r = rnd();
	if ((r & 63) == 0 && ntemps < MAX_TEMPS) {
		size_t tn = (r >> 8) % 4 == 0 ? 1024 + (r >> 16) % 1024 : req_sizes[(r >> 16) % NSIZES];
		void *t = xmalloc(tn);
		memset(t, 0, tn);
		temps[ntemps++] = t;
	}
	if ((long)((r >> 32) % (uint64_t)B.leak_every) == 0)
		leak_cluster();
	return p;
}

static size_t rsize(void)
{
	return req_sizes[rnd() % NSIZES];
}

static struct node *list(long n)
{
	struct node *head = NULL, *prev = NULL;
	for (long i = 0; i < n; i++) {
		struct node *x = anchored_alloc(rsize());
		x->v = i;
		if (prev)
			prev->next = x;
		else
			head = x;
		prev = x;
	}
	return head;
}

static struct tnode *tree(int depth)
{
	struct tnode *t = anchored_alloc(req_sizes[2 + rnd() % (NSIZES - 2)]);
	if (depth > 1) {
		t->left = tree(depth - 1);
		t->right = tree(depth - 1);
	}
	return t;
}

static long scaled(long n)
{
	long s = (long)(n * B.scale);
	return s < 1 ? 1 : s;
}

static NOINLINE void build_globals(void)
{
	for (int i = 0; i < NLISTS; i++)
		g_lists[i] = list(scaled(125000));
	int depth = TREE_DEPTH;
	while (depth > 2 && ((1L << depth) - 1) > scaled((1L << TREE_DEPTH) - 1))
		depth--;
	for (int i = 0; i < NTREES; i++)
		g_trees[i] = tree(depth);
	long slots = scaled(ARRAY_SLOTS);
	for (int i = 0; i < NARRAYS; i++) {
		g_arrays[i] = anchored_alloc((size_t)slots * sizeof(void *));
		for (long j = 0; j < slots; j++)
			g_arrays[i][j] = anchored_alloc(rsize());
	}
	g_hash_buckets = (size_t)scaled(1 << 20);
	g_hash = anchored_alloc(g_hash_buckets * sizeof *g_hash);
	for (size_t i = 0; i < g_hash_buckets; i++) {
		uint64_t key = rnd();
		struct entry *e = anchored_alloc(sizeof *e);
		e->key = key;
		e->len = (long)rsize();
		e->value = anchored_alloc((size_t)e->len);
		size_t b = key % g_hash_buckets;
		e->next = g_hash[b];
		g_hash[b] = e;
	}
	g_guards[0] = anchored_alloc(24);
}

/* ---- the second thread ---------------------------------------------- */

static NOINLINE void worker_hold(void)
{
	struct node *volatile head = list(scaled(500000));
	g_guards[1] = anchored_alloc(24);
	truth_scrub(256 * 1024);
	pthread_barrier_wait(&built);
	for (;;)
		pause();
	__asm__ volatile("" : : "r"(&head) : "memory");
}

static void *worker(void *arg)
{
	(void)arg;
	worker_tid = gettid();
	worker_hold();
	return NULL;
}

/* ---- truth ------------------------------------------------------------ */

static char json[16384];
static size_t jlen;

static void jcat(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void jcat(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(json + jlen, sizeof json - jlen, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof json - jlen)
		die("truth JSON too large");
	jlen += (size_t)n;
}


static NOINLINE void write_truth(uint64_t seed)
{
	struct mallinfo2 m = mallinfo2();
	jcat("{\n  \"scenario\": \"bench_heap\",\n  \"pid\": %d,\n  \"glibc_version\": \"%s\",\n", (int)getpid(),
	     gnu_get_libc_version());
	jcat("  \"seed\": %llu,\n  \"scale\": %g,\n  \"build_seconds\": %.3f,\n", (unsigned long long)seed, B.scale,
	     build_seconds);
	jcat("  \"threads\": [{\"tid\": %d, \"name\": \"main\", \"holds\": \"bench_hold\"}, "
	     "{\"tid\": %d, \"name\": \"worker\", \"holds\": \"worker_hold\"}],\n",
	     (int)getpid(), (int)worker_tid);
	jcat("  \"mallinfo2\": {\"arena\": %zu, \"ordblks\": %zu, \"smblks\": %zu, \"hblks\": %zu, \"hblkhd\": %zu, "
	     "\"usmblks\": %zu, \"fsmblks\": %zu, \"uordblks\": %zu, \"fordblks\": %zu, \"keepcost\": %zu},\n",
	     m.arena, m.ordblks, m.smblks, m.hblks, m.hblkhd, m.usmblks, m.fsmblks, m.uordblks, m.fordblks,
	     m.keepcost);
	jcat("  \"allocations\": %ld,\n", B.anchored + B.leaked);
	jcat("  \"anchored\": {\"count\": %ld, \"bytes\": %zu, \"mmapped\": %ld},\n", B.anchored, B.anchored_bytes,
	     B.anchored_mmapped);
	jcat("  \"leaked\": {\"count\": %ld, \"bytes\": %zu, \"usable_bytes\": %zu, \"clusters\": %ld, "
	     "\"cyclic_clusters\": %ld,\n             \"shapes\": {\"list\": %ld, \"ring\": %ld, \"tree\": %ld, "
	     "\"single\": %ld}},\n",
	     B.leaked, B.leaked_bytes, B.leaked_usable, B.clusters, B.cyclic_clusters, B.shapes[0], B.shapes[1],
	     B.shapes[2], B.shapes[3]);
	jcat("  \"unreferenced\": {\"count\": %ld, \"bytes\": %zu},\n", B.unreferenced, B.unreferenced_bytes);
	jcat("  \"indirect\": {\"count\": %ld, \"bytes\": %zu},\n", B.indirect, B.indirect_bytes);
	jcat("  \"freed\": {\"count\": %ld, \"bytes\": %zu},\n", B.freed, B.freed_bytes);
	jcat("  \"note\": \"anchored/leaked count only the allocations bench_heap made; libc's own (stdio, "
	     "thread setup, tcache structs) are not in them and are anchored\"\n}\n");
	char path[1200];
	snprintf(path, sizeof path, "%s/bench_heap.truth.json", outdir);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		die("cannot write the truth JSON");
	if (write(fd, json, jlen) != (ssize_t)jlen)
		die("short write of the truth JSON");
	close(fd);
	struct mallinfo2 m2 = mallinfo2();
	if (m2.uordblks != m.uordblks || m2.hblks != m.hblks)
		die("the heap changed while the truth was written");
}

static NOINLINE void bench_hold(uint64_t seed)
{
	struct node *volatile head = list(scaled(300000));
	g_guards[2] = anchored_alloc(24);

	/* the second thread: its own arena, its own stack anchor */
	pthread_t th;
	pthread_attr_t attr;
	if (pthread_attr_init(&attr) != 0 || pthread_attr_setguardsize(&attr, 0) != 0 ||
	    pthread_barrier_init(&built, NULL, 2) != 0 || pthread_create(&th, &attr, worker, NULL) != 0)
		die("pthread failed");
	pthread_barrier_wait(&built);
	struct timespec t1;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	build_seconds = (double)(t1.tv_sec - t_start.tv_sec) + (t1.tv_nsec - t_start.tv_nsec) / 1e9;

	/* temporaries: each follows an anchored allocation; freed last */
	for (long i = 0; i < ntemps; i++) {
		B.freed++;
		B.freed_bytes += chunk_size(temps[i]);
		free(temps[i]);
	}
	explicit_bzero(temps, sizeof temps);
	truth_scrub(256 * 1024);
	write_truth(seed);
	char ready[64];
	int n = snprintf(ready, sizeof ready, "READY %d\n", (int)getpid());
	(void)!write(1, ready, (size_t)n);
	if (abort_mode)
		abort();
	for (;;)
		pause();
	__asm__ volatile("" : : "r"(&head) : "memory");
}

int main(int argc, char **argv)
{
	uint64_t seed = 0x9e3779b97f4a7c15ULL;
	B.scale = 1.0;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--outdir") && i + 1 < argc)
			snprintf(outdir, sizeof outdir, "%s", argv[++i]);
		else if (!strcmp(argv[i], "--scale") && i + 1 < argc)
			B.scale = strtod(argv[++i], NULL);
		else if (!strcmp(argv[i], "--seed") && i + 1 < argc)
			seed = strtoull(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "--abort"))
			abort_mode = 1;
		else
			die("usage: bench_heap [--outdir DIR] [--scale F] [--seed N] [--abort]");
	}
	if (!(B.scale > 0 && B.scale <= 4))
		die("--scale must be in (0, 4]");
	if (chdir(outdir) != 0)
		die("cannot chdir to --outdir");
	snprintf(outdir, sizeof outdir, ".");
	B.rng = seed ? seed : 1;
	B.leak_every = 460;

	clock_gettime(CLOCK_MONOTONIC, &t_start);
	build_globals();
	truth_scrub(256 * 1024);
	bench_hold(seed);
	return 0;
}
