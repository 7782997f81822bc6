/*
 * The chunk walk on damaged heaps: a bad header is reported where it is, the
 * walk resumes at the next chunk it can trust, and the rest is still counted.
 */
#include <CUnit/CUnit.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixtures.h"
#include "heap_program.h"
#include "heapcore/glibc_heap.h"
#include "heapcore/symbols.h"
#include "heapcore/target.h"
#include "suites.h"

struct walked {
	struct hc_target *t;
	struct hc_symbols *s;
	struct hc_glibc_heap *h;
};

static bool walk_core(const char *path, struct walked *w)
{
	memset(w, 0, sizeof(*w));
	struct hc_error *err = hc_target_open_core(path, &w->t);
	struct hc_symbol_options so = { 0 };
	if (!err)
		err = hc_symbols_open(w->t, &so, &w->s);
	if (!err)
		err = hc_glibc_walk(w->t, w->s, NULL, &w->h);
	if (err) {
		fprintf(stderr, "\n  %s: %s\n", path, err->message);
		hc_error_destroy(err);
		return false;
	}
	return true;
}

static void walked_free(struct walked *w)
{
	hc_glibc_heap_destroy(w->h);
	hc_symbols_destroy(w->s);
	hc_target_destroy(w->t);
}

/* The index of a used chunk about halfway through the main heap. */
static int64_t middle_used_chunk(const struct hc_glibc_heap *h)
{
	uint32_t used = 0, target = 0;
	for (uint32_t i = 0; i < h->nchunks; i++)
		used += h->chunk_state[i] == HC_CHUNK_USED && hc_glibc_chunk_arena(h, i) == 0;
	for (uint32_t i = 0; i < h->nchunks; i++)
		if (h->chunk_state[i] == HC_CHUNK_USED && hc_glibc_chunk_arena(h, i) == 0 && ++target == used / 2)
			return i;
	return -1;
}

static void test_flipped_size_field_is_reported_and_the_walk_goes_on(void)
{
	const char *core = hc_fixture_make_core("cli_heap", hc_heap_program);
	CU_ASSERT_FATAL(core != NULL);
	struct walked intact;
	CU_ASSERT_FATAL(walk_core(core, &intact));
	CU_ASSERT_EQUAL(intact.h->ncorruptions, 0);
	int64_t victim = middle_used_chunk(intact.h);
	CU_ASSERT_FATAL(victim > 0);
	uint64_t addr = intact.h->chunk_addr[victim];
	const char *bad = hc_fixture_patch_core(core, intact.t, addr + 8, 0x4141414141414141ull, "flipped_size.core");
	CU_ASSERT_FATAL(bad != NULL);

	struct walked damaged;
	CU_ASSERT_FATAL(walk_core(bad, &damaged));
	CU_ASSERT_TRUE(damaged.h->ncorruptions >= 1);
	CU_ASSERT_EQUAL(damaged.h->corruptions[0].address, addr);
	CU_ASSERT_TRUE(damaged.t->warnings.partial);
	CU_ASSERT_TRUE(damaged.h->arenas[0].unwalked_bytes > 0);
	/* the top chunk and the chunks before the damage are all still there */
	CU_ASSERT_EQUAL(damaged.h->totals[HC_CHUNK_TOP].count, 1);
	uint32_t before = 0;
	for (uint32_t i = 0; i < damaged.h->nchunks; i++)
		before += damaged.h->chunk_addr[i] < addr;
	CU_ASSERT_EQUAL(before, (uint32_t)victim);
	/* and the walk resumed after it: only the damaged neighbourhood is lost */
	CU_ASSERT_TRUE(damaged.h->nchunks > intact.h->nchunks * 3 / 4);
	walked_free(&damaged);
	walked_free(&intact);
}

