/*
 * The SCAN method: finds main_arena in libc's writable data from the core
 * alone, by the shape of its bins (127 list heads, most of them empty, and
 * an empty one points at itself), then lets the arena check confirm it.
 * Also the scan-side ways to mp_ (a word equal to the main heap's start,
 * sbrk_base) and to the tcache TLS slot (calibrated on the thread pointers).
 */
#include "glibc_locate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A run this long of bin-shaped pairs, with this many empty ones, is worth checking. */
#define MIN_RUN_PAIRS 100
#define MIN_RUN_EMPTY 16
#define MAX_CANDIDATES 256
/* Pairs before bins[0] that may join its run: fastbinsY[10], top and last_remainder. */
#define MAX_RUN_PREFIX 8

enum pair_kind { PAIR_OTHER, PAIR_EMPTY, PAIR_LIST };

static enum pair_kind classify(const struct hc_target *t, const struct hc_span *sp, uint64_t p)
{
	uint64_t fd, bk;
	if (!hc_span_u64(sp, p, &fd) || !hc_span_u64(sp, p + 8, &bk))
		return PAIR_OTHER;
	if (fd == p - 16 && bk == p - 16)
		return PAIR_EMPTY;
	if (fd == 0 || bk == 0 || (fd & 15) || (bk & 15))
		return PAIR_OTHER;
	if (!hc_target_segment(t, fd) || !hc_target_segment(t, bk))
		return PAIR_OTHER;
	return PAIR_LIST;
}

/* Calls fn on every dumped span of [start, end), bounded by HC_LOC_MAX_SCAN_BYTES in all. */
typedef bool (*span_fn)(const struct hc_loc_ctx *c, const struct hc_span *sp, void *arg);

static bool for_each_span(const struct hc_loc_ctx *c, uint64_t start, uint64_t end, span_fn fn, void *arg)
{
	uint64_t scanned = 0;
	uint64_t a = start;
	for (unsigned guard = 0; a < end && scanned < HC_LOC_MAX_SCAN_BYTES && guard < 4096; guard++) {
		struct hc_span sp;
		hc_target_span(c->t, a, end - a, &sp);
		if (sp.len == 0) {
			/* not dumped here: go to the next segment boundary */
			const struct hc_segment *seg = hc_target_segment(c->t, a);
			uint64_t next = end;
			if (seg && seg->start + seg->dumped > a)
				next = seg->start + seg->dumped; /* cannot happen: span would be non-empty */
			else if (seg)
				next = seg->end;
			else
				for (uint32_t i = 0; i < c->t->nsegments; i++)
					if (c->t->segments[i].start > a) {
						next = c->t->segments[i].start;
						break;
					}
			if (next <= a)
				break;
			a = next;
			continue;
		}
		if (fn(c, &sp, arg))
			return true;
		scanned += sp.len;
		a = sp.addr + sp.len;
	}
	return false;
}

struct run_search {
	uint64_t cands[MAX_CANDIDATES];  /* candidate &bins[0] */
	unsigned ncands;
};

static void add_run(struct run_search *rs, uint64_t start, uint64_t pairs)
{
	/*
	 * bins[0] is the run start, or a few pairs later: fastbinsY, top and
	 * last_remainder can look like pairs, and a run may swallow a damaged pair.
	 */
	for (uint64_t k = 0; k <= MAX_RUN_PREFIX && k + MIN_RUN_PAIRS <= pairs && rs->ncands < MAX_CANDIDATES; k++)
		rs->cands[rs->ncands++] = start + 16 * k;
}

