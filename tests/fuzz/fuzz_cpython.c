/*
 * Fuzz target: the CPython object decoder and traversal over a memory image
 * the fuzzer controls. The first byte picks the version (3.9, 3.11, 3.13,
 * 3.14); the rest is mapped at 0x10000000, and a runtime is made up whose
 * one thread state and interpreter sit in it, so that the gc lists, every
 * object's type, references (dicts, lists, sets, deques, frames, ...),
 * sizes, the dominator tree, paths, previews, the detectors and the Python
 * report all read the fuzzer's bytes.
 */
#include <jansson.h>
#include <stdlib.h>

#include "cpython_layout.h"
#include "fuzz_input.h"
#include "heapcore/cpython.h"
#include "heapcore/cpython_heap.h"
#include "heapcore/findings.h"
#include "heapcore/symbols.h"
#include "heapcore/target.h"
#include "report_findings.h"
#include "report_python.h"

#define BASE 0x10000000ull

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 64)
		return 0;
	static const unsigned minors[] = { 9, 11, 13, 14 };
	unsigned minor = minors[data[0] & 3];
	char path[64];
	int fd = fuzz_image_core(data + 1, size - 1, BASE, path, sizeof(path));
	if (fd < 0)
		return 0;
	struct hc_target *t = NULL;
	struct hc_error *err = hc_target_open_core(path, &t);
	struct hc_symbols *s = NULL;
	struct hc_symbol_options so = { .no_files = true };
	if (!err && !hc_symbols_open(t, &so, &s)) {
		/* the image's first two words: the thread state and the interpreter */
		uint64_t ts = 0, interp = 0;
		hc_target_read_u64(t, BASE, &ts);
		hc_target_read_u64(t, BASE + 8, &interp);
		struct hc_cpython_thread th = { .tstate = ts, .interp = interp, .core_thread = -1 };
		struct hc_cpython_runtime r = { .found = true, .major = 3, .minor = minor, .layout_known = true,
						.layout = hc_cpython_layout_for(3, minor), .runtime = BASE,
						.main_interp = interp, .ninterps = 1, .threads = &th, .nthreads = 1 };
		struct hc_cpython_stack st;
		if (!hc_cpython_thread_stack(t, s, &r, 0, &st))
			hc_cpython_stack_free(&st);
		struct hc_cpython_census c;
		if (!hc_cpython_gc_census(t, s, &r, &c))
			hc_cpython_census_free(&c);
		struct hc_pyheap *h = NULL;
		if (!hc_pyheap_build(t, s, &r, NULL, &h) && h) {
			char buf[512];
			for (uint32_t i = 0; i < h->n && i < 64; i++) {
				hc_pyheap_path(h, i, buf, sizeof(buf));
				hc_pyheap_preview(h, i, buf, sizeof(buf));
			}
			json_t *py = hc_report_python_heap(h);
			struct hc_heuristics_input in = { NULL, &r, h };
			struct hc_findings f;
			if (!hc_findings_collect(&in, &f)) {
				json_t *rep = json_object();
				hc_report_findings_json(&f, rep);
				FILE *null = fopen("/dev/null", "w");
				if (null) {
					hc_report_findings_text(rep, null);
					hc_report_python_text(py, null);
					fclose(null);
				}
				json_decref(rep);
				hc_findings_free(&f);
			}
			char *text = py ? json_dumps(py, 0) : NULL;
			free(text);
			json_decref(py);
		}
		hc_pyheap_destroy(h);
	}
	hc_symbols_destroy(s);
	hc_target_destroy(t);
	hc_error_destroy(err);
	close(fd);
	return 0;
}
