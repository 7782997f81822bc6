/*
 * Ground truth recorder for the test-core scenarios; see truth.h.
 * Builds against glibc 2.36 headers and runs unchanged on 2.41 and 2.43.
 */
#define _GNU_SOURCE
#include "truth.h"

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

struct taddr {
	char label[64];
	uintptr_t addr, chunk;
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
} T;

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
	a->chunk = a->addr - 2 * sizeof(size_t);
	a->size_field = size_field(p);
	a->prev_size = ((const size_t *)p)[-2];
	a->expect = expect;
	a->tid = tid;
	if ((a->size_field & 4) && !(a->size_field & 2)) { /* NON_MAIN_ARENA, not mmapped */
		a->heap = a->chunk & ~(HEAP_MAX_SIZE_64 - 1);
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
		    label, (unsigned long)t->chunk, csize, dord, dsm, dfree, dfast);
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
		     (unsigned long)a->addr, (unsigned long)a->chunk, a->size_field & ~(size_t)7,
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
	jcat("\n  ]\n}\n");
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
