/*
 * Type handles (struct hc_type_ref): DWARF types named and walked without
 * exposing libdw to the layers above. Owns spelling a type the way a C or
 * C++ programmer writes it, the pointee of a pointer type, the member at a
 * byte offset ("items[3]", "cfg.next") and the flat list of pointer members
 * of a type, which is what following typed pointers through a heap needs.
 *
 * C++ names are qualified by their enclosing namespaces and classes; libdw
 * has no parent links, so finding them walks the unit from its root
 * (dwarf_getscopes_die), and the result is cached per DIE.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <dwarf.h>

#include "symbols_internal.h"

/* Type chains (pointer to const typedef of struct ...) and nesting are short; caps stop loops. */
#define CHAIN_MAX 16
#define NEST_MAX 12
#define MEMBERS_MAX 100000
#define ALT_BIT (1ull << 63)

/* ---- DIE <-> handle ---- */

struct hc_type_ref hc_symbols_type_ref(const struct hc_module *m, Dwarf_Die *die)
{
	struct hc_module_priv *p = hc_mod_priv(m);
	struct hc_type_ref r = { .module = m, .die = dwarf_dieoffset(die) };
	r.alt = p->alt_dw && dwarf_cu_getdwarf(die->cu) == p->alt_dw;
	return r;
}

bool hc_symbols_type_die(struct hc_type_ref t, Dwarf_Die *die)
{
	if (!t.module || !t.module->priv)
		return false;
	struct hc_module_priv *p = hc_mod_priv(t.module);
	Dwarf *dw = t.alt ? p->alt_dw : p->dw;
	return dw && dwarf_offdie(dw, t.die, die) != NULL;
}

static bool type_of(Dwarf_Die *die, Dwarf_Die *out)
{
	Dwarf_Attribute attr;
	return dwarf_attr_integrate(die, DW_AT_type, &attr) && dwarf_formref_die(&attr, out);
}

static bool is_cv(int tag)
{
	return tag == DW_TAG_const_type || tag == DW_TAG_volatile_type || tag == DW_TAG_restrict_type ||
	       tag == DW_TAG_atomic_type;
}

static bool is_aggregate(int tag)
{
	return tag == DW_TAG_structure_type || tag == DW_TAG_class_type || tag == DW_TAG_union_type;
}

/* Peels typedefs and qualifiers; false if the chain ends in nothing (void) or loops. */
static bool peel(Dwarf_Die *die)
{
	for (int k = 0; k < CHAIN_MAX; k++) {
		int tag = dwarf_tag(die);
		if (tag != DW_TAG_typedef && !is_cv(tag))
			return true;
		if (!type_of(die, die))
			return false;
	}
	return false;
}

/* ---- the qualified-name cache ---- */

struct hc_name_cache {
	uint64_t *keys;          /* DIE offset | ALT_BIT; 0 = empty (offset 0 is never a type DIE) */
	char **names;
	uint32_t count, cap;
};

void hc_symbols_free_types(struct hc_module_priv *p)
{
	struct hc_name_cache *c = p->names;
	if (!c)
		return;
	for (uint32_t i = 0; i < c->cap; i++)
		free(c->names[i]);
	free(c->keys);
	free(c->names);
	free(c);
	p->names = NULL;
}

static uint32_t key_slot(const struct hc_name_cache *c, uint64_t key)
{
	uint64_t h = key * 0x9e3779b97f4a7c15ull;
	uint32_t mask = c->cap - 1;
	uint32_t i = (uint32_t)(h >> 32) & mask;
	while (c->keys[i] && c->keys[i] != key)
		i = (i + 1) & mask;
	return i;
}

static const char *cache_get(struct hc_module_priv *p, uint64_t key)
{
	struct hc_name_cache *c = p->names;
	if (!c || !c->cap)
		return NULL;
	uint32_t i = key_slot(c, key);
	return c->keys[i] ? c->names[i] : NULL;
}

