/*
 * Unwind suite: the frames of a real process's threads (a core gcore'd from a
 * small program whose main thread waits in hold_on_stack() and whose second
 * thread waits in worker_park()), by CFI, by the fallbacks forced one by one,
 * and from the core alone; which frame and which local a stack word belongs
 * to, and the type a local gives what it points at; and a synthetic core
 * whose stack pointer is in no mapping.
 */
#include <CUnit/CUnit.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixtures.h"
#include "heapcore/demangle.h"
#include "heapcore/glibc_heap.h"
#include "heapcore/graph.h"
#include "heapcore/symbols.h"
#include "heapcore/target.h"
#include "heapcore/types.h"
#include "heapcore/unwind.h"
#include "suites.h"
#include "synthetic_core.h"

/* CU_ASSERT_STRING_EQUAL on a NULL string would crash the run instead of failing the test. */
static const char *nz(const char *s)
{
	return s ? s : "(null)";
}
#define ASSERT_STR(a, b) CU_ASSERT_STRING_EQUAL(nz(a), b)

static const char prog_source[] =
	"#include <pthread.h>\n"
	"#include <stdio.h>\n"
	"#include <stdlib.h>\n"
	"#include <unistd.h>\n"
	"struct node { struct node *next; long value; };\n"
	"static volatile int parked;\n"
	"static void *worker_park(void *arg)\n"
	"{\n"
	"	parked = 1;\n"
	"	for (;;)\n"
	"		pause(); /* WORKER */\n"
	"	return arg;\n"
	"}\n"
	"static int __attribute__((noinline)) hold_on_stack(int n)\n"
	"{\n"
	"	struct node *held = malloc(sizeof(*held)); /* HELD */\n"
	"	held->value = n;\n"
	"	printf(\"held_slot=%lu\\nheld=%lu\\n\", (unsigned long)&held, (unsigned long)held);\n"
	"	printf(\"READY\\n\");\n"
	"	fflush(stdout);\n"
	"	for (;;)\n"
	"		pause(); /* HOLD */\n"
	"	return 0;\n"
	"}\n"
	"int main(void)\n"
	"{\n"
	"	pthread_t t;\n"
	"	pthread_create(&t, NULL, worker_park, NULL);\n"
	"	while (!parked)\n"
	"		usleep(1000);\n"
	"	usleep(50000);\n"
	"	volatile int local = 5;\n"
	"	printf(\"main_slot=%lu\\n\", (unsigned long)&local);\n"
	"	return hold_on_stack(local); /* MAIN */\n"
	"}\n";

static struct {
	bool ready;
	const char *core;
	uint64_t held_slot, main_slot, held;
	uint32_t line_hold, line_main, line_worker, line_held;
} P;

static uint32_t line_of(const char *src, const char *marker)
{
	const char *at = strstr(src, marker);
	if (!at)
		return 0;
	uint32_t line = 1;
	for (const char *p = src; p < at; p++)
		line += *p == '\n';
	return line;
}

static uint64_t key(const char *text, const char *k)
{
	size_t n = strlen(k);
	for (const char *p = text; (p = strstr(p, k)); p += n)
		if ((p == text || p[-1] == '\n') && p[n] == '=')
			return strtoull(p + n + 1, NULL, 10);
	return 0;
}

static bool prog(void)
{
	if (P.ready)
		return P.core != NULL;
	P.ready = true;
	P.core = hc_fixture_make_core("unwind_prog", prog_source);
	if (!P.core)
		return false;
	char out[600];
	snprintf(out, sizeof(out), "%s/unwind_prog.out", hc_fixture_tmpdir());
	char *text = hc_fixture_read_file(out, NULL);
	if (!text)
		return false;
	P.held_slot = key(text, "held_slot");
	P.main_slot = key(text, "main_slot");
	P.held = key(text, "held");
	free(text);
	P.line_hold = line_of(prog_source, "/* HOLD */");
	P.line_main = line_of(prog_source, "/* MAIN */");
	P.line_worker = line_of(prog_source, "/* WORKER */");
	P.line_held = line_of(prog_source, "/* HELD */");
	return P.held_slot && P.main_slot;
}

struct opened {
	struct hc_target *t;
	struct hc_symbols *s;
	struct hc_unwind *u;
};

