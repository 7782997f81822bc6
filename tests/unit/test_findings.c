/*
 * The findings of analyze (heapcore/findings.h, heuristics/): on processes
 * with planted problems of known sizes, each detector fires with the right
 * kind, name and chain, and the findings come ranked by size; on processes
 * with the near misses (a bounded lru_cache, listeners held through
 * WeakMethod and a WeakSet, a reachable tree with parent back-pointers, a
 * big list only a thread's frame holds, no leaks) nothing is critical or a
 * warning. Python 3.11 (Debian's) and 3.13 (trixie), and a native C program.
 */
#include <CUnit/CUnit.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixtures.h"
#include "heapcore/report.h"
#include "python_cores.h"
#include "suites.h"

/*
 * Three problems, largest first: an unbounded cache (about 12 MB), an
 * event bus holding bound methods of 1500 widgets (about 6 MB), and
 * 10 000 unreachable pairs of Nodes with gc disabled (about 3 MB).
 */
static const char problems[] =
	HC_PY_CACHE_AND_BUS
	"class Node:\n"
	"    def __init__(self): self.pad = b'x' * 100\n"
	"for i in range(10000):\n"
	"    a = Node(); b = Node(); a.other = b; b.other = a\n"
	"del a, b\n"
	"print(json.dumps({'cache': id(app._cache), 'listeners': id(app.bus.listeners)}))\n"
	"print('READY'); sys.stdout.flush()\n"
	"time.sleep(1000)\n";

/* The near misses, none a problem. */
static const char clean[] =
	"import sys, os, json, time, gc, types, threading, weakref, functools\n"
	"os.chdir(os.path.dirname(os.path.abspath(__file__)))\n"
	"@functools.lru_cache(maxsize=128)\n"
	"def render(i): return 'page %d ' % i * 200\n"
	"for i in range(5000): render(i)\n"
	"class Widget:\n"
	"    def __init__(self): self.buf = bytearray(100000)\n"
	"    def on_event(self, e): pass\n"
	"widgets = [Widget() for _ in range(20)]\n"
	"listeners = [weakref.WeakMethod(w.on_event) for w in widgets for _ in range(10)]\n"
	"subscribers = weakref.WeakSet(widgets)\n"
	"class TreeNode:\n"
	"    def __init__(self, parent): self.parent = parent; self.children = []\n"
	"def grow(node, depth):\n"
	"    for _ in range(6 if depth else 0):\n"
	"        c = TreeNode(node); node.children.append(c); grow(c, depth - 1)\n"
	"tree = TreeNode(None); grow(tree, 4)\n"
	"ev = threading.Event()\n"
	"def work():\n"
	"    data = [bytes(100) for _ in range(50000)]\n"
	"    ev.wait()\n"
	"th = threading.Thread(target=work); th.start()\n"
	"while len(sys._current_frames()) < 2: time.sleep(0.01)\n"
	"time.sleep(0.3)\n"
	"gc.collect()\n"
	"print(json.dumps({}))\n"
	"print('READY'); sys.stdout.flush()\n"
	"time.sleep(1000)\n";

static json_t *analyze_json(const char *core, const char *extra)
{
	char args[600], *out = NULL, *err = NULL;
	snprintf(args, sizeof(args), "analyze --format json %s '%s'", extra, core);
	int rc = hc_fixture_run_cli(args, &out, &err);
	CU_ASSERT(rc == 0 || rc == 9);
	json_t *r = out ? json_loads(out, 0, NULL) : NULL;
	free(out);
	free(err);
	return r;
}

