/*
 * hc_glibc_locate: finds main_arena, mp_ and the tcache TLS slot of the
 * target's glibc, and which layout (glibc version) they have. Owns the
 * orchestration (symbols, then disassembly, then the scan), the version
 * detection, the structural checks that every method's candidates must
 * pass, and the SYMBOLS method itself. See docs/arena-discovery.md.
 */
#include "glibc_locate.h"

#include <ctype.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define PAGE 0x1000ULL
#define MINSIZE 0x20ULL
/* Nothing in a user-space x86-64/aarch64 process lies above 2^56. */
#define ADDR_MAX (1ULL << 56)

const char *hc_arena_method_name(enum hc_arena_method m)
{
	switch (m) {
	case HC_ARENA_METHOD_AUTO:
		return "auto";
	case HC_ARENA_METHOD_SYMBOLS:
		return "symbols";
	case HC_ARENA_METHOD_DISASSEMBLY:
		return "disassembly";
	case HC_ARENA_METHOD_SCAN:
		return "scan";
	}
	return "unknown";
}

/* ---- small reads ---- */

static bool rd64(const struct hc_target *t, uint64_t addr, uint64_t *v)
{
	return hc_target_read_u64(t, addr, v);
}

static bool mapped(const struct hc_target *t, uint64_t addr)
{
	return addr != 0 && addr < ADDR_MAX && hc_target_segment(t, addr) != NULL;
}

bool hc_loc_in_regions(const struct hc_loc_ctx *c, uint64_t addr)
{
	for (unsigned i = 0; i < c->nregions; i++)
		if (addr >= c->regions[i].start && addr < c->regions[i].end)
			return true;
	return false;
}

static uint64_t get64(const uint8_t *buf, int32_t off)
{
	uint64_t v;
	memcpy(&v, buf + off, 8);
	return v;
}

static uint32_t get32(const uint8_t *buf, int32_t off)
{
	uint32_t v;
	memcpy(&v, buf + off, 4);
	return v;
}

/*
 * The start of the run of adjacent anonymous writable segments holding addr:
 * the main heap is one anonymous mapping from sbrk_base to the break, but a
 * core may split it, and with ASLR off it can touch the executable's .bss
 * (anonymous too), which is why the run stops at file-backed segments only
 * and callers treat the result as a hint.
 */
static uint64_t anon_run_start(const struct hc_target *t, uint64_t addr)
{
	const struct hc_segment *seg = hc_target_segment(t, addr);
	if (!seg)
		return 0;
	uint32_t i = (uint32_t)(seg - t->segments);
	for (unsigned steps = 0; i > 0 && steps < 64; steps++, i--) {
		const struct hc_segment *prev = &t->segments[i - 1];
		if (prev->end != t->segments[i].start || prev->file >= 0 || !(prev->perms & HC_PERM_W))
			break;
	}
	return t->segments[i].start;
}

static uint64_t run_end(const struct hc_target *t, uint64_t addr)
{
	const struct hc_segment *seg = hc_target_segment(t, addr);
	if (!seg)
		return 0;
	uint32_t i = (uint32_t)(seg - t->segments);
	for (unsigned steps = 0; i + 1 < t->nsegments && steps < 64; steps++, i++)
		if (t->segments[i + 1].start != t->segments[i].end)
			break;
	return t->segments[i].end;
}

/* ---- the structural checks ---- */

/* A bin's fd/bk: a chunk address (16-aligned on LP64) in mapped memory. */
static bool plausible_chunk_ptr(const struct hc_target *t, uint64_t p)
{
	return (p & 15) == 0 && mapped(t, p);
}

/* A non-main arena: the first thing after heap_info in a HEAP_MAX-aligned heap that points back to it. */
static bool check_thread_arena(const struct hc_loc_ctx *c, const struct hc_glibc_layout *l, uint64_t a)
{
	uint64_t h = a & ~(l->heap_max_size - 1);
	if (a != h + l->heap_info_size)
		return false;
	uint64_t ar_ptr, top;
	if (!rd64(c->t, h, &ar_ptr) || ar_ptr != a)
		return false;
	if (!rd64(c->t, a + (uint64_t)l->ms_top, &top))
		return false;
	/* top lies in one of the arena's heaps, which need not be this first one */
	return top == 0 || plausible_chunk_ptr(c->t, top);
}

