/* The target layer: segments, bounds-checked reads, notes, compressed cores. */
#include <CUnit/CUnit.h>
#include <elf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixtures.h"
#include "heapcore/target.h"
#include "suites.h"
#include "synthetic_core.h"

static uint8_t page_a[0x1000], page_b[0x1000];

/* Two adjacent writable segments; the second holds only its first page. */
static const char *two_segment_core(void)
{
	static const char *path;
	if (path)
		return path;
	for (int i = 0; i < 0x1000; i++) {
		page_a[i] = (uint8_t)i;
		page_b[i] = (uint8_t)(0xff - i);
	}
	struct synth_segment segs[] = {
		{ 0x10000, 0x1000, 0x1000, PF_R | PF_W, page_a },
		{ 0x11000, 0x2000, 0x1000, PF_R | PF_W, page_b },
	};
	struct synth_core c;
	synth_core_build(&c, 4242, 0x401000, 0x7ffc0000, 0x7f0000001000, "synthprog", segs, 2);
	path = hc_fixture_write_file("two_segments.core", c.data, c.len);
	synth_core_free(&c);
	return path;
}

static struct hc_target *open_ok(const char *path)
{
	struct hc_target *t = NULL;
	struct hc_error *err = hc_target_open_core(path, &t);
	if (err) {
		fprintf(stderr, "open %s: %s\n", path, err->message);
		hc_error_destroy(err);
	}
	return t;
}

static void test_bytes_past_filesz_are_not_dumped_not_zero(void)
{
	struct hc_target *t = open_ok(two_segment_core());
	CU_ASSERT_FATAL(t != NULL);
	uint8_t b[16];
	CU_ASSERT_EQUAL(hc_target_read(t, 0x12800, b, 8), HC_READ_NOT_DUMPED);
	CU_ASSERT_EQUAL(hc_target_read(t, 0x11ff8, b, 16), HC_READ_NOT_DUMPED);
	CU_ASSERT_EQUAL(hc_target_read(t, 0x11010, b, 4), HC_READ_OK);
	CU_ASSERT_EQUAL(b[0], (uint8_t)(0xff - 0x10));
	CU_ASSERT_FALSE(t->truncated);
	hc_target_destroy(t);
}

static void test_reads_span_adjacent_segments(void)
{
	struct hc_target *t = open_ok(two_segment_core());
	CU_ASSERT_FATAL(t != NULL);
	uint8_t b[8];
	CU_ASSERT_EQUAL(hc_target_read(t, 0x10ffc, b, 8), HC_READ_OK);
	CU_ASSERT_EQUAL(b[0], page_a[0xffc]);
	CU_ASSERT_EQUAL(b[3], page_a[0xfff]);
	CU_ASSERT_EQUAL(b[4], page_b[0]);
	CU_ASSERT_EQUAL(b[7], page_b[3]);
	hc_target_destroy(t);
}

static void test_unmapped_addresses_do_not_read(void)
{
	struct hc_target *t = open_ok(two_segment_core());
	CU_ASSERT_FATAL(t != NULL);
	uint64_t v;
	CU_ASSERT_EQUAL(hc_target_read(t, 0xfff8, &v, 8), HC_READ_UNMAPPED);
	CU_ASSERT_FALSE(hc_target_read_u64(t, 0x13000, &v));
	CU_ASSERT_FALSE(hc_target_read_u64(t, UINT64_MAX - 3, &v));
	CU_ASSERT_PTR_NULL(hc_target_segment(t, 0x13000));
	hc_target_destroy(t);
}

static void test_span_accessors_stay_inside_the_span(void)
{
	struct hc_target *t = open_ok(two_segment_core());
	CU_ASSERT_FATAL(t != NULL);
	struct hc_span s;
	hc_target_span(t, 0x10ff0, 1 << 20, &s);
	CU_ASSERT_EQUAL(s.len, 0x10);
	uint64_t v;
	CU_ASSERT_TRUE(hc_span_u64(&s, 0x10ff8, &v));
	CU_ASSERT_FALSE(hc_span_u64(&s, 0x10ffc, &v));
	CU_ASSERT_FALSE(hc_span_u64(&s, 0x10fe8, &v));
	hc_target_span(t, 0x12000, 16, &s);
	CU_ASSERT_EQUAL(s.len, 0);
	hc_target_destroy(t);
}

