/*
 * Symbols suite: modules, build-ids, biases, file finding and verification,
 * ELF symbols, DWARF layouts and the static TLS layout, checked against a
 * real process's core (made by gcore from a small program) and against what
 * gdb and readelf say about the same files.
 */
#include <CUnit/CUnit.h>
#include <elf.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fixtures.h"
#include "heapcore/symbols.h"
#include "heapcore/target.h"
#include "suites.h"
#include "synthetic_core.h"

static const char prog_source[] =
	"#include <dlfcn.h>\n"
	"#include <fcntl.h>\n"
	"#include <stddef.h>\n"
	"#include <stdio.h>\n"
	"#include <stdlib.h>\n"
	"#include <string.h>\n"
	"#include <sys/mman.h>\n"
	"#include <unistd.h>\n"
	"struct hc_test_payload {\n"
	"	int a;\n"
	"	long b;\n"
	"	struct { char c; double d; } inner;\n"
	"	union { int u1; long u2; };\n"
	"};\n"
	"struct hc_test_payload hc_test_global = { 1, 2, { 3, 4.0 }, { 5 } };\n"
	"static char hc_test_bss[64];\n"
	"int main(void)\n"
	"{\n"
	"	void *p = malloc(100);\n"
	"	unsigned char *m = dlsym(RTLD_DEFAULT, \"malloc\");\n"
	"	char path[4096];\n"
	"	ssize_t n = readlink(\"/proc/self/exe\", path, sizeof(path) - 8);\n"
	"	if (n > 0) {\n"
	"		/* a data file in NT_FILE, which is no module */\n"
	"		strcpy(path + n, \".dat\");\n"
	"		int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);\n"
	"		static char text[8192];\n"
	"		memset(text, 'x', sizeof(text));\n"
	"		if (fd >= 0 && write(fd, text, sizeof(text)) == (ssize_t)sizeof(text))\n"
	"			mmap(NULL, sizeof(text), PROT_READ, MAP_PRIVATE, fd, 0);\n"
	"	}\n"
	"	printf(\"malloc=%lu\\nheap=%lu\\nbss=%lu\\ncode=\", (unsigned long)m, (unsigned long)p,\n"
	"	       (unsigned long)hc_test_bss);\n"
	"	for (int i = 0; i < 16; i++)\n"
	"		printf(\"%02x\", m[i]);\n"
	"	printf(\"\\noff_inner_d=%zu\\noff_u2=%zu\\nsize=%zu\\n\", offsetof(struct hc_test_payload, inner.d),\n"
	"	       offsetof(struct hc_test_payload, u2), sizeof(struct hc_test_payload));\n"
	"	printf(\"READY\\n\");\n"
	"	fflush(stdout);\n"
	"	for (;;)\n"
	"		pause();\n"
	"}\n";

/* What the program printed and what gdb says of its core, gathered once. */
static struct facts {
	bool ready;
	char core[512], bin[512], out[512], dat[512];
	uint64_t malloc_addr, bss;
	uint8_t code[16];
	uint64_t off_inner_d, off_u2, payload_size;
	/* from gdb */
	bool gdb_ok;
	uint64_t main_arena, tcache_value, tcache_tls_offset;
	uint64_t ms_top, ms_size, mp_n_mmaps, tcache_struct_size;
} F;

static char *run_capture(const char *cmd)
{
	char path[600];
	snprintf(path, sizeof(path), "%s/symbols-cmd.out", hc_fixture_tmpdir());
	char full[4096];
	snprintf(full, sizeof(full), "%s >'%s' 2>/dev/null", cmd, path);
	if (system(full) == -1)
		return NULL;
	return hc_fixture_read_file(path, NULL);
}

static bool key_u64(const char *text, const char *key, uint64_t *out)
{
	const char *p = text;
	size_t n = strlen(key);
	while ((p = strstr(p, key))) {
		if ((p == text || p[-1] == '\n') && p[n] == '=') {
			*out = strtoull(p + n + 1, NULL, 0);
			return true;
		}
		p += n;
	}
	return false;
}

/* A ptype /o line: "(slash-star)     96      |       8 (star-slash)    mchunkptr top;" */
static bool ptype_offset(const char *text, const char *member, uint64_t *off)
{
	char want[64];
	snprintf(want, sizeof(want), " %s;", member);
	for (const char *line = text; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
		const char *end = strchr(line, '\n');
		size_t len = end ? (size_t)(end - line) : strlen(line);
		size_t wl = strlen(want);
		unsigned long o, sz;
		if (len > wl && !strncmp(line + len - wl, want, wl) && sscanf(line, "/* %lu | %lu */", &o, &sz) == 2) {
			*off = o;
			return true;
		}
	}
	return false;
}

static const struct facts *facts(void)
{
	if (F.ready)
		return &F;
	const char *core = hc_fixture_make_core("symbols_prog", prog_source);
	if (!core)
		return NULL;
	snprintf(F.core, sizeof(F.core), "%s", core);
	snprintf(F.bin, sizeof(F.bin), "%s/symbols_prog", hc_fixture_tmpdir());
	snprintf(F.out, sizeof(F.out), "%s/symbols_prog.out", hc_fixture_tmpdir());
	snprintf(F.dat, sizeof(F.dat), "%s/symbols_prog.dat", hc_fixture_tmpdir());
	char *out = hc_fixture_read_file(F.out, NULL);
	if (!out)
		return NULL;
	key_u64(out, "malloc", &F.malloc_addr);
	key_u64(out, "bss", &F.bss);
	key_u64(out, "off_inner_d", &F.off_inner_d);
	key_u64(out, "off_u2", &F.off_u2);
	key_u64(out, "size", &F.payload_size);
	const char *code = strstr(out, "code=");
	for (int i = 0; code && i < 16; i++) {
		unsigned v;
		if (sscanf(code + 5 + 2 * i, "%2x", &v) == 1)
			F.code[i] = (uint8_t)v;
	}
	free(out);

	char cmd[2048];
	snprintf(cmd, sizeof(cmd),
		 "gdb -batch -nx -ex 'printf \"arena=%%lu\\n\", (unsigned long)&main_arena'"
		 " -ex 'printf \"tcache=%%lu\\n\", (unsigned long)tcache'"
		 " -ex 'printf \"n_mmaps=%%lu\\n\", (unsigned long)&((struct malloc_par *)0)->n_mmaps'"
		 " -ex 'printf \"tcache_struct=%%lu\\n\", (unsigned long)sizeof(struct tcache_perthread_struct)'"
		 " -ex 'info address tcache' -ex 'ptype /o struct malloc_state' '%s' '%s'",
		 F.bin, F.core);
	char *g = run_capture(cmd);
	if (g) {
		const char *tls = strstr(g, "thread-local variable at offset ");
		const char *total = strstr(g, "total size (bytes):");
		F.gdb_ok = key_u64(g, "arena", &F.main_arena) && key_u64(g, "tcache", &F.tcache_value) &&
			   key_u64(g, "n_mmaps", &F.mp_n_mmaps) && key_u64(g, "tcache_struct", &F.tcache_struct_size) &&
			   tls && total && ptype_offset(g, "top", &F.ms_top);
		if (tls)
			F.tcache_tls_offset = strtoull(tls + strlen("thread-local variable at offset "), NULL, 0);
		if (total)
			F.ms_size = strtoull(total + strlen("total size (bytes):"), NULL, 10);
		free(g);
	}
	F.ready = true;
	return &F;
}

