/*
 * Test fixtures shared by the suites: where the source tree, the heapcore
 * binary and the generated cores are, small cores made on the spot, and
 * running the CLI to check its output and exit code.
 */
#ifndef HEAPCORE_TEST_FIXTURES_H
#define HEAPCORE_TEST_FIXTURES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* $HEAPCORE_SOURCE_DIR, or "." */
const char *hc_fixture_source_dir(void);
/* $HEAPCORE_CORES_DIR (cores made by scripts/make-test-cores.sh), or NULL */
const char *hc_fixture_cores_dir(void);
/* A fresh temporary directory, removed at exit. */
const char *hc_fixture_tmpdir(void);

/*
 * Compiles the C program `source` (which must print "READY\n" and pause),
 * runs it, gcores it and returns the core's path (static storage per name),
 * or NULL when it cannot (no gcc/gdb): callers then fail the test.
 */
const char *hc_fixture_make_core(const char *name, const char *source);
/*
 * The same with another compiler command (flags included, "g++ -g -O0
 * -fno-rtti") and source extension ("cc"); the binary is TMPDIR/name.
 */
const char *hc_fixture_make_core_with(const char *name, const char *source, const char *compile, const char *ext);
/*
 * The same, but when kernel_dir is not NULL the kernel writes the core
 * (SIGABRT once READY) in the process's working directory, kernel_dir as the
 * test sees it: gcore loses thread stacks that carry guard regions (glibc
 * 2.43). Only where hc_fixture_kernel_writes_cores().
 */
const char *hc_fixture_make_core_by(const char *name, const char *source, const char *compile, const char *ext,
				    const char *kernel_dir);
/*
 * Two gcores of one run of `source` (compiled as hc_fixture_make_core_with
 * does): OLD once it prints READY, then SIGUSR1, and NEW once it prints
 * GREW. Its output is TMPDIR/name.out. False if they cannot be made.
 */
bool hc_fixture_make_core_pair(const char *name, const char *source, const char *compile, const char *ext,
			       const char **old_core, const char **new_core);
/* Whether core_pattern is a plain "core" in the working directory and RLIMIT_CORE may be raised. */
bool hc_fixture_kernel_writes_cores(void);

/* Writes len bytes to a new file in the temp dir and returns its path. */
const char *hc_fixture_write_file(const char *name, const void *data, size_t len);
/* Copies the first len bytes of src (len 0 = all) into a new temp file, then applies a patch. */
const char *hc_fixture_copy_file(const char *name, const char *src, size_t len);

struct hc_target;
/* A copy of core (opened as t) with the 8 bytes at virtual address addr set to value; NULL if not in the core. */
const char *hc_fixture_patch_core(const char *core, const struct hc_target *t, uint64_t addr,
				  uint64_t value, const char *name);
/* The same with n bytes (within one segment). */
const char *hc_fixture_patch_core_bytes(const char *core, const struct hc_target *t, uint64_t addr,
					const void *bytes, size_t n, const char *name);

/* Runs `heapcore ARGS` (shell words), captures stdout and stderr; returns the exit code. */
int hc_fixture_run_cli(const char *args, char **out, char **err);
/* The same, killed after seconds (0 = never): a hang then shows as exit code 137. */
int hc_fixture_run_cli_bounded(unsigned seconds, const char *args, char **out, char **err);

/* The file offset where the core's last segment data ends (what a cut must fall before to lose data). */
size_t hc_fixture_core_data_end(const char *core);

/* Reads a whole file; NULL if it cannot. */
char *hc_fixture_read_file(const char *path, size_t *len);

#endif
