/* The command line: documented exit codes, one-line errors, JSON keys scripts rely on. */
#include <CUnit/CUnit.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixtures.h"
#include "heap_program.h"
#include "suites.h"

static const char *heap_core(void)
{
	return hc_fixture_make_core("cli_heap", hc_heap_program);
}

/* stderr is exactly one line that names the file */
static void assert_one_line_naming(const char *err, const char *file)
{
	CU_ASSERT_PTR_NOT_NULL_FATAL(err);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, file));
	const char *nl = strchr(err, '\n');
	CU_ASSERT(nl != NULL && nl[1] == 0);
}

static void test_missing_core_exits_3(void)
{
	char *out, *err;
	CU_ASSERT_EQUAL(hc_fixture_run_cli("info /nonexistent/core", &out, &err), 3);
	assert_one_line_naming(err, "/nonexistent/core");
	free(out);
	free(err);
}

static void test_empty_non_elf_and_elf32_files_exit_4(void)
{
	const char *files[] = { hc_fixture_write_file("cli_empty", "", 0),
				hc_fixture_write_file("cli_text", "hello\n", 6),
				hc_fixture_write_file("cli_elf32", "\177ELF\001\001\001\0\0\0\0\0\0\0\0\0", 16) };
	for (int i = 0; i < 3; i++) {
		char args[400], *out, *err;
		snprintf(args, sizeof(args), "heap '%s'", files[i]);
		CU_ASSERT_EQUAL(hc_fixture_run_cli(args, &out, &err), 4);
		assert_one_line_naming(err, files[i]);
		free(out);
		free(err);
	}
}

static void test_usage_errors_exit_2(void)
{
	CU_ASSERT_EQUAL(hc_fixture_run_cli("frobnicate x", NULL, NULL), 2);
	CU_ASSERT_EQUAL(hc_fixture_run_cli("heap", NULL, NULL), 2);
	CU_ASSERT_EQUAL(hc_fixture_run_cli("heap --format xml x", NULL, NULL), 2);
	CU_ASSERT_EQUAL(hc_fixture_run_cli("heap --arena-method guess x", NULL, NULL), 2);
}

static json_t *run_json(const char *command, const char *core, int *rc)
{
	char args[600], *out;
	snprintf(args, sizeof(args), "%s --format json '%s'", command, core);
	*rc = hc_fixture_run_cli(args, &out, NULL);
	json_error_t e;
	json_t *j = out ? json_loads(out, 0, &e) : NULL;
	free(out);
	return j;
}

static void test_info_json_has_the_documented_keys(void)
{
	const char *core = heap_core();
	CU_ASSERT_FATAL(core != NULL);
	int rc;
	json_t *j = run_json("info", core, &rc);
	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(j);
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(json_object_get(j, "core"), "arch")), "x86-64");
	CU_ASSERT(json_integer_value(json_object_get(json_object_get(j, "process"), "pid")) > 0);
	CU_ASSERT(json_array_size(json_object_get(j, "threads")) == 1);
	CU_ASSERT(json_array_size(json_object_get(j, "mappings")) > 5);
	json_t *mods = json_object_get(j, "modules");
	bool libc_found = false;
	for (size_t i = 0; i < json_array_size(mods); i++) {
		json_t *m = json_array_get(mods, i);
		if (strstr(json_string_value(json_object_get(m, "name")), "libc.so.6"))
			libc_found = !strcmp(json_string_value(json_object_get(m, "file_status")), "found") &&
				     strlen(json_string_value(json_object_get(m, "build_id"))) == 40;
	}
	CU_ASSERT_TRUE(libc_found);
	CU_ASSERT_TRUE(json_is_false(json_object_get(j, "partial")));
	json_decref(j);
}

static void test_heap_json_has_the_documented_keys(void)
{
	const char *core = heap_core();
	CU_ASSERT_FATAL(core != NULL);
	int rc;
	json_t *j = run_json("heap", core, &rc);
	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(j);
	json_t *heap = json_object_get(j, "heap");
	const char *states[] = { "used", "free", "fastbin", "tcache", "top", "mmapped" };
	for (int i = 0; i < 6; i++) {
		json_t *t = json_object_get(json_object_get(heap, "totals"), states[i]);
		CU_ASSERT(json_is_integer(json_object_get(t, "count")));
		CU_ASSERT(json_is_integer(json_object_get(t, "bytes")));
		json_t *a = json_array_get(json_object_get(heap, "arenas"), 0);
		CU_ASSERT(json_is_integer(json_object_get(json_object_get(a, states[i]), "bytes")));
	}
	json_t *arena0 = json_array_get(json_object_get(heap, "arenas"), 0);
	CU_ASSERT_PTR_NOT_NULL(json_string_value(json_object_get(arena0, "address")));
	/* the program freed every third of 400 chunks and kept a 1 MiB mmapped one */
	json_t *totals = json_object_get(heap, "totals");
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(json_object_get(totals, "mmapped"), "count")), 1);
	json_int_t freed = 0;
	for (int i = 1; i <= 3; i++)
		freed += json_integer_value(json_object_get(json_object_get(totals, states[i]), "count"));
	CU_ASSERT_EQUAL(freed, 134);
	json_decref(j);
}

static void test_truncated_cores_give_a_documented_code_and_one_line(void)
{
	const char *core = heap_core();
	CU_ASSERT_FATAL(core != NULL);
	size_t len;
	char *data = hc_fixture_read_file(core, &len);
	CU_ASSERT_FATAL(data != NULL);
	size_t end = hc_fixture_core_data_end(core);
	CU_ASSERT_FATAL(end > 4096 && end <= len);
	size_t cuts[] = { 20, 3000, len / 3, len / 2, end - 100 };
	for (int i = 0; i < 5; i++) {
		const char *p = hc_fixture_write_file("cli_cut.core", data, cuts[i]);
		char args[400], *out, *err;
		snprintf(args, sizeof(args), "heap '%s'", p);
		int rc = hc_fixture_run_cli(args, &out, &err);
		/* cut in the headers: 5; later: a partial report (5) or no heap left to walk (7) */
		if (rc != 5 && rc != 7)
			fprintf(stderr, "\n  cut at %zu: exit %d, stderr %s\n", cuts[i], rc, err);
		CU_ASSERT(rc == 5 || rc == 7);
		CU_ASSERT_PTR_NOT_NULL(err && strstr(err, p));
		free(out);
		free(err);
	}
	free(data);
}

void hc_test_register_cli(void)
{
	CU_pSuite s = CU_add_suite("cli", NULL, NULL);
	CU_add_test(s, "a missing core exits 3", test_missing_core_exits_3);
	CU_add_test(s, "empty, non-ELF and ELF32 files exit 4", test_empty_non_elf_and_elf32_files_exit_4);
	CU_add_test(s, "usage errors exit 2", test_usage_errors_exit_2);
	CU_add_test(s, "info --format json has the documented keys", test_info_json_has_the_documented_keys);
	CU_add_test(s, "heap --format json has the documented keys", test_heap_json_has_the_documented_keys);
	CU_add_test(s, "truncated cores give a documented code and one line", test_truncated_cores_give_a_documented_code_and_one_line);
}
