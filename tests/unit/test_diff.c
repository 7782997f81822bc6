/*
 * heapcore diff: two gcores of one run of a scenario, taken before and
 * after it grows on SIGUSR1 (or, in the stable variant, does nothing but
 * answer). The growing ones must get each growing owner reported with the
 * exact lengths the program printed of itself and the right name (a C
 * global, a container's path from sys.modules); the stable ones no growth
 * finding at all; cores of two programs are refused.
 */
#include <CUnit/CUnit.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "fixtures.h"
#include "heapcore/report.h"
#include "python_cores.h"
#include "suites.h"

/* A C global list of 1000 nodes; on SIGUSR1 4000 more (none when built with -DSTABLE). */
#define NATIVE_SCENARIO(name, extra)                                                                            \
	static const char name[] =                                                                              \
		extra "#include <signal.h>\n#include <stdio.h>\n#include <stdlib.h>\n#include <unistd.h>\n"     \
		"struct node { struct node *next; char pad[120]; };\n"                                          \
		"struct node *g_list;\n"                                                                        \
		"char *g_stable[100];\n"                                                                        \
		"volatile sig_atomic_t g_grow;\n"                                                               \
		"static void on_usr1(int s) { (void)s; g_grow = 1; }\n"                                        \
		"static int add(int n) { static int len; for (int i = 0; i < n; i++) {\n"                    \
		"  struct node *x = calloc(1, sizeof(*x)); x->next = g_list; g_list = x; } return len += n; }\n" \
		"int main(void) {\n"                                                                             \
		"  signal(SIGUSR1, on_usr1);\n"                                                                  \
		"  for (int i = 0; i < 100; i++) g_stable[i] = malloc(1000);\n"                                \
		"  printf(\"list %d\\n\", add(1000)); printf(\"READY\\n\"); fflush(stdout);\n"               \
		"  for (;;) { pause(); if (!g_grow) continue; g_grow = 0;\n"                                   \
		"#ifndef STABLE\n"                                                                               \
		"    printf(\"list %d\\n\", add(4000));\n"                                                     \
		"#endif\n"                                                                                       \
		"    printf(\"GREW\\n\"); fflush(stdout); }\n"                                                 \
		"}\n";

NATIVE_SCENARIO(native_growing, "")
NATIVE_SCENARIO(native_stable, "#define STABLE\n")

/* START (3000) records leaked at start, 9000 more on SIGUSR1: one leak that gets worse, or starts. */
static const char native_leaking[] =
	"#include <signal.h>\n#include <stdio.h>\n#include <stdlib.h>\n#include <unistd.h>\n"
	"#ifndef START\n#define START 3000\n#endif\n"
	"struct rec { struct rec *next; char pad[200]; };\n"
	"volatile sig_atomic_t g_grow;\n"
	"static void on_usr1(int s) { (void)s; g_grow = 1; }\n"
	"__attribute__((noinline)) static void leak(int n) { struct rec *h = 0;\n"
	"  for (int i = 0; i < n; i++) { struct rec *x = calloc(1, sizeof *x); x->next = h; h = x; } }\n"
	/* the dead frames' stale pointers to the leak, wiped */
	"__attribute__((noinline)) static void scrub(void) { volatile char b[8192]; for (int i = 0; i < 8192; i++) b[i] = 0; }\n"
	"int main(void) { signal(SIGUSR1, on_usr1); leak(START); scrub(); printf(\"READY\\n\"); fflush(stdout);\n"
	"  for (;;) { pause(); if (g_grow) { g_grow = 0; leak(9000); scrub(); printf(\"GREW\\n\"); fflush(stdout); } } }\n";

/*
 * An app module with a cache and an event bus: 10 000 entries and 300
 * listeners, then on SIGUSR1 10 000 entries and 500 listeners more (none
 * with the argument "stable"). It prints len() of both after each step.
 */
