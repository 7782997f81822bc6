/*
 * The corruption suite: real scenario cores damaged the ways that happen
 * (cut short, a zeroed heap page, a flipped size field, free lists into
 * unmapped memory or round in a cycle, a tcache count that disagrees with
 * its list, an arena list that loops, a Python object whose type pointer is
 * garbage, a dict and a list whose size fields are huge), each analysed by
 * the CLI under a time limit. For every one: no crash and no hang, the damage
 * named where it was found, the output marked partial (exit code 5), and the
 * findings the damage did not touch still listed with their exact counts.
 */
#include <CUnit/CUnit.h>
#include <elf.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixtures.h"
#include "heapcore/glibc_heap.h"
#include "heapcore/symbols.h"
#include "heapcore/target.h"
#include "python_cores.h"
#include "suites.h"
#include "heapcore/report.h"

/* Long enough for an ASan build on a busy machine; a loop that never ends is killed. */
#define CLI_SECONDS 300

/*
 * Two leaks of distinct types, one per arena (2000 struct node in the main
 * arena, 1000 struct tnode in the thread's), then filler the damage lands
 * in, then chunks on every kind of free list: 7 in the 0x20 tcache bin, 3
 * on a fastbin behind a full tcache bin, 3 on a small bin. stdout is
 * unbuffered so that no allocation after the frees consolidates them.
 */
static const char corruption_program[] =
	"#include <libgen.h>\n#include <pthread.h>\n#include <stdio.h>\n#include <stdlib.h>\n#include <unistd.h>\n"
	"struct node { struct node *next; char pad[120]; };\n"
	"struct tnode { struct tnode *next; char pad[200]; };\n"
	"void *g_filler[600];\n"
	"struct node *g_kept; struct tnode *g_thread_kept;\n"
	"volatile int g_ready;\n"
	"static void out(const char *k, void *p) { printf(\"%s %p 1\\n\", k, p); }\n"
	"__attribute__((noinline)) static struct node *list(int n) {\n"
	"  struct node *h = 0;\n"
	"  for (int i = 0; i < n; i++) { struct node *x = calloc(1, sizeof(*x)); x->next = h; h = x; }\n"
	"  return h;\n"
	"}\n"
	"__attribute__((noinline)) static struct tnode *tlist(int n) {\n"
	"  struct tnode *h = 0;\n"
	"  for (int i = 0; i < n; i++) { struct tnode *x = calloc(1, sizeof(*x)); x->next = h; h = x; }\n"
	"  return h;\n"
	"}\n"
	/* the dead frames' stale pointers to a leak, wiped: else a stack read conservatively may anchor it */
	"__attribute__((noinline)) static void scrub(void) { volatile char b[8192]; for (int i = 0; i < 8192; i++) b[i] = 0; }\n"
	"__attribute__((noinline)) static void leak_main(void) { out(\"leak\", list(2000)); }\n"
	"__attribute__((noinline)) static void leak_thread(void) { out(\"thread_leak\", tlist(1000)); }\n"
	"static void *thread_main(void *a) {\n"
	"  leak_thread(); scrub(); g_thread_kept = tlist(20); out(\"thread_kept\", g_thread_kept); g_ready = 1;\n"
	"  for (;;) pause();\n"
	"}\n"
	/* in its own directory, where the kernel writes its core */
	"int main(int argc, char **argv) {\n"
	"  setvbuf(stdout, NULL, _IONBF, 0); if (chdir(dirname(argv[0]))) return 1;\n"
	"  leak_main(); scrub();\n"
	"  g_kept = list(50); out(\"kept\", g_kept);\n"
	"  for (int i = 0; i < 600; i++) g_filler[i] = malloc(100 + (i % 5) * 16);\n"
	"  out(\"filler_first\", g_filler[0]); out(\"filler_last\", g_filler[599]);\n"
	"  pthread_t t; pthread_create(&t, NULL, thread_main, NULL);\n"
	"  while (!g_ready) usleep(1000);\n"
	"  void *tc[7], *fb[10], *mid[10], *guard[10];\n"
	"  for (int i = 0; i < 7; i++) tc[i] = malloc(24);\n"
	"  for (int i = 0; i < 10; i++) fb[i] = malloc(40);\n"
	"  for (int i = 0; i < 10; i++) { mid[i] = malloc(400); guard[i] = malloc(16); }\n"
	"  for (int i = 0; i < 7; i++) free(tc[i]);\n"
	"  for (int i = 0; i < 10; i++) free(mid[i]);\n"
	"  void *big = malloc(5000);\n"
	"  for (int i = 0; i < 10; i++) free(fb[i]);\n"
	"  out(\"tcache_head\", tc[6]); out(\"fastbin_head\", fb[9]); out(\"small_chunk\", mid[9]);\n"
	"  printf(\"READY\\n\");\n"
	"  for (;;) pause();\n"
	"  return big != guard[0];\n"
	"}\n";