bool hc_loc_check_arena(const struct hc_loc_ctx *c, const struct hc_glibc_layout *l, uint64_t addr,
			struct hc_arena_info *info, char *why, size_t whylen)
{
	const struct hc_target *t = c->t;
	uint8_t buf[2304];
	memset(info, 0, sizeof(*info));
	if (l->ms_size > sizeof(buf) || (addr & 7) != 0 || addr == 0) {
		snprintf(why, whylen, "0x%llx is not an aligned address", (unsigned long long)addr);
		return false;
	}
	if (hc_target_read(t, addr, buf, l->ms_size) != HC_READ_OK) {
		snprintf(why, whylen, "malloc_state at 0x%llx is not in the core", (unsigned long long)addr);
		return false;
	}
	uint32_t mutex = get32(buf, 0), flags = get32(buf, l->ms_flags);
	/* lll_lock states are 0, 1, 2; flags hold FASTCHUNKS, NONCONTIGUOUS, ARENA_CORRUPTION */
	if (mutex > 2 || (flags & ~7u) != 0) {
		snprintf(why, whylen, "mutex/flags %u/%u are not malloc_state's", mutex, flags);
		return false;
	}
	if (l->ms_have_fastchunks >= 0 && get32(buf, l->ms_have_fastchunks) > 1) {
		snprintf(why, whylen, "have_fastchunks is not 0 or 1");
		return false;
	}
	for (uint32_t i = 0; i < l->nfastbins; i++) {
		uint64_t fb = get64(buf, l->ms_fastbins + (int32_t)(8 * i));
		if (fb != 0 && !plausible_chunk_ptr(t, fb)) {
			snprintf(why, whylen, "fastbinsY[%u] = 0x%llx is no chunk", i, (unsigned long long)fb);
			return false;
		}
	}
	/* bins: 127 (fd, bk) pairs; an empty bin points at itself (bin_at = &pair - 16) */
	/*
	 * A damaged heap may have a few bins overwritten: the walk reports those,
	 * so up to HC_LOC_MAX_BAD_BINS are let through when the others look right.
	 */
	uint32_t empty = 0, zero = 0, bad = 0;
	for (uint32_t i = 0; i < 127; i++) {
		int32_t off = l->ms_bins + (int32_t)(16 * i);
		uint64_t fd = get64(buf, off), bk = get64(buf, off + 8);
		uint64_t self = addr + (uint64_t)off - 16;
		if (fd == self && bk == self)
			empty++;
		else if (fd == 0 && bk == 0)
			zero++;
		else if (!plausible_chunk_ptr(t, fd) || !plausible_chunk_ptr(t, bk)) {
			if (++bad > HC_LOC_MAX_BAD_BINS) {
				snprintf(why, whylen, "bin %u (0x%llx, 0x%llx) is neither empty nor a list", i + 1,
					 (unsigned long long)fd, (unsigned long long)bk);
				return false;
			}
		}
	}
	if (zero == 127) {
		snprintf(why, whylen, "bins are all zero: malloc was never initialised");
		return false;
	}
	if (zero > HC_LOC_MAX_BAD_BINS - bad || empty < (bad + zero ? 64u : 1u)) {
		snprintf(why, whylen, "bins are not those of an initialised arena (%u empty, %u zero, %u damaged)", empty, zero, bad);
		return false;
	}
	info->empty_bins = empty;

	uint64_t top = get64(buf, l->ms_top);
	uint64_t system_mem = get64(buf, l->ms_system_mem), max_system_mem = get64(buf, l->ms_max_system_mem);
	uint64_t initial_top = addr + (uint64_t)l->ms_bins - 16;
	info->top = top;
	info->system_mem = system_mem;
	if (top == initial_top) {
		/* initialised, but no memory taken from the system yet */
		if (system_mem != 0) {
			snprintf(why, whylen, "top is initial but system_mem is %llu", (unsigned long long)system_mem);
			return false;
		}
		info->empty = true;
	} else {
		uint64_t size;
		if (!plausible_chunk_ptr(t, top) || !rd64(t, top + 8, &size)) {
			snprintf(why, whylen, "top 0x%llx is not a readable chunk", (unsigned long long)top);
			return false;
		}
		uint64_t csize = size & ~7ULL, end = top + csize;
		/* top's predecessor is always in use; top is never mmapped nor (in main) NON_MAIN */
		if (!(size & 1) || (size & 6) || csize < MINSIZE || end < top) {
			snprintf(why, whylen, "top chunk size 0x%llx is not a main-arena top's",
				 (unsigned long long)size);
			return false;
		}
		uint64_t rend = run_end(t, top);
		if (end > rend || (end != rend && (end & (PAGE - 1)) != 0)) {
			snprintf(why, whylen, "top chunk 0x%llx+0x%llx does not end its heap (0x%llx)",
				 (unsigned long long)top, (unsigned long long)csize, (unsigned long long)rend);
			return false;
		}
		if (system_mem < csize || system_mem >= (1ULL << 47) || max_system_mem < system_mem) {
			snprintf(why, whylen, "system_mem 0x%llx does not hold top", (unsigned long long)system_mem);
			return false;
		}
		info->top_size = csize;
		info->heap_start = anon_run_start(t, top);
	}
	if (l->ms_attached_threads >= 0 && get64(buf, l->ms_attached_threads) > (1ULL << 24)) {
		snprintf(why, whylen, "attached_threads is implausible");
		return false;
	}
	uint64_t next_free = get64(buf, l->ms_next_free);
	if (next_free != 0 && (next_free & 7) != 0) {
		snprintf(why, whylen, "next_free is misaligned");
		return false;
	}
	/*
	 * The next ring: main_arena -> thread arenas (each right after its
	 * heap_info) -> main_arena. For main_arena's own symbol, a ring that
	 * does not close is damage for the walk to report, not a reason to lose
	 * the whole heap to one bad pointer; a searched-for candidate must close it.
	 */
	uint64_t cur = get64(buf, l->ms_next);
	uint32_t n = 1;
	while (cur != addr) {
		bool thread_arena = n < HC_LOC_MAX_ARENAS && check_thread_arena(c, l, cur);
		if (thread_arena)
			n++;
		if (!thread_arena || !rd64(t, cur + (uint64_t)l->ms_next, &cur)) {
			if (!c->address_is_known) {
				snprintf(why, whylen, "next ring does not close (at 0x%llx after %u arenas)",
					 (unsigned long long)cur, n);
				return false;
			}
			info->ring_broken = true;
			break;
		}
	}
	info->narenas = n;
	return true;
}