static const char python_growing[] =
	"import sys, os, json, time, gc, types, signal\n"
	"os.chdir(os.path.dirname(os.path.abspath(__file__)))\n"
	"gc.disable()\n"
	"app = types.ModuleType('app'); app.__file__ = '/srv/app.py'; sys.modules['app'] = app\n"
	"class Payload:\n"
	"    def __init__(self, i): self.i = i; self.blob = b'%d' % i * 100\n"
	"class Widget:\n"
	"    def __init__(self): self.buf = bytearray(4000)\n"
	"    def on_event(self, e): pass\n"
	"class Bus:\n"
	"    def __init__(self): self.listeners = []\n"
	"app._cache = {}\n"
	"app.bus = Bus()\n"
	"STABLE = os.path.basename(__file__).startswith('stable')\n"
	"def fill(n0, n1, w):\n"
	"    for i in range(n0, n1): app._cache['request-%d' % i] = Payload(i)\n"
	"    for _ in range(w): app.bus.listeners.append(Widget().on_event)\n"
	"    print(json.dumps({'cache': len(app._cache), 'listeners': len(app.bus.listeners)})); sys.stdout.flush()\n"
	"fill(0, 10000, 300)\n"
	"def on_usr1(s, f):\n"
	"    if not STABLE: fill(10000, 20000, 500)\n"
	"    print('GREW'); sys.stdout.flush()\n"
	"signal.signal(signal.SIGUSR1, on_usr1)\n"
	"print('READY'); sys.stdout.flush()\n"
	"while True: time.sleep(1000)\n";

/* heapcore diff ARGS OLD NEW as JSON; its exit code in *rc. */
static json_t *diff_json(const char *old_core, const char *new_core, const char *extra, int *rc)
{
	char args[1200], *out = NULL, *err = NULL;
	snprintf(args, sizeof(args), "diff --format json %s '%s' '%s'", extra, old_core, new_core);
	*rc = hc_fixture_run_cli_bounded(600, args, &out, &err);
	json_t *r = out ? json_loads(out, 0, NULL) : NULL;
	if (!r)
		fprintf(stderr, "\n  diff gave no JSON (exit %d): %.500s\n", *rc, err ? err : "");
	free(out);
	free(err);
	return r;
}

static const json_t *finding_on(const json_t *r, const char *kind, const char *location)
{
	const json_t *f = json_object_get(r, "findings");
	for (size_t i = 0; i < json_array_size(f); i++) {
		const json_t *x = json_array_get(f, i);
		if (!strcmp(hc_json_str(x, "kind"), kind) &&
		    !strcmp(hc_json_str(json_object_get(x, "location"), "name"), location))
			return x;
	}
	return NULL;
}

static const json_t *owner_row(const json_t *r, const char *name)
{
	const json_t *o = json_object_get(r, "owners");
	for (size_t i = 0; i < json_array_size(o); i++)
		if (!strcmp(hc_json_str(json_array_get(o, i), "name"), name))
			return json_array_get(o, i);
	return NULL;
}

/* No finding of growth, nothing new or worse, no growing owner. */
static void expect_no_growth(const json_t *r)
{
	const json_t *f = json_object_get(r, "findings");
	for (size_t i = 0; i < json_array_size(f); i++)
		fprintf(stderr, "\n  unexpected: %s", hc_json_str(json_array_get(f, i), "title"));
	CU_ASSERT_EQUAL(json_array_size(f), 0);
	CU_ASSERT_EQUAL(json_array_size(json_object_get(r, "owners")), 0);
	CU_ASSERT_EQUAL(json_array_size(json_object_get(r, "findings_new")), 0);
	CU_ASSERT_EQUAL(json_array_size(json_object_get(r, "findings_worse")), 0);
}

/* The n-th "list N" line the native scenario printed. */
static int printed_list(const char *name, int nth)
{
	char path[400];
	snprintf(path, sizeof(path), "%s/%s.out", hc_fixture_tmpdir(), name);
	char *out = hc_fixture_read_file(path, NULL);
	int v = -1, k = 0;
	for (const char *p = out; p && (p = strstr(p, "list ")); p += 5)
		if (k++ == nth)
			v = atoi(p + 5);
	free(out);
	return v;
}

