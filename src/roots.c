/*
 * Roots: which memory outside the heap is scanned for pointers into it, and
 * what kind of root each piece is. Owns the carving of the address space
 * into disjoint root ranges; the scan itself is graph.c's.
 *
 * Candidates come in classes, higher priority first, and each class gets
 * only what the classes before it left:
 *
 *   1. TLS: per thread, a window around its thread pointer (x86-64: the
 *      static TLS blocks below tp, as ld.so laid them out, and the thread
 *      descriptor above it), clipped to tp's mapping.
 *   2. STACK: per thread, from its stack pointer to the top of sp's
 *      mapping, or to the next TLS window above sp in it (a pthread's
 *      descriptor and TLS sit at the top of its stack mapping). The x86-64
 *      red zone below sp is added only for a thread a signal interrupted
 *      (cursig set), which may have been in a leaf function using it; in a
 *      thread stopped in a system call it holds stale words of calls that
 *      returned, which would anchor leaks. A stack the program allocated
 *      itself (pthread_attr_setstack, coroutines) whose sp lies in a heap
 *      chunk ends with that chunk, not with the heap's mapping.
 *   3. not scanned: arena heaps (their whole reservation) and mmapped
 *      chunks' mappings: their live words are scanned as nodes, the rest is
 *      free memory. Nor main_arena and mp_ in libc's data: the allocator's
 *      own pointers (top, bins, a stale last_remainder, sbrk_base) keep
 *      nothing alive.
 *   4. DATA: each module's writable file mappings, the read-only mapping
 *      just below them (relro, written at relocation), and the anonymous
 *      mapping right after them that is their .bss tail.
 *   5. not scanned: stacks below their stack pointer (dead frames), and
 *      cached stacks of exited threads (glibc keeps them for reuse; their
 *      frames and TLS blocks are stale) up to their thread descriptor. The
 *      descriptor itself is live glibc data, reached from ld.so's stack
 *      cache list: it holds the dtv glibc keeps for the next thread, so it
 *      is left to OTHER.
 *   6. OTHER: every other writable mapping, one range per mapping.
 *
 * Registers are ranges too (of the thread's register array, not memory).
 */
#include "roots.h"

#include <stdlib.h>
#include <string.h>

#define X86_64_RED_ZONE 128
/* Windows used when the layout cannot be worked out (no link map, no pthread). */
#define TLS_FALLBACK_BELOW 0x1000
#define TCB_FALLBACK 0x1000
/* A struct pthread is ~2.3 KiB; a bigger distance from tp to the mapping's end is no descriptor. */
#define MAX_TCB 0x10000
#define MAX_TCB_SIZES 4

enum { EXCLUDED = -1 };

struct cand {
	uint64_t s, e;
	int32_t thread, module;
	int kind;                    /* enum hc_root_kind, or EXCLUDED */
};

struct cands {
	struct cand *v;
	uint32_t n, cap;
};

struct ivl {
	uint64_t s, e;
};

struct carve {
	struct ivl *claimed;         /* sorted, disjoint: what earlier classes took */
	uint32_t nclaimed;
	struct hc_root_range *out;
	uint32_t nout, capout;
	bool oom;
};

static void push(struct carve *c, struct cands *v, uint64_t s, uint64_t e, int kind, int32_t thread,
		 int32_t module)
{
	if (s >= e)
		return;
	if (v->n == v->cap) {
		uint32_t cap = v->cap ? v->cap * 2 : 64;
		struct cand *n = realloc(v->v, cap * sizeof(*n));
		if (!n) {
			c->oom = true;
			return;
		}
		v->v = n;
		v->cap = cap;
	}
	v->v[v->n++] = (struct cand){ s, e, thread, module, kind };
}

static void emit(struct carve *c, const struct cand *k, uint64_t s, uint64_t e)
{
	if (k->kind == EXCLUDED)
		return;
	if (c->nout == c->capout) {
		uint32_t cap = c->capout ? c->capout * 2 : 64;
		struct hc_root_range *n = realloc(c->out, cap * sizeof(*n));
		if (!n) {
			c->oom = true;
			return;
		}
		c->out = n;
		c->capout = cap;
	}
	c->out[c->nout++] = (struct hc_root_range){ (enum hc_root_kind)k->kind, s, e, k->thread, k->module };
}