int hc_loc_check_mp(const struct hc_loc_ctx *c, const struct hc_glibc_layout *l, uint64_t mp,
		    const struct hc_arena_info *info)
{
	uint8_t buf[256];
	if (mp == 0 || (mp & 7) || l->mp_size > sizeof(buf) ||
	    hc_target_read(c->t, mp, buf, l->mp_size) != HC_READ_OK)
		return -1;
	uint64_t trim = get64(buf, 0), top_pad = get64(buf, 8), mmap_thr = get64(buf, 16);
	uint64_t arena_test = get64(buf, l->mp_arena_test), arena_max = get64(buf, l->mp_arena_test + 8);
	int32_t n_mmaps = (int32_t)get32(buf, l->mp_n_mmaps), n_mmaps_max = (int32_t)get32(buf, l->mp_n_mmaps_max);
	uint64_t mmapped = get64(buf, l->mp_mmapped_mem), max_mmapped = get64(buf, l->mp_max_mmapped_mem);
	uint64_t sbrk_base = get64(buf, l->mp_sbrk_base);
	/* Limits glibc's mallopt/tunables allow, loosely: a wrong layout reads misplaced words. */
	if (trim >= (1ULL << 47) || top_pad >= (1ULL << 40) || mmap_thr > l->heap_max_size ||
	    arena_test > (1u << 20) || arena_max > (1u << 20) || n_mmaps < 0 || n_mmaps > (1 << 24) ||
	    n_mmaps_max < 0 || mmapped >= (1ULL << 47) || max_mmapped < mmapped)
		return -1;
	if (mmapped != 0 && n_mmaps == 0)
		return -1;
	/* sbrk_base: where the main heap starts (0 if the main arena never used sbrk) */
	if (info && !info->empty) {
		if (sbrk_base == 0 || sbrk_base > info->top || info->top - sbrk_base > info->system_mem + PAGE)
			return -1;
	} else if (sbrk_base != 0 && !mapped(c->t, sbrk_base)) {
		return -1;
	}
	int score = 0;
	if (l->mp_sbrk_base >= 96) {
		/* 2.35+: thp_pagesize, hp_pagesize are 0 or powers of two */
		int32_t thp = l->mp_sbrk_base - 56, hp = thp + 8;
		uint64_t a = get64(buf, thp), b = get64(buf, hp);
		if ((a & (a - 1)) || (b & (b - 1)) || a > (1ULL << 30) || b > (1ULL << 30))
			return -1;
		if (l->mp_sbrk_base >= 104 && get32(buf, 40) > 16) /* 2.43: enum thp_mode */
			return -1;
	}
	if (l->has_tcache) {
		uint64_t bins = get64(buf, l->mp_tcache_bins), maxb = get64(buf, l->mp_tcache_max_bytes);
		uint64_t count = get64(buf, l->mp_tcache_count);
		if (bins > l->tcache_nbins || maxb > (4ULL << 20) + 0x1000 || count > 0xffff)
			return -1;
		score += (bins == 64) + (maxb == 1032) + (count == l->tcache_fill_count);
	}
	score += (n_mmaps_max == 65536) + (arena_test == 8) + (trim == 128 * 1024 || trim == 2 * mmap_thr);
	return score;
}

int hc_loc_check_tcache_offset(const struct hc_loc_ctx *c, const struct hc_glibc_layout *l, int64_t off,
			       bool *dummy)
{
	const struct hc_target *t = c->t;
	int strong = 0;
	unsigned read = 0, dummies = 0;
	uint64_t dummy_value = 0;
	if (dummy)
		*dummy = false;
	if (!l->has_tcache)
		return -1;
	for (uint32_t i = 0; i < t->nthreads && i < HC_LOC_MAX_THREADS; i++) {
		const struct hc_thread *th = &t->threads[i];
		uint64_t v, size;
		if (!th->has_tp || th->tp == 0)
			continue;
		if (!rd64(t, th->tp + (uint64_t)off, &v))
			continue; /* not dumped: says nothing */
		read++;
		if (v == 0)
			continue; /* no tcache yet, or shut down (before 2.43) */
		/*
		 * 2.43+: &__tcache_dummy(.disabled), in libc's read-only data, which a
		 * core often leaves out entirely (no segment, only NT_FILE says it).
		 */
		const struct hc_segment *seg = hc_target_segment(t, v);
		bool in_libc = c->libc && v >= c->libc->start && v < c->libc->end;
		if ((!seg || !(seg->perms & HC_PERM_W)) && (in_libc || hc_target_file_at(t, v))) {
			if (dummies == 0 || v == dummy_value)
				dummies++;
			dummy_value = v;
			continue;
		}
		if (!seg)
			return -1;
		if ((v & 15) || !rd64(t, v - 8, &size) || (size & ~7ULL) != l->tcache_struct_chunk || (size & 2))
			return -1;
		strong++;
	}
	if (dummy)
		*dummy = read > 0 && dummies == read;
	return strong;
}

/* ---- choosing the layout ---- */

/* What the main heap's first chunk tells: the main thread's tcache_perthread_struct, normally. */
struct heap_evidence {
	uint64_t first_chunk_size;
	bool have_entry;              /* a tcache entry of that struct was read */
	bool key_is_struct, key_zero; /* entry->key == the struct / == 0 / else random */
	int safe_linked;              /* 1 mangled, 0 raw, -1 unknown */
};

/* Whether next-pointer at pos (value v) is safe-linked: 1, 0, or -1 when it cannot tell. */
static int mangled(const struct hc_target *t, uint64_t pos, uint64_t v)
{
	if (v == 0)
		return 0;
	if (v == (pos >> 12))
		return 1; /* PROTECT_PTR(pos, NULL) */
	bool raw = plausible_chunk_ptr(t, v), demangled = plausible_chunk_ptr(t, (pos >> 12) ^ v);
	return raw == demangled ? -1 : demangled;
}

/* Safe-linking seen in the arena's fastbins (their fd links are protected too), when tcache said nothing. */
static void fastbin_evidence(const struct hc_loc_ctx *c, const struct hc_glibc_layout *l, uint64_t arena,
			     struct heap_evidence *ev)
{
	for (uint32_t i = 0; i < l->nfastbins && ev->safe_linked < 0; i++) {
		uint64_t p, fd;
		if (!rd64(c->t, arena + (uint64_t)l->ms_fastbins + 8 * i, &p) || p == 0)
			continue;
		if (rd64(c->t, p + 16, &fd))
			ev->safe_linked = mangled(c->t, p + 16, fd);
	}
}

