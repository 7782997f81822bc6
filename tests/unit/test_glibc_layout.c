/*
 * The per-version glibc malloc layouts: they cover every supported release
 * once, agree with the sizes of the field guide (docs/arena-discovery.md),
 * hang together arithmetically, and match the DWARF of the libc6-dbg that
 * ships with each glibc we can run (the host's, and the runtimes' cores).
 */
#include <CUnit/CUnit.h>
#include <gnu/libc-version.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixtures.h"
#include "heap_program.h"
#include "heapcore/glibc_heap.h"
#include "heapcore/symbols.h"
#include "heapcore/target.h"
#include "suites.h"
#include "truth.h"

static void test_every_release_from_2_17_to_2_44_has_exactly_one_layout(void)
{
	unsigned n;
	const struct hc_glibc_layout *const *all = hc_glibc_layouts(&n);
	CU_ASSERT_FATAL(n > 0);
	for (unsigned minor = 17; minor <= 44; minor++) {
		unsigned owners = 0;
		for (unsigned i = 0; i < n; i++)
			owners += minor >= all[i]->min_minor && minor <= all[i]->max_minor;
		CU_ASSERT_EQUAL(owners, 1);
		const struct hc_glibc_layout *l = hc_glibc_layout_for_minor(minor);
		CU_ASSERT_PTR_NOT_NULL(l);
		if (l)
			CU_ASSERT(minor >= l->min_minor && minor <= l->max_minor);
	}
	CU_ASSERT_PTR_NULL(hc_glibc_layout_for_minor(16));
	CU_ASSERT_PTR_NULL(hc_glibc_layout_for_minor(45));
	/* newest first, so that an unknown version tries the likeliest first */
	for (unsigned i = 1; i < n; i++)
		CU_ASSERT(all[i - 1]->min_minor > all[i]->max_minor);
}

/* Sizes from glibc's sources per release (the field guide's tables 1.2-1.5). */
struct expected {
	unsigned minor;
	uint32_t ms_size, heap_info_size;
	int32_t mp_sbrk_base;
	uint32_t tcache_chunk;    /* 0: no tcache */
	bool has_key, key_random, safe_linking, no_fastbins;
};

static const struct expected expected[] = {
	{ 17, 2184, 0x20, 80, 0, false, false, false, false },
	{ 22, 2184, 0x20, 80, 0, false, false, false, false },
	{ 23, 2192, 0x20, 80, 0, false, false, false, false },
	{ 24, 2192, 0x20, 72, 0, false, false, false, false },
	{ 25, 2192, 0x20, 72, 0, false, false, false, false },
	{ 26, 2192, 0x20, 72, 0x250, false, false, false, false },
	{ 27, 2200, 0x20, 72, 0x250, false, false, false, false },
	{ 28, 2200, 0x20, 72, 0x250, false, false, false, false },
	{ 29, 2200, 0x20, 72, 0x250, true, false, false, false },
	{ 30, 2200, 0x20, 72, 0x290, true, false, false, false },
	{ 31, 2200, 0x20, 72, 0x290, true, false, false, false },
	{ 32, 2200, 0x20, 72, 0x290, true, false, true, false },
	{ 33, 2200, 0x20, 72, 0x290, true, false, true, false },
	{ 34, 2200, 0x20, 72, 0x290, true, true, true, false },
	{ 35, 2200, 0x30, 96, 0x290, true, true, true, false },
	{ 36, 2200, 0x30, 96, 0x290, true, true, true, false },
	{ 41, 2200, 0x30, 96, 0x290, true, true, true, false },
	{ 42, 2200, 0x30, 96, 0x300, true, true, true, false },
	{ 43, 2112, 0x30, 104, 0x300, true, true, true, true },
	{ 44, 2112, 0x30, 104, 0x300, true, true, true, true },
};

