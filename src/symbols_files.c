/*
 * Finding a module's files on disk: its ELF file (the BINARY option for the
 * executable, else SYSROOT + the path the core names) and its separate debug
 * file (DIR/.build-id/xx/rest.debug for each debug dir, then .gnu_debuglink).
 * A file whose build-id differs from the one the core holds is refused: its
 * symbols and DWARF would describe some other build and give wrong addresses.
 *
 * Warnings (all HC_WARN_INFO, because a refused or missing file leaves the
 * report exactly as good as the core alone makes it, and every layer must
 * work from the core alone):
 *   - a refused file: names the module, the file and both build-ids;
 *   - a module with no file found (not for the vdso);
 *   - a file used without verification because the core holds no build-id.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <elfutils/libdwelf.h>

#include "symbols_internal.h"

#define DELETED_SUFFIX " (deleted)"

char *hc_symbols_sysroot_path(const struct hc_symbols_priv *p, const char *path)
{
	char *out;
	if (!p->sysroot[0])
		return strdup(path);
	if (asprintf(&out, "%s%s%s", p->sysroot, path[0] == '/' ? "" : "/", path) < 0)
		return NULL;
	return out;
}

static int target_machine(const struct hc_target *t)
{
	return t->arch == HC_ARCH_AARCH64 ? EM_AARCH64 : EM_X86_64;
}

Elf *hc_symbols_open_elf(const struct hc_target *t, const char *path, int *fd, enum hc_open_result *why)
{
	*fd = -1;
	*why = HC_OPEN_MISSING;
	int f = open(path, O_RDONLY | O_CLOEXEC);
	if (f < 0)
		return NULL;
	struct stat st;
	if (fstat(f, &st) || !S_ISREG(st.st_mode)) {
		close(f);
		return NULL;
	}
	*why = HC_OPEN_NOT_ELF;
	Elf *e = elf_begin(f, ELF_C_READ_MMAP, NULL);
	if (!e || elf_kind(e) != ELF_K_ELF) {
		if (e)
			elf_end(e);
		close(f);
		return NULL;
	}
	GElf_Ehdr eh;
	if (!gelf_getehdr(e, &eh) || eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_ident[EI_DATA] != ELFDATA2LSB ||
	    eh.e_machine != target_machine(t)) {
		*why = HC_OPEN_WRONG_MACHINE;
		elf_end(e);
		close(f);
		return NULL;
	}
	*why = HC_OPEN_OK;
	*fd = f;
	return e;
}

void hc_symbols_close_elf(Elf **elf, int *fd)
{
	if (*elf)
		elf_end(*elf);
	if (*fd >= 0)
		close(*fd);
	*elf = NULL;
	*fd = -1;
}

Elf_Scn *hc_elf_section_by_type(Elf *elf, Elf64_Word type)
{
	Elf_Scn *scn = NULL;
	size_t guard = 0;
	while ((scn = elf_nextscn(elf, scn)) && guard++ < 65536) {
		GElf_Shdr sh;
		if (gelf_getshdr(scn, &sh) && sh.sh_type == type && sh.sh_size > 0)
			return scn;
	}
	return NULL;
}

Elf_Scn *hc_elf_section_by_name(Elf *elf, const char *name)
{
	size_t shstrndx;
	if (elf_getshdrstrndx(elf, &shstrndx))
		return NULL;
	Elf_Scn *scn = NULL;
	size_t guard = 0;
	while ((scn = elf_nextscn(elf, scn)) && guard++ < 65536) {
		GElf_Shdr sh;
		if (!gelf_getshdr(scn, &sh))
			continue;
		const char *n = elf_strptr(elf, shstrndx, sh.sh_name);
		if (n && !strcmp(n, name) && sh.sh_type != SHT_NOBITS && sh.sh_size > 0)
			return scn;
	}
	return NULL;
}

/* The file's NT_GNU_BUILD_ID, length 0 if none. */
static size_t file_build_id(Elf *e, const uint8_t **id)
{
	const void *p;
	ssize_t n = dwelf_elf_gnu_build_id(e, &p);
	if (n <= 0)
		return 0;
	*id = p;
	return (size_t)n;
}

