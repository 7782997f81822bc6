/*
 * Private to glibc_locate*.c: the state one hc_glibc_locate() call shares
 * between its three methods, and the structural checks every method uses
 * to accept a candidate (a main_arena, an mp_, a tcache TLS offset).
 *
 *   glibc_locate.c         orchestration, version, the checks, SYMBOLS
 *   glibc_locate_disasm.c  DISASSEMBLY (capstone)
 *   glibc_locate_scan.c    SCAN of libc's writable data, TLS calibration
 */
#ifndef HEAPCORE_GLIBC_LOCATE_H
#define HEAPCORE_GLIBC_LOCATE_H

#include <stdbool.h>
#include <stdint.h>

#include "heapcore/glibc_heap.h"

#define HC_LOC_MAX_REGIONS 16
#define HC_LOC_MAX_LAYOUTS 16
/* Bounds: arenas in the next ring, threads checked, bytes scanned. */
#define HC_LOC_MAX_ARENAS 4096
#define HC_LOC_MAX_THREADS 4096
#define HC_LOC_MAX_SCAN_BYTES (64ULL * 1024 * 1024)
/* How far from the thread pointer the tcache TLS slot may be searched. */
#define HC_LOC_TLS_WINDOW (256 * 1024)
/* Bins that may be damaged (neither empty nor a list) in an arena still accepted. */
#define HC_LOC_MAX_BAD_BINS 4

struct hc_loc_region {
	uint64_t start, end;
};

struct hc_loc_ctx {
	struct hc_target *t;
	struct hc_symbols *s;             /* may be NULL */
	const struct hc_module *libc;     /* libc, or the executable if static; may be NULL */
	const char *libc_name;            /* for messages */

	/* Layouts to try: the detected version's alone, else every one. */
	const struct hc_glibc_layout *layouts[HC_LOC_MAX_LAYOUTS];
	unsigned nlayouts;
	bool version_known;
	unsigned minor;
	char version[32];

	/* libc's writable data in the target: its RW segments and the anonymous .bss tail. */
	struct hc_loc_region regions[HC_LOC_MAX_REGIONS];
	unsigned nregions;

	/*
	 * The candidate's address comes from libc's symbols, not from a search:
	 * then a next ring that does not close is damage for the walk to report,
	 * while for a searched-for candidate it is a reason to look further.
	 */
	bool address_is_known;
};

/* What the arena check learnt about a main_arena candidate. */
struct hc_arena_info {
	uint64_t top, top_size;
	bool empty;                       /* top is still initial_top: no heap yet */
	uint64_t heap_start;              /* start of the anonymous run holding top */
	uint64_t system_mem;
	uint32_t narenas;                 /* arenas in the next ring, main included */
	bool ring_broken;                 /* the ring does not close: narenas counts up to the break */
	uint32_t empty_bins;
};

/* Is addr the main_arena of layout l? Fills *info; on failure why[] says what failed. */
bool hc_loc_check_arena(const struct hc_loc_ctx *c, const struct hc_glibc_layout *l, uint64_t addr,
			struct hc_arena_info *info, char *why, size_t whylen);
/* Score >= 0 if mp is mp_ of layout l for this main arena (higher: more fields at their defaults), else -1. */
int hc_loc_check_mp(const struct hc_loc_ctx *c, const struct hc_glibc_layout *l, uint64_t mp,
		    const struct hc_arena_info *info);
/*
 * Checks a tcache TLS offset over every thread: -1 if some thread's slot
 * holds something that is no tcache, else the number of threads whose slot
 * points at a real tcache_perthread_struct chunk. *dummy (may be NULL) is
 * set when every slot read holds one same pointer into libc's read-only
 * data: 2.43+'s __tcache_dummy, the tcache of threads that have none.
 */
int hc_loc_check_tcache_offset(const struct hc_loc_ctx *c, const struct hc_glibc_layout *l, int64_t off,
			       bool *dummy);

bool hc_loc_in_regions(const struct hc_loc_ctx *c, uint64_t addr);

/*
 * Picks, among c->layouts, the one under which main_arena validates best
 * (with mp when non-zero); NULL if none validates.
 */
const struct hc_glibc_layout *hc_loc_pick_layout(const struct hc_loc_ctx *c, uint64_t main_arena,
						 uint64_t mp, struct hc_arena_info *info, char *why,
						 size_t whylen);

/* Methods: fill out->main_arena, layout, mp, and the tcache slot when they can; why[] on failure. */
bool hc_loc_by_disasm(const struct hc_loc_ctx *c, struct hc_glibc_location *out, char *why, size_t whylen);
bool hc_loc_disasm_tcache(const struct hc_loc_ctx *c, struct hc_glibc_location *out);
bool hc_loc_by_scan(const struct hc_loc_ctx *c, struct hc_glibc_location *out, char *why, size_t whylen);
/* mp_ by looking for sbrk_base in libc's data; 0 if not found. */
uint64_t hc_loc_scan_mp(const struct hc_loc_ctx *c, const struct hc_glibc_layout *l,
			const struct hc_arena_info *info, int *score);
/* The tcache TLS offset by finding the main thread's tcache pointer near its thread pointer. */
bool hc_loc_calibrate_tcache(const struct hc_loc_ctx *c, const struct hc_glibc_layout *l, uint64_t main_arena,
			     const struct hc_arena_info *info, int64_t *off);

#endif