static void check_problems(const char *name, const char *python, const char *root)
{
	json_t *truth = NULL;
	const char *core = hc_test_python_core(name, problems, python, root, false, &truth);
	CU_ASSERT_PTR_NOT_NULL_FATAL(core);
	json_t *r = analyze_json(core, "");
	CU_ASSERT_FATAL(r != NULL);
	CU_ASSERT_STRING_EQUAL(hc_json_str(r, "schema"), "heapcore.analyze/1");
	json_t *f = json_object_get(r, "findings");
	CU_ASSERT_FATAL(json_array_size(f) >= 3);
	/* the three planted, ranked by size, each with its kind and its name */
	const json_t *c = json_array_get(f, 0), *l = json_array_get(f, 1), *g = json_array_get(f, 2);
	CU_ASSERT_STRING_EQUAL(hc_json_str(c, "kind"), "unbounded-container");
	CU_ASSERT_STRING_EQUAL(hc_json_str(json_object_get(c, "location"), "name"), "app._cache");
	CU_ASSERT_STRING_EQUAL(hc_json_str(json_object_get(c, "location"), "file"), "/srv/app.py");
	CU_ASSERT_STRING_EQUAL(hc_json_str(c, "path"), "sys.modules['app'].__dict__['_cache']");
	char want[64];
	snprintf(want, sizeof(want), "0x%llx", (unsigned long long)json_integer_value(json_object_get(truth, "cache")));
	CU_ASSERT_STRING_EQUAL(hc_json_str(json_array_get(json_object_get(c, "chain"), 0), "address"), want);
	CU_ASSERT_EQUAL(hc_json_int(c, "count"), 20000);
	CU_ASSERT_PTR_NOT_NULL(strstr(hc_json_str(c, "evidence"), "keys look generated"));
	CU_ASSERT_STRING_EQUAL(hc_json_str(l, "kind"), "listener-leak");
	CU_ASSERT_STRING_EQUAL(hc_json_str(l, "path"), "sys.modules['app'].__dict__['bus'].listeners");
	CU_ASSERT_PTR_NOT_NULL(strstr(hc_json_str(l, "title"), "Widget.on_event"));
	CU_ASSERT_EQUAL(hc_json_int(l, "count"), 1500);
	CU_ASSERT_STRING_EQUAL(hc_json_str(g, "kind"), "garbage-cycle");
	CU_ASSERT_PTR_NOT_NULL(strstr(hc_json_str(g, "title"), "Node.other -> __main__.Node"));
	CU_ASSERT_EQUAL(hc_json_int(g, "count"), 20000);
	CU_ASSERT_PTR_NOT_NULL(strstr(hc_json_str(g, "evidence"), "DISABLED"));
	CU_ASSERT(hc_json_int(c, "retained_bytes") > hc_json_int(l, "retained_bytes") &&
		  hc_json_int(l, "retained_bytes") > hc_json_int(g, "retained_bytes"));
	CU_ASSERT_STRING_NOT_EQUAL(hc_json_str(c, "severity"), "opportunity");
	if (json_array_size(f) >= 3 && strcmp(hc_json_str(c, "kind"), "unbounded-container"))
		for (size_t i = 0; i < json_array_size(f) && i < 5; i++)
			fprintf(stderr, "\n  %s: #%zu %s", name, i + 1, hc_json_str(json_array_get(f, i), "title"));
	json_decref(r);
	/* --top, --min-bytes and --fail-on: the CI gate */
	char args[600], *out = NULL, *err = NULL;
	snprintf(args, sizeof(args), "analyze --format json --top 1 --fail-on warning '%s'", core);
	CU_ASSERT_EQUAL(hc_fixture_run_cli(args, &out, &err), 9);
	r = out ? json_loads(out, 0, NULL) : NULL;
	CU_ASSERT_EQUAL(json_array_size(json_object_get(r, "findings")), 1);
	json_decref(r);
	free(out);
	free(err);
	snprintf(args, sizeof(args), "analyze --min-bytes 1G --fail-on opportunity '%s'", core);
	CU_ASSERT_EQUAL(hc_fixture_run_cli(args, &out, &err), 0);
	CU_ASSERT_PTR_NOT_NULL(out && strstr(out, "CRITICAL ISSUES (0)"));
	free(out);
	free(err);
	json_decref(truth);
}

static void check_clean(const char *name, const char *python, const char *root)
{
	json_t *truth = NULL;
	const char *core = hc_test_python_core(name, clean, python, root, false, &truth);
	CU_ASSERT_PTR_NOT_NULL_FATAL(core);
	json_t *r = analyze_json(core, "");
	CU_ASSERT_FATAL(r != NULL);
	json_t *f = json_object_get(r, "findings");
	for (size_t i = 0; i < json_array_size(f); i++) {
		const json_t *x = json_array_get(f, i);
		bool serious = strcmp(hc_json_str(x, "severity"), "opportunity") != 0;
		CU_ASSERT_FALSE(serious);
		if (serious)
			fprintf(stderr, "\n  %s: %s finding: %s", name, hc_json_str(x, "severity"), hc_json_str(x, "title"));
	}
	CU_ASSERT_EQUAL(hc_json_int(json_object_get(r, "summary"), "critical"), 0);
	json_decref(r);
	json_decref(truth);
}

static void test_python_3_11_problems_ranked_by_size_with_kind_name_and_chain(void)
{
	check_problems("findings311", "/usr/bin/python3.11", NULL);
}