static void warn_build_id_mismatch(struct hc_target *t, const struct hc_module *m, const char *what,
				   const char *path, const uint8_t *id, size_t len)
{
	char core_hex[2 * sizeof(m->build_id) + 1], file_hex[2 * sizeof(m->build_id) + 1];
	hc_build_id_hex(m->build_id, m->build_id_len, core_hex);
	if (len > sizeof(m->build_id))
		len = sizeof(m->build_id);
	hc_build_id_hex(id, (uint32_t)len, file_hex);
	hc_warnings_add(&t->warnings, HC_WARN_INFO,
			"module %s: %s %s has build-id %s but the core's is %s; not used", m->name, what, path,
			len ? file_hex : "(none)", core_hex);
}

/* Copies the file's program headers when the core held none, for bias, extent and code range. */
static struct hc_error *phdrs_from_file(const struct hc_target *t, struct hc_module *m)
{
	struct hc_module_priv *p = hc_mod_priv(m);
	size_t n;
	if (p->phdrs || elf_getphdrnum(p->elf, &n) || n == 0 || n > HC_SYM_MAX_PHDRS)
		return NULL;
	Elf64_Phdr *ph = calloc(n, sizeof(*ph));
	if (!ph)
		return &hc_error_nomem;
	for (size_t i = 0; i < n; i++) {
		GElf_Phdr g;
		if (!gelf_getphdr(p->elf, (int)i, &g)) {
			free(ph);
			return NULL;
		}
		ph[i] = g;
	}
	p->phdrs = ph;
	p->nphdrs = (uint32_t)n;
	p->phdrs_from_core = false;
	hc_symbols_apply_phdrs(t, m);
	return NULL;
}

/*
 * Tries one candidate path for the module's ELF file. *done: stop looking
 * (found, or the module shown to be no ELF object).
 */
static struct hc_error *try_file(struct hc_symbols *s, struct hc_module *m, const char *path, bool *mismatch,
				 bool *done)
{
	struct hc_target *t = s->target;
	struct hc_module_priv *p = hc_mod_priv(m);
	int fd;
	enum hc_open_result why;
	*done = false;
	Elf *e = hc_symbols_open_elf(t, path, &fd, &why);
	if (!e) {
		if (why == HC_OPEN_NOT_ELF && !p->elf_in_core && !p->in_link_map && !m->is_main) {
			/* A data file in NT_FILE (locale-archive, a font) whose first page the core lacks. */
			p->not_elf = true;
			*done = true;
		} else if (why != HC_OPEN_MISSING) {
			hc_warnings_add(&t->warnings, HC_WARN_INFO, "module %s: %s is %s; not used", m->name, path,
					why == HC_OPEN_NOT_ELF ? "not an ELF file" : "an ELF file for another machine");
			*mismatch = true;
		}
		return NULL;
	}
	const uint8_t *id = NULL;
	size_t len = file_build_id(e, &id);
	if (m->build_id_len && (len != m->build_id_len || memcmp(id, m->build_id, len))) {
		warn_build_id_mismatch(t, m, "file", path, id, len);
		*mismatch = true;
		hc_symbols_close_elf(&e, &fd);
		return NULL;
	}
	if (!m->build_id_len)
		hc_warnings_add(&t->warnings, HC_WARN_INFO,
				"module %s: the core holds no build-id; %s used unverified", m->name, path);
	if (!(m->file_path = strdup(path))) {
		hc_symbols_close_elf(&e, &fd);
		return &hc_error_nomem;
	}
	p->elf = e;
	p->fd = fd;
	m->file_status = HC_MODULE_FILE_FOUND;
	*done = true;
	return phdrs_from_file(t, m);
}