struct opened {
	struct hc_target *t;
	struct hc_symbols *s;
};

static bool open_core(const char *core, const struct hc_symbol_options *o, struct opened *x)
{
	memset(x, 0, sizeof(*x));
	struct hc_error *err = hc_target_open_core(core, &x->t);
	if (err) {
		fprintf(stderr, "open %s: %s\n", core, err->message);
		hc_error_destroy(err);
		return false;
	}
	err = hc_symbols_open(x->t, o, &x->s);
	if (err) {
		fprintf(stderr, "symbols: %s\n", err->message);
		hc_error_destroy(err);
		hc_target_destroy(x->t);
		return false;
	}
	return true;
}

static void close_core(struct opened *x)
{
	hc_symbols_destroy(x->s);
	hc_target_destroy(x->t);
}

static bool open_prog(const struct hc_symbol_options *o, struct opened *x)
{
	const struct facts *f = facts();
	return f && open_core(f->core, o, x);
}

static bool warning_has(const struct hc_target *t, const char *a, const char *b)
{
	for (unsigned i = 0; i < t->warnings.count; i++) {
		const char *m = t->warnings.items[i].message;
		if (strstr(m, a) && (!b || strstr(m, b)))
			return true;
	}
	return false;
}

static bool readelf_build_id(const char *path, char *hex, size_t len)
{
	char cmd[1200];
	snprintf(cmd, sizeof(cmd), "readelf -n '%s' | sed -n 's/.*Build ID: *//p'", path);
	char *out = run_capture(cmd);
	if (!out)
		return false;
	char *nl = strchr(out, '\n');
	if (nl)
		*nl = 0;
	snprintf(hex, len, "%s", out);
	free(out);
	return hex[0] != 0;
}

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...)
{
	char cmd[4096];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	return system(cmd);
}

static const struct hc_module *libc_of(const struct opened *x)
{
	return hc_symbols_module_by_name(x->s, "libc.so");
}

/* ---- modules and build-ids ---- */

static void test_modules_come_from_nt_file_sorted_with_main_marked(void)
{
	struct opened x;
	CU_ASSERT_FATAL(open_prog(NULL, &x));
	const struct hc_module *main_m = hc_symbols_main_module(x.s);
	CU_ASSERT_PTR_NOT_NULL_FATAL(main_m);
	CU_ASSERT_STRING_EQUAL(main_m->name, F.bin);
	CU_ASSERT_PTR_NOT_NULL(libc_of(&x));
	CU_ASSERT_PTR_NOT_NULL(hc_symbols_module_by_name(x.s, "ld-linux"));
	CU_ASSERT_PTR_NOT_NULL(hc_symbols_module_by_name(x.s, "[vdso]"));
	CU_ASSERT_PTR_NULL(hc_symbols_module_by_name(x.s, "libc-"));
	unsigned mains = 0;
	for (uint32_t i = 0; i < x.s->nmodules; i++) {
		const struct hc_module *m = &x.s->modules[i];
		mains += m->is_main;
		CU_ASSERT(m->start < m->end);
		CU_ASSERT(m->bias_known);
		if (i > 0)
			CU_ASSERT(x.s->modules[i - 1].end <= m->start);
		CU_ASSERT_PTR_EQUAL(hc_symbols_module_at(x.s, m->start), m);
		CU_ASSERT_PTR_EQUAL(hc_symbols_module_at(x.s, m->end - 1), m);
	}
	CU_ASSERT_EQUAL(mains, 1);
	CU_ASSERT_PTR_NULL(hc_symbols_module_at(x.s, 0x1000));
	close_core(&x);
}

static void test_build_id_read_from_core_memory_matches_readelf(void)
{
	/* no_files: every build-id below came from the core's memory. */
	struct hc_symbol_options o = { .no_files = true };
	struct opened x;
	CU_ASSERT_FATAL(open_prog(&o, &x));
	unsigned checked = 0;
	for (uint32_t i = 0; i < x.s->nmodules; i++) {
		const struct hc_module *m = &x.s->modules[i];
		if (m->name[0] != '/')
			continue;
		char want[160], got[160];
		CU_ASSERT_FATAL(readelf_build_id(m->name, want, sizeof(want)));
		hc_build_id_hex(m->build_id, m->build_id_len, got);
		CU_ASSERT_STRING_EQUAL(got, want);
		checked++;
	}
	CU_ASSERT(checked >= 3);
	close_core(&x);
}

static void test_data_file_in_nt_file_is_not_a_module(void)
{
	struct hc_symbol_options nofiles = { .no_files = true };
	const struct hc_symbol_options *opts[] = { NULL, &nofiles };
	for (unsigned k = 0; k < 2; k++) {
		struct opened x;
		CU_ASSERT_FATAL(open_prog(opts[k], &x));
		bool in_nt_file = false;
		for (uint32_t i = 0; i < x.t->nfiles; i++)
			in_nt_file |= !strcmp(x.t->files[i].path, F.dat);
		CU_ASSERT(in_nt_file);
		for (uint32_t i = 0; i < x.s->nmodules; i++)
			CU_ASSERT_STRING_NOT_EQUAL(x.s->modules[i].name, F.dat);
		close_core(&x);
	}
}

static void test_no_files_still_yields_modules_and_build_ids(void)
{
	struct hc_symbol_options o = { .no_files = true };
	struct opened x;
	CU_ASSERT_FATAL(open_prog(&o, &x));
	CU_ASSERT(x.s->nmodules >= 4);
	for (uint32_t i = 0; i < x.s->nmodules; i++) {
		const struct hc_module *m = &x.s->modules[i];
		CU_ASSERT_EQUAL(m->file_status, HC_MODULE_FILE_MISSING);
		CU_ASSERT_PTR_NULL(m->file_path);
		CU_ASSERT_PTR_NULL(m->debug_path);
		CU_ASSERT(m->build_id_len == 20);
		CU_ASSERT(m->bias_known);
	}
	CU_ASSERT(!warning_has(x.t, "no file found", NULL));
	struct hc_symbol sym;
	CU_ASSERT(!hc_symbols_lookup(x.s, NULL, "malloc", &sym));
	/* The core's own program headers still give libc's code range. */
	uint64_t lo, hi;
	CU_ASSERT(hc_symbols_code_range(x.s, libc_of(&x), &lo, &hi));
	CU_ASSERT(F.malloc_addr >= lo && F.malloc_addr < hi);
	char buf[128];
	CU_ASSERT(hc_symbols_describe(x.s, F.malloc_addr, buf, sizeof(buf)));
	CU_ASSERT(!strncmp(buf, "libc.so.6+0x", 12));
	uint8_t code[16];
	CU_ASSERT_EQUAL(hc_symbols_read_file(x.s, NULL, F.malloc_addr, code, sizeof(code)), HC_READ_UNMAPPED);
	close_core(&x);
}

