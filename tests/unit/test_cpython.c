/*
 * The CPython runtime from a core (heapcore/cpython.h), against what the
 * Python process itself said before its core was taken: sys.hexversion,
 * the address of _PyRuntime (ctypes), and every thread's kernel id.
 * Python 3.11 as Debian 12 ships it (/usr/bin/python3.11: static,
 * stripped, _PyRuntime in its .dynsym); where installed, a build with
 * libpython3.11.so (pyenv's, with DWARF); and 3.9 (bullseye), 3.13
 * (trixie) and 3.14 (sid) run under chroot in the private roots
 * scripts/fetch-runtimes.sh makes.
 */
#include <CUnit/CUnit.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fixtures.h"
#include "heap_program.h"
#include "heapcore/cpython.h"
#include "python_cores.h"
#include "suites.h"

/*
 * Two threads waiting besides the main one, 1234 instances of one class and
 * 77 of another (some moved to the oldest generation by a collection, the
 * rest young); the truth on one line of JSON, then READY. The workers'
 * stacks are taken once both wait inside Condition.wait (twice in a row, 50
 * ms apart), where they stay; the main thread's is its module frame. The
 * scenario works in its script's directory: there the kernel writes a core.
 */
#define PLANTED 1234
#define OTHERS 77
static const char scenario[] =
	"import sys, os, threading, ctypes, json, time, gc, traceback\n"
	"os.chdir(os.path.dirname(os.path.abspath(__file__)))\n"
	"class Planted: pass\n"
	"class Other: pass\n"
	"keep = [Planted() for _ in range(1000)]\n"
	"gc.collect()\n"
	"keep += [Planted() for _ in range(234)] + [Other() for _ in range(77)]\n"
	"evs = [threading.Event() for _ in range(2)]\n"
	"ths = [threading.Thread(target=e.wait) for e in evs]\n"
	"for t in ths: t.start()\n"
	"def stack(t): return [f.name for f in traceback.extract_stack(sys._current_frames()[t.ident])][::-1]\n"
	"def settled(): return all(stack(t)[:2] == ['wait', 'wait'] for t in ths)\n"
	"while not settled() or (time.sleep(0.05) or not settled()): time.sleep(0.01)\n"
	"stacks = {str(t.native_id): stack(t) for t in ths}\n"
	"lines = {str(t.native_id): [f.lineno for f in traceback.extract_stack(sys._current_frames()[t.ident])][::-1]\n"
	"         for t in ths}\n"
	"stacks[str(threading.main_thread().native_id)] = [f.name for f in traceback.extract_stack()][::-1]\n"
	"rt = ctypes.addressof(ctypes.c_char.in_dll(ctypes.pythonapi, '_PyRuntime'))\n"
	"ids = sorted([threading.main_thread().native_id] + [t.native_id for t in ths])\n"
	"n = len(gc.get_objects())\n"
	"print(json.dumps({'hexversion': sys.hexversion, 'runtime': rt, 'native_ids': ids, 'gc_objects': n,\n"
	"                  'stacks': stacks, 'lines': lines}))\n"
	"print('READY'); sys.stdout.flush()\n"
	"time.sleep(1000)\n";

/* The census's count for the type named name (0 if none). */
static uint64_t census_count(const struct hc_cpython_census *c, const char *name)
{
	for (uint32_t i = 0; i < c->ntypes; i++)
		if (!strcmp(c->types[i].name, name))
			return c->types[i].count;
	return 0;
}

#define PYENV_PYTHON "/root/.pyenv/versions/3.11.7/bin/python3.11"

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return (x > y) - (x < y);
}

/*
 * Each thread's Python stack, innermost first, is the one traceback saw in
 * the process: the same functions in the same order, each with its file,
 * and for the waiting workers the same lines.
 * Where gcore lost the C stacks that hold entry frames (stacks_lost), the
 * innermost frames must still match.
 */
