/*
 * Opening a module's DWARF (hc_symbols_dwarf, shared by the other DWARF
 * files) and type layouts: sizeof(struct X) and offsetof(struct X, member),
 * through libdw on the module's debug file (or the file itself when it was
 * built with -g). libc's debug info is large, so the first question builds an
 * index of every named top-level (or C++ namespace-scope) struct, union and
 * typedef in one pass over the units' top-level DIEs (never descending into
 * functions), and every later question is a hash lookup. DWZ-shared types
 * (.gnu_debugaltlink) are indexed too, the alt file found by build-id in the
 * debug dirs.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <dwarf.h>
#include <elfutils/libdwelf.h>

#include "symbols_internal.h"

/* Type chains (typedef of const of struct ...) and member paths are short; caps stop loops. */
#define TYPE_CHAIN_MAX 16
#define MEMBER_DEPTH_MAX 8
#define MEMBERS_MAX 100000
#define INDEX_MAX (8u * 1024 * 1024)

void hc_symbols_free_dwarf(struct hc_module_priv *p)
{
	/* The caches below point into the Dwarf: freed first. */
	hc_symbols_free_vars(p);
	hc_symbols_free_lines(p);
	hc_symbols_free_types(p);
	if (p->dw)
		dwarf_end(p->dw);
	if (p->alt_dw)
		dwarf_end(p->alt_dw);
	hc_symbols_close_elf(&p->alt_elf, &p->alt_fd);
	free(p->types);
	p->dw = p->alt_dw = NULL;
	p->types = NULL;
	p->ntypes = p->types_cap = 0;
}

static uint32_t hash_name(const char *s, uint8_t kind)
{
	uint32_t h = 2166136261u ^ kind;
	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 16777619u;
	return h;
}

static struct hc_type_entry *index_find(struct hc_module_priv *p, const char *name, uint8_t kind, uint32_t h)
{
	if (!p->types_cap)
		return NULL;
	uint32_t mask = p->types_cap - 1;
	for (uint32_t i = h & mask, k = 0; k < p->types_cap; i = (i + 1) & mask, k++) {
		struct hc_type_entry *e = &p->types[i];
		if (!e->name)
			return e;
		if (e->hash == h && e->kind == kind && !strcmp(e->name, name))
			return e;
	}
	return NULL;
}

/* Adds name unless present (the first definition wins). False on allocation failure. */
static bool index_add(struct hc_module_priv *p, const char *name, uint8_t kind, Dwarf_Die *die)
{
	if ((p->ntypes + 1) * 2 > p->types_cap) {
		if (p->types_cap >= INDEX_MAX)
			return true;
		uint32_t cap = p->types_cap ? p->types_cap * 2 : 4096;
		struct hc_type_entry *old = p->types;
		uint32_t old_cap = p->types_cap;
		p->types = calloc(cap, sizeof(*p->types));
		if (!p->types) {
			p->types = old;
			return false;
		}
		p->types_cap = cap;
		for (uint32_t i = 0; i < old_cap; i++) {
			if (old[i].name)
				*index_find(p, old[i].name, old[i].kind, old[i].hash) = old[i];
		}
		free(old);
	}
	uint32_t h = hash_name(name, kind);
	struct hc_type_entry *e = index_find(p, name, kind, h);
	if (e && !e->name) {
		e->name = name;
		e->hash = h;
		e->kind = kind;
		e->die = *die;
		p->ntypes++;
	}
	return true;
}

static uint8_t kind_of_tag(int tag)
{
	switch (tag) {
	case DW_TAG_structure_type: return HC_TYPE_STRUCT;
	case DW_TAG_union_type: return HC_TYPE_UNION;
	case DW_TAG_class_type: return HC_TYPE_CLASS;
	case DW_TAG_typedef: return HC_TYPE_TYPEDEF;
	default: return 0;
	}
}

/*
 * Indexes the named types among the children of parent, and inside C++
 * namespaces (by their bare name: "app::Widget" is "Widget" here). False on
 * allocation failure.
 */