/* ---- symbols ---- */

static void test_main_arena_found_with_default_debug_dirs(void)
{
	struct opened x;
	CU_ASSERT_FATAL(open_prog(NULL, &x));
	CU_ASSERT_FATAL(F.gdb_ok);
	const struct hc_module *libc = libc_of(&x);
	CU_ASSERT_PTR_NOT_NULL_FATAL(libc);
	CU_ASSERT_EQUAL(libc->file_status, HC_MODULE_FILE_FOUND);
	CU_ASSERT_PTR_NOT_NULL(libc->debug_path);
	CU_ASSERT(libc->has_symtab);
	CU_ASSERT(libc->has_dwarf);
	struct hc_symbol sym;
	CU_ASSERT_FATAL(hc_symbols_lookup(x.s, NULL, "main_arena", &sym));
	CU_ASSERT_EQUAL(sym.address, F.main_arena);
	CU_ASSERT(!sym.is_tls);
	CU_ASSERT_EQUAL(sym.type, STT_OBJECT);
	CU_ASSERT_FATAL(hc_symbols_lookup(x.s, libc, "main_arena", &sym));
	CU_ASSERT_EQUAL(sym.address, F.main_arena);
	close_core(&x);
}

static void test_main_arena_not_found_without_default_debug_dirs(void)
{
	struct hc_symbol_options o = { .no_default_debug_dirs = true };
	struct opened x;
	CU_ASSERT_FATAL(open_prog(&o, &x));
	const struct hc_module *libc = libc_of(&x);
	CU_ASSERT_PTR_NOT_NULL_FATAL(libc);
	CU_ASSERT_EQUAL(libc->file_status, HC_MODULE_FILE_FOUND);
	CU_ASSERT_PTR_NULL(libc->debug_path);
	CU_ASSERT(!libc->has_symtab);
	CU_ASSERT(!libc->has_dwarf);
	struct hc_symbol sym;
	CU_ASSERT(!hc_symbols_lookup(x.s, NULL, "main_arena", &sym));
	uint64_t off;
	CU_ASSERT(!hc_symbols_member_offset(x.s, libc, "malloc_state", "top", &off));
	close_core(&x);
}

static void test_malloc_found_via_dynsym_without_debug_info(void)
{
	struct hc_symbol_options o = { .no_default_debug_dirs = true };
	struct opened x;
	CU_ASSERT_FATAL(open_prog(&o, &x));
	struct hc_symbol sym;
	CU_ASSERT_FATAL(hc_symbols_lookup(x.s, NULL, "malloc", &sym));
	/* What dlsym() said in the process. */
	CU_ASSERT_EQUAL(sym.address, F.malloc_addr);
	CU_ASSERT_EQUAL(sym.type, STT_FUNC);
	CU_ASSERT(sym.size > 0);
	CU_ASSERT_STRING_EQUAL(sym.name, "malloc");
	close_core(&x);
}

static void test_tls_symbol_tcache_found_with_is_tls(void)
{
	struct opened x;
	CU_ASSERT_FATAL(open_prog(NULL, &x));
	CU_ASSERT_FATAL(F.gdb_ok);
	struct hc_symbol sym;
	CU_ASSERT_FATAL(hc_symbols_lookup(x.s, libc_of(&x), "tcache", &sym));
	CU_ASSERT(sym.is_tls);
	CU_ASSERT_EQUAL(sym.type, STT_TLS);
	CU_ASSERT_EQUAL(sym.address, F.tcache_tls_offset);
	close_core(&x);
}

static void test_static_tls_offset_reaches_the_threads_tcache(void)
{
	struct opened x;
	CU_ASSERT_FATAL(open_prog(NULL, &x));
	CU_ASSERT_FATAL(F.gdb_ok);
	struct hc_symbol sym;
	int64_t off;
	CU_ASSERT_FATAL(hc_symbols_lookup(x.s, libc_of(&x), "tcache", &sym));
	CU_ASSERT_FATAL(hc_symbols_static_tls_offset(x.s, libc_of(&x), &off));
	CU_ASSERT_FATAL(x.t->nthreads >= 1 && x.t->threads[0].has_tp);
	uint64_t value = 0;
	CU_ASSERT(hc_target_read_u64(x.t, x.t->threads[0].tp + (uint64_t)off + sym.address, &value));
	CU_ASSERT_EQUAL(value, F.tcache_value);
	close_core(&x);
}

static void test_describe_names_symbol_plus_offset(void)
{
	struct opened x;
	CU_ASSERT_FATAL(open_prog(NULL, &x));
	char buf[128];
	CU_ASSERT(hc_symbols_describe(x.s, F.malloc_addr, buf, sizeof(buf)));
	CU_ASSERT_STRING_EQUAL(buf, "malloc");
	CU_ASSERT(hc_symbols_describe(x.s, F.malloc_addr + 0x10, buf, sizeof(buf)));
	CU_ASSERT_STRING_EQUAL(buf, "malloc+0x10");
	CU_ASSERT(hc_symbols_describe(x.s, F.main_arena + 96, buf, sizeof(buf)));
	CU_ASSERT_STRING_EQUAL(buf, "main_arena+0x60");
	CU_ASSERT(!hc_symbols_describe(x.s, 0x10, buf, sizeof(buf)));
	close_core(&x);
}

static void test_read_file_returns_the_code_the_process_ran(void)
{
	struct opened x;
	CU_ASSERT_FATAL(open_prog(NULL, &x));
	uint8_t code[16];
	CU_ASSERT_EQUAL(hc_symbols_read_file(x.s, NULL, F.malloc_addr, code, sizeof(code)), HC_READ_OK);
	CU_ASSERT(!memcmp(code, F.code, sizeof(code)));
	CU_ASSERT_EQUAL(hc_symbols_read_file(x.s, libc_of(&x), F.malloc_addr, code, sizeof(code)), HC_READ_OK);
	/* .bss: in a PT_LOAD, but the file holds no bytes of it. */
	CU_ASSERT_EQUAL(hc_symbols_read_file(x.s, NULL, F.bss, code, 8), HC_READ_NOT_DUMPED);
	CU_ASSERT_EQUAL(hc_symbols_read_file(x.s, NULL, 0x10, code, 8), HC_READ_UNMAPPED);
	uint64_t lo, hi;
	CU_ASSERT(hc_symbols_code_range(x.s, libc_of(&x), &lo, &hi));
	CU_ASSERT(F.malloc_addr >= lo && F.malloc_addr < hi);
	close_core(&x);
}

