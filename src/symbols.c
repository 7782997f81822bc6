/*
 * Modules of the target: which ELF objects were loaded, where, with which
 * build-id and load bias. Sources, most trusted first: NT_FILE (the kernel's
 * list of mapped files), the ELF header and program headers the core holds at
 * each object's first page (bias, extent, build-id note), the auxv (the
 * executable and the vdso), and the dynamic linker's link map (the load bias,
 * and objects NT_FILE lacks). Finding the files on disk is in
 * symbols_files.c; symbol tables in symbols_elf.c; DWARF in symbols_dwarf.c.
 *
 * Only allocation failure is an error here: damage (unreadable headers, a
 * cyclic link map) becomes a warning in t->warnings and fewer facts.
 */
#include "heapcore/symbols.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "symbols_internal.h"

#ifndef AT_SYSINFO_EHDR
#define AT_SYSINFO_EHDR 33
#endif
#ifndef AT_EXECFN
#define AT_EXECFN 31
#endif

/* struct r_debug and struct link_map: only their public, stable fields. */
#define R_DEBUG_VERSION 0
#define R_DEBUG_MAP 8
#define R_DEBUG_EXT_NEXT 40      /* struct r_debug_extended.r_next (r_version 2, glibc 2.35+) */
#define LINK_MAP_SIZE 40         /* l_addr, l_name, l_ld, l_next, l_prev */

/* Sanity bound on one module's extent from its program headers. */
#define HC_SYM_MAX_EXTENT (1ull << 40)

struct build_state {
	struct hc_symbols *s;
	uint32_t cap;
};

static uint64_t target_page_size(const struct hc_target *t)
{
	uint64_t p = t->file_page_size;
	/* NT_FILE's page size is the kernel's; anything odd means a damaged note. */
	if (p >= 4096 && p <= (1u << 20) && !(p & (p - 1)))
		return p;
	return 4096;
}

static struct hc_error *new_module(struct build_state *b, const char *name, uint32_t *index)
{
	struct hc_symbols *s = b->s;
	if (s->nmodules == b->cap) {
		uint32_t cap = b->cap ? b->cap * 2 : 32;
		struct hc_module *mods = realloc(s->modules, cap * sizeof(*mods));
		if (!mods)
			return &hc_error_nomem;
		s->modules = mods;
		b->cap = cap;
	}
	struct hc_module *m = &s->modules[s->nmodules];
	memset(m, 0, sizeof(*m));
	struct hc_module_priv *p = calloc(1, sizeof(*p));
	m->name = strdup(name);
	if (!p || !m->name) {
		free(p);
		free(m->name);
		return &hc_error_nomem;
	}
	p->fd = p->dbg_fd = p->alt_fd = -1;
	p->lm_order = -1;
	m->priv = p;
	*index = s->nmodules++;
	return NULL;
}

static void free_module(struct hc_module *m)
{
	struct hc_module_priv *p = hc_mod_priv(m);
	if (p) {
		hc_symbols_free_dwarf(p);
		hc_symbols_free_symtab(p);
		hc_symbols_close_elf(&p->dbg, &p->dbg_fd);
		hc_symbols_close_elf(&p->elf, &p->fd);
		free(p->image);
		free(p->phdrs);
		free(p);
	}
	free(m->name);
	free(m->file_path);
	free(m->debug_path);
	memset(m, 0, sizeof(*m));
}

enum core_elf {
	CORE_ELF_OK,
	CORE_ELF_UNREADABLE,     /* the bytes are not in the core: cannot tell */
	CORE_ELF_NOT_ELF,        /* readable, and not a 64-bit little-endian ELF header */
};

/* Reads the program headers at addr (n of them) from the core. */
static struct hc_error *read_core_phdrs(const struct hc_target *t, uint64_t addr, uint32_t n,
					Elf64_Phdr **out)
{
	*out = NULL;
	if (n == 0 || n > HC_SYM_MAX_PHDRS)
		return NULL;
	Elf64_Phdr *ph = malloc(n * sizeof(*ph));
	if (!ph)
		return &hc_error_nomem;
	if (hc_target_read(t, addr, ph, n * sizeof(*ph)) != HC_READ_OK) {
		free(ph);
		return NULL;
	}
	*out = ph;
	return NULL;
}