static int cmp_cand(const void *a, const void *b)
{
	const struct cand *x = a, *y = b;
	if (x->s != y->s)
		return x->s < y->s ? -1 : 1;
	return (x->e > y->e) - (x->e < y->e);
}

/*
 * Gives each candidate of one class what is not yet claimed, then claims it.
 * Sorting by start and keeping the furthest end seen makes the class's own
 * candidates disjoint too (the first one wins an overlap).
 */
static void carve_class(struct carve *c, struct cands *v)
{
	if (c->oom || !v->n) {
		v->n = 0;
		return;
	}
	qsort(v->v, v->n, sizeof(*v->v), cmp_cand);
	struct ivl *pieces = malloc(((size_t)v->n + c->nclaimed + 1) * sizeof(*pieces));
	if (!pieces) {
		c->oom = true;
		return;
	}
	uint32_t np = 0;
	uint64_t mark = 0;
	for (uint32_t i = 0; i < v->n; i++) {
		const struct cand *k = &v->v[i];
		uint64_t s = k->s > mark ? k->s : mark, e = k->e;
		if (e > mark)
			mark = e;
		if (s >= e)
			continue;
		uint32_t lo = 0, hi = c->nclaimed;
		while (lo < hi) {
			uint32_t mid = lo + (hi - lo) / 2;
			if (c->claimed[mid].e <= s)
				lo = mid + 1;
			else
				hi = mid;
		}
		uint64_t cur = s;
		for (uint32_t j = lo; j < c->nclaimed && c->claimed[j].s < e; j++) {
			if (c->claimed[j].s > cur) {
				emit(c, k, cur, c->claimed[j].s);
				pieces[np++] = (struct ivl){ cur, c->claimed[j].s };
			}
			if (c->claimed[j].e > cur)
				cur = c->claimed[j].e;
		}
		if (cur < e) {
			emit(c, k, cur, e);
			pieces[np++] = (struct ivl){ cur, e };
		}
	}
	/* both lists are sorted and disjoint from each other: merge them */
	struct ivl *merged = malloc(((size_t)np + c->nclaimed + 1) * sizeof(*merged));
	if (!merged) {
		free(pieces);
		c->oom = true;
		return;
	}
	uint32_t a = 0, b = 0, m = 0;
	while (a < c->nclaimed || b < np) {
		if (b == np || (a < c->nclaimed && c->claimed[a].s < pieces[b].s))
			merged[m++] = c->claimed[a++];
		else
			merged[m++] = pieces[b++];
	}
	free(pieces);
	free(c->claimed);
	c->claimed = merged;
	c->nclaimed = m;
	v->n = 0;
}

/* How far below tp the static TLS blocks of the modules reach (x86-64); 0 if unknown. */
static uint64_t static_tls_below(const struct hc_symbols *s)
{
	uint64_t below = 0;
	for (uint32_t i = 0; s && i < s->nmodules; i++) {
		int64_t off;
		if (hc_symbols_static_tls_offset(s, &s->modules[i], &off) && off < 0 &&
		    (uint64_t)-off > below && (uint64_t)-off < MAX_TCB)
			below = (uint64_t)-off;
	}
	return below;
}

/*
 * If addr lies in a chunk of h, the end of that chunk's user bytes (for an
 * arena chunk, the next chunk's prev_size word included), else 0.
 */
static uint64_t chunk_end_at(const struct hc_glibc_heap *h, uint64_t addr)
{
	int64_t c = h ? hc_glibc_chunk_at_or_before(h, addr) : -1;
	if (c < 0)
		return 0;
	uint64_t end = h->chunk_addr[c] + hc_glibc_chunk_size(h, c);
	if (h->chunk_state[c] == HC_CHUNK_MMAPPED) {
		const struct hc_glibc_layout *L = h->location.layout;
		end += L && L->mmapped_size_excludes_header ? 16 : 0;
	} else {
		end += 8;
	}
	return addr < end ? end : 0;
}

/*
 * glibc puts a pthread's descriptor at the top of its stack mapping, so the
 * distance from tp to the end of that mapping is the descriptor's size (with
 * alignment): the same for every thread made by the same glibc. The distinct
 * values seen, smallest first; none if every thread is the main one. A
 * thread on a stack it allocated in the heap says nothing about this.
 */