static void test_vdso_symbols_come_from_the_core_even_with_no_files(void)
{
	struct hc_symbol_options o = { .no_files = true };
	struct opened x;
	CU_ASSERT_FATAL(open_prog(&o, &x));
	const struct hc_module *vdso = hc_symbols_module_by_name(x.s, "[vdso]");
	CU_ASSERT_PTR_NOT_NULL_FATAL(vdso);
	CU_ASSERT_EQUAL(vdso->file_status, HC_MODULE_FILE_MISSING);
	struct hc_symbol sym;
	CU_ASSERT_FATAL(hc_symbols_lookup(x.s, vdso, "__vdso_clock_gettime", &sym));
	CU_ASSERT(sym.address >= vdso->start && sym.address < vdso->end);
	char buf[128];
	CU_ASSERT(hc_symbols_describe(x.s, sym.address + 1, buf, sizeof(buf)));
	CU_ASSERT(strstr(buf, "clock_gettime+0x1") != NULL);
	uint8_t b;
	CU_ASSERT_EQUAL(hc_symbols_read_file(x.s, vdso, sym.address, &b, 1), HC_READ_UNMAPPED);
	close_core(&x);
}

/* ---- finding and refusing files ---- */

static void test_mismatched_build_id_is_refused(void)
{
	struct hc_symbol_options o = { .binary = "/bin/true" };
	struct opened x;
	CU_ASSERT_FATAL(open_prog(&o, &x));
	const struct hc_module *m = hc_symbols_main_module(x.s);
	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	CU_ASSERT_EQUAL(m->file_status, HC_MODULE_FILE_MISMATCH);
	CU_ASSERT_PTR_NULL(m->file_path);
	CU_ASSERT(!m->has_symtab);
	char core_hex[160], file_hex[160];
	hc_build_id_hex(m->build_id, m->build_id_len, core_hex);
	CU_ASSERT_FATAL(readelf_build_id("/bin/true", file_hex, sizeof(file_hex)));
	CU_ASSERT(warning_has(x.t, F.bin, "/bin/true"));
	CU_ASSERT(warning_has(x.t, core_hex, file_hex));
	struct hc_symbol sym;
	CU_ASSERT(!hc_symbols_lookup(x.s, m, "hc_test_global", &sym));
	/* The other modules are untouched. */
	CU_ASSERT_EQUAL(libc_of(&x)->file_status, HC_MODULE_FILE_FOUND);
	close_core(&x);
}

static void test_binary_option_names_the_executable_file(void)
{
	const struct facts *f = facts();
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	char copy[600];
	snprintf(copy, sizeof(copy), "%s/renamed-exe", hc_fixture_tmpdir());
	CU_ASSERT_FATAL(sh("cp '%s' '%s'", f->bin, copy) == 0);
	struct hc_symbol_options o = { .binary = copy };
	struct opened x;
	CU_ASSERT_FATAL(open_prog(&o, &x));
	const struct hc_module *m = hc_symbols_main_module(x.s);
	CU_ASSERT_EQUAL(m->file_status, HC_MODULE_FILE_FOUND);
	CU_ASSERT_STRING_EQUAL(m->file_path, copy);
	struct hc_symbol sym;
	CU_ASSERT(hc_symbols_lookup(x.s, m, "hc_test_global", &sym));
	CU_ASSERT(m->has_dwarf);
	close_core(&x);
}

static void test_sysroot_prefixes_every_path(void)
{
	const struct facts *f = facts();
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	struct opened plain;
	CU_ASSERT_FATAL(open_prog(NULL, &plain));
	const struct hc_module *libc = libc_of(&plain);
	char root[512], libc_name[512], debug[2048], debug_src[512];
	snprintf(root, sizeof(root), "%s/sysroot", hc_fixture_tmpdir());
	snprintf(libc_name, sizeof(libc_name), "%s", libc->name);
	snprintf(debug_src, sizeof(debug_src), "%s", libc->debug_path);
	char hex[160];
	hc_build_id_hex(libc->build_id, libc->build_id_len, hex);
	snprintf(debug, sizeof(debug), "%s/usr/lib/debug/.build-id/%.2s/%s.debug", root, hex, hex + 2);
	close_core(&plain);
	/* The executable and libc only: ld.so stays missing. */
	CU_ASSERT_FATAL(sh("mkdir -p '%s' && cp --parents '%s' '%s' '%s'", root, f->bin, libc_name, root) == 0);

	struct hc_symbol_options o = { .sysroot = root };
	struct opened x;
	CU_ASSERT_FATAL(open_prog(&o, &x));
	char want[2048];
	snprintf(want, sizeof(want), "%s%s", root, libc_name);
	CU_ASSERT_EQUAL(libc_of(&x)->file_status, HC_MODULE_FILE_FOUND);
	CU_ASSERT_STRING_EQUAL(libc_of(&x)->file_path, want);
	snprintf(want, sizeof(want), "%s%s", root, f->bin);
	CU_ASSERT_STRING_EQUAL(hc_symbols_main_module(x.s)->file_path, want);
	const struct hc_module *ld = hc_symbols_module_by_name(x.s, "ld-linux");
	CU_ASSERT_EQUAL(ld->file_status, HC_MODULE_FILE_MISSING);
	CU_ASSERT(warning_has(x.t, ld->name, "no file found"));
	/* The default debug dir is the sysroot's, which holds nothing yet. */
	struct hc_symbol sym;
	CU_ASSERT(!hc_symbols_lookup(x.s, NULL, "main_arena", &sym));
	CU_ASSERT(hc_symbols_lookup(x.s, NULL, "malloc", &sym));
	CU_ASSERT_EQUAL(sym.address, f->malloc_addr);
	close_core(&x);

	CU_ASSERT_FATAL(sh("mkdir -p \"$(dirname '%s')\" && cp '%s' '%s'", debug, debug_src, debug) == 0);
	CU_ASSERT_FATAL(open_prog(&o, &x));
	CU_ASSERT_STRING_EQUAL(libc_of(&x)->debug_path, debug);
	CU_ASSERT(hc_symbols_lookup(x.s, NULL, "main_arena", &sym));
	CU_ASSERT_EQUAL(sym.address, f->main_arena);
	close_core(&x);
}

