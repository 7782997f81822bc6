/*
 * Offsets of glibc malloc's structures (x86-64, LP64) for each range of
 * glibc versions whose layout is the same. Every number below was checked
 * against glibc's malloc/malloc.c and malloc/arena.c of that release, and
 * against the DWARF of Debian's libc6-dbg where one exists (2.31, 2.36,
 * 2.41, 2.43, 2.44); docs/arena-discovery.md lists the sources per row.
 *
 * What changes, and so why the rows are split where they are:
 *   2.23  malloc_state gains attached_threads
 *   2.24  malloc_par loses max_total_mem (sbrk_base 80 -> 72)
 *   2.26  tcache: malloc_par gains tcache_*; counts[] is char
 *   2.27  malloc_state gains have_fastchunks (everything after shifts by 8)
 *   2.29  tcache_entry gains key (= the owning tcache_perthread_struct)
 *   2.30  tcache counts[] become uint16_t (BZ #24531)
 *   2.32  safe-linking of tcache and fastbin next pointers
 *   2.34  tcache_entry.key = a process-wide random tcache_key
 *   2.35  heap_info gains pagesize (0x20 -> 0x30); malloc_par gains
 *         thp_pagesize, hp_pagesize, hp_flags (hugetlb tunable)
 *   2.42  tcache rework: num_slots[76] counts free slots, 12 large bins
 *   2.43  fastbins removed from malloc_state; malloc_par gains thp_mode;
 *         default tcache_count 16; mmapped chunk size excludes the header
 *   2.44  malloc_par loses its last field, tcache_unsorted_limit: nothing
 *         heapcore reads moves, so 2.43 and 2.44 share one layout
 */
#include "heapcore/glibc_heap.h"

#include <stddef.h>

#define KIB 1024ULL
#define MIB (1024ULL * KIB)

/*
 * HEAP_MAX_SIZE is 2 * DEFAULT_MMAP_THRESHOLD_MAX = 2 * 4 MiB * sizeof(long)
 * on every 64-bit release (2.35+ computes it at run time, but only the
 * hugetlb tunable changes it).
 */
#define HEAP_MAX_64 (64 * MIB)

/* struct malloc_state, in four shapes. */
#define MS_2_17                                                                          \
	.ms_flags = 4, .ms_have_fastchunks = -1, .ms_fastbins = 8, .ms_top = 88,         \
	.ms_last_remainder = 96, .ms_bins = 104, .ms_binmap = 2136, .ms_next = 2152,     \
	.ms_next_free = 2160, .ms_attached_threads = -1, .ms_system_mem = 2168,          \
	.ms_max_system_mem = 2176, .ms_size = 2184, .nfastbins = 10
#define MS_2_23                                                                          \
	.ms_flags = 4, .ms_have_fastchunks = -1, .ms_fastbins = 8, .ms_top = 88,         \
	.ms_last_remainder = 96, .ms_bins = 104, .ms_binmap = 2136, .ms_next = 2152,     \
	.ms_next_free = 2160, .ms_attached_threads = 2168, .ms_system_mem = 2176,        \
	.ms_max_system_mem = 2184, .ms_size = 2192, .nfastbins = 10
#define MS_2_27                                                                          \
	.ms_flags = 4, .ms_have_fastchunks = 8, .ms_fastbins = 16, .ms_top = 96,         \
	.ms_last_remainder = 104, .ms_bins = 112, .ms_binmap = 2144, .ms_next = 2160,    \
	.ms_next_free = 2168, .ms_attached_threads = 2176, .ms_system_mem = 2184,        \
	.ms_max_system_mem = 2192, .ms_size = 2200, .nfastbins = 10
#define MS_2_43                                                                          \
	.ms_flags = 4, .ms_have_fastchunks = -1, .ms_fastbins = -1, .ms_top = 8,         \
	.ms_last_remainder = 16, .ms_bins = 24, .ms_binmap = 2056, .ms_next = 2072,      \
	.ms_next_free = 2080, .ms_attached_threads = 2088, .ms_system_mem = 2096,        \
	.ms_max_system_mem = 2104, .ms_size = 2112, .nfastbins = 0