/* The intact core, opened and walked, with what the program printed. */
struct scenario {
	const char *core;
	char *out;
	struct hc_target *t;
	struct hc_symbols *s;
	struct hc_glibc_heap *h;
};

static uint64_t printed(const struct scenario *sc, const char *key)
{
	size_t kl = strlen(key);
	for (const char *p = sc->out; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
		if (!strncmp(p, key, kl) && p[kl] == ' ')
			return strtoull(p + kl + 1, NULL, 16);
	return 0;
}

/* With kernel, the kernel writes the core (its notes first, as a size-limited core keeps them), else gcore. */
static bool scenario_open_by(struct scenario *sc, bool kernel)
{
	memset(sc, 0, sizeof(*sc));
	const char *name = kernel ? "corruption_kernel" : "corruption";
	sc->core = hc_fixture_make_core_by(name, corruption_program, "gcc -g -O0 -pthread", "c",
					   kernel ? hc_fixture_tmpdir() : NULL);
	if (!sc->core)
		return false;
	char path[400];
	snprintf(path, sizeof(path), "%s/%s.out", hc_fixture_tmpdir(), name);
	sc->out = hc_fixture_read_file(path, NULL);
	struct hc_symbol_options so = { 0 };
	struct hc_error *err = hc_target_open_core(sc->core, &sc->t);
	if (!err)
		err = hc_symbols_open(sc->t, &so, &sc->s);
	if (!err)
		err = hc_glibc_walk(sc->t, sc->s, NULL, &sc->h);
	if (err) {
		fprintf(stderr, "\n  %s: %s\n", sc->core, err->message);
		hc_error_destroy(err);
		return false;
	}
	if (!sc->out || sc->h->narenas != 2 || sc->h->ncorruptions)
		fprintf(stderr, "\n  %s: %s, %u arenas, %u corruptions (%s)\n", sc->core, sc->out ? "output" : "no output",
			sc->h->narenas, sc->h->ncorruptions, sc->h->ncorruptions ? sc->h->corruptions[0].message : "");
	return sc->out && sc->h->narenas == 2 && sc->h->ncorruptions == 0;
}

static bool scenario_open(struct scenario *sc)
{
	return scenario_open_by(sc, false);
}

static void scenario_close(struct scenario *sc)
{
	hc_glibc_heap_destroy(sc->h);
	hc_symbols_destroy(sc->s);
	hc_target_destroy(sc->t);
	free(sc->out);
}

/* The index of the chunk at user address p, or -1. */
static int64_t chunk_of(const struct hc_glibc_heap *h, uint64_t p)
{
	for (uint32_t i = 0; i < h->nchunks; i++)
		if (h->chunk_addr[i] + 16 == p)
			return i;
	return -1;
}

static const struct hc_glibc_arena *thread_arena(const struct scenario *sc)
{
	for (uint32_t i = 0; i < sc->h->narenas; i++)
		if (!sc->h->arenas[i].is_main)
			return &sc->h->arenas[i];
	return NULL;
}

/* What heapcore analyze --format json made of core: its exit code, the report, stderr. */
struct analysed {
	int rc;
	json_t *r;
	char *err;
	char *damage;                /* what the report says is wrong: its warnings, the heap's corruptions, stderr */
};

static void analyse(const char *core, struct analysed *a)
{
	char args[600], *out = NULL;
	snprintf(args, sizeof(args), "analyze --format json '%s'", core);
	a->rc = hc_fixture_run_cli_bounded(CLI_SECONDS, args, &out, &a->err);
	a->r = out ? json_loads(out, 0, NULL) : NULL;
	free(out);
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	if (!f)
		return;
	const json_t *w = json_object_get(a->r, "warnings");
	for (size_t i = 0; i < json_array_size(w); i++)
		fprintf(f, "%s\n", hc_json_str(json_array_get(w, i), "message"));
	const json_t *c = json_object_get(json_object_get(a->r, "heap"), "corruptions");
	for (size_t i = 0; i < json_array_size(c); i++)
		fprintf(f, "%s: %s\n", hc_json_str(json_array_get(c, i), "address"),
			hc_json_str(json_array_get(c, i), "message"));
	fprintf(f, "%s", a->err ? a->err : "");
	fclose(f);
	a->damage = buf;
}

static void analysed_free(struct analysed *a)
{
	json_decref(a->r);
	free(a->err);
	free(a->damage);
}

/* The leaked-cluster finding whose type name starts with type, or NULL. */
static const json_t *leak_finding(const json_t *r, const char *type)
{
	const json_t *f = json_object_get(r, "findings");
	for (size_t i = 0; i < json_array_size(f); i++) {
		const json_t *x = json_array_get(f, i);
		const char *name = hc_json_str(json_object_get(x, "location"), "name");
		if (!strcmp(hc_json_str(x, "kind"), "leaked-cluster") && name && !strncmp(name, type, strlen(type)))
			return x;
	}
	return NULL;
}

/* Whether the report's warnings, the heap's corruptions or stderr mention phrase. */
static bool damage_says(const struct analysed *a, const char *phrase)
{
	bool said = a->damage && strstr(a->damage, phrase);
	if (!said)
		fprintf(stderr, "\n  \"%s\" is not said of the damage:\n%.1500s", phrase, a->damage ? a->damage : "");
	return said;
}

/*
 * What every damaged core must give: exit code 5 with a JSON report marked
 * partial (no crash: that would be 128 and more, or no JSON), and the leaks
 * the damage did not touch, with their exact counts (0: not required).
 */
static void expect_partial_with_leaks(const char *what, const struct analysed *a, int main_leak, int thread_leak)
{
	if (a->rc != 5 || !a->r)
		fprintf(stderr, "\n  %s: exit %d%s\n  %.600s", what, a->rc, a->r ? "" : ", no JSON", a->err ? a->err : "");
	CU_ASSERT_EQUAL(a->rc, 5);
	CU_ASSERT_PTR_NOT_NULL_FATAL(a->r);
	CU_ASSERT_TRUE(json_is_true(json_object_get(a->r, "partial")));
	CU_ASSERT_PTR_NOT_NULL(a->err && strstr(a->err, "results are partial"));
	const json_t *m = leak_finding(a->r, "struct node"), *t = leak_finding(a->r, "struct tnode");
	if ((main_leak && !m) || (thread_leak && !t)) {
		const json_t *f = json_object_get(a->r, "findings");
		fprintf(stderr, "\n  %s: a leak is missing; the findings are:", what);
		for (size_t i = 0; i < json_array_size(f); i++)
			fprintf(stderr, "\n    %s", hc_json_str(json_array_get(f, i), "title"));
		fprintf(stderr, "\n  %.400s\n", a->err ? a->err : "");
	}
	if (main_leak) {
		CU_ASSERT_PTR_NOT_NULL(m);
		CU_ASSERT_EQUAL(hc_json_int(m, "count"), main_leak);
	}
	if (thread_leak) {
		CU_ASSERT_PTR_NOT_NULL(t);
		CU_ASSERT_EQUAL(hc_json_int(t, "count"), thread_leak);
	}
}

static void test_intact_core_lists_both_leaks_and_is_not_partial(void)
{
	struct scenario sc;
	CU_ASSERT_FATAL(scenario_open(&sc));
	struct analysed a;
	analyse(sc.core, &a);
	CU_ASSERT_EQUAL(a.rc, 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(a.r);
	CU_ASSERT_FALSE(json_is_true(json_object_get(a.r, "partial")));
	CU_ASSERT_EQUAL(hc_json_int(leak_finding(a.r, "struct node"), "count"), 2000);
	CU_ASSERT_EQUAL(hc_json_int(leak_finding(a.r, "struct tnode"), "count"), 1000);
	analysed_free(&a);
	scenario_close(&sc);
}

/* The leaked-cluster finding of exactly count allocations, whatever its type is called, or NULL. */
static const json_t *leak_of_count(const json_t *r, json_int_t count)
{
	const json_t *f = json_object_get(r, "findings");
	for (size_t i = 0; i < json_array_size(f); i++)
		if (!strcmp(hc_json_str(json_array_get(f, i), "kind"), "leaked-cluster") &&
		    hc_json_int(json_array_get(f, i), "count") == count)
			return json_array_get(f, i);
	return NULL;
}

/*
 * A core cut short (RLIMIT_CORE, a full disk) loses its highest addresses
 * first: libc's data with main_arena, the thread stacks. Cut in the main
 * heap, right after it, after the thread's heap and in the last segment,
 * heapcore walks what is left (the main heap from its chunks alone when
 * main_arena is gone), says the core is truncated and keeps the leaks whose
 * bytes are still in the file. The kernel writes its notes first, so those
 * survive the cut, and with them the types; gdb writes them last, so a cut
 * gcore has neither threads nor modules, and its leak is told by its count.
 */
static void test_truncated_core_keeps_the_leaks_still_in_the_file(void)
{
	bool kernel = hc_fixture_kernel_writes_cores();
	struct scenario sc;
	CU_ASSERT_FATAL(scenario_open_by(&sc, kernel));
	const struct hc_segment *heap = hc_target_segment(sc.t, printed(&sc, "leak"));
	const struct hc_segment *theap = hc_target_segment(sc.t, printed(&sc, "thread_leak"));
	CU_ASSERT_FATAL(heap && theap && heap->core_offset < theap->core_offset);
	size_t len;
	char *data = hc_fixture_read_file(sc.core, &len);
	CU_ASSERT_FATAL(data != NULL);
	size_t end = hc_fixture_core_data_end(sc.core);
	uint64_t heap_end = heap->core_offset + heap->dumped, theap_end = theap->core_offset + theap->dumped;
	struct {
		size_t at;
		bool main_leak, thread_leak;
	} cuts[] = {
		/* the leaked list fills the heap's first 288 KB: half the heap holds only part of it */
		{ heap->core_offset + heap->dumped / 2, false, false },
		{ heap_end, true, false },
		{ theap_end, true, true },
		{ end - 4096, true, true },
	};
	for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
		const char *p = hc_fixture_write_file("cut_corruption.core", data, cuts[i].at);
		struct analysed a;
		analyse(p, &a);
		char what[80];
		snprintf(what, sizeof(what), "%s cut at %zu of %zu", kernel ? "kernel core" : "gcore", cuts[i].at, len);
		expect_partial_with_leaks(what, &a, 0, 0);
		CU_ASSERT_TRUE(damage_says(&a, "truncated"));
		if (cuts[i].main_leak && kernel)
			CU_ASSERT_EQUAL(hc_json_int(leak_finding(a.r, "struct node"), "count"), 2000);
		if (cuts[i].main_leak && !leak_of_count(a.r, 2000))
			fprintf(stderr, "\n  %s: no leak of 2000", what);
		CU_ASSERT_TRUE(!cuts[i].main_leak || leak_of_count(a.r, 2000));
		if (cuts[i].thread_leak && kernel) {
			CU_ASSERT_EQUAL(hc_json_int(leak_finding(a.r, "struct tnode"), "count"), 1000);
			if (!leak_finding(a.r, "struct tnode"))
				expect_partial_with_leaks(what, &a, 0, 1000);
		}
		analysed_free(&a);
	}
	free(data);
	scenario_close(&sc);
}

/* A page of the filler, all zeros: the chunks on it are lost, the walk picks up after it. */
static void test_zeroed_heap_page_loses_that_page_only(void)
{
	struct scenario sc;
	CU_ASSERT_FATAL(scenario_open(&sc));
	uint64_t first = printed(&sc, "filler_first"), last = printed(&sc, "filler_last");
	uint64_t page = ((first + last) / 2) & ~0xfffull;
	CU_ASSERT_FATAL(first && last && page > first && page + 4096 < last);
	static const uint8_t zeros[4096];
	const char *bad = hc_fixture_patch_core_bytes(sc.core, sc.t, page, zeros, sizeof(zeros), "zero_page.core");
	CU_ASSERT_FATAL(bad != NULL);
	struct analysed a;
	analyse(bad, &a);
	expect_partial_with_leaks("zeroed page", &a, 2000, 1000);
	/* the damage is named at the first chunk the page took: the one it starts in or the next */
	char where[32];
	snprintf(where, sizeof(where), "0x%llx", (unsigned long long)(page >> 12));
	CU_ASSERT_TRUE(damage_says(&a, where));
	/* the rest of the main heap is still walked: most of the filler is still in use */
	const json_t *arena = json_array_get(json_object_get(json_object_get(a.r, "heap"), "arenas"), 0);
	CU_ASSERT_TRUE(hc_json_int(json_object_get(arena, "used"), "count") > (json_int_t)sc.h->arenas[0].tally[HC_CHUNK_USED].count - 100);
	CU_ASSERT_TRUE(hc_json_int(arena, "unwalked_bytes") >= 4096 - 256);
	analysed_free(&a);
	scenario_close(&sc);
}

static void test_flipped_size_field_is_named_and_the_leaks_stay(void)
{
	struct scenario sc;
	CU_ASSERT_FATAL(scenario_open(&sc));
	int64_t victim = chunk_of(sc.h, printed(&sc, "filler_first"));
	CU_ASSERT_FATAL(victim >= 0);
	victim += 300;
	uint64_t addr = sc.h->chunk_addr[victim];
	uint64_t size;
	CU_ASSERT_FATAL(hc_target_read_u64(sc.t, addr + 8, &size));
	/* one bit flipped high in the size: the chunk claims to run far past the heap */
	const char *bad = hc_fixture_patch_core(sc.core, sc.t, addr + 8, size ^ (1ull << 36), "flipped.core");
	CU_ASSERT_FATAL(bad != NULL);
	struct analysed a;
	analyse(bad, &a);
	expect_partial_with_leaks("flipped size", &a, 2000, 1000);
	char where[32];
	snprintf(where, sizeof(where), "0x%llx", (unsigned long long)addr);
	CU_ASSERT_TRUE(damage_says(&a, where));
	analysed_free(&a);
	scenario_close(&sc);
}

/* A small-bin chunk's fd and the tcache head's next both point into unmapped memory. */
static void test_free_list_pointers_into_unmapped_memory_end_those_lists(void)
{
	struct scenario sc;
	CU_ASSERT_FATAL(scenario_open(&sc));
	uint64_t small = printed(&sc, "small_chunk"), tc = printed(&sc, "tcache_head");
	CU_ASSERT_FATAL(small && tc);
	CU_ASSERT_EQUAL_FATAL(sc.h->chunk_state[chunk_of(sc.h, small)], HC_CHUNK_FREE);
	CU_ASSERT_EQUAL_FATAL(sc.h->chunk_state[chunk_of(sc.h, tc)], HC_CHUNK_TCACHE);
	const char *bad1 = hc_fixture_patch_core(sc.core, sc.t, small, 0xdead0000ull, "unmapped1.core");
	/* safe-linking (2.32+) stores next as (&next >> 12) ^ next: this one decodes to 0xdead0010 */
	uint64_t next = sc.h->location.layout->safe_linking ? (tc >> 12) ^ 0xdead0010ull : 0xdead0010ull;
	const char *bad = bad1 ? hc_fixture_patch_core(bad1, sc.t, tc, next, "unmapped2.core") : NULL;
	CU_ASSERT_FATAL(bad != NULL);
	struct analysed a;
	analyse(bad, &a);
	expect_partial_with_leaks("free lists into unmapped memory", &a, 2000, 1000);
	CU_ASSERT_TRUE(damage_says(&a, "0xdead0000"));
	CU_ASSERT_TRUE(damage_says(&a, "0xdead0010"));
	analysed_free(&a);
	scenario_close(&sc);
}

/* The fastbin's head points back at itself, and the tcache head's next at the head: both lists loop. */
static void test_free_lists_that_loop_are_cut_and_reported(void)
{
	struct scenario sc;
	CU_ASSERT_FATAL(scenario_open(&sc));
	uint64_t fb = printed(&sc, "fastbin_head"), tc = printed(&sc, "tcache_head");
	CU_ASSERT_FATAL(fb && tc);
	CU_ASSERT_EQUAL_FATAL(sc.h->chunk_state[chunk_of(sc.h, fb)], HC_CHUNK_FASTBIN);
	bool sl = sc.h->location.layout->safe_linking;
	/* a fastbin's fd links chunk headers, a tcache's next user addresses */
	uint64_t fb_chunk = fb - 16, fb_fd = sl ? (fb >> 12) ^ fb_chunk : fb_chunk;
	uint64_t tc_next = sl ? (tc >> 12) ^ tc : tc;
	const char *bad1 = hc_fixture_patch_core(sc.core, sc.t, fb, fb_fd, "loop1.core");
	const char *bad = bad1 ? hc_fixture_patch_core(bad1, sc.t, tc, tc_next, "loop2.core") : NULL;
	CU_ASSERT_FATAL(bad != NULL);
	struct analysed a;
	analyse(bad, &a);
	expect_partial_with_leaks("free lists that loop", &a, 2000, 1000);
	CU_ASSERT_TRUE(damage_says(&a, "fastbin 1 list loops"));
	char where[64];
	snprintf(where, sizeof(where), "tcache bin 0: its list loops at 0x%llx", (unsigned long long)tc);
	CU_ASSERT_TRUE(damage_says(&a, where));
	analysed_free(&a);
	scenario_close(&sc);
}

/* The main thread's tcache says its 0x20 bin holds 5 chunks; the list has 7. */
static void test_tcache_count_that_disagrees_with_its_list_is_reported(void)
{
	struct scenario sc;
	CU_ASSERT_FATAL(scenario_open(&sc));
	uint64_t tcache = 0;
	for (uint32_t i = 0; i < sc.h->ntcaches; i++)
		if (sc.h->tcaches[i].count >= 7 && hc_target_segment(sc.t, sc.h->tcaches[i].address) ==
							    hc_target_segment(sc.t, printed(&sc, "tcache_head")))
			tcache = sc.h->tcaches[i].address;
	CU_ASSERT_FATAL(tcache != 0);
	uint64_t counts;
	CU_ASSERT_FATAL(hc_target_read_u64(sc.t, tcache, &counts));
	uint32_t w = sc.h->location.layout->tcache_counts_width;
	uint64_t mask = w == 2 ? 0xffff : 0xff;
	CU_ASSERT_EQUAL_FATAL(counts & mask, 7);
	const char *bad = hc_fixture_patch_core(sc.core, sc.t, tcache, (counts & ~mask) | 5, "tcache_count.core");
	CU_ASSERT_FATAL(bad != NULL);
	struct analysed a;
	analyse(bad, &a);
	expect_partial_with_leaks("tcache count", &a, 2000, 1000);
	CU_ASSERT_TRUE(damage_says(&a, "tcache bin 0: its count says 5 chunks, its list holds 7"));
	/* the 7 chunks on the list are still free, whatever the count says */
	const json_t *tcs = json_object_get(json_object_get(a.r, "heap"), "totals");
	CU_ASSERT_EQUAL(hc_json_int(json_object_get(tcs, "tcache"), "count"), (json_int_t)sc.h->totals[HC_CHUNK_TCACHE].count);
	analysed_free(&a);
	scenario_close(&sc);
}

/* The thread arena's next points at itself, not back at main_arena: the arena list never closes. */
static void test_arena_list_that_loops_is_walked_once(void)
{
	struct scenario sc;
	CU_ASSERT_FATAL(scenario_open(&sc));
	const struct hc_glibc_arena *ta = thread_arena(&sc);
	CU_ASSERT_FATAL(ta != NULL);
	const char *bad = hc_fixture_patch_core(sc.core, sc.t, ta->address + (uint64_t)sc.h->location.layout->ms_next,
						ta->address, "arena_loop.core");
	CU_ASSERT_FATAL(bad != NULL);
	struct analysed a;
	analyse(bad, &a);
	expect_partial_with_leaks("arena list loop", &a, 2000, 1000);
	char where[80];
	snprintf(where, sizeof(where), "arena list loops back to 0x%llx, not main_arena", (unsigned long long)ta->address);
	CU_ASSERT_TRUE(damage_says(&a, where));
	CU_ASSERT_EQUAL(json_array_size(json_object_get(json_object_get(a.r, "heap"), "arenas")), 2);
	analysed_free(&a);
	scenario_close(&sc);
}

/* main_arena's next points into unmapped memory: the thread's arena is found by its heap all the same. */
static void test_arena_list_into_unmapped_memory_keeps_the_main_arena(void)
{
	struct scenario sc;
	CU_ASSERT_FATAL(scenario_open(&sc));
	const char *bad = hc_fixture_patch_core(sc.core, sc.t,
						sc.h->location.main_arena + (uint64_t)sc.h->location.layout->ms_next,
						0xdead0000ull, "arena_unmapped.core");
	CU_ASSERT_FATAL(bad != NULL);
	struct analysed a;
	analyse(bad, &a);
	expect_partial_with_leaks("arena list into unmapped memory", &a, 2000, 1000);
	CU_ASSERT_TRUE(damage_says(&a, "0xdead0000: arena is not in the core; the arena list ends here"));
	CU_ASSERT_TRUE(damage_says(&a, "is off the broken arena list; found by its heap"));
	analysed_free(&a);
	scenario_close(&sc);
}

/* The highest peak_memory any phase of the report gives, bytes. */
static json_int_t peak_memory(const json_t *r)
{
	json_int_t most = 0;
	const char *k;
	const json_t *v;
	json_object_foreach((json_t *)json_object_get(r, "peak_memory"), k, v)
		if (json_integer_value(v) > most)
			most = json_integer_value(v);
	return most;
}

/* The file offset of the program header of the last writable PT_LOAD, and of PT_NOTE's. */
static void program_headers(const char *data, size_t *load, size_t *note)
{
	const Elf64_Ehdr *eh = (const Elf64_Ehdr *)data;
	*load = *note = 0;
	for (unsigned i = 0; i < eh->e_phnum; i++) {
		size_t at = eh->e_phoff + (size_t)i * sizeof(Elf64_Phdr);
		const Elf64_Phdr *ph = (const Elf64_Phdr *)(data + at);
		if (ph->p_type == PT_LOAD && (ph->p_flags & PF_W) && ph->p_filesz)
			*load = at;
		if (ph->p_type == PT_NOTE)
			*note = at;
	}
}

/*
 * What a core claims costs nothing it does not hold: a segment that says it
 * spans 8 PiB (of which the file holds a few pages) and notes that say they
 * run for a terabyte are read as far as the file goes, in the time and the
 * memory an intact core takes, and the leaks are still found.
 */
static void test_claims_past_the_file_cost_no_time_or_memory(void)
{
	struct scenario sc;
	CU_ASSERT_FATAL(scenario_open(&sc));
	size_t len, load, note;
	char *data = hc_fixture_read_file(sc.core, &len);
	CU_ASSERT_FATAL(data != NULL);
	program_headers(data, &load, &note);
	CU_ASSERT_FATAL(load && note);
	Elf64_Phdr *ph = (Elf64_Phdr *)(data + load);
	ph->p_memsz = 1ull << 53;
	ph = (Elf64_Phdr *)(data + note);
	ph->p_filesz = 1ull << 40;
	const char *bad = hc_fixture_write_file("claims.core", data, len);
	free(data);
	struct analysed a;
	analyse(bad, &a);
	expect_partial_with_leaks("claims past the file", &a, 2000, 1000);
	CU_ASSERT_TRUE(damage_says(&a, "truncated"));
	json_int_t peak = peak_memory(a.r);
	if (peak >= (256 << 20))
		fprintf(stderr, "\n  claims past the file: peak memory %lld bytes\n", (long long)peak);
	CU_ASSERT_TRUE(peak < (256 << 20));
	analysed_free(&a);
	scenario_close(&sc);
}

/* --max-memory caps heapcore's own allocations: under it the analysis ends with exit code 6, saying why. */
static void test_max_memory_caps_the_analysis(void)
{
	struct scenario sc;
	CU_ASSERT_FATAL(scenario_open(&sc));
	char args[600], *out = NULL, *err = NULL;
	snprintf(args, sizeof(args), "analyze --max-memory 1M '%s'", sc.core);
	int rc = hc_fixture_run_cli_bounded(CLI_SECONDS, args, &out, &err);
	if (err && strstr(err, "not enforced")) {
		/* an AddressSanitizer build: its shadow memory leaves no data limit to set */
		free(out);
		free(err);
		scenario_close(&sc);
		return;
	}
	CU_ASSERT_EQUAL(rc, 6);
	CU_ASSERT_PTR_NOT_NULL(err && strstr(err, "over the --max-memory cap of 1 MiB"));
	free(out);
	free(err);
	snprintf(args, sizeof(args), "analyze --max-memory 1G --format json '%s'", sc.core);
	CU_ASSERT_EQUAL(hc_fixture_run_cli_bounded(CLI_SECONDS, args, &out, &err), 0);
	json_t *r = out ? json_loads(out, 0, NULL) : NULL;
	CU_ASSERT_EQUAL(hc_json_int(leak_finding(r, "struct node"), "count"), 2000);
	json_decref(r);
	free(out);
	free(err);
	scenario_close(&sc);
}

/*
 * Python: an unbounded cache, a listener list, and the damage in objects
 * of their own: a Payload in the cache whose type pointer is garbage, a
 * dict whose used count and a list whose size are huge.
 */
static const char python_damage[] =
	HC_PY_CACHE_AND_BUS
	"app.settings = {'opt-%d' % i: i for i in range(50)}\n"
	"app.history = ['h-%d' % i for i in range(50)]\n"
	"print(json.dumps({'victim': id(app._cache['request-7']), 'settings': id(app.settings),\n"
	"                  'history': id(app.history)}))\n"
	"print('READY'); sys.stdout.flush()\n"
	"time.sleep(1000)\n";

static const json_t *finding_of_kind(const json_t *r, const char *kind)
{
	const json_t *f = json_object_get(r, "findings");
	for (size_t i = 0; i < json_array_size(f); i++)
		if (!strcmp(hc_json_str(json_array_get(f, i), "kind"), kind))
			return json_array_get(f, i);
	return NULL;
}

static void expect_python_findings(const char *what, const struct analysed *a)
{
	if (a->rc != 5 || !a->r)
		fprintf(stderr, "\n  %s: exit %d%s\n  %.600s", what, a->rc, a->r ? "" : ", no JSON", a->err ? a->err : "");
	CU_ASSERT_EQUAL(a->rc, 5);
	CU_ASSERT_PTR_NOT_NULL_FATAL(a->r);
	CU_ASSERT_TRUE(json_is_true(json_object_get(a->r, "partial")));
	const json_t *c = finding_of_kind(a->r, "unbounded-container"), *l = finding_of_kind(a->r, "listener-leak");
	CU_ASSERT_PTR_NOT_NULL(c);
	CU_ASSERT_STRING_EQUAL(hc_json_str(c, "path"), "sys.modules['app'].__dict__['_cache']");
	CU_ASSERT_EQUAL(hc_json_int(c, "count"), 20000);
	CU_ASSERT_PTR_NOT_NULL(l);
	CU_ASSERT_EQUAL(hc_json_int(l, "count"), 1500);
}

static const char *python_core(json_t **truth, struct hc_target **t)
{
	const char *core = hc_test_python_core("py_damage", python_damage, "/usr/bin/python3.11", NULL, false, truth);
	if (!core)
		return NULL;
	struct hc_error *err = hc_target_open_core(core, t);
	if (err) {
		hc_error_destroy(err);
		return NULL;
	}
	return core;
}

static void test_python_object_with_garbage_type_pointer_is_named(void)
{
	json_t *truth = NULL;
	struct hc_target *t = NULL;
	const char *core = python_core(&truth, &t);
	CU_ASSERT_PTR_NOT_NULL_FATAL(core);
	struct analysed a;
	analyse(core, &a);
	CU_ASSERT_EQUAL(a.rc, 0);
	CU_ASSERT_FALSE(json_is_true(json_object_get(a.r, "partial")));
	analysed_free(&a);
	uint64_t victim = (uint64_t)json_integer_value(json_object_get(truth, "victim"));
	/* ob_type is the object's second word in every version */
	const char *bad = hc_fixture_patch_core(core, t, victim + 8, 0x4141414141414140ull, "py_bad_type.core");
	CU_ASSERT_FATAL(bad != NULL);
	analyse(bad, &a);
	expect_python_findings("garbage type pointer", &a);
	char where[160];
	snprintf(where, sizeof(where), "object 0x%llx on a gc list has ob_type 0x4141414141414140, which is no type",
		 (unsigned long long)victim);
	CU_ASSERT_TRUE(damage_says(&a, where));
	analysed_free(&a);
	hc_target_destroy(t);
	json_decref(truth);
}

static void test_python_dict_and_list_with_huge_sizes_are_bounded(void)
{
	json_t *truth = NULL;
	struct hc_target *t = NULL;
	const char *core = python_core(&truth, &t);
	CU_ASSERT_PTR_NOT_NULL_FATAL(core);
	uint64_t settings = (uint64_t)json_integer_value(json_object_get(truth, "settings"));
	uint64_t history = (uint64_t)json_integer_value(json_object_get(truth, "history"));
	/* 3.11: PyDictObject.ma_used and PyListObject's ob_size are the third word; dk_nentries is keys + 24 */
	uint64_t keys = 0;
	CU_ASSERT_FATAL(hc_target_read_u64(t, settings + 32, &keys));
	const char *bad1 = hc_fixture_patch_core(core, t, settings + 16, 1ull << 60, "py_huge1.core");
	const char *bad2 = bad1 ? hc_fixture_patch_core(bad1, t, keys + 24, 1ull << 59, "py_huge2.core") : NULL;
	const char *bad = bad2 ? hc_fixture_patch_core(bad2, t, history + 16, 1ull << 61, "py_huge3.core") : NULL;
	CU_ASSERT_FATAL(bad != NULL);
	struct analysed a;
	analyse(bad, &a);
	expect_python_findings("huge sizes", &a);
	char where[160];
	snprintf(where, sizeof(where), "object 0x%llx is damaged: dict keys 0x%llx: dk_nentries 576460752303423488 exceeds",
		 (unsigned long long)settings, (unsigned long long)keys);
	CU_ASSERT_TRUE(damage_says(&a, where));
	snprintf(where, sizeof(where), "object 0x%llx is damaged: list ob_size 2305843009213693952 exceeds",
		 (unsigned long long)history);
	CU_ASSERT_TRUE(damage_says(&a, where));
	analysed_free(&a);
	hc_target_destroy(t);
	json_decref(truth);
}

void hc_test_register_corruption(void)
{
	CU_pSuite s = CU_add_suite("corruption", NULL, NULL);
	CU_add_test(s, "the intact core lists both leaks and is not partial", test_intact_core_lists_both_leaks_and_is_not_partial);
	CU_add_test(s, "a truncated core keeps the leaks still in the file", test_truncated_core_keeps_the_leaks_still_in_the_file);
	CU_add_test(s, "a zeroed heap page loses that page only", test_zeroed_heap_page_loses_that_page_only);
	CU_add_test(s, "a flipped size field is named and the leaks stay", test_flipped_size_field_is_named_and_the_leaks_stay);
	CU_add_test(s, "free-list pointers into unmapped memory end those lists", test_free_list_pointers_into_unmapped_memory_end_those_lists);
	CU_add_test(s, "free lists that loop are cut and reported", test_free_lists_that_loop_are_cut_and_reported);
	CU_add_test(s, "a tcache count that disagrees with its list is reported", test_tcache_count_that_disagrees_with_its_list_is_reported);
	CU_add_test(s, "an arena list that loops is walked once", test_arena_list_that_loops_is_walked_once);
	CU_add_test(s, "an arena list into unmapped memory keeps the main arena", test_arena_list_into_unmapped_memory_keeps_the_main_arena);
	CU_add_test(s, "claims past the file cost no time or memory", test_claims_past_the_file_cost_no_time_or_memory);
	CU_add_test(s, "--max-memory caps the analysis", test_max_memory_caps_the_analysis);
	CU_add_test(s, "a Python object with a garbage type pointer is named", test_python_object_with_garbage_type_pointer_is_named);
	CU_add_test(s, "a Python dict and list with huge sizes are bounded", test_python_dict_and_list_with_huge_sizes_are_bounded);
}