static void gather_heap_evidence(const struct hc_loc_ctx *c, uint64_t heap_start, struct heap_evidence *ev)
{
	memset(ev, 0, sizeof(*ev));
	ev->safe_linked = -1;
	uint64_t size;
	if (heap_start == 0 || !rd64(c->t, heap_start + 8, &size))
		return;
	ev->first_chunk_size = size & ~7ULL;
	/* entries[] of every tcache shape: at 64 (0x250), 128 (0x290), 152 (0x300) */
	uint32_t entries_off, nbins;
	switch (ev->first_chunk_size) {
	case 0x250: entries_off = 64; nbins = 64; break;
	case 0x290: entries_off = 128; nbins = 64; break;
	case 0x300: entries_off = 152; nbins = 76; break;
	default: return;
	}
	uint64_t tc = heap_start + 16;
	for (uint32_t i = 0; i < nbins; i++) {
		uint64_t e, next, key;
		if (!rd64(c->t, tc + entries_off + 8 * i, &e) || e == 0)
			continue;
		if ((e & 15) || !rd64(c->t, e, &next) || !rd64(c->t, e + 8, &key))
			return;
		ev->have_entry = true;
		ev->key_is_struct = key == tc;
		ev->key_zero = key == 0;
		ev->safe_linked = mangled(c->t, e, next);
		return;
	}
}

static int evidence_score(const struct hc_glibc_layout *l, const struct heap_evidence *ev)
{
	int score = 0;
	bool tcache_size = ev->first_chunk_size == 0x250 || ev->first_chunk_size == 0x290 ||
			   ev->first_chunk_size == 0x300;
	if (l->has_tcache && ev->first_chunk_size == l->tcache_struct_chunk)
		score += 3;
	else if (tcache_size)
		score -= 2;
	if (ev->safe_linked >= 0)
		score += ((ev->safe_linked == 1) == l->safe_linking) ? 2 : -3;
	if (!ev->have_entry || !l->has_tcache || ev->first_chunk_size != l->tcache_struct_chunk)
		return score;
	if (ev->key_zero)
		score += l->tcache_entry_has_key ? -3 : 2;
	else if (ev->key_is_struct)
		score += (l->tcache_entry_has_key && !l->tcache_key_is_random) ? 2 : -3;
	else
		score += l->tcache_key_is_random ? 2 : -3;
	return score;
}

const struct hc_glibc_layout *hc_loc_pick_layout(const struct hc_loc_ctx *c, uint64_t main_arena,
						 uint64_t mp, struct hc_arena_info *info, char *why,
						 size_t whylen)
{
	const struct hc_glibc_layout *best = NULL;
	int best_score = -1000;
	struct hc_arena_info ai;
	char w[256] = "";
	unsigned first = 0;
	if (c->nlayouts == 0)
		return NULL;
	/* the detected version's layout wins whenever it validates */
	if (c->version_known) {
		if (hc_loc_check_arena(c, c->layouts[0], main_arena, info, w, sizeof(w)))
			return c->layouts[0];
		snprintf(why, whylen, "%s", w);
		first = 1;
	}
	for (unsigned i = first; i < c->nlayouts; i++) {
		const struct hc_glibc_layout *l = c->layouts[i];
		if (!hc_loc_check_arena(c, l, main_arena, &ai, w, sizeof(w))) {
			if (i == 0)
				snprintf(why, whylen, "%s", w);
			continue;
		}
		/* every layout of this shape validates: the evidence that tells them apart */
		int score = 10;
		int ms = -1;
		uint64_t lmp = mp;
		if (mp)
			ms = hc_loc_check_mp(c, l, mp, &ai);
		else
			lmp = hc_loc_scan_mp(c, l, &ai, &ms);
		score += ms >= 0 ? 2 + ms : (mp ? -5 : 0);
		/*
		 * The main heap's first chunk is at sbrk_base, which is not always the
		 * heap mapping's start: a static program's TLS is sbrk()ed first.
		 */
		struct heap_evidence ev;
		uint64_t sbrk = 0;
		if (!(ms >= 0 && lmp && rd64(c->t, lmp + (uint64_t)l->mp_sbrk_base, &sbrk) && sbrk))
			sbrk = ai.heap_start;
		gather_heap_evidence(c, (sbrk + 15) & ~15ULL, &ev);
		if (ev.safe_linked < 0)
			fastbin_evidence(c, l, main_arena, &ev);
		score += evidence_score(l, &ev);
		if (score > best_score) {
			best = l;
			best_score = score;
			*info = ai;
		}
	}
	return best;
}

/* ---- libc and its version ---- */

static const char *base_name(const char *path)
{
	const char *b = strrchr(path, '/');
	return b ? b + 1 : path;
}

static bool is_libc_name(const char *path)
{
	const char *b = base_name(path);
	return strncmp(b, "libc.so", 7) == 0 || (strncmp(b, "libc-", 5) == 0 && isdigit((unsigned char)b[5]));
}

/* "GNU C Library (Debian GLIBC 2.36-9) stable release version 2.36." -> 36 */
static bool parse_banner(const uint8_t *p, size_t len, unsigned *minor)
{
	static const char banner[] = "GNU C Library";
	static const char ver[] = "version 2.";
	const uint8_t *end = p + len;
	for (unsigned hits = 0; hits < 16; hits++) {
		const uint8_t *b = memmem(p, (size_t)(end - p), banner, sizeof(banner) - 1);
		if (!b)
			return false;
		size_t rest = (size_t)(end - b) < 256 ? (size_t)(end - b) : 256;
		const uint8_t *v = memmem(b, rest, ver, sizeof(ver) - 1);
		if (v && v + sizeof(ver) - 1 < end && isdigit(v[sizeof(ver) - 1])) {
			unsigned m = 0;
			for (const uint8_t *d = v + sizeof(ver) - 1; d < end && isdigit(*d) && m < 1000; d++)
				m = m * 10 + (unsigned)(*d - '0');
			*minor = m;
			return true;
		}
		p = b + 1;
	}
	return false;
}