static bool open_unwound(const struct hc_symbol_options *so, const struct hc_unwind_options *uo, struct opened *x)
{
	memset(x, 0, sizeof(*x));
	if (!prog())
		return false;
	struct hc_error *err = hc_target_open_core(P.core, &x->t);
	if (!err)
		err = hc_symbols_open(x->t, so, &x->s);
	if (!err)
		err = hc_unwind_threads_opts(x->t, x->s, uo, &x->u);
	if (err) {
		fprintf(stderr, "\n  %s\n", err->message);
		hc_error_destroy(err);
		return false;
	}
	return true;
}

static void close_unwound(struct opened *x)
{
	hc_unwind_destroy(x->u);
	hc_symbols_destroy(x->s);
	hc_target_destroy(x->t);
}

static int32_t main_thread(const struct opened *x)
{
	for (uint32_t i = 0; i < x->u->nthreads; i++)
		if (x->u->threads[i].is_main)
			return (int32_t)i;
	return -1;
}

/* The index of the first frame of thread ti calling itself `function`, or -1. */
static int32_t frame_named(const struct opened *x, uint32_t ti, const char *function)
{
	const struct hc_thread_frames *tf = &x->u->threads[ti];
	for (uint32_t k = 0; k < tf->count; k++) {
		const struct hc_frame *f = &x->u->frames[tf->first + k];
		if (f->function && !strcmp(f->function, function))
			return (int32_t)k;
	}
	return -1;
}

static const char *base(const char *path)
{
	const char *b = path ? strrchr(path, '/') : NULL;
	return b ? b + 1 : path;
}

/* Frames tile the stack: innermost first, each ending where the next begins, the last at the top. */
static void check_extents(const struct opened *x)
{
	for (uint32_t i = 0; i < x->u->nthreads; i++) {
		const struct hc_thread_frames *tf = &x->u->threads[i];
		CU_ASSERT(tf->count >= 1);
		for (uint32_t k = 0; k < tf->count; k++) {
			const struct hc_frame *f = &x->u->frames[tf->first + k];
			CU_ASSERT(f->sp <= f->cfa);
			CU_ASSERT_PTR_NOT_NULL(f->location);
			uint64_t next = k + 1 < tf->count ? x->u->frames[tf->first + k + 1].sp : tf->stack_end;
			CU_ASSERT_EQUAL(f->cfa, next);
		}
		CU_ASSERT_EQUAL(x->u->frames[tf->first].pc, x->t->threads[i].pc);
		CU_ASSERT_EQUAL(x->u->frames[tf->first].sp, x->t->threads[i].sp);
		CU_ASSERT_EQUAL(x->u->frames[tf->first].method, HC_FRAME_REGISTERS);
	}
}

static void test_cfi_names_hold_on_stack_and_main_with_lines(void)
{
	struct opened x;
	CU_ASSERT_FATAL(open_unwound(NULL, NULL, &x));
	int32_t mt = main_thread(&x);
	CU_ASSERT_FATAL(mt >= 0);
	CU_ASSERT_EQUAL(x.u->threads[mt].tid, x.t->process.pid);
	int32_t h = frame_named(&x, (uint32_t)mt, "hold_on_stack");
	int32_t m = frame_named(&x, (uint32_t)mt, "main");
	CU_ASSERT_FATAL(h >= 1 && m == h + 1);
	const struct hc_frame *fh = &x.u->frames[x.u->threads[mt].first + h];
	const struct hc_frame *fm = &x.u->frames[x.u->threads[mt].first + m];
	CU_ASSERT_EQUAL(fh->method, HC_FRAME_CFI);
	CU_ASSERT_EQUAL(fm->method, HC_FRAME_CFI);
	ASSERT_STR(base(fh->file), "unwind_prog.c");
	CU_ASSERT_EQUAL(fh->line, P.line_hold);
	ASSERT_STR(base(fm->file), "unwind_prog.c");
	CU_ASSERT_EQUAL(fm->line, P.line_main);
	CU_ASSERT(fh->function_offset > 0);
	CU_ASSERT(!strncmp(fh->location, "hold_on_stack+0x", 16));
	/* the whole stack, up to the process's entry point, with nothing left to the fallbacks */
	CU_ASSERT(frame_named(&x, (uint32_t)mt, "_start") > m);
	CU_ASSERT(x.u->threads[mt].worst <= HC_FRAME_CFI);
	check_extents(&x);
	close_unwound(&x);
}