/* Reads the ELF header at addr and, when they are in the core too, its program headers. */
static struct hc_error *read_core_elf(const struct hc_target *t, uint64_t addr, enum core_elf *status,
				      Elf64_Ehdr *eh, Elf64_Phdr **phdrs, uint32_t *nphdrs)
{
	*phdrs = NULL;
	*nphdrs = 0;
	if (hc_target_read(t, addr, eh, sizeof(*eh)) != HC_READ_OK) {
		/* A header cut by the end of a page still shows its magic. */
		unsigned char magic[SELFMAG];
		if (hc_target_read(t, addr, magic, SELFMAG) == HC_READ_OK && memcmp(magic, ELFMAG, SELFMAG))
			*status = CORE_ELF_NOT_ELF;
		else
			*status = CORE_ELF_UNREADABLE;
		return NULL;
	}
	if (memcmp(eh->e_ident, ELFMAG, SELFMAG) || eh->e_ident[EI_CLASS] != ELFCLASS64 ||
	    eh->e_ident[EI_DATA] != ELFDATA2LSB) {
		*status = CORE_ELF_NOT_ELF;
		return NULL;
	}
	*status = CORE_ELF_OK;
	/* PN_XNUM (count in section 0) is never used for loadable objects' few phdrs. */
	if (eh->e_phentsize != sizeof(Elf64_Phdr) || eh->e_phoff == 0 || eh->e_phoff > (1u << 20))
		return NULL;
	struct hc_error *err = read_core_phdrs(t, addr + eh->e_phoff, eh->e_phnum, phdrs);
	if (!err && *phdrs)
		*nphdrs = eh->e_phnum;
	return err;
}

/* Lowest-address PT_LOAD and the end of the highest, in file vaddrs; false if none. */
static bool load_extent(const Elf64_Phdr *ph, uint32_t n, const Elf64_Phdr **first, uint64_t *vend)
{
	*first = NULL;
	*vend = 0;
	for (uint32_t i = 0; i < n; i++) {
		if (ph[i].p_type != PT_LOAD)
			continue;
		if (!*first || ph[i].p_vaddr < (*first)->p_vaddr)
			*first = &ph[i];
		uint64_t e = ph[i].p_vaddr + ph[i].p_memsz;
		if (e >= ph[i].p_vaddr && e > *vend)
			*vend = e;
	}
	return *first != NULL;
}

/*
 * With program headers known: the bias (if the header's runtime address is
 * known and the bias is not yet) and the module's extent, which grows to
 * cover .bss past the last file-backed page (NT_FILE does not list it).
 */
void hc_symbols_apply_phdrs(const struct hc_target *t, struct hc_module *m)
{
	struct hc_module_priv *p = hc_mod_priv(m);
	const Elf64_Phdr *first;
	uint64_t vend;
	if (!p->phdrs || !load_extent(p->phdrs, p->nphdrs, &first, &vend))
		return;
	uint64_t pg = target_page_size(t);
	uint64_t vstart = first->p_vaddr & ~(pg - 1);
	if (!m->bias_known && p->have_hdr_addr) {
		m->bias = p->hdr_addr - vstart;
		m->bias_known = true;
	}
	if (!m->bias_known || vend < vstart || vend - vstart > HC_SYM_MAX_EXTENT)
		return;
	uint64_t lo = m->bias + vstart;
	uint64_t hi = (m->bias + vend + pg - 1) & ~(pg - 1);
	if (hi <= lo)
		return;
	if (m->end == 0 || lo < m->start)
		m->start = lo;
	if (hi > m->end)
		m->end = hi;
	m->extent_known = true;
}

