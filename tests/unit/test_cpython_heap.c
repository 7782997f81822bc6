/*
 * A Python process's objects and references from a core
 * (heapcore/cpython_heap.h), against what the process said of itself before
 * its core was taken: the number of objects gc.collect() finds unreachable
 * (asked of a fork of it, so that the process itself keeps its garbage),
 * the lengths of planted containers by their id(), the id() of an object
 * planted under a module's cache, and of one given an extra reference the
 * way a leaking C extension would (Py_IncRef). On 3.9, 3.11 (Debian's and,
 * where installed, pyenv's), 3.13 and 3.14.
 */
#include <CUnit/CUnit.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fixtures.h"
#include "heapcore/cpython_heap.h"
#include "heapcore/report.h"
#include "python_cores.h"
#include "suites.h"

/*
 * gc disabled, then 300 unreachable pairs of Nodes pointing at each other;
 * a module `app` whose _cache holds 50 Payloads; containers of known
 * lengths; a Kept instance holding a list of 100 objects, with one
 * reference more than anything holds (Py_IncRef) and its name deleted; a
 * str given the same treatment, and one too big for pymalloc.
 */
#define NODES 600
static const char scenario[] =
	"import sys, os, ctypes, json, time, gc, types, collections\n"
	"os.chdir(os.path.dirname(os.path.abspath(__file__)))\n"
	"gc.disable()\n"
	"class Payload:\n"
	"    def __init__(self, i): self.i = i\n"
	"class Node: pass\n"
	"class Kept: pass\n"
	"app = types.ModuleType('app')\n"
	"sys.modules['app'] = app\n"
	"app._cache = {'key-%d' % i: Payload(i) for i in range(50)}\n"
	"big_list = [str(i) for i in range(5000)]\n"
	"big_dict = {i: (i, -i) for i in range(3000)}\n"
	"big_set = set(range(1000, 1700))\n"
	"big_tuple = tuple(range(2000, 2400))\n"
	"big_deque = collections.deque(range(300))\n"
	"for i in range(300):\n"
	"    a = Node(); b = Node(); a.other = b; b.other = a\n"
	"del a, b\n"
	"k = Kept(); k.payload = [object() for _ in range(100)]\n"
	"ctypes.pythonapi.Py_IncRef(ctypes.py_object(k))\n"
	"kept = id(k)\n"
	"del k\n"
	"lost = 'leaked-%d' % os.getpid() * 3\n"
	"ctypes.pythonapi.Py_IncRef(ctypes.py_object(lost))\n"
	"lost_str = id(lost)\n"
	"del lost\n"
	"lost = 'B' * 5000 + str(os.getpid())\n"
	"ctypes.pythonapi.Py_IncRef(ctypes.py_object(lost))\n"
	"lost_big = id(lost)\n"
	"del lost\n"
	"containers = {str(id(c)): len(c) for c in (big_list, big_dict, big_set, big_tuple, big_deque, app._cache)}\n"
	"members = [id(x) for kv in app._cache.items() for x in kv]\n"
	"if sys.version_info < (3, 11): members += [id(v.__dict__) for v in app._cache.values()]\n"

	"r, w = os.pipe()\n"
	"pid = os.fork()\n"
	"if pid == 0:\n"
	"    gc.set_debug(gc.DEBUG_SAVEALL); n = gc.collect(); by = collections.Counter()\n"
	"    for o in gc.garbage:\n"
	"        t = type(o); by[t.__qualname__ if t.__module__ == 'builtins' else t.__module__ + '.' + t.__qualname__] += 1\n"
	"    os.write(w, json.dumps([n, by]).encode()); os._exit(0)\n"
	"os.close(w)\n"
	"garbage, garbage_by_type = json.loads(os.read(r, 1 << 20)); os.waitpid(pid, 0)\n"
	"def qualname(t): return t.__qualname__ if t.__module__ == 'builtins' else t.__module__ + '.' + t.__qualname__\n"
	"for _ in range(2):\n"
	"    census = collections.Counter(qualname(type(o)) for o in gc.get_objects())\n"
	"    json.dumps(census)\n"
	"print(json.dumps({'garbage': garbage, 'garbage_by_type': garbage_by_type, 'kept': kept, 'lost_str': lost_str,\n"
	"                  'lost_big': lost_big, 'census': census, 'containers': containers,\n"
	"                  'cache': id(app._cache), 'cache_members': members,\n"
	"                  'cache_item': id(app._cache['key-17']), 'big_list': id(big_list),\n"
	"                  'payload_size': sys.getsizeof(app._cache['key-1'])}))\n"
	"print('READY'); sys.stdout.flush()\n"
	"time.sleep(1000)\n";