static void test_debug_dir_option_is_searched_by_build_id(void)
{
	struct opened plain;
	CU_ASSERT_FATAL(open_prog(NULL, &plain));
	const struct hc_module *libc = libc_of(&plain);
	char dir[512], link[1024], hex[160];
	snprintf(dir, sizeof(dir), "%s/debugdir", hc_fixture_tmpdir());
	hc_build_id_hex(libc->build_id, libc->build_id_len, hex);
	snprintf(link, sizeof(link), "%s/.build-id/%.2s/%s.debug", dir, hex, hex + 2);
	CU_ASSERT_FATAL(sh("mkdir -p '%s/.build-id/%.2s' && ln -sf '%s' '%s'", dir, hex, libc->debug_path, link) == 0);
	close_core(&plain);

	const char *dirs[] = { dir };
	struct hc_symbol_options o = { .debug_dirs = dirs, .ndebug_dirs = 1, .no_default_debug_dirs = true };
	struct opened x;
	CU_ASSERT_FATAL(open_prog(&o, &x));
	CU_ASSERT_STRING_EQUAL(libc_of(&x)->debug_path, link);
	struct hc_symbol sym;
	CU_ASSERT(hc_symbols_lookup(x.s, NULL, "main_arena", &sym));
	CU_ASSERT_EQUAL(sym.address, F.main_arena);
	close_core(&x);
}

static void test_debug_file_with_other_build_id_is_refused(void)
{
	struct opened plain;
	CU_ASSERT_FATAL(open_prog(NULL, &plain));
	const struct hc_module *libc = libc_of(&plain);
	const struct hc_module *ld = hc_symbols_module_by_name(plain.s, "ld-linux");
	CU_ASSERT_FATAL(ld && ld->debug_path);
	char dir[512], path[1024], hex[160];
	snprintf(dir, sizeof(dir), "%s/baddebug", hc_fixture_tmpdir());
	hc_build_id_hex(libc->build_id, libc->build_id_len, hex);
	snprintf(path, sizeof(path), "%s/.build-id/%.2s/%s.debug", dir, hex, hex + 2);
	/* ld.so's debug file under libc's build-id. */
	CU_ASSERT_FATAL(sh("mkdir -p '%s/.build-id/%.2s' && cp '%s' '%s'", dir, hex, ld->debug_path, path) == 0);
	close_core(&plain);

	const char *dirs[] = { dir };
	struct hc_symbol_options o = { .debug_dirs = dirs, .ndebug_dirs = 1, .no_default_debug_dirs = true };
	struct opened x;
	CU_ASSERT_FATAL(open_prog(&o, &x));
	CU_ASSERT_PTR_NULL(libc_of(&x)->debug_path);
	CU_ASSERT(warning_has(x.t, "debug file", path));
	struct hc_symbol sym;
	CU_ASSERT(!hc_symbols_lookup(x.s, NULL, "main_arena", &sym));
	close_core(&x);
}

static void test_debuglink_is_followed_and_dwarf_read(void)
{
	const struct facts *f = facts();
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	char dir[512], stripped[1024], dbg[1024], dbgdir[1024];
	snprintf(dir, sizeof(dir), "%s/debuglink", hc_fixture_tmpdir());
	snprintf(stripped, sizeof(stripped), "%s/prog.stripped", dir);
	snprintf(dbg, sizeof(dbg), "%s/prog.debug", dir);
	snprintf(dbgdir, sizeof(dbgdir), "%s/dbg", dir);
	/* DEBUGDIR/<the executable's directory as the core names it>/<debuglink> */
	CU_ASSERT_FATAL(sh("mkdir -p '%s' && cd '%s' && objcopy --only-keep-debug '%s' prog.debug && "
			   "objcopy --strip-all --add-gnu-debuglink=prog.debug '%s' prog.stripped && "
			   "mkdir -p '%s'\"$(dirname '%s')\" && mv prog.debug '%s'\"$(dirname '%s')\"/",
			   dir, dir, f->bin, f->bin, dbgdir, f->bin, dbgdir, f->bin) == 0);
	const char *dirs[] = { dbgdir };
	struct hc_symbol_options o = { .binary = stripped, .debug_dirs = dirs, .ndebug_dirs = 1,
				       .no_default_debug_dirs = true };
	struct opened x;
	CU_ASSERT_FATAL(open_prog(&o, &x));
	const struct hc_module *m = hc_symbols_main_module(x.s);
	CU_ASSERT_EQUAL(m->file_status, HC_MODULE_FILE_FOUND);
	CU_ASSERT_STRING_EQUAL(m->file_path, stripped);
	CU_ASSERT_PTR_NOT_NULL_FATAL(m->debug_path);
	CU_ASSERT(strstr(m->debug_path, "/dbg/") && strstr(m->debug_path, "prog.debug"));
	CU_ASSERT(m->has_symtab);
	CU_ASSERT(m->has_dwarf);
	struct hc_symbol sym;
	CU_ASSERT(hc_symbols_lookup(x.s, m, "hc_test_global", &sym));
	uint64_t v;
	CU_ASSERT(hc_symbols_member_offset(x.s, m, "hc_test_payload", "inner.d", &v) && v == f->off_inner_d);
	/* u2 lives in an anonymous union. */
	CU_ASSERT(hc_symbols_member_offset(x.s, m, "struct hc_test_payload", "u2", &v) && v == f->off_u2);
	CU_ASSERT(hc_symbols_struct_size(x.s, m, "hc_test_payload", &v) && v == f->payload_size);
	close_core(&x);
}

/* ---- DWARF ---- */

static void test_malloc_state_top_offset_matches_gdb(void)
{
	struct opened x;
	CU_ASSERT_FATAL(open_prog(NULL, &x));
	CU_ASSERT_FATAL(F.gdb_ok);
	const struct hc_module *libc = libc_of(&x);
	uint64_t off = 0, size = 0;
	CU_ASSERT(hc_symbols_member_offset(x.s, libc, "malloc_state", "top", &off));
	CU_ASSERT_EQUAL(off, F.ms_top);
	CU_ASSERT(hc_symbols_struct_size(x.s, libc, "struct malloc_state", &size));
	CU_ASSERT_EQUAL(size, F.ms_size);
	close_core(&x);
}

static void test_struct_questions_after_the_first_come_from_the_index(void)
{
	struct opened x;
	CU_ASSERT_FATAL(open_prog(NULL, &x));
	CU_ASSERT_FATAL(F.gdb_ok);
	const struct hc_module *libc = libc_of(&x);
	uint64_t v;
	CU_ASSERT(hc_symbols_struct_size(x.s, libc, "tcache_perthread_struct", &v));
	double built = hc_symbols_dwarf_index_seconds(libc);
	CU_ASSERT_EQUAL(v, F.tcache_struct_size);
	CU_ASSERT_FATAL(hc_symbols_member_offset(x.s, libc, "malloc_par", "n_mmaps", &v));
	CU_ASSERT_EQUAL(v, F.mp_n_mmaps);
	/* the index was built by the first question, not again */
	CU_ASSERT(hc_symbols_dwarf_index_seconds(libc) == built);
	/* A typedef names a struct too. */
	CU_ASSERT(hc_symbols_struct_size(x.s, libc, "heap_info", &v) && v > 0);
	close_core(&x);
}

