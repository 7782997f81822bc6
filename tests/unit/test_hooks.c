/*
 * The hooks of docs/live.md: the core_pattern handler fed a core on stdin
 * (as the kernel would; core_pattern itself is never changed), the watcher
 * catching a Python process that grows past an RSS threshold, and the gdb
 * command, on a core and on a live process. Each report must name the
 * planted problem.
 */
#include <CUnit/CUnit.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fixtures.h"
#include "heapcore/report.h"
#include "python_cores.h"
#include "suites.h"

/* An unbounded cache; with an argument, a list that grows by 20 000 strings every 20 ms. */
static const char scenario[] =
	"import sys, os, time, gc, types, json\n"
	"os.chdir(os.path.dirname(os.path.abspath(__file__)))\n"
	"gc.disable()\n"
	"app = types.ModuleType('app'); sys.modules['app'] = app\n"
	"class P:\n"
	"    def __init__(s, i): s.i = i; s.b = b'%d' % i * 50\n"
	"app._cache = {'request-%d' % i: P(i) for i in range(30000)}\n"
	"grow = []\n"
	"print(json.dumps({}))\n"
	"print('READY', flush=True)\n"
	"while len(sys.argv) > 1:\n"
	"    grow.extend('entry-%d' % i for i in range(len(grow), len(grow) + 20000)); time.sleep(0.02)\n"
	"time.sleep(1000)\n";

static const char *bin(void)
{
	const char *b = getenv("HEAPCORE_BINARY");
	return b && *b ? b : "./heapcore";
}

static long long file_size(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 ? (long long)st.st_size : -1;
}

static void test_the_core_handler_stores_the_core_and_a_report_naming_the_problem(void)
{
	json_t *truth = NULL;
	const char *core = hc_test_python_core("hook", scenario, "/usr/bin/python3.11", NULL, false, &truth);
	CU_ASSERT_PTR_NOT_NULL_FATAL(core);
	const char *dir = hc_fixture_tmpdir();
	char cmd[2000], stored[600], path[700];
	snprintf(cmd, sizeof(cmd),
		 "HEAPCORE='%s' HEAPCORE_CORE_DIR='%s/cores' '%s/scripts/heapcore-core-handler' 4242 'python3.11' 6 "
		 "1700000000 <'%s' 2>/dev/null",
		 bin(), dir, hc_fixture_source_dir(), core);
	CU_ASSERT_EQUAL(system(cmd), 0);
	snprintf(stored, sizeof(stored), "%s/cores/core.4242.python3.11.1700000000", dir);
	CU_ASSERT_EQUAL(file_size(stored), file_size(core));
	snprintf(path, sizeof(path), "%s.report.txt", stored);
	char *txt = hc_fixture_read_file(path, NULL);
	CU_ASSERT_PTR_NOT_NULL(txt && strstr(txt, "dict app._cache grows without bound"));
	free(txt);
	snprintf(path, sizeof(path), "%s.report.json", stored);
	char *js = hc_fixture_read_file(path, NULL);
	json_t *r = js ? json_loads(js, 0, NULL) : NULL;
	CU_ASSERT_STRING_EQUAL(hc_json_str(json_array_get(json_object_get(r, "findings"), 0), "kind"),
			       "unbounded-container");
	json_decref(r);
	free(js);
	/* the same name again: refused, the stored core untouched */
	CU_ASSERT_NOT_EQUAL(system(cmd), 0);
	CU_ASSERT_EQUAL(file_size(stored), file_size(core));
	/* a size cap cuts the core, and its report says so */
	snprintf(cmd, sizeof(cmd),
		 "HEAPCORE='%s' HEAPCORE_CORE_DIR='%s/cores' HEAPCORE_CORE_MAX=1M '%s/scripts/heapcore-core-handler' "
		 "4243 'python3.11' 6 1700000001 <'%s' 2>/dev/null",
		 bin(), dir, hc_fixture_source_dir(), core);
	CU_ASSERT_EQUAL(system(cmd), 0);
	snprintf(stored, sizeof(stored), "%s/cores/core.4243.python3.11.1700000001", dir);
	CU_ASSERT_EQUAL(file_size(stored), 1 << 20);
	snprintf(path, sizeof(path), "%s.report.txt", stored);
	txt = hc_fixture_read_file(path, NULL);
	CU_ASSERT_PTR_NOT_NULL(txt && strstr(txt, "the core was cut at 1048576 bytes"));
	free(txt);
	/* a symlink where the directory should be is refused */
	snprintf(cmd, sizeof(cmd),
		 "ln -s /tmp '%s/linked' && HEAPCORE='%s' HEAPCORE_CORE_DIR='%s/linked' '%s/scripts/heapcore-core-handler' "
		 "4244 x 6 1 <'%s' 2>/dev/null",
		 dir, bin(), dir, hc_fixture_source_dir(), core);
	CU_ASSERT_NOT_EQUAL(system(cmd), 0);
	CU_ASSERT_EQUAL(file_size("/tmp/core.4244.x.1"), -1);
	json_decref(truth);
}

