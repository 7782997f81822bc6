/*
 * Static variables by address: which global, namespace-scope, class-static or
 * function-local static variable holds a given address, its type, where it
 * was declared and the member path inside it ("g_registry.items[3]"). Roots
 * in modules' data are named through this, one question per root word, so
 * each module's variables are indexed once (on its first question) into an
 * array sorted by address, and every question after is a binary search.
 *
 * From DWARF when the module has it: every DW_TAG_variable whose location is
 * one fixed address (DW_OP_addr / DW_OP_addrx), at unit scope, in namespaces
 * and inside functions and their blocks (statics there). Thread-local and
 * register or stack variables have no fixed address and are left out. Without
 * DWARF, or for an address DWARF does not cover, the ELF symbol table's
 * STT_OBJECT symbols give a name and an offset.
 *
 * Also locals by stack address (hc_symbols_local_at): the scopes around a
 * pc, and their variables whose slot is a fixed offset from the frame base
 * or the stack pointer; nothing is indexed, a question walks one unit.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <dwarf.h>

#include "heapcore/demangle.h"
#include "symbols_internal.h"

#define NEST_MAX 32
#define VARS_MAX (16u * 1024 * 1024)
/* Variables do not overlap, but aliases can share an address: look a few back. */
#define LOOKBACK 4

void hc_symbols_free_vars(struct hc_module_priv *p)
{
	free(p->vars);
	p->vars = NULL;
	p->nvars = 0;
}

/* The variable's fixed address (file vaddr), if its location is exactly one. */
static bool fixed_address(Dwarf_Die *die, uint64_t *addr)
{
	Dwarf_Attribute attr;
	Dwarf_Op *ops;
	size_t nops;
	if (!dwarf_attr(die, DW_AT_location, &attr) || dwarf_getlocation(&attr, &ops, &nops) != 0 || nops != 1)
		return false;
	if (ops[0].atom == DW_OP_addr) {
		*addr = ops[0].number;
		return true;
	}
	if (ops[0].atom == DW_OP_addrx || ops[0].atom == DW_OP_GNU_addr_index) {
		Dwarf_Attribute res;
		Dwarf_Addr a;
		if (dwarf_getlocation_attr(&attr, &ops[0], &res) == 0 && dwarf_formaddr(&res, &a) == 0) {
			*addr = a;
			return true;
		}
	}
	return false;
}

struct build {
	const struct hc_symbols *s;
	const struct hc_module *m;
	struct hc_module_priv *p;
	uint32_t cap;
	bool nomem;
};

static void add_var(struct build *b, Dwarf_Die *die, uint64_t value, const char *scope)
{
	struct hc_module_priv *p = b->p;
	if (p->nvars == b->cap) {
		if (b->cap >= VARS_MAX)
			return;
		uint32_t cap = b->cap ? b->cap * 2 : 256;
		struct hc_var_entry *v = realloc(p->vars, cap * sizeof(*v));
		if (!v) {
			b->nomem = true;
			return;
		}
		p->vars = v;
		b->cap = cap;
	}
	uint64_t size = 0;
	Dwarf_Attribute attr;
	Dwarf_Die type;
	if (dwarf_attr_integrate(die, DW_AT_type, &attr) && dwarf_formref_die(&attr, &type) &&
	    !hc_symbols_type_size(b->s, hc_symbols_type_ref(b->m, &type), &size))
		size = 0;
	if (!size) {
		/* incomplete in DWARF ("extern char buf[]" defined elsewhere): the ELF symbol knows */
		struct hc_symbol sym;
		if (b->m->bias_known && hc_symbols_symbol_at(b->s, value + b->m->bias, &sym) &&
		    sym.address == value + b->m->bias)
			size = sym.size;
	}
	struct hc_var_entry *e = &p->vars[p->nvars++];
	e->value = value;
	e->size = size;
	e->die = dwarf_dieoffset(die);
	e->scope = scope;
}