static void test_sizes_per_release_match_the_field_guide(void)
{
	for (size_t i = 0; i < sizeof(expected) / sizeof(expected[0]); i++) {
		const struct expected *e = &expected[i];
		const struct hc_glibc_layout *l = hc_glibc_layout_for_minor(e->minor);
		CU_ASSERT_PTR_NOT_NULL_FATAL(l);
		bool ok = l->ms_size == e->ms_size && l->heap_info_size == e->heap_info_size &&
			  l->mp_sbrk_base == e->mp_sbrk_base && l->has_tcache == (e->tcache_chunk != 0) &&
			  (!e->tcache_chunk || l->tcache_struct_chunk == e->tcache_chunk) &&
			  l->tcache_entry_has_key == e->has_key && l->tcache_key_is_random == e->key_random &&
			  l->safe_linking == e->safe_linking && (l->nfastbins == 0) == e->no_fastbins &&
			  l->mmapped_size_excludes_header == (e->minor >= 43) &&
			  l->tcache_counts_free_slots == (e->minor >= 42) &&
			  (!l->has_tcache || l->tcache_fill_count == (e->minor >= 43 ? 16u : 7u));
		if (!ok)
			fprintf(stderr, "\n  glibc 2.%u: layout %s differs from the field guide\n", e->minor, l->name);
		CU_ASSERT(ok);
	}
}

static void test_offsets_follow_each_other_as_the_structs_declare(void)
{
	unsigned n;
	const struct hc_glibc_layout *const *all = hc_glibc_layouts(&n);
	for (unsigned i = 0; i < n; i++) {
		const struct hc_glibc_layout *l = all[i];
		/* malloc_state: [fastbinsY[10]] top last_remainder bins[254] binmap[4] next next_free ... */
		CU_ASSERT_EQUAL(l->ms_flags, 4);
		int32_t top = l->nfastbins ? l->ms_fastbins + 8 * (int32_t)l->nfastbins : 8;
		CU_ASSERT_EQUAL(l->ms_top, top);
		CU_ASSERT_EQUAL(l->ms_last_remainder, l->ms_top + 8);
		CU_ASSERT_EQUAL(l->ms_bins, l->ms_last_remainder + 8);
		CU_ASSERT_EQUAL(l->ms_binmap, l->ms_bins + 254 * 8);
		CU_ASSERT_EQUAL(l->ms_next, l->ms_binmap + 16);
		CU_ASSERT_EQUAL(l->ms_next_free, l->ms_next + 8);
		int32_t after_free = l->ms_next_free + 8;
		if (l->ms_attached_threads >= 0) {
			CU_ASSERT_EQUAL(l->ms_attached_threads, after_free);
			after_free += 8;
		}
		CU_ASSERT_EQUAL(l->ms_system_mem, after_free);
		CU_ASSERT_EQUAL(l->ms_max_system_mem, l->ms_system_mem + 8);
		CU_ASSERT_EQUAL(l->ms_size, (uint32_t)l->ms_max_system_mem + 8);
		/* malloc_par: ints n_mmaps.. then mmapped_mem, max_mmapped_mem, [max_total_mem], sbrk_base */
		CU_ASSERT_EQUAL(l->mp_arena_test, 24);
		CU_ASSERT_EQUAL(l->mp_n_mmaps_max, l->mp_n_mmaps + 4);
		CU_ASSERT_EQUAL(l->mp_max_mmapped_mem, l->mp_mmapped_mem + 8);
		CU_ASSERT(l->mp_sbrk_base == l->mp_max_mmapped_mem + 8 || l->mp_sbrk_base == l->mp_max_mmapped_mem + 16);
		if (l->has_tcache) {
			CU_ASSERT_EQUAL(l->mp_tcache_bins, l->mp_sbrk_base + 8);
			CU_ASSERT(l->tcache_counts_width == 1 || l->tcache_counts_width == 2);
			CU_ASSERT_EQUAL(l->mp_tcache_max_bytes, l->mp_tcache_bins + 8);
			CU_ASSERT_EQUAL(l->mp_tcache_count, l->mp_tcache_max_bytes + 8);
			CU_ASSERT((uint32_t)l->mp_tcache_count + 8 <= l->mp_size);
			/* tcache_perthread_struct { counts[nbins]; entries[nbins]; }, as a chunk */
			CU_ASSERT_EQUAL(l->tcache_entries_offset, l->tcache_counts_width * l->tcache_nbins);
			uint32_t size = l->tcache_entries_offset + 8 * l->tcache_nbins;
			CU_ASSERT_EQUAL(l->tcache_struct_chunk, (size + 8 + 15) & ~15u);
		}
		if (!l->has_tcache) {
			CU_ASSERT_EQUAL(l->mp_tcache_count, -1);
			CU_ASSERT_EQUAL(l->mp_size, (uint32_t)l->mp_sbrk_base + 8);
		}
		CU_ASSERT_EQUAL(l->heap_max_size, 64ULL << 20);
	}
}

/* ---- DWARF ---- */

struct dwarf_member {
	const char *strct, *member, *alt_member; /* alt: the 2.42+ name of the same field */
	size_t field;                            /* offsetof in struct hc_glibc_layout (an int32_t) */
};