/* struct malloc_par mp_; arena_test is at 24 in all of them. */
#define MP_2_17                                                                          \
	.mp_arena_test = 24, .mp_n_mmaps = 40, .mp_n_mmaps_max = 44, .mp_mmapped_mem = 56, \
	.mp_max_mmapped_mem = 64, .mp_sbrk_base = 80, .mp_tcache_bins = -1,              \
	.mp_tcache_max_bytes = -1, .mp_tcache_count = -1, .mp_size = 88
#define MP_2_24                                                                          \
	.mp_arena_test = 24, .mp_n_mmaps = 40, .mp_n_mmaps_max = 44, .mp_mmapped_mem = 56, \
	.mp_max_mmapped_mem = 64, .mp_sbrk_base = 72, .mp_tcache_bins = -1,              \
	.mp_tcache_max_bytes = -1, .mp_tcache_count = -1, .mp_size = 80
#define MP_2_26                                                                          \
	.mp_arena_test = 24, .mp_n_mmaps = 40, .mp_n_mmaps_max = 44, .mp_mmapped_mem = 56, \
	.mp_max_mmapped_mem = 64, .mp_sbrk_base = 72, .mp_tcache_bins = 80,              \
	.mp_tcache_max_bytes = 88, .mp_tcache_count = 96, .mp_size = 112
#define MP_2_35                                                                          \
	.mp_arena_test = 24, .mp_n_mmaps = 60, .mp_n_mmaps_max = 64, .mp_mmapped_mem = 80, \
	.mp_max_mmapped_mem = 88, .mp_sbrk_base = 96, .mp_tcache_bins = 104,             \
	.mp_tcache_max_bytes = 112, .mp_tcache_count = 120, .mp_size = 136
#define MP_2_43                                                                          \
	.mp_arena_test = 24, .mp_n_mmaps = 68, .mp_n_mmaps_max = 72, .mp_mmapped_mem = 88, \
	.mp_max_mmapped_mem = 96, .mp_sbrk_base = 104, .mp_tcache_bins = 112,            \
	.mp_tcache_max_bytes = 120, .mp_tcache_count = 128

/* tcache_perthread_struct: sizeof 0x240 / 0x280 / 0x2f8, chunks 0x250 / 0x290 / 0x300. */
#define NO_TCACHE .has_tcache = false
#define TC_2_26                                                                          \
	.has_tcache = true, .tcache_counts_width = 1, .tcache_nbins = 64,                \
	.tcache_entries_offset = 64, .tcache_struct_chunk = 0x250, .tcache_fill_count = 7
#define TC_2_30                                                                          \
	.has_tcache = true, .tcache_counts_width = 2, .tcache_nbins = 64,                \
	.tcache_entries_offset = 128, .tcache_struct_chunk = 0x290, .tcache_fill_count = 7
#define TC_2_42                                                                          \
	.has_tcache = true, .tcache_counts_width = 2, .tcache_nbins = 76,                \
	.tcache_entries_offset = 152, .tcache_struct_chunk = 0x300,                      \
	.tcache_counts_free_slots = true

/*
 * 2.43 and 2.44 differ only in malloc_par's size (2.44 dropped the last
 * field, tcache_unsorted_limit, which heapcore never reads), so one layout
 * serves both and mp_size is the part they share.
 */
static const struct hc_glibc_layout layout_2_43 = {
	.name = "2.43-2.44", .min_minor = 43, .max_minor = 44,
	MS_2_43, .heap_info_size = 0x30, .heap_max_size = HEAP_MAX_64,
	MP_2_43, .mp_size = 136,
	TC_2_42, .tcache_fill_count = 16, .tcache_entry_has_key = true, .tcache_never_null = true,
	.tcache_key_is_random = true, .safe_linking = true,
	.mmapped_size_excludes_header = true,
};

static const struct hc_glibc_layout layout_2_42 = {
	.name = "2.42", .min_minor = 42, .max_minor = 42,
	MS_2_27, .heap_info_size = 0x30, .heap_max_size = HEAP_MAX_64,
	MP_2_35,
	TC_2_42, .tcache_fill_count = 7, .tcache_entry_has_key = true,
	.tcache_key_is_random = true, .safe_linking = true,
};