static void walk(struct build *b, Dwarf_Die *parent, const char *scope, int depth)
{
	if (depth > NEST_MAX)
		return;
	Dwarf_Die die;
	if (dwarf_child(parent, &die) != 0)
		return;
	do {
		if (b->nomem)
			return;
		uint64_t value;
		switch (dwarf_tag(&die)) {
		case DW_TAG_variable:
			if (fixed_address(&die, &value))
				add_var(b, &die, value, scope);
			break;
		case DW_TAG_namespace:
		case DW_TAG_lexical_block:
			walk(b, &die, scope, depth + 1);
			break;
		case DW_TAG_subprogram: {
			const char *name = dwarf_diename(&die);
			walk(b, &die, name ? name : scope, depth + 1);
			break;
		}
		default:
			break;
		}
	} while (dwarf_siblingof(&die, &die) == 0);
}

static int cmp_var(const void *a, const void *b)
{
	const struct hc_var_entry *x = a, *y = b;
	if (x->value != y->value)
		return x->value < y->value ? -1 : 1;
	/* among aliases, the one with an extent first */
	if (x->size != y->size)
		return x->size > y->size ? -1 : 1;
	return x->die < y->die ? -1 : x->die > y->die;
}

/* Builds the module's index once; false when it has no DWARF (or memory ran out). */
static bool ensure_vars(const struct hc_symbols *s, const struct hc_module *m)
{
	struct hc_module_priv *p = hc_mod_priv(m);
	if (p->vars_built)
		return p->vars != NULL;
	p->vars_built = true;
	Dwarf *dw = hc_symbols_dwarf(s, m);
	if (!dw)
		return false;
	struct build b = { s, m, p, 0, false };
	Dwarf_CU *cu = NULL;
	Dwarf_Die cudie;
	Dwarf_Half version;
	uint8_t unit_type;
	while (!b.nomem && dwarf_get_units(dw, cu, &cu, &version, &unit_type, &cudie, NULL) == 0) {
		if (unit_type == DW_UT_type || unit_type == DW_UT_split_type)
			continue;
		walk(&b, &cudie, NULL, 0);
	}
	if (b.nomem || !p->nvars) {
		/* half an index would answer wrongly: none, and the ELF symbols answer */
		hc_symbols_free_vars(p);
		return false;
	}
	qsort(p->vars, p->nvars, sizeof(*p->vars), cmp_var);
	return true;
}

static const struct hc_var_entry *find_var(const struct hc_module_priv *p, uint64_t v)
{
	uint32_t lo = 0, hi = p->nvars;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (p->vars[mid].value <= v)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (uint32_t k = 0; k < LOOKBACK && lo > 0; k++, lo--) {
		const struct hc_var_entry *e = &p->vars[lo - 1];
		if (v - e->value < (e->size ? e->size : 1))
			return e;
	}
	return NULL;
}

static void plus_offset(char *buf, size_t len, const char *name, uint64_t off)
{
	if (off)
		snprintf(buf, len, "%s+0x%llx", name, (unsigned long long)off);
	else
		snprintf(buf, len, "%s", name);
}

static void name_of(Dwarf_Die *die, const char *scope, char *buf, size_t len)
{
	Dwarf_Attribute attr;
	const char *linkage = NULL;
	if (dwarf_attr_integrate(die, DW_AT_linkage_name, &attr) ||
	    dwarf_attr_integrate(die, DW_AT_MIPS_linkage_name, &attr))
		linkage = dwarf_formstring(&attr);
	/* C++: the demangled linkage name is qualified ("app::g_widgets", "main::counter"). */
	if (linkage && hc_demangle(linkage, buf, len))
		return;
	const char *name = dwarf_diename(die);
	if (!name)
		name = "?";
	if (scope)
		snprintf(buf, len, "%s::%s", scope, name);
	else
		snprintf(buf, len, "%s", name);
}

