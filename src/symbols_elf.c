/*
 * ELF symbols of a module: lookup by name (the full .symtab of the debug file
 * or the file first, then .dynsym), address to "symbol+0xoff" or to the
 * symbol itself, and reading code and read-only data from the on-disk file
 * at runtime addresses, which a core does not hold. The tables are read on
 * first use, per module, since most of a process's libraries are never asked
 * about.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "symbols_internal.h"

#ifndef STT_GNU_IFUNC
#define STT_GNU_IFUNC 10
#endif

/* How far back describe looks for a symbol enclosing an address (nested symbols are rare). */
#define DESCRIBE_LOOKBACK 16

void hc_symbols_free_symtab(struct hc_module_priv *p)
{
	free(p->syms);
	free(p->by_name);
	free(p->by_addr);
	p->syms = NULL;
	p->by_name = p->by_addr = NULL;
	p->nsyms = p->naddr = 0;
}

/* Lower is better: .symtab before .dynsym, default version, global before weak before local. */
static int sym_rank(const struct hc_sym *s)
{
	int bind = s->bind == STB_GLOBAL ? 0 : s->bind == STB_WEAK ? 1 : 2;
	return s->from_dynsym * 100 + s->hidden * 10 + bind;
}

static int cmp_by_name(const void *a, const void *b, void *arg)
{
	const struct hc_sym *syms = arg;
	const struct hc_sym *x = &syms[*(const uint32_t *)a], *y = &syms[*(const uint32_t *)b];
	int c = strcmp(x->name, y->name);
	if (c)
		return c;
	return sym_rank(x) - sym_rank(y);
}

static unsigned leading_underscores(const char *n)
{
	unsigned k = 0;
	while (n[k] == '_')
		k++;
	return k;
}

/* By value; among aliases the one a person would write (malloc, not __libc_malloc) first. */
static int cmp_by_addr(const void *a, const void *b, void *arg)
{
	const struct hc_sym *syms = arg;
	const struct hc_sym *x = &syms[*(const uint32_t *)a], *y = &syms[*(const uint32_t *)b];
	if (x->value != y->value)
		return x->value < y->value ? -1 : 1;
	if ((x->size == 0) != (y->size == 0))
		return x->size == 0 ? 1 : -1;
	if (x->from_dynsym != y->from_dynsym)
		return x->from_dynsym - y->from_dynsym;
	unsigned ux = leading_underscores(x->name), uy = leading_underscores(y->name);
	if (ux != uy)
		return ux < uy ? -1 : 1;
	int c = sym_rank(x) - sym_rank(y);
	if (c)
		return c;
	return strcmp(x->name, y->name);
}

static struct hc_error *append_table(struct hc_module_priv *p, uint32_t *cap, Elf *e, Elf64_Word type)
{
	Elf_Scn *scn = e ? hc_elf_section_by_type(e, type) : NULL;
	GElf_Shdr sh;
	if (!scn || !gelf_getshdr(scn, &sh))
		return NULL;
	Elf_Data *data = elf_getdata(scn, NULL);
	if (!data || !data->d_buf)
		return NULL;
	size_t n = data->d_size / sizeof(Elf64_Sym);
	if (n > HC_SYM_MAX_SYMBOLS)
		n = HC_SYM_MAX_SYMBOLS;
	/* .gnu.version: bit 15 marks a non-default (hidden) version, e.g. memcpy@GLIBC_2.2.5. */
	Elf_Data *ver = NULL;
	size_t nver = 0;
	if (type == SHT_DYNSYM) {
		Elf_Scn *vs = hc_elf_section_by_type(e, SHT_GNU_versym);
		if (vs && (ver = elf_getdata(vs, NULL)) && ver->d_buf)
			nver = ver->d_size / 2;
	}
	for (size_t i = 1; i < n; i++) {
		GElf_Sym sym;
		if (!gelf_getsym(data, (int)i, &sym))
			break;
		int st = GELF_ST_TYPE(sym.st_info);
		if (st == STT_SECTION || st == STT_FILE || sym.st_shndx == SHN_UNDEF || sym.st_shndx == SHN_ABS ||
		    sym.st_name == 0)
			continue;
		const char *name = elf_strptr(e, sh.sh_link, sym.st_name);
		if (!name || !name[0])
			continue;
		if (p->nsyms == *cap) {
			if (*cap >= HC_SYM_MAX_SYMBOLS)
				break;
			uint32_t nc = *cap ? *cap * 2 : 1024;
			struct hc_sym *ns = realloc(p->syms, nc * sizeof(*ns));
			if (!ns)
				return &hc_error_nomem;
			p->syms = ns;
			*cap = nc;
		}
		struct hc_sym *s = &p->syms[p->nsyms++];
		s->name = name;
		s->value = sym.st_value;
		s->size = sym.st_size;
		s->type = (uint8_t)st;
		s->bind = (uint8_t)GELF_ST_BIND(sym.st_info);
		s->from_dynsym = type == SHT_DYNSYM;
		s->hidden = 0;
		if (i < nver) {
			uint16_t v;
			memcpy(&v, (const char *)ver->d_buf + 2 * i, 2);
			s->hidden = (v & 0x8000) != 0;
		}
	}
	return NULL;
}