static void test_unknown_struct_or_member_is_not_found(void)
{
	struct opened x;
	CU_ASSERT_FATAL(open_prog(NULL, &x));
	const struct hc_module *libc = libc_of(&x);
	uint64_t v;
	CU_ASSERT(!hc_symbols_struct_size(x.s, libc, "no_such_struct_hc", &v));
	CU_ASSERT(!hc_symbols_member_offset(x.s, libc, "malloc_state", "no_such_member", &v));
	CU_ASSERT(!hc_symbols_member_offset(x.s, libc, "malloc_state", "top.x", &v));
	CU_ASSERT(!hc_symbols_member_offset(x.s, libc, "union malloc_state", "top", &v));
	CU_ASSERT(!hc_symbols_struct_size(x.s, hc_symbols_module_by_name(x.s, "[vdso]"), "malloc_state", &v));
	close_core(&x);
}

static void test_dwz_alt_file_types_are_found_by_build_id(void)
{
	const struct facts *f = facts();
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	if (sh("command -v dwz >/dev/null 2>&1") != 0) {
		printf("\n    skipped: dwz is not installed ");
		return;
	}
	char dir[512], a[700], common[700], hex[160];
	snprintf(dir, sizeof(dir), "%s/dwz", hc_fixture_tmpdir());
	snprintf(a, sizeof(a), "%s/a", dir);
	snprintf(common, sizeof(common), "%s/common.debug", dir);
	/* Two copies share every DIE, so dwz moves the types into the common file. */
	CU_ASSERT_FATAL(sh("mkdir -p '%s' && cd '%s' && cp '%s' a && cp '%s' b && "
			   "dwz -m common.debug -M /nonexistent/common.debug a b",
			   dir, dir, f->bin, f->bin) == 0);
	CU_ASSERT_FATAL(sh("readelf --debug-dump=info '%s' | grep -q hc_test_payload", common) == 0);
	CU_ASSERT_FATAL(readelf_build_id(common, hex, sizeof(hex)));
	/* Findable only by build-id in the debug dir: the link names a path that does not exist. */
	CU_ASSERT_FATAL(sh("cd '%s' && mkdir -p dbg/.build-id/%.2s && mv common.debug dbg/.build-id/%.2s/%s.debug", dir,
			   hex, hex, hex + 2) == 0);
	char dbg[700];
	snprintf(dbg, sizeof(dbg), "%s/dbg", dir);
	const char *dirs[] = { dbg };
	struct hc_symbol_options o = { .binary = a, .debug_dirs = dirs, .ndebug_dirs = 1, .no_default_debug_dirs = true };
	struct opened x;
	CU_ASSERT_FATAL(open_prog(&o, &x));
	const struct hc_module *m = hc_symbols_main_module(x.s);
	CU_ASSERT_EQUAL(m->file_status, HC_MODULE_FILE_FOUND);
	CU_ASSERT(m->has_dwarf);
	uint64_t v;
	CU_ASSERT(hc_symbols_struct_size(x.s, m, "hc_test_payload", &v) && v == f->payload_size);
	CU_ASSERT(hc_symbols_member_offset(x.s, m, "hc_test_payload", "inner.d", &v) && v == f->off_inner_d);
	close_core(&x);
}

/* ---- the link map ---- */

/* Rewrites the NT_FILE note's type in a copy of the core so that readers skip it. */
static bool hide_nt_file(const char *path)
{
	size_t len;
	char *data = hc_fixture_read_file(path, &len);
	if (!data || len < sizeof(Elf64_Ehdr))
		return false;
	Elf64_Ehdr eh;
	memcpy(&eh, data, sizeof(eh));
	bool done = false;
	for (unsigned i = 0; i < eh.e_phnum && !done; i++) {
		Elf64_Phdr ph;
		memcpy(&ph, data + eh.e_phoff + i * sizeof(ph), sizeof(ph));
		if (ph.p_type != PT_NOTE)
			continue;
		for (uint64_t off = ph.p_offset; off + 12 <= ph.p_offset + ph.p_filesz;) {
			uint32_t h[3];
			memcpy(h, data + off, 12);
			if (h[2] == 0x46494c45) {
				h[2] = 0x46494c00;
				memcpy(data + off, h, 12);
				done = true;
				break;
			}
			off += 12 + ((h[0] + 3) & ~3u) + ((h[1] + 3) & ~3u);
		}
	}
	FILE *f = done ? fopen(path, "wb") : NULL;
	bool ok = f && fwrite(data, 1, len, f) == len;
	if (f)
		fclose(f);
	free(data);
	return ok;
}

static void test_link_map_supplies_modules_when_nt_file_is_absent(void)
{
	const struct facts *f = facts();
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	struct opened plain;
	CU_ASSERT_FATAL(open_prog(NULL, &plain));
	const char *copy = hc_fixture_copy_file("symbols-no-nt-file.core", f->core, 0);
	CU_ASSERT_FATAL(copy && hide_nt_file(copy));
	struct opened x;
	CU_ASSERT_FATAL(open_core(copy, NULL, &x));
	CU_ASSERT_EQUAL(x.t->nfiles, 0);
	const struct hc_module *main_m = hc_symbols_main_module(x.s);
	CU_ASSERT_PTR_NOT_NULL_FATAL(main_m);
	CU_ASSERT_EQUAL(main_m->bias, hc_symbols_main_module(plain.s)->bias);
	const struct hc_module *libc = libc_of(&x);
	CU_ASSERT_PTR_NOT_NULL_FATAL(libc);
	CU_ASSERT(libc->bias_known);
	CU_ASSERT_EQUAL(libc->bias, libc_of(&plain)->bias);
	CU_ASSERT_EQUAL(libc->build_id_len, libc_of(&plain)->build_id_len);
	CU_ASSERT(!memcmp(libc->build_id, libc_of(&plain)->build_id, libc->build_id_len));
	CU_ASSERT(hc_symbols_module_by_name(x.s, "ld-linux") != NULL);
	struct hc_symbol sym;
	CU_ASSERT(hc_symbols_lookup(x.s, NULL, "main_arena", &sym));
	CU_ASSERT_EQUAL(sym.address, f->main_arena);
	close_core(&x);
	close_core(&plain);
}

static bool patch_u64(const char *path, const struct hc_target *t, uint64_t addr, uint64_t value)
{
	const struct hc_segment *seg = hc_target_segment(t, addr);
	if (!seg || addr + 8 > seg->start + seg->dumped)
		return false;
	FILE *f = fopen(path, "r+b");
	if (!f)
		return false;
	bool ok = fseek(f, (long)(seg->core_offset + (addr - seg->start)), SEEK_SET) == 0 &&
		  fwrite(&value, 8, 1, f) == 1;
	fclose(f);
	return ok;
}