/* The NT_GNU_BUILD_ID note in the PT_NOTE segments the core holds; leaves build_id_len 0 if none. */
static struct hc_error *read_core_build_id(const struct hc_target *t, struct hc_module *m)
{
	struct hc_module_priv *p = hc_mod_priv(m);
	if (!p->phdrs || !m->bias_known)
		return NULL;
	for (uint32_t i = 0; i < p->nphdrs; i++) {
		const Elf64_Phdr *ph = &p->phdrs[i];
		if (ph->p_type != PT_NOTE || ph->p_filesz < 12)
			continue;
		uint64_t size = ph->p_filesz < HC_SYM_MAX_NOTE_BYTES ? ph->p_filesz : HC_SYM_MAX_NOTE_BYTES;
		uint8_t *buf = malloc(size);
		if (!buf)
			return &hc_error_nomem;
		if (hc_target_read(t, m->bias + ph->p_vaddr, buf, size) != HC_READ_OK) {
			free(buf);
			continue;
		}
		/* Notes are 4-byte aligned, or 8 in a segment aligned so (gnu.property). */
		uint64_t align = ph->p_align == 8 ? 8 : 4;
		uint64_t off = 0;
		while (off + 12 <= size) {
			uint32_t hdr[3];
			memcpy(hdr, buf + off, 12);
			uint64_t namesz = hdr[0], descsz = hdr[1], type = hdr[2];
			uint64_t name_off = off + 12;
			uint64_t desc_off = name_off + ((namesz + align - 1) & ~(align - 1));
			uint64_t next = desc_off + ((descsz + align - 1) & ~(align - 1));
			if (desc_off > size || descsz > size - desc_off)
				break;
			if (type == NT_GNU_BUILD_ID && namesz == 4 && !memcmp(buf + name_off, "GNU", 4) &&
			    descsz > 0 && descsz <= sizeof(m->build_id)) {
				memcpy(m->build_id, buf + desc_off, descsz);
				m->build_id_len = (uint32_t)descsz;
				free(buf);
				return NULL;
			}
			off = next;
		}
		free(buf);
	}
	return NULL;
}

/* Reads the ELF header at hdr_addr into module m: phdrs, bias, extent, build-id. */
static struct hc_error *module_from_core_header(const struct hc_target *t, struct hc_module *m,
						uint64_t hdr_addr)
{
	struct hc_module_priv *p = hc_mod_priv(m);
	Elf64_Ehdr eh;
	enum core_elf st;
	Elf64_Phdr *ph;
	uint32_t n;
	p->hdr_addr = hdr_addr;
	p->have_hdr_addr = true;
	struct hc_error *err = read_core_elf(t, hdr_addr, &st, &eh, &ph, &n);
	if (err)
		return err;
	if (st == CORE_ELF_NOT_ELF)
		p->not_elf = true;
	if (st != CORE_ELF_OK)
		return NULL;
	p->elf_in_core = true;
	if (ph) {
		free(p->phdrs);
		p->phdrs = ph;
		p->nphdrs = n;
		p->phdrs_from_core = true;
		hc_symbols_apply_phdrs(t, m);
	}
	return read_core_build_id(t, m);
}

static int cmp_file_start(const void *a, const void *b, void *arg)
{
	const struct hc_mapped_file *f = arg;
	uint64_t x = f[*(const uint32_t *)a].start, y = f[*(const uint32_t *)b].start;
	return x < y ? -1 : x > y;
}

/*
 * Groups NT_FILE entries into modules. An entry at file offset 0 starts a
 * module unless it lies inside the extent the program headers give a module
 * of the same path (a small object whose data page is file page 0 again);
 * other entries join the latest module of their path.
 */
static struct hc_error *modules_from_nt_file(struct build_state *b)
{
	const struct hc_target *t = b->s->target;
	if (t->nfiles == 0)
		return NULL;
	uint32_t *order = malloc(t->nfiles * sizeof(*order));
	if (!order)
		return &hc_error_nomem;
	for (uint32_t i = 0; i < t->nfiles; i++)
		order[i] = i;
	qsort_r(order, t->nfiles, sizeof(*order), cmp_file_start, t->files);

	struct hc_error *err = NULL;
	uint32_t first_new = b->s->nmodules;
	for (uint32_t k = 0; k < t->nfiles && !err; k++) {
		const struct hc_mapped_file *f = &t->files[order[k]];
		if (!f->path || !f->path[0] || f->end <= f->start)
			continue;
		int64_t join = -1;
		for (uint32_t j = b->s->nmodules; j > first_new; j--) {
			if (!strcmp(b->s->modules[j - 1].name, f->path)) {
				join = j - 1;
				break;
			}
		}
		if (join >= 0 && f->file_offset == 0) {
			const struct hc_module *jm = &b->s->modules[join];
			if (!(jm->bias_known && f->start >= jm->start && f->start < jm->end))
				join = -1;
		}
		if (join >= 0) {
			struct hc_module *jm = &b->s->modules[join];
			if (f->start < jm->start)
				jm->start = f->start;
			if (f->end > jm->end)
				jm->end = f->end;
			continue;
		}
		uint32_t idx;
		err = new_module(b, f->path, &idx);
		if (err)
			break;
		struct hc_module *m = &b->s->modules[idx];
		m->start = f->start;
		m->end = f->end;
		if (f->file_offset == 0)
			err = module_from_core_header(t, m, f->start);
	}
	free(order);
	return err;
}