static bool addressable(const struct hc_sym *s)
{
	return s->type == STT_FUNC || s->type == STT_OBJECT || s->type == STT_NOTYPE ||
	       s->type == STT_GNU_IFUNC || s->type == STT_COMMON;
}

/* Reads the module's tables once; on allocation failure it has none (lookups say "not found"). */
static void load_symbols(struct hc_module_priv *p)
{
	if (p->syms_loaded)
		return;
	p->syms_loaded = true;
	uint32_t cap = 0;
	Elf *symtab = p->dbg && hc_elf_section_by_type(p->dbg, SHT_SYMTAB) ? p->dbg : p->elf;
	if (append_table(p, &cap, symtab, SHT_SYMTAB) || append_table(p, &cap, p->elf, SHT_DYNSYM))
		goto fail;
	if (!p->nsyms)
		return;
	p->by_name = malloc(p->nsyms * sizeof(*p->by_name));
	p->by_addr = malloc(p->nsyms * sizeof(*p->by_addr));
	if (!p->by_name || !p->by_addr)
		goto fail;
	for (uint32_t i = 0; i < p->nsyms; i++) {
		p->by_name[i] = i;
		if (addressable(&p->syms[i]))
			p->by_addr[p->naddr++] = i;
	}
	qsort_r(p->by_name, p->nsyms, sizeof(*p->by_name), cmp_by_name, p->syms);
	qsort_r(p->by_addr, p->naddr, sizeof(*p->by_addr), cmp_by_addr, p->syms);
	return;
fail:
	hc_symbols_free_symtab(p);
}

static const struct hc_sym *find_by_name(const struct hc_module *m, const char *name)
{
	struct hc_module_priv *p = hc_mod_priv(m);
	load_symbols(p);
	uint32_t lo = 0, hi = p->nsyms;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (strcmp(p->syms[p->by_name[mid]].name, name) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	/* The equal names are sorted best rank first. */
	if (lo < p->nsyms && !strcmp(p->syms[p->by_name[lo]].name, name))
		return &p->syms[p->by_name[lo]];
	return NULL;
}

static bool lookup_one(const struct hc_module *m, const char *name, struct hc_symbol *out)
{
	const struct hc_sym *sym = find_by_name(m, name);
	if (!sym)
		return false;
	bool tls = sym->type == STT_TLS;
	/* A runtime address needs the bias; a TLS offset does not. */
	if (!tls && !m->bias_known)
		return false;
	out->name = sym->name;
	out->address = tls ? sym->value : sym->value + m->bias;
	out->size = sym->size;
	out->type = sym->type;
	out->is_tls = tls;
	return true;
}

bool hc_symbols_lookup(const struct hc_symbols *s, const struct hc_module *m, const char *name,
		       struct hc_symbol *out)
{
	if (!name)
		return false;
	if (m)
		return lookup_one(m, name, out);
	/* Any module: the executable first, as the dynamic linker's search order begins with it. */
	const struct hc_module *main_m = hc_symbols_main_module(s);
	if (main_m && lookup_one(main_m, name, out))
		return true;
	for (uint32_t i = 0; i < s->nmodules; i++)
		if (&s->modules[i] != main_m && lookup_one(&s->modules[i], name, out))
			return true;
	return false;
}

static const char *base_name(const char *path)
{
	const char *b = strrchr(path, '/');
	return b && b[1] ? b + 1 : path;
}

/* The symbol describing file vaddr v: one enclosing it, else a sizeless one just before it. */
static const struct hc_sym *find_by_addr(struct hc_module_priv *p, uint64_t v)
{
	uint32_t lo = 0, hi = p->naddr;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (p->syms[p->by_addr[mid]].value <= v)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0)
		return NULL;
	/* lo-1 is the last symbol at or below v; back to the first (best) of its aliases. */
	uint32_t i = lo - 1;
	while (i > 0 && p->syms[p->by_addr[i - 1]].value == p->syms[p->by_addr[i]].value)
		i--;
	const struct hc_sym *nearest = &p->syms[p->by_addr[i]];
	for (uint32_t k = 0, j = i + 1; k < DESCRIBE_LOOKBACK && j > 0; k++, j--) {
		const struct hc_sym *c = &p->syms[p->by_addr[j - 1]];
		if (c->size && v - c->value < c->size)
			return c;
	}
	return nearest->size == 0 ? nearest : NULL;
}