#define F(x) offsetof(struct hc_glibc_layout, x)
static const struct dwarf_member members[] = {
	{ "malloc_state", "flags", NULL, F(ms_flags) },
	{ "malloc_state", "have_fastchunks", NULL, F(ms_have_fastchunks) },
	{ "malloc_state", "fastbinsY", NULL, F(ms_fastbins) },
	{ "malloc_state", "top", NULL, F(ms_top) },
	{ "malloc_state", "last_remainder", NULL, F(ms_last_remainder) },
	{ "malloc_state", "bins", NULL, F(ms_bins) },
	{ "malloc_state", "binmap", NULL, F(ms_binmap) },
	{ "malloc_state", "next", NULL, F(ms_next) },
	{ "malloc_state", "next_free", NULL, F(ms_next_free) },
	{ "malloc_state", "attached_threads", NULL, F(ms_attached_threads) },
	{ "malloc_state", "system_mem", NULL, F(ms_system_mem) },
	{ "malloc_state", "max_system_mem", NULL, F(ms_max_system_mem) },
	{ "malloc_par", "arena_test", NULL, F(mp_arena_test) },
	{ "malloc_par", "n_mmaps", NULL, F(mp_n_mmaps) },
	{ "malloc_par", "n_mmaps_max", NULL, F(mp_n_mmaps_max) },
	{ "malloc_par", "mmapped_mem", NULL, F(mp_mmapped_mem) },
	{ "malloc_par", "max_mmapped_mem", NULL, F(mp_max_mmapped_mem) },
	{ "malloc_par", "sbrk_base", NULL, F(mp_sbrk_base) },
	{ "malloc_par", "tcache_bins", "tcache_small_bins", F(mp_tcache_bins) },
	{ "malloc_par", "tcache_max_bytes", NULL, F(mp_tcache_max_bytes) },
	{ "malloc_par", "tcache_count", NULL, F(mp_tcache_count) },
};
#undef F

/* Counts the differences between the table's layout for 2.<minor> and libc's DWARF. */
static unsigned dwarf_differences(const struct hc_symbols *s, const struct hc_module *libc, unsigned minor)
{
	const struct hc_glibc_layout *l = hc_glibc_layout_for_minor(minor);
	if (!l) {
		fprintf(stderr, "\n  no layout for glibc 2.%u\n", minor);
		return 1;
	}
	unsigned diffs = 0;
	for (size_t i = 0; i < sizeof(members) / sizeof(members[0]); i++) {
		const struct dwarf_member *m = &members[i];
		int32_t want;
		memcpy(&want, (const char *)l + m->field, sizeof(want));
		uint64_t got;
		bool have = hc_symbols_member_offset(s, libc, m->strct, m->member, &got) ||
			    (m->alt_member && hc_symbols_member_offset(s, libc, m->strct, m->alt_member, &got));
		if (have ? (want < 0 || (uint64_t)want != got) : want >= 0) {
			fprintf(stderr, "\n  glibc 2.%u %s.%s: table %d, DWARF %lld\n", minor, m->strct, m->member, want,
				have ? (long long)got : -1LL);
			diffs++;
		}
	}
	uint64_t size, entries;
	if (!hc_symbols_struct_size(s, libc, "malloc_state", &size) || size != l->ms_size) {
		fprintf(stderr, "\n  glibc 2.%u sizeof(malloc_state) differs\n", minor);
		diffs++;
	}
	if (!hc_symbols_struct_size(s, libc, "_heap_info", &size) || size != l->heap_info_size) {
		fprintf(stderr, "\n  glibc 2.%u sizeof(heap_info) differs\n", minor);
		diffs++;
	}
	/* mp_size is what heapcore reads: all of malloc_par but 2.43's last, unused field */
	if (!hc_symbols_struct_size(s, libc, "malloc_par", &size) || size < l->mp_size || size > l->mp_size + 8) {
		fprintf(stderr, "\n  glibc 2.%u sizeof(malloc_par) does not fit mp_size\n", minor);
		diffs++;
	}
	if (l->has_tcache &&
	    (!hc_symbols_member_offset(s, libc, "tcache_perthread_struct", "entries", &entries) ||
	     entries != l->tcache_entries_offset ||
	     !hc_symbols_struct_size(s, libc, "tcache_perthread_struct", &size) ||
	     ((size + 8 + 15) & ~15ULL) != l->tcache_struct_chunk)) {
		fprintf(stderr, "\n  glibc 2.%u tcache_perthread_struct differs\n", minor);
		diffs++;
	}
	return diffs;
}