static void test_frame_at_names_the_frame_holding_a_stack_word(void)
{
	struct opened x;
	CU_ASSERT_FATAL(open_unwound(NULL, NULL, &x));
	uint32_t mt = (uint32_t)main_thread(&x);
	const struct hc_frame *f = hc_unwind_frame_at(x.u, mt, P.held_slot);
	CU_ASSERT_FATAL(f != NULL);
	ASSERT_STR(f->function, "hold_on_stack");
	f = hc_unwind_frame_at(x.u, mt, P.main_slot);
	CU_ASSERT_FATAL(f != NULL);
	ASSERT_STR(f->function, "main");
	char want[256], got[256];
	snprintf(want, sizeof(want), "thread %d (main) in hold_on_stack() at unwind_prog.c:%u", x.u->threads[mt].tid,
		 P.line_hold);
	ASSERT_STR(hc_unwind_describe(x.u, mt, P.held_slot, got, sizeof(got)), want);
	/* the words are in locals, named from DWARF with the frames' sp and cfa */
	struct hc_variable v;
	CU_ASSERT_FATAL(hc_unwind_local_at(x.u, x.s, mt, P.held_slot, &v));
	ASSERT_STR(v.name, "held");
	ASSERT_STR(v.type_name, "struct node *");
	CU_ASSERT_EQUAL(v.address, P.held_slot);
	CU_ASSERT_EQUAL(v.decl_line, P.line_held);
	CU_ASSERT_FATAL(hc_unwind_local_at(x.u, x.s, mt, P.main_slot + 2, &v));
	ASSERT_STR(v.name, "local");
	ASSERT_STR(v.type_name, "volatile int");
	CU_ASSERT_EQUAL(v.offset, 2);
	CU_ASSERT(!hc_unwind_local_at(x.u, x.s, mt, x.u->threads[mt].stack_end - 8, &v));
	/* the innermost frame owns its red zone, nothing owns what lies further below */
	const struct hc_frame *inner = &x.u->frames[x.u->threads[mt].first];
	CU_ASSERT_PTR_EQUAL(hc_unwind_frame_at(x.u, mt, inner->sp - 8), inner);
	CU_ASSERT_PTR_NULL(hc_unwind_frame_at(x.u, mt, inner->sp - 4096));
	CU_ASSERT_PTR_NULL(hc_unwind_frame_at(x.u, mt, x.u->threads[mt].stack_end));
	/* another thread's stack does not hold the main thread's words */
	for (uint32_t i = 0; i < x.u->nthreads; i++)
		if (i != mt)
			CU_ASSERT_PTR_NULL(hc_unwind_frame_at(x.u, i, P.held_slot));
	CU_ASSERT_PTR_NULL(hc_unwind_frame_at(x.u, x.u->nthreads, P.held_slot));
	close_unwound(&x);
}

static void test_second_thread_is_in_worker_park(void)
{
	struct opened x;
	CU_ASSERT_FATAL(open_unwound(NULL, NULL, &x));
	CU_ASSERT_EQUAL_FATAL(x.u->nthreads, 2);
	uint32_t wt = main_thread(&x) == 0 ? 1 : 0;
	CU_ASSERT(!x.u->threads[wt].is_main);
	int32_t k = frame_named(&x, wt, "worker_park");
	CU_ASSERT_FATAL(k >= 1);
	const struct hc_frame *f = &x.u->frames[x.u->threads[wt].first + k];
	CU_ASSERT_EQUAL(f->line, P.line_worker);
	CU_ASSERT(frame_named(&x, wt, "start_thread") > k);
	char buf[256], want[64];
	snprintf(want, sizeof(want), "thread %d in worker_park() at ", x.u->threads[wt].tid);
	hc_unwind_describe(x.u, wt, f->sp, buf, sizeof(buf));
	CU_ASSERT(!strncmp(buf, want, strlen(want)));
	close_unwound(&x);
}