static struct hc_module *module_containing(struct hc_symbols *s, uint64_t addr)
{
	for (uint32_t i = 0; i < s->nmodules; i++)
		if (addr >= s->modules[i].start && addr < s->modules[i].end)
			return &s->modules[i];
	return NULL;
}

/* The vdso: not a file, so not in NT_FILE; the auxv says where its ELF image is. */
static struct hc_error *module_vdso(struct build_state *b)
{
	uint64_t addr;
	const struct hc_target *t = b->s->target;
	if (!hc_target_auxv(t, AT_SYSINFO_EHDR, &addr) || addr == 0 || module_containing(b->s, addr))
		return NULL;
	uint32_t idx;
	struct hc_error *err = new_module(b, "[vdso]", &idx);
	if (err)
		return err;
	struct hc_module *m = &b->s->modules[idx];
	m->start = addr;
	m->end = addr + target_page_size(t);
	err = module_from_core_header(t, m, addr);
	if (!err && !hc_mod_priv(m)->elf_in_core) {
		/* Not in the core: nothing to say about it. */
		free_module(m);
		b->s->nmodules--;
	}
	return err;
}

/* The executable's program headers straight from AT_PHDR: they hold its bias via PT_PHDR. */
static struct hc_error *auxv_phdrs(const struct hc_target *t, Elf64_Phdr **ph, uint32_t *n, uint64_t *bias,
				   bool *bias_known)
{
	uint64_t at_phdr, at_phnum, at_phent = sizeof(Elf64_Phdr);
	*ph = NULL;
	*n = 0;
	*bias_known = false;
	if (!hc_target_auxv(t, AT_PHDR, &at_phdr) || !hc_target_auxv(t, AT_PHNUM, &at_phnum))
		return NULL;
	hc_target_auxv(t, AT_PHENT, &at_phent);
	if (at_phent != sizeof(Elf64_Phdr) || at_phnum == 0 || at_phnum > HC_SYM_MAX_PHDRS)
		return NULL;
	struct hc_error *err = read_core_phdrs(t, at_phdr, (uint32_t)at_phnum, ph);
	if (err || !*ph)
		return err;
	*n = (uint32_t)at_phnum;
	for (uint32_t i = 0; i < *n; i++) {
		if ((*ph)[i].p_type == PT_PHDR) {
			*bias = at_phdr - (*ph)[i].p_vaddr;
			*bias_known = true;
		}
	}
	return NULL;
}

/*
 * The executable: the module AT_ENTRY lies in. Without NT_FILE there is no
 * such module yet, and the auxv alone makes one (phdrs at AT_PHDR, name from
 * AT_EXECFN), so that a static executable's core still has its main module.
 */