static bool version_from_file(const char *path, unsigned *minor)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	struct stat st;
	bool ok = false;
	if (fstat(fd, &st) == 0 && st.st_size > 0 && st.st_size < (64LL << 20)) {
		void *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
		if (m != MAP_FAILED) {
			ok = parse_banner(m, (size_t)st.st_size, minor);
			munmap(m, (size_t)st.st_size);
		}
	}
	close(fd);
	return ok;
}

/* The banner from libc's mappings when the core holds them (a core with file-backed pages dumped). */
static bool version_from_core(const struct hc_loc_ctx *c, uint64_t start, uint64_t end, unsigned *minor)
{
	uint64_t scanned = 0;
	for (uint64_t a = start; a < end && scanned < HC_LOC_MAX_SCAN_BYTES;) {
		struct hc_span sp;
		hc_target_span(c->t, a, end - a, &sp);
		if (sp.len == 0) {
			const struct hc_segment *seg = hc_target_segment(c->t, a);
			uint64_t next = seg ? seg->start + seg->dumped : 0;
			if (!seg || next <= a) {
				/* skip to the next segment that starts after a */
				uint64_t n = end;
				for (uint32_t i = 0; i < c->t->nsegments; i++)
					if (c->t->segments[i].start > a) {
						n = c->t->segments[i].start;
						break;
					}
				a = n;
			} else {
				a = seg->end;
			}
			continue;
		}
		uint8_t *buf = malloc(sp.len);
		if (!buf)
			return false;
		bool ok = hc_span_read(&sp, sp.addr, buf, sp.len) && parse_banner(buf, sp.len, minor);
		free(buf);
		if (ok)
			return true;
		scanned += sp.len;
		a = sp.addr + sp.len;
	}
	return false;
}

static bool version_from_name(const char *path, unsigned *minor)
{
	const char *b = base_name(path);
	unsigned m;
	char tail[8];
	if (sscanf(b, "libc-2.%u%7s", &m, tail) == 2 && strcmp(tail, ".so") == 0) {
		*minor = m;
		return true;
	}
	return false;
}

static void add_region(struct hc_loc_ctx *c, uint64_t start, uint64_t end)
{
	if (c->nregions < HC_LOC_MAX_REGIONS && end > start)
		c->regions[c->nregions++] = (struct hc_loc_region){ start, end };
}

/* libc's writable segments, and the anonymous one right after them that holds the rest of .bss. */
static void find_regions(struct hc_loc_ctx *c, uint64_t start, uint64_t end)
{
	const struct hc_target *t = c->t;
	uint64_t last_end = 0;
	for (uint32_t i = 0; i < t->nsegments; i++) {
		const struct hc_segment *seg = &t->segments[i];
		if (seg->end <= start || seg->start >= end || !(seg->perms & HC_PERM_W))
			continue;
		add_region(c, seg->start, seg->end);
		if (seg->end > last_end)
			last_end = seg->end;
	}
	if (last_end == 0)
		return;
	const struct hc_segment *next = hc_target_segment(t, last_end);
	if (next && next->start == last_end && next->file < 0 && (next->perms & HC_PERM_W))
		add_region(c, next->start, next->end);
}

static void setup(struct hc_loc_ctx *c, struct hc_target *t, struct hc_symbols *s)
{
	memset(c, 0, sizeof(*c));
	c->t = t;
	c->s = s;
	uint64_t start = 0, end = 0;
	if (s) {
		c->libc = hc_symbols_module_by_name(s, "libc.so");
		if (!c->libc)
			c->libc = hc_symbols_module_by_name(s, "libc-");
	}
	if (c->libc) {
		start = c->libc->start;
		end = c->libc->end;
		c->libc_name = c->libc->name;
	} else {
		/* no module list: libc's mappings straight from NT_FILE */
		for (uint32_t i = 0; i < t->nfiles; i++) {
			if (!is_libc_name(t->files[i].path))
				continue;
			if (!start || t->files[i].start < start)
				start = t->files[i].start;
			if (t->files[i].end > end)
				end = t->files[i].end;
			c->libc_name = t->files[i].path;
		}
		if (!start && s) {
			/* a static executable carries its own malloc */
			c->libc = hc_symbols_main_module(s);
			if (c->libc) {
				start = c->libc->start;
				end = c->libc->end;
				c->libc_name = c->libc->name;
			}
		}
	}
	if (start < end)
		find_regions(c, start, end);

	unsigned minor = 0;
	bool known = false;
	if (c->libc && c->libc->file_path && c->libc->file_status == HC_MODULE_FILE_FOUND)
		known = version_from_file(c->libc->file_path, &minor);
	if (!known && start < end)
		known = version_from_core(c, start, end, &minor);
	if (!known && c->libc_name)
		known = version_from_name(c->libc_name, &minor);
	const struct hc_glibc_layout *l = known ? hc_glibc_layout_for_minor(minor) : NULL;
	unsigned n;
	const struct hc_glibc_layout *const *all = hc_glibc_layouts(&n);
	if (l) {
		c->version_known = true;
		c->minor = minor;
		snprintf(c->version, sizeof(c->version), "2.%u", minor);
		c->layouts[c->nlayouts++] = l;
	}
	/* the rest too: a known version's layout is tried first, the others only if it fails */
	for (unsigned i = 0; i < n && c->nlayouts < HC_LOC_MAX_LAYOUTS; i++)
		if (all[i] != l)
			c->layouts[c->nlayouts++] = all[i];
	if (known && !l)
		hc_warnings_add(&t->warnings, HC_WARN_INFO,
				"glibc 2.%u has no known malloc layout; trying every one", minor);
}

/* ---- DWARF cross-check ---- */

struct dwarf_field {
	const char *strct, *member;
	size_t off; /* offsetof in struct hc_glibc_layout */
};

