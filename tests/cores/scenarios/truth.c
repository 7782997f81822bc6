/*
 * Ground truth recorder for the test-core scenarios; see truth.h.
 * Builds against glibc 2.36 headers and runs unchanged on 2.41 and 2.43.
 */
#define _GNU_SOURCE
#include "truth.h"

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
#include <unistd.h>

#define MAX_ADDRS 1024
#define MAX_THREADS 64
#define MAX_OBS 64
#define HEAP_MAX_SIZE_64 (64UL * 1024 * 1024) /* 2 * DEFAULT_MMAP_THRESHOLD_MAX on LP64 */
#define MAX_GROUPS 32
#define GROUP_NODES_MAX 4096 /* nodes listed per group; counts and sums are always complete */
#define GROUP_NODE_TEXT 24   /* "\"0x7fffffffffff\", " */
#define MAX_REFERRERS 8

struct taddr {
	char label[64];
	uintptr_t addr;  /* the chunk (addr - 16) is not stored: it points inside the
			  * allocation before it, which may be a leak_* group's node */
	size_t size_field, prev_size;
	const char *expect;
	pid_t tid;
	uintptr_t heap, heap_ar_ptr; /* non-main-arena chunks only */
};

static struct {
	const char *scenario;
	const char *exe;
	char outdir[1024];
	int abort_mode;
	FILE *mi;
	int json_fd;
	pid_t threads[MAX_THREADS];
	char thread_names[MAX_THREADS][32];
	int nthreads;
	struct taddr addrs[MAX_ADDRS];
	int naddrs;
	char obs_key[MAX_OBS][64];
	long obs_val[MAX_OBS];
	int nobs;
	int ngroups;
} T;

/*
 * A group of allocations with a known classification. Node addresses are kept
 * only as text: a binary copy in this (writable, scanned) memory would be a
 * reference to the node and change the very classification recorded.
 */
struct tgroup {
	char name[64], expect[16], type[96];
	pid_t tid;
	int clusters, cyclic;
	long count, unreferenced, indirect, anchored;
	size_t chunk_bytes, usable_bytes, bytes;
	char head[24];      /* hex text */
	char arena[24];     /* "main", "mmapped", "mixed" or the hex text of heap_info.ar_ptr */
	size_t nodes_len;
	long nodes_listed;
	char anchor[256];   /* JSON text of "anchor", "anchor_kind", ... */
	char referrers[MAX_REFERRERS][48];
	int nreferrers;
};
static struct tgroup G[MAX_GROUPS];
static char group_nodes[MAX_GROUPS][GROUP_NODES_MAX * GROUP_NODE_TEXT];

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static char mi_buf[1 << 20];
static char json[1 << 20];
static size_t jlen;

static void die(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
static void die(const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int n = snprintf(buf, sizeof buf, "%s: truth: ", T.scenario ? T.scenario : "scenario");
	va_start(ap, fmt);
	n += vsnprintf(buf + n, sizeof buf - n, fmt, ap);
	va_end(ap);
	if (n > (int)sizeof buf - 2)
		n = sizeof buf - 2;
	buf[n++] = '\n';
	(void)!write(2, buf, n);
	_exit(3);
}

static void write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			die("write failed: %s", strerror(errno));
		}
		p += w;
		n -= (size_t)w;
	}
}

void truth_init(const char *scenario, int argc, char **argv)
{
	T.scenario = scenario;
	T.exe = argc > 0 ? argv[0] : "";
	snprintf(T.outdir, sizeof T.outdir, ".");
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--outdir") == 0 && i + 1 < argc)
			snprintf(T.outdir, sizeof T.outdir, "%s", argv[++i]);
		else if (strcmp(argv[i], "--abort") == 0)
			T.abort_mode = 1;
		else
			die("usage: %s [--outdir DIR] [--abort]", T.exe);
	}
	char path[1200];
	snprintf(path, sizeof path, "%s/%s.truth.json", T.outdir, scenario);
	T.json_fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (T.json_fd < 0)
		die("open %s: %s", path, strerror(errno));
	snprintf(path, sizeof path, "%s/%s.malloc_info.xml", T.outdir, scenario);
	/* fopen allocates the FILE now, before the heap is built; the static
	 * buffer keeps malloc_info's output from allocating one later. */
	T.mi = fopen(path, "w");
	if (!T.mi)
		die("fopen %s: %s", path, strerror(errno));
	if (setvbuf(T.mi, mi_buf, _IOFBF, sizeof mi_buf) != 0)
		die("setvbuf failed");
	/* a kernel core (core_pattern "core") lands in the cwd: make it OUTDIR */
	if (chdir(T.outdir) != 0)
		die("chdir %s: %s", T.outdir, strerror(errno));
}

