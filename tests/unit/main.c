/*
 * The unit-test runner: registers every suite linked in and runs them, or
 * only those named on the command line (heapcore_unit_tests SUITE...).
 */
#include <CUnit/Basic.h>
#include <stdio.h>
#include <string.h>

#include "suites.h"

struct suite_entry {
	const char *name;
	void (*reg)(void);
};

int main(int argc, char **argv)
{
	const struct suite_entry suites[] = {
		{ "target", hc_test_register_target },
		{ "symbols", hc_test_register_symbols },
		{ "glibc_layout", hc_test_register_glibc_layout },
		{ "glibc_locate", hc_test_register_glibc_locate },
		{ "glibc_walk", hc_test_register_glibc_walk },
		{ "glibc_truth", hc_test_register_glibc_truth },
		{ "bad_input", hc_test_register_bad_input },
		{ "corruption", hc_test_register_corruption },
		{ "diff", hc_test_register_diff },
		{ "cli", hc_test_register_cli },
		{ "native_truth", hc_test_register_native_truth },
		{ "explain", hc_test_register_explain },
		{ "unwind", hc_test_register_unwind },
		{ "types", hc_test_register_types },
		{ "dominators", hc_test_register_dominators },
		{ "chains", hc_test_register_chains },
		{ "graph", hc_test_register_graph },
		{ "leaks", hc_test_register_leaks },
		{ "cpython", hc_test_register_cpython },
		{ "cpython_heap", hc_test_register_cpython_heap },
		{ "findings", hc_test_register_findings },
		{ "live", hc_test_register_live },
		{ "hooks", hc_test_register_hooks },
	};
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	for (size_t i = 0; i < sizeof(suites) / sizeof(suites[0]); i++) {
		if (!suites[i].reg)
			continue;
		int wanted = argc < 2;
		for (int a = 1; a < argc; a++)
			wanted |= !strcmp(argv[a], suites[i].name);
		if (wanted)
			suites[i].reg();
	}
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	unsigned failed = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
	unsigned run = CU_get_number_of_tests_run();
	CU_cleanup_registry();
	if (run == 0) {
		fprintf(stderr, "no test ran\n");
		return 1;
	}
	return failed ? 1 : 0;
}