static struct hc_error *module_main(struct build_state *b)
{
	struct hc_symbols *s = b->s;
	const struct hc_target *t = s->target;
	uint64_t entry = 0;
	bool have_entry = hc_target_auxv(t, AT_ENTRY, &entry) && entry != 0;
	struct hc_module *m = have_entry ? module_containing(s, entry) : NULL;
	Elf64_Phdr *ph;
	uint32_t n;
	uint64_t bias = 0;
	bool bias_known;
	struct hc_error *err = auxv_phdrs(t, &ph, &n, &bias, &bias_known);
	if (err)
		return err;
	if (m) {
		struct hc_module_priv *p = hc_mod_priv(m);
		m->is_main = true;
		if (!m->bias_known && bias_known) {
			m->bias = bias;
			m->bias_known = true;
		}
		if (!p->phdrs && ph) {
			p->phdrs = ph;
			p->nphdrs = n;
			p->phdrs_from_core = true;
			ph = NULL;
			hc_symbols_apply_phdrs(t, m);
			err = read_core_build_id(t, m);
		}
		free(ph);
		return err;
	}
	if (!ph || !bias_known) {
		free(ph);
		return NULL;
	}
	char name[HC_SYM_MAX_PATH];
	uint64_t execfn;
	if (!(hc_target_auxv(t, AT_EXECFN, &execfn) && hc_target_read_cstr(t, execfn, name, sizeof(name)) &&
	      name[0])) {
		if (t->process.present && t->process.fname[0])
			snprintf(name, sizeof(name), "%s", t->process.fname);
		else
			snprintf(name, sizeof(name), "[exe]");
	}
	uint32_t idx;
	err = new_module(b, name, &idx);
	if (err) {
		free(ph);
		return err;
	}
	m = &s->modules[idx];
	struct hc_module_priv *p = hc_mod_priv(m);
	m->is_main = true;
	m->bias = bias;
	m->bias_known = true;
	p->phdrs = ph;
	p->nphdrs = n;
	p->phdrs_from_core = true;
	const Elf64_Phdr *first;
	uint64_t vend;
	if (load_extent(ph, n, &first, &vend)) {
		p->hdr_addr = bias + (first->p_vaddr & ~(target_page_size(t) - 1));
		p->have_hdr_addr = true;
	}
	hc_symbols_apply_phdrs(t, m);
	return read_core_build_id(t, m);
}

/* One link map entry: matches it to a module (its l_ld lies inside) or adds one. */
static struct hc_error *link_map_entry(struct build_state *b, uint64_t l_addr, const char *name, uint64_t l_ld,
				       bool is_main, int32_t order)
{
	struct hc_symbols *s = b->s;
	const struct hc_target *t = s->target;
	struct hc_module *m = l_ld ? module_containing(s, l_ld) : NULL;
	if (is_main) {
		struct hc_module *main_m = (struct hc_module *)hc_symbols_main_module(s);
		if (!m)
			m = main_m;
		/*
		 * The first entry is the program. AT_ENTRY disagrees when ld.so was
		 * run as a command (ld.so ./prog): the kernel's auxv names ld.so.
		 */
		if (m && main_m && m != main_m)
			main_m->is_main = false;
		if (m)
			m->is_main = true;
	}
	for (uint32_t i = 0; !m && name[0] && i < s->nmodules; i++)
		if (!strcmp(s->modules[i].name, name))
			m = &s->modules[i];
	for (uint32_t i = 0; !m && l_addr && i < s->nmodules; i++)
		if (hc_mod_priv(&s->modules[i])->have_hdr_addr && hc_mod_priv(&s->modules[i])->hdr_addr == l_addr)
			m = &s->modules[i];
	if (m) {
		struct hc_module_priv *p = hc_mod_priv(m);
		p->in_link_map = true;
		p->lm_l_addr = l_addr;
		if (p->lm_order < 0)
			p->lm_order = order;
		if (is_main && !hc_symbols_main_module(s))
			m->is_main = true;
		if (!m->bias_known) {
			m->bias = l_addr;
			m->bias_known = true;
			hc_symbols_apply_phdrs(t, m);
			if (!m->build_id_len)
				return read_core_build_id(t, m);
		} else if (m->bias != l_addr) {
			hc_warnings_add(&s->target->warnings, HC_WARN_INFO,
					"module %s: bias 0x%llx from its ELF header differs from the link map's l_addr 0x%llx; using the header's",
					m->name, (unsigned long long)m->bias, (unsigned long long)l_addr);
		}
		return NULL;
	}
	if (!name[0] && !is_main)
		return NULL;
	uint32_t idx;
	struct hc_error *err = new_module(b, name[0] ? name : "[exe]", &idx);
	if (err)
		return err;
	m = &s->modules[idx];
	struct hc_module_priv *p = hc_mod_priv(m);
	p->in_link_map = true;
	p->lm_l_addr = l_addr;
	p->lm_order = order;
	if (is_main) {
		struct hc_module *main_m = (struct hc_module *)hc_symbols_main_module(s);
		if (main_m)
			main_m->is_main = false;
		m->is_main = true;
	}
	m->bias = l_addr;
	m->bias_known = true;
	/* Where l_ld lies is all we know of the extent until the header is read. */
	const struct hc_segment *seg = l_ld ? hc_target_segment(t, l_ld) : NULL;
	m->start = seg ? seg->start : l_ld;
	m->end = seg ? seg->end : l_ld + 1;
	/* A shared object's first PT_LOAD is at vaddr 0, so its header is at l_addr. */
	Elf64_Ehdr eh;
	enum core_elf st;
	Elf64_Phdr *ph;
	uint32_t n;
	if (!l_addr)
		return NULL;
	err = read_core_elf(t, l_addr, &st, &eh, &ph, &n);
	if (err || st != CORE_ELF_OK || !ph)
		return err;
	const Elf64_Phdr *first;
	uint64_t vend;
	if (!load_extent(ph, n, &first, &vend) || (first->p_vaddr & ~(target_page_size(t) - 1)) != 0) {
		free(ph);
		return NULL;
	}
	p->phdrs = ph;
	p->nphdrs = n;
	p->phdrs_from_core = true;
	p->hdr_addr = l_addr;
	p->have_hdr_addr = true;
	p->elf_in_core = true;
	hc_symbols_apply_phdrs(t, m);
	return read_core_build_id(t, m);
}