static uint32_t tcb_sizes(const struct hc_target *t, const struct hc_glibc_heap *h, uint64_t *sizes)
{
	uint32_t n = 0;
	for (uint32_t i = 0; i < t->nthreads; i++) {
		const struct hc_thread *th = &t->threads[i];
		const struct hc_segment *seg = th->has_tp ? hc_target_segment(t, th->tp) : NULL;
		if (!seg || seg != hc_target_segment(t, th->sp) || seg->end - th->tp > MAX_TCB ||
		    chunk_end_at(h, th->tp))
			continue;
		uint64_t v = seg->end - th->tp;
		bool seen = false;
		for (uint32_t k = 0; k < n; k++)
			seen |= sizes[k] == v;
		if (!seen && n < MAX_TCB_SIZES)
			sizes[n++] = v;
	}
	for (uint32_t i = 1; i < n; i++)
		for (uint32_t j = i; j > 0 && sizes[j - 1] > sizes[j]; j--) {
			uint64_t x = sizes[j];
			sizes[j] = sizes[j - 1];
			sizes[j - 1] = x;
		}
	return n;
}

/*
 * Does seg end in a thread descriptor (tcbhead_t's tcb and self both point
 * at it) no live thread owns? Its address (the dead thread's tp) if so, else 0.
 */
static uint64_t dead_thread_stack(const struct hc_target *t, const struct hc_segment *seg, const uint64_t *sizes,
				  uint32_t nsizes)
{
	for (uint32_t k = 0; k < nsizes; k++) {
		if (seg->end - seg->start <= sizes[k])
			continue;
		uint64_t tp = seg->end - sizes[k], w0, w2;
		if (!hc_target_read_u64(t, tp, &w0) || !hc_target_read_u64(t, tp + 16, &w2) || w0 != tp ||
		    w2 != tp)
			continue;
		bool live = false;
		for (uint32_t i = 0; i < t->nthreads && !live; i++)
			live = t->threads[i].has_tp && t->threads[i].tp == tp;
		if (!live)
			return tp;
	}
	return 0;
}

static const struct hc_module *module_of_file_segment(const struct hc_target *t, const struct hc_symbols *s,
						      const struct hc_segment *seg)
{
	if (!s || seg->file < 0 || (uint32_t)seg->file >= t->nfiles || !t->files[seg->file].path)
		return NULL;
	const struct hc_module *m = hc_symbols_module_at(s, seg->start);
	return m && m->name && !strcmp(m->name, t->files[seg->file].path) ? m : NULL;
}

void hc_module_data_ranges(const struct hc_target *t, const struct hc_symbols *s, hc_module_range_fn fn, void *ctx)
{
	for (uint32_t i = 0; i < t->nsegments; i++) {
		const struct hc_segment *seg = &t->segments[i];
		const struct hc_segment *next = i + 1 < t->nsegments ? &t->segments[i + 1] : NULL;
		const struct hc_segment *prev = i > 0 ? &t->segments[i - 1] : NULL;
		const struct hc_module *m = module_of_file_segment(t, s, seg);
		if (m) {
			int32_t mi = (int32_t)(m - s->modules);
			if (seg->perms & HC_PERM_W)
				fn(ctx, seg->start, seg->end, mi);
			else if (!(seg->perms & HC_PERM_X) && next && next->start == seg->end &&
				 (next->perms & HC_PERM_W) && module_of_file_segment(t, s, next) == m)
				fn(ctx, seg->start, seg->end, mi);
			continue;
		}
		if (seg->file >= 0 || !(seg->perms & HC_PERM_W) || !prev || prev->end != seg->start ||
		    !(prev->perms & HC_PERM_W))
			continue;
		const struct hc_module *pm = module_of_file_segment(t, s, prev);
		/* the program headers say whether .bss reaches into it: a mapping merely placed after is not */
		if (!pm || (pm->extent_known && pm->end <= seg->start))
			continue;
		/* the program headers' extent says how much is .bss; without it, the whole mapping */
		uint64_t end = pm->end > seg->start && pm->end < seg->end ? pm->end : seg->end;
		fn(ctx, seg->start, end, (int32_t)(pm - s->modules));
	}
}

struct module_data_push {
	struct carve *c;
	struct cands *v;
};

static void push_module_data(void *ctx, uint64_t start, uint64_t end, int32_t module)
{
	struct module_data_push *p = ctx;
	push(p->c, p->v, start, end, HC_ROOT_DATA, -1, module);
}

static void module_data(struct carve *c, struct cands *v, const struct hc_target *t,
			const struct hc_symbols *s)
{
	struct module_data_push p = { c, v };
	hc_module_data_ranges(t, s, push_module_data, &p);
}