static bool index_scope(struct hc_module_priv *p, Dwarf_Die *parent, int depth)
{
	Dwarf_Die die;
	if (dwarf_child(parent, &die) != 0)
		return true;
	do {
		int tag = dwarf_tag(&die);
		if (tag == DW_TAG_namespace) {
			if (depth < MEMBER_DEPTH_MAX && !index_scope(p, &die, depth + 1))
				return false;
			continue;
		}
		uint8_t kind = kind_of_tag(tag);
		if (!kind)
			continue;
		/* A declaration (struct x;) has no layout; the definition is elsewhere. */
		if (kind != HC_TYPE_TYPEDEF && dwarf_hasattr(&die, DW_AT_declaration))
			continue;
		const char *name = dwarf_diename(&die);
		if (name && name[0] && !index_add(p, name, kind, &die))
			return false;
	} while (dwarf_siblingof(&die, &die) == 0);
	return true;
}

/* Indexes the named top-level types of every unit of dw. False on allocation failure. */
static bool index_dwarf(struct hc_module_priv *p, Dwarf *dw)
{
	Dwarf_CU *cu = NULL;
	Dwarf_Die cudie;
	Dwarf_Half version;
	uint8_t unit_type;
	while (dwarf_get_units(dw, cu, &cu, &version, &unit_type, &cudie, NULL) == 0) {
		if (unit_type == DW_UT_skeleton)
			continue;
		if (!index_scope(p, &cudie, 0))
			return false;
	}
	return true;
}

/* The alt file named by .gnu_debugaltlink, by build-id in the debug dirs, verified. */
static void open_alt(const struct hc_symbols *s, struct hc_module_priv *p)
{
	const char *name;
	const void *id;
	ssize_t len = dwelf_dwarf_gnu_debugaltlink(p->dw, &name, &id);
	if (len <= 1 || len > 64)
		return;
	const struct hc_symbols_priv *sp = s->priv;
	char hex[2 * 64 + 1];
	hc_build_id_hex(id, (uint32_t)len, hex);
	/* Each debug dir's .build-id, then the path the link names (under the sysroot). */
	for (unsigned i = 0; i <= sp->ndebug_dirs; i++) {
		char *path = NULL;
		if (i < sp->ndebug_dirs) {
			if (asprintf(&path, "%s/.build-id/%.2s/%s.debug", sp->debug_dirs[i], hex, hex + 2) < 0)
				path = NULL;
		} else if (name[0] == '/') {
			path = hc_symbols_sysroot_path(sp, name);
		}
		if (!path)
			continue;
		int fd;
		enum hc_open_result why;
		Elf *e = hc_symbols_open_elf(s->target, path, &fd, &why);
		free(path);
		if (!e)
			continue;
		const void *aid;
		ssize_t alen = dwelf_elf_gnu_build_id(e, &aid);
		Dwarf *adw = alen == len && !memcmp(aid, id, (size_t)len) ? dwarf_begin_elf(e, DWARF_C_READ, NULL) : NULL;
		if (!adw) {
			hc_symbols_close_elf(&e, &fd);
			continue;
		}
		p->alt_elf = e;
		p->alt_fd = fd;
		p->alt_dw = adw;
		dwarf_setalt(p->dw, adw);
		return;
	}
}

Dwarf *hc_symbols_dwarf(const struct hc_symbols *s, const struct hc_module *m)
{
	struct hc_module_priv *p = hc_mod_priv(m);
	if (p->dwarf_opened)
		return p->dw;
	p->dwarf_opened = true;
	if (!m->has_dwarf)
		return NULL;
	Elf *e = p->dbg && hc_elf_section_by_name(p->dbg, ".debug_info") ? p->dbg : p->elf;
	if (!e || !(p->dw = dwarf_begin_elf(e, DWARF_C_READ, NULL)))
		return NULL;
	open_alt(s, p);
	return p->dw;
}