/* The DT_DEBUG value in module m's dynamic section (the core holds it: ld.so wrote it). */
static uint64_t dt_debug_of(const struct hc_target *t, const struct hc_module *m)
{
	const struct hc_module_priv *p = hc_mod_priv(m);
	if (!m->bias_known || !p->phdrs)
		return 0;
	for (uint32_t i = 0; i < p->nphdrs; i++) {
		const Elf64_Phdr *ph = &p->phdrs[i];
		if (ph->p_type != PT_DYNAMIC)
			continue;
		uint64_t n = ph->p_memsz / 16;
		if (n > HC_SYM_MAX_DYN)
			n = HC_SYM_MAX_DYN;
		for (uint64_t k = 0; k < n; k++) {
			uint64_t tag, val;
			uint64_t a = m->bias + ph->p_vaddr + k * 16;
			if (!hc_target_read_u64(t, a, &tag) || !hc_target_read_u64(t, a + 8, &val) || tag == DT_NULL)
				break;
			if (tag == DT_DEBUG)
				return val;
		}
	}
	return 0;
}

/*
 * r_debug, from the program's DT_DEBUG: 0 when static, not yet set, or not
 * in the core. When ld.so was run as a command, the auxv's AT_ENTRY names
 * ld.so, which has no DT_DEBUG; the program is then some other module.
 */
static uint64_t find_r_debug(const struct hc_symbols *s)
{
	const struct hc_module *main_m = hc_symbols_main_module(s);
	uint64_t rd = main_m ? dt_debug_of(s->target, main_m) : 0;
	for (uint32_t i = 0; !rd && i < s->nmodules; i++)
		if (&s->modules[i] != main_m)
			rd = dt_debug_of(s->target, &s->modules[i]);
	return rd;
}

static bool seen_before(const uint64_t *seen, uint32_t n, uint64_t addr)
{
	for (uint32_t i = 0; i < n; i++)
		if (seen[i] == addr)
			return true;
	return false;
}

/*
 * Walks the dynamic linker's link map (every namespace, with glibc 2.35's
 * r_debug_extended). Bounded: a cycle or an overlong list ends the walk with
 * a warning, which is PARTIAL only when NT_FILE did not already list the
 * modules.
 */
