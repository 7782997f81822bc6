/*
 * The heap walk against glibc's own figures: on every scenario core, on each
 * glibc we can run (2.36 native, 2.41 and 2.43 from private roots), with each
 * way of finding the arena forced in turn, heapcore's counts must equal what
 * mallinfo2() and malloc_info() said just before the core was taken, once
 * glibc's definitions are mapped onto ours (docs/glibc-truth-mapping.md).
 */
#include <CUnit/CUnit.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixtures.h"
#include "heapcore/glibc_heap.h"
#include "heapcore/symbols.h"
#include "heapcore/target.h"
#include "suites.h"
#include "truth.h"

struct method_case {
	const char *label;
	enum hc_arena_method method;
	bool hide_debug;
	bool no_files;
};

static const struct method_case method_cases[] = {
	{ "symbols, libc debug info present", HC_ARENA_METHOD_SYMBOLS, false, false },
	{ "disassembly, libc debug info hidden", HC_ARENA_METHOD_DISASSEMBLY, true, false },
	{ "structural scan, core alone", HC_ARENA_METHOD_SCAN, true, true },
	{ "auto, core alone", HC_ARENA_METHOD_AUTO, true, true },
};

static unsigned mismatches;

static void expect_eq(const struct truth *tr, const struct method_case *mc, const char *what,
		      uint64_t truth, uint64_t ours)
{
	if (truth == ours)
		return;
	mismatches++;
	fprintf(stderr, "\n  %s %s [%s]: %s: glibc says %" PRIu64 ", heapcore %" PRIu64 "\n",
		tr->runtime, tr->core, mc->label, what, truth, ours);
}

static struct hc_glibc_heap *walk(const struct truth *tr, const struct method_case *mc,
				  struct hc_target **tp, struct hc_symbols **sp)
{
	struct hc_error *err = hc_target_open_core(tr->core, tp);
	if (err) {
		fprintf(stderr, "\n  %s: %s\n", tr->core, err->message);
		hc_error_destroy(err);
		return NULL;
	}
	struct hc_symbol_options so = { .sysroot = tr->sysroot[0] ? tr->sysroot : NULL,
					.no_default_debug_dirs = mc->hide_debug,
					.no_files = mc->no_files };
	err = hc_symbols_open(*tp, &so, sp);
	if (err) {
		fprintf(stderr, "\n  %s: symbols: %s\n", tr->core, err->message);
		hc_error_destroy(err);
		return NULL;
	}
	struct hc_glibc_walk_options wo = { .method = mc->method };
	struct hc_glibc_heap *h = NULL;
	err = hc_glibc_walk(*tp, *sp, &wo, &h);
	if (err) {
		fprintf(stderr, "\n  %s %s [%s]: walk: %s\n", tr->runtime, tr->core, mc->label, err->message);
		hc_error_destroy(err);
		return NULL;
	}
	return h;
}

static int64_t chunk_of_user_address(const struct hc_glibc_heap *h, uint64_t user)
{
	uint32_t lo = 0, hi = h->nchunks;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (h->chunk_addr[mid] < user - 16)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < h->nchunks && h->chunk_addr[lo] == user - 16 ? (int64_t)lo : -1;
}