static const struct dwarf_field dwarf_fields[] = {
	{ "malloc_state", "top", offsetof(struct hc_glibc_layout, ms_top) },
	{ "malloc_state", "bins", offsetof(struct hc_glibc_layout, ms_bins) },
	{ "malloc_state", "next", offsetof(struct hc_glibc_layout, ms_next) },
	{ "malloc_state", "system_mem", offsetof(struct hc_glibc_layout, ms_system_mem) },
	{ "malloc_state", "fastbinsY", offsetof(struct hc_glibc_layout, ms_fastbins) },
	{ "malloc_state", "have_fastchunks", offsetof(struct hc_glibc_layout, ms_have_fastchunks) },
	{ "malloc_state", "attached_threads", offsetof(struct hc_glibc_layout, ms_attached_threads) },
	{ "malloc_par", "n_mmaps", offsetof(struct hc_glibc_layout, mp_n_mmaps) },
	{ "malloc_par", "mmapped_mem", offsetof(struct hc_glibc_layout, mp_mmapped_mem) },
	{ "malloc_par", "sbrk_base", offsetof(struct hc_glibc_layout, mp_sbrk_base) },
	{ "malloc_par", "tcache_count", offsetof(struct hc_glibc_layout, mp_tcache_count) },
	{ "tcache_perthread_struct", "entries", offsetof(struct hc_glibc_layout, tcache_entries_offset) },
};

/* 1: DWARF agrees, 0: it disagrees, -1: no DWARF for these structs. */
static int dwarf_agrees(const struct hc_loc_ctx *c, const struct hc_glibc_layout *l)
{
	int checked = 0;
	for (size_t i = 0; i < sizeof(dwarf_fields) / sizeof(dwarf_fields[0]); i++) {
		const struct dwarf_field *f = &dwarf_fields[i];
		int64_t want;
		if (f->off == offsetof(struct hc_glibc_layout, tcache_entries_offset))
			want = l->has_tcache ? (int64_t)l->tcache_entries_offset : -1;
		else
			want = *(const int32_t *)((const char *)l + f->off);
		uint64_t got;
		bool have = hc_symbols_member_offset(c->s, c->libc, f->strct, f->member, &got);
		if (!have) {
			/* a member that no longer exists (tcache_count before 2.26) is fine when the table says so */
			continue;
		}
		checked++;
		if (want < 0 || (uint64_t)want != got)
			return 0;
	}
	uint64_t size;
	if (hc_symbols_struct_size(c->s, c->libc, "malloc_state", &size)) {
		checked++;
		if (size != l->ms_size)
			return 0;
	}
	if (hc_symbols_struct_size(c->s, c->libc, "_heap_info", &size)) {
		checked++;
		if (size != l->heap_info_size)
			return 0;
	}
	return checked ? 1 : -1;
}

/*
 * When libc's DWARF is there, it is the truth: if the table's layout for the
 * detected version disagrees, use the table's layout that agrees, and warn.
 */
static void apply_dwarf(struct hc_loc_ctx *c)
{
	if (!c->s || !c->libc || !c->libc->has_dwarf || c->nlayouts == 0)
		return;
	int first = dwarf_agrees(c, c->layouts[0]);
	if (first != 0)
		return;
	for (unsigned i = 1; i < c->nlayouts; i++) {
		if (dwarf_agrees(c, c->layouts[i]) == 1) {
			hc_warnings_add(&c->t->warnings, HC_WARN_INFO,
					"libc's DWARF disagrees with the glibc %s malloc layout; using layout %s, "
					"which matches it",
					c->layouts[0]->name, c->layouts[i]->name);
			const struct hc_glibc_layout *tmp = c->layouts[0];
			c->layouts[0] = c->layouts[i];
			c->layouts[i] = tmp;
			return;
		}
	}
	hc_warnings_add(&c->t->warnings, HC_WARN_PARTIAL,
			"libc's DWARF matches no known glibc malloc layout; using %s", c->layouts[0]->name);
}

/* ---- SYMBOLS ---- */

/*
 * The tcache TLS slot from the `tcache` TLS symbol: the symbol gives the
 * offset inside libc's TLS block, and the thread's DTV gives the block.
 * libc's module id is unknown, so each DTV entry is tried and the checks
 * over every thread decide.
 */
static bool tcache_from_tls_symbol(const struct hc_loc_ctx *c, const struct hc_glibc_layout *l,
				   uint64_t tls_off, int64_t *off)
{
	const struct hc_target *t = c->t;
	int best = 0;
	for (uint32_t ti = 0; ti < t->nthreads && ti < 8; ti++) {
		const struct hc_thread *th = &t->threads[ti];
		uint64_t dtv, count;
		if (!th->has_tp || !th->tp)
			continue;
		/* tcbhead_t: x86-64 {tcb, dtv, self, ...}; aarch64 {dtv, private} */
		uint64_t dtv_at = t->arch == HC_ARCH_X86_64 ? th->tp + 8 : th->tp;
		if (!rd64(t, dtv_at, &dtv) || !dtv || !rd64(t, dtv - 16, &count))
			continue;
		if (count > 64)
			count = 64;
		for (uint64_t m = 1; m <= count; m++) {
			uint64_t block;
			if (!rd64(t, dtv + 16 * m, &block) || block == 0 || block == UINT64_MAX)
				continue;
			int64_t cand = (int64_t)(block + tls_off - th->tp);
			if (cand < -(int64_t)HC_LOC_TLS_WINDOW * 64 || cand > (int64_t)HC_LOC_TLS_WINDOW * 64)
				continue; /* dynamic TLS (dlopen), not libc's static block */
			int score = hc_loc_check_tcache_offset(c, l, cand, NULL);
			if (score > best) {
				best = score;
				*off = cand;
			}
		}
		if (best > 0)
			return true;
	}
	return false;
}