static struct hc_error *walk_link_map(struct build_state *b)
{
	struct hc_symbols *s = b->s;
	struct hc_target *t = s->target;
	uint64_t rd = find_r_debug(s);
	if (!rd)
		return NULL;
	enum hc_warning_kind damage = t->nfiles ? HC_WARN_INFO : HC_WARN_PARTIAL;
	uint64_t *seen = malloc(HC_SYM_MAX_LINK_MAP * sizeof(*seen));
	char *name = malloc(HC_SYM_MAX_PATH);
	if (!seen || !name) {
		free(seen);
		free(name);
		return &hc_error_nomem;
	}
	uint32_t nseen = 0;
	struct hc_error *err = NULL;
	bool stop = false;
	for (unsigned ns = 0; rd && ns < HC_SYM_MAX_NAMESPACES && !stop && !err; ns++) {
		uint32_t version;
		uint64_t lm;
		if (!hc_target_read_u32(t, rd + R_DEBUG_VERSION, &version) || !hc_target_read_u64(t, rd + R_DEBUG_MAP, &lm)) {
			hc_warnings_add(&t->warnings, damage, "link map: r_debug at 0x%llx is not in the core",
					(unsigned long long)rd);
			break;
		}
		if (version < 1 || version > 16) {
			hc_warnings_add(&t->warnings, damage, "link map: r_debug at 0x%llx has r_version %u; not walked",
					(unsigned long long)rd, version);
			break;
		}
		for (bool first = true; lm && !err; first = false) {
			if (seen_before(seen, nseen, lm)) {
				hc_warnings_add(&t->warnings, damage,
						"link map: cycle at entry 0x%llx; walk stopped", (unsigned long long)lm);
				stop = true;
				break;
			}
			if (nseen == HC_SYM_MAX_LINK_MAP) {
				hc_warnings_add(&t->warnings, damage, "link map: more than %u entries; walk stopped",
						HC_SYM_MAX_LINK_MAP);
				stop = true;
				break;
			}
			seen[nseen++] = lm;
			uint64_t f[LINK_MAP_SIZE / 8];
			if (hc_target_read(t, lm, f, sizeof(f)) != HC_READ_OK) {
				hc_warnings_add(&t->warnings, damage,
						"link map: entry 0x%llx is not in the core; walk stopped",
						(unsigned long long)lm);
				stop = true;
				break;
			}
			if (!f[1] || !hc_target_read_cstr(t, f[1], name, HC_SYM_MAX_PATH))
				name[0] = '\0';
			err = link_map_entry(b, f[0], name, f[2], ns == 0 && first, ns == 0 ? (int32_t)nseen - 1 : -1);
			lm = f[3];
		}
		if (version < 2 || !hc_target_read_u64(t, rd + R_DEBUG_EXT_NEXT, &rd)) {
			rd = 0;
			break;
		}
	}
	((struct hc_symbols_priv *)s->priv)->link_map_complete = !err && !stop && !rd;
	free(seen);
	free(name);
	return err;
}

static int cmp_module_start(const void *a, const void *b)
{
	const struct hc_module *x = a, *y = b;
	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	return x->end < y->end ? -1 : x->end > y->end;
}

/*
 * Drops the modules known not to be ELF objects: NT_FILE lists data files
 * too (locale-archive, fonts, an mmapped database).
 */
static void drop_non_elf(struct hc_symbols *s)
{
	bool lm_complete = ((struct hc_symbols_priv *)s->priv)->link_map_complete;
	uint32_t k = 0;
	for (uint32_t i = 0; i < s->nmodules; i++) {
		struct hc_module *m = &s->modules[i];
		struct hc_module_priv *p = hc_mod_priv(m);
		bool known = p->in_link_map || m->is_main;
		/* Never mapped from file offset 0: a window into some file, not a loaded object. */
		bool no_header = !p->have_hdr_addr && !known;
		/*
		 * No ELF header in the core, and the whole link map does not know it:
		 * a data file (the kernel dumps the first page of ELF mappings only).
		 */
		bool unknown = lm_complete && !p->elf_in_core && !known && m->name[0] == '/';
		if ((p->not_elf && !known) || no_header || unknown) {
			free_module(m);
			continue;
		}
		if (k != i)
			s->modules[k] = *m;
		k++;
	}
	s->nmodules = k;
}

static void drop_non_elf_and_sort(struct hc_symbols *s)
{
	drop_non_elf(s);
	if (s->nmodules > 1)
		qsort(s->modules, s->nmodules, sizeof(*s->modules), cmp_module_start);
}

static struct hc_error *copy_options(struct hc_symbols_priv *p, const struct hc_symbol_options *opts)
{
	const char *root = opts && opts->sysroot ? opts->sysroot : "";
	size_t len = strlen(root);
	while (len > 0 && root[len - 1] == '/')
		len--;
	p->sysroot = strndup(root, len);
	if (!p->sysroot)
		return &hc_error_nomem;
	p->no_files = opts && opts->no_files;
	if (opts && opts->binary && !(p->binary = strdup(opts->binary)))
		return &hc_error_nomem;
	unsigned n = opts ? opts->ndebug_dirs : 0;
	bool dflt = !(opts && opts->no_default_debug_dirs);
	p->debug_dirs = calloc(n + 1, sizeof(*p->debug_dirs));
	if (!p->debug_dirs)
		return &hc_error_nomem;
	for (unsigned i = 0; i < n; i++) {
		if (!opts->debug_dirs[i])
			continue;
		if (!(p->debug_dirs[p->ndebug_dirs++] = strdup(opts->debug_dirs[i])))
			return &hc_error_nomem;
	}
	if (dflt && !(p->debug_dirs[p->ndebug_dirs++] = hc_symbols_sysroot_path(p, "/usr/lib/debug")))
		return &hc_error_nomem;
	return NULL;
}