static uint64_t truth_u64(const json_t *truth, const char *key)
{
	return (uint64_t)json_integer_value(json_object_get(truth, key));
}

static const struct hc_pyheap_type *type_named(const struct hc_pyheap *h, const char *name)
{
	for (uint32_t i = 0; i < h->ntypes; i++)
		if (!strcmp(h->types[i].name, name))
			return &h->types[i];
	return NULL;
}

static void check_heap(const char *name, const char *python, const char *root)
{
	json_t *truth = NULL;
	const char *core = hc_test_python_core(name, scenario, python, root, false, &truth);
	CU_ASSERT_PTR_NOT_NULL_FATAL(core);
	struct hc_target *t = NULL;
	struct hc_symbols *s = NULL;
	struct hc_symbol_options so = { 0 };
	CU_ASSERT_PTR_NULL_FATAL(hc_target_open_core(core, &t));
	CU_ASSERT_PTR_NULL_FATAL(hc_symbols_open(t, &so, &s));
	struct hc_cpython_runtime py;
	CU_ASSERT_PTR_NULL_FATAL(hc_cpython_find(t, s, &py));
	struct hc_glibc_heap *gh = NULL;
	CU_ASSERT_PTR_NULL_FATAL(hc_glibc_walk(t, s, NULL, &gh));
	struct hc_pyheap *h = NULL;
	CU_ASSERT_PTR_NULL_FATAL(hc_pyheap_build(t, s, &py, gh, &h));
	CU_ASSERT_FATAL(h->n > 1000);

	/* garbage: what gc.collect() found unreachable in the fork, every planted cycle among it */
	uint64_t want = truth_u64(truth, "garbage");
	CU_ASSERT_EQUAL(h->garbage_tracked, want);
	const struct hc_pyheap_type *node = type_named(h, "__main__.Node");
	CU_ASSERT(node && node->garbage_tracked == NODES && node->count == NODES);
	CU_ASSERT(h->gc_enabled_known && !h->gc_enabled);

	/* kept from outside: the Kept instance, one reference unexplained, keeping its list and the 100 objects */
	uint32_t k = hc_pyheap_find(h, truth_u64(truth, "kept"));
	CU_ASSERT_FATAL(k != UINT32_MAX);
	CU_ASSERT_EQUAL(h->flags[k] & (HC_PYOBJ_KEPT | HC_PYOBJ_GAP), HC_PYOBJ_KEPT | HC_PYOBJ_GAP);
	CU_ASSERT_EQUAL(h->refcnt[k] - h->found_refs[k], 1);
	CU_ASSERT_STRING_EQUAL(h->types[h->type[k]].name, "__main__.Kept");
	uint64_t keeps = 0;
	for (uint32_t i = 0; i < h->n; i++) {
		uint32_t o = i;
		for (uint32_t d = 0; d < 64 && (h->flags[o] & HC_PYOBJ_KEPT) && !(h->flags[o] & HC_PYOBJ_GAP); d++)
			o = h->parent[o];
		keeps += (h->flags[i] & HC_PYOBJ_KEPT) && o == k;
	}
	/* itself, its list and the 100 objects (and 3.9's __dict__) */
	CU_ASSERT(keeps >= 102 && keeps <= 103);

	/* a str nothing refers to, with a leaked reference: only the pymalloc walk finds it */
	uint32_t lost = hc_pyheap_find(h, truth_u64(truth, "lost_str"));
	CU_ASSERT_FATAL(lost != UINT32_MAX);
	CU_ASSERT_EQUAL(h->flags[lost] & (HC_PYOBJ_KEPT | HC_PYOBJ_GAP | HC_PYOBJ_TRACKED), HC_PYOBJ_KEPT | HC_PYOBJ_GAP);
	CU_ASSERT_EQUAL(h->found_refs[lost], 0);
	CU_ASSERT(h->pools > 0 && h->blocks > h->pools && h->walked > 0);
	/* and one too big for pymalloc, in a malloc chunk: the chunk walk finds it */
	uint32_t big = hc_pyheap_find(h, truth_u64(truth, "lost_big"));
	CU_ASSERT_FATAL(big != UINT32_MAX);
	CU_ASSERT_EQUAL(h->flags[big] & (HC_PYOBJ_KEPT | HC_PYOBJ_GAP), HC_PYOBJ_KEPT | HC_PYOBJ_GAP);
	CU_ASSERT(h->size[big] > 5000 && h->big_chunks > 0);

	/* the planted containers' lengths */
	const char *key;
	json_t *len;
	json_object_foreach(json_object_get(truth, "containers"), key, len)
	{
		uint32_t c = hc_pyheap_find(h, strtoull(key, NULL, 10));
		uint64_t got = 0;
		CU_ASSERT(c != UINT32_MAX && hc_pyheap_len(h, c, &got) && got == (uint64_t)json_integer_value(len));
		if (c == UINT32_MAX || got != (uint64_t)json_integer_value(len))
			fprintf(stderr, "\n  %s: container %s has length %llu (%s), len() said %lld\n", name, key,
				(unsigned long long)got, c == UINT32_MAX ? "not found" : h->types[h->type[c]].name,
				(long long)json_integer_value(len));
	}

	/*
	 * The cache retains itself, its keys, its values (and 3.9's instance
	 * dicts): only it reaches them; their ints are the interpreter's
	 */
	uint32_t cache = hc_pyheap_find(h, truth_u64(truth, "cache"));
	CU_ASSERT_FATAL(cache != UINT32_MAX && h->retained);
	uint64_t want_retained = h->size[cache];
	json_t *m;
	size_t mi;
	json_array_foreach(json_object_get(truth, "cache_members"), mi, m)
	{
		uint32_t x = hc_pyheap_find(h, (uint64_t)json_integer_value(m));
		/* dominated by it (3.9's instance dicts through their instances) */
		uint32_t d = x;
		for (int up = 0; up < 4 && d < h->n && d != cache; up++)
			d = h->idom[d];
		CU_ASSERT(x != UINT32_MAX && d == cache);
		if (x != UINT32_MAX && d != cache) {
			char pv[128], dp[128] = "?", path[512];
			hc_pyheap_preview(h, x, pv, sizeof(pv));
			if (h->idom[x] < h->n)
				hc_pyheap_preview(h, h->idom[x], dp, sizeof(dp));
			hc_pyheap_path(h, x, path, sizeof(path));
			fprintf(stderr, "\n  %s: %s (refcount %llu, %u found) is dominated by %s (0x%x), not the cache; path %s",
				name, pv, (unsigned long long)h->refcnt[x], h->found_refs[x], dp, h->idom[x], path);
		}
		want_retained += x != UINT32_MAX ? h->size[x] : 0;
	}
	CU_ASSERT_EQUAL(h->retained[cache], want_retained);
	/* and the kept object retains what it keeps */
	uint64_t keeps_bytes = 0;
	for (uint32_t i = 0; i < h->n; i++) {
		uint32_t o = i;
		for (uint32_t d = 0; d < 64 && (h->flags[o] & HC_PYOBJ_KEPT) && !(h->flags[o] & HC_PYOBJ_GAP); d++)
			o = h->parent[o];
		keeps_bytes += (h->flags[i] & HC_PYOBJ_KEPT) && o == k ? h->size[i] : 0;
	}
	CU_ASSERT_EQUAL(h->retained[k], keeps_bytes);

	/* the cached object's chain, as Python would spell it */
	char path[1024];
	uint32_t item = hc_pyheap_find(h, truth_u64(truth, "cache_item"));
	CU_ASSERT_FATAL(item != UINT32_MAX);
	hc_pyheap_path(h, item, path, sizeof(path));
	CU_ASSERT_STRING_EQUAL(path, "sys.modules['app'].__dict__['_cache']['key-17']");
	CU_ASSERT_STRING_EQUAL(h->types[h->type[item]].name, "__main__.Payload");
	/* its size as sys.getsizeof counts it */
	CU_ASSERT_EQUAL(h->size[item], truth_u64(truth, "payload_size"));

	if (h->garbage_tracked != want || !node || node->garbage_tracked != NODES || keeps < 102 || keeps > 103 ||
	    strcmp(path, "sys.modules['app'].__dict__['_cache']['key-17']") ||
	    h->size[item] != truth_u64(truth, "payload_size"))
		fprintf(stderr,
			"\n  %s: garbage %llu tracked (gc.collect() found %llu), Node garbage %llu of %llu, keeps %llu,"
			" path %s, payload size %llu (getsizeof %llu)\n",
			name, (unsigned long long)h->garbage_tracked, (unsigned long long)want,
			node ? (unsigned long long)node->garbage_count : 0ull, node ? (unsigned long long)node->count : 0ull,
			(unsigned long long)keeps, path, (unsigned long long)h->size[item],
			(unsigned long long)truth_u64(truth, "payload_size"));
	/*
	 * gc.get_objects() by type: each type's tracked objects as the process
	 * counted them, but for the census's own temporaries (its generator's
	 * function). It is taken twice, the second time counted: the first's
	 * isinstance() checks fill ABC caches (a set, two weakrefs and a builtin
	 * method each) while it runs.
	 */
	uint64_t off_types = 0, off_objects = 0;
	json_object_foreach(json_object_get(truth, "census"), key, len)
	{
		/* classes made in a function share a name: counted together, as the census does */
		uint64_t tracked = 0;
		for (uint32_t i = 0; i < h->ntypes; i++)
			if (!strcmp(h->types[i].name, key))
				tracked += h->types[i].tracked;
		int64_t d = (int64_t)tracked - (int64_t)json_integer_value(len);
		if (d) {
			off_types++;
			off_objects += (uint64_t)(d < 0 ? -d : d);
			fprintf(stderr, "\n  %s: %llu tracked %s, gc.get_objects() had %lld", name,
				(unsigned long long)tracked, key, (long long)json_integer_value(len));
		}
	}
	CU_ASSERT(off_types <= 3 && off_objects <= 4);
	/* garbage by type, as gc.garbage had it with DEBUG_SAVEALL */
	json_t *by = json_object_get(truth, "garbage_by_type");
	json_object_foreach(by, key, len)
	{
		const struct hc_pyheap_type *ty = type_named(h, key);
		uint64_t got = ty ? ty->garbage_tracked : 0;
		CU_ASSERT_EQUAL(got, (uint64_t)json_integer_value(len));
		if (got != (uint64_t)json_integer_value(len))
			fprintf(stderr, "\n  %s: %llu garbage %s, gc.collect() found %lld\n", name, (unsigned long long)got,
				key, (long long)json_integer_value(len));
	}
	hc_pyheap_destroy(h);
	hc_glibc_heap_destroy(gh);
	hc_cpython_runtime_free(&py);
	hc_symbols_destroy(s);
	hc_target_destroy(t);
	json_decref(truth);
}

