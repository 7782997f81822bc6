/*
 * Live processes (heapcore/live.h, `heapcore attach` and `dump`): a running
 * Python process with a planted problem gives the same findings attached
 * as from its gcore; a core `heapcore dump` writes is read by gdb and gives
 * the same findings too; a process stopped with SIGSTOP is still stopped
 * afterwards, a running one runs, and neither is left traced, also when
 * heapcore is killed in the middle.
 */
#include <CUnit/CUnit.h>
#include <fcntl.h>
#include <errno.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fixtures.h"
#include "python_cores.h"
#include "heapcore/report.h"
#include "suites.h"

/* An unbounded cache of 30 000 entries, and (with an argument) N MB more to make the copy take longer. */
static const char scenario[] =
	"import sys, time, gc, types\n"
	"gc.disable()\n"
	"app = types.ModuleType('app'); sys.modules['app'] = app\n"
	"class P:\n"
	"    def __init__(s, i): s.i = i; s.b = b'%d' % i * 50\n"
	"app._cache = {'request-%d' % i: P(i) for i in range(30000)}\n"
	"ballast = bytearray(int(sys.argv[1]) << 20) if len(sys.argv) > 1 else None\n"
	"if ballast: ballast[::4096] = b'x' * len(ballast[::4096])\n"
	"print('READY', flush=True)\n"
	"time.sleep(1000)\n";

static pid_t spawn(int ballast_mb)
{
	return hc_test_python_spawn("live", scenario, ballast_mb);
}

static void finish(pid_t pid)
{
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

/* State letter and TracerPid of a process. */
static void status_of(pid_t pid, char *state, int *tracer)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	char *s = hc_fixture_read_file(path, NULL);
	*state = '?';
	*tracer = -1;
	const char *p = s ? strstr(s, "State:") : NULL;
	if (p)
		sscanf(p + 6, " %c", state);
	p = s ? strstr(s, "TracerPid:") : NULL;
	if (p)
		*tracer = atoi(p + 10);
	free(s);
}

/* The findings of `heapcore ARGS --format json` as "kind|title|count" lines. */
static char *findings_of(const char *args, int *rc)
{
	char cmd[600], *out = NULL, *err = NULL;
	snprintf(cmd, sizeof(cmd), "%s --format json", args);
	*rc = hc_fixture_run_cli(cmd, &out, &err);
	json_t *r = out ? json_loads(out, 0, NULL) : NULL;
	json_t *f = json_object_get(r, "findings");
	size_t cap = 4096, w = 0;
	char *s = calloc(1, cap);
	for (size_t i = 0; s && i < json_array_size(f); i++) {
		const json_t *x = json_array_get(f, i);
		w += (size_t)snprintf(s + w, w < cap ? cap - w : 0, "%s|%s|%lld\n", hc_json_str(x, "kind"),
				      hc_json_str(x, "title"), hc_json_int(x, "count"));
	}
	json_decref(r);
	free(out);
	free(err);
	return s;
}

static void test_attach_gives_the_findings_of_the_process_core(void)
{
	pid_t pid = spawn(0);
	CU_ASSERT_FATAL(pid > 0);
	char cmd[1400], core[400];
	snprintf(core, sizeof(core), "%s/live.gcore", hc_fixture_tmpdir());
	snprintf(cmd, sizeof(cmd), "gcore -o '%s' %d >/dev/null 2>&1 && mv '%s.%d' '%s'", core, (int)pid, core, (int)pid,
		 core);
	CU_ASSERT_EQUAL_FATAL(system(cmd), 0);
	int rc1, rc2, rc3;
	snprintf(cmd, sizeof(cmd), "analyze '%s'", core);
	char *from_core = findings_of(cmd, &rc1);
	snprintf(cmd, sizeof(cmd), "attach %d", (int)pid);
	char *attached = findings_of(cmd, &rc2);
	snprintf(cmd, sizeof(cmd), "attach --in-place %d", (int)pid);
	char *in_place = findings_of(cmd, &rc3);
	CU_ASSERT(rc1 == 0 && rc2 == 0 && rc3 == 0);
	CU_ASSERT_PTR_NOT_NULL(from_core && strstr(from_core, "unbounded-container|dict app._cache"));
	CU_ASSERT_STRING_EQUAL(attached, from_core);
	CU_ASSERT_STRING_EQUAL(in_place, from_core);
	/* and it runs on, untraced */
	char state;
	int tracer;
	status_of(pid, &state, &tracer);
	CU_ASSERT(state == 'S' || state == 'R');
	CU_ASSERT_EQUAL(tracer, 0);
	free(from_core);
	free(attached);
	free(in_place);
	finish(pid);
}

