/*
 * Finding main_arena, mp_ and the tcache TLS slot: each method forced on
 * its own (symbols with libc6-dbg, disassembly with debug info hidden, the
 * scan from the core alone) must land where gdb says they are, on a fresh
 * core of a threaded program and on the runtimes' scenario cores; a forced
 * method that cannot work says why.
 */
#include <CUnit/CUnit.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixtures.h"
#include "heap_program.h"
#include "heapcore/glibc_heap.h"
#include "heapcore/symbols.h"
#include "heapcore/target.h"
#include "suites.h"
#include "truth.h"

/* Three threads with their own arenas and tcaches, and a main thread with a busy heap. */
static const char threaded_program[] =
	"#include <pthread.h>\n#include <stdio.h>\n#include <stdlib.h>\n#include <unistd.h>\n"
	"static pthread_barrier_t bar;\n"
	"static void *worker(void *arg) { void *keep[50];\n"
	" for (int i = 0; i < 50; i++) keep[i] = malloc(24 + 16 * (i % 20));\n"
	" for (int i = 0; i < 50; i += 2) free(keep[i]);\n"
	" pthread_barrier_wait(&bar); pause(); return arg; }\n"
	"int main(void) { void *keep[400];\n"
	" for (int i = 0; i < 400; i++) keep[i] = malloc(16 + 8 * (i % 150));\n"
	" for (int i = 0; i < 400; i += 3) free(keep[i]);\n"
	" pthread_barrier_init(&bar, NULL, 4); pthread_t th[3];\n"
	" for (int i = 0; i < 3; i++) pthread_create(&th[i], NULL, worker, NULL);\n"
	" pthread_barrier_wait(&bar); printf(\"READY\\n\"); fflush(stdout); pause(); }\n";

/* Never calls malloc: main_arena stays all zero. */
static const char no_malloc_program[] =
	"#include <unistd.h>\n"
	"int main(void) { write(1, \"READY\\n\", 6); pause(); return 0; }\n";

struct opened {
	struct hc_target *t;
	struct hc_symbols *s;
};

static bool open_core(const char *core, const char *sysroot, bool hide_debug, bool no_files, struct opened *o)
{
	memset(o, 0, sizeof(*o));
	struct hc_symbol_options so = { .sysroot = sysroot, .no_default_debug_dirs = hide_debug, .no_files = no_files };
	struct hc_error *err = hc_target_open_core(core, &o->t);
	if (!err)
		err = hc_symbols_open(o->t, &so, &o->s);
	if (err) {
		fprintf(stderr, "\n  %s: %s\n", core, err->message);
		hc_error_destroy(err);
		hc_target_destroy(o->t);
		return false;
	}
	return true;
}

static void close_core(struct opened *o)
{
	hc_symbols_destroy(o->s);
	hc_target_destroy(o->t);
}

static bool locate(const struct opened *o, enum hc_arena_method m, struct hc_glibc_location *loc)
{
	struct hc_error *err = hc_glibc_locate(o->t, o->s, m, loc);
	if (err) {
		fprintf(stderr, "\n  %s: %s\n", hc_arena_method_name(m), err->message);
		hc_error_destroy(err);
		return false;
	}
	return true;
}

/* ---- what gdb says ---- */

struct gdb_truth {
	uint64_t main_arena, mp;
	struct {
		int32_t tid;
		uint64_t tcache;
	} threads[64];
	unsigned nthreads;
};

/* Runs gdb on the core with the program: &main_arena, &mp_, and each thread's tcache. */
static bool gdb_truth(const char *core, const char *program, struct gdb_truth *g)
{
	memset(g, 0, sizeof(*g));
	char cmd[2048];
	snprintf(cmd, sizeof(cmd),
		 "gdb -nx -batch -ex 'set width 0' -ex 'p/x (unsigned long)&main_arena' -ex 'p/x (unsigned long)&mp_' "
		 "-ex 'thread apply all p/x (unsigned long)tcache' -c '%s' '%s' 2>/dev/null",
		 core, program);
	FILE *p = popen(cmd, "r");
	if (!p)
		return false;
	char line[512];
	int values = 0;
	int32_t tid = 0;
	while (fgets(line, sizeof(line), p)) {
		char *lwp = strstr(line, "(LWP ");
		if (!strncmp(line, "Thread ", 7) && lwp) {
			tid = (int32_t)atoi(lwp + 5);
			continue;
		}
		unsigned long long v;
		if (line[0] != '$' || sscanf(strchr(line, '=') ? strchr(line, '=') + 1 : "", " 0x%llx", &v) != 1)
			continue;
		if (values == 0)
			g->main_arena = v;
		else if (values == 1)
			g->mp = v;
		else if (tid && g->nthreads < 64) {
			g->threads[g->nthreads].tid = tid;
			g->threads[g->nthreads].tcache = v;
			g->nthreads++;
			tid = 0;
		}
		values++;
	}
	pclose(p);
	return g->main_arena != 0;
}