static void compare_with_truth(const struct truth *tr, const struct method_case *mc,
			       const struct hc_glibc_heap *h, const struct hc_target *t)
{
	const struct hc_tally *T = h->totals;
	uint64_t system_mem = 0, inside = 0;
	for (uint32_t i = 0; i < h->narenas; i++) {
		const struct hc_glibc_arena *a = &h->arenas[i];
		system_mem += a->system_mem;
		inside += a->overhead_bytes + a->fenceposts.bytes + a->unwalked_bytes;
	}
	expect_eq(tr, mc, "arena (system_mem of all arenas)", truth_mallinfo(tr, "arena"), system_mem);
	expect_eq(tr, mc, "smblks = fastbin chunks", truth_mallinfo(tr, "smblks"), T[HC_CHUNK_FASTBIN].count);
	expect_eq(tr, mc, "fsmblks = fastbin bytes", truth_mallinfo(tr, "fsmblks"), T[HC_CHUNK_FASTBIN].bytes);
	expect_eq(tr, mc, "ordblks = free chunks in bins + one top per arena", truth_mallinfo(tr, "ordblks"),
		  T[HC_CHUNK_FREE].count + h->narenas);
	expect_eq(tr, mc, "fordblks = free + fastbin + top bytes", truth_mallinfo(tr, "fordblks"),
		  T[HC_CHUNK_FREE].bytes + T[HC_CHUNK_FASTBIN].bytes + T[HC_CHUNK_TOP].bytes);
	expect_eq(tr, mc, "uordblks = used + tcache bytes + arena headers + fenceposts",
		  truth_mallinfo(tr, "uordblks"), T[HC_CHUNK_USED].bytes + T[HC_CHUNK_TCACHE].bytes + inside);
	expect_eq(tr, mc, "hblks = mmapped chunks", truth_mallinfo(tr, "hblks"), T[HC_CHUNK_MMAPPED].count);
	expect_eq(tr, mc, "hblkhd = mmapped bytes", truth_mallinfo(tr, "hblkhd"), T[HC_CHUNK_MMAPPED].bytes);
	expect_eq(tr, mc, "keepcost = main arena's top", truth_mallinfo(tr, "keepcost"),
		  h->narenas ? h->arenas[0].tally[HC_CHUNK_TOP].bytes : 0);

	expect_eq(tr, mc, "arenas in malloc_info", tr->narenas, h->narenas);
	for (uint32_t i = 0; i < tr->narenas && i < h->narenas; i++) {
		const struct truth_arena *ta = &tr->arenas[i];
		const struct hc_glibc_arena *a = &h->arenas[i];
		char what[96];
		snprintf(what, sizeof(what), "arena %u fast count", i);
		expect_eq(tr, mc, what, ta->fast_count, a->tally[HC_CHUNK_FASTBIN].count);
		snprintf(what, sizeof(what), "arena %u fast bytes", i);
		expect_eq(tr, mc, what, ta->fast_bytes, a->tally[HC_CHUNK_FASTBIN].bytes);
		/* rest = top + bin chunks; glibc sums the bins' raw size fields, PREV_INUSE bit included */
		snprintf(what, sizeof(what), "arena %u rest count (top + chunks in bins)", i);
		expect_eq(tr, mc, what, ta->rest_count, a->tally[HC_CHUNK_FREE].count + 1);
		snprintf(what, sizeof(what), "arena %u rest bytes (top + chunks in bins + 1 each)", i);
		expect_eq(tr, mc, what, ta->rest_bytes,
			  a->tally[HC_CHUNK_TOP].bytes + a->tally[HC_CHUNK_FREE].bytes + a->tally[HC_CHUNK_FREE].count);
		snprintf(what, sizeof(what), "arena %u system current", i);
		expect_eq(tr, mc, what, ta->system_current, a->system_mem);
	}
	expect_eq(tr, mc, "mmap count in malloc_info", tr->mmap_count, T[HC_CHUNK_MMAPPED].count);
	expect_eq(tr, mc, "mmap bytes in malloc_info", tr->mmap_bytes, T[HC_CHUNK_MMAPPED].bytes);

	/* every address the scenario labelled is in the state it expected */
	json_t *addrs = json_object_get(tr->json, "addresses");
	for (size_t i = 0; i < json_array_size(addrs); i++) {
		json_t *a = json_array_get(addrs, i);
		const char *label = json_string_value(json_object_get(a, "label"));
		const char *expect = json_string_value(json_object_get(a, "expect"));
		const char *addr = json_string_value(json_object_get(a, "address"));
		if (!label || !expect || !addr)
			continue;
		uint64_t user = strtoull(addr, NULL, 16);
		int64_t ci = chunk_of_user_address(h, user);
		const char *state = ci < 0 ? "not a chunk" : hc_chunk_state_name(h->chunk_state[ci]);
		if (strcmp(state, expect) != 0) {
			mismatches++;
			fprintf(stderr, "\n  %s %s [%s]: %s at %s: expected %s, heapcore says %s\n",
				tr->runtime, tr->core, mc->label, label, addr, expect, state);
		}
	}
	/* the threads' tcaches: every live thread the scenario listed has one */
	if (h->location.layout->has_tcache && strstr(tr->core, "no_tcache") == NULL) {
		json_t *threads = json_object_get(tr->json, "threads");
		for (size_t i = 0; i < json_array_size(threads); i++) {
			json_int_t tid = json_integer_value(json_object_get(json_array_get(threads, i), "tid"));
			bool found = false;
			for (uint32_t j = 0; j < h->ntcaches; j++)
				found |= h->tcaches[j].tid == tid || h->tcaches[j].tid == 0;
			if (!found) {
				mismatches++;
				fprintf(stderr, "\n  %s %s [%s]: no tcache found for thread %lld\n",
					tr->runtime, tr->core, mc->label, (long long)tid);
			}
		}
	}
	if (h->ncorruptions || t->warnings.partial) {
		mismatches++;
		fprintf(stderr, "\n  %s %s [%s]: %u corruptions reported on an intact heap, e.g. %s\n",
			tr->runtime, tr->core, mc->label, h->ncorruptions,
			h->ncorruptions ? h->corruptions[0].message : "(partial warning)");
	}
}