void truth_thread(pid_t tid, const char *name)
{
	pthread_mutex_lock(&lock);
	if (T.nthreads >= MAX_THREADS)
		die("too many threads");
	T.threads[T.nthreads] = tid;
	snprintf(T.thread_names[T.nthreads], sizeof T.thread_names[0], "%s", name);
	T.nthreads++;
	pthread_mutex_unlock(&lock);
}

void *tmalloc(size_t n)
{
	void *p = malloc(n);
	if (!p)
		die("malloc(%zu) failed", n);
	memset(p, 0x5a, n < 32 ? n : 32);
	return p;
}

void tfree(void *p)
{
	free(p);
}

static size_t size_field(const void *p)
{
	return ((const size_t *)p)[-1];
}

/* Caller holds lock. "name", then "name_2", "name_3"... */
static void unique_label(char *out, size_t outsz, const char *base)
{
	int seen = 0;
	for (int i = 0; i < T.naddrs; i++) {
		const char *l = T.addrs[i].label;
		size_t n = strlen(base);
		if (strncmp(l, base, n) == 0 &&
		    (l[n] == 0 || (l[n] == '_' && l[n + 1] && strspn(l + n + 1, "0123456789") == strlen(l + n + 1))))
			seen++;
	}
	if (seen == 0)
		snprintf(out, outsz, "%s", base);
	else
		snprintf(out, outsz, "%s_%d", base, seen + 1);
}

/* Caller holds lock. */
static struct taddr *add_addr(const char *label, void *p, const char *expect, pid_t tid)
{
	if (T.naddrs >= MAX_ADDRS)
		die("too many labelled addresses");
	struct taddr *a = &T.addrs[T.naddrs];
	unique_label(a->label, sizeof a->label, label);
	T.naddrs++;
	a->addr = (uintptr_t)p;
	a->size_field = size_field(p);
	a->prev_size = ((const size_t *)p)[-2];
	a->expect = expect;
	a->tid = tid;
	if ((a->size_field & 4) && !(a->size_field & 2)) { /* NON_MAIN_ARENA, not mmapped */
		a->heap = (a->addr - 2 * sizeof(size_t)) & ~(HEAP_MAX_SIZE_64 - 1);
		a->heap_ar_ptr = *(const uintptr_t *)a->heap; /* heap_info.ar_ptr */
	}
	return a;
}

void truth_live(const char *label, void *p, pid_t tid)
{
	pthread_mutex_lock(&lock);
	int mmapped = (size_field(p) & 2) != 0;
	add_addr(label, p, mmapped ? "mmapped" : "used", tid);
	pthread_mutex_unlock(&lock);
}