/* Caches a copy of name; on allocation failure nothing is cached (the name is spelled again next time). */
static void cache_put(struct hc_module_priv *p, uint64_t key, const char *name)
{
	if (!p->names && !(p->names = calloc(1, sizeof(*p->names))))
		return;
	struct hc_name_cache *c = p->names;
	if ((c->count + 1) * 2 > c->cap) {
		uint32_t cap = c->cap ? c->cap * 2 : 256;
		uint64_t *keys = calloc(cap, sizeof(*keys));
		char **names = calloc(cap, sizeof(*names));
		if (!keys || !names) {
			free(keys);
			free(names);
			return;
		}
		struct hc_name_cache old = *c;
		c->keys = keys;
		c->names = names;
		c->cap = cap;
		for (uint32_t i = 0; i < old.cap; i++) {
			if (old.keys[i]) {
				uint32_t j = key_slot(c, old.keys[i]);
				c->keys[j] = old.keys[i];
				c->names[j] = old.names[i];
			}
		}
		free(old.keys);
		free(old.names);
	}
	char *copy = strdup(name);
	if (!copy)
		return;
	uint32_t i = key_slot(c, key);
	if (c->keys[i]) {
		free(copy);
		return;
	}
	c->keys[i] = key;
	c->names[i] = copy;
	c->count++;
}

/* ---- spelling types ---- */

/* A bounded string builder: text past the capacity is dropped, never overrun. */
struct sb {
	char *buf;
	size_t len, cap;
};

static void sb_put(struct sb *b, const char *s)
{
	size_t n = strlen(s);
	if (b->len + 1 >= b->cap)
		return;
	size_t room = b->cap - 1 - b->len;
	if (n > room)
		n = room;
	memcpy(b->buf + b->len, s, n);
	b->len += n;
	b->buf[b->len] = 0;
}

static bool lang_is_cxx(int lang)
{
	return lang == DW_LANG_C_plus_plus || lang == DW_LANG_C_plus_plus_03 || lang == DW_LANG_C_plus_plus_11 ||
	       lang == DW_LANG_C_plus_plus_14;
}

/* Whether any unit of the module is C++: computed once from the units' DIEs alone. */
static bool module_is_cxx(const struct hc_module *m)
{
	struct hc_module_priv *p = hc_mod_priv(m);
	if (!p->cxx) {
		bool cxx = false;
		Dwarf_CU *cu = NULL;
		Dwarf_Die cudie;
		Dwarf_Half version;
		uint8_t unit_type;
		while (p->dw && !cxx && dwarf_get_units(p->dw, cu, &cu, &version, &unit_type, &cudie, NULL) == 0)
			cxx = lang_is_cxx(dwarf_srclang(&cudie));
		p->cxx = cxx ? 2 : 1;
	}
	return p->cxx == 2;
}

/* The language of the DIE's unit; a dwz partial unit that names none is taken as the module's. */
static bool is_cxx(const struct hc_module *m, Dwarf_Die *die)
{
	Dwarf_Die cu;
	if (!dwarf_diecu(die, &cu, NULL, NULL))
		return false;
	int lang = dwarf_srclang(&cu);
	if (lang >= 0)
		return lang_is_cxx(lang);
	return module_is_cxx(m);
}

static const char *anonymous_name(int tag)
{
	switch (tag) {
	case DW_TAG_structure_type: return "struct {...}";
	case DW_TAG_class_type: return "class {...}";
	case DW_TAG_union_type: return "union {...}";
	case DW_TAG_enumeration_type: return "enum {...}";
	default: return "?";
	}
}

/* A C++ name qualified by its enclosing namespaces and classes: "app::Widget". */
static void cxx_qualified(const struct hc_module *m, Dwarf_Die *die, const char *name, struct sb *b)
{
	struct hc_module_priv *p = hc_mod_priv(m);
	struct hc_type_ref r = hc_symbols_type_ref(m, die);
	uint64_t key = r.die | (r.alt ? ALT_BIT : 0);
	const char *cached = cache_get(p, key);
	if (cached) {
		sb_put(b, cached);
		return;
	}
	char tmp[512];
	struct sb q = { tmp, 0, sizeof(tmp) };
	tmp[0] = 0;
	Dwarf_Die *scopes = NULL;
	int n = dwarf_getscopes_die(die, &scopes);
	/* scopes[0] is the DIE itself, the last one its unit: the parents are in between, innermost first. */
	for (int i = n - 2; i >= 1; i--) {
		int tag = dwarf_tag(&scopes[i]);
		if (tag != DW_TAG_namespace && !is_aggregate(tag))
			continue;
		const char *pn = dwarf_diename(&scopes[i]);
		sb_put(&q, pn ? pn : tag == DW_TAG_namespace ? "(anonymous namespace)" : anonymous_name(tag));
		sb_put(&q, "::");
	}
	free(scopes);
	sb_put(&q, name);
	cache_put(p, key, tmp);
	sb_put(b, tmp);
}

