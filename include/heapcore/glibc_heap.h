/*
 * The glibc malloc heap of a target: where the arenas are (hc_glibc_locate),
 * and every chunk with its state (hc_glibc_walk). The chunk table is
 * struct-of-arrays in address order, so later layers index it with 32-bit ids.
 */
#ifndef HEAPCORE_GLIBC_HEAP_H
#define HEAPCORE_GLIBC_HEAP_H

#include <stdbool.h>
#include <stdint.h>

#include "heapcore/error.h"
#include "heapcore/symbols.h"
#include "heapcore/target.h"

/* Offsets of glibc's malloc structures for one range of versions; -1 = no such field. */
struct hc_glibc_layout {
	const char *name;            /* "2.27-2.29", for messages */
	unsigned min_minor, max_minor; /* glibc 2.<min_minor> .. 2.<max_minor> */

	/* struct malloc_state */
	int32_t ms_flags, ms_have_fastchunks, ms_fastbins, ms_top, ms_last_remainder, ms_bins,
		ms_binmap, ms_next, ms_next_free, ms_attached_threads, ms_system_mem,
		ms_max_system_mem;
	uint32_t ms_size;
	uint32_t nfastbins;          /* 10, or 0 where fastbins were removed (2.43) */

	/* heap_info (arena.c) */
	uint32_t heap_info_size;
	uint64_t heap_max_size;

	/* struct malloc_par mp_ */
	int32_t mp_n_mmaps, mp_mmapped_mem, mp_sbrk_base, mp_tcache_count;

	/* tcache */
	bool has_tcache;
	uint32_t tcache_counts_width;   /* bytes per counts[] element: 1 or 2 */
	uint32_t tcache_nbins;          /* 64, 76 from 2.42 */
	uint32_t tcache_entries_offset; /* offset of entries[] in tcache_perthread_struct */
	uint32_t tcache_struct_chunk;   /* chunk size of the struct */
	bool tcache_counts_free_slots;  /* 2.42+: num_slots[] counts free slots, not entries */
	bool tcache_key_is_random;      /* 2.34+: tcache_entry.key = global tcache_key */
	bool tcache_never_null;         /* 2.43+: an idle thread's tcache points at a static dummy */

	bool safe_linking;              /* 2.32+ */
	bool mmapped_size_excludes_header; /* 2.43: mapping = prev_size + chunksize + 16 */

	/* more of malloc_par, for finding and checking mp_ without symbols */
	uint32_t mp_size;               /* bytes of mp_ read: sizeof, less 2.43's unused last field */
	int32_t mp_arena_test, mp_n_mmaps_max, mp_max_mmapped_mem, mp_tcache_bins, mp_tcache_max_bytes;
	uint32_t tcache_fill_count;     /* default mp_.tcache_count: 7, 16 from 2.43 */
	bool tcache_entry_has_key;      /* 2.29+: tcache_entry.key at user+8 (see tcache_key_is_random) */
};

/* The layout of glibc 2.<minor>, or NULL if not supported. */
const struct hc_glibc_layout *hc_glibc_layout_for_minor(unsigned minor);
/* All distinct layouts, newest first, for trying each when the version is unknown. */
const struct hc_glibc_layout *const *hc_glibc_layouts(unsigned *count);

enum hc_arena_method {
	HC_ARENA_METHOD_AUTO = 0,
	HC_ARENA_METHOD_SYMBOLS,     /* main_arena/mp_ from libc's .symtab (debug info) */
	HC_ARENA_METHOD_DISASSEMBLY, /* RIP-relative references in libc's exported malloc functions */
	HC_ARENA_METHOD_SCAN,        /* structural scan of libc's writable data */
};

const char *hc_arena_method_name(enum hc_arena_method m);