/* With CFI off, the frame pointer walk (and the scan bridging to it) or the scan alone find the same frames. */
static void check_fallback(const struct hc_unwind_options *uo, enum hc_frame_method allowed_worst)
{
	struct opened ref, x;
	CU_ASSERT_FATAL(open_unwound(NULL, NULL, &ref));
	CU_ASSERT_FATAL(open_unwound(NULL, uo, &x));
	uint32_t mt = (uint32_t)main_thread(&x);
	int32_t h = frame_named(&x, mt, "hold_on_stack");
	int32_t m = frame_named(&x, mt, "main");
	CU_ASSERT_FATAL(h >= 1 && m == h + 1);
	const struct hc_frame *fh = &x.u->frames[x.u->threads[mt].first + h];
	const struct hc_frame *rh = &ref.u->frames[ref.u->threads[mt].first + frame_named(&ref, mt, "hold_on_stack")];
	CU_ASSERT_EQUAL(fh->pc, rh->pc);
	CU_ASSERT_EQUAL(fh->sp, rh->sp);
	CU_ASSERT_EQUAL(fh->line, P.line_hold);
	CU_ASSERT(fh->method != HC_FRAME_CFI);
	for (uint32_t k = 0; k < x.u->threads[mt].count; k++)
		CU_ASSERT(x.u->frames[x.u->threads[mt].first + k].method <= allowed_worst);
	CU_ASSERT(x.u->threads[mt].worst > HC_FRAME_CFI);
	const struct hc_frame *f = hc_unwind_frame_at(x.u, mt, P.held_slot);
	CU_ASSERT(f && f->function && !strcmp(f->function, "hold_on_stack"));
	/* the frame's extent is exact: the local is found from it */
	struct hc_variable v;
	CU_ASSERT(hc_unwind_local_at(x.u, x.s, mt, P.held_slot, &v) && !strcmp(v.name, "held"));
	check_extents(&x);
	close_unwound(&x);
	close_unwound(&ref);
}

static void test_frame_pointer_walk_finds_the_frames_without_cfi(void)
{
	struct hc_unwind_options uo = { .no_cfi = true, .no_scan = true };
	check_fallback(&uo, HC_FRAME_SCAN);
	/* main is reached through its frame pointer, not a scan */
	struct opened x;
	CU_ASSERT_FATAL(open_unwound(NULL, &uo, &x));
	uint32_t mt = (uint32_t)main_thread(&x);
	int32_t m = frame_named(&x, mt, "main");
	CU_ASSERT_FATAL(m >= 0);
	CU_ASSERT_EQUAL(x.u->frames[x.u->threads[mt].first + m].method, HC_FRAME_POINTER);
	close_unwound(&x);
}

static void test_stack_scan_finds_the_frames_without_cfi_or_frame_pointers(void)
{
	struct hc_unwind_options uo = { .no_cfi = true, .no_frame_pointers = true };
	check_fallback(&uo, HC_FRAME_SCAN);
	/* the scan stops at _start: argv, the environment and auxv above it hold no frames */
	struct opened x;
	CU_ASSERT_FATAL(open_unwound(NULL, &uo, &x));
	uint32_t mt = (uint32_t)main_thread(&x);
	const struct hc_thread_frames *tf = &x.u->threads[mt];
	ASSERT_STR(x.u->frames[tf->first + tf->count - 1].function, "_start");
	close_unwound(&x);
}

static void test_core_alone_still_gives_frames(void)
{
	struct hc_symbol_options so = { .no_files = true };
	struct opened ref, x;
	CU_ASSERT_FATAL(open_unwound(NULL, NULL, &ref));
	CU_ASSERT_FATAL(open_unwound(&so, NULL, &x));
	check_extents(&x);
	uint32_t mt = (uint32_t)main_thread(&x);
	for (uint32_t k = 0; k < x.u->nframes; k++)
		CU_ASSERT_PTR_NULL(x.u->frames[k].file);
	/* unnamed, the frame holding held is still hold_on_stack's: the same return address */
	const struct hc_frame *f = hc_unwind_frame_at(x.u, mt, P.held_slot);
	const struct hc_frame *r = hc_unwind_frame_at(ref.u, mt, P.held_slot);
	CU_ASSERT_FATAL(f && r);
	CU_ASSERT_EQUAL(f->pc, r->pc);
	CU_ASSERT(!strncmp(f->location, "unwind_prog+0x", 14));
	CU_ASSERT_PTR_NULL(f->function);
	char buf[256], want[64];
	snprintf(want, sizeof(want), "thread %d (main) in unwind_prog+0x", x.u->threads[mt].tid);
	CU_ASSERT(!strncmp(hc_unwind_describe(x.u, mt, P.held_slot, buf, sizeof(buf)), want, strlen(want)));
	close_unwound(&x);
	close_unwound(&ref);
}