static struct hc_error *find_elf_file(struct hc_symbols *s, struct hc_module *m)
{
	struct hc_symbols_priv *sp = s->priv;
	char *cands[2] = { NULL, NULL };
	unsigned n = 0;
	size_t len = strlen(m->name), slen = strlen(DELETED_SUFFIX);
	if (m->is_main && sp->binary) {
		cands[n++] = strdup(sp->binary);
	} else {
		cands[n++] = hc_symbols_sysroot_path(sp, m->name);
		/* The kernel marks a file deleted or replaced since it was mapped so. */
		if (len > slen && !strcmp(m->name + len - slen, DELETED_SUFFIX)) {
			char *stripped = strndup(m->name, len - slen);
			cands[n++] = stripped ? hc_symbols_sysroot_path(sp, stripped) : NULL;
			free(stripped);
		}
	}
	struct hc_error *err = NULL;
	bool mismatch = false, done = false;
	for (unsigned i = 0; i < n && !err && !done; i++) {
		if (!cands[i])
			err = &hc_error_nomem;
		else
			err = try_file(s, m, cands[i], &mismatch, &done);
	}
	if (!err && !done) {
		m->file_status = mismatch ? HC_MODULE_FILE_MISMATCH : HC_MODULE_FILE_MISSING;
		if (!mismatch)
			hc_warnings_add(&s->target->warnings, HC_WARN_INFO, "module %s: no file found (looked for %s)",
					m->name, cands[0]);
	}
	for (unsigned i = 0; i < n; i++)
		free(cands[i]);
	return err;
}

/* Tries one candidate debug file: accepted if its build-id is the module's and it holds symbols or DWARF. */
static struct hc_error *try_debug(struct hc_symbols *s, struct hc_module *m, const char *path,
				  const uint8_t *want, size_t want_len, bool *done)
{
	struct hc_target *t = s->target;
	struct hc_module_priv *p = hc_mod_priv(m);
	int fd;
	enum hc_open_result why;
	*done = false;
	if (m->file_path && !strcmp(path, m->file_path))
		return NULL;
	Elf *e = hc_symbols_open_elf(t, path, &fd, &why);
	if (!e)
		return NULL;
	const uint8_t *id = NULL;
	size_t len = file_build_id(e, &id);
	if (want_len && (len != want_len || memcmp(id, want, len))) {
		if (m->build_id_len)
			warn_build_id_mismatch(t, m, "debug file", path, id, len);
		else
			hc_warnings_add(&t->warnings, HC_WARN_INFO,
					"module %s: debug file %s has another build-id than the file; not used",
					m->name, path);
		hc_symbols_close_elf(&e, &fd);
		return NULL;
	}
	if (!hc_elf_section_by_type(e, SHT_SYMTAB) && !hc_elf_section_by_name(e, ".debug_info")) {
		hc_symbols_close_elf(&e, &fd);
		return NULL;
	}
	if (!(m->debug_path = strdup(path))) {
		hc_symbols_close_elf(&e, &fd);
		return &hc_error_nomem;
	}
	p->dbg = e;
	p->dbg_fd = fd;
	*done = true;
	return NULL;
}

static struct hc_error *try_debug_path(struct hc_symbols *s, struct hc_module *m, bool *done,
				       const uint8_t *want, size_t want_len, const char *fmt, ...)
	__attribute__((format(printf, 6, 7)));

static struct hc_error *try_debug_path(struct hc_symbols *s, struct hc_module *m, bool *done,
				       const uint8_t *want, size_t want_len, const char *fmt, ...)
{
	char *path;
	va_list ap;
	va_start(ap, fmt);
	int r = vasprintf(&path, fmt, ap);
	va_end(ap);
	if (r < 0)
		return &hc_error_nomem;
	struct hc_error *err = try_debug(s, m, path, want, want_len, done);
	free(path);
	return err;
}

static char *dir_of(const char *path)
{
	char *copy = strdup(path);
	if (!copy)
		return NULL;
	char *d = strdup(dirname(copy));
	free(copy);
	return d;
}