static void spell(const struct hc_module *m, Dwarf_Die *die, struct sb *b, int depth);

/* The type a DIE refers to through DW_AT_type, or "void" when it has none. */
static void spell_ref(const struct hc_module *m, Dwarf_Die *die, struct sb *b, int depth)
{
	Dwarf_Die t;
	if (type_of(die, &t))
		spell(m, &t, b, depth + 1);
	else
		sb_put(b, "void");
}

static void spell_array(const struct hc_module *m, Dwarf_Die *die, struct sb *b, int depth)
{
	spell_ref(m, die, b, depth);
	Dwarf_Die sub;
	if (dwarf_child(die, &sub) != 0)
		return;
	unsigned n = 0;
	do {
		if (dwarf_tag(&sub) != DW_TAG_subrange_type)
			continue;
		Dwarf_Attribute attr;
		Dwarf_Word v;
		char dim[32];
		if (dwarf_attr_integrate(&sub, DW_AT_count, &attr) && dwarf_formudata(&attr, &v) == 0)
			snprintf(dim, sizeof(dim), "[%llu]", (unsigned long long)v);
		else if (dwarf_attr_integrate(&sub, DW_AT_upper_bound, &attr) && dwarf_formudata(&attr, &v) == 0)
			snprintf(dim, sizeof(dim), "[%llu]", (unsigned long long)v + 1);
		else
			snprintf(dim, sizeof(dim), "[]");
		sb_put(b, dim);
	} while (++n < 64 && dwarf_siblingof(&sub, &sub) == 0);
}

static void spell(const struct hc_module *m, Dwarf_Die *die, struct sb *b, int depth)
{
	if (depth > CHAIN_MAX) {
		sb_put(b, "...");
		return;
	}
	int tag = dwarf_tag(die);
	const char *name = dwarf_diename(die);
	Dwarf_Die t;
	switch (tag) {
	case DW_TAG_base_type:
	case DW_TAG_unspecified_type:
		sb_put(b, name ? name : "?");
		return;
	case DW_TAG_structure_type:
	case DW_TAG_class_type:
	case DW_TAG_union_type:
	case DW_TAG_enumeration_type:
	case DW_TAG_typedef:
		if (!name) {
			sb_put(b, anonymous_name(tag));
		} else if (is_cxx(m, die)) {
			cxx_qualified(m, die, name, b);
		} else {
			sb_put(b, tag == DW_TAG_structure_type ? "struct " : tag == DW_TAG_union_type ? "union "
				  : tag == DW_TAG_enumeration_type ? "enum " : tag == DW_TAG_class_type ? "class " : "");
			sb_put(b, name);
		}
		return;
	case DW_TAG_pointer_type:
	case DW_TAG_reference_type:
	case DW_TAG_rvalue_reference_type: {
		const char *suffix = tag == DW_TAG_pointer_type ? "*" : tag == DW_TAG_reference_type ? "&" : "&&";
		if (type_of(die, &t) && dwarf_tag(&t) == DW_TAG_subroutine_type) {
			spell_ref(m, &t, b, depth);
			sb_put(b, " (");
			sb_put(b, suffix);
			sb_put(b, ")()");
			return;
		}
		spell_ref(m, die, b, depth);
		/* "char **", not "char * *" */
		if (b->len && b->buf[b->len - 1] != '*' && b->buf[b->len - 1] != '&')
			sb_put(b, " ");
		sb_put(b, suffix);
		return;
	}
	case DW_TAG_const_type:
	case DW_TAG_volatile_type:
	case DW_TAG_atomic_type: {
		const char *q = tag == DW_TAG_const_type ? "const" : tag == DW_TAG_volatile_type ? "volatile" : "_Atomic";
		/* A qualified pointer is spelled after the star: "char * const". */
		if (type_of(die, &t) && dwarf_tag(&t) == DW_TAG_pointer_type) {
			spell(m, &t, b, depth + 1);
			sb_put(b, " ");
			sb_put(b, q);
		} else {
			sb_put(b, q);
			sb_put(b, " ");
			spell_ref(m, die, b, depth);
		}
		return;
	}
	case DW_TAG_restrict_type:
		spell_ref(m, die, b, depth);
		return;
	case DW_TAG_array_type:
		spell_array(m, die, b, depth);
		return;
	case DW_TAG_subroutine_type:
		spell_ref(m, die, b, depth);
		sb_put(b, " ()");
		return;
	case DW_TAG_ptr_to_member_type:
		sb_put(b, "pointer to member");
		return;
	default:
		sb_put(b, name ? name : "?");
		return;
	}
}