static void test_installed_glibc_layout_matches_libc6_dbg_dwarf(void)
{
	unsigned minor = 0;
	CU_ASSERT_FATAL(sscanf(gnu_get_libc_version(), "2.%u", &minor) == 1);
	const char *core = hc_fixture_make_core("cli_heap", hc_heap_program);
	CU_ASSERT_PTR_NOT_NULL_FATAL(core);
	struct hc_target *t = NULL;
	struct hc_symbols *s = NULL;
	struct hc_symbol_options so = { 0 };
	struct hc_error *err = hc_target_open_core(core, &t);
	if (!err)
		err = hc_symbols_open(t, &so, &s);
	CU_ASSERT_PTR_NULL_FATAL(err);
	const struct hc_module *libc = hc_symbols_module_by_name(s, "libc.so");
	CU_ASSERT_PTR_NOT_NULL(libc);
	if (libc) {
		if (!libc->has_dwarf)
			fprintf(stderr, "\n  libc has no DWARF: install libc6-dbg (scripts/install-deps.sh does)\n");
		CU_ASSERT(libc->has_dwarf);
		if (libc->has_dwarf)
			CU_ASSERT_EQUAL(dwarf_differences(s, libc, minor), 0);
	}
	hc_symbols_destroy(s);
	hc_target_destroy(t);
}

struct runtime_check {
	unsigned checked, diffs;
};

static void check_runtime_core(const struct truth *tr, void *arg)
{
	struct runtime_check *rc = arg;
	const char *v = json_string_value(json_object_get(tr->json, "glibc_version"));
	unsigned minor;
	if (!v || sscanf(v, "2.%u", &minor) != 1 || !strstr(tr->core, "heap_basic"))
		return;
	struct hc_target *t = NULL;
	struct hc_symbols *s = NULL;
	struct hc_symbol_options so = { .sysroot = tr->sysroot[0] ? tr->sysroot : NULL };
	struct hc_error *err = hc_target_open_core(tr->core, &t);
	if (!err)
		err = hc_symbols_open(t, &so, &s);
	if (err) {
		fprintf(stderr, "\n  %s: %s\n", tr->core, err->message);
		hc_error_destroy(err);
		rc->diffs++;
	} else {
		const struct hc_module *libc = hc_symbols_module_by_name(s, "libc.so");
		if (!libc || !libc->has_dwarf) {
			fprintf(stderr, "\n  %s: libc has no DWARF in runtime %s\n", tr->core, tr->runtime);
			rc->diffs++;
		} else {
			rc->diffs += dwarf_differences(s, libc, minor);
			rc->checked++;
		}
	}
	hc_symbols_destroy(s);
	hc_target_destroy(t);
}

static void test_runtime_glibc_layouts_match_their_libc6_dbg_dwarf(void)
{
	/* 2.41 (trixie) and 2.43 (sid) from scripts/make-test-cores.sh, when they were made */
	struct runtime_check rc = { 0, 0 };
	unsigned cores = truth_for_each("trixie", "heap_basic", check_runtime_core, &rc);
	cores += truth_for_each("sid", "heap_basic", check_runtime_core, &rc);
	if (cores == 0)
		fprintf(stderr, "\n  no trixie/sid cores under $HEAPCORE_CORES_DIR: runtime DWARF not compared\n");
	CU_ASSERT_EQUAL(rc.diffs, 0);
	CU_ASSERT_EQUAL(rc.checked, cores);
}

void hc_test_register_glibc_layout(void)
{
	CU_pSuite s = CU_add_suite("glibc_layout", NULL, NULL);
	CU_add_test(s, "every release from 2.17 to 2.44 has exactly one layout",
		    test_every_release_from_2_17_to_2_44_has_exactly_one_layout);
	CU_add_test(s, "sizes per release match the field guide", test_sizes_per_release_match_the_field_guide);
	CU_add_test(s, "offsets follow each other as the structs declare",
		    test_offsets_follow_each_other_as_the_structs_declare);
	CU_add_test(s, "the installed glibc's layout matches libc6-dbg's DWARF",
		    test_installed_glibc_layout_matches_libc6_dbg_dwarf);
	CU_add_test(s, "the runtimes' glibc layouts match their libc6-dbg DWARF",
		    test_runtime_glibc_layouts_match_their_libc6_dbg_dwarf);
}