struct hc_glibc_location {
	const struct hc_glibc_layout *layout;
	char version[32];            /* "2.36"; if the version is unknown, the layout's range ("2.35-2.41") */
	bool version_known;
	enum hc_arena_method method;
	uint64_t main_arena;
	uint64_t mp;                 /* &mp_, 0 if not found */
	const struct hc_module *libc;
	/* &tcache (the TLS variable) = thread tp + tcache_tp_offset; valid if have_tcache_tp_offset */
	bool have_tcache_tp_offset;
	int64_t tcache_tp_offset;
	uint64_t tcache_key;         /* 2.34+ global tcache_key, 0 if unknown */
	/* how mp_ and the tcache slot were found (AUTO = not found); may differ from method */
	enum hc_arena_method mp_method;
	enum hc_arena_method tcache_method;
	/*
	 * main_arena is not in the core (cut before libc's data): main_heap is
	 * the start of the main heap, walked from its chunks alone, and thread
	 * arenas are found by their heaps (main_arena and mp are 0)
	 */
	bool headless;
	uint64_t main_heap;
};

/*
 * Finds main_arena (and mp_, the tcache TLS slot) by the method asked for, or
 * with AUTO by symbols, then disassembly, then the structural scan. Returns
 * HC_ERR_NOT_FOUND when the target has no glibc heap to be found.
 */
struct hc_error *hc_glibc_locate(struct hc_target *t, struct hc_symbols *s,
				 enum hc_arena_method method, struct hc_glibc_location *out);
/*
 * The same; with check_dwarf false, libc's DWARF does not first confirm or
 * correct the layout the version implies (hc_glibc_dwarf_verdict does it
 * after, on another thread if need be: loading libc's DWARF takes longer
 * than locating).
 */
struct hc_error *hc_glibc_locate_opts(struct hc_target *t, struct hc_symbols *s, enum hc_arena_method method,
				      bool check_dwarf, struct hc_glibc_location *out);
/*
 * What libc's DWARF says of layout l: 1 it agrees, 0 it disagrees (locate
 * again with check_dwarf), -1 it says nothing (no DWARF for malloc's
 * structs). Adds no warnings.
 */
int hc_glibc_dwarf_verdict(struct hc_symbols *s, const struct hc_module *libc, const struct hc_glibc_layout *l);

enum hc_chunk_state {
	HC_CHUNK_USED = 0,        /* allocated and not on any free list */
	HC_CHUNK_FREE = 1,        /* in the unsorted, a small or a large bin */
	HC_CHUNK_FASTBIN = 2,
	HC_CHUNK_TCACHE = 3,
	HC_CHUNK_TOP = 4,
	HC_CHUNK_MMAPPED = 5,     /* in use, in a mapping of its own */
	HC_CHUNK_STATE_COUNT = 6,
};

const char *hc_chunk_state_name(enum hc_chunk_state s);

struct hc_tally {
	uint64_t count, bytes;
};

#define HC_NO_ARENA UINT32_MAX

struct hc_glibc_heap_range;

struct hc_glibc_arena {
	uint64_t address;
	bool is_main;
	uint64_t system_mem;         /* as the arena records it */
	uint32_t nheaps;             /* heaps walked (1 for the main arena's sbrk heap), in heaps[] */
	struct hc_tally tally[HC_CHUNK_STATE_COUNT];
	/* bytes inside the arena's heaps that are no chunk: heap_info and malloc_state headers, alignment */
	uint64_t overhead_bytes;
	/* fenceposts closing older heaps: glibc counts them as in use */
	struct hc_tally fenceposts;
	/* HC_CHUNK_FREE split by list: unsorted, small bins, large bins */
	struct hc_tally free_unsorted, free_small, free_large;
	/* bytes that could not be walked because a chunk header was damaged */
	uint64_t unwalked_bytes;
	struct hc_glibc_heap_range *heaps;
};

/* One contiguous heap of an arena: the main arena's sbrk area or a heap_info heap. */
struct hc_glibc_heap_range {
	uint64_t start, end;         /* [start, end): for heap_info heaps, heap_info.size bytes */
	uint64_t first_chunk;
};