static int cmp_range(const void *a, const void *b)
{
	const struct hc_root_range *x = a, *y = b;
	if (x->kind != y->kind)
		return x->kind < y->kind ? -1 : 1;
	if (x->kind == HC_ROOT_REGISTER)
		return (x->thread > y->thread) - (x->thread < y->thread);
	return (x->start > y->start) - (x->start < y->start);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return (x > y) - (x < y);
}

struct hc_error *hc_roots_find(struct hc_target *t, const struct hc_symbols *s,
			       const struct hc_glibc_heap *h, struct hc_root_range **out,
			       uint32_t *nout)
{
	*out = NULL;
	*nout = 0;
	struct carve c = { 0 };
	struct cands v = { 0 };
	bool x86 = t->arch == HC_ARCH_X86_64;
	uint64_t sizes[MAX_TCB_SIZES];
	uint32_t nsizes = tcb_sizes(t, h, sizes);
	uint64_t below = x86 ? static_tls_below(s) : 0;
	if (x86 && !below) {
		below = TLS_FALLBACK_BELOW;
		hc_warnings_add(&t->warnings, HC_WARN_INFO,
				"the static TLS layout is unknown: each thread's TLS is taken to be the 0x%x bytes "
				"below its thread pointer",
				TLS_FALLBACK_BELOW);
	}
	uint64_t tcb = nsizes ? sizes[0] : TCB_FALLBACK;

	/*
	 * A live thread's descriptor points at itself (tcbhead_t.tcb and .self,
	 * x86-64). Zeros there mean its memory was lost on the way into the core
	 * (gdb's gcore drops thread stacks that carry guard regions): what only
	 * that thread held will show as leaked.
	 */
	for (uint32_t i = 0; x86 && i < t->nthreads; i++) {
		const struct hc_thread *th = &t->threads[i];
		uint64_t w0, w2;
		if (th->has_tp && th->tp && hc_target_read_u64(t, th->tp, &w0) &&
		    hc_target_read_u64(t, th->tp + 16, &w2) && !w0 && !w2)
			hc_warnings_add(&t->warnings, HC_WARN_PARTIAL,
					"thread %d: its thread descriptor reads as zeros, so its stack and TLS were "
					"not saved in the core; allocations only this thread held show as leaked",
					th->tid);
	}

	/* 1. TLS windows; x86-64 variant II: blocks below tp, descriptor above; aarch64 the reverse */
	uint64_t *tls_starts = calloc(t->nthreads + 1, sizeof(*tls_starts));
	uint32_t ntls = 0;
	if (!tls_starts)
		return &hc_error_nomem;
	for (uint32_t i = 0; i < t->nthreads; i++) {
		const struct hc_thread *th = &t->threads[i];
		const struct hc_segment *seg = th->has_tp && th->tp ? hc_target_segment(t, th->tp) : NULL;
		if (!seg)
			continue;
		uint64_t lo = x86 ? below : tcb, hi = x86 ? tcb : TLS_FALLBACK_BELOW;
		uint64_t s0 = th->tp - seg->start > lo ? th->tp - lo : seg->start;
		uint64_t e0 = seg->end - th->tp > hi ? th->tp + hi : seg->end;
		/* a thread on a stack of its own making keeps its descriptor inside that chunk */
		uint64_t in_chunk = chunk_end_at(h, th->tp);
		if (in_chunk && in_chunk < e0)
			e0 = in_chunk;
		push(&c, &v, s0, e0, HC_ROOT_TLS, (int32_t)i, -1);
		tls_starts[ntls++] = s0;
	}
	qsort(tls_starts, ntls, sizeof(*tls_starts), cmp_u64);
	carve_class(&c, &v);

	/* 2. stacks, up to the next TLS window above sp in the same mapping */
	struct cands dead = { 0 };
	for (uint32_t i = 0; i < t->nthreads; i++) {
		const struct hc_thread *th = &t->threads[i];
		const struct hc_segment *seg = hc_target_segment(t, th->sp);
		if (!seg) {
			hc_warnings_add(&t->warnings, HC_WARN_PARTIAL,
					"thread %d: its stack pointer 0x%llx is in no mapping of the core; its stack "
					"is not scanned for pointers",
					th->tid, (unsigned long long)th->sp);
			continue;
		}
		uint64_t red = x86 && th->cursig ? X86_64_RED_ZONE : 0;
		uint64_t start = th->sp - seg->start > red ? th->sp - red : seg->start, top = seg->end;
		uint32_t lo = 0, hi = ntls;
		while (lo < hi) {
			uint32_t mid = lo + (hi - lo) / 2;
			if (tls_starts[mid] <= th->sp)
				lo = mid + 1;
			else
				hi = mid;
		}
		if (lo < ntls && tls_starts[lo] < top)
			top = tls_starts[lo];
		uint64_t in_chunk = chunk_end_at(h, th->sp);
		if (in_chunk && in_chunk < top)
			top = in_chunk;
		push(&c, &v, start, top, HC_ROOT_STACK, (int32_t)i, -1);
		push(&c, &dead, seg->start, start, EXCLUDED, -1, -1);
	}
	free(tls_starts);
	carve_class(&c, &v);

	/* 3. the heap itself */
	uint64_t hmax = h && h->location.layout ? h->location.layout->heap_max_size : 0;
	for (uint32_t a = 0; h && a < h->narenas; a++) {
		const struct hc_glibc_arena *ar = &h->arenas[a];
		for (uint32_t j = 0; j < ar->nheaps; j++) {
			uint64_t hs = ar->heaps[j].start;
			/* a thread heap reserves its whole aligned span */
			uint64_t he = !ar->is_main && hmax && hs + hmax > hs ? hs + hmax : ar->heaps[j].end;
			push(&c, &v, hs, he, EXCLUDED, -1, -1);
		}
	}
	for (uint32_t i = 0; h && i < h->nchunks; i++) {
		if (h->chunk_state[i] != HC_CHUNK_MMAPPED)
			continue;
		uint64_t ca = h->chunk_addr[i], prev_size = 0;
		hc_target_read_u64(t, ca, &prev_size);
		uint64_t map = prev_size <= ca ? ca - prev_size : ca;
		uint64_t end = ca + hc_glibc_chunk_size(h, i) +
			       (h->location.layout && h->location.layout->mmapped_size_excludes_header ? 16 : 0);
		push(&c, &v, map, end, EXCLUDED, -1, -1);
	}
	if (h && h->location.layout) {
		const struct hc_glibc_layout *L = h->location.layout;
		if (h->location.main_arena)
			push(&c, &v, h->location.main_arena, h->location.main_arena + L->ms_size, EXCLUDED, -1, -1);
		if (h->location.mp)
			push(&c, &v, h->location.mp, h->location.mp + L->mp_size, EXCLUDED, -1, -1);
	}
	carve_class(&c, &v);

	/* 4. modules' data */
	module_data(&c, &v, t, s);
	carve_class(&c, &v);

	/* 5. dead stack: below each sp, and the cached stacks of exited threads */
	uint32_t ndead = 0;
	for (uint32_t i = 0; i < t->nsegments; i++) {
		const struct hc_segment *seg = &t->segments[i];
		uint64_t tp = (seg->perms & HC_PERM_W) && seg->file < 0 ? dead_thread_stack(t, seg, sizes, nsizes) : 0;
		if (tp) {
			push(&c, &dead, seg->start, tp, EXCLUDED, -1, -1);
			ndead++;
		}
	}
	if (ndead)
		hc_warnings_add(&t->warnings, HC_WARN_INFO,
				"%u cached stacks of exited threads are not scanned for pointers, only their "
				"thread descriptors: the rest is stale",
				ndead);
	carve_class(&c, &dead);
	free(dead.v);

	/* 6. every other writable mapping */
	for (uint32_t i = 0; i < t->nsegments; i++)
		if (t->segments[i].perms & HC_PERM_W)
			push(&c, &v, t->segments[i].start, t->segments[i].end, HC_ROOT_OTHER, -1, -1);
	carve_class(&c, &v);
	free(v.v);
	free(c.claimed);

	for (uint32_t i = 0; i < t->nthreads && !c.oom; i++) {
		struct cand k = { 0, (uint64_t)t->threads[i].nregs * 8, (int32_t)i, -1, HC_ROOT_REGISTER };
		emit(&c, &k, k.s, k.e);
	}
	if (c.oom) {
		free(c.out);
		return &hc_error_nomem;
	}
	qsort(c.out, c.nout, sizeof(*c.out), cmp_range);
	*out = c.out;
	*nout = c.nout;
	return NULL;
}