/* A pointer held only in a typed local types its allocation, given the frames. */
static void test_locals_type_what_they_point_at(void)
{
	struct opened x;
	CU_ASSERT_FATAL(open_unwound(NULL, NULL, &x));
	struct hc_glibc_heap *h;
	struct hc_graph *g;
	struct hc_types *with, *without;
	struct hc_graph_options go = { 0 };
	CU_ASSERT_FATAL(hc_glibc_walk(x.t, x.s, NULL, &h) == NULL);
	CU_ASSERT_FATAL(hc_graph_build(x.t, x.s, h, &go, &g) == NULL);
	struct hc_types_options to = { .unwind = x.u };
	CU_ASSERT_FATAL(hc_types_infer_opts(g, x.s, &to, &with) == NULL);
	CU_ASSERT_FATAL(hc_types_infer(g, x.s, &without) == NULL);
	uint32_t n = hc_graph_node_at(g, P.held);
	CU_ASSERT_FATAL(n != UINT32_MAX);
	ASSERT_STR(with->types[with->node_type[n]].name, "struct node");
	CU_ASSERT_EQUAL(with->types[with->node_type[n]].source, HC_TYPE_SOURCE_DWARF);
	ASSERT_STR(hc_types_incoming_member(with, n), "held");
	CU_ASSERT_EQUAL(with->node_via[n], HC_TYPE_VIA_ROOT);
	CU_ASSERT_EQUAL(without->types[without->node_type[n]].source, HC_TYPE_SOURCE_SIGNATURE);
	hc_types_destroy(with);
	hc_types_destroy(without);
	hc_graph_destroy(g);
	hc_glibc_heap_destroy(h);
	close_unwound(&x);
}

static void test_stack_pointer_in_no_mapping_gives_the_pc_frame_only(void)
{
	static uint8_t data[4096];
	struct synth_segment seg = { 0x10000, sizeof(data), sizeof(data), 6, data };
	struct synth_core c;
	synth_core_build(&c, 77, 0x401000, 0xdead0000, 0, "nostack", &seg, 1);
	const char *path = hc_fixture_write_file("unwind_nostack.core", c.data, c.len);
	synth_core_free(&c);
	CU_ASSERT_FATAL(path != NULL);
	struct hc_target *t;
	struct hc_symbols *s;
	struct hc_unwind *u;
	CU_ASSERT_FATAL(hc_target_open_core(path, &t) == NULL);
	CU_ASSERT_FATAL(hc_symbols_open(t, NULL, &s) == NULL);
	CU_ASSERT_FATAL(hc_unwind_threads(t, s, &u) == NULL);
	CU_ASSERT_EQUAL_FATAL(u->nthreads, 1);
	CU_ASSERT_EQUAL(u->threads[0].tid, 77);
	CU_ASSERT_EQUAL(u->threads[0].count, 1);
	CU_ASSERT_EQUAL(u->frames[u->threads[0].first].pc, 0x401000);
	CU_ASSERT_EQUAL(u->threads[0].stack_end, 0);
	CU_ASSERT_PTR_NULL(hc_unwind_frame_at(u, 0, 0x10008));
	char buf[128];
	/* its pid is its tid: the main thread */
	ASSERT_STR(hc_unwind_describe(u, 0, 0x10008, buf, sizeof(buf)), "thread 77 (main) stack");
	hc_unwind_destroy(u);
	hc_symbols_destroy(s);
	hc_target_destroy(t);
}

