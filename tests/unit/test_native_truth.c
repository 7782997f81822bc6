/*
 * Native leak analysis against the scenario programs' own record
 * (tests/cores/scenarios/leak_*.c): every group of allocations is classified
 * exactly (anchored, leaked, unreferenced, indirect; counts and bytes), each
 * leaked group forms the clusters it should (a ring is one cyclic cluster),
 * each anchored group's chain starts at its global or its thread's function,
 * and C++ objects are named by class. On glibc 2.36, 2.41 and 2.43, from
 * gcore and kernel cores.
 */
#include <CUnit/CUnit.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixtures.h"
#include "heapcore/analysis.h"
#include "heapcore/report.h"
#include "large_alloc.h"
#include "suites.h"
#include "truth.h"

static unsigned mismatches;

#define EXPECT(cond, ...)                                                                   \
	do {                                                                                \
		if (!(cond)) {                                                              \
			mismatches++;                                                       \
			fprintf(stderr, "\n  %s %s: ", tr->runtime, tr->core);             \
			fprintf(stderr, __VA_ARGS__);                                       \
		}                                                                           \
	} while (0)

static uint64_t hex(const json_t *j)
{
	const char *s = json_string_value(j);
	return s ? strtoull(s, NULL, 16) : 0;
}

/* The first step of node's chain must be the group's anchor. */
static void check_anchor(const struct truth *tr, const struct hc_analysis *a, const json_t *grp,
			 uint32_t head)
{
	const char *name = json_string_value(json_object_get(grp, "name"));
	json_t *anchor = json_object_get(grp, "anchor");
	json_t *chain = hc_report_chain(a, head);
	json_t *first = json_array_get(chain, 0);
	EXPECT(first && json_object_get(first, "owner"), "%s: no chain from a root\n", name);
	if (first && json_is_string(anchor)) {
		const char *var = json_string_value(json_object_get(first, "variable"));
		const char *want = json_string_value(anchor);
		EXPECT(var && !strncmp(var, want, strlen(want)),
		       "%s: chain starts at %s, not the global %s\n", name, var ? var : "(unnamed)", want);
	} else if (first && json_is_object(anchor)) {
		const char *fn = json_string_value(json_object_get(anchor, "function"));
		const char *frame = json_string_value(json_object_get(first, "frame"));
		char tid[32];
		snprintf(tid, sizeof(tid), "thread %lld ",
			 (long long)json_integer_value(json_object_get(anchor, "thread")));
		EXPECT(frame && strstr(frame, fn) && strstr(frame, tid),
		       "%s: chain starts at '%s', not %sin %s()\n", name, frame ? frame : "(no frame)", tid, fn);
	}
	json_decref(chain);
}