const char *truth_free(const char *label_tcache, const char *label_other, void *p, pid_t tid)
{
	const char *label = label_tcache;
	pthread_mutex_lock(&lock);
	size_t sf = size_field(p), csize = sf & ~(size_t)7;
	if (sf & 2)
		die("%s: truth_free of an mmapped chunk", label);
	struct mallinfo2 a = mallinfo2();
	/* record the header before free() overwrites the user data */
	struct taddr *t = add_addr(label, p, "?", tid);
	tfree(p);
	struct mallinfo2 b = mallinfo2();
	const char *st;
	long dord = (long)(b.ordblks - a.ordblks), dsm = (long)(b.smblks - a.smblks);
	long dfree = (long)(b.fordblks - a.fordblks), dfast = (long)(b.fsmblks - a.fsmblks);
	if (a.arena != b.arena || a.hblks != b.hblks)
		die("%s: free changed arena/hblks", label);
	if (dord == 0 && dsm == 0 && dfree == 0)
		st = "tcache";
	else if (dsm == 1 && dfast == (long)csize && dord == 0 && dfree == (long)csize)
		st = "fastbin";
	else if (dord == 1 && dsm == 0 && dfree == (long)csize)
		st = "free";
	else
		die("%s: free of chunk %#lx size %#zx: unexpected mallinfo2 deltas ordblks %+ld smblks %+ld "
		    "fordblks %+ld fsmblks %+ld (merged with a neighbour?)",
		    label, (unsigned long)(t->addr - 2 * sizeof(size_t)), csize, dord, dsm, dfree, dfast);
	t->expect = st;
	if (strcmp(st, "tcache") != 0 && strcmp(label_other, label_tcache) != 0) {
		T.naddrs--; /* rename: the entry is the last one */
		unique_label(t->label, sizeof t->label, label_other);
		T.naddrs++;
	}
	pthread_mutex_unlock(&lock);
	return st;
}

void truth_observe(const char *key, long value)
{
	pthread_mutex_lock(&lock);
	if (T.nobs >= MAX_OBS)
		die("too many observations");
	snprintf(T.obs_key[T.nobs], sizeof T.obs_key[0], "%s", key);
	T.obs_val[T.nobs++] = value;
	pthread_mutex_unlock(&lock);
}

int truth_group(const char *name, const char *expect, const char *type, int clusters, int cyclic)
{
	if (strcmp(expect, "leaked") != 0 && strcmp(expect, "anchored") != 0)
		die("group %s: expect must be leaked or anchored", name);
	pthread_mutex_lock(&lock);
	if (T.ngroups >= MAX_GROUPS)
		die("too many groups");
	for (int i = 0; i < T.ngroups; i++)
		if (strcmp(G[i].name, name) == 0)
			die("group %s defined twice", name);
	int g = T.ngroups++;
	struct tgroup *t = &G[g];
	snprintf(t->name, sizeof t->name, "%s", name);
	snprintf(t->expect, sizeof t->expect, "%s", expect);
	snprintf(t->type, sizeof t->type, "%s", type ? type : "");
	t->tid = gettid();
	t->clusters = clusters;
	t->cyclic = cyclic;
	pthread_mutex_unlock(&lock);
	return g;
}

static struct tgroup *group_of(int g)
{
	if (g < 0 || g >= T.ngroups)
		die("no group %d", g);
	return &G[g];
}

void truth_group_node(int g, const void *p, enum truth_role role)
{
	pthread_mutex_lock(&lock);
	struct tgroup *t = group_of(g);
	int leaked = strcmp(t->expect, "leaked") == 0;
	if (leaked ? role == TRUTH_ANCHORED : role != TRUTH_ANCHORED)
		die("group %s: node role %d does not fit expect %s", t->name, (int)role, t->expect);
	size_t sf = size_field(p);
	char arena[24];
	if (sf & 2)
		snprintf(arena, sizeof arena, "mmapped");
	else if (sf & 4)
		snprintf(arena, sizeof arena, "%#lx",
			 (unsigned long)*(const uintptr_t *)(((uintptr_t)p - 16) & ~(HEAP_MAX_SIZE_64 - 1)));
	else
		snprintf(arena, sizeof arena, "main");
	if (t->count == 0)
		snprintf(t->arena, sizeof t->arena, "%s", arena);
	else if (strcmp(t->arena, arena) != 0)
		snprintf(t->arena, sizeof t->arena, "mixed");
	if (t->count == 0 || (role == TRUTH_UNREFERENCED && t->unreferenced == 0))
		snprintf(t->head, sizeof t->head, "%#lx", (unsigned long)(uintptr_t)p);
	t->count++;
	t->unreferenced += role == TRUTH_UNREFERENCED;
	t->indirect += role == TRUTH_INDIRECT;
	t->anchored += role == TRUTH_ANCHORED;
	t->chunk_bytes += sf & ~(size_t)7;
	if (sf & 2) {
		/* an mmapped chunk counts its whole mapping, as mallinfo2's hblkhd:
		 * prev_size (padding) + chunksize, + 16 on glibc 2.43+, whose
		 * chunksize leaves out the mapping's last 16 bytes */
		size_t page = (size_t)sysconf(_SC_PAGESIZE);
		size_t map = ((const size_t *)p)[-2] + (sf & ~(size_t)7);
		if ((map & (page - 1)) == page - 16)
			map += 16;
		t->bytes += map;
	} else {
		t->bytes += sf & ~(size_t)7;
	}
	t->usable_bytes += malloc_usable_size((void *)p);
	if (t->nodes_listed < GROUP_NODES_MAX) {
		char *o = group_nodes[g] + t->nodes_len;
		int n = snprintf(o, GROUP_NODE_TEXT, "%s\"%#lx\"", t->nodes_listed ? ", " : "",
				 (unsigned long)(uintptr_t)p);
		t->nodes_len += (size_t)n;
		t->nodes_listed++;
	}
	pthread_mutex_unlock(&lock);
}