bool hc_symbols_type_name(const struct hc_symbols *s, struct hc_type_ref t, char *buf, size_t len)
{
	Dwarf_Die die;
	if (!buf || !len || !hc_symbols_type_die(t, &die))
		return false;
	struct sb b = { buf, 0, len };
	buf[0] = 0;
	spell(t.module, &die, &b, 0);
	return true;
}

bool hc_symbols_type_is_aggregate(const struct hc_symbols *s, struct hc_type_ref t)
{
	Dwarf_Die die;
	if (!hc_symbols_type_die(t, &die) || !peel(&die))
		return false;
	int tag = dwarf_tag(&die);
	return is_aggregate(tag) || tag == DW_TAG_array_type;
}

bool hc_symbols_type_size(const struct hc_symbols *s, struct hc_type_ref t, uint64_t *size)
{
	Dwarf_Die die;
	if (!hc_symbols_type_die(t, &die) || !peel(&die))
		return false;
	if (is_aggregate(dwarf_tag(&die)) && !hc_symbols_resolve_aggregate(s, t.module, &die))
		return false;
	Dwarf_Word sz;
	if (dwarf_aggregate_size(&die, &sz) != 0)
		return false;
	*size = sz;
	return true;
}

/*
 * What a pointer's target type is called and laid out by: qualifiers peeled,
 * typedefs peeled down to a named type (an anonymous struct keeps its typedef
 * name), declarations resolved. False for void and functions.
 */
static bool canonical_pointee(const struct hc_symbols *s, const struct hc_module *m, Dwarf_Die *die)
{
	for (int k = 0; k < CHAIN_MAX; k++) {
		int tag = dwarf_tag(die);
		if (is_cv(tag)) {
			if (!type_of(die, die))
				return false;
			continue;
		}
		if (tag == DW_TAG_typedef) {
			Dwarf_Die target;
			if (!type_of(die, &target))
				return false;
			Dwarf_Die end = target;
			if (!peel(&end))
				return false;
			int et = dwarf_tag(&end);
			if (et == DW_TAG_subroutine_type)
				return false;
			if ((is_aggregate(et) || et == DW_TAG_enumeration_type) && !dwarf_diename(&end)) {
				/* keep the typedef's name; the layout is reached through it */
				return true;
			}
			*die = target;
			continue;
		}
		if (tag == DW_TAG_subroutine_type)
			return false;
		if (is_aggregate(tag) && dwarf_hasattr(die, DW_AT_declaration)) {
			/* Incomplete here; its definition elsewhere has the layout. Keep the declaration if none. */
			Dwarf_Die def = *die;
			if (hc_symbols_resolve_aggregate(s, m, &def))
				*die = def;
		}
		return true;
	}
	return false;
}

bool hc_symbols_type_pointee(const struct hc_symbols *s, struct hc_type_ref t, struct hc_type_ref *pointee)
{
	Dwarf_Die die;
	if (!hc_symbols_type_die(t, &die) || !peel(&die))
		return false;
	int tag = dwarf_tag(&die);
	if (tag != DW_TAG_pointer_type && tag != DW_TAG_reference_type && tag != DW_TAG_rvalue_reference_type)
		return false;
	Dwarf_Die target;
	if (!type_of(&die, &target) || !canonical_pointee(s, t.module, &target))
		return false;
	*pointee = hc_symbols_type_ref(t.module, &target);
	return true;
}

/* ---- layout walking ---- */

static bool die_size(const struct hc_symbols *s, const struct hc_module *m, Dwarf_Die *type, uint64_t *size)
{
	Dwarf_Die d = *type;
	if (!peel(&d))
		return false;
	if (is_aggregate(dwarf_tag(&d)) && !hc_symbols_resolve_aggregate(s, m, &d))
		return false;
	Dwarf_Word sz;
	if (dwarf_aggregate_size(&d, &sz) != 0)
		return false;
	*size = sz;
	return true;
}