static void check_group(const struct truth *tr, const struct hc_analysis *a, const json_t *grp)
{
	const struct hc_graph *g = a->graph;
	const struct hc_leaks *l = a->leaks;
	const char *name = json_string_value(json_object_get(grp, "name"));
	const char *expect = json_string_value(json_object_get(grp, "expect"));
	const char *type = json_string_value(json_object_get(grp, "type"));
	json_t *nodes = json_object_get(grp, "nodes");
	bool leaked = !strcmp(expect, "leaked");
	uint64_t unref = 0, indirect = 0, anchored = 0, bytes = 0, missing = 0, wrong_type = 0;
	uint32_t first_cluster = UINT32_MAX;
	bool one_cluster = true;
	uint32_t clusters_seen[4096], nclusters = 0;
	for (size_t i = 0; i < json_array_size(nodes); i++) {
		uint64_t addr = hex(json_array_get(nodes, i));
		uint32_t v = hc_graph_node_at(g, addr);
		if (v == UINT32_MAX || hc_graph_node_addr(g, v) != addr) {
			missing++;
			continue;
		}
		bytes += hc_graph_node_bytes(g, v);
		unref += l->cls[v] == HC_LEAKED_UNREFERENCED;
		indirect += l->cls[v] == HC_LEAKED_INDIRECT;
		anchored += l->cls[v] == HC_ANCHORED;
		if (type) {
			const char *got = hc_report_node_type(a, v);
			wrong_type += !got || strcmp(got, type) != 0;
		}
		if (leaked) {
			uint32_t c = l->cluster[v];
			if (first_cluster == UINT32_MAX)
				first_cluster = c;
			one_cluster &= c == first_cluster;
			bool seen = false;
			for (uint32_t k = 0; k < nclusters && !seen; k++)
				seen = clusters_seen[k] == c;
			if (!seen && nclusters < 4096)
				clusters_seen[nclusters++] = c;
		}
	}
	json_int_t count = json_integer_value(json_object_get(grp, "count"));
	EXPECT(missing == 0, "%s: %" PRIu64 " of its allocations are not found\n", name, missing);
	EXPECT((json_int_t)json_array_size(nodes) == count, "%s: the truth lists %zu of %lld nodes\n", name,
	       json_array_size(nodes), (long long)count);
	EXPECT(bytes == (uint64_t)json_integer_value(json_object_get(grp, "bytes")),
	       "%s: %" PRIu64 " bytes, the program says %lld\n", name, bytes,
	       (long long)json_integer_value(json_object_get(grp, "bytes")));
	EXPECT(wrong_type == 0, "%s: %" PRIu64 " allocations not typed %s\n", name, wrong_type, type);
	if (!leaked) {
		EXPECT(anchored == (uint64_t)count, "%s: %" PRIu64 " of %lld anchored\n", name, anchored,
		       (long long)count);
		uint32_t head = hc_graph_node_at(g, hex(json_object_get(grp, "head")));
		if (head != UINT32_MAX)
			check_anchor(tr, a, grp, head);
		return;
	}
	EXPECT(unref == (uint64_t)json_integer_value(json_object_get(grp, "unreferenced")),
	       "%s: %" PRIu64 " unreferenced, the program says %lld\n", name, unref,
	       (long long)json_integer_value(json_object_get(grp, "unreferenced")));
	EXPECT(indirect == (uint64_t)json_integer_value(json_object_get(grp, "indirect")),
	       "%s: %" PRIu64 " indirectly leaked, the program says %lld\n", name, indirect,
	       (long long)json_integer_value(json_object_get(grp, "indirect")));
	EXPECT(nclusters == (uint32_t)json_integer_value(json_object_get(grp, "clusters")),
	       "%s: in %u clusters, the program says %lld\n", name, nclusters,
	       (long long)json_integer_value(json_object_get(grp, "clusters")));
	if (json_is_true(json_object_get(grp, "cluster")) && one_cluster && first_cluster != UINT32_MAX) {
		const struct hc_leak_cluster *c = &l->clusters[first_cluster];
		/* the cluster is exactly the group: no libc allocation joined it */
		EXPECT(c->nnodes == (uint32_t)count, "%s: its cluster has %u nodes, not %lld\n", name, c->nnodes,
		       (long long)count);
		EXPECT(c->cyclic == json_is_true(json_object_get(grp, "cyclic")),
		       "%s: cluster cyclic=%d, the program says otherwise\n", name, c->cyclic);
	}
}

/*
 * The report's largest holders: the allocations at the top of the dominator
 * tree with the most retained bytes, most first (ties to the lower
 * address), and none left out that retains more than the last one listed.
 */
static void check_largest(const struct truth *tr, const struct hc_analysis *a, json_t *report)
{
	const struct hc_graph *g = a->graph;
	const struct hc_dominators *d = a->dominators;
	json_t *largest = json_object_get(report, "largest");
	size_t n = json_array_size(largest);
	EXPECT(n > 0, "no largest holders\n");
	uint64_t prev = UINT64_MAX, prev_addr = 0, last = UINT64_MAX;
	for (size_t i = 0; i < n; i++) {
		json_t *e = json_array_get(largest, i);
		uint64_t r = (uint64_t)json_integer_value(json_object_get(e, "retained_bytes"));
		uint64_t addr = strtoull(json_string_value(json_object_get(e, "address")), NULL, 16);
		EXPECT(r < prev || (r == prev && addr > prev_addr), "largest[%zu] out of order\n", i);
		uint32_t v = hc_graph_node_at(g, addr);
		EXPECT(v != UINT32_MAX && d->retained[v] == r, "largest[%zu]: not its node's retained bytes\n", i);
		prev = last = r;
		prev_addr = addr;
	}
	uint32_t above = 0;
	for (uint32_t v = 0; v < g->nnodes; v++) {
		uint32_t id = d->idom[v];
		bool top = id == HC_DOM_VIRTUAL_ROOT || (id != HC_DOM_NONE && id >= g->nnodes);
		above += top && d->retained[v] > last;
	}
	EXPECT(above < n, "%u allocations retain more than the last of the %zu listed\n", above, n);
}

/* hc_analysis_options.pool for check_scenario */
static enum hc_pool_use pool_use;