static void test_python_3_11_garbage_kept_objects_containers_and_chains(void)
{
	check_heap("pyheap311", "/usr/bin/python3.11", NULL);
}

static void test_python_3_11_with_libpython_the_same(void)
{
	if (access(HC_TEST_PYENV_PYTHON, X_OK) != 0) {
		fprintf(stderr, "\n  %s not installed: the libpython case is not checked here\n", HC_TEST_PYENV_PYTHON);
		return;
	}
	check_heap("pyheap311_pyenv", HC_TEST_PYENV_PYTHON, NULL);
}

static void test_python_3_9_the_same(void)
{
	char root[512];
	if (hc_test_python_root("3.9", root, sizeof(root)))
		check_heap("pyheap39", "/usr/bin/python3.9", root);
}

static void test_python_3_13_the_same(void)
{
	char root[512];
	if (hc_test_python_root("3.13", root, sizeof(root)))
		check_heap("pyheap313", "/usr/bin/python3.13", root);
}

static void test_python_3_14_the_same(void)
{
	char root[512];
	if (hc_test_python_root("3.14", root, sizeof(root)))
		check_heap("pyheap314", "/usr/bin/python3.14", root);
}

/* analyze's report: the garbage and the kept object, and the largest container with its path */
static void test_analyze_reports_garbage_kept_objects_and_containers(void)
{
	json_t *truth = NULL;
	const char *core = hc_test_python_core("pyheap311", scenario, "/usr/bin/python3.11", NULL, false, &truth);
	CU_ASSERT_PTR_NOT_NULL_FATAL(core);
	char args[400], *out = NULL, *err = NULL;
	snprintf(args, sizeof(args), "analyze --format json '%s'", core);
	CU_ASSERT_EQUAL(hc_fixture_run_cli(args, &out, &err), 0);
	json_t *r = out ? json_loads(out, 0, NULL) : NULL, *py = json_object_get(r, "python");
	CU_ASSERT_FATAL(py != NULL);
	json_t *g = json_object_get(py, "garbage");
	CU_ASSERT_EQUAL((uint64_t)hc_json_int(g, "tracked"), truth_u64(truth, "garbage"));
	CU_ASSERT(json_is_false(json_object_get(g, "gc_enabled")));
	json_t *holders = json_object_get(json_object_get(py, "kept_from_outside"), "holders"), *holder = NULL;
	char want[64];
	snprintf(want, sizeof(want), "0x%llx", (unsigned long long)truth_u64(truth, "kept"));
	for (size_t i = 0; i < json_array_size(holders); i++)
		if (!strcmp(hc_json_str(json_array_get(holders, i), "address"), want))
			holder = json_array_get(holders, i);
	CU_ASSERT_FATAL(holder != NULL);
	CU_ASSERT_EQUAL(hc_json_int(holder, "gap"), 1);
	CU_ASSERT_STRING_EQUAL(hc_json_str(holder, "type"), "__main__.Kept");
	CU_ASSERT_EQUAL(hc_json_int(json_object_get(holder, "keeps"), "count"), 102);
	/* big_list is the largest container (big_dict's 3000 next) */
	json_t *c = json_array_get(json_object_get(py, "containers"), 0);
	snprintf(want, sizeof(want), "0x%llx", (unsigned long long)truth_u64(truth, "big_list"));
	CU_ASSERT_STRING_EQUAL(hc_json_str(c, "address"), want);
	CU_ASSERT_EQUAL(hc_json_int(c, "length"), 5000);
	CU_ASSERT_STRING_EQUAL(hc_json_str(c, "path"), "sys.modules['__main__'].__dict__['big_list']");
	/* the largest holder: big_dict, its tuples and their ints */
	json_t *lg = json_array_get(json_object_get(py, "largest"), 0);
	CU_ASSERT_STRING_EQUAL(hc_json_str(lg, "path"), "sys.modules['__main__'].__dict__['big_dict']");
	CU_ASSERT(hc_json_int(lg, "retained_bytes") > hc_json_int(lg, "bytes") + 3000 * 2 * 28);
	/* and the text says the collector is off */
	snprintf(args, sizeof(args), "analyze '%s'", core);
	free(out);
	free(err);
	CU_ASSERT_EQUAL(hc_fixture_run_cli(args, &out, &err), 0);
	CU_ASSERT_PTR_NOT_NULL(out && strstr(out, "the garbage collector is DISABLED"));
	CU_ASSERT_PTR_NOT_NULL(out && strstr(out, "Kept alive from outside Python"));
	json_decref(r);
	free(out);
	free(err);
	json_decref(truth);
}