static const char *threaded_core(char *program, size_t len)
{
	const char *core = hc_fixture_make_core("locate_threads", threaded_program);
	snprintf(program, len, "%s/locate_threads", hc_fixture_tmpdir());
	return core;
}

/* The tcache pointer each thread's slot holds equals gdb's `tcache` in that thread. */
static unsigned tcache_mismatches(const struct opened *o, const struct hc_glibc_location *loc,
				  const struct gdb_truth *g)
{
	unsigned bad = 0, seen = 0;
	for (unsigned i = 0; i < g->nthreads; i++) {
		for (uint32_t j = 0; j < o->t->nthreads; j++) {
			const struct hc_thread *th = &o->t->threads[j];
			if (th->tid != g->threads[i].tid)
				continue;
			uint64_t v = 0;
			seen++;
			if (!hc_target_read_u64(o->t, th->tp + (uint64_t)loc->tcache_tp_offset, &v) ||
			    v != g->threads[i].tcache) {
				fprintf(stderr, "\n  thread %d: tcache 0x%" PRIx64 ", gdb 0x%" PRIx64 "\n", th->tid, v,
					g->threads[i].tcache);
				bad++;
			}
		}
	}
	return seen == g->nthreads && seen > 0 ? bad : bad + 1;
}

static void check_method_against_gdb(enum hc_arena_method m, bool hide_debug, bool no_files,
				     enum hc_arena_method expect_tcache)
{
	char program[400];
	const char *core = threaded_core(program, sizeof(program));
	CU_ASSERT_PTR_NOT_NULL_FATAL(core);
	struct gdb_truth g;
	CU_ASSERT_FATAL(gdb_truth(core, program, &g));
	CU_ASSERT_EQUAL(g.nthreads, 4);
	struct opened o;
	CU_ASSERT_FATAL(open_core(core, NULL, hide_debug, no_files, &o));
	struct hc_glibc_location loc;
	bool ok = locate(&o, m, &loc);
	CU_ASSERT(ok);
	if (ok) {
		CU_ASSERT_EQUAL(loc.method, m);
		CU_ASSERT_EQUAL(loc.main_arena, g.main_arena);
		CU_ASSERT_EQUAL(loc.mp, g.mp);
		CU_ASSERT_EQUAL(loc.mp_method, m);
		CU_ASSERT(loc.have_tcache_tp_offset);
		CU_ASSERT_EQUAL(loc.tcache_method, expect_tcache);
		if (loc.have_tcache_tp_offset)
			CU_ASSERT_EQUAL(tcache_mismatches(&o, &loc, &g), 0);
		CU_ASSERT(loc.layout && loc.layout->has_tcache);
		/* 2.34+: the random key every tcache'd chunk carries */
		if (loc.layout && loc.layout->tcache_key_is_random)
			CU_ASSERT(loc.tcache_key != 0);
	}
	close_core(&o);
}

static void test_symbols_method_finds_main_arena_mp_and_tcache_where_gdb_does(void)
{
	check_method_against_gdb(HC_ARENA_METHOD_SYMBOLS, false, false, HC_ARENA_METHOD_SYMBOLS);
}

static void test_disassembly_method_without_debug_info_finds_the_same(void)
{
	check_method_against_gdb(HC_ARENA_METHOD_DISASSEMBLY, true, false, HC_ARENA_METHOD_DISASSEMBLY);
}

static void test_scan_method_from_the_core_alone_finds_the_same(void)
{
	check_method_against_gdb(HC_ARENA_METHOD_SCAN, true, true, HC_ARENA_METHOD_SCAN);
}