static bool by_symbols(const struct hc_loc_ctx *c, struct hc_glibc_location *out, char *why, size_t whylen)
{
	if (!c->s || !c->libc) {
		snprintf(why, whylen, "no libc module in the target");
		return false;
	}
	if (!c->libc->has_symtab) {
		snprintf(why, whylen, "no debug info for libc (%s): %s", c->libc_name ? c->libc_name : "?",
			 c->libc->file_status != HC_MODULE_FILE_FOUND
				 ? "its file was not opened, so no .symtab"
				 : "no .symtab in its file or a debug file (libc6-dbg not installed?)");
		return false;
	}
	struct hc_symbol sym;
	if (!hc_symbols_lookup(c->s, c->libc, "main_arena", &sym) || sym.is_tls) {
		snprintf(why, whylen, "libc's .symtab has no main_arena");
		return false;
	}
	uint64_t mp = 0;
	struct hc_symbol mps;
	if (hc_symbols_lookup(c->s, c->libc, "mp_", &mps) && !mps.is_tls)
		mp = mps.address;
	struct hc_arena_info info;
	char w[200] = "";
	const struct hc_glibc_layout *l = hc_loc_pick_layout(c, sym.address, mp, &info, w, sizeof(w));
	if (!l) {
		snprintf(why, whylen, "main_arena (0x%llx) does not validate: %s", (unsigned long long)sym.address, w);
		return false;
	}
	out->layout = l;
	out->main_arena = sym.address;
	if (mp && hc_loc_check_mp(c, l, mp, &info) >= 0) {
		out->mp = mp;
		out->mp_method = HC_ARENA_METHOD_SYMBOLS;
	}
	struct hc_symbol ts;
	if (l->has_tcache && hc_symbols_lookup(c->s, c->libc, "tcache", &ts) && ts.is_tls) {
		int64_t off, base;
		/* the symbols layer's static TLS layout first (no thread need hold a tcache), then the DTV */
		if (hc_symbols_static_tls_offset(c->s, c->libc, &base) &&
		    hc_loc_check_tcache_offset(c, l, base + (int64_t)ts.address, NULL) >= 0) {
			out->have_tcache_tp_offset = true;
			out->tcache_tp_offset = base + (int64_t)ts.address;
			out->tcache_method = HC_ARENA_METHOD_SYMBOLS;
		} else if (tcache_from_tls_symbol(c, l, ts.address, &off)) {
			out->have_tcache_tp_offset = true;
			out->tcache_tp_offset = off;
			out->tcache_method = HC_ARENA_METHOD_SYMBOLS;
		}
	}
	struct hc_symbol ks;
	if (l->tcache_key_is_random && hc_symbols_lookup(c->s, c->libc, "tcache_key", &ks) && !ks.is_tls) {
		uint64_t key;
		if (rd64(c->t, ks.address, &key))
			out->tcache_key = key;
	}
	return true;
}

/* ---- filling in what the method did not find ---- */

/* 2.34+: every chunk in a tcache holds tcache_key at user+8. */
static uint64_t key_from_tcache(const struct hc_loc_ctx *c, const struct hc_glibc_location *loc)
{
	const struct hc_glibc_layout *l = loc->layout;
	for (uint32_t ti = 0; ti < c->t->nthreads && ti < HC_LOC_MAX_THREADS; ti++) {
		const struct hc_thread *th = &c->t->threads[ti];
		uint64_t tc;
		if (!th->has_tp || !rd64(c->t, th->tp + (uint64_t)loc->tcache_tp_offset, &tc) || !tc)
			continue;
		for (uint32_t i = 0; i < l->tcache_nbins; i++) {
			uint64_t e, key;
			if (!rd64(c->t, tc + l->tcache_entries_offset + 8 * i, &e) || !e)
				continue;
			if ((e & 15) == 0 && rd64(c->t, e + 8, &key) && key != 0 && key != tc)
				return key;
		}
	}
	return 0;
}

static void complete(const struct hc_loc_ctx *c, struct hc_glibc_location *out)
{
	const struct hc_glibc_layout *l = out->layout;
	struct hc_arena_info info;
	char why[128];
	if (!hc_loc_check_arena(c, l, out->main_arena, &info, why, sizeof(why)))
		return;
	if (!out->mp) {
		int score;
		uint64_t mp = hc_loc_scan_mp(c, l, &info, &score);
		if (mp) {
			out->mp = mp;
			out->mp_method = HC_ARENA_METHOD_SCAN;
		}
	}
	if (l->has_tcache && !out->have_tcache_tp_offset && out->method != HC_ARENA_METHOD_SCAN &&
	    c->s && c->libc && c->libc->file_status == HC_MODULE_FILE_FOUND) {
		if (hc_loc_disasm_tcache(c, out))
			out->tcache_method = HC_ARENA_METHOD_DISASSEMBLY;
	}
	if (l->has_tcache && !out->have_tcache_tp_offset) {
		int64_t off;
		if (hc_loc_calibrate_tcache(c, l, out->main_arena, &info, &off)) {
			out->have_tcache_tp_offset = true;
			out->tcache_tp_offset = off;
			out->tcache_method = HC_ARENA_METHOD_SCAN;
		}
	}
	if (l->tcache_key_is_random && !out->tcache_key && out->have_tcache_tp_offset)
		out->tcache_key = key_from_tcache(c, out);
}

static bool run_method(const struct hc_loc_ctx *c, enum hc_arena_method m, struct hc_glibc_location *out,
		       char *why, size_t whylen)
{
	switch (m) {
	case HC_ARENA_METHOD_SYMBOLS:
		return by_symbols(c, out, why, whylen);
	case HC_ARENA_METHOD_DISASSEMBLY:
		return hc_loc_by_disasm(c, out, why, whylen);
	case HC_ARENA_METHOD_SCAN:
		return hc_loc_by_scan(c, out, why, whylen);
	case HC_ARENA_METHOD_AUTO:
		break;
	}
	snprintf(why, whylen, "no such method");
	return false;
}