static void check_stacks(struct hc_target *t, const struct hc_symbols *s, const struct hc_cpython_runtime *py,
			 const json_t *stacks, const json_t *lines, const char *name, bool stacks_lost)
{
	CU_ASSERT_FATAL(json_object_size(stacks) == py->nthreads);
	for (uint32_t i = 0; i < py->nthreads; i++) {
		char key[32];
		snprintf(key, sizeof(key), "%lld", (long long)t->threads[py->threads[i].core_thread].tid);
		const json_t *want = json_object_get(stacks, key);
		struct hc_cpython_stack st;
		CU_ASSERT_PTR_NULL_FATAL(hc_cpython_thread_stack(t, s, py, i, &st));
		bool same = json_array_size(want) > 0 &&
			    (stacks_lost ? st.nframes >= 1 && st.nframes <= json_array_size(want)
					 : st.nframes == json_array_size(want));
		/* the workers' lines too: they wait where they were seen (the main thread moved on to its sleep) */
		const json_t *want_lines = json_object_get(lines, key);
		for (uint32_t k = 0; same && k < st.nframes; k++)
			same = !strcmp(st.frames[k].function, json_string_value(json_array_get(want, k))) &&
			       strcmp(st.frames[k].file, "?") && st.frames[k].file[0] &&
			       (!want_lines || st.frames[k].line == json_integer_value(json_array_get(want_lines, k)));
		CU_ASSERT(same);
		if (!same) {
			fprintf(stderr, "\n  %s: thread %s's stack is", name, key);
			for (uint32_t k = 0; k < st.nframes; k++)
				fprintf(stderr, " %s (%s:%d)", st.frames[k].function, st.frames[k].file, st.frames[k].line);
			char *w = json_dumps(want, JSON_COMPACT), *wl = json_dumps(want_lines, JSON_COMPACT);
			fprintf(stderr, "; traceback saw %s, lines %s\n", w ? w : "nothing", wl ? wl : "-");
			free(w);
			free(wl);
		}
		hc_cpython_stack_free(&st);
	}
}

/*
 * The runtime heapcore finds in the core equals what the process said of
 * itself: minor version (and the rest of it where the source gives it),
 * _PyRuntime, one interpreter, and the three threads, each matched to the
 * core's thread of its kernel id.
 */
static void check_python(const char *name, const char *python, const char *root, const char *module_suffix,
			 unsigned minor, enum hc_cpython_version_source source, bool kernel, bool stacks_lost)
{
	json_t *truth = NULL;
	const char *core = hc_test_python_core(name, scenario, python, root, kernel, &truth);
	CU_ASSERT_PTR_NOT_NULL_FATAL(core);
	struct hc_target *t = NULL;
	struct hc_symbols *s = NULL;
	/* the kernel names files as the chrooted process saw them, gdb as the host does */
	struct hc_symbol_options so = { .sysroot = kernel ? root : NULL };
	CU_ASSERT_PTR_NULL_FATAL(hc_target_open_core(core, &t));
	CU_ASSERT_PTR_NULL_FATAL(hc_symbols_open(t, &so, &s));
	struct hc_cpython_runtime py;
	CU_ASSERT_PTR_NULL_FATAL(hc_cpython_find(t, s, &py));
	CU_ASSERT_FATAL(py.found);
	uint32_t hex = (uint32_t)json_integer_value(json_object_get(truth, "hexversion"));
	CU_ASSERT_EQUAL(py.version_source, source);
	CU_ASSERT(py.major == 3 && py.minor == minor && ((hex >> 16) & 0xff) == minor);
	/* the file name says no more than 3.X */
	if (source != HC_CPYTHON_VERSION_FILE_NAME)
		CU_ASSERT(py.hexversion == hex && py.micro == ((hex >> 8) & 0xff));
	CU_ASSERT_EQUAL(py.runtime, (uint64_t)json_integer_value(json_object_get(truth, "runtime")));
	size_t len = strlen(py.module->name), slen = strlen(module_suffix);
	CU_ASSERT(len >= slen && !strcmp(py.module->name + len - slen, module_suffix));
	CU_ASSERT(py.layout_known);
	CU_ASSERT_EQUAL(py.ninterps, 1);
	/* a build with DWARF (pyenv's) has every offset heapcore reads checked against it, and agreeing */
	CU_ASSERT_EQUAL(py.dwarf_mismatched, 0);
	CU_ASSERT(py.module->has_dwarf ? py.dwarf_checked >= 40 : py.dwarf_checked == 0);
	json_t *ids = json_object_get(truth, "native_ids");
	CU_ASSERT_FATAL(py.nthreads == json_array_size(ids) && py.nthreads == 3);
	uint64_t got[3];
	for (uint32_t i = 0; i < 3; i++) {
		CU_ASSERT_EQUAL(py.threads[i].interp, py.main_interp);
		/* each thread state is a thread of the core: by kernel id (3.11+), else by thread pointer */
		CU_ASSERT_FATAL(py.threads[i].core_thread >= 0);
		got[i] = (uint64_t)t->threads[py.threads[i].core_thread].tid;
		CU_ASSERT(!py.threads[i].native_id || py.threads[i].native_id == got[i]);
	}
	check_stacks(t, s, &py, json_object_get(truth, "stacks"), json_object_get(truth, "lines"), name, stacks_lost);
	qsort(got, 3, sizeof(got[0]), cmp_u64);
	for (uint32_t i = 0; i < 3; i++)
		CU_ASSERT_EQUAL(got[i], (uint64_t)json_integer_value(json_array_get(ids, i)));
	/* the gc census: the planted instances exactly; the rest as gc.get_objects() counted it, give or take the printing's temporaries */
	struct hc_cpython_census c;
	CU_ASSERT_PTR_NULL_FATAL(hc_cpython_gc_census(t, s, &py, &c));
	CU_ASSERT_EQUAL(census_count(&c, "Planted"), PLANTED);
	CU_ASSERT_EQUAL(census_count(&c, "Other"), OTHERS);
	uint64_t want = (uint64_t)json_integer_value(json_object_get(truth, "gc_objects"));
	CU_ASSERT(want > 0 && c.objects + 50 >= want && c.objects <= want + 50);
	if (!(c.objects + 50 >= want && c.objects <= want + 50))
		fprintf(stderr, "\n  %s: the census has %llu objects, gc.get_objects() %llu\n", name,
			(unsigned long long)c.objects, (unsigned long long)want);
	CU_ASSERT(c.ntypes > 0 && c.types[0].count >= c.types[c.ntypes - 1].count);
	hc_cpython_census_free(&c);
	CU_ASSERT(stacks_lost || !t->warnings.partial);
	hc_cpython_runtime_free(&py);
	hc_symbols_destroy(s);
	hc_target_destroy(t);
	json_decref(truth);
}