static void test_a_dump_is_read_by_gdb_and_gives_the_same_findings(void)
{
	pid_t pid = spawn(0);
	CU_ASSERT_FATAL(pid > 0);
	char cmd[1600], core[400], *out = NULL, *err = NULL;
	snprintf(core, sizeof(core), "%s/live.dump", hc_fixture_tmpdir());
	snprintf(cmd, sizeof(cmd), "dump %d -o '%s'", (int)pid, core);
	CU_ASSERT_EQUAL(hc_fixture_run_cli(cmd, &out, &err), 0);
	CU_ASSERT_PTR_NOT_NULL(err && strstr(err, "paused"));
	free(out);
	free(err);
	/* an existing file is never overwritten */
	snprintf(cmd, sizeof(cmd), "dump %d -o '%s'", (int)pid, core);
	CU_ASSERT_EQUAL(hc_fixture_run_cli(cmd, &out, &err), 3);
	free(out);
	free(err);
	/* gdb reads it: the main thread's backtrace goes through the interpreter */
	snprintf(cmd, sizeof(cmd), "gdb -batch -ex bt /usr/bin/python3.11 '%s' 2>&1 | grep -q Py_BytesMain", core);
	CU_ASSERT_EQUAL(system(cmd), 0);
	int rc1, rc2;
	snprintf(cmd, sizeof(cmd), "analyze '%s'", core);
	char *from_dump = findings_of(cmd, &rc1);
	char gcore[400];
	snprintf(gcore, sizeof(gcore), "%s/live2.gcore", hc_fixture_tmpdir());
	snprintf(cmd, sizeof(cmd), "gcore -o '%s' %d >/dev/null 2>&1 && mv '%s.%d' '%s'", gcore, (int)pid, gcore,
		 (int)pid, gcore);
	CU_ASSERT_EQUAL_FATAL(system(cmd), 0);
	snprintf(cmd, sizeof(cmd), "analyze '%s'", gcore);
	char *from_gcore = findings_of(cmd, &rc2);
	CU_ASSERT_STRING_EQUAL(from_dump, from_gcore);
	free(from_dump);
	free(from_gcore);
	finish(pid);
}

static void test_a_stopped_process_stays_stopped(void)
{
	pid_t pid = spawn(0);
	CU_ASSERT_FATAL(pid > 0);
	kill(pid, SIGSTOP);
	int st;
	waitpid(pid, &st, WUNTRACED);
	char cmd[100], *out = NULL, *err = NULL, state;
	int tracer;
	snprintf(cmd, sizeof(cmd), "attach %d", (int)pid);
	CU_ASSERT_EQUAL(hc_fixture_run_cli(cmd, &out, &err), 0);
	status_of(pid, &state, &tracer);
	CU_ASSERT_EQUAL(state, 'T');
	CU_ASSERT_EQUAL(tracer, 0);
	free(out);
	free(err);
	finish(pid);
}

/* heapcore, stopped by a signal while it holds the process, lets it go: running, untraced */
static void interrupt_mid_attach(int sig)
{
	pid_t pid = spawn(600);
	CU_ASSERT_FATAL(pid > 0);
	const char *bin = getenv("HEAPCORE_BINARY");
	pid_t hc = fork();
	if (hc == 0) {
		char p[16];
		snprintf(p, sizeof(p), "%d", (int)pid);
		int null = open("/dev/null", O_WRONLY);
		dup2(null, 1);
		dup2(null, 2);
		execl(bin && *bin ? bin : "./heapcore", "heapcore", "attach", "--in-place", p, (char *)NULL);
		_exit(127);
	}
	/* wait until it holds the process, then interrupt it */
	char state = '?';
	int tracer = 0;
	for (int i = 0; i < 500 && tracer <= 0; i++) {
		usleep(2000);
		status_of(pid, &state, &tracer);
	}
	CU_ASSERT(tracer == hc);
	kill(hc, sig);
	waitpid(hc, NULL, 0);
	usleep(50000);
	status_of(pid, &state, &tracer);
	CU_ASSERT(state == 'S' || state == 'R');
	CU_ASSERT_EQUAL(tracer, 0);
	if (tracer != 0 || (state != 'S' && state != 'R'))
		fprintf(stderr, "\n  after signal %d: state %c, tracer %d", sig, state, tracer);
	finish(pid);
}

static void test_interrupting_heapcore_mid_attach_leaves_the_process_running_untraced(void)
{
	interrupt_mid_attach(SIGTERM);
	interrupt_mid_attach(SIGINT);
	interrupt_mid_attach(SIGKILL);
}

static void test_attach_says_what_is_wrong(void)
{
	char *out = NULL, *err = NULL;
	CU_ASSERT_EQUAL(hc_fixture_run_cli("attach 2147483000", &out, &err), 7);
	CU_ASSERT_PTR_NOT_NULL(err && strstr(err, "no such process"));
	free(out);
	free(err);
	/* already traced: name the tracer */
	pid_t pid = spawn(0);
	CU_ASSERT_FATAL(pid > 0);
	char cmd[200];
	snprintf(cmd, sizeof(cmd), "gdb -batch -p %d -ex 'shell sleep 3' >/dev/null 2>&1 &", (int)pid);
	CU_ASSERT_EQUAL(system(cmd), 0);
	char state;
	int tracer = 0;
	for (int i = 0; i < 500 && tracer <= 0; i++) {
		usleep(10000);
		status_of(pid, &state, &tracer);
	}
	snprintf(cmd, sizeof(cmd), "attach %d", (int)pid);
	CU_ASSERT_EQUAL(hc_fixture_run_cli(cmd, &out, &err), 3);
	char want[64];
	snprintf(want, sizeof(want), "already traced by process %d", tracer);
	CU_ASSERT_PTR_NOT_NULL(err && strstr(err, want));
	free(out);
	free(err);
	finish(pid);
}

void hc_test_register_live(void)
{
	CU_pSuite s = CU_add_suite("live", NULL, NULL);
	CU_add_test(s, "attach gives the findings of the process's core", test_attach_gives_the_findings_of_the_process_core);
	CU_add_test(s, "a dump is read by gdb and gives the same findings",
		    test_a_dump_is_read_by_gdb_and_gives_the_same_findings);
	CU_add_test(s, "a stopped process stays stopped", test_a_stopped_process_stays_stopped);
	CU_add_test(s, "interrupting heapcore mid-attach leaves the process running, untraced",
		    test_interrupting_heapcore_mid_attach_leaves_the_process_running_untraced);
	CU_add_test(s, "attach says what is wrong", test_attach_says_what_is_wrong);
}
