/*
 * Bad input at the file level: each gets one clear error with a documented
 * code, never a crash; damage past the headers still yields a target.
 */
#include <CUnit/CUnit.h>
#include <elf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixtures.h"
#include "heap_program.h"
#include "heapcore/glibc_heap.h"
#include "heapcore/symbols.h"
#include "heapcore/target.h"
#include "suites.h"

static void expect_error(const char *path, enum hc_error_code code, const char *words)
{
	struct hc_target *t = NULL;
	struct hc_error *err = hc_target_open_core(path, &t);
	CU_ASSERT_PTR_NULL(t);
	CU_ASSERT_PTR_NOT_NULL_FATAL(err);
	CU_ASSERT_EQUAL(err->code, code);
	CU_ASSERT_PTR_NOT_NULL(strstr(err->message, words));
	/* the message names the file and is one line */
	CU_ASSERT_PTR_NOT_NULL(strstr(err->message, path));
	CU_ASSERT_PTR_NULL(strchr(err->message, '\n'));
	if (!strstr(err->message, words))
		fprintf(stderr, "message was: %s\n", err->message);
	hc_error_destroy(err);
}

static void test_empty_file_is_not_a_core(void)
{
	expect_error(hc_fixture_write_file("empty", "", 0), HC_ERR_FORMAT, "empty");
}

static void test_text_file_is_not_elf(void)
{
	const char text[] = "this is not a core file\n";
	expect_error(hc_fixture_write_file("text", text, sizeof(text)), HC_ERR_FORMAT, "not an ELF");
}

static void test_missing_file_is_an_io_error(void)
{
	expect_error("/nonexistent/heapcore/core", HC_ERR_IO, "cannot open");
}

static void elf_ident(uint8_t *b, int cls, int data)
{
	memcpy(b, ELFMAG, SELFMAG);
	b[EI_CLASS] = cls;
	b[EI_DATA] = data;
	b[EI_VERSION] = EV_CURRENT;
}

static void test_elf32_is_refused(void)
{
	uint8_t b[sizeof(Elf32_Ehdr)] = { 0 };
	elf_ident(b, ELFCLASS32, ELFDATA2LSB);
	expect_error(hc_fixture_write_file("elf32", b, sizeof(b)), HC_ERR_FORMAT, "32-bit");
}

static void test_big_endian_is_refused(void)
{
	uint8_t b[sizeof(Elf64_Ehdr)] = { 0 };
	elf_ident(b, ELFCLASS64, ELFDATA2MSB);
	expect_error(hc_fixture_write_file("elf64be", b, sizeof(b)), HC_ERR_FORMAT, "big-endian");
}

static void test_executable_is_not_a_core(void)
{
	expect_error("/bin/true", HC_ERR_FORMAT, "not a core file");
}

static void test_unknown_machine_is_refused(void)
{
	Elf64_Ehdr eh = { 0 };
	elf_ident(eh.e_ident, ELFCLASS64, ELFDATA2LSB);
	eh.e_type = ET_CORE;
	eh.e_machine = EM_RISCV;
	eh.e_phentsize = sizeof(Elf64_Phdr);
	expect_error(hc_fixture_write_file("riscv", &eh, sizeof(eh)), HC_ERR_FORMAT, "unsupported machine");
}




/* Opens path; if that works, walks the heap. Must never crash, whatever the damage. */
static int open_and_walk(const char *path)
{
	struct hc_target *t = NULL;
	struct hc_error *err = hc_target_open_core(path, &t);
	if (err) {
		int code = err->code;
		hc_error_destroy(err);
		return code;
	}
	struct hc_symbols *s = NULL;
	struct hc_symbol_options so = { 0 };
	err = hc_symbols_open(t, &so, &s);
	if (!err) {
		struct hc_glibc_heap *h = NULL;
		err = hc_glibc_walk(t, s, NULL, &h);
		hc_glibc_heap_destroy(h);
		hc_symbols_destroy(s);
	}
	hc_error_destroy(err);
	int rc = t->truncated ? HC_ERR_DAMAGED : 0;
	hc_target_destroy(t);
	return rc;
}

static void test_core_cut_at_many_offsets_is_damaged_never_fatal(void)
{
	const char *core = hc_fixture_make_core("cli_heap", hc_heap_program);
	CU_ASSERT_FATAL(core != NULL);
	size_t len;
	char *data = hc_fixture_read_file(core, &len);
	CU_ASSERT_FATAL(data != NULL);
	/* inside the ELF header, the program headers, the notes, and the segments */
	size_t end = hc_fixture_core_data_end(core);
	CU_ASSERT_FATAL(end > 4096 && end <= len);
	size_t cuts[] = { 1, 10, 63, 64, 100, 700, 2000, 5000, len / 8, len / 4, len / 2, end - 4096, end - 1 };
	for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
		if (cuts[i] >= len)
			continue;
		const char *p = hc_fixture_write_file("cut.core", data, cuts[i]);
		int rc = open_and_walk(p);
		if (rc != HC_ERR_FORMAT && rc != HC_ERR_DAMAGED)
			fprintf(stderr, "cut at %zu gave %d\n", cuts[i], rc);
		CU_ASSERT_TRUE(rc == HC_ERR_FORMAT || rc == HC_ERR_DAMAGED);
	}
	free(data);
}

/*
 * A zstd frame header claiming a content size near 2^63: the size is a
 * claim, not a reservation (found by fuzz_core: doubling the buffer toward
 * it overflowed and never ended).
 */
static void test_zstd_frame_claiming_exabytes_is_not_believed(void)
{
	static const unsigned char frame[] = { 0x28, 0xb5, 0x2f, 0xfd, 0xd3, 0x00, 0x00, 0x00, 0xff, 0xfe, 0x2f,
					       0x16, 0x00, 0x00, 0x2f, 0x01, 0x93, 0xfd, 0xfd, 0x93, 0x10, 0x10 };
	struct hc_target *t = NULL;
	struct hc_error *err = hc_target_open_core(hc_fixture_write_file("claims.zst", frame, sizeof(frame)), &t);
	CU_ASSERT_PTR_NOT_NULL_FATAL(err);
	CU_ASSERT_EQUAL(err->code, HC_ERR_FORMAT);
	CU_ASSERT_PTR_NOT_NULL(strstr(err->message, "zstd data is corrupt"));
	hc_error_destroy(err);
	hc_target_destroy(t);
}

void hc_test_register_bad_input(void)
{
	CU_pSuite s = CU_add_suite("bad_input", NULL, NULL);
	CU_add_test(s, "an empty file is not a core", test_empty_file_is_not_a_core);
	CU_add_test(s, "a text file is not ELF", test_text_file_is_not_elf);
	CU_add_test(s, "a missing file is an I/O error", test_missing_file_is_an_io_error);
	CU_add_test(s, "ELF32 is refused", test_elf32_is_refused);
	CU_add_test(s, "big-endian ELF is refused", test_big_endian_is_refused);
	CU_add_test(s, "an executable is not a core", test_executable_is_not_a_core);
	CU_add_test(s, "an unknown machine is refused", test_unknown_machine_is_refused);
	CU_add_test(s, "a core cut at many offsets is damaged, never fatal", test_core_cut_at_many_offsets_is_damaged_never_fatal);
	CU_add_test(s, "a zstd frame claiming exabytes is not believed", test_zstd_frame_claiming_exabytes_is_not_believed);
}