static void test_the_watcher_catches_a_growing_process_and_names_its_leak(void)
{
	pid_t pid = hc_test_python_spawn("grow", scenario, 1);
	CU_ASSERT_FATAL(pid > 0);
	const char *dir = hc_fixture_tmpdir();
	char cmd[1400], path[600];
	snprintf(cmd, sizeof(cmd),
		 "HEAPCORE='%s' timeout 60 '%s/scripts/heapcore-watch.sh' --pid %d --max 150M --out '%s/watch' "
		 "--interval 0.05 2>/dev/null",
		 bin(), hc_fixture_source_dir(), (int)pid, dir);
	CU_ASSERT_EQUAL(system(cmd), 0);
	/* one snapshot: its report names the list that grows */
	snprintf(cmd, sizeof(cmd), "cat '%s'/watch/heapcore.%d.*.report.txt > '%s/watch.txt'", dir, (int)pid, dir);
	CU_ASSERT_EQUAL(system(cmd), 0);
	snprintf(path, sizeof(path), "%s/watch.txt", dir);
	char *txt = hc_fixture_read_file(path, NULL);
	CU_ASSERT_PTR_NOT_NULL(txt && strstr(txt, "list __main__.grow grows without bound"));
	free(txt);
	/* and it is left running (--then continue), untraced */
	CU_ASSERT_EQUAL(kill(pid, 0), 0);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

static void test_the_gdb_command_reports_on_a_core_and_a_live_process(void)
{
	json_t *truth = NULL;
	const char *core = hc_test_python_core("hook", scenario, "/usr/bin/python3.11", NULL, false, &truth);
	CU_ASSERT_PTR_NOT_NULL_FATAL(core);
	const char *dir = hc_fixture_tmpdir();
	char cmd[1400], path[600];
	snprintf(path, sizeof(path), "%s/gdb.txt", dir);
	snprintf(cmd, sizeof(cmd),
		 "HEAPCORE='%s' gdb -batch -ex 'source %s/scripts/heapcore-gdb.py' -ex heapcore /usr/bin/python3.11 '%s' "
		 ">'%s' 2>&1",
		 bin(), hc_fixture_source_dir(), core, path);
	CU_ASSERT_EQUAL(system(cmd), 0);
	char *txt = hc_fixture_read_file(path, NULL);
	CU_ASSERT_PTR_NOT_NULL(txt && strstr(txt, "dict app._cache grows without bound"));
	free(txt);
	pid_t pid = hc_test_python_spawn("gdblive", scenario, 0);
	CU_ASSERT_FATAL(pid > 0);
	snprintf(cmd, sizeof(cmd),
		 "HEAPCORE='%s' gdb -batch -p %d -ex 'source %s/scripts/heapcore-gdb.py' -ex 'heapcore --top 1' >'%s' 2>&1",
		 bin(), (int)pid, hc_fixture_source_dir(), path);
	CU_ASSERT_EQUAL(system(cmd), 0);
	txt = hc_fixture_read_file(path, NULL);
	CU_ASSERT_PTR_NOT_NULL(txt && strstr(txt, "dict app._cache grows without bound"));
	free(txt);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	json_decref(truth);
}

void hc_test_register_hooks(void)
{
	CU_pSuite s = CU_add_suite("hooks", NULL, NULL);
	CU_add_test(s, "the core handler stores the core and a report naming the problem",
		    test_the_core_handler_stores_the_core_and_a_report_naming_the_problem);
	CU_add_test(s, "the watcher catches a growing process and names its leak",
		    test_the_watcher_catches_a_growing_process_and_names_its_leak);
	CU_add_test(s, "the gdb command reports on a core and a live process",
		    test_the_gdb_command_reports_on_a_core_and_a_live_process);
}