static void test_a_growing_native_list_is_named_with_its_lengths(void)
{
	const char *old_core, *new_core;
	CU_ASSERT_FATAL(hc_fixture_make_core_pair("diff_native", native_growing, "gcc -g -O0", "c", &old_core, &new_core));
	int rc;
	json_t *r = diff_json(old_core, new_core, "--interval 1h --limit 1G", &rc);
	CU_ASSERT_FATAL(r != NULL);
	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT_STRING_EQUAL(hc_json_str(r, "schema"), "heapcore.diff/1");
	int before = printed_list("diff_native", 0), after = printed_list("diff_native", 1);
	CU_ASSERT_EQUAL(before, 1000);
	CU_ASSERT_EQUAL(after, 5000);
	const json_t *f = finding_on(r, "growing-owner", "g_list");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	CU_ASSERT_EQUAL(json_array_size(json_object_get(r, "findings")), 1);
	CU_ASSERT_PTR_NOT_NULL(strstr(hc_json_str(f, "title"), "g_list (data): 1,000 -> 5,000 allocations"));
	const json_t *o = owner_row(r, "g_list");
	CU_ASSERT_EQUAL(hc_json_int(o, "old_length"), before);
	CU_ASSERT_EQUAL(hc_json_int(o, "new_length"), after);
	/* calloc(128): 0x90-byte chunks, 136 usable bytes each */
	CU_ASSERT_EQUAL(hc_json_int(o, "delta_bytes"), (after - before) * 136);
	/* the type that grew is the list's */
	const json_t *t = json_array_get(json_object_get(r, "types"), 0);
	CU_ASSERT_STRING_EQUAL(hc_json_str(t, "name"), "struct node");
	CU_ASSERT_EQUAL(hc_json_int(t, "delta_count"), after - before);
	/* a rate from --interval, and when 1 GiB would be reached at it */
	const json_t *p = json_object_get(r, "projection");
	CU_ASSERT_STRING_EQUAL(hc_json_str(json_object_get(r, "interval"), "from"), "--interval");
	CU_ASSERT_TRUE(json_real_value(json_object_get(p, "bytes_per_hour")) > (after - before) * 136);
	CU_ASSERT_TRUE(json_real_value(json_object_get(p, "hours_to_limit")) > 100);
	CU_ASSERT_PTR_NOT_NULL(strstr(hc_json_str(p, "estimate"), "an estimate from two points"));
	json_decref(r);
	/* the CI gate */
	char args[1200];
	snprintf(args, sizeof(args), "diff --fail-on warning '%s' '%s'", old_core, new_core);
	CU_ASSERT_EQUAL(hc_fixture_run_cli_bounded(600, args, NULL, NULL), 9);
}

/* A finding of both cores that retains more in NEW is said as worse, with before and after and the rate. */
static void test_a_leak_that_grows_is_a_worse_finding_with_its_rate(void)
{
	const char *old_core, *new_core;
	CU_ASSERT_FATAL(hc_fixture_make_core_pair("diff_leak", native_leaking, "gcc -g -O0", "c", &old_core, &new_core));
	int rc;
	json_t *r = diff_json(old_core, new_core, "--interval 30m", &rc);
	CU_ASSERT_FATAL(r != NULL);
	const json_t *f = json_array_get(json_object_get(r, "findings"), 0);
	CU_ASSERT_STRING_EQUAL(hc_json_str(f, "kind"), "worse-finding");
	CU_ASSERT_PTR_NOT_NULL(strstr(hc_json_str(f, "title"), "leaked: 12000 allocations"));
	CU_ASSERT_PTR_NOT_NULL(strstr(hc_json_str(f, "evidence"), "(3000 -> 12000 items); 18000 items and "));
	CU_ASSERT_PTR_NOT_NULL(strstr(hc_json_str(f, "evidence"), "per hour (measured over 30 minutes)"));
	/* 9000 records more, each a 0xe0-byte chunk */
	CU_ASSERT_EQUAL(hc_json_int(f, "retained_bytes"), 9000 * 0xe0);
	const json_t *w = json_array_get(json_object_get(r, "findings_worse"), 0);
	CU_ASSERT_EQUAL(hc_json_int(w, "old_retained_bytes"), 3000 * 0xe0);
	CU_ASSERT_EQUAL(hc_json_int(w, "new_retained_bytes"), 12000 * 0xe0);
	json_decref(r);
}