static void test_debians_python_3_11_says_its_version_runtime_and_threads(void)
{
	check_python("py311_debian", "/usr/bin/python3.11", NULL, "/python3.11", 11, HC_CPYTHON_VERSION_PY_VERSION, false,
			     false);
}

static void test_a_python_3_11_with_libpython_says_the_same(void)
{
	if (access(PYENV_PYTHON, X_OK) != 0) {
		fprintf(stderr, "\n  %s not installed: the libpython case is not checked here\n", PYENV_PYTHON);
		return;
	}
	check_python("py311_pyenv", PYENV_PYTHON, NULL, "/libpython3.11.so.1.0", 11, HC_CPYTHON_VERSION_PY_VERSION, false,
			     false);
}

static void test_python_3_9_from_bullseye_says_its_version_runtime_and_threads(void)
{
	char root[512];
	if (hc_test_python_root("3.9", root, sizeof(root)))
		check_python("py39", "/usr/bin/python3.9", root, "/python3.9", 9, HC_CPYTHON_VERSION_FILE_NAME, false,
			     false);
}

static void test_python_3_13_from_trixie_says_its_version_runtime_and_threads(void)
{
	char root[512];
	if (hc_test_python_root("3.13", root, sizeof(root)))
		check_python("py313", "/usr/bin/python3.13", root, "/python3.13", 13, HC_CPYTHON_VERSION_DEBUG_OFFSETS,
			     false, false);
}

static void test_python_3_14_from_sid_says_its_version_runtime_and_threads(void)
{
	/*
	 * 3.14's entry frames live on the C stack, and gcore loses glibc 2.43's
	 * thread stacks (guard regions): the kernel's core keeps them
	 */
	char root[512];
	bool kernel = hc_fixture_kernel_writes_cores();
	if (!kernel)
		fprintf(stderr, "\n  the kernel writes no core here (core_pattern, RLIMIT_CORE): gcore's core lacks the "
				"workers' C stacks, so only their innermost frames are checked\n");
	if (hc_test_python_root("3.14", root, sizeof(root)))
		check_python("py314", "/usr/bin/python3.14", root, "/python3.14", 14, HC_CPYTHON_VERSION_DEBUG_OFFSETS,
			     kernel, !kernel);
}