struct hc_glibc_tcache {
	int32_t tid;                 /* owning thread, 0 if found without one */
	uint64_t address;            /* user address of the tcache_perthread_struct */
	uint32_t count;              /* chunks on its lists */
};

struct hc_corruption {
	uint64_t address;
	char *message;
};

#define HC_CHUNK_SIZE_BIG UINT32_MAX

struct hc_glibc_big_chunk {
	uint64_t addr, size;
};

struct hc_glibc_arena_extent {
	uint64_t start, end;
	uint32_t arena;
};

struct hc_glibc_heap {
	struct hc_glibc_location location;

	/*
	 * every chunk, sorted by address (struct-of-arrays, 13 bytes a chunk);
	 * read sizes with hc_glibc_chunk_size, arenas with hc_glibc_chunk_arena
	 */
	uint32_t nchunks;
	uint64_t *chunk_addr;        /* address of the chunk header */
	uint32_t *chunk_size32;      /* chunksize(), bytes including the header; HC_CHUNK_SIZE_BIG: in big_chunks */
	uint8_t *chunk_state;        /* enum hc_chunk_state */
	/* the chunks of 4 GiB and more (mmapped), by address */
	struct hc_glibc_big_chunk *big_chunks;
	uint32_t nbig_chunks;
	/* every arena heap's extent with its arena, by address: a chunk's arena is where it lies */
	struct hc_glibc_arena_extent *extents;
	uint32_t nextents;

	struct hc_glibc_arena *arenas;
	uint32_t narenas;
	struct hc_glibc_tcache *tcaches;
	uint32_t ntcaches;
	struct hc_tally totals[HC_CHUNK_STATE_COUNT];
	/* chunk sizes (chunksize(), the top chunk left out) in power-of-two buckets: [b] holds [2^b, 2^(b+1)) */
	struct hc_tally size_used[64], size_free[64];

	struct hc_corruption *corruptions;
	uint32_t ncorruptions;
	uint32_t corruptions_dropped;
};

struct hc_populator;

struct hc_glibc_walk_options {
	enum hc_arena_method method;
	/*
	 * Optional (an analysis sets them; src/large_alloc.h): a populator to
	 * use instead of the walk's own, and how many bytes of the big-array
	 * pool it should populate per chunk found, a window ahead of the walk.
	 */
	struct hc_populator *populator;
	uint32_t pool_bytes_per_chunk;
};

/* Walks every arena; heap damage is recorded in corruptions (and t->warnings), not returned. */
struct hc_error *hc_glibc_walk(struct hc_target *t, struct hc_symbols *s,
			       const struct hc_glibc_walk_options *opts, struct hc_glibc_heap **out);
void hc_glibc_heap_destroy(struct hc_glibc_heap *h);

uint64_t hc_glibc_big_chunk_size(const struct hc_glibc_heap *h, uint32_t i);

/* chunksize() of chunk i, bytes including its header. */
static inline uint64_t hc_glibc_chunk_size(const struct hc_glibc_heap *h, uint32_t i)
{
	uint32_t s = h->chunk_size32[i];
	return s != HC_CHUNK_SIZE_BIG ? s : hc_glibc_big_chunk_size(h, i);
}

/* The arena (index into arenas) whose heap chunk i lies in; HC_NO_ARENA for an mmapped chunk. */
uint32_t hc_glibc_chunk_arena(const struct hc_glibc_heap *h, uint32_t i);

/* Index of the last chunk whose header is at or below addr, or -1: what holds addr, if anything does. */
int64_t hc_glibc_chunk_at_or_before(const struct hc_glibc_heap *h, uint64_t addr);
/* Index of the chunk whose [header, header + size) holds addr, or -1. */
int64_t hc_glibc_chunk_containing(const struct hc_glibc_heap *h, uint64_t addr);

#endif