static void test_thread_registers_come_from_prstatus(void)
{
	struct hc_target *t = open_ok(two_segment_core());
	CU_ASSERT_FATAL(t != NULL);
	CU_ASSERT_EQUAL_FATAL(t->nthreads, 1);
	CU_ASSERT_EQUAL(t->threads[0].tid, 4242);
	CU_ASSERT_EQUAL(t->threads[0].pc, 0x401000);
	CU_ASSERT_EQUAL(t->threads[0].sp, 0x7ffc0000);
	CU_ASSERT_EQUAL(t->threads[0].tp, 0x7f0000001000);
	CU_ASSERT_TRUE(t->process.present);
	CU_ASSERT_STRING_EQUAL(t->process.fname, "synthprog");
	hc_target_destroy(t);
}

static const char threads_program[] =
	"#define _GNU_SOURCE\n#include <pthread.h>\n#include <stdio.h>\n#include <stdlib.h>\n"
	"#include <unistd.h>\n#include <sys/syscall.h>\n"
	"static pthread_barrier_t b;\n"
	"static void *run(void *a) { printf(\"TID %ld\\n\", (long)syscall(SYS_gettid)); fflush(stdout);"
	" pthread_barrier_wait(&b); pause(); return a; }\n"
	"int main(void) { pthread_t t[2]; pthread_barrier_init(&b, 0, 3);\n"
	" printf(\"TID %ld\\n\", (long)syscall(SYS_gettid));\n"
	" for (int i = 0; i < 2; i++) pthread_create(&t[i], 0, run, 0);\n"
	" pthread_barrier_wait(&b); usleep(100000); printf(\"READY\\n\"); fflush(stdout); pause(); }\n";

static void test_real_core_has_every_thread_and_mapped_file(void)
{
	const char *core = hc_fixture_make_core("threads3", threads_program);
	CU_ASSERT_FATAL(core != NULL);
	struct hc_target *t = open_ok(core);
	CU_ASSERT_FATAL(t != NULL);
	char path[400];
	snprintf(path, sizeof(path), "%s/threads3.out", hc_fixture_tmpdir());
	char *out = hc_fixture_read_file(path, NULL);
	CU_ASSERT_FATAL(out != NULL);
	CU_ASSERT_EQUAL(t->nthreads, 3);
	int found = 0;
	for (char *p = out; (p = strstr(p, "TID ")); p += 4) {
		int tid = atoi(p + 4);
		for (uint32_t i = 0; i < t->nthreads; i++)
			if (t->threads[i].tid == tid && t->threads[i].has_tp && t->threads[i].tp &&
			    hc_target_segment(t, t->threads[i].sp))
				found++;
	}
	CU_ASSERT_EQUAL(found, 3);
	free(out);
	bool libc = false, exe = false;
	for (uint32_t i = 0; i < t->nfiles; i++) {
		libc |= strstr(t->files[i].path, "libc.so.6") != NULL;
		exe |= strstr(t->files[i].path, "threads3") != NULL;
	}
	CU_ASSERT_TRUE(libc);
	CU_ASSERT_TRUE(exe);
	uint64_t entry;
	CU_ASSERT_TRUE(hc_target_auxv(t, AT_ENTRY, &entry));
	CU_ASSERT_PTR_NOT_NULL(hc_target_file_at(t, entry));
	CU_ASSERT_TRUE(t->process.present);
	CU_ASSERT_STRING_EQUAL(t->process.fname, "threads3");
	CU_ASSERT_FALSE(t->truncated);
	CU_ASSERT_FALSE(t->warnings.partial);
	hc_target_destroy(t);
}

/* Compresses src with a command-line tool and returns the new path. */
static const char *compress_with(const char *tool, const char *ext, const char *src)
{
	static char paths[4][400];
	static int n;
	char *out = paths[n++ % 4];
	snprintf(out, 400, "%s.%s", src, ext);
	char cmd[1000];
	snprintf(cmd, sizeof(cmd), "%s -q -c '%s' > '%s'", tool, src, out);
	return system(cmd) == 0 ? out : NULL;
}