static void test_auto_uses_symbols_then_disassembly_then_scan(void)
{
	char program[400];
	const char *core = threaded_core(program, sizeof(program));
	CU_ASSERT_PTR_NOT_NULL_FATAL(core);
	const struct {
		bool hide_debug, no_files;
		enum hc_arena_method expect;
	} cases[] = {
		{ false, false, HC_ARENA_METHOD_SYMBOLS },
		{ true, false, HC_ARENA_METHOD_DISASSEMBLY },
		{ true, true, HC_ARENA_METHOD_SCAN },
	};
	uint64_t first = 0;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct opened o;
		CU_ASSERT_FATAL(open_core(core, NULL, cases[i].hide_debug, cases[i].no_files, &o));
		struct hc_glibc_location loc;
		if (locate(&o, HC_ARENA_METHOD_AUTO, &loc)) {
			CU_ASSERT_EQUAL(loc.method, cases[i].expect);
			if (!first)
				first = loc.main_arena;
			CU_ASSERT_EQUAL(loc.main_arena, first);
		} else {
			CU_FAIL("auto found no arena");
		}
		close_core(&o);
	}
}

static void test_version_comes_from_libc_and_the_scan_alone_names_a_layout_range(void)
{
	char program[400];
	const char *core = threaded_core(program, sizeof(program));
	CU_ASSERT_PTR_NOT_NULL_FATAL(core);
	struct opened o;
	struct hc_glibc_location loc;
	CU_ASSERT_FATAL(open_core(core, NULL, true, false, &o));
	CU_ASSERT_FATAL(locate(&o, HC_ARENA_METHOD_AUTO, &loc));
	/* libc's file says which release it is */
	unsigned minor = 0;
	CU_ASSERT(loc.version_known);
	CU_ASSERT(sscanf(loc.version, "2.%u", &minor) == 1);
	CU_ASSERT_PTR_EQUAL(loc.layout, hc_glibc_layout_for_minor(minor));
	const struct hc_glibc_layout *known = loc.layout;
	close_core(&o);
	/* with no file, only the structures say it: the same layout, named by its range */
	CU_ASSERT_FATAL(open_core(core, NULL, true, true, &o));
	CU_ASSERT_FATAL(locate(&o, HC_ARENA_METHOD_SCAN, &loc));
	CU_ASSERT_PTR_EQUAL(loc.layout, known);
	bool named = false; /* libc-2.31.so names its release; libc.so.6 does not */
	for (uint32_t i = 0; i < o.t->nfiles; i++)
		named |= strstr(o.t->files[i].path, "/libc-2.") != NULL;
	if (!named) {
		CU_ASSERT(!loc.version_known);
		CU_ASSERT_STRING_EQUAL(loc.version, known->name);
	}
	close_core(&o);
}

static void test_forced_methods_that_cannot_work_say_why(void)
{
	char program[400];
	const char *core = threaded_core(program, sizeof(program));
	CU_ASSERT_PTR_NOT_NULL_FATAL(core);
	struct opened o;
	struct hc_glibc_location loc;
	struct hc_error *err;

	CU_ASSERT_FATAL(open_core(core, NULL, true, false, &o));
	err = hc_glibc_locate(o.t, o.s, HC_ARENA_METHOD_SYMBOLS, &loc);
	CU_ASSERT(err && err->code == HC_ERR_NOT_FOUND && strstr(err->message, "debug info"));
	hc_error_destroy(err);
	close_core(&o);

	CU_ASSERT_FATAL(open_core(core, NULL, true, true, &o));
	err = hc_glibc_locate(o.t, o.s, HC_ARENA_METHOD_DISASSEMBLY, &loc);
	CU_ASSERT(err && err->code == HC_ERR_NOT_FOUND && strstr(err->message, "no libc file"));
	hc_error_destroy(err);
	close_core(&o);

	const char *empty = hc_fixture_make_core("locate_no_malloc", no_malloc_program);
	CU_ASSERT_PTR_NOT_NULL_FATAL(empty);
	CU_ASSERT_FATAL(open_core(empty, NULL, false, false, &o));
	for (int m = HC_ARENA_METHOD_AUTO; m <= HC_ARENA_METHOD_SCAN; m++) {
		err = hc_glibc_locate(o.t, o.s, (enum hc_arena_method)m, &loc);
		CU_ASSERT(err && err->code == HC_ERR_NOT_FOUND);
		if (err && m == HC_ARENA_METHOD_SYMBOLS)
			CU_ASSERT_PTR_NOT_NULL(strstr(err->message, "never initialised"));
		if (err && m == HC_ARENA_METHOD_SCAN)
			CU_ASSERT_PTR_NOT_NULL(strstr(err->message, "malloc never used"));
		hc_error_destroy(err);
	}
	close_core(&o);
}