static void add_referrer(struct tgroup *t, const void *start, size_t len)
{
	if (t->nreferrers >= MAX_REFERRERS)
		die("group %s: too many referrers", t->name);
	snprintf(t->referrers[t->nreferrers++], sizeof t->referrers[0], "[\"%#lx\", \"%#lx\"]",
		 (unsigned long)(uintptr_t)start, (unsigned long)((uintptr_t)start + len));
}

void truth_group_anchor_global(int g, const char *symbol, const void *slot, size_t len, int interior)
{
	pthread_mutex_lock(&lock);
	struct tgroup *t = group_of(g);
	snprintf(t->anchor, sizeof t->anchor,
		 "\"anchor\": \"%s\", \"anchor_kind\": \"global\", \"anchor_slot\": \"%#lx\", "
		 "\"anchor_interior\": %s",
		 symbol, (unsigned long)(uintptr_t)slot, interior ? "true" : "false");
	add_referrer(t, slot, len);
	pthread_mutex_unlock(&lock);
}

void truth_group_anchor_stack(int g, pid_t tid, const char *function, const void *slot, int interior)
{
	pthread_mutex_lock(&lock);
	struct tgroup *t = group_of(g);
	snprintf(t->anchor, sizeof t->anchor,
		 "\"anchor\": {\"thread\": %d, \"function\": \"%s\"}, \"anchor_kind\": \"stack\", "
		 "\"anchor_slot\": \"%#lx\", \"anchor_interior\": %s",
		 (int)tid, function, (unsigned long)(uintptr_t)slot, interior ? "true" : "false");
	add_referrer(t, slot, sizeof(void *));
	pthread_mutex_unlock(&lock);
}

void truth_group_referrer(int g, const void *start, size_t len)
{
	pthread_mutex_lock(&lock);
	add_referrer(group_of(g), start, len);
	pthread_mutex_unlock(&lock);
}