/* Fills out from the variable's DIE, its extent and the address asked about. */
static void describe_var(const struct hc_symbols *s, const struct hc_module *m, Dwarf_Die *die, const char *scope,
			 uint64_t address, uint64_t size, uint64_t addr, struct hc_variable *out)
{
	out->module = m;
	out->from_dwarf = true;
	out->address = address;
	out->size = size;
	out->offset = addr - address;
	name_of(die, scope, out->name, sizeof(out->name));
	out->decl_file = dwarf_decl_file(die);
	int line;
	if (dwarf_decl_line(die, &line) == 0 && line > 0)
		out->decl_line = (uint32_t)line;
	Dwarf_Attribute attr;
	Dwarf_Die type;
	if (dwarf_attr_integrate(die, DW_AT_type, &attr) && dwarf_formref_die(&attr, &type)) {
		out->type = hc_symbols_type_ref(m, &type);
		hc_symbols_type_name(s, out->type, out->type_name, sizeof(out->type_name));
	}
	if (out->type.module && hc_symbols_type_member_at(s, out->type, out->offset, &out->leaf)) {
		const char *sep = out->leaf.path[0] && out->leaf.path[0] != '[' ? "." : "";
		snprintf(out->path, sizeof(out->path), "%s%s%s", out->name, sep, out->leaf.path);
	} else {
		memset(&out->leaf, 0, sizeof(out->leaf));
		plus_offset(out->path, sizeof(out->path), out->name, out->offset);
	}
}

static bool from_dwarf(const struct hc_symbols *s, const struct hc_module *m, uint64_t addr,
		       struct hc_variable *out)
{
	struct hc_module_priv *p = hc_mod_priv(m);
	if (!ensure_vars(s, m))
		return false;
	const struct hc_var_entry *e = find_var(p, addr - m->bias);
	Dwarf_Die die;
	if (!e || !dwarf_offdie(p->dw, e->die, &die))
		return false;
	describe_var(s, m, &die, e->scope, e->value + m->bias, e->size, addr, out);
	return true;
}

static bool from_elf(const struct hc_symbols *s, uint64_t addr, struct hc_variable *out)
{
	struct hc_symbol sym;
	if (!hc_symbols_symbol_at(s, addr, &sym) || (sym.type != STT_OBJECT && sym.type != STT_COMMON) ||
	    !sym.size || addr - sym.address >= sym.size)
		return false;
	hc_demangle(sym.name, out->name, sizeof(out->name));
	out->address = sym.address;
	out->size = sym.size;
	out->offset = addr - sym.address;
	plus_offset(out->path, sizeof(out->path), out->name, out->offset);
	return true;
}

bool hc_symbols_variable_at(const struct hc_symbols *s, uint64_t addr, struct hc_variable *out)
{
	if (!out)
		return false;
	memset(out, 0, sizeof(*out));
	const struct hc_module *m = hc_symbols_module_at(s, addr);
	if (!m || !m->bias_known)
		return false;
	out->module = m;
	if (from_dwarf(s, m, addr, out))
		return true;
	memset(out, 0, sizeof(*out));
	out->module = m;
	return from_elf(s, addr, out);
}

/* ---- locals ---- */

struct local_query {
	const struct hc_symbols *s;
	const struct hc_module *m;
	uint64_t v;                  /* the pc as a file vaddr */
	uint64_t sp, cfa, addr;
	unsigned sp_reg;             /* DWARF number of the stack pointer */
	bool fb_known;
	uint64_t fb;                 /* the function's frame base */
};

/* The single operation a location has at the pc, if it is one. */
static bool location_op(Dwarf_Attribute *attr, uint64_t v, Dwarf_Op *op)
{
	Dwarf_Op *ops;
	size_t nops;
	if (dwarf_getlocation_addr(attr, v, &ops, &nops, 1) != 1 || nops != 1)
		return false;
	*op = ops[0];
	return true;
}