static void test_python_3_13_problems_ranked_by_size_with_kind_name_and_chain(void)
{
	char root[512];
	if (hc_test_python_root("3.13", root, sizeof(root)))
		check_problems("findings313", "/usr/bin/python3.13", root);
}

static void test_python_3_11_near_misses_are_no_warning(void)
{
	check_clean("clean311", "/usr/bin/python3.11", NULL);
}

static void test_python_3_13_near_misses_are_no_warning(void)
{
	char root[512];
	if (hc_test_python_root("3.13", root, sizeof(root)))
		check_clean("clean313", "/usr/bin/python3.13", root);
}

/* Three leaked lists of three struct types, 3, 2 and 1 MB, and anchored ones of each type. */
static const char native_leaks[] =
	"#include <stdio.h>\n#include <stdlib.h>\n#include <unistd.h>\n"
	"struct big { struct big *next; char pad[200]; };\n"
	"struct mid { struct mid *next; char pad[120]; };\n"
	"struct small { struct small *next; char pad[40]; };\n"
	"struct big *g_kept;\n"
	"struct mid *g_mid_one;\n"
	"struct small *g_small_one;\n"
	"#define LIST(T, n) struct T *h = 0; for (int i = 0; i < (n); i++) { struct T *x = calloc(1, sizeof(*x)); "
	"x->next = h; h = x; }\n"
	"/* each list is lost when its function returns: its frame is below the stack pointer then */\n"
	"static void leak_big(void) { LIST(big, 14000) }\n"
	"static void leak_mid(void) { LIST(mid, 15000) }\n"
	"static void leak_small(void) { LIST(small, 20000) }\n"
	"static void keep_big(void) { LIST(big, 1000) g_kept = h; }\n"
	"static void keep_mid(void) { LIST(mid, 50) g_mid_one = h; }\n"
	"static void keep_small(void) { LIST(small, 50) g_small_one = h; }\n"
	"int main(void) {\n"
	"  leak_big(); leak_mid(); leak_small(); keep_big(); keep_mid(); keep_small();\n"
	"  printf(\"READY\\n\"); fflush(stdout); pause(); return 0; }\n";

static const char native_clean[] =
	"#include <stdio.h>\n#include <stdlib.h>\n#include <unistd.h>\n"
	"struct node { struct node *next; char pad[100]; };\n"
	"struct node *g_list;\n"
	"int main(void) {\n"
	"  for (int i = 0; i < 20000; i++) { struct node *x = calloc(1, sizeof(*x)); x->next = g_list; g_list = x; }\n"
	"  printf(\"READY\\n\"); fflush(stdout); pause(); return 0; }\n";

static void test_native_leaks_ranked_by_size_with_their_types(void)
{
	const char *core = hc_fixture_make_core("findings_native", native_leaks);
	CU_ASSERT_PTR_NOT_NULL_FATAL(core);
	json_t *r = analyze_json(core, "");
	json_t *f = json_object_get(r, "findings");
	CU_ASSERT_FATAL(json_array_size(f) >= 3);
	const char *want[] = { "struct big", "struct mid", "struct small" };
	for (int i = 0; i < 3; i++) {
		const json_t *x = json_array_get(f, (size_t)i);
		CU_ASSERT_STRING_EQUAL(hc_json_str(x, "kind"), "leaked-cluster");
		/* typed from the globals that point to one of each (docs/types.md: "by shape") */
		CU_ASSERT(!strncmp(hc_json_str(json_object_get(x, "location"), "name"), want[i], strlen(want[i])));
	}
	CU_ASSERT_EQUAL(hc_json_int(json_array_get(f, 0), "count"), 14000);
	CU_ASSERT_EQUAL(hc_json_int(json_array_get(f, 1), "count"), 15000);
	CU_ASSERT_EQUAL(hc_json_int(json_array_get(f, 2), "count"), 20000);
	json_decref(r);
}

static void test_a_clean_native_process_has_no_warning(void)
{
	const char *core = hc_fixture_make_core("findings_native_clean", native_clean);
	CU_ASSERT_PTR_NOT_NULL_FATAL(core);
	json_t *r = analyze_json(core, "");
	json_t *f = json_object_get(r, "findings");
	for (size_t i = 0; i < json_array_size(f); i++)
		CU_ASSERT_STRING_EQUAL(hc_json_str(json_array_get(f, i), "severity"), "opportunity");
	json_decref(r);
}