/* Opens the DWARF and builds the index once; false when the module has none. */
static bool ensure_index(const struct hc_symbols *s, const struct hc_module *m)
{
	struct hc_module_priv *p = hc_mod_priv(m);
	if (p->dwarf_tried)
		return p->types_indexed;
	p->dwarf_tried = true;
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (!hc_symbols_dwarf(s, m))
		return false;
	bool ok = index_dwarf(p, p->dw) && (!p->alt_dw || index_dwarf(p, p->alt_dw));
	if (!ok) {
		/* Out of memory: answer nothing rather than from half an index. */
		free(p->types);
		p->types = NULL;
		p->ntypes = p->types_cap = 0;
		return false;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	p->index_seconds = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	p->types_indexed = true;
	return true;
}

static bool lookup_kind(struct hc_module_priv *p, const char *name, uint8_t kind, Dwarf_Die *out)
{
	struct hc_type_entry *e = index_find(p, name, kind, hash_name(name, kind));
	if (!e || !e->name)
		return false;
	*out = e->die;
	return true;
}

/* Follows typedefs and qualifiers to a struct/union/class with a layout; resolves declarations by name. */
static bool resolve_aggregate(struct hc_module_priv *p, Dwarf_Die *die)
{
	for (int k = 0; k < TYPE_CHAIN_MAX; k++) {
		int tag = dwarf_tag(die);
		if (tag == DW_TAG_structure_type || tag == DW_TAG_union_type || tag == DW_TAG_class_type) {
			if (!dwarf_hasattr(die, DW_AT_declaration))
				return true;
			const char *name = dwarf_diename(die);
			return name && lookup_kind(p, name, kind_of_tag(tag), die);
		}
		if (tag != DW_TAG_typedef && tag != DW_TAG_const_type && tag != DW_TAG_volatile_type &&
		    tag != DW_TAG_restrict_type && tag != DW_TAG_atomic_type)
			return false;
		Dwarf_Attribute attr;
		if (!dwarf_attr_integrate(die, DW_AT_type, &attr) || !dwarf_formref_die(&attr, die))
			return false;
	}
	return false;
}

bool hc_symbols_resolve_aggregate(const struct hc_symbols *s, const struct hc_module *m, Dwarf_Die *die)
{
	/* The name index is needed only to resolve a declaration; build it then. */
	Dwarf_Die d = *die;
	for (int k = 0; k < TYPE_CHAIN_MAX; k++) {
		int tag = dwarf_tag(&d);
		if (tag == DW_TAG_structure_type || tag == DW_TAG_union_type || tag == DW_TAG_class_type) {
			if (!dwarf_hasattr(&d, DW_AT_declaration)) {
				*die = d;
				return true;
			}
			break;
		}
		Dwarf_Attribute attr;
		if ((tag != DW_TAG_typedef && tag != DW_TAG_const_type && tag != DW_TAG_volatile_type &&
		     tag != DW_TAG_restrict_type && tag != DW_TAG_atomic_type) ||
		    !dwarf_attr_integrate(&d, DW_AT_type, &attr) || !dwarf_formref_die(&attr, &d))
			return false;
	}
	if (!ensure_index(s, m))
		return false;
	return resolve_aggregate(hc_mod_priv(m), die);
}

/* "struct X", "union X", or a bare name: a struct, union or class of that tag name, else a typedef. */
static bool find_type(const struct hc_symbols *s, const struct hc_module *m, const char *name, Dwarf_Die *die)
{
	if (!m || !name || !ensure_index(s, m))
		return false;
	struct hc_module_priv *p = hc_mod_priv(m);
	if (!strncmp(name, "struct ", 7))
		return lookup_kind(p, name + 7, HC_TYPE_STRUCT, die) && resolve_aggregate(p, die);
	if (!strncmp(name, "union ", 6))
		return lookup_kind(p, name + 6, HC_TYPE_UNION, die) && resolve_aggregate(p, die);
	static const uint8_t order[] = { HC_TYPE_STRUCT, HC_TYPE_UNION, HC_TYPE_CLASS, HC_TYPE_TYPEDEF };
	for (unsigned i = 0; i < sizeof(order); i++)
		if (lookup_kind(p, name, order[i], die) && resolve_aggregate(p, die))
			return true;
	return false;
}

bool hc_symbols_type_by_name(const struct hc_symbols *s, const struct hc_module *m, const char *name,
			     struct hc_type_ref *out)
{
	if (!m || !name)
		return false;
	/* DW_AT_name is the last component of a qualified name: "app::Box<ns::T>" is "Box<ns::T>" */
	const char *last = name;
	int depth = 0;
	for (const char *c = name; *c; c++) {
		if (*c == '<' || *c == '(')
			depth++;
		else if ((*c == '>' || *c == ')') && depth > 0)
			depth--;
		else if (!depth && c[0] == ':' && c[1] == ':')
			last = c + 2;
	}
	Dwarf_Die die;
	if (!find_type(s, m, last, &die))
		return false;
	struct hc_type_ref r = hc_symbols_type_ref(m, &die);
	if (last != name) {
		/* the index holds one definition per bare name: it must be this namespace's */
		char spelled[512];
		if (!hc_symbols_type_name(s, r, spelled, sizeof(spelled)) || strcmp(spelled, name))
			return false;
	}
	*out = r;
	return true;
}

bool hc_symbols_struct_size(const struct hc_symbols *s, const struct hc_module *m,
			    const char *struct_name, uint64_t *size)
{
	Dwarf_Die die;
	Dwarf_Word sz;
	if (!find_type(s, m, struct_name, &die) || dwarf_aggregate_size(&die, &sz) != 0)
		return false;
	*size = sz;
	return true;
}

/* DW_AT_data_member_location as a constant, or DWARF 2's DW_OP_plus_uconst; 0 for union members. */
bool hc_symbols_member_location(Dwarf_Die *member, uint64_t *off)
{
	Dwarf_Attribute attr;
	if (!dwarf_attr_integrate(member, DW_AT_data_member_location, &attr)) {
		Dwarf_Word bits;
		if (dwarf_attr_integrate(member, DW_AT_data_bit_offset, &attr) && dwarf_formudata(&attr, &bits) == 0) {
			*off = bits / 8;
			return true;
		}
		*off = 0;
		return true;
	}
	Dwarf_Word v;
	if (dwarf_whatform(&attr) != DW_FORM_exprloc && dwarf_whatform(&attr) != DW_FORM_block1 &&
	    dwarf_formudata(&attr, &v) == 0) {
		*off = v;
		return true;
	}
	Dwarf_Op *ops;
	size_t nops;
	if (dwarf_getlocation(&attr, &ops, &nops) == 0 && nops == 1 && ops[0].atom == DW_OP_plus_uconst) {
		*off = ops[0].number;
		return true;
	}
	return false;
}

/* Finds member name in aggregate die, looking through anonymous struct/union members too. */
static bool find_member(struct hc_module_priv *p, Dwarf_Die *agg, const char *name, size_t name_len, int depth,
			uint64_t *off, Dwarf_Die *member_out)
{
	if (depth > MEMBER_DEPTH_MAX)
		return false;
	Dwarf_Die child;
	if (dwarf_child(agg, &child) != 0)
		return false;
	unsigned n = 0;
	do {
		if (dwarf_tag(&child) != DW_TAG_member)
			continue;
		const char *mn = dwarf_diename(&child);
		uint64_t moff;
		if (mn && strlen(mn) == name_len && !strncmp(mn, name, name_len)) {
			if (!hc_symbols_member_location(&child, &moff))
				return false;
			*off = moff;
			*member_out = child;
			return true;
		}
		if (!mn) {
			Dwarf_Attribute attr;
			Dwarf_Die type;
			uint64_t inner;
			if (dwarf_attr_integrate(&child, DW_AT_type, &attr) && dwarf_formref_die(&attr, &type) &&
			    resolve_aggregate(p, &type) && hc_symbols_member_location(&child, &moff) &&
			    find_member(p, &type, name, name_len, depth + 1, &inner, member_out)) {
				*off = moff + inner;
				return true;
			}
		}
	} while (++n < MEMBERS_MAX && dwarf_siblingof(&child, &child) == 0);
	return false;
}

/* member may be a path, "a.b": offsets add up through nested aggregates. */
bool hc_symbols_member_offset(const struct hc_symbols *s, const struct hc_module *m,
			      const char *struct_name, const char *member, uint64_t *offset)
{
	Dwarf_Die agg;
	if (!member || !find_type(s, m, struct_name, &agg))
		return false;
	struct hc_module_priv *p = hc_mod_priv(m);
	uint64_t total = 0;
	const char *part = member;
	for (int depth = 0; depth < MEMBER_DEPTH_MAX; depth++) {
		const char *dot = strchr(part, '.');
		size_t len = dot ? (size_t)(dot - part) : strlen(part);
		uint64_t off;
		Dwarf_Die mem;
		if (!len || !find_member(p, &agg, part, len, 0, &off, &mem))
			return false;
		total += off;
		if (!dot) {
			*offset = total;
			return true;
		}
		Dwarf_Attribute attr;
		if (!dwarf_attr_integrate(&mem, DW_AT_type, &attr) || !dwarf_formref_die(&attr, &agg) ||
		    !resolve_aggregate(p, &agg))
			return false;
		part = dot + 1;
	}
	return false;
}

double hc_symbols_dwarf_index_seconds(const struct hc_module *m)
{
	return m && m->priv ? hc_mod_priv(m)->index_seconds : 0;
}