int hc_glibc_dwarf_verdict(struct hc_symbols *s, const struct hc_module *libc, const struct hc_glibc_layout *l)
{
	if (!s || !libc || !libc->has_dwarf || !l)
		return -1;
	struct hc_loc_ctx c;
	memset(&c, 0, sizeof(c));
	c.s = s;
	c.libc = libc;
	return dwarf_agrees(&c, l);
}

struct hc_error *hc_glibc_locate(struct hc_target *t, struct hc_symbols *s, enum hc_arena_method method,
				 struct hc_glibc_location *out)
{
	return hc_glibc_locate_opts(t, s, method, true, out);
}

/*
 * A core cut before libc's data has no main_arena, but its main heap may be
 * whole: the anonymous writable mapping that starts with the tcache's own
 * chunk (the first chunk malloc ever carves, glibc 2.26+). The layout is the
 * known version's, else the newest whose tcache chunk has that size.
 */
static bool locate_headless(const struct hc_loc_ctx *c, struct hc_glibc_location *out)
{
	const struct hc_target *t = c->t;
	for (uint32_t i = 0; i < t->nsegments; i++) {
		const struct hc_segment *seg = &t->segments[i];
		uint64_t prev_size, size;
		if (!(seg->perms & HC_PERM_W) || seg->file >= 0 || !rd64(t, seg->start, &prev_size) ||
		    !rd64(t, seg->start + 8, &size) || prev_size != 0 || (size & 7) != 1)
			continue;
		for (unsigned k = 0; k < c->nlayouts; k++) {
			const struct hc_glibc_layout *l = c->layouts[k];
			if (c->version_known && k > 0)
				break;
			if (!l->has_tcache || (size & ~7ull) != l->tcache_struct_chunk)
				continue;
			memset(out, 0, sizeof(*out));
			out->layout = l;
			out->headless = true;
			out->main_heap = seg->start;
			out->libc = c->libc;
			out->method = HC_ARENA_METHOD_AUTO;
			out->version_known = c->version_known;
			snprintf(out->version, sizeof(out->version), "%s", c->version_known ? c->version : l->name);
			return true;
		}
	}
	return false;
}

struct hc_error *hc_glibc_locate_opts(struct hc_target *t, struct hc_symbols *s, enum hc_arena_method method,
				      bool check_dwarf, struct hc_glibc_location *out)
{
	if (!t || !out)
		return hc_error_create(HC_ERR_INTERNAL, "hc_glibc_locate: no target");
	memset(out, 0, sizeof(*out));
	if (t->arch != HC_ARCH_X86_64 && t->arch != HC_ARCH_AARCH64)
		return hc_error_create(HC_ERR_UNSUPPORTED, "glibc heap: unsupported architecture");
	if (method > HC_ARENA_METHOD_SCAN)
		return hc_error_create(HC_ERR_USAGE, "unknown arena method %d", (int)method);

	struct hc_loc_ctx *c = malloc(sizeof(*c));
	if (!c)
		return &hc_error_nomem;
	setup(c, t, s);
	if (check_dwarf)
		apply_dwarf(c);

	static const enum hc_arena_method order[] = { HC_ARENA_METHOD_SYMBOLS, HC_ARENA_METHOD_DISASSEMBLY,
						      HC_ARENA_METHOD_SCAN };
	char whys[3][256];
	bool found = false;
	for (unsigned i = 0; i < 3 && !found; i++) {
		whys[i][0] = '\0';
		if (method != HC_ARENA_METHOD_AUTO && method != order[i])
			continue;
		struct hc_glibc_location loc;
		memset(&loc, 0, sizeof(loc));
		c->address_is_known = order[i] == HC_ARENA_METHOD_SYMBOLS;
		if (run_method(c, order[i], &loc, whys[i], sizeof(whys[i]))) {
			loc.method = order[i];
			*out = loc;
			found = true;
		}
	}
	struct hc_error *err = NULL;
	if (!found && method == HC_ARENA_METHOD_AUTO && t->truncated && locate_headless(c, out)) {
		hc_warnings_add(&t->warnings, HC_WARN_PARTIAL,
				"glibc main_arena is not in the core (symbols: %s; disassembly: %s; scan: %s): the "
				"core was cut before libc's data; the main heap is walked from its chunks alone: "
				"free chunks known only by their neighbours' PREV_INUSE bits, fastbin chunks "
				"counted as in use",
				whys[0], whys[1], whys[2]);
		free(c);
		return NULL;
	}
	if (!found) {
		if (method != HC_ARENA_METHOD_AUTO) {
			unsigned i = method == HC_ARENA_METHOD_SYMBOLS ? 0 : method == HC_ARENA_METHOD_DISASSEMBLY ? 1 : 2;
			err = hc_error_create(HC_ERR_NOT_FOUND, "glibc main_arena not found by %s: %s",
					      hc_arena_method_name(method), whys[i]);
		} else {
			err = hc_error_create(HC_ERR_NOT_FOUND,
					      "glibc main_arena not found (symbols: %s; disassembly: %s; scan: %s)",
					      whys[0], whys[1], whys[2]);
		}
		free(c);
		return err;
	}
	out->libc = c->libc;
	c->address_is_known = out->method == HC_ARENA_METHOD_SYMBOLS;
	complete(c, out);
	if (c->version_known && out->layout == c->layouts[0]) {
		snprintf(out->version, sizeof(out->version), "%s", c->version);
		out->version_known = true;
	} else {
		if (c->version_known)
			hc_warnings_add(&t->warnings, HC_WARN_PARTIAL,
					"libc says glibc %s, but its main_arena validates only as glibc %s", c->version,
					out->layout->name);
		snprintf(out->version, sizeof(out->version), "%s", out->layout->name);
		out->version_known = false;
	}
	free(c);
	return NULL;
}