/* An aarch64 core: the stack is the mapping sp is in, and with no module nothing is taken for a frame. */
static void test_aarch64_stack_without_modules_gives_the_pc_frame(void)
{
	static uint64_t stack[512];
	/* a plausible frame record chain, pointing nowhere executable */
	for (unsigned i = 0; i < 512; i += 2) {
		stack[i] = 0x7000000 + (i + 2) * 8;
		stack[i + 1] = 0x400000 + i;
	}
	struct synth_segment seg = { 0x7000000, sizeof(stack), sizeof(stack), 6, stack };
	struct synth_core c;
	synth_core_build_aarch64(&c, 91, 0x400100, 0x7000100, 0, &seg, 1);
	const char *path = hc_fixture_write_file("unwind_arm.core", c.data, c.len);
	synth_core_free(&c);
	CU_ASSERT_FATAL(path != NULL);
	struct hc_target *t;
	struct hc_symbols *s;
	struct hc_unwind *u;
	CU_ASSERT_FATAL(hc_target_open_core(path, &t) == NULL);
	CU_ASSERT_EQUAL(t->arch, HC_ARCH_AARCH64);
	CU_ASSERT_FATAL(hc_symbols_open(t, NULL, &s) == NULL);
	CU_ASSERT_FATAL(hc_unwind_threads(t, s, &u) == NULL);
	CU_ASSERT_EQUAL_FATAL(u->nthreads, 1);
	CU_ASSERT_EQUAL(u->threads[0].count, 1);
	CU_ASSERT_EQUAL(u->threads[0].stack_start, 0x7000000);
	CU_ASSERT_EQUAL(u->threads[0].stack_end, 0x7000000 + sizeof(stack));
	const struct hc_frame *f = hc_unwind_frame_at(u, 0, 0x7000200);
	CU_ASSERT(f && f->pc == 0x400100 && f->cfa == 0x7000000 + sizeof(stack));
	hc_unwind_destroy(u);
	hc_symbols_destroy(s);
	hc_target_destroy(t);
}

static void test_demangler_reads_names_and_rtti_types(void)
{
	char buf[128];
	CU_ASSERT(hc_demangle("_ZN3app6Widget2idEv", buf, sizeof(buf)));
	ASSERT_STR(buf, "app::Widget::id()");
	CU_ASSERT(!hc_demangle("main", buf, sizeof(buf)));
	ASSERT_STR(buf, "main");
	/* a C name that happens to be a type encoding stays a C name */
	CU_ASSERT(!hc_demangle("i", buf, sizeof(buf)));
	ASSERT_STR(buf, "i");
	CU_ASSERT(hc_demangle_type("N3app6WidgetE", buf, sizeof(buf)));
	ASSERT_STR(buf, "app::Widget");
	CU_ASSERT(hc_demangle_type("*N12_GLOBAL__N_15LocalE", buf, sizeof(buf)));
	ASSERT_STR(buf, "(anonymous namespace)::Local");
	CU_ASSERT(!hc_demangle_type("N3app", buf, sizeof(buf)));
	/* truncated, never overrun */
	char small[8];
	CU_ASSERT(hc_demangle("_ZN3app6Widget2idEv", small, sizeof(small)));
	ASSERT_STR(small, "app::Wi");
}

void hc_test_register_unwind(void)
{
	CU_pSuite s = CU_add_suite("unwind", NULL, NULL);
	if (!s)
		return;
	CU_add_test(s, "test_cfi_names_hold_on_stack_and_main_with_lines",
		    test_cfi_names_hold_on_stack_and_main_with_lines);
	CU_add_test(s, "test_frame_at_names_the_frame_holding_a_stack_word",
		    test_frame_at_names_the_frame_holding_a_stack_word);
	CU_add_test(s, "test_second_thread_is_in_worker_park", test_second_thread_is_in_worker_park);
	CU_add_test(s, "test_frame_pointer_walk_finds_the_frames_without_cfi",
		    test_frame_pointer_walk_finds_the_frames_without_cfi);
	CU_add_test(s, "test_stack_scan_finds_the_frames_without_cfi_or_frame_pointers",
		    test_stack_scan_finds_the_frames_without_cfi_or_frame_pointers);
	CU_add_test(s, "test_core_alone_still_gives_frames", test_core_alone_still_gives_frames);
	CU_add_test(s, "test_locals_type_what_they_point_at", test_locals_type_what_they_point_at);
	CU_add_test(s, "test_stack_pointer_in_no_mapping_gives_the_pc_frame_only",
		    test_stack_pointer_in_no_mapping_gives_the_pc_frame_only);
	CU_add_test(s, "test_aarch64_stack_without_modules_gives_the_pc_frame",
		    test_aarch64_stack_without_modules_gives_the_pc_frame);
	CU_add_test(s, "test_demangler_reads_names_and_rtti_types", test_demangler_reads_names_and_rtti_types);
}