static void test_a_damaged_bin_does_not_hide_main_arena_from_any_method(void)
{
	const char *core = hc_fixture_make_core("cli_heap", hc_heap_program);
	CU_ASSERT_PTR_NOT_NULL_FATAL(core);
	struct opened o;
	struct hc_glibc_location truth, loc;
	CU_ASSERT_FATAL(open_core(core, NULL, false, false, &o));
	CU_ASSERT_FATAL(locate(&o, HC_ARENA_METHOD_SYMBOLS, &truth));
	/* bin 100's fd now points nowhere, as after a stray write */
	uint64_t fd_at = truth.main_arena + (uint64_t)truth.layout->ms_bins + 16 * 99;
	const char *bad = hc_fixture_patch_core(core, o.t, fd_at, 0x4141414141414140ULL, "locate_bad_bin.core");
	close_core(&o);
	CU_ASSERT_PTR_NOT_NULL_FATAL(bad);
	const struct {
		enum hc_arena_method m;
		bool hide_debug, no_files;
	} cases[] = {
		{ HC_ARENA_METHOD_SYMBOLS, false, false },
		{ HC_ARENA_METHOD_DISASSEMBLY, true, false },
		{ HC_ARENA_METHOD_SCAN, true, true },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		CU_ASSERT_FATAL(open_core(bad, NULL, cases[i].hide_debug, cases[i].no_files, &o));
		bool ok = locate(&o, cases[i].m, &loc);
		CU_ASSERT(ok);
		if (ok)
			CU_ASSERT_EQUAL(loc.main_arena, truth.main_arena);
		close_core(&o);
	}
}

/* ---- the runtimes' cores: every method agrees with the symbols, on each glibc ---- */

struct runtime_stats {
	unsigned cores, failures;
};

/* Does some thread's tcache slot point at a real tcache (in writable memory)? */
static bool any_real_tcache(const struct opened *o, const struct hc_glibc_location *truth)
{
	for (uint32_t i = 0; truth->have_tcache_tp_offset && i < o->t->nthreads; i++) {
		uint64_t v;
		const struct hc_thread *th = &o->t->threads[i];
		if (!hc_target_read_u64(o->t, th->tp + (uint64_t)truth->tcache_tp_offset, &v) || !v)
			continue;
		const struct hc_segment *seg = hc_target_segment(o->t, v);
		if (seg && (seg->perms & HC_PERM_W))
			return true;
	}
	return false;
}

static void check_scenario(const struct truth *tr, void *arg)
{
	struct runtime_stats *st = arg;
	const char *sysroot = tr->sysroot[0] && strcmp(tr->sysroot, "/") ? tr->sysroot : NULL;
	const char *v = json_string_value(json_object_get(tr->json, "glibc_version"));
	st->cores++;
	struct opened o;
	struct hc_glibc_location truth, loc;
	if (!open_core(tr->core, sysroot, false, false, &o) || !locate(&o, HC_ARENA_METHOD_SYMBOLS, &truth)) {
		st->failures++;
		return;
	}
	if (!truth.version_known || !v || strcmp(truth.version, v) != 0) {
		fprintf(stderr, "\n  %s: version %s, truth %s\n", tr->core, truth.version, v ? v : "?");
		st->failures++;
	}
	close_core(&o);
	const struct {
		enum hc_arena_method m;
		bool hide_debug, no_files;
	} cases[] = {
		{ HC_ARENA_METHOD_DISASSEMBLY, true, false },
		{ HC_ARENA_METHOD_SCAN, true, true },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (!open_core(tr->core, sysroot, cases[i].hide_debug, cases[i].no_files, &o)) {
			st->failures++;
			continue;
		}
		/* the scan calibrates on real tcaches: with none (2.43+ all on __tcache_dummy) it may find no slot */
		bool may_miss = cases[i].m == HC_ARENA_METHOD_SCAN && !any_real_tcache(&o, &truth);
		bool ok = locate(&o, cases[i].m, &loc);
		bool tc_ok = ok && (loc.have_tcache_tp_offset
					    ? truth.have_tcache_tp_offset && loc.tcache_tp_offset == truth.tcache_tp_offset
					    : !truth.have_tcache_tp_offset || may_miss);
		if (!ok || loc.main_arena != truth.main_arena || loc.mp != truth.mp || loc.layout != truth.layout ||
		    !tc_ok) {
			fprintf(stderr, "\n  %s: %s disagrees with the symbols\n", tr->core, hc_arena_method_name(cases[i].m));
			st->failures++;
		}
		close_core(&o);
	}
}

