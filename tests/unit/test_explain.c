/*
 * `heapcore explain CORE ADDR`, end to end on the scenario cores: an interior
 * pointer, a free chunk, a leaked node and an address outside the heap each
 * get the answer the program's own record says is right.
 */
#include <CUnit/CUnit.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixtures.h"
#include "suites.h"

static json_t *load_truth(const char *scenario)
{
	char path[600];
	if (!hc_fixture_cores_dir())
		return NULL;
	snprintf(path, sizeof(path), "%s/native/%s.truth.json", hc_fixture_cores_dir(), scenario);
	return json_load_file(path, 0, NULL);
}

static const json_t *group(const json_t *truth, const char *name)
{
	const json_t *groups = json_object_get(truth, "groups");
	for (size_t i = 0; i < json_array_size(groups); i++)
		if (!strcmp(json_string_value(json_object_get(json_array_get(groups, i), "name")), name))
			return json_array_get(groups, i);
	return NULL;
}

static uint64_t hex(const json_t *j)
{
	return strtoull(json_string_value(j) ? json_string_value(j) : "0", NULL, 16);
}

/* Runs explain on the native scenario core and parses its JSON. */
static json_t *explain(const char *scenario, uint64_t addr, int *rc)
{
	char args[800], *out = NULL;
	snprintf(args, sizeof(args), "explain --format json '%s/native/%s.core' 0x%llx", hc_fixture_cores_dir(),
		 scenario, (unsigned long long)addr);
	*rc = hc_fixture_run_cli(args, &out, NULL);
	json_t *j = out ? json_loads(out, 0, NULL) : NULL;
	free(out);
	return j;
}

static void test_an_interior_pointer_is_explained_as_an_offset_in_its_allocation(void)
{
	json_t *truth = load_truth("leak_native");
	CU_ASSERT_PTR_NOT_NULL_FATAL(truth);
	const json_t *g = group(truth, "global_list");
	uint64_t node = hex(json_array_get(json_object_get(g, "nodes"), 5));
	int rc;
	json_t *r = explain("leak_native", node + 8, &rc);
	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	const json_t *al = json_object_get(r, "allocation");
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(r, "what")), "allocation");
	CU_ASSERT_EQUAL(hex(json_object_get(al, "address")), node);
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(al, "offset")), 8);
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(al, "class")), "anchored");
	/* it is alive through g_list, and its predecessor in the list points to it */
	CU_ASSERT_PTR_NOT_NULL(strstr(json_string_value(json_object_get(al, "path")), "g_list"));
	CU_ASSERT_EQUAL(json_array_size(json_object_get(al, "incoming")), 1);
	json_decref(r);
	json_decref(truth);
}

static void test_a_free_chunk_is_explained_as_free_with_its_bin(void)
{
	json_t *truth = load_truth("heap_basic");
	CU_ASSERT_PTR_NOT_NULL_FATAL(truth);
	const json_t *addrs = json_object_get(truth, "addresses");
	const char *want[] = { "free", "tcache", "fastbin" };
	for (int k = 0; k < 3; k++) {
		uint64_t user = 0;
		for (size_t i = 0; i < json_array_size(addrs) && !user; i++)
			if (!strcmp(json_string_value(json_object_get(json_array_get(addrs, i), "expect")), want[k]))
				user = hex(json_object_get(json_array_get(addrs, i), "address"));
		CU_ASSERT_FATAL(user != 0);
		int rc;
		json_t *r = explain("heap_basic", user, &rc);
		CU_ASSERT_PTR_NOT_NULL_FATAL(r);
		CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(r, "what")), "free chunk");
		CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(json_object_get(r, "chunk"), "state")), want[k]);
		CU_ASSERT_EQUAL(hex(json_object_get(json_object_get(r, "chunk"), "address")), user - 16);
		json_decref(r);
	}
	json_decref(truth);
}

static void test_a_leaked_node_is_explained_with_its_cluster(void)
{
	json_t *truth = load_truth("leak_native");
	CU_ASSERT_PTR_NOT_NULL_FATAL(truth);
	const json_t *g = group(truth, "leaked_list");
	uint64_t head = hex(json_object_get(g, "head"));
	uint64_t second = hex(json_array_get(json_object_get(g, "nodes"), 1));
	int rc;
	json_t *r = explain("leak_native", head, &rc);
	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	const json_t *al = json_object_get(r, "allocation");
	CU_ASSERT_PTR_NOT_NULL(strstr(json_string_value(json_object_get(al, "class")), "unreferenced"));
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(json_object_get(al, "cluster"), "count")),
			json_integer_value(json_object_get(g, "count")));
	CU_ASSERT_EQUAL(json_array_size(json_object_get(al, "chain")), 0);
	CU_ASSERT_EQUAL(json_array_size(json_object_get(al, "incoming")), 0);
	json_decref(r);
	r = explain("leak_native", second, &rc);
	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	al = json_object_get(r, "allocation");
	CU_ASSERT_PTR_NOT_NULL(strstr(json_string_value(json_object_get(al, "class")), "indirectly"));
	/* the only reference to it is the leaked head */
	CU_ASSERT_EQUAL(json_array_size(json_object_get(al, "incoming")), 1);
	CU_ASSERT_EQUAL(hex(json_object_get(json_array_get(json_object_get(al, "incoming"), 0), "allocation")), head);
	json_decref(r);
	json_decref(truth);
}