/* A warning that only NEW has is said as new. */
static void test_a_leak_that_starts_is_a_new_finding(void)
{
	const char *old_core, *new_core;
	CU_ASSERT_FATAL(hc_fixture_make_core_pair("diff_late_leak", native_leaking, "gcc -g -O0 -DSTART=0", "c", &old_core,
						  &new_core));
	int rc;
	json_t *r = diff_json(old_core, new_core, "", &rc);
	CU_ASSERT_FATAL(r != NULL);
	const json_t *f = json_array_get(json_object_get(r, "findings"), 0);
	CU_ASSERT_STRING_EQUAL(hc_json_str(f, "kind"), "new-finding");
	CU_ASSERT_PTR_NOT_NULL(strstr(hc_json_str(f, "title"), "new since OLD: "));
	CU_ASSERT_PTR_NOT_NULL(strstr(hc_json_str(f, "title"), "leaked: 9000 allocations"));
	CU_ASSERT_EQUAL(hc_json_int(f, "retained_bytes"), 9000 * 0xe0);
	CU_ASSERT_EQUAL(json_array_size(json_object_get(r, "findings_new")), 1);
	json_decref(r);
}

static void test_a_stable_native_process_shows_no_growth(void)
{
	const char *old_core, *new_core;
	CU_ASSERT_FATAL(hc_fixture_make_core_pair("diff_native_stable", native_stable, "gcc -g -O0", "c", &old_core,
						  &new_core));
	int rc;
	json_t *r = diff_json(old_core, new_core, "", &rc);
	CU_ASSERT_FATAL(r != NULL);
	CU_ASSERT_EQUAL(rc, 0);
	expect_no_growth(r);
	/* the time between the cores comes from the files when not given */
	CU_ASSERT_STRING_EQUAL(hc_json_str(json_object_get(r, "interval"), "from"), "the cores' times");
	json_decref(r);
}

/*
 * systemd-coredump's user.coredump.timestamp (microseconds) names when the
 * process crashed; it wins over the file's time, which copies move.
 */
static void test_core_times_come_from_systemd_coredump_when_it_recorded_them(void)
{
	const char *old_core, *new_core;
	CU_ASSERT_FATAL(hc_fixture_make_core_pair("diff_native_stable", native_stable, "gcc -g -O0", "c", &old_core,
						  &new_core));
	const char *o = hc_fixture_copy_file("stamped_old.core", old_core, 0);
	const char *n = hc_fixture_copy_file("stamped_new.core", new_core, 0);
	CU_ASSERT_FATAL(o && n);
	static const char t0[] = "1700000000000000", t1[] = "1700005400250000";
	CU_ASSERT_FATAL(setxattr(o, "user.coredump.timestamp", t0, strlen(t0), 0) == 0);
	CU_ASSERT_FATAL(setxattr(n, "user.coredump.timestamp", t1, strlen(t1), 0) == 0);
	int rc;
	json_t *r = diff_json(o, n, "", &rc);
	CU_ASSERT_FATAL(r != NULL);
	const json_t *iv = json_object_get(r, "interval");
	CU_ASSERT_DOUBLE_EQUAL(json_real_value(json_object_get(iv, "seconds")), 5400.25, 1e-3);
	CU_ASSERT_STRING_EQUAL(hc_json_str(iv, "from"), "the cores' times");
	CU_ASSERT_STRING_EQUAL(hc_json_str(json_object_get(r, "new"), "time_from"), "systemd-coredump");
	CU_ASSERT_DOUBLE_EQUAL(json_real_value(json_object_get(json_object_get(r, "old"), "time")), 1700000000.0, 1e-3);
	json_decref(r);
}