static void check_scenario(const struct truth *tr, void *arg)
{
	(void)arg;
	struct hc_analysis_options ao = { .pool = pool_use };
	struct hc_target *t = NULL;
	struct hc_symbols *s = NULL;
	struct hc_analysis *a = NULL;
	struct hc_error *err = hc_target_open_core(tr->core, &t);
	struct hc_symbol_options so = { .sysroot = tr->sysroot[0] ? tr->sysroot : NULL,
					.binary = tr->binary[0] ? tr->binary : NULL };
	if (!err)
		err = hc_symbols_open(t, &so, &s);
	if (!err)
		err = hc_analysis_run(t, s, &ao, &a);
	if (!err && pool_use == HC_POOL_ALWAYS &&
	    (!a->pool || !hc_pool_owns(a->graph->chunk) || !hc_pool_owns(a->leaks->cluster) ||
	     !hc_pool_owns(a->dominators->retained) || !hc_pool_owns(a->types->node_type))) {
		mismatches++;
		fprintf(stderr, "\n  %s: the pool was asked for and not used\n", tr->core);
	}
	if (err) {
		mismatches++;
		fprintf(stderr, "\n  %s: %s\n", tr->core, err->message);
		hc_error_destroy(err);
	} else {
		json_t *groups = json_object_get(tr->json, "groups");
		EXPECT(json_array_size(groups) >= 5, "only %zu groups in the truth\n", json_array_size(groups));
		for (size_t i = 0; i < json_array_size(groups); i++)
			check_group(tr, a, json_array_get(groups, i));
		EXPECT(!t->warnings.partial, "an intact core is reported partial\n");
		/* what hc_analysis_trim gives back, the analyze report never reads */
		json_t *before = hc_report_analyze(a);
		check_largest(tr, a, before);
		hc_analysis_trim(a);
		EXPECT(!a->graph->in && !a->graph->in_start && !a->graph->sig_code && !a->graph->index &&
			       !a->leaks->cluster && !a->types->node_via,
		       "hc_analysis_trim kept an array it gives back\n");
		json_t *after = hc_report_analyze(a);
		EXPECT(before && after && json_equal(before, after), "the analyze report changed when trimmed\n");
		json_decref(before);
		json_decref(after);
	}
	hc_analysis_destroy(a);
	hc_symbols_destroy(s);
	hc_target_destroy(t);
}

static void check_runtime(const char *runtime)
{
	if (!hc_fixture_cores_dir()) {
		CU_FAIL("HEAPCORE_CORES_DIR is not set: run scripts/test.sh, which makes the scenario cores");
		return;
	}
	mismatches = 0;
	unsigned n = truth_for_each(runtime, "leak_", check_scenario, NULL);
	/* leak_native (gcore + kernel core) and leak_cxx */
	CU_ASSERT(n >= 3);
	CU_ASSERT_EQUAL(mismatches, 0);
}

static void test_native_leaks_match_the_programs_record_on_glibc_2_36(void)
{
	check_runtime("native");
}

static void test_native_leaks_match_the_programs_record_on_glibc_2_41(void)
{
	check_runtime("trixie");
}

static void test_native_leaks_match_the_programs_record_on_glibc_2_43(void)
{
	check_runtime("sid");
}

/* The committed core, read with its committed binary: a core made on another machine. */
static void test_the_committed_leak_core_matches_its_record(void)
{
	char dir[600];
	snprintf(dir, sizeof(dir), "%s/tests/cores/committed/native", hc_fixture_source_dir());
	mismatches = 0;
	CU_ASSERT_EQUAL(truth_for_each_in(dir, "leak_", check_scenario, NULL), 1);
	CU_ASSERT_EQUAL(mismatches, 0);
}

/*
 * The same record, with the big arrays carved from the pool a populator
 * fills during the walk (which only big cores get by default): where the
 * memory comes from changes no answer.
 */
static void test_the_pool_of_big_arrays_changes_no_result(void)
{
	char dir[600];
	snprintf(dir, sizeof(dir), "%s/tests/cores/committed/native", hc_fixture_source_dir());
	mismatches = 0;
	pool_use = HC_POOL_ALWAYS;
	CU_ASSERT_EQUAL(truth_for_each_in(dir, "leak_", check_scenario, NULL), 1);
	pool_use = HC_POOL_AUTO;
	CU_ASSERT_EQUAL(mismatches, 0);
}

void hc_test_register_native_truth(void)
{
	CU_pSuite s = CU_add_suite("native_truth", NULL, NULL);
	CU_add_test(s, "native leaks, anchors and chains match the program's record on glibc 2.36",
		    test_native_leaks_match_the_programs_record_on_glibc_2_36);
	CU_add_test(s, "native leaks, anchors and chains match the program's record on glibc 2.41",
		    test_native_leaks_match_the_programs_record_on_glibc_2_41);
	CU_add_test(s, "native leaks, anchors and chains match the program's record on glibc 2.43",
		    test_native_leaks_match_the_programs_record_on_glibc_2_43);
	CU_add_test(s, "the pool of big arrays changes no result", test_the_pool_of_big_arrays_changes_no_result);
	CU_add_test(s, "the committed leak core matches its record", test_the_committed_leak_core_matches_its_record);
}