static struct hc_error *find_debug_file(struct hc_symbols *s, struct hc_module *m)
{
	struct hc_symbols_priv *sp = s->priv;
	struct hc_module_priv *p = hc_mod_priv(m);
	const uint8_t *want = m->build_id;
	size_t want_len = m->build_id_len;
	if (!want_len && p->elf)
		want_len = file_build_id(p->elf, &want);
	struct hc_error *err = NULL;
	bool done = false;

	if (want_len >= 2) {
		char hex[2 * 64 + 1];
		hc_build_id_hex(want, (uint32_t)(want_len > 64 ? 64 : want_len), hex);
		for (unsigned i = 0; i < sp->ndebug_dirs && !err && !done; i++)
			err = try_debug_path(s, m, &done, want, want_len, "%s/.build-id/%.2s/%s.debug",
					     sp->debug_dirs[i], hex, hex + 2);
	}
	if (err || done || !p->elf)
		return err;

	GElf_Word crc;
	const char *link = dwelf_elf_gnu_debuglink(p->elf, &crc);
	if (!link || !link[0] || strchr(link, '/'))
		return NULL;
	/* gdb's places: DEBUGDIR/<dir the core names>/, then beside the file, then its .debug/. */
	char *name_dir = dir_of(m->name), *file_dir = dir_of(m->file_path);
	if (!name_dir || !file_dir)
		err = &hc_error_nomem;
	for (unsigned i = 0; i < sp->ndebug_dirs && !err && !done; i++)
		err = try_debug_path(s, m, &done, want, want_len, "%s%s/%s", sp->debug_dirs[i],
				     strcmp(name_dir, "/") ? name_dir : "", link);
	if (!err && !done)
		err = try_debug_path(s, m, &done, want, want_len, "%s/%s", file_dir, link);
	if (!err && !done)
		err = try_debug_path(s, m, &done, want, want_len, "%s/.debug/%s", file_dir, link);
	free(name_dir);
	free(file_dir);
	return err;
}

/* The vdso is small; anything bigger is not one. */
#define VDSO_MAX (1u << 20)

struct hc_error *hc_symbols_vdso_image(struct hc_symbols *s, struct hc_module *m)
{
	struct hc_module_priv *p = hc_mod_priv(m);
	uint64_t size = m->end - m->start;
	if (p->elf || !p->elf_in_core || size == 0 || size > VDSO_MAX)
		return NULL;
	char *buf = malloc(size);
	if (!buf)
		return &hc_error_nomem;
	Elf *e = NULL;
	GElf_Ehdr eh;
	if (hc_target_read(s->target, m->start, buf, size) != HC_READ_OK || !(e = elf_memory(buf, size)) ||
	    elf_kind(e) != ELF_K_ELF || !gelf_getehdr(e, &eh) || eh.e_ident[EI_CLASS] != ELFCLASS64) {
		if (e)
			elf_end(e);
		free(buf);
		return NULL;
	}
	/* Symbols only: file_status stays MISSING, as there is no file to read code from. */
	p->elf = e;
	p->image = buf;
	return NULL;
}

struct hc_error *hc_symbols_find_files(struct hc_symbols *s, struct hc_module *m)
{
	struct hc_module_priv *p = hc_mod_priv(m);
	struct hc_error *err = NULL;
	/* "[vdso]" and the like name no file; a debug file by build-id may still exist. */
	if ((m->name[0] != '[' && strchr(m->name, '/')) || (m->is_main && ((struct hc_symbols_priv *)s->priv)->binary))
		err = find_elf_file(s, m);
	if (err || p->not_elf)
		return err;
	err = find_debug_file(s, m);
	if (err)
		return err;
	m->has_symtab = (p->dbg && hc_elf_section_by_type(p->dbg, SHT_SYMTAB)) ||
			(p->elf && hc_elf_section_by_type(p->elf, SHT_SYMTAB));
	m->has_dwarf = (p->dbg && hc_elf_section_by_name(p->dbg, ".debug_info")) ||
		       (p->elf && hc_elf_section_by_name(p->elf, ".debug_info"));
	return NULL;
}