static void assert_same_image(const char *plain, const char *packed, const char *kind)
{
	struct hc_target *a = open_ok(plain), *b = open_ok(packed);
	CU_ASSERT_FATAL(a && b);
	CU_ASSERT_NOT_EQUAL(b->compression, HC_COMPRESSION_NONE);
	CU_ASSERT_EQUAL(a->nsegments, b->nsegments);
	CU_ASSERT_EQUAL(a->nthreads, b->nthreads);
	CU_ASSERT_EQUAL(a->file_size, b->file_size);
	CU_ASSERT_FALSE(b->truncated);
	for (uint32_t i = 0; i < a->nsegments && i < b->nsegments; i++) {
		CU_ASSERT_EQUAL(a->segments[i].start, b->segments[i].start);
		CU_ASSERT_EQUAL(a->segments[i].dumped, b->segments[i].dumped);
		uint64_t x, y;
		if (a->segments[i].dumped >= 8) {
			uint64_t at = a->segments[i].start + a->segments[i].dumped - 8;
			CU_ASSERT_TRUE(hc_target_read_u64(a, at, &x) && hc_target_read_u64(b, at, &y) && x == y);
		}
	}
	(void)kind;
	hc_target_destroy(a);
	hc_target_destroy(b);
}

static void test_zstd_xz_and_lz4_cores_read_like_the_plain_core(void)
{
	const char *core = hc_fixture_make_core("threads3", threads_program);
	CU_ASSERT_FATAL(core != NULL);
	const char *z = compress_with("zstd", "zst", core), *x = compress_with("xz -T1 -0", "xz", core),
		   *l = compress_with("lz4", "lz4", core);
	CU_ASSERT_FATAL(z && x && l);
	assert_same_image(core, z, "zstd");
	assert_same_image(core, x, "xz");
	assert_same_image(core, l, "lz4");
}

/* A sum of every dumped word, so that a read after the pages went can be compared with one before. */
static uint64_t image_sum(const struct hc_target *t)
{
	uint64_t sum = 0;
	for (uint32_t i = 0; i < t->nsegments; i++) {
		const struct hc_segment *seg = &t->segments[i];
		struct hc_span span;
		hc_target_span(t, seg->start, seg->dumped, &span);
		for (uint64_t a = seg->start; a + 8 <= seg->start + seg->dumped; a += 8) {
			uint64_t v = 0;
			if (hc_span_u64(&span, a, &v))
				sum = sum * 31 + v;
		}
	}
	return sum;
}

/*
 * Passes let the core's pages go behind them (hc_target_release_range) and
 * read some again later: what comes back is the file's bytes, for a plain
 * core (its pages come back from the file) and a compressed one (its only
 * copy is in memory, so nothing goes).
 */
static void test_released_pages_read_back_the_same(void)
{
	const char *core = hc_fixture_make_core("threads3", threads_program);
	CU_ASSERT_FATAL(core != NULL);
	const char *z = compress_with("zstd", "zst", core);
	CU_ASSERT_FATAL(z != NULL);
	const char *paths[] = { core, z };
	for (int k = 0; k < 2; k++) {
		struct hc_target *t = NULL;
		CU_ASSERT_FATAL(hc_target_open_core(paths[k], &t) == NULL);
		uint64_t before = image_sum(t);
		/* pieces, unaligned ends included, then everything */
		for (uint32_t i = 0; i < t->nsegments; i++) {
			const struct hc_segment *seg = &t->segments[i];
			hc_target_release_range(t, seg->start + 3, seg->start + seg->dumped / 2 + 5);
		}
		CU_ASSERT_EQUAL(image_sum(t), before);
		struct hc_release_cursor c = { t, 0 };
		for (uint32_t i = 0; i < t->nsegments; i++)
			for (uint64_t a = t->segments[i].start; a < t->segments[i].end; a += 4096)
				hc_release_cursor_advance(&c, a);
		hc_target_release_pages(t);
		CU_ASSERT_EQUAL(image_sum(t), before);
		hc_target_destroy(t);
	}
}

