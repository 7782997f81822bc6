/* Every CUnit suite's registration function; main.c calls those linked in. */
#ifndef HEAPCORE_TEST_SUITES_H
#define HEAPCORE_TEST_SUITES_H

#define HC_SUITE(name) void hc_test_register_##name(void) __attribute__((weak))

HC_SUITE(target);
HC_SUITE(symbols);
HC_SUITE(glibc_layout);
HC_SUITE(glibc_locate);
HC_SUITE(glibc_walk);
HC_SUITE(glibc_truth);
HC_SUITE(bad_input);
HC_SUITE(corruption);
HC_SUITE(diff);
HC_SUITE(cli);
HC_SUITE(native_truth);
HC_SUITE(explain);
HC_SUITE(unwind);
HC_SUITE(types);
HC_SUITE(dominators);
HC_SUITE(chains);
HC_SUITE(graph);
HC_SUITE(leaks);
HC_SUITE(cpython);
HC_SUITE(cpython_heap);
HC_SUITE(findings);
HC_SUITE(live);
HC_SUITE(hooks);

#endif