static void test_link_map_cycle_ends_walk_with_warning(void)
{
	const struct facts *f = facts();
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	const char *copy = hc_fixture_copy_file("symbols-cycle.core", f->core, 0);
	CU_ASSERT_FATAL(copy && hide_nt_file(copy));
	struct opened plain;
	CU_ASSERT_FATAL(open_prog(NULL, &plain));
	/* The last entry's l_next back to the first. */
	struct hc_symbol rd;
	uint64_t first = 0, lm, next;
	CU_ASSERT_FATAL(hc_symbols_lookup(plain.s, NULL, "_r_debug", &rd));
	CU_ASSERT_FATAL(hc_target_read_u64(plain.t, rd.address + 8, &first) && first);
	for (lm = first; hc_target_read_u64(plain.t, lm + 24, &next) && next; lm = next)
		;
	CU_ASSERT_FATAL(patch_u64(copy, plain.t, lm + 24, first));
	close_core(&plain);

	struct opened x;
	CU_ASSERT_FATAL(open_core(copy, NULL, &x));
	CU_ASSERT(warning_has(x.t, "link map", "cycle"));
	/* Without NT_FILE the link map was the only module list: the result is partial. */
	CU_ASSERT(hc_warnings_partial(&x.t->warnings));
	CU_ASSERT_PTR_NOT_NULL(libc_of(&x));
	CU_ASSERT_PTR_NOT_NULL(hc_symbols_main_module(x.s));
	close_core(&x);
}

static void test_damaged_elf_header_in_core_falls_back_to_link_map_and_file(void)
{
	const struct facts *f = facts();
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	const char *copy = hc_fixture_copy_file("symbols-bad-header.core", f->core, 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(copy);
	struct opened plain;
	CU_ASSERT_FATAL(open_prog(NULL, &plain));
	const struct hc_module *libc = libc_of(&plain);
	uint64_t bias = libc->bias;
	/* e_phoff far outside the first page: the core no longer tells libc's phdrs. */
	CU_ASSERT_FATAL(patch_u64(copy, plain.t, libc->start + offsetof(Elf64_Ehdr, e_phoff), 0x7fffffffull));
	close_core(&plain);

	struct opened x;
	CU_ASSERT_FATAL(open_core(copy, NULL, &x));
	libc = libc_of(&x);
	CU_ASSERT_PTR_NOT_NULL_FATAL(libc);
	CU_ASSERT(libc->bias_known);
	CU_ASSERT_EQUAL(libc->bias, bias);
	CU_ASSERT_EQUAL(libc->build_id_len, 0);
	CU_ASSERT_EQUAL(libc->file_status, HC_MODULE_FILE_FOUND);
	CU_ASSERT(warning_has(x.t, libc->name, "unverified"));
	struct hc_symbol sym;
	CU_ASSERT(hc_symbols_lookup(x.s, libc, "main_arena", &sym) && sym.address == f->main_arena);
	uint64_t lo, hi;
	CU_ASSERT(hc_symbols_code_range(x.s, libc, &lo, &hi) && f->malloc_addr >= lo && f->malloc_addr < hi);
	close_core(&x);
}

/* ---- a core the kernel wrote ---- */

/*
 * A kernel-written core of the same program (only the first page of each ELF
 * mapping dumped), when core_pattern lets a test make one in its own
 * directory; NULL (and the caller skips) when it is a pipe to a collector.
 */
static const char *kernel_core(uint64_t *malloc_addr)
{
	static char path[1024];
	static uint64_t maddr;
	static bool tried;
	*malloc_addr = maddr;
	if (tried)
		return path[0] ? path : NULL;
	tried = true;
	const struct facts *f = facts();
	char *pat = hc_fixture_read_file("/proc/sys/kernel/core_pattern", NULL);
	bool plain = f && pat && !strchr(pat, '|') && !strchr(pat, '/') && !strncmp(pat, "core", 4);
	free(pat);
	if (!plain)
		return NULL;
	char dir[512], out[600];
	snprintf(dir, sizeof(dir), "%s/kcore", hc_fixture_tmpdir());
	snprintf(out, sizeof(out), "%s/out", dir);
	mkdir(dir, 0755);
	pid_t pid = fork();
	if (pid < 0)
		return NULL;
	if (pid == 0) {
		struct rlimit rl;
		getrlimit(RLIMIT_CORE, &rl);
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_CORE, &rl);
		int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd < 0 || dup2(fd, 1) < 0 || chdir(dir) != 0)
			_exit(127);
		execl(f->bin, f->bin, (char *)NULL);
		_exit(127);
	}
	bool ready = false;
	for (int i = 0; i < 1000 && !ready; i++) {
		char *text = hc_fixture_read_file(out, NULL);
		ready = text && strstr(text, "READY");
		if (ready)
			key_u64(text, "malloc", &maddr);
		free(text);
		if (!ready)
			usleep(10000);
	}
	kill(pid, ready ? SIGABRT : SIGKILL);
	int st = 0;
	waitpid(pid, &st, 0);
	if (!ready || !WIFSIGNALED(st) || !WCOREDUMP(st))
		return NULL;
	DIR *d = opendir(dir);
	struct dirent *e;
	while (d && (e = readdir(d)))
		if (!strncmp(e->d_name, "core", 4))
			snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
	if (d)
		closedir(d);
	*malloc_addr = maddr;
	return path[0] ? path : NULL;
}

static void test_kernel_core_first_pages_give_modules_build_ids_and_symbols(void)
{
	uint64_t malloc_addr;
	const char *core = kernel_core(&malloc_addr);
	if (!core) {
		printf("\n    skipped: the kernel writes no core here (core_pattern or RLIMIT_CORE) ");
		return;
	}
	struct opened x;
	CU_ASSERT_FATAL(open_core(core, NULL, &x));
	const struct hc_module *main_m = hc_symbols_main_module(x.s);
	CU_ASSERT_PTR_NOT_NULL_FATAL(main_m);
	CU_ASSERT_STRING_EQUAL(main_m->name, F.bin);
	unsigned checked = 0;
	for (uint32_t i = 0; i < x.s->nmodules; i++) {
		const struct hc_module *m = &x.s->modules[i];
		CU_ASSERT_STRING_NOT_EQUAL(m->name, F.dat);
		if (m->name[0] != '/')
			continue;
		char want[160], got[160];
		CU_ASSERT_FATAL(readelf_build_id(m->name, want, sizeof(want)));
		hc_build_id_hex(m->build_id, m->build_id_len, got);
		CU_ASSERT_STRING_EQUAL(got, want);
		CU_ASSERT_EQUAL(m->file_status, HC_MODULE_FILE_FOUND);
		checked++;
	}
	CU_ASSERT(checked >= 3);
	CU_ASSERT(!warning_has(x.t, "link map", NULL));
	struct hc_symbol sym;
	CU_ASSERT(hc_symbols_lookup(x.s, NULL, "malloc", &sym) && sym.address == malloc_addr);
	CU_ASSERT(hc_symbols_lookup(x.s, NULL, "main_arena", &sym));
	/* The tcache pointer through the static TLS offset points into the core's heap. */
	int64_t off;
	uint64_t value = 0;
	CU_ASSERT_FATAL(hc_symbols_lookup(x.s, libc_of(&x), "tcache", &sym));
	CU_ASSERT_FATAL(hc_symbols_static_tls_offset(x.s, libc_of(&x), &off));
	CU_ASSERT(hc_target_read_u64(x.t, x.t->threads[0].tp + (uint64_t)off + sym.address, &value));
	CU_ASSERT(value != 0 && hc_target_segment(x.t, value) != NULL);
	close_core(&x);
}