static void test_cut_compressed_core_is_read_as_truncated(void)
{
	const char *core = hc_fixture_make_core("threads3", threads_program);
	CU_ASSERT_FATAL(core != NULL);
	const char *z = compress_with("zstd", "zst", core);
	CU_ASSERT_FATAL(z != NULL);
	size_t len;
	char *data = hc_fixture_read_file(z, &len);
	CU_ASSERT_FATAL(data != NULL);
	const char *cut = hc_fixture_write_file("cut.core.zst", data, len / 2);
	free(data);
	struct hc_target *t = NULL;
	struct hc_error *err = hc_target_open_core(cut, &t);
	/* half a stream is either readable in part, or too short to hold the headers */
	if (t) {
		CU_ASSERT_TRUE(t->truncated);
		CU_ASSERT_TRUE(t->warnings.partial);
		hc_target_destroy(t);
	} else {
		CU_ASSERT_TRUE(err->code == HC_ERR_DAMAGED || err->code == HC_ERR_FORMAT);
		hc_error_destroy(err);
	}
}

static void test_cstr_reads_stop_at_the_end_of_dumped_bytes(void)
{
	static char text[0x1000];
	memset(text, 'a', sizeof(text));
	struct synth_segment segs[] = { { 0x20000, 0x2000, 0x1000, PF_R, text } };
	struct synth_core c;
	synth_core_build(&c, 1, 0, 0, 0, "s", segs, 1);
	const char *p = hc_fixture_write_file("cstr.core", c.data, c.len);
	synth_core_free(&c);
	struct hc_target *t = open_ok(p);
	CU_ASSERT_FATAL(t != NULL);
	char buf[64];
	CU_ASSERT_FALSE(hc_target_read_cstr(t, 0x20ff0, buf, sizeof(buf)));
	hc_target_destroy(t);
}

static void test_aarch64_core_is_recognised_with_its_registers_and_tls(void)
{
	static uint8_t page[0x1000];
	struct synth_segment segs[] = { { 0x400000, 0x1000, 0x1000, PF_R | PF_W, page } };
	struct synth_core c;
	synth_core_build_aarch64(&c, 77, 0x400123, 0xfffff000, 0xffffa000, segs, 1);
	const char *p = hc_fixture_write_file("aarch64.core", c.data, c.len);
	synth_core_free(&c);
	struct hc_target *t = open_ok(p);
	CU_ASSERT_FATAL(t != NULL);
	CU_ASSERT_EQUAL(t->arch, HC_ARCH_AARCH64);
	CU_ASSERT_STRING_EQUAL(hc_arch_name(t->arch), "aarch64");
	CU_ASSERT_EQUAL_FATAL(t->nthreads, 1);
	CU_ASSERT_EQUAL(t->threads[0].tid, 77);
	CU_ASSERT_EQUAL(t->threads[0].nregs, 34);
	CU_ASSERT_EQUAL(t->threads[0].pc, 0x400123);
	CU_ASSERT_EQUAL(t->threads[0].sp, 0xfffff000);
	CU_ASSERT_TRUE(t->threads[0].has_tp);
	CU_ASSERT_EQUAL(t->threads[0].tp, 0xffffa000);
	hc_target_destroy(t);
}

void hc_test_register_target(void)
{
	CU_pSuite s = CU_add_suite("target", NULL, NULL);
	CU_add_test(s, "bytes past p_filesz are not dumped, not zero", test_bytes_past_filesz_are_not_dumped_not_zero);
	CU_add_test(s, "reads span adjacent segments", test_reads_span_adjacent_segments);
	CU_add_test(s, "unmapped addresses do not read", test_unmapped_addresses_do_not_read);
	CU_add_test(s, "span accessors stay inside the span", test_span_accessors_stay_inside_the_span);
	CU_add_test(s, "thread registers come from NT_PRSTATUS", test_thread_registers_come_from_prstatus);
	CU_add_test(s, "a real core has every thread and mapped file", test_real_core_has_every_thread_and_mapped_file);
	CU_add_test(s, "zstd, xz and lz4 cores read like the plain core", test_zstd_xz_and_lz4_cores_read_like_the_plain_core);
	CU_add_test(s, "a cut compressed core is read as truncated", test_cut_compressed_core_is_read_as_truncated);
	CU_add_test(s, "released pages read back the same", test_released_pages_read_back_the_same);
	CU_add_test(s, "C strings stop at the end of dumped bytes", test_cstr_reads_stop_at_the_end_of_dumped_bytes);
	CU_add_test(s, "an aarch64 core is recognised with its registers and TLS", test_aarch64_core_is_recognised_with_its_registers_and_tls);
}