static void check_one(const struct truth *tr, void *arg)
{
	const struct method_case *mc = arg;
	struct hc_target *t = NULL;
	struct hc_symbols *s = NULL;
	struct hc_glibc_heap *h = walk(tr, mc, &t, &s);
	if (!h) {
		mismatches++;
	} else {
		if (mc->method != HC_ARENA_METHOD_AUTO && h->location.method != mc->method) {
			mismatches++;
			fprintf(stderr, "\n  %s: arena found by %s, not %s\n", tr->core,
				hc_arena_method_name(h->location.method), hc_arena_method_name(mc->method));
		}
		compare_with_truth(tr, mc, h, t);
	}
	hc_glibc_heap_destroy(h);
	hc_symbols_destroy(s);
	hc_target_destroy(t);
}

static void check_runtime(const char *runtime)
{
	if (!hc_fixture_cores_dir()) {
		CU_FAIL("HEAPCORE_CORES_DIR is not set: run scripts/test.sh, which makes the scenario cores");
		return;
	}
	for (size_t i = 0; i < sizeof(method_cases) / sizeof(method_cases[0]); i++) {
		mismatches = 0;
		unsigned n = truth_for_each(runtime, "heap_", check_one, (void *)&method_cases[i]);
		if (n == 0)
			fprintf(stderr, "\n  no scenario cores for runtime %s in %s\n", runtime, hc_fixture_cores_dir());
		CU_ASSERT(n >= 3);
		CU_ASSERT_EQUAL(mismatches, 0);
	}
}

static void test_heap_matches_glibc_2_36_native(void)
{
	check_runtime("native");
}

static void test_heap_matches_glibc_2_41_from_trixie_root(void)
{
	check_runtime("trixie");
}

static void test_heap_matches_glibc_2_43_from_sid_root(void)
{
	check_runtime("sid");
}

/*
 * The committed cores (made elsewhere, compressed three ways, one gcore'd
 * while glibc 2.43's guard regions zeroed its thread stacks) read from the
 * core alone, as on a machine that has none of their files.
 */
static void test_committed_cores_match_their_truth_from_the_core_alone(void)
{
	static const struct method_case core_alone[] = {
		{ "structural scan, core alone", HC_ARENA_METHOD_SCAN, true, true },
		{ "auto, core alone", HC_ARENA_METHOD_AUTO, true, true },
	};
	const char *runtimes[] = { "native", "trixie", "sid" };
	unsigned total = 0;
	for (int r = 0; r < 3; r++) {
		char dir[600];
		snprintf(dir, sizeof(dir), "%s/tests/cores/committed/%s", hc_fixture_source_dir(), runtimes[r]);
		for (size_t i = 0; i < sizeof(core_alone) / sizeof(core_alone[0]); i++) {
			mismatches = 0;
			unsigned n = truth_for_each_in(dir, "heap_", check_one, (void *)&core_alone[i]);
			CU_ASSERT(n >= 3);
			CU_ASSERT_EQUAL(mismatches, 0);
			total += n;
		}
	}
	/* 3 runtimes x (basic gcore + kernel + no_tcache), native's xz/lz4, sid's threads; two methods */
	CU_ASSERT_EQUAL(total, 2 * (3 * 3 + 2 + 1));
}

void hc_test_register_glibc_truth(void)
{
	CU_pSuite s = CU_add_suite("glibc_truth", NULL, NULL);
	CU_add_test(s, "heap matches mallinfo2/malloc_info on glibc 2.36 (native), every method",
		    test_heap_matches_glibc_2_36_native);
	CU_add_test(s, "heap matches mallinfo2/malloc_info on glibc 2.41 (trixie root), every method",
		    test_heap_matches_glibc_2_41_from_trixie_root);
	CU_add_test(s, "heap matches mallinfo2/malloc_info on glibc 2.43 (sid root), every method",
		    test_heap_matches_glibc_2_43_from_sid_root);
	CU_add_test(s, "committed cores match their truth from the core alone",
		    test_committed_cores_match_their_truth_from_the_core_alone);
}