static bool find_runs(const struct hc_loc_ctx *c, const struct hc_span *sp, void *arg)
{
	struct run_search *rs = arg;
	uint64_t first = (sp->addr + 7) & ~7ULL;
	for (uint64_t phase = 0; phase < 16; phase += 8) {
		/* a damaged bin or two inside the run do not end it (misses) */
		uint64_t run_start = 0, pairs = 0, empty = 0, misses = 0;
		for (uint64_t p = first + phase; p + 16 <= sp->addr + sp->len + 16; p += 16) {
			bool inside = p + 16 <= sp->addr + sp->len;
			enum pair_kind k = inside ? classify(c->t, sp, p) : PAIR_OTHER;
			if (k != PAIR_OTHER) {
				if (pairs == 0)
					run_start = p;
				pairs += 1 + misses;
				misses = 0;
				empty += k == PAIR_EMPTY;
				continue;
			}
			if (pairs > 0 && inside && ++misses <= HC_LOC_MAX_BAD_BINS)
				continue;
			if (pairs >= MIN_RUN_PAIRS && empty >= MIN_RUN_EMPTY)
				add_run(rs, run_start, pairs);
			pairs = empty = misses = 0;
		}
	}
	return rs->ncands >= MAX_CANDIDATES;
}

bool hc_loc_by_scan(const struct hc_loc_ctx *c, struct hc_glibc_location *out, char *why, size_t whylen)
{
	if (c->nregions == 0) {
		snprintf(why, whylen, "no writable data of libc in the core%s",
			 c->libc_name ? "" : " (no libc mapping found)");
		return false;
	}
	struct run_search rs;
	memset(&rs, 0, sizeof(rs));
	for (unsigned i = 0; i < c->nregions; i++)
		for_each_span(c, c->regions[i].start, c->regions[i].end, find_runs, &rs);
	if (rs.ncands == 0) {
		snprintf(why, whylen, "no run of empty malloc bins in libc's writable data "
				      "(malloc never used, or the data is not in the core)");
		return false;
	}
	/* each candidate &bins[0] gives one main_arena per malloc_state shape */
	char w[256] = "";
	for (unsigned i = 0; i < rs.ncands; i++) {
		int32_t seen[HC_LOC_MAX_LAYOUTS];
		unsigned nseen = 0;
		for (unsigned j = 0; j < c->nlayouts; j++) {
			int32_t b = c->layouts[j]->ms_bins;
			bool dup = false;
			for (unsigned k = 0; k < nseen; k++)
				dup |= seen[k] == b;
			if (dup)
				continue;
			seen[nseen++] = b;
			uint64_t a = rs.cands[i] - (uint64_t)b;
			struct hc_arena_info info;
			const struct hc_glibc_layout *l = hc_loc_pick_layout(c, a, 0, &info, w, sizeof(w));
			if (!l)
				continue;
			out->layout = l;
			out->main_arena = a;
			int score;
			uint64_t mp = hc_loc_scan_mp(c, l, &info, &score);
			if (mp) {
				out->mp = mp;
				out->mp_method = HC_ARENA_METHOD_SCAN;
			}
			return true;
		}
	}
	snprintf(why, whylen, "%u bin-shaped run(s) in libc's data, none validated as main_arena (%s)", rs.ncands,
		 w);
	return false;
}

/* ---- mp_ ---- */

struct mp_search {
	const struct hc_glibc_layout *l;
	const struct hc_arena_info *info;
	uint64_t lo, hi;       /* sbrk_base range */
	uint64_t best;
	int best_score;
};

static bool find_mp(const struct hc_loc_ctx *c, const struct hc_span *sp, void *arg)
{
	struct mp_search *ms = arg;
	for (uint64_t p = (sp->addr + 7) & ~7ULL; p + 8 <= sp->addr + sp->len; p += 8) {
		uint64_t v;
		if (!hc_span_u64(sp, p, &v) || v < ms->lo || v > ms->hi)
			continue;
		if (p < (uint64_t)ms->l->mp_sbrk_base)
			continue;
		uint64_t mp = p - (uint64_t)ms->l->mp_sbrk_base;
		int s = hc_loc_check_mp(c, ms->l, mp, ms->info);
		if (s > ms->best_score) {
			ms->best_score = s;
			ms->best = mp;
		}
	}
	return false;
}