/* The two lines of lengths the Python scenario printed: before and after. */
static json_t *python_lengths(const char *name, int nth)
{
	char path[400];
	snprintf(path, sizeof(path), "%s/%s.out", hc_fixture_tmpdir(), name);
	char *out = hc_fixture_read_file(path, NULL);
	json_t *v = NULL;
	int k = 0;
	for (char *p = out; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
		if (*p == '{' && k++ == nth)
			v = json_loadb(p, strcspn(p, "\n"), 0, NULL);
	free(out);
	return v;
}

static void test_a_growing_cache_and_listener_list_are_named_with_their_lengths(void)
{
	const char *old_core, *new_core;
	CU_ASSERT_FATAL(hc_test_python_core_pair("diff_py", python_growing, "/usr/bin/python3.11", &old_core, &new_core));
	json_t *before = python_lengths("diff_py", 0), *after = python_lengths("diff_py", 1);
	CU_ASSERT_FATAL(before && after);
	int rc;
	json_t *r = diff_json(old_core, new_core, "", &rc);
	CU_ASSERT_FATAL(r != NULL);
	CU_ASSERT_EQUAL(rc, 0);
	const json_t *c = finding_on(r, "growing-container", "app._cache");
	const json_t *l = finding_on(r, "growing-container", "app.bus.listeners");
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	CU_ASSERT_PTR_NOT_NULL_FATAL(l);
	CU_ASSERT_PTR_NOT_NULL(strstr(hc_json_str(c, "title"), "app._cache: 10,000 -> 20,000 entries"));
	CU_ASSERT_STRING_EQUAL(hc_json_str(c, "path"), "sys.modules['app'].__dict__['_cache']");
	CU_ASSERT_STRING_EQUAL(hc_json_str(l, "path"), "sys.modules['app'].__dict__['bus'].listeners");
	const json_t *oc = owner_row(r, "app._cache"), *ol = owner_row(r, "app.bus.listeners");
	CU_ASSERT_EQUAL(hc_json_int(oc, "old_length"), json_integer_value(json_object_get(before, "cache")));
	CU_ASSERT_EQUAL(hc_json_int(oc, "new_length"), json_integer_value(json_object_get(after, "cache")));
	CU_ASSERT_EQUAL(hc_json_int(ol, "old_length"), json_integer_value(json_object_get(before, "listeners")));
	CU_ASSERT_EQUAL(hc_json_int(ol, "new_length"), json_integer_value(json_object_get(after, "listeners")));
	/* the cache, the larger growth, ranks first; analyze's own findings on the same two are not said twice */
	CU_ASSERT_PTR_EQUAL(json_array_get(json_object_get(r, "findings"), 0), c);
	CU_ASSERT_PTR_NULL(finding_on(r, "worse-finding", "app._cache"));
	CU_ASSERT_EQUAL(json_array_size(json_object_get(r, "findings")), 2);
	/* and the Python types that grew with them, exactly as many as were added */
	const json_t *types = json_object_get(r, "types");
	bool payload = false;
	for (size_t i = 0; i < json_array_size(types); i++) {
		const json_t *t = json_array_get(types, i);
		if (!strcmp(hc_json_str(t, "name"), "__main__.Payload")) {
			payload = true;
			CU_ASSERT_EQUAL(hc_json_int(t, "delta_count"), 10000);
		}
	}
	CU_ASSERT_TRUE(payload);
	json_decref(r);
	json_decref(before);
	json_decref(after);
}

/*
 * A report saved by analyze --snapshot --format json stands in for a side,
 * so that yesterday's core need not be kept; one saved without the snapshot
 * is refused, saying how to save it.
 */
static void test_a_saved_report_stands_in_for_old(void)
{
	const char *old_core, *new_core;
	CU_ASSERT_FATAL(hc_test_python_core_pair("diff_py", python_growing, "/usr/bin/python3.11", &old_core, &new_core));
	char args[1200], *out = NULL, *err = NULL, saved[400], plain[400];
	snprintf(args, sizeof(args), "analyze --snapshot --format json '%s'", old_core);
	CU_ASSERT_EQUAL_FATAL(hc_fixture_run_cli_bounded(600, args, &out, &err), 0);
	snprintf(saved, sizeof(saved), "%s", hc_fixture_write_file("saved.json", out, strlen(out)));
	free(out);
	free(err);
	int rc;
	json_t *r = diff_json(saved, new_core, "", &rc);
	CU_ASSERT_FATAL(r != NULL);
	CU_ASSERT_EQUAL(rc, 0);
	const json_t *c = finding_on(r, "growing-container", "app._cache");
	CU_ASSERT_PTR_NOT_NULL(c);
	CU_ASSERT_PTR_NOT_NULL(strstr(hc_json_str(c, "title"), "app._cache: 10,000 -> 20,000 entries"));
	CU_ASSERT_PTR_NOT_NULL(finding_on(r, "growing-container", "app.bus.listeners"));
	json_decref(r);
	snprintf(args, sizeof(args), "analyze --format json '%s'", old_core);
	CU_ASSERT_EQUAL_FATAL(hc_fixture_run_cli_bounded(600, args, &out, &err), 0);
	snprintf(plain, sizeof(plain), "%s", hc_fixture_write_file("plain.json", out, strlen(out)));
	free(out);
	free(err);
	snprintf(args, sizeof(args), "diff '%s' '%s'", plain, new_core);
	CU_ASSERT_EQUAL(hc_fixture_run_cli_bounded(600, args, &out, &err), 4);
	CU_ASSERT_PTR_NOT_NULL(err && strstr(err, "a report without a snapshot (save it with analyze --snapshot"));
	free(out);
	free(err);
}

static void test_a_stable_python_process_shows_no_growth(void)
{
	const char *old_core, *new_core;
	/* the scenario reads "stable" from its own file name */
	CU_ASSERT_FATAL(hc_test_python_core_pair("stable_py", python_growing, "/usr/bin/python3.11", &old_core, &new_core));
	int rc;
	json_t *r = diff_json(old_core, new_core, "", &rc);
	CU_ASSERT_FATAL(r != NULL);
	CU_ASSERT_EQUAL(rc, 0);
	expect_no_growth(r);
	json_decref(r);
}

/* NEW may be a live process: its copy is taken as attach takes one, and named by its pid. */
static void test_a_core_against_the_live_process_it_came_from(void)
{
	pid_t pid = hc_test_python_spawn("live_py", python_growing, 0);
	CU_ASSERT_FATAL(pid > 0);
	char old_core[400], cmd[1000], out[400];
	snprintf(old_core, sizeof(old_core), "%s/live_py.old.core", hc_fixture_tmpdir());
	snprintf(cmd, sizeof(cmd), "gcore -o '%s/live_py.g' %d >/dev/null 2>&1 && mv '%s/live_py.g.%d' '%s'",
		 hc_fixture_tmpdir(), (int)pid, hc_fixture_tmpdir(), (int)pid, old_core);
	bool ok = system(cmd) == 0 && kill(pid, SIGUSR1) == 0;
	snprintf(out, sizeof(out), "%s/live_py.0.out", hc_fixture_tmpdir());
	for (int i = 0; ok && i < 1000; i++) {
		char *text = hc_fixture_read_file(out, NULL);
		bool grew = text && strstr(text, "GREW");
		free(text);
		if (grew)
			break;
		usleep(10000);
	}
	char live[32];
	snprintf(live, sizeof(live), "%d", (int)pid);
	int rc = -1;
	json_t *r = ok ? diff_json(old_core, live, "", &rc) : NULL;
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	CU_ASSERT_FATAL(r != NULL);
	CU_ASSERT_EQUAL(rc, 0);
	const json_t *c = finding_on(r, "growing-container", "app._cache");
	CU_ASSERT_PTR_NOT_NULL(c);
	CU_ASSERT_PTR_NOT_NULL(strstr(hc_json_str(c, "title"), "app._cache: 10,000 -> 20,000 entries"));
	char name[48];
	snprintf(name, sizeof(name), "process %d", (int)pid);
	CU_ASSERT_STRING_EQUAL(hc_json_str(json_object_get(r, "new"), "path"), name);
	json_decref(r);
}

static void test_cores_of_different_programs_are_refused(void)
{
	const char *n0, *n1, *p0, *p1;
	CU_ASSERT_FATAL(hc_fixture_make_core_pair("diff_native", native_growing, "gcc -g -O0", "c", &n0, &n1));
	CU_ASSERT_FATAL(hc_test_python_core_pair("diff_py", python_growing, "/usr/bin/python3.11", &p0, &p1));
	char args[1200], *out = NULL, *err = NULL;
	snprintf(args, sizeof(args), "diff '%s' '%s'", n0, p1);
	CU_ASSERT_EQUAL(hc_fixture_run_cli_bounded(600, args, &out, &err), 2);
	CU_ASSERT_PTR_NOT_NULL(err && strstr(err, "OLD and NEW are cores of different programs"));
	CU_ASSERT_PTR_NOT_NULL(err && strstr(err, "diff_native (build-id "));
	CU_ASSERT_TRUE(!out || !*out);
	free(out);
	free(err);
	/* one interpreter, two scripts: gdb writes no arguments, so __main__.__file__ tells them apart */
	const char *s0, *s1;
	CU_ASSERT_FATAL(hc_test_python_core_pair("stable_py", python_growing, "/usr/bin/python3.11", &s0, &s1));
	snprintf(args, sizeof(args), "diff '%s' '%s'", s0, p1);
	CU_ASSERT_EQUAL(hc_fixture_run_cli_bounded(600, args, &out, &err), 2);
	CU_ASSERT_PTR_NOT_NULL(err && strstr(err, "different programs: Python scripts "));
	CU_ASSERT_PTR_NOT_NULL(err && strstr(err, "stable_py.py and "));
	free(out);
	free(err);
	/* --force compares them anyway */
	snprintf(args, sizeof(args), "diff --force '%s' '%s'", s0, p1);
	CU_ASSERT_EQUAL(hc_fixture_run_cli_bounded(600, args, NULL, NULL), 0);
}

void hc_test_register_diff(void)
{
	CU_pSuite s = CU_add_suite("diff", NULL, NULL);
	CU_add_test(s, "a growing native list is named with its lengths", test_a_growing_native_list_is_named_with_its_lengths);
	CU_add_test(s, "a stable native process shows no growth", test_a_stable_native_process_shows_no_growth);
	CU_add_test(s, "a leak that grows is a worse finding with its rate", test_a_leak_that_grows_is_a_worse_finding_with_its_rate);
	CU_add_test(s, "a leak that starts is a new finding", test_a_leak_that_starts_is_a_new_finding);
	CU_add_test(s, "core times come from systemd-coredump when it recorded them",
		    test_core_times_come_from_systemd_coredump_when_it_recorded_them);
	CU_add_test(s, "a growing cache and listener list are named with their lengths",
		    test_a_growing_cache_and_listener_list_are_named_with_their_lengths);
	CU_add_test(s, "a saved report stands in for OLD", test_a_saved_report_stands_in_for_old);
	CU_add_test(s, "a stable Python process shows no growth", test_a_stable_python_process_shows_no_growth);
	CU_add_test(s, "a core against the live process it came from", test_a_core_against_the_live_process_it_came_from);
	CU_add_test(s, "cores of different programs are refused", test_cores_of_different_programs_are_refused);
}