static void test_flipped_header_makes_heap_exit_5_naming_the_address(void)
{
	const char *core = hc_fixture_make_core("cli_heap", hc_heap_program);
	CU_ASSERT_FATAL(core != NULL);
	struct walked intact;
	CU_ASSERT_FATAL(walk_core(core, &intact));
	int64_t victim = middle_used_chunk(intact.h);
	uint64_t addr = intact.h->chunk_addr[victim];
	/* a size that stays aligned but runs far past the heap */
	const char *bad = hc_fixture_patch_core(core, intact.t, addr + 8, 0x10000001ull, "flipped_cli.core");
	walked_free(&intact);
	CU_ASSERT_FATAL(bad != NULL);
	char args[400], *out, *err, where[32];
	snprintf(args, sizeof(args), "heap '%s'", bad);
	CU_ASSERT_EQUAL(hc_fixture_run_cli(args, &out, &err), 5);
	snprintf(where, sizeof(where), "0x%llx", (unsigned long long)addr);
	CU_ASSERT_PTR_NOT_NULL(out && strstr(out, where));
	CU_ASSERT_PTR_NOT_NULL(out && strstr(out, "PARTIAL"));
	CU_ASSERT_PTR_NOT_NULL(err && strstr(err, "partial"));
	free(out);
	free(err);
}

static void test_free_list_into_unmapped_memory_ends_that_list_only(void)
{
	const char *core = hc_fixture_make_core("cli_heap", hc_heap_program);
	CU_ASSERT_FATAL(core != NULL);
	struct walked intact;
	CU_ASSERT_FATAL(walk_core(core, &intact));
	/* a chunk in the unsorted/small bins: overwrite its fd with an unmapped address */
	int64_t victim = -1;
	for (uint32_t i = 0; i < intact.h->nchunks && victim < 0; i++)
		if (intact.h->chunk_state[i] == HC_CHUNK_FREE)
			victim = i;
	CU_ASSERT_FATAL(victim >= 0);
	uint64_t addr = intact.h->chunk_addr[victim];
	const char *bad = hc_fixture_patch_core(core, intact.t, addr + 16, 0xdead0000ull, "bad_fd.core");
	CU_ASSERT_FATAL(bad != NULL);
	struct walked damaged;
	CU_ASSERT_FATAL(walk_core(bad, &damaged));
	CU_ASSERT_TRUE(damaged.h->ncorruptions >= 1);
	CU_ASSERT_TRUE(damaged.t->warnings.partial);
	/* the heap is still walked end to end */
	CU_ASSERT_EQUAL(damaged.h->totals[HC_CHUNK_TOP].count, 1);
	CU_ASSERT_EQUAL(damaged.h->nchunks, intact.h->nchunks);
	CU_ASSERT_EQUAL(damaged.h->totals[HC_CHUNK_TCACHE].count, intact.h->totals[HC_CHUNK_TCACHE].count);
	walked_free(&damaged);
	walked_free(&intact);
}

/*
 * Two threads follow the free lists, half each; what they find damaged is
 * reported in list order all the same: the bins' before the fastbins'.
 */
/*
 * 3 chunks on a smallbin (sorted there by the large request), then 13 on a
 * fastbin (7 more fill the tcache); stdout unbuffered, since allocating its
 * buffer after the frees would consolidate the fastbin.
 */
static const char fastbin_program[] =
	"#include <stdio.h>\n#include <stdlib.h>\n#include <unistd.h>\n"
	"int main(void) { void *small[20], *mid[10]; setvbuf(stdout, NULL, _IONBF, 0);\n"
	" for (int i = 0; i < 20; i++) small[i] = malloc(40);\n"
	" for (int i = 0; i < 10; i++) { mid[i] = malloc(400); (void)malloc(16); }\n"
	" for (int i = 0; i < 10; i++) free(mid[i]);\n"
	" void *big = malloc(5000); (void)big;\n"
	" for (int i = 0; i < 20; i++) free(small[i]);\n"
	" printf(\"READY\\n\"); fflush(stdout); pause(); }\n";

