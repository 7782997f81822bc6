/*
 * Cores of Python scenario scripts for the tests: the script run by a given
 * interpreter, natively or under chroot in a root of
 * scripts/fetch-runtimes.sh, its core taken once it prints READY, and the
 * truth it printed before as JSON (its first line).
 */
#ifndef HEAPCORE_TEST_PYTHON_CORES_H
#define HEAPCORE_TEST_PYTHON_CORES_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/*
 * A core of python running scenario (name.core), its truth read from
 * name.out; NULL if it cannot be made. With root, the interpreter runs
 * under chroot there, the script copied into its /tmp. With kernel, the
 * kernel writes the core instead of gcore.
 */
const char *hc_test_python_core(const char *name, const char *scenario, const char *python, const char *root,
				bool kernel, json_t **truth);

/* Two gcores of one run of scenario under python (hc_fixture_make_core_pair: READY, SIGUSR1, GREW). */
bool hc_test_python_core_pair(const char *name, const char *scenario, const char *python, const char **old_core,
			      const char **new_core);

/* DIR/pythonV of scripts/fetch-runtimes.sh, or NULL (and a failure naming the script) if it is not there. */
const char *hc_test_python_root(const char *v, char *buf, size_t len);

/*
 * Starts scenario (saved as name.py) under /usr/bin/python3.11, with arg as
 * its argument unless 0, and waits for it to print READY; its pid, or 0.
 * The caller kills and reaps it.
 */
pid_t hc_test_python_spawn(const char *name, const char *scenario, int arg);

/*
 * The start of the scenarios whose app module holds two problems: an
 * unbounded cache (app._cache, 20 000 Payloads keyed 'request-N', about
 * 12 MB) and an event bus (app.bus.listeners) holding bound methods of
 * 1 500 Widgets (about 6 MB); gc is disabled.
 */
#define HC_PY_CACHE_AND_BUS \
	"import sys, os, json, time, gc, types\n" \
	"os.chdir(os.path.dirname(os.path.abspath(__file__)))\n" \
	"gc.disable()\n" \
	"app = types.ModuleType('app'); app.__file__ = '/srv/app.py'; sys.modules['app'] = app\n" \
	"class Payload:\n" \
	"    def __init__(self, i): self.i = i; self.blob = b'%d' % i * 100\n" \
	"app._cache = {'request-%d' % i: Payload(i) for i in range(20000)}\n" \
	"class Widget:\n" \
	"    def __init__(self): self.buf = bytearray(4000)\n" \
	"    def on_event(self, e): pass\n" \
	"class Bus:\n" \
	"    def __init__(self): self.listeners = []\n" \
	"app.bus = Bus()\n" \
	"for _ in range(1500): app.bus.listeners.append(Widget().on_event)\n"

#define HC_TEST_PYENV_PYTHON "/root/.pyenv/versions/3.11.7/bin/python3.11"

#endif