static void test_an_address_outside_the_heap_is_named_by_its_symbol_and_root(void)
{
	json_t *truth = load_truth("leak_native");
	CU_ASSERT_PTR_NOT_NULL_FATAL(truth);
	const json_t *g = group(truth, "global_list");
	uint64_t slot = hex(json_object_get(g, "anchor_slot"));
	int rc;
	json_t *r = explain("leak_native", slot, &rc);
	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(r, "what")), "not heap");
	const json_t *o = json_object_get(r, "outside");
	CU_ASSERT_PTR_NOT_NULL(strstr(json_string_value(json_object_get(o, "symbol")), "g_list"));
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(o, "root_kind")), "data");
	CU_ASSERT_EQUAL(hex(json_object_get(o, "points_to")), hex(json_object_get(g, "head")));
	json_decref(r);
	/* and an address nothing maps */
	r = explain("leak_native", 0x10, &rc);
	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	CU_ASSERT_TRUE(json_is_false(json_object_get(json_object_get(r, "outside"), "mapped")));
	json_decref(r);
	json_decref(truth);
}

static const char stale_program[] =
	"#include <stdio.h>\n#include <stdlib.h>\n#include <string.h>\n#include <unistd.h>\n"
	"void *g_live;\n"
	"int main(void) { g_live = malloc(100); void **f = malloc(200); memset(f, 0, 200);\n"
	" f[8] = (char *)g_live + 16; void *keep = malloc(24); (void)keep;\n"
	" printf(\"LIVE %p FREED %p\\n\", g_live, (void *)f); free(f);\n"
	" printf(\"READY\\n\"); fflush(stdout); pause(); }\n";

static void test_scan_free_finds_a_freed_chunk_still_pointing_to_an_allocation(void)
{
	const char *core = hc_fixture_make_core("stale", stale_program);
	CU_ASSERT_FATAL(core != NULL);
	char path[400];
	snprintf(path, sizeof(path), "%s/stale.out", hc_fixture_tmpdir());
	char *out = hc_fixture_read_file(path, NULL);
	CU_ASSERT_FATAL(out != NULL);
	unsigned long long live = 0, freed = 0;
	CU_ASSERT_EQUAL_FATAL(sscanf(out, "LIVE %llx FREED %llx", &live, &freed), 2);
	free(out);
	char args[800], *text = NULL;
	snprintf(args, sizeof(args), "explain --scan-free --format json '%s' 0x%llx", core, live);
	CU_ASSERT_EQUAL(hc_fixture_run_cli(args, &text, NULL), 0);
	json_t *r = text ? json_loads(text, 0, NULL) : NULL;
	free(text);
	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	const json_t *stale = json_object_get(json_object_get(r, "allocation"), "free_references");
	CU_ASSERT_EQUAL_FATAL(json_array_size(stale), 1);
	const json_t *e = json_array_get(stale, 0);
	CU_ASSERT_EQUAL(hex(json_object_get(e, "chunk")), freed - 16);
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(e, "state")), "tcache");
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(e, "offset")), 64);
	CU_ASSERT_EQUAL(hex(json_object_get(e, "to")), live + 16);
	/* free memory is never a reference: the allocation has just its global */
	CU_ASSERT_EQUAL(json_array_size(json_object_get(json_object_get(r, "allocation"), "incoming")), 1);
	json_decref(r);
	/* without the option, free memory is not looked at */
	snprintf(args, sizeof(args), "explain --format json '%s' 0x%llx", core, live);
	CU_ASSERT_EQUAL(hc_fixture_run_cli(args, &text, NULL), 0);
	r = text ? json_loads(text, 0, NULL) : NULL;
	free(text);
	CU_ASSERT_PTR_NULL(json_object_get(json_object_get(r, "allocation"), "free_references"));
	json_decref(r);
}

static void test_explain_without_an_address_is_a_usage_error(void)
{
	CU_ASSERT_EQUAL(hc_fixture_run_cli("explain /nonexistent/core", NULL, NULL), 2);
	CU_ASSERT_EQUAL(hc_fixture_run_cli("explain /nonexistent/core zzz", NULL, NULL), 2);
}

void hc_test_register_explain(void)
{
	CU_pSuite s = CU_add_suite("explain", NULL, NULL);
	CU_add_test(s, "an interior pointer is explained as an offset in its allocation", test_an_interior_pointer_is_explained_as_an_offset_in_its_allocation);
	CU_add_test(s, "a free chunk is explained as free, with its bin", test_a_free_chunk_is_explained_as_free_with_its_bin);
	CU_add_test(s, "a leaked node is explained with its cluster", test_a_leaked_node_is_explained_with_its_cluster);
	CU_add_test(s, "an address outside the heap is named by its symbol and root", test_an_address_outside_the_heap_is_named_by_its_symbol_and_root);
	CU_add_test(s, "explain without an address is a usage error", test_explain_without_an_address_is_a_usage_error);
	CU_add_test(s, "--scan-free finds a freed chunk still pointing to an allocation", test_scan_free_finds_a_freed_chunk_still_pointing_to_an_allocation);
}