uint64_t hc_loc_scan_mp(const struct hc_loc_ctx *c, const struct hc_glibc_layout *l,
			const struct hc_arena_info *info, int *score)
{
	*score = -1;
	if (info->empty || info->top == 0)
		return 0;
	struct mp_search ms = { .l = l, .info = info, .best_score = -1 };
	/* sbrk_base is at or below top, within system_mem of it */
	ms.hi = info->top;
	ms.lo = info->top > info->system_mem + 0x1000 ? info->top - info->system_mem - 0x1000 : 1;
	for (unsigned i = 0; i < c->nregions; i++)
		for_each_span(c, c->regions[i].start, c->regions[i].end, find_mp, &ms);
	*score = ms.best_score;
	return ms.best;
}

/* ---- the tcache TLS slot by calibration ---- */

struct tls_search {
	const struct hc_glibc_layout *l;
	uint64_t tp;
	int64_t offs[MAX_CANDIDATES];
	unsigned noffs;
};

static bool find_tcache_ptrs(const struct hc_loc_ctx *c, const struct hc_span *sp, void *arg)
{
	struct tls_search *ts = arg;
	for (uint64_t p = (sp->addr + 7) & ~7ULL; p + 8 <= sp->addr + sp->len; p += 8) {
		uint64_t v, size;
		if (!hc_span_u64(sp, p, &v) || v == 0 || (v & 15))
			continue;
		const struct hc_segment *seg = hc_target_segment(c->t, v);
		if (!seg || !(seg->perms & HC_PERM_W) || !hc_target_read_u64(c->t, v - 8, &size))
			continue;
		if ((size & ~7ULL) != ts->l->tcache_struct_chunk || (size & 2) || !(size & 1))
			continue;
		int64_t off = (int64_t)(p - ts->tp);
		bool dup = false;
		for (unsigned i = 0; i < ts->noffs; i++)
			dup |= ts->offs[i] == off;
		if (!dup && ts->noffs < MAX_CANDIDATES)
			ts->offs[ts->noffs++] = off;
	}
	return ts->noffs >= MAX_CANDIDATES;
}

static uint64_t abs64(int64_t v)
{
	return v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
}

/*
 * The static TLS block is at a fixed distance from the thread pointer in
 * every thread (below it on x86-64, above it on aarch64), so any word near a
 * thread pointer that points at a tcache_perthread_struct chunk gives a
 * candidate distance; the one that holds in all threads wins, the nearest
 * to the thread pointer on a tie (a thread's stack lies farther away).
 */
bool hc_loc_calibrate_tcache(const struct hc_loc_ctx *c, const struct hc_glibc_layout *l, uint64_t main_arena,
			     const struct hc_arena_info *info, int64_t *off)
{
	(void)main_arena;
	(void)info;
	if (!l->has_tcache)
		return false;
	struct tls_search ts;
	memset(&ts, 0, sizeof(ts));
	ts.l = l;
	for (uint32_t ti = 0; ti < c->t->nthreads && ti < 16 && ts.noffs < MAX_CANDIDATES; ti++) {
		const struct hc_thread *th = &c->t->threads[ti];
		if (!th->has_tp || th->tp < 8)
			continue;
		ts.tp = th->tp;
		uint64_t lo, hi;
		if (c->t->arch == HC_ARCH_X86_64) {
			const struct hc_segment *seg = hc_target_segment(c->t, th->tp - 8);
			if (!seg)
				continue;
			hi = th->tp;
			lo = th->tp - seg->start > HC_LOC_TLS_WINDOW ? th->tp - HC_LOC_TLS_WINDOW : seg->start;
		} else {
			const struct hc_segment *seg = hc_target_segment(c->t, th->tp);
			if (!seg)
				continue;
			lo = th->tp;
			hi = seg->end - th->tp > HC_LOC_TLS_WINDOW ? th->tp + HC_LOC_TLS_WINDOW : seg->end;
		}
		for_each_span(c, lo, hi, find_tcache_ptrs, &ts);
	}
	int best = 0;
	bool found = false;
	for (unsigned i = 0; i < ts.noffs; i++) {
		int s = hc_loc_check_tcache_offset(c, l, ts.offs[i], NULL);
		if (s > best || (s == best && s > 0 && abs64(ts.offs[i]) < abs64(*off))) {
			best = s;
			*off = ts.offs[i];
			found = true;
		}
	}
	return found;
}