static const struct hc_glibc_layout layout_2_35 = {
	.name = "2.35-2.41", .min_minor = 35, .max_minor = 41,
	MS_2_27, .heap_info_size = 0x30, .heap_max_size = HEAP_MAX_64,
	MP_2_35,
	TC_2_30, .tcache_entry_has_key = true, .tcache_key_is_random = true,
	.safe_linking = true,
};

static const struct hc_glibc_layout layout_2_34 = {
	.name = "2.34", .min_minor = 34, .max_minor = 34,
	MS_2_27, .heap_info_size = 0x20, .heap_max_size = HEAP_MAX_64,
	MP_2_26,
	TC_2_30, .tcache_entry_has_key = true, .tcache_key_is_random = true,
	.safe_linking = true,
};

static const struct hc_glibc_layout layout_2_32 = {
	.name = "2.32-2.33", .min_minor = 32, .max_minor = 33,
	MS_2_27, .heap_info_size = 0x20, .heap_max_size = HEAP_MAX_64,
	MP_2_26,
	TC_2_30, .tcache_entry_has_key = true, .safe_linking = true,
};

static const struct hc_glibc_layout layout_2_30 = {
	.name = "2.30-2.31", .min_minor = 30, .max_minor = 31,
	MS_2_27, .heap_info_size = 0x20, .heap_max_size = HEAP_MAX_64,
	MP_2_26,
	TC_2_30, .tcache_entry_has_key = true,
};

static const struct hc_glibc_layout layout_2_29 = {
	.name = "2.29", .min_minor = 29, .max_minor = 29,
	MS_2_27, .heap_info_size = 0x20, .heap_max_size = HEAP_MAX_64,
	MP_2_26,
	TC_2_26, .tcache_entry_has_key = true,
};

static const struct hc_glibc_layout layout_2_27 = {
	.name = "2.27-2.28", .min_minor = 27, .max_minor = 28,
	MS_2_27, .heap_info_size = 0x20, .heap_max_size = HEAP_MAX_64,
	MP_2_26,
	TC_2_26,
};

static const struct hc_glibc_layout layout_2_26 = {
	.name = "2.26", .min_minor = 26, .max_minor = 26,
	MS_2_23, .heap_info_size = 0x20, .heap_max_size = HEAP_MAX_64,
	MP_2_26,
	TC_2_26,
};

static const struct hc_glibc_layout layout_2_24 = {
	.name = "2.24-2.25", .min_minor = 24, .max_minor = 25,
	MS_2_23, .heap_info_size = 0x20, .heap_max_size = HEAP_MAX_64,
	MP_2_24,
	NO_TCACHE,
};

static const struct hc_glibc_layout layout_2_23 = {
	.name = "2.23", .min_minor = 23, .max_minor = 23,
	MS_2_23, .heap_info_size = 0x20, .heap_max_size = HEAP_MAX_64,
	MP_2_17,
	NO_TCACHE,
};

static const struct hc_glibc_layout layout_2_17 = {
	.name = "2.17-2.22", .min_minor = 17, .max_minor = 22,
	MS_2_17, .heap_info_size = 0x20, .heap_max_size = HEAP_MAX_64,
	MP_2_17,
	NO_TCACHE,
};

/* Newest first: with an unknown version, the newest that validates is tried first. */
static const struct hc_glibc_layout *const all_layouts[] = {
	&layout_2_43, &layout_2_42, &layout_2_35, &layout_2_34,
	&layout_2_32, &layout_2_30, &layout_2_29, &layout_2_27, &layout_2_26,
	&layout_2_24, &layout_2_23, &layout_2_17,
};

const struct hc_glibc_layout *hc_glibc_layout_for_minor(unsigned minor)
{
	for (size_t i = 0; i < sizeof(all_layouts) / sizeof(all_layouts[0]); i++)
		if (minor >= all_layouts[i]->min_minor && minor <= all_layouts[i]->max_minor)
			return all_layouts[i];
	return NULL;
}

const struct hc_glibc_layout *const *hc_glibc_layouts(unsigned *count)
{
	*count = sizeof(all_layouts) / sizeof(all_layouts[0]);
	return all_layouts;
}