/* explain on a Python object: its type, its chain from sys.modules, and who refers to it */
static void test_explain_names_a_python_objects_type_and_chain(void)
{
	json_t *truth = NULL;
	const char *core = hc_test_python_core("pyheap311", scenario, "/usr/bin/python3.11", NULL, false, &truth);
	CU_ASSERT_PTR_NOT_NULL_FATAL(core);
	char args[400], *out = NULL, *err = NULL;
	snprintf(args, sizeof(args), "explain --format json '%s' 0x%llx", core,
		 (unsigned long long)truth_u64(truth, "cache_item"));
	CU_ASSERT_EQUAL(hc_fixture_run_cli(args, &out, &err), 0);
	json_t *r = out ? json_loads(out, 0, NULL) : NULL, *py = json_object_get(r, "python");
	CU_ASSERT_FATAL(py != NULL);
	CU_ASSERT_STRING_EQUAL(hc_json_str(py, "type"), "__main__.Payload");
	CU_ASSERT_STRING_EQUAL(hc_json_str(py, "status"), "reachable");
	CU_ASSERT_STRING_EQUAL(hc_json_str(py, "path"), "sys.modules['app'].__dict__['_cache']['key-17']");
	CU_ASSERT_EQUAL(json_array_size(json_object_get(py, "referrers")), 1);
	/* it refers to its class and to 17, its attribute i */
	json_t *refs = json_object_get(py, "references");
	CU_ASSERT_EQUAL(json_array_size(refs), 2);
	CU_ASSERT_STRING_EQUAL(hc_json_str(json_array_get(refs, 1), "preview"), "17");
	json_decref(r);
	free(out);
	free(err);
	/* a container's preview shows its first items */
	snprintf(args, sizeof(args), "explain --format json '%s' 0x%llx", core,
		 (unsigned long long)truth_u64(truth, "big_list"));
	CU_ASSERT_EQUAL(hc_fixture_run_cli(args, &out, &err), 0);
	r = out ? json_loads(out, 0, NULL) : NULL;
	CU_ASSERT_STRING_EQUAL(hc_json_str(json_object_get(r, "python"), "preview"), "<list len=5000: '0', '1', '2', ...>");
	json_decref(r);
	free(out);
	free(err);
	/* and the kept one says so */
	snprintf(args, sizeof(args), "explain '%s' 0x%llx", core, (unsigned long long)truth_u64(truth, "kept"));
	CU_ASSERT_EQUAL(hc_fixture_run_cli(args, &out, &err), 0);
	CU_ASSERT_PTR_NOT_NULL(out && strstr(out, "kept alive from outside Python"));
	free(out);
	free(err);
	json_decref(truth);
}

void hc_test_register_cpython_heap(void)
{
	CU_pSuite s = CU_add_suite("cpython_heap", NULL, NULL);
	CU_add_test(s, "python 3.11: garbage, kept objects, containers and chains as the process saw them",
		    test_python_3_11_garbage_kept_objects_containers_and_chains);
	CU_add_test(s, "python 3.11 with libpython: the same", test_python_3_11_with_libpython_the_same);
	CU_add_test(s, "python 3.9: the same", test_python_3_9_the_same);
	CU_add_test(s, "python 3.13: the same", test_python_3_13_the_same);
	CU_add_test(s, "python 3.14: the same", test_python_3_14_the_same);
	CU_add_test(s, "analyze reports garbage, kept objects and containers",
		    test_analyze_reports_garbage_kept_objects_and_containers);
	CU_add_test(s, "explain names a Python object's type and chain", test_explain_names_a_python_objects_type_and_chain);
}