/*
 * A free-threaded build says so in _Py_DebugOffsets.free_threaded: a 3.13
 * core with that word set is found, named free-threaded and not read, with
 * a warning saying so; analyze still reports the native heap.
 */
static void test_a_free_threaded_build_is_named_and_not_read(void)
{
	char root[512];
	json_t *truth = NULL;
	if (!hc_test_python_root("3.13", root, sizeof(root)))
		return;
	const char *core = hc_test_python_core("py313", scenario, "/usr/bin/python3.13", root, false, &truth);
	CU_ASSERT_PTR_NOT_NULL_FATAL(core);
	struct hc_target *t = NULL;
	CU_ASSERT_PTR_NULL_FATAL(hc_target_open_core(core, &t));
	const char *ft = hc_fixture_patch_core(core, t, (uint64_t)json_integer_value(json_object_get(truth, "runtime")) + 16,
					       1, "py313_ft.core");
	hc_target_destroy(t);
	CU_ASSERT_PTR_NOT_NULL_FATAL(ft);
	struct hc_symbols *s = NULL;
	struct hc_symbol_options so = { 0 };
	CU_ASSERT_PTR_NULL_FATAL(hc_target_open_core(ft, &t));
	CU_ASSERT_PTR_NULL_FATAL(hc_symbols_open(t, &so, &s));
	struct hc_cpython_runtime py;
	CU_ASSERT_PTR_NULL_FATAL(hc_cpython_find(t, s, &py));
	CU_ASSERT(py.found && py.free_threaded && !py.layout_known && py.minor == 13 && py.nthreads == 0);
	bool said = false;
	for (uint32_t i = 0; i < t->warnings.count; i++)
		said |= strstr(t->warnings.items[i].message, "free-threaded") != NULL;
	CU_ASSERT(said);
	hc_cpython_runtime_free(&py);
	hc_symbols_destroy(s);
	hc_target_destroy(t);
	char args[400], *out = NULL, *err = NULL;
	snprintf(args, sizeof(args), "analyze --format json '%s'", ft);
	int rc = hc_fixture_run_cli(args, &out, &err);
	json_t *r = out ? json_loads(out, 0, NULL) : NULL;
	/* partial (exit 5): the Python part is missing, the native heap is there */
	CU_ASSERT_EQUAL(rc, 5);
	CU_ASSERT(json_object_get(r, "heap") && json_object_get(r, "leaks"));
	json_decref(r);
	free(out);
	free(err);
	json_decref(truth);
}

static void test_a_process_without_python_has_no_runtime(void)
{
	const char *core = hc_fixture_make_core("cli_heap", hc_heap_program);
	CU_ASSERT_PTR_NOT_NULL_FATAL(core);
	struct hc_target *t = NULL;
	struct hc_symbols *s = NULL;
	struct hc_symbol_options so = { 0 };
	CU_ASSERT_PTR_NULL_FATAL(hc_target_open_core(core, &t));
	CU_ASSERT_PTR_NULL_FATAL(hc_symbols_open(t, &so, &s));
	unsigned warnings = t->warnings.count;
	struct hc_cpython_runtime py;
	CU_ASSERT_PTR_NULL_FATAL(hc_cpython_find(t, s, &py));
	CU_ASSERT_FALSE(py.found);
	CU_ASSERT_EQUAL(py.nthreads, 0);
	CU_ASSERT_EQUAL(t->warnings.count, warnings);
	hc_cpython_runtime_free(&py);
	hc_symbols_destroy(s);
	hc_target_destroy(t);
}

static void test_info_shows_the_python_runtime(void)
{
	json_t *truth = NULL;
	const char *core = hc_test_python_core("py311_debian", scenario, "/usr/bin/python3.11", NULL, false, &truth);
	CU_ASSERT_PTR_NOT_NULL_FATAL(core);
	char args[400], *out = NULL, *err = NULL, want[64];
	snprintf(args, sizeof(args), "info '%s'", core);
	CU_ASSERT_EQUAL(hc_fixture_run_cli(args, &out, &err), 0);
	uint32_t hex = (uint32_t)json_integer_value(json_object_get(truth, "hexversion"));
	snprintf(want, sizeof(want), "Python:   3.11.%u (from Py_Version)", (hex >> 8) & 0xff);
	CU_ASSERT_PTR_NOT_NULL(out && strstr(out, want));
	CU_ASSERT_PTR_NOT_NULL(out && strstr(out, "3 thread state(s)"));
	free(out);
	free(err);
	json_decref(truth);
}