/* Waste, each next to its near miss: equal strings and interned ones, a class without __slots__ and one with, a dict emptied and a full one */
static const char waste[] =
	"import sys, os, json, time\n"
	"os.chdir(os.path.dirname(os.path.abspath(__file__)))\n"
	"dups = [''.join(['ab'] * 20) for _ in range(5000)]\n"
	"interned = [sys.intern(''.join(['cd'] * 20)) for _ in range(5000)]\n"
	"class Point:\n"
	"    def __init__(self, x, y): self.x = x; self.y = y\n"
	"class Slotted:\n"
	"    __slots__ = ('x', 'y')\n"
	"    def __init__(self, x, y): self.x = x; self.y = y\n"
	"points = [Point(i, i) for i in range(20000)]\n"
	"slotted = [Slotted(i, i) for i in range(20000)]\n"
	"sparse = {i: i for i in range(100000)}\n"
	"for k in range(99990): del sparse[k]\n"
	"full = {i: i for i in range(100)}\n"
	"print(json.dumps({}))\n"
	"print('READY'); sys.stdout.flush()\n"
	"time.sleep(1000)\n";

static const json_t *finding_of(const json_t *f, const char *kind, const char *location)
{
	for (size_t i = 0; i < json_array_size(f); i++) {
		const json_t *x = json_array_get(f, i);
		if (!strcmp(hc_json_str(x, "kind"), kind) &&
		    (!location || strstr(hc_json_str(json_object_get(x, "location"), "name"), location)))
			return x;
	}
	return NULL;
}

static void test_python_waste_found_and_near_misses_silent(void)
{
	json_t *truth = NULL;
	const char *core = hc_test_python_core("waste311", waste, "/usr/bin/python3.11", NULL, false, &truth);
	CU_ASSERT_PTR_NOT_NULL_FATAL(core);
	json_t *r = analyze_json(core, "");
	json_t *f = json_object_get(r, "findings");
	const json_t *d = finding_of(f, "duplicate-strings", NULL);
	CU_ASSERT_PTR_NOT_NULL(d);
	/* the 4999 copies of the one string, not the interned ones */
	CU_ASSERT(d && hc_json_int(d, "count") >= 4999 && hc_json_int(d, "count") < 5100);
	CU_ASSERT_PTR_NOT_NULL(d && strstr(hc_json_str(d, "evidence"), "abababab"));
	const json_t *p = finding_of(f, "instances-without-slots", "Point");
	CU_ASSERT_PTR_NOT_NULL(p);
	CU_ASSERT(p && hc_json_int(p, "count") == 20000 && hc_json_int(json_object_get(p, "location"), "line") == 6);
	CU_ASSERT_PTR_NULL(finding_of(f, "instances-without-slots", "Slotted"));
	const json_t *sp = finding_of(f, "sparse-container", NULL);
	CU_ASSERT_PTR_NOT_NULL(sp);
	CU_ASSERT_PTR_NOT_NULL(sp && strstr(hc_json_str(sp, "path"), "['sparse']"));
	CU_ASSERT_PTR_NULL(finding_of(f, "sparse-container", "full"));
	json_decref(r);
	json_decref(truth);
}

/* glibc keeps freed memory between live chunks: half of 2000 64 KiB blocks freed */
static const char native_free[] =
	"#include <stdio.h>\n#include <stdlib.h>\n#include <unistd.h>\n"
	"void *g_blocks[2000];\n"
	"int main(void) {\n"
	"  for (int i = 0; i < 2000; i++) g_blocks[i] = malloc(64 << 10);\n"
	"  for (int i = 0; i < 2000; i += 2) { free(g_blocks[i]); g_blocks[i] = 0; }\n"
	"  printf(\"READY\\n\"); fflush(stdout); pause(); return 0; }\n";

static void test_free_memory_in_arenas_found_and_absent_when_there_is_none(void)
{
	const char *core = hc_fixture_make_core("findings_native_free", native_free);
	CU_ASSERT_PTR_NOT_NULL_FATAL(core);
	json_t *r = analyze_json(core, "");
	const json_t *x = finding_of(json_object_get(r, "findings"), "free-in-arenas", NULL);
	CU_ASSERT_PTR_NOT_NULL(x);
	CU_ASSERT(x && hc_json_int(x, "bytes") >= 1000ll * (64 << 10));
	json_decref(r);
	core = hc_fixture_make_core("findings_native_clean", native_clean);
	CU_ASSERT_PTR_NOT_NULL_FATAL(core);
	r = analyze_json(core, "");
	CU_ASSERT_PTR_NULL(finding_of(json_object_get(r, "findings"), "free-in-arenas", NULL));
	json_decref(r);
}