static void test_every_method_agrees_with_the_symbols_on_each_runtime(void)
{
	struct runtime_stats st = { 0, 0 };
	const char *runtimes[] = { "native", "trixie", "sid" };
	for (size_t i = 0; i < sizeof(runtimes) / sizeof(runtimes[0]); i++)
		truth_for_each(runtimes[i], "heap_", check_scenario, &st);
	if (st.cores == 0)
		fprintf(stderr, "\n  no scenario cores under $HEAPCORE_CORES_DIR (scripts/make-test-cores.sh)\n");
	CU_ASSERT(st.cores > 0);
	CU_ASSERT_EQUAL(st.failures, 0);
}

/*
 * The walk locates without libc's DWARF and has the DWARF judge the layout
 * beside it: the verdict must agree with what hc_glibc_locate's own check
 * decides. Native libc has its DWARF (libc6-dbg): it agrees with the
 * layout found, and disagrees with another glibc's.
 */
static void test_libcs_dwarf_judges_the_layout_the_version_implies(void)
{
	char program[400];
	const char *core = threaded_core(program, sizeof(program));
	CU_ASSERT_PTR_NOT_NULL_FATAL(core);
	struct opened o;
	CU_ASSERT_FATAL(open_core(core, NULL, false, false, &o));
	struct hc_glibc_location with, without;
	struct hc_error *err = hc_glibc_locate_opts(o.t, o.s, HC_ARENA_METHOD_AUTO, false, &without);
	CU_ASSERT_PTR_NULL_FATAL(err);
	CU_ASSERT_FATAL(locate(&o, HC_ARENA_METHOD_AUTO, &with));
	CU_ASSERT(with.layout == without.layout && with.main_arena == without.main_arena && with.mp == without.mp);
	CU_ASSERT_FATAL(with.libc && with.libc->has_dwarf);
	CU_ASSERT_EQUAL(hc_glibc_dwarf_verdict(o.s, with.libc, with.layout), 1);
	/* glibc 2.31's malloc_state (no tcache_key, another mp_) is not this one */
	const struct hc_glibc_layout *old = hc_glibc_layout_for_minor(31);
	CU_ASSERT_FATAL(old && old != with.layout);
	CU_ASSERT_EQUAL(hc_glibc_dwarf_verdict(o.s, with.libc, old), 0);
	CU_ASSERT_EQUAL(hc_glibc_dwarf_verdict(o.s, NULL, with.layout), -1);
	close_core(&o);
}

static void test_method_names_are_stable(void)
{
	CU_ASSERT_STRING_EQUAL(hc_arena_method_name(HC_ARENA_METHOD_AUTO), "auto");
	CU_ASSERT_STRING_EQUAL(hc_arena_method_name(HC_ARENA_METHOD_SYMBOLS), "symbols");
	CU_ASSERT_STRING_EQUAL(hc_arena_method_name(HC_ARENA_METHOD_DISASSEMBLY), "disassembly");
	CU_ASSERT_STRING_EQUAL(hc_arena_method_name(HC_ARENA_METHOD_SCAN), "scan");
}

void hc_test_register_glibc_locate(void)
{
	CU_pSuite s = CU_add_suite("glibc_locate", NULL, NULL);
	CU_add_test(s, "symbols method finds main_arena, mp_ and each thread's tcache where gdb does",
		    test_symbols_method_finds_main_arena_mp_and_tcache_where_gdb_does);
	CU_add_test(s, "disassembly method without debug info finds the same",
		    test_disassembly_method_without_debug_info_finds_the_same);
	CU_add_test(s, "scan method from the core alone finds the same",
		    test_scan_method_from_the_core_alone_finds_the_same);
	CU_add_test(s, "auto uses symbols, then disassembly, then the scan",
		    test_auto_uses_symbols_then_disassembly_then_scan);
	CU_add_test(s, "the version comes from libc, and the scan alone names a layout range",
		    test_version_comes_from_libc_and_the_scan_alone_names_a_layout_range);
	CU_add_test(s, "forced methods that cannot work say why", test_forced_methods_that_cannot_work_say_why);
	CU_add_test(s, "a damaged bin does not hide main_arena from any method",
		    test_a_damaged_bin_does_not_hide_main_arena_from_any_method);
	CU_add_test(s, "every method agrees with the symbols on each runtime's cores",
		    test_every_method_agrees_with_the_symbols_on_each_runtime);
	CU_add_test(s, "libc's DWARF judges the layout the version implies", test_libcs_dwarf_judges_the_layout_the_version_implies);
	CU_add_test(s, "method names are stable", test_method_names_are_stable);
}