/* Zeroes the stack below the caller and the registers a call may clobber. */
__attribute__((noinline)) void truth_scrub(size_t bytes)
{
	char *buf = alloca(bytes);
	explicit_bzero(buf, bytes);
	__asm__ volatile("" : : "r"(buf) : "memory");
	__asm__ volatile("xor %%eax, %%eax\n\txor %%ecx, %%ecx\n\txor %%edx, %%edx\n\t"
			 "xor %%esi, %%esi\n\txor %%edi, %%edi\n\txor %%r8d, %%r8d\n\t"
			 "xor %%r9d, %%r9d\n\txor %%r10d, %%r10d\n\txor %%r11d, %%r11d"
			 : : : "rax", "rcx", "rdx", "rsi", "rdi", "r8", "r9", "r10", "r11", "memory");
	if (__builtin_cpu_supports("avx")) {
		__asm__ volatile("vzeroall" : : : "memory");
	} else {
		__asm__ volatile("pxor %%xmm0, %%xmm0\n\tpxor %%xmm1, %%xmm1\n\tpxor %%xmm2, %%xmm2\n\t"
				 "pxor %%xmm3, %%xmm3\n\tpxor %%xmm4, %%xmm4\n\tpxor %%xmm5, %%xmm5\n\t"
				 "pxor %%xmm6, %%xmm6\n\tpxor %%xmm7, %%xmm7\n\tpxor %%xmm8, %%xmm8\n\t"
				 "pxor %%xmm9, %%xmm9\n\tpxor %%xmm10, %%xmm10\n\tpxor %%xmm11, %%xmm11\n\t"
				 "pxor %%xmm12, %%xmm12\n\tpxor %%xmm13, %%xmm13\n\tpxor %%xmm14, %%xmm14\n\t"
				 "pxor %%xmm15, %%xmm15"
				 : : : "memory");
	}
	if (__builtin_cpu_supports("avx512f")) {
		/* glibc's EVEX string functions use ymm16-31, which vzeroall keeps */
		__asm__ volatile("vpxord %%zmm16, %%zmm16, %%zmm16\n\tvpxord %%zmm17, %%zmm17, %%zmm17\n\t"
				 "vpxord %%zmm18, %%zmm18, %%zmm18\n\tvpxord %%zmm19, %%zmm19, %%zmm19\n\t"
				 "vpxord %%zmm20, %%zmm20, %%zmm20\n\tvpxord %%zmm21, %%zmm21, %%zmm21\n\t"
				 "vpxord %%zmm22, %%zmm22, %%zmm22\n\tvpxord %%zmm23, %%zmm23, %%zmm23\n\t"
				 "vpxord %%zmm24, %%zmm24, %%zmm24\n\tvpxord %%zmm25, %%zmm25, %%zmm25\n\t"
				 "vpxord %%zmm26, %%zmm26, %%zmm26\n\tvpxord %%zmm27, %%zmm27, %%zmm27\n\t"
				 "vpxord %%zmm28, %%zmm28, %%zmm28\n\tvpxord %%zmm29, %%zmm29, %%zmm29\n\t"
				 "vpxord %%zmm30, %%zmm30, %%zmm30\n\tvpxord %%zmm31, %%zmm31, %%zmm31"
				 : : : "memory");
	}
}