/* The dimensions of an array type (count 0 = unknown), at most max; returns how many. */
static unsigned array_dims(Dwarf_Die *array, uint64_t *dims, unsigned max)
{
	Dwarf_Die sub;
	unsigned n = 0;
	if (dwarf_child(array, &sub) != 0)
		return 0;
	do {
		if (dwarf_tag(&sub) != DW_TAG_subrange_type)
			continue;
		Dwarf_Attribute attr;
		Dwarf_Word v;
		uint64_t count = 0;
		if (dwarf_attr_integrate(&sub, DW_AT_count, &attr) && dwarf_formudata(&attr, &v) == 0)
			count = v;
		else if (dwarf_attr_integrate(&sub, DW_AT_upper_bound, &attr) && dwarf_formudata(&attr, &v) == 0)
			count = v + 1;
		dims[n++] = count;
	} while (n < max && dwarf_siblingof(&sub, &sub) == 0);
	return n;
}

static void path_member(struct sb *b, const char *name)
{
	if (b->len)
		sb_put(b, ".");
	sb_put(b, name);
}

/* Appends "[i][j]" for flat element index `flat` of an array with these dimensions. */
static void path_index(struct sb *b, uint64_t flat, const uint64_t *dims, unsigned ndims)
{
	uint64_t idx[8];
	for (unsigned d = ndims; d-- > 0;) {
		uint64_t n = dims[d];
		if (d == 0 || n == 0) {
			idx[d] = flat;
			flat = 0;
		} else {
			idx[d] = flat % n;
			flat /= n;
		}
	}
	for (unsigned d = 0; d < ndims; d++) {
		char tmp[32];
		snprintf(tmp, sizeof(tmp), "[%llu]", (unsigned long long)idx[d]);
		sb_put(b, tmp);
	}
}

static bool member_at(const struct hc_symbols *s, const struct hc_module *m, Dwarf_Die *type, uint64_t off,
		      struct sb *path, struct hc_type_member *out, uint64_t base, int depth)
{
	if (depth > NEST_MAX)
		return false;
	Dwarf_Die d = *type;
	if (!peel(&d))
		return false;
	int tag = dwarf_tag(&d);
	if (is_aggregate(tag)) {
		if (!hc_symbols_resolve_aggregate(s, m, &d))
			return false;
		Dwarf_Die child;
		if (dwarf_child(&d, &child) != 0)
			return false;
		unsigned n = 0;
		do {
			int ct = dwarf_tag(&child);
			if ((ct != DW_TAG_member && ct != DW_TAG_inheritance) ||
			    dwarf_hasattr(&child, DW_AT_declaration) || dwarf_hasattr(&child, DW_AT_external))
				continue;
			uint64_t loc, size;
			Dwarf_Die mt;
			if (!hc_symbols_member_location(&child, &loc) || !type_of(&child, &mt) ||
			    !die_size(s, m, &mt, &size) || off < loc || off - loc >= size)
				continue;
			size_t mark = path->len;
			const char *name = ct == DW_TAG_member ? dwarf_diename(&child) : NULL;
			if (name)
				path_member(path, name);
			if (member_at(s, m, &mt, off - loc, path, out, base + loc, depth + 1))
				return true;
			/*
			 * Not inside this one (padding, an empty base class of size
			 * 1 at offset 0): the next member covering the offset may be.
			 * In a union the first member that answers wins.
			 */
			path->len = mark;
			path->buf[mark] = 0;
		} while (++n < MEMBERS_MAX && dwarf_siblingof(&child, &child) == 0);
		return false;
	}
	if (tag == DW_TAG_array_type) {
		Dwarf_Die elem;
		uint64_t esize, dims[8];
		unsigned nd = array_dims(&d, dims, 8);
		if (!type_of(&d, &elem) || !die_size(s, m, &elem, &esize) || esize == 0 || nd == 0)
			return false;
		uint64_t total = 1;
		for (unsigned i = 0; i < nd; i++)
			total = dims[i] ? total * dims[i] : 0;
		uint64_t flat = off / esize;
		if (total && flat >= total)
			return false;
		path_index(path, flat, dims, nd);
		return member_at(s, m, &elem, off - flat * esize, path, out, base + flat * esize, depth + 1);
	}
	/* a scalar: the leaf */
	uint64_t size;
	if (!die_size(s, m, type, &size))
		size = 0;
	if (size && off >= size)
		return false;
	snprintf(out->path, sizeof(out->path), "%s", path->buf);
	out->type = hc_symbols_type_ref(m, type);
	out->offset = base;
	out->size = size;
	return true;
}