/* ---- degenerate targets ---- */

static void test_core_without_notes_yields_no_modules_and_no_error(void)
{
	uint8_t page[4096];
	/* An ELF header in memory, but nothing (no NT_FILE, no auxv) says it is a module. */
	memset(page, 0, sizeof(page));
	memcpy(page, ELFMAG, SELFMAG);
	struct synth_segment seg = { 0x400000, sizeof(page), sizeof(page), PF_R, page };
	struct synth_core c;
	synth_core_build(&c, 1, 0x400100, 0x7ff000, 0, "empty", &seg, 1);
	const char *path = hc_fixture_write_file("symbols-empty.core", c.data, c.len);
	synth_core_free(&c);
	CU_ASSERT_PTR_NOT_NULL_FATAL(path);
	struct opened x;
	CU_ASSERT_FATAL(open_core(path, NULL, &x));
	CU_ASSERT_EQUAL(x.s->nmodules, 0);
	CU_ASSERT_PTR_NULL(hc_symbols_main_module(x.s));
	struct hc_symbol sym;
	char buf[64];
	uint64_t v;
	CU_ASSERT(!hc_symbols_lookup(x.s, NULL, "malloc", &sym));
	CU_ASSERT(!hc_symbols_describe(x.s, 0x400010, buf, sizeof(buf)));
	CU_ASSERT(!hc_symbols_struct_size(x.s, NULL, "malloc_state", &v));
	close_core(&x);
}

static void test_build_id_hex_spells_bytes_in_order(void)
{
	const uint8_t id[] = { 0x93, 0xac, 0x01, 0xff };
	char buf[9];
	hc_build_id_hex(id, 4, buf);
	CU_ASSERT_STRING_EQUAL(buf, "93ac01ff");
	hc_build_id_hex(id, 0, buf);
	CU_ASSERT_STRING_EQUAL(buf, "");
}

void hc_test_register_symbols(void)
{
	CU_pSuite s = CU_add_suite("symbols", NULL, NULL);
	if (!s)
		return;
	CU_add_test(s, "test_modules_come_from_nt_file_sorted_with_main_marked",
		    test_modules_come_from_nt_file_sorted_with_main_marked);
	CU_add_test(s, "test_build_id_read_from_core_memory_matches_readelf",
		    test_build_id_read_from_core_memory_matches_readelf);
	CU_add_test(s, "test_data_file_in_nt_file_is_not_a_module", test_data_file_in_nt_file_is_not_a_module);
	CU_add_test(s, "test_no_files_still_yields_modules_and_build_ids",
		    test_no_files_still_yields_modules_and_build_ids);
	CU_add_test(s, "test_main_arena_found_with_default_debug_dirs", test_main_arena_found_with_default_debug_dirs);
	CU_add_test(s, "test_main_arena_not_found_without_default_debug_dirs",
		    test_main_arena_not_found_without_default_debug_dirs);
	CU_add_test(s, "test_malloc_found_via_dynsym_without_debug_info",
		    test_malloc_found_via_dynsym_without_debug_info);
	CU_add_test(s, "test_tls_symbol_tcache_found_with_is_tls", test_tls_symbol_tcache_found_with_is_tls);
	CU_add_test(s, "test_static_tls_offset_reaches_the_threads_tcache",
		    test_static_tls_offset_reaches_the_threads_tcache);
	CU_add_test(s, "test_describe_names_symbol_plus_offset", test_describe_names_symbol_plus_offset);
	CU_add_test(s, "test_read_file_returns_the_code_the_process_ran",
		    test_read_file_returns_the_code_the_process_ran);
	CU_add_test(s, "test_vdso_symbols_come_from_the_core_even_with_no_files",
		    test_vdso_symbols_come_from_the_core_even_with_no_files);
	CU_add_test(s, "test_mismatched_build_id_is_refused", test_mismatched_build_id_is_refused);
	CU_add_test(s, "test_binary_option_names_the_executable_file", test_binary_option_names_the_executable_file);
	CU_add_test(s, "test_sysroot_prefixes_every_path", test_sysroot_prefixes_every_path);
	CU_add_test(s, "test_debug_dir_option_is_searched_by_build_id", test_debug_dir_option_is_searched_by_build_id);
	CU_add_test(s, "test_debug_file_with_other_build_id_is_refused",
		    test_debug_file_with_other_build_id_is_refused);
	CU_add_test(s, "test_debuglink_is_followed_and_dwarf_read", test_debuglink_is_followed_and_dwarf_read);
	CU_add_test(s, "test_malloc_state_top_offset_matches_gdb", test_malloc_state_top_offset_matches_gdb);
	CU_add_test(s, "test_struct_questions_after_the_first_come_from_the_index",
		    test_struct_questions_after_the_first_come_from_the_index);
	CU_add_test(s, "test_unknown_struct_or_member_is_not_found", test_unknown_struct_or_member_is_not_found);
	CU_add_test(s, "test_dwz_alt_file_types_are_found_by_build_id", test_dwz_alt_file_types_are_found_by_build_id);
	CU_add_test(s, "test_link_map_supplies_modules_when_nt_file_is_absent",
		    test_link_map_supplies_modules_when_nt_file_is_absent);
	CU_add_test(s, "test_link_map_cycle_ends_walk_with_warning", test_link_map_cycle_ends_walk_with_warning);
	CU_add_test(s, "test_damaged_elf_header_in_core_falls_back_to_link_map_and_file",
		    test_damaged_elf_header_in_core_falls_back_to_link_map_and_file);
	CU_add_test(s, "test_kernel_core_first_pages_give_modules_build_ids_and_symbols",
		    test_kernel_core_first_pages_give_modules_build_ids_and_symbols);
	CU_add_test(s, "test_core_without_notes_yields_no_modules_and_no_error",
		    test_core_without_notes_yields_no_modules_and_no_error);
	CU_add_test(s, "test_build_id_hex_spells_bytes_in_order", test_build_id_hex_spells_bytes_in_order);
}