bool hc_symbols_describe(const struct hc_symbols *s, uint64_t addr, char *buf, size_t len)
{
	const struct hc_module *m = hc_symbols_module_at(s, addr);
	if (!m || !buf || len == 0)
		return false;
	if (m->bias_known) {
		struct hc_module_priv *p = hc_mod_priv(m);
		load_symbols(p);
		const struct hc_sym *sym = find_by_addr(p, addr - m->bias);
		if (sym) {
			uint64_t off = addr - m->bias - sym->value;
			if (off)
				snprintf(buf, len, "%s+0x%llx", sym->name, (unsigned long long)off);
			else
				snprintf(buf, len, "%s", sym->name);
			return true;
		}
	}
	/* Relative to the load bias, as backtraces and addr2line count, when it is known. */
	uint64_t base = m->bias_known ? m->bias : m->start;
	snprintf(buf, len, "%s+0x%llx", base_name(m->name), (unsigned long long)(addr - base));
	return true;
}

bool hc_symbols_symbol_at(const struct hc_symbols *s, uint64_t addr, struct hc_symbol *out)
{
	const struct hc_module *m = hc_symbols_module_at(s, addr);
	if (!m || !m->bias_known)
		return false;
	struct hc_module_priv *p = hc_mod_priv(m);
	load_symbols(p);
	const struct hc_sym *sym = find_by_addr(p, addr - m->bias);
	/* find_by_addr may answer with a sizeless symbol before addr: that holds nothing */
	if (!sym || !sym->size || addr - m->bias - sym->value >= sym->size)
		return false;
	out->name = sym->name;
	out->address = sym->value + m->bias;
	out->size = sym->size;
	out->type = sym->type;
	out->is_tls = false;
	return true;
}

/*
 * Bytes of the file's PT_LOADs at runtime addresses. UNMAPPED: no PT_LOAD
 * covers the address; NOT_DUMPED: a PT_LOAD covers it but the file holds no
 * bytes there (.bss, or a truncated file).
 */
enum hc_read_status hc_symbols_read_file(const struct hc_symbols *s, const struct hc_module *m,
					 uint64_t addr, void *buf, size_t len)
{
	if (!m)
		m = hc_symbols_module_at(s, addr);
	if (!m || m->file_status != HC_MODULE_FILE_FOUND || !m->bias_known)
		return HC_READ_UNMAPPED;
	struct hc_module_priv *p = hc_mod_priv(m);
	size_t fsize, nph;
	const char *raw = p->elf ? elf_rawfile(p->elf, &fsize) : NULL;
	if (!raw || elf_getphdrnum(p->elf, &nph))
		return HC_READ_UNMAPPED;
	uint8_t *out = buf;
	/* Each round consumes one PT_LOAD's part, so phnum + 1 rounds suffice. */
	for (size_t round = 0; len > 0 && round <= nph; round++) {
		uint64_t v = addr - m->bias;
		GElf_Phdr ph;
		bool found = false;
		for (size_t i = 0; i < nph && !found; i++)
			found = gelf_getphdr(p->elf, (int)i, &ph) && ph.p_type == PT_LOAD && v >= ph.p_vaddr &&
				v - ph.p_vaddr < ph.p_memsz;
		if (!found)
			return HC_READ_UNMAPPED;
		uint64_t in = v - ph.p_vaddr;
		if (in >= ph.p_filesz)
			return HC_READ_NOT_DUMPED;
		uint64_t n = ph.p_filesz - in;
		if (n > len)
			n = len;
		uint64_t off = ph.p_offset + in;
		if (off > fsize || n > fsize - off)
			return HC_READ_NOT_DUMPED;
		memcpy(out, raw + off, n);
		out += n;
		addr += n;
		len -= n;
	}
	return len ? HC_READ_UNMAPPED : HC_READ_OK;
}

bool hc_symbols_code_range(const struct hc_symbols *s, const struct hc_module *m, uint64_t *start,
			   uint64_t *end)
{
	if (!m || !m->bias_known)
		return false;
	const struct hc_module_priv *p = hc_mod_priv(m);
	for (uint32_t i = 0; p->phdrs && i < p->nphdrs; i++) {
		const Elf64_Phdr *ph = &p->phdrs[i];
		if (ph->p_type == PT_LOAD && (ph->p_flags & PF_X) && ph->p_memsz) {
			*start = m->bias + ph->p_vaddr;
			*end = *start + ph->p_memsz;
			return true;
		}
	}
	return false;
}