bool hc_symbols_type_member_at(const struct hc_symbols *s, struct hc_type_ref t, uint64_t offset,
			       struct hc_type_member *out)
{
	Dwarf_Die die;
	if (!out || !hc_symbols_type_die(t, &die))
		return false;
	char tmp[sizeof(out->path)];
	tmp[0] = 0;
	struct sb path = { tmp, 0, sizeof(tmp) };
	memset(out, 0, sizeof(*out));
	return member_at(s, t.module, &die, offset, &path, out, 0, 0);
}

struct pointers {
	const struct hc_symbols *s;
	const struct hc_module *m;
	struct hc_type_pointer *out;
	uint32_t n, max;
};

static void pointers_walk(struct pointers *w, Dwarf_Die *type, uint64_t base, struct sb *path, int depth)
{
	if (depth > NEST_MAX || w->n >= w->max)
		return;
	Dwarf_Die d = *type;
	if (!peel(&d))
		return;
	int tag = dwarf_tag(&d);
	if (tag == DW_TAG_pointer_type || tag == DW_TAG_reference_type || tag == DW_TAG_rvalue_reference_type) {
		Dwarf_Die target;
		if (!type_of(&d, &target) || !canonical_pointee(w->s, w->m, &target))
			return;
		struct hc_type_pointer *p = &w->out[w->n++];
		p->offset = base;
		p->pointee = hc_symbols_type_ref(w->m, &target);
		snprintf(p->path, sizeof(p->path), "%s", path->buf);
		return;
	}
	if (is_aggregate(tag)) {
		if (!hc_symbols_resolve_aggregate(w->s, w->m, &d))
			return;
		Dwarf_Die child;
		if (dwarf_child(&d, &child) != 0)
			return;
		unsigned n = 0;
		do {
			int ct = dwarf_tag(&child);
			if ((ct != DW_TAG_member && ct != DW_TAG_inheritance) ||
			    dwarf_hasattr(&child, DW_AT_declaration) || dwarf_hasattr(&child, DW_AT_external))
				continue;
			uint64_t loc;
			Dwarf_Die mt;
			if (!hc_symbols_member_location(&child, &loc) || !type_of(&child, &mt))
				continue;
			size_t mark = path->len;
			const char *name = ct == DW_TAG_member ? dwarf_diename(&child) : NULL;
			if (name)
				path_member(path, name);
			pointers_walk(w, &mt, base + loc, path, depth + 1);
			path->len = mark;
			path->buf[mark] = 0;
			/* the members of a union overlap: its first member alone describes the words */
			if (tag == DW_TAG_union_type)
				break;
		} while (++n < MEMBERS_MAX && w->n < w->max && dwarf_siblingof(&child, &child) == 0);
		return;
	}
	if (tag == DW_TAG_array_type) {
		Dwarf_Die elem;
		uint64_t esize, dims[8];
		unsigned nd = array_dims(&d, dims, 8);
		if (!type_of(&d, &elem) || !die_size(w->s, w->m, &elem, &esize) || esize == 0 || nd == 0)
			return;
		uint64_t total = 1;
		for (unsigned i = 0; i < nd; i++)
			total = dims[i] ? total * dims[i] : 0;
		for (uint64_t i = 0; i < total && w->n < w->max; i++) {
			uint32_t before = w->n;
			size_t mark = path->len;
			path_index(path, i, dims, nd);
			pointers_walk(w, &elem, base + i * esize, path, depth + 1);
			path->len = mark;
			path->buf[mark] = 0;
			/* elements are alike: one without pointers means none has any */
			if (w->n == before)
				break;
		}
	}
}

static int cmp_pointer(const void *a, const void *b)
{
	const struct hc_type_pointer *x = a, *y = b;
	return x->offset < y->offset ? -1 : x->offset > y->offset;
}

uint32_t hc_symbols_type_pointers(const struct hc_symbols *s, struct hc_type_ref t, struct hc_type_pointer *out,
				  uint32_t max)
{
	Dwarf_Die die;
	if (!out || !max || !hc_symbols_type_die(t, &die))
		return 0;
	char tmp[sizeof(out->path)];
	tmp[0] = 0;
	struct sb path = { tmp, 0, sizeof(tmp) };
	struct pointers w = { s, t.module, out, 0, max };
	pointers_walk(&w, &die, 0, &path, 0);
	qsort(out, w.n, sizeof(*out), cmp_pointer);
	return w.n;
}