static void jcat(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void jcat(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(json + jlen, sizeof json - jlen, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof json - jlen)
		die("truth JSON larger than its buffer");
	jlen += (size_t)n;
}

static void jstr(const char *s)
{
	jcat("\"");
	for (; s && *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			jcat("\\%c", c);
		else if (c < 0x20)
			jcat("\\u%04x", c);
		else
			jcat("%c", c);
	}
	jcat("\"");
}

void truth_finish(void)
{
	pthread_mutex_lock(&lock);
	/* Neither call allocates: mallinfo2 walks the bins under the arena
	 * locks; malloc_info prints into T.mi, whose buffer is static. */
	struct mallinfo2 m = mallinfo2();
	if (malloc_info(0, T.mi) != 0)
		die("malloc_info failed");
	if (fflush(T.mi) != 0)
		die("fflush(malloc_info) failed: %s", strerror(errno));

	jcat("{\n  \"scenario\": ");
	jstr(T.scenario);
	jcat(",\n  \"pid\": %d,\n  \"exe\": ", (int)getpid());
	jstr(T.exe);
	jcat(",\n  \"glibc_version\": ");
	jstr(gnu_get_libc_version());
	jcat(",\n  \"tunables\": ");
	jstr(getenv("GLIBC_TUNABLES") ? getenv("GLIBC_TUNABLES") : "");
	jcat(",\n  \"page_size\": %ld,\n  \"brk\": \"%#lx\",\n  \"threads\": [", sysconf(_SC_PAGESIZE),
	     (unsigned long)(uintptr_t)sbrk(0));
	for (int i = 0; i < T.nthreads; i++) {
		jcat("%s\n    {\"tid\": %d, \"name\": ", i ? "," : "", (int)T.threads[i]);
		jstr(T.thread_names[i]);
		jcat("}");
	}
	jcat("\n  ],\n  \"mallinfo2\": {\"arena\": %zu, \"ordblks\": %zu, \"smblks\": %zu, \"hblks\": %zu, "
	     "\"hblkhd\": %zu, \"usmblks\": %zu, \"fsmblks\": %zu, \"uordblks\": %zu, \"fordblks\": %zu, "
	     "\"keepcost\": %zu},\n",
	     m.arena, m.ordblks, m.smblks, m.hblks, m.hblkhd, m.usmblks, m.fsmblks, m.uordblks, m.fordblks,
	     m.keepcost);
	jcat("  \"observed\": {");
	for (int i = 0; i < T.nobs; i++) {
		jcat("%s", i ? ", " : "");
		jstr(T.obs_key[i]);
		jcat(": %ld", T.obs_val[i]);
	}
	jcat("},\n  \"addresses\": [");
	for (int i = 0; i < T.naddrs; i++) {
		const struct taddr *a = &T.addrs[i];
		jcat("%s\n    {\"label\": ", i ? "," : "");
		jstr(a->label);
		jcat(", \"address\": \"%#lx\", \"chunk\": \"%#lx\", \"chunk_size\": %zu, \"flags\": %zu, ",
		     (unsigned long)a->addr, (unsigned long)(a->addr - 2 * sizeof(size_t)), a->size_field & ~(size_t)7,
		     a->size_field & 7);
		if (a->size_field & 2)
			jcat("\"prev_size\": %zu, ", a->prev_size);
		if (a->heap)
			jcat("\"heap\": \"%#lx\", \"arena\": \"%#lx\", ", (unsigned long)a->heap,
			     (unsigned long)a->heap_ar_ptr);
		jcat("\"expect\": ");
		jstr(a->expect);
		jcat(", \"tid\": %d}", (int)a->tid);
	}
	jcat("\n  ]");
	if (T.ngroups > 0) {
		jcat(",\n  \"groups\": [");
		for (int i = 0; i < T.ngroups; i++) {
			const struct tgroup *t = &G[i];
			int leaked = strcmp(t->expect, "leaked") == 0;
			if (t->count == 0)
				die("group %s is empty", t->name);
			if (!leaked && !t->anchor[0])
				die("anchored group %s has no anchor", t->name);
			jcat("%s\n    {\"name\": ", i ? "," : "");
			jstr(t->name);
			jcat(", \"expect\": ");
			jstr(t->expect);
			jcat(", \"type\": ");
			if (t->type[0])
				jstr(t->type);
			else
				jcat("null");
			jcat(", \"tid\": %d, \"arena\": ", (int)t->tid);
			jstr(t->arena);
			jcat(",\n     \"count\": %ld, \"unreferenced\": %ld, \"indirect\": %ld, "
			     "\"chunk_bytes\": %zu, \"usable_bytes\": %zu, \"bytes\": %zu,\n     "
			     "\"cluster\": %s, \"clusters\": %d, \"cyclic\": %s,\n     ",
			     t->count, t->unreferenced, t->indirect, t->chunk_bytes, t->usable_bytes, t->bytes,
			     leaked && t->clusters == 1 ? "true" : "false", leaked ? t->clusters : 0,
			     leaked && t->cyclic ? "true" : "false");
			if (t->anchor[0])
				jcat("%s", t->anchor);
			else
				jcat("\"anchor\": null, \"anchor_kind\": null");
			jcat(",\n     \"referrers\": [");
			for (int r = 0; r < t->nreferrers; r++)
				jcat("%s%s", r ? ", " : "", t->referrers[r]);
			jcat("],\n     \"head\": \"%s\", \"nodes_complete\": %s,\n     \"nodes\": [%.*s]}",
			     t->head, t->nodes_listed == t->count ? "true" : "false", (int)t->nodes_len,
			     group_nodes[i]);
		}
		jcat("\n  ]");
	}
	jcat("\n}\n");
	/* self-check: recording must not have touched the heap */
	struct mallinfo2 m2 = mallinfo2();
	if (memcmp(&m, &m2, sizeof m) != 0)
		die("the heap changed while the truth was recorded (uordblks %zu -> %zu)", m.uordblks,
		    m2.uordblks);
	write_all(T.json_fd, json, jlen);
	if (fsync(T.json_fd) != 0 && errno != EINVAL)
		die("fsync truth JSON: %s", strerror(errno));
	close(T.json_fd);

	char ready[64];
	int n = snprintf(ready, sizeof ready, "READY %d\n", (int)getpid());
	write_all(1, ready, (size_t)n);
	if (T.abort_mode)
		abort();
	for (;;)
		pause();
}