static void test_analyze_counts_the_gc_tracked_objects_by_type_and_shows_stacks(void)
{
	json_t *truth = NULL;
	const char *core = hc_test_python_core("py311_debian", scenario, "/usr/bin/python3.11", NULL, false, &truth);
	CU_ASSERT_PTR_NOT_NULL_FATAL(core);
	char args[400], *out = NULL, *err = NULL;
	snprintf(args, sizeof(args), "analyze --format json '%s'", core);
	CU_ASSERT_EQUAL(hc_fixture_run_cli(args, &out, &err), 0);
	json_t *r = out ? json_loads(out, 0, NULL) : NULL;
	json_t *gc = json_object_get(json_object_get(r, "python"), "gc_objects");
	CU_ASSERT_FATAL(gc != NULL);
	uint64_t want = (uint64_t)json_integer_value(json_object_get(truth, "gc_objects"));
	uint64_t got = (uint64_t)json_integer_value(json_object_get(gc, "count")), planted = 0;
	CU_ASSERT(got + 50 >= want && got <= want + 50);
	json_t *by = json_object_get(gc, "by_type");
	for (size_t i = 0; i < json_array_size(by); i++)
		if (!strcmp(json_string_value(json_object_get(json_array_get(by, i), "type")), "Planted"))
			planted = (uint64_t)json_integer_value(json_object_get(json_array_get(by, i), "count"));
	CU_ASSERT_EQUAL(planted, PLANTED);
	/* and each thread's stack, the frames of the truth's thread of that tid */
	json_t *threads = json_object_get(json_object_get(r, "python"), "threads");
	CU_ASSERT_EQUAL(json_array_size(threads), 3);
	for (size_t i = 0; i < json_array_size(threads); i++) {
		json_t *th = json_array_get(threads, i), *frames = json_object_get(th, "frames");
		char key[32];
		snprintf(key, sizeof(key), "%lld", (long long)json_integer_value(json_object_get(th, "tid")));
		json_t *want = json_object_get(json_object_get(truth, "stacks"), key);
		CU_ASSERT(json_array_size(want) > 0 && json_array_size(frames) == json_array_size(want));
		for (size_t k = 0; k < json_array_size(frames) && k < json_array_size(want); k++)
			CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(json_array_get(frames, k), "function")),
					       json_string_value(json_array_get(want, k)));
	}
	json_decref(r);
	free(out);
	free(err);
	json_decref(truth);
}

void hc_test_register_cpython(void)
{
	CU_pSuite s = CU_add_suite("cpython", NULL, NULL);
	CU_add_test(s, "Debian's python3.11 says its version, runtime and threads",
		    test_debians_python_3_11_says_its_version_runtime_and_threads);
	CU_add_test(s, "a python3.11 with libpython says the same", test_a_python_3_11_with_libpython_says_the_same);
	CU_add_test(s, "python 3.9 from bullseye says its version, runtime and threads",
		    test_python_3_9_from_bullseye_says_its_version_runtime_and_threads);
	CU_add_test(s, "python 3.13 from trixie says its version, runtime and threads",
		    test_python_3_13_from_trixie_says_its_version_runtime_and_threads);
	CU_add_test(s, "python 3.14 from sid says its version, runtime and threads",
		    test_python_3_14_from_sid_says_its_version_runtime_and_threads);
	CU_add_test(s, "a free-threaded build is named and not read", test_a_free_threaded_build_is_named_and_not_read);
	CU_add_test(s, "a process without Python has no runtime", test_a_process_without_python_has_no_runtime);
	CU_add_test(s, "info shows the Python runtime", test_info_shows_the_python_runtime);
	CU_add_test(s, "analyze counts the gc-tracked objects by type and shows each thread's stack",
		    test_analyze_counts_the_gc_tracked_objects_by_type_and_shows_stacks);
}
