/*
 * Source lines of code addresses, for naming stack frames "at file.c:88".
 * Owns a per-module index of the units' code ranges (from each unit's
 * DW_AT_low_pc/high_pc or DW_AT_ranges, so .debug_aranges, which recent
 * compilers may omit, is not needed), built on the first question about the
 * module; a question is then a binary search and one line-table lookup.
 */
#include <stdlib.h>
#include <string.h>

#include <dwarf.h>

#include "symbols_internal.h"

#define RANGES_MAX (4u * 1024 * 1024)
#define RANGES_PER_UNIT 65536
#define LOOKBACK 8

void hc_symbols_free_lines(struct hc_module_priv *p)
{
	free(p->cu_ranges);
	p->cu_ranges = NULL;
	p->ncu_ranges = 0;
}

static int cmp_range(const void *a, const void *b)
{
	const struct hc_cu_range *x = a, *y = b;
	if (x->lo != y->lo)
		return x->lo < y->lo ? -1 : 1;
	return x->hi < y->hi ? -1 : x->hi > y->hi;
}

static bool ensure_ranges(const struct hc_symbols *s, const struct hc_module *m)
{
	struct hc_module_priv *p = hc_mod_priv(m);
	if (p->cu_ranges_built)
		return p->cu_ranges != NULL;
	p->cu_ranges_built = true;
	Dwarf *dw = hc_symbols_dwarf(s, m);
	if (!dw)
		return false;
	uint32_t cap = 0;
	Dwarf_CU *cu = NULL;
	Dwarf_Die cudie;
	Dwarf_Half version;
	uint8_t unit_type;
	while (dwarf_get_units(dw, cu, &cu, &version, &unit_type, &cudie, NULL) == 0) {
		if (unit_type != DW_UT_compile)
			continue;
		Dwarf_Addr base, start, end;
		ptrdiff_t off = 0;
		unsigned k = 0;
		while (k++ < RANGES_PER_UNIT && (off = dwarf_ranges(&cudie, off, &base, &start, &end)) > 0) {
			if (end <= start)
				continue;
			if (p->ncu_ranges == cap) {
				if (cap >= RANGES_MAX)
					goto done;
				uint32_t nc = cap ? cap * 2 : 64;
				struct hc_cu_range *r = realloc(p->cu_ranges, nc * sizeof(*r));
				if (!r) {
					hc_symbols_free_lines(p);
					return false;
				}
				p->cu_ranges = r;
				cap = nc;
			}
			p->cu_ranges[p->ncu_ranges++] = (struct hc_cu_range){ start, end, dwarf_dieoffset(&cudie) };
		}
	}
done:
	if (!p->ncu_ranges) {
		hc_symbols_free_lines(p);
		return false;
	}
	qsort(p->cu_ranges, p->ncu_ranges, sizeof(*p->cu_ranges), cmp_range);
	return true;
}

/* The units whose ranges hold file vaddr v, nearest first: calls fn until it says stop. */
static bool each_unit_at(struct hc_module_priv *p, uint64_t v, bool (*fn)(Dwarf_Die *cudie, uint64_t v, void *arg),
			 void *arg)
{
	uint32_t lo = 0, hi = p->ncu_ranges;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (p->cu_ranges[mid].lo <= v)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (uint32_t k = 0; k < LOOKBACK && lo > 0; k++, lo--) {
		const struct hc_cu_range *r = &p->cu_ranges[lo - 1];
		Dwarf_Die cudie;
		if (v < r->hi && dwarf_offdie(p->dw, r->cu_die, &cudie) && fn(&cudie, v, arg))
			return true;
	}
	return false;
}

static bool first_unit(Dwarf_Die *cudie, uint64_t v, void *arg)
{
	*(Dwarf_Die *)arg = *cudie;
	return true;
}

bool hc_symbols_unit_at(const struct hc_symbols *s, const struct hc_module *m, uint64_t v, Dwarf_Die *cudie)
{
	return m && ensure_ranges(s, m) && each_unit_at(hc_mod_priv(m), v, first_unit, cudie);
}

struct line_answer {
	const char **file;
	uint32_t *line;
};

static bool line_in_unit(Dwarf_Die *cudie, uint64_t v, void *arg)
{
	struct line_answer *a = arg;
	Dwarf_Line *l = dwarf_getsrc_die(cudie, v);
	int ln;
	const char *f = l ? dwarf_linesrc(l, NULL, NULL) : NULL;
	if (!f || dwarf_lineno(l, &ln) != 0 || ln <= 0)
		return false;
	*a->file = f;
	*a->line = (uint32_t)ln;
	return true;
}

bool hc_symbols_source_line(const struct hc_symbols *s, uint64_t addr, const char **file, uint32_t *line)
{
	const struct hc_module *m = hc_symbols_module_at(s, addr);
	if (!m || !m->bias_known || !ensure_ranges(s, m))
		return false;
	struct line_answer a = { file, line };
	return each_unit_at(hc_mod_priv(m), addr - m->bias, line_in_unit, &a);
}