static bool frame_base(Dwarf_Die *sub, struct local_query *q)
{
	Dwarf_Attribute attr;
	Dwarf_Op op;
	if (!dwarf_attr_integrate(sub, DW_AT_frame_base, &attr) || !location_op(&attr, q->v, &op))
		return false;
	if (op.atom == DW_OP_call_frame_cfa) {
		q->fb = q->cfa;
		return true;
	}
	if (op.atom == DW_OP_breg0 + q->sp_reg) {
		q->fb = q->sp + (uint64_t)(int64_t)op.number;
		return true;
	}
	return false;
}

/* The stack address of a local, when its location is a fixed offset from the frame base or sp. */
static bool slot_of(Dwarf_Die *var, const struct local_query *q, uint64_t *slot)
{
	Dwarf_Attribute attr;
	Dwarf_Op op;
	if (!dwarf_attr(var, DW_AT_location, &attr) || !location_op(&attr, q->v, &op))
		return false;
	if (op.atom == DW_OP_fbreg && q->fb_known) {
		*slot = q->fb + (uint64_t)(int64_t)op.number;
		return true;
	}
	if (op.atom == DW_OP_breg0 + q->sp_reg) {
		*slot = q->sp + (uint64_t)(int64_t)op.number;
		return true;
	}
	return false;
}

/* The local of scope holding q->addr, if one does. */
static bool local_in_scope(struct local_query *q, Dwarf_Die *scope, struct hc_variable *out)
{
	Dwarf_Die die;
	if (dwarf_child(scope, &die) != 0)
		return false;
	do {
		int tag = dwarf_tag(&die);
		if (tag != DW_TAG_variable && tag != DW_TAG_formal_parameter)
			continue;
		uint64_t slot, size;
		Dwarf_Attribute attr;
		Dwarf_Die type;
		if (!slot_of(&die, q, &slot) || !dwarf_attr_integrate(&die, DW_AT_type, &attr) ||
		    !dwarf_formref_die(&attr, &type) || !hc_symbols_type_size(q->s, hc_symbols_type_ref(q->m, &type), &size) ||
		    q->addr < slot || q->addr - slot >= size)
			continue;
		describe_var(q->s, q->m, &die, NULL, slot, size, q->addr, out);
		return true;
	} while (dwarf_siblingof(&die, &die) == 0);
	return false;
}

bool hc_symbols_local_at(const struct hc_symbols *s, uint64_t pc, uint64_t sp, uint64_t cfa, uint64_t addr,
			 struct hc_variable *out)
{
	if (!out)
		return false;
	memset(out, 0, sizeof(*out));
	const struct hc_module *m = hc_symbols_module_at(s, pc);
	Dwarf_Die cudie;
	if (!m || !m->bias_known || !hc_symbols_dwarf(s, m) || !hc_symbols_unit_at(s, m, pc - m->bias, &cudie))
		return false;
	struct local_query q = { s, m, pc - m->bias, sp, cfa, addr,
				 s->target->arch == HC_ARCH_AARCH64 ? 31u : 7u, false, 0 };
	Dwarf_Die *scopes = NULL;
	int n = dwarf_getscopes(&cudie, q.v, &scopes);
	/* the frame base is the out-of-line function's, which inlined scopes inside it share */
	int sub = -1;
	for (int i = 0; i < n && sub < 0; i++)
		if (dwarf_tag(&scopes[i]) == DW_TAG_subprogram)
			sub = i;
	bool found = false;
	if (sub >= 0) {
		q.fb_known = frame_base(&scopes[sub], &q);
		/* innermost scope first: a block's local shadows the function's */
		for (int i = 0; i <= sub && !found; i++)
			found = local_in_scope(&q, &scopes[i], out);
	}
	free(scopes);
	if (!found)
		memset(out, 0, sizeof(*out));
	return found;
}
