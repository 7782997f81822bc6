/*
 * Ground truth recorded by the scenario programs (tests/cores/scenarios)
 * just before their cores were taken: mallinfo2(), malloc_info() per arena,
 * labelled addresses. Read back here for the tests to compare against.
 */
#ifndef HEAPCORE_TEST_TRUTH_H
#define HEAPCORE_TEST_TRUTH_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

struct truth_arena {
	uint64_t fast_count, fast_bytes;   /* <total type="fast"> */
	uint64_t rest_count, rest_bytes;   /* <total type="rest">: bins and top */
	uint64_t system_current;           /* <system type="current"> */
};

struct truth {
	char core[1024];
	char sysroot[512];                 /* "" for the native runtime */
	/*
	 * The scenario's executable as make-test-cores.sh built it (OUTDIR/bin),
	 * passed as BINARY: the copy inside a shared runtime root belongs to
	 * whichever core directory was made last. "" if absent.
	 */
	char binary[1024];
	char runtime[32];
	json_t *json;                      /* the .truth.json document */
	struct truth_arena arenas[64];
	unsigned narenas;
	uint64_t mmap_count, mmap_bytes;   /* <total type="mmap"> */
};

/* Loads DIR/NAME.truth.json, DIR/NAME.malloc_info.xml, DIR/runtime.json; false if absent. */
bool truth_load(struct truth *t, const char *dir, const char *name);
void truth_free(struct truth *t);
/* mallinfo2 field by name. */
uint64_t truth_mallinfo(const struct truth *t, const char *field);

/*
 * Calls fn for every scenario core under $HEAPCORE_CORES_DIR/RUNTIME (plain,
 * kernel-made and compressed ones alike); returns how many.
 */
unsigned truth_for_each(const char *runtime, const char *scenario_prefix,
			void (*fn)(const struct truth *t, void *arg), void *arg);

/* The same for the truth files in DIR (e.g. tests/cores/committed/sid). */
unsigned truth_for_each_in(const char *dir, const char *scenario_prefix,
			   void (*fn)(const struct truth *t, void *arg), void *arg);

#endif