static void test_free_list_damage_is_reported_in_list_order(void)
{
	const char *core = hc_fixture_make_core("fastbins", fastbin_program);
	CU_ASSERT_FATAL(core != NULL);
	struct walked intact;
	CU_ASSERT_FATAL(walk_core(core, &intact));
	int64_t binned = -1, fast = -1;
	for (uint32_t i = 0; i < intact.h->nchunks; i++) {
		if (binned < 0 && intact.h->chunk_state[i] == HC_CHUNK_FREE)
			binned = i;
		if (fast < 0 && intact.h->chunk_state[i] == HC_CHUNK_FASTBIN)
			fast = i;
	}
	CU_ASSERT_FATAL(binned >= 0 && fast >= 0);
	uint64_t b = intact.h->chunk_addr[binned], f = intact.h->chunk_addr[fast], size;
	CU_ASSERT_FATAL(hc_target_read_u64(intact.t, f + 8, &size));
	/* the binned chunk's bk names a stranger; the fastbin chunk claims the next fastbin's size */
	const char *bad1 = hc_fixture_patch_core(core, intact.t, b + 24, 0x4242424242424240ull, "bad_bk.core");
	CU_ASSERT_FATAL(bad1 != NULL);
	const char *bad = hc_fixture_patch_core(bad1, intact.t, f + 8, size + 0x10, "bad_bk_fastbin.core");
	CU_ASSERT_FATAL(bad != NULL);
	struct walked damaged;
	CU_ASSERT_FATAL(walk_core(bad, &damaged));
	CU_ASSERT_FATAL(damaged.h->ncorruptions >= 2);
	CU_ASSERT_EQUAL(damaged.h->corruptions[0].address, b);
	CU_ASSERT_PTR_NOT_NULL(strstr(damaged.h->corruptions[0].message, "bk is 0x4242424242424240"));
	CU_ASSERT_EQUAL(damaged.h->corruptions[1].address, f);
	CU_ASSERT_PTR_NOT_NULL(strstr(damaged.h->corruptions[1].message, "is in fastbin"));
	walked_free(&damaged);
	walked_free(&intact);
}

/*
 * The chunk table keeps sizes in 32 bits: a chunk of 4 GiB or more (only
 * mmapped ones get so big) is looked up by address in big_chunks, and an
 * arena chunk's arena comes from the extent it lies in.
 */
static void test_chunks_of_4_gib_and_more_keep_their_size_and_arenas_come_from_extents(void)
{
	uint64_t addr[] = { 0x1000, 0x1030, 0x7f0000000000, 0x7f0200000000 };
	uint32_t size32[] = { 0x30, 0x40, HC_CHUNK_SIZE_BIG, 0x2000 };
	uint8_t state[] = { HC_CHUNK_USED, HC_CHUNK_TOP, HC_CHUNK_MMAPPED, HC_CHUNK_MMAPPED };
	struct hc_glibc_big_chunk big[] = { { 0x7f0000000000, 0x140000000ull } };
	struct hc_glibc_arena_extent ext[] = { { 0x1000, 0x2000, 0 } };
	struct hc_glibc_heap h = { .nchunks = 4, .chunk_addr = addr, .chunk_size32 = size32, .chunk_state = state,
				   .big_chunks = big, .nbig_chunks = 1, .extents = ext, .nextents = 1 };
	CU_ASSERT_EQUAL(hc_glibc_chunk_size(&h, 0), 0x30);
	CU_ASSERT_EQUAL(hc_glibc_chunk_size(&h, 2), 0x140000000ull);
	CU_ASSERT_EQUAL(hc_glibc_chunk_size(&h, 3), 0x2000);
	/* the big chunk holds an address 4.5 GiB into it */
	CU_ASSERT_EQUAL(hc_glibc_chunk_containing(&h, 0x7f0000000000 + 0x120000000ull), 2);
	CU_ASSERT_EQUAL(hc_glibc_chunk_containing(&h, 0x7f0000000000 + 0x140000000ull), -1);
	CU_ASSERT_EQUAL(hc_glibc_chunk_arena(&h, 0), 0);
	CU_ASSERT_EQUAL(hc_glibc_chunk_arena(&h, 1), 0);
	CU_ASSERT_EQUAL(hc_glibc_chunk_arena(&h, 2), HC_NO_ARENA);
	CU_ASSERT_EQUAL(hc_glibc_chunk_arena(&h, 3), HC_NO_ARENA);
}

void hc_test_register_glibc_walk(void)
{
	CU_pSuite s = CU_add_suite("glibc_walk", NULL, NULL);
	CU_add_test(s, "a flipped size field is reported and the walk goes on", test_flipped_size_field_is_reported_and_the_walk_goes_on);
	CU_add_test(s, "a flipped header makes `heap` exit 5 naming the address", test_flipped_header_makes_heap_exit_5_naming_the_address);
	CU_add_test(s, "a free list into unmapped memory ends that list only", test_free_list_into_unmapped_memory_ends_that_list_only);
	CU_add_test(s, "free list damage is reported in list order", test_free_list_damage_is_reported_in_list_order);
	CU_add_test(s, "chunks of 4 GiB and more keep their size; arenas come from extents",
		    test_chunks_of_4_gib_and_more_keep_their_size_and_arenas_come_from_extents);
}