struct hc_error *hc_symbols_open(struct hc_target *t, const struct hc_symbol_options *opts,
				 struct hc_symbols **out)
{
	*out = NULL;
	elf_version(EV_CURRENT);
	struct hc_symbols *s = calloc(1, sizeof(*s));
	struct hc_symbols_priv *sp = calloc(1, sizeof(*sp));
	if (!s || !sp) {
		free(s);
		free(sp);
		return &hc_error_nomem;
	}
	s->target = t;
	s->priv = sp;
	struct build_state b = { .s = s };
	struct hc_error *err = copy_options(sp, opts);
	if (!err)
		err = modules_from_nt_file(&b);
	if (!err)
		err = module_vdso(&b);
	if (!err)
		err = module_main(&b);
	if (!err)
		err = walk_link_map(&b);
	if (!err)
		drop_non_elf_and_sort(s);
	for (uint32_t i = 0; !err && !sp->no_files && i < s->nmodules; i++)
		err = hc_symbols_find_files(s, &s->modules[i]);
	/* Not a file: from the core, so even with no_files. */
	for (uint32_t i = 0; !err && i < s->nmodules; i++)
		if (!strcmp(s->modules[i].name, "[vdso]"))
			err = hc_symbols_vdso_image(s, &s->modules[i]);
	/* The files may have shown some module to be no ELF object, or moved extents. */
	if (!err)
		drop_non_elf_and_sort(s);
	if (!err && sp->binary && !sp->no_files && !hc_symbols_main_module(s))
		hc_warnings_add(&t->warnings, HC_WARN_INFO, "%s not used: the core shows no main executable",
				sp->binary);
	if (err) {
		hc_symbols_destroy(s);
		return err;
	}
	*out = s;
	return NULL;
}

void hc_symbols_destroy(struct hc_symbols *s)
{
	if (!s)
		return;
	for (uint32_t i = 0; i < s->nmodules; i++)
		free_module(&s->modules[i]);
	free(s->modules);
	struct hc_symbols_priv *p = s->priv;
	if (p) {
		for (unsigned i = 0; i < p->ndebug_dirs; i++)
			free(p->debug_dirs[i]);
		free(p->debug_dirs);
		free(p->sysroot);
		free(p->binary);
		free(p);
	}
	free(s);
}

const struct hc_module *hc_symbols_module_by_name(const struct hc_symbols *s, const char *prefix)
{
	size_t n = strlen(prefix);
	for (uint32_t i = 0; i < s->nmodules; i++) {
		const char *base = strrchr(s->modules[i].name, '/');
		base = base ? base + 1 : s->modules[i].name;
		if (!strncmp(base, prefix, n))
			return &s->modules[i];
	}
	return NULL;
}

const struct hc_module *hc_symbols_module_at(const struct hc_symbols *s, uint64_t addr)
{
	/* Binary search for the last module starting at or below addr; hot in scans. */
	uint32_t lo = 0, hi = s->nmodules;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (s->modules[mid].start <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	/* Extents rarely overlap; look a few back in case one encloses another. */
	for (uint32_t k = 0; k < 4 && lo > 0; k++, lo--)
		if (addr < s->modules[lo - 1].end)
			return &s->modules[lo - 1];
	return NULL;
}

const struct hc_module *hc_symbols_main_module(const struct hc_symbols *s)
{
	for (uint32_t i = 0; i < s->nmodules; i++)
		if (s->modules[i].is_main)
			return &s->modules[i];
	return NULL;
}

void hc_build_id_hex(const uint8_t *id, uint32_t len, char *buf)
{
	static const char hex[] = "0123456789abcdef";
	for (uint32_t i = 0; i < len; i++) {
		buf[2 * i] = hex[id[i] >> 4];
		buf[2 * i + 1] = hex[id[i] & 15];
	}
	buf[2 * len] = '\0';
}