/*
 * The same three problems with the sizes turned around: whichever is the
 * largest ranks first. Each variant: cache entries, widget bytes, node pairs.
 */
static void check_ranks_first(const char *name, int entries, int widget_bytes, int pairs, const char *kind)
{
	char src[2400];
	snprintf(src, sizeof(src),
		 "import sys, os, json, time, gc, types\n"
		 "os.chdir(os.path.dirname(os.path.abspath(__file__)))\n"
		 "gc.disable()\n"
		 "app = types.ModuleType('app'); app.__file__ = '/srv/app.py'; sys.modules['app'] = app\n"
		 "class Payload:\n"
		 "    def __init__(self, i): self.i = i; self.blob = b'%%d' %% i * 100\n"
		 "app._cache = {'request-%%d' %% i: Payload(i) for i in range(%d)}\n"
		 "class Widget:\n"
		 "    def __init__(self): self.buf = bytearray(%d)\n"
		 "    def on_event(self, e): pass\n"
		 "class Bus:\n"
		 "    def __init__(self): self.listeners = []\n"
		 "app.bus = Bus()\n"
		 "for _ in range(1500): app.bus.listeners.append(Widget().on_event)\n"
		 "class Node:\n"
		 "    def __init__(self, i): self.pad = b'%%d' %% i * 40\n"
		 "for i in range(%d):\n"
		 "    a = Node(i); b = Node(i); a.other = b; b.other = a\n"
		 "del a, b\n"
		 "print(json.dumps({}))\n"
		 "print('READY'); sys.stdout.flush()\n"
		 "time.sleep(1000)\n",
		 entries, widget_bytes, pairs);
	json_t *truth = NULL;
	const char *core = hc_test_python_core(name, src, "/usr/bin/python3.11", NULL, false, &truth);
	CU_ASSERT_PTR_NOT_NULL_FATAL(core);
	json_t *r = analyze_json(core, "");
	const json_t *first = json_array_get(json_object_get(r, "findings"), 0);
	CU_ASSERT_STRING_EQUAL(hc_json_str(first, "kind"), kind);
	CU_ASSERT_STRING_NOT_EQUAL(hc_json_str(first, "severity"), "opportunity");
	if (strcmp(hc_json_str(first, "kind"), kind))
		fprintf(stderr, "\n  %s: first is %s", name, hc_json_str(first, "title"));
	json_decref(r);
	json_decref(truth);
}

static void test_each_python_detector_ranks_first_when_its_problem_is_the_largest(void)
{
	/* 12 MB cache; 60 MB of widgets behind their bound methods; 40 000 cycles with 200-byte pads */
	check_ranks_first("first_cache", 20000, 400, 100, "unbounded-container");
	check_ranks_first("first_listeners", 2000, 40000, 100, "listener-leak");
	check_ranks_first("first_cycles", 2000, 400, 40000, "garbage-cycle");
}

void hc_test_register_findings(void)
{
	CU_pSuite s = CU_add_suite("findings", NULL, NULL);
	CU_add_test(s, "python 3.11: problems ranked by size, with kind, name and chain",
		    test_python_3_11_problems_ranked_by_size_with_kind_name_and_chain);
	CU_add_test(s, "python 3.13: problems ranked by size, with kind, name and chain",
		    test_python_3_13_problems_ranked_by_size_with_kind_name_and_chain);
	CU_add_test(s, "python 3.11: near misses are no warning", test_python_3_11_near_misses_are_no_warning);
	CU_add_test(s, "python 3.13: near misses are no warning", test_python_3_13_near_misses_are_no_warning);
	CU_add_test(s, "native leaks ranked by size with their types", test_native_leaks_ranked_by_size_with_their_types);
	CU_add_test(s, "a clean native process has no warning", test_a_clean_native_process_has_no_warning);
	CU_add_test(s, "each python detector ranks first when its problem is the largest",
		    test_each_python_detector_ranks_first_when_its_problem_is_the_largest);
	CU_add_test(s, "python waste found, near misses silent", test_python_waste_found_and_near_misses_silent);
	CU_add_test(s, "free memory in arenas found, and absent where there is none",
		    test_free_memory_in_arenas_found_and_absent_when_there_is_none);
}
