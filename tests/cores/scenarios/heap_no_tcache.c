/* heap_no_tcache: heap_basic run with GLIBC_TUNABLES=glibc.malloc.tcache_count=0
 * (scripts/make-test-cores.sh sets it), so no chunk is in a tcache. */
#define SCENARIO_NAME "heap_no_tcache"
#include "heap_basic.c"
