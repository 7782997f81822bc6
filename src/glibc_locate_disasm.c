/*
 * The DISASSEMBLY method (x86-64, capstone): libc's exported malloc
 * functions address main_arena and mp_ RIP-relative, and reach the tcache
 * TLS variable through a GOT slot holding its thread-pointer offset. Their
 * code comes from libc's file (cores hold no code), found through .dynsym,
 * so no debug info is needed; every target is accepted only if the
 * structural checks of glibc_locate.c confirm it.
 */
#include "glibc_locate.h"

#include <capstone/capstone.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_FN_BYTES 16384
#define MAX_TARGETS 256

/* Functions that take &main_arena (and mp_) early and without an argument to follow. */
static const char *const arena_fns[] = { "malloc_trim", "mallinfo2", "mallinfo", "malloc_stats", "mallopt",
					 "malloc_info" };
/* Functions that read the tcache TLS variable. */
static const char *const tcache_fns[] = { "malloc", "__libc_malloc", "free", "__libc_free", "calloc",
					  "realloc" };

struct targets {
	uint64_t addr[MAX_TARGETS];
	unsigned n;
};

static void add_target(struct targets *ts, uint64_t a)
{
	for (unsigned i = 0; i < ts->n; i++)
		if (ts->addr[i] == a)
			return;
	if (ts->n < MAX_TARGETS)
		ts->addr[ts->n++] = a;
}

/* Disassembles one exported function of libc; NULL-free on failure. */
static size_t disasm_fn(const struct hc_loc_ctx *c, csh h, const char *name, cs_insn **insn)
{
	struct hc_symbol sym;
	*insn = NULL;
	if (!hc_symbols_lookup(c->s, c->libc, name, &sym) || sym.is_tls || sym.address == 0)
		return 0;
	size_t len = sym.size ? sym.size : 1024;
	if (len > MAX_FN_BYTES)
		len = MAX_FN_BYTES;
	uint8_t *code = malloc(len);
	if (!code)
		return 0;
	/* a symbol without size may run past the code segment: shrink until readable */
	while (len >= 16 && hc_symbols_read_file(c->s, c->libc, sym.address, code, len) != HC_READ_OK)
		len /= 2;
	size_t n = 0;
	if (len >= 16)
		n = cs_disasm(h, code, len, sym.address, 0, insn);
	free(code);
	return n;
}

static bool open_capstone(const struct hc_loc_ctx *c, csh *h, char *why, size_t whylen)
{
	if (c->t->arch != HC_ARCH_X86_64) {
		snprintf(why, whylen, "disassembly is implemented for x86-64 only");
		return false;
	}
	if (cs_open(CS_ARCH_X86, CS_MODE_64, h) != CS_ERR_OK) {
		snprintf(why, whylen, "capstone cannot open x86-64");
		return false;
	}
	cs_option(*h, CS_OPT_DETAIL, CS_OPT_ON);
	return true;
}

static bool have_code(const struct hc_loc_ctx *c, char *why, size_t whylen)
{
	if (!c->s || !c->libc) {
		snprintf(why, whylen, "no libc module in the target");
		return false;
	}
	if (c->libc->file_status != HC_MODULE_FILE_FOUND) {
		snprintf(why, whylen, "no libc file to read code from (%s %s)", c->libc_name ? c->libc_name : "libc",
			 c->libc->file_status == HC_MODULE_FILE_MISMATCH ? "has another build-id" : "not found");
		return false;
	}
	return true;
}

/* Every RIP-relative memory operand's target, in libc's writable data. */
static void collect_rip_targets(const struct hc_loc_ctx *c, const cs_insn *insn, size_t n, struct targets *ts)
{
	for (size_t i = 0; i < n; i++) {
		const cs_x86 *x = &insn[i].detail->x86;
		for (uint8_t j = 0; j < x->op_count; j++) {
			const cs_x86_op *op = &x->operands[j];
			if (op->type != X86_OP_MEM || op->mem.base != X86_REG_RIP || op->mem.index != X86_REG_INVALID)
				continue;
			uint64_t target = insn[i].address + insn[i].size + (uint64_t)op->mem.disp;
			if (hc_loc_in_regions(c, target))
				add_target(ts, target);
		}
	}
}

bool hc_loc_by_disasm(const struct hc_loc_ctx *c, struct hc_glibc_location *out, char *why, size_t whylen)
{
	csh h;
	if (!have_code(c, why, whylen) || !open_capstone(c, &h, why, whylen))
		return false;
	struct targets *ts = calloc(1, sizeof(*ts));
	if (!ts) {
		cs_close(&h);
		snprintf(why, whylen, "out of memory");
		return false;
	}
	unsigned nfns = 0;
	for (size_t f = 0; f < sizeof(arena_fns) / sizeof(arena_fns[0]); f++) {
		cs_insn *insn;
		size_t n = disasm_fn(c, h, arena_fns[f], &insn);
		if (n)
			nfns++;
		collect_rip_targets(c, insn, n, ts);
		if (insn)
			cs_free(insn, n);
	}
	cs_close(&h);
	bool ok = false;
	char w[256] = "no RIP-relative reference into libc's data";
	struct hc_arena_info info;
	/* the referenced address itself (lea reg, main_arena; lock cmpxchg main_arena.mutex) ... */
	for (unsigned i = 0; i < ts->n && !ok; i++) {
		const struct hc_glibc_layout *l = hc_loc_pick_layout(c, ts->addr[i], 0, &info, w, sizeof(w));
		if (l) {
			out->layout = l;
			out->main_arena = ts->addr[i];
			ok = true;
		}
	}
	/* ... or a field of it (mov reg, main_arena.top) */
	for (unsigned i = 0; i < ts->n && !ok; i++) {
		for (unsigned j = 0; j < c->nlayouts && !ok; j++) {
			const struct hc_glibc_layout *lj = c->layouts[j];
			const int32_t fields[] = { lj->ms_top, lj->ms_next, lj->ms_system_mem, lj->ms_flags };
			for (size_t k = 0; k < sizeof(fields) / sizeof(fields[0]) && !ok; k++) {
				if (fields[k] <= 0 || ts->addr[i] < (uint64_t)fields[k])
					continue;
				uint64_t a = ts->addr[i] - (uint64_t)fields[k];
				const struct hc_glibc_layout *l = hc_loc_pick_layout(c, a, 0, &info, w, sizeof(w));
				if (l) {
					out->layout = l;
					out->main_arena = a;
					ok = true;
				}
			}
		}
	}
	if (!ok) {
		if (nfns == 0)
			snprintf(why, whylen, "none of libc's malloc_trim/mallinfo/mallopt/malloc_stats could be read");
		else
			snprintf(why, whylen, "no reference in %u malloc functions validated as main_arena (%u targets; %s)",
				 nfns, ts->n, w);
		free(ts);
		return false;
	}
	/* mp_: the other references land on its fields; try each field offset */
	const struct hc_glibc_layout *l = out->layout;
	int best = -1;
	for (unsigned i = 0; i < ts->n; i++) {
		uint64_t x = ts->addr[i];
		if (x >= out->main_arena && x < out->main_arena + l->ms_size)
			continue;
		for (uint64_t off = 0; off < l->mp_size && off <= x; off += 4) {
			int s = hc_loc_check_mp(c, l, x - off, &info);
			if (s > best) {
				best = s;
				out->mp = x - off;
				out->mp_method = HC_ARENA_METHOD_DISASSEMBLY;
			}
		}
	}
	free(ts);
	if (hc_loc_disasm_tcache(c, out))
		out->tcache_method = HC_ARENA_METHOD_DISASSEMBLY;
	return true;
}

/*
 * The tcache slot: libc reads its initial-exec TLS variables as
 *   mov REG, [rip + GOT]   ; GOT holds the variable's offset from the thread pointer
 *   mov X, fs:[REG]
 * (or add REG, [rip + GOT] after mov REG, fs:0). The GOT is in libc's RELRO
 * data, which the core holds, relocated.
 */
bool hc_loc_disasm_tcache(const struct hc_loc_ctx *c, struct hc_glibc_location *out)
{
	const struct hc_glibc_layout *l = out->layout;
	char why[64];
	csh h;
	if (!l || !l->has_tcache || !have_code(c, why, sizeof(why)) || !open_capstone(c, &h, why, sizeof(why)))
		return false;
	struct targets slots = { .n = 0 };
	int64_t consts[MAX_TARGETS];
	unsigned nconst = 0;
	for (size_t f = 0; f < sizeof(tcache_fns) / sizeof(tcache_fns[0]); f++) {
		cs_insn *insn;
		size_t n = disasm_fn(c, h, tcache_fns[f], &insn);
		uint64_t got_in[X86_REG_ENDING];
		bool fs0_in[X86_REG_ENDING];
		memset(got_in, 0, sizeof(got_in));
		memset(fs0_in, 0, sizeof(fs0_in));
		for (size_t i = 0; i < n; i++) {
			const cs_x86 *x = &insn[i].detail->x86;
			if (x->op_count == 2 && x->operands[0].type == X86_OP_REG && x->operands[1].type == X86_OP_MEM) {
				x86_reg dst = x->operands[0].reg;
				const cs_x86_op *m = &x->operands[1];
				if (insn[i].id == X86_INS_MOV && m->mem.base == X86_REG_RIP && m->size == 8) {
					got_in[dst] = insn[i].address + insn[i].size + (uint64_t)m->mem.disp;
					fs0_in[dst] = false;
					continue;
				}
				if (insn[i].id == X86_INS_MOV && m->mem.segment == X86_REG_FS &&
				    m->mem.base == X86_REG_INVALID && m->mem.disp == 0) {
					fs0_in[dst] = true;
					got_in[dst] = 0;
					continue;
				}
				if (insn[i].id == X86_INS_ADD && m->mem.base == X86_REG_RIP && fs0_in[dst]) {
					add_target(&slots, insn[i].address + insn[i].size + (uint64_t)m->mem.disp);
					fs0_in[dst] = false;
					continue;
				}
			}
			for (uint8_t j = 0; j < x->op_count; j++) {
				const cs_x86_op *op = &x->operands[j];
				if (op->type != X86_OP_MEM || op->mem.segment != X86_REG_FS)
					continue;
				/* local-exec (a static program): mov reg, fs:[-0x48] names the offset itself */
				if (op->mem.base == X86_REG_INVALID && op->mem.index == X86_REG_INVALID &&
				    op->mem.disp < 0 && nconst < MAX_TARGETS)
					consts[nconst++] = op->mem.disp;
				if (op->mem.base != X86_REG_INVALID && got_in[op->mem.base])
					add_target(&slots, got_in[op->mem.base]);
				if (op->mem.index != X86_REG_INVALID && got_in[op->mem.index])
					add_target(&slots, got_in[op->mem.index]);
			}
		}
		if (insn)
			cs_free(insn, n);
	}
	cs_close(&h);
	int best = 0;
	bool found = false, have_dummy = false;
	int64_t dummy_off = 0;
	for (unsigned i = 0; i < slots.n + nconst; i++) {
		uint64_t v;
		if (i >= slots.n)
			v = (uint64_t)consts[i - slots.n];
		else if (!hc_target_read_u64(c->t, slots.addr[i], &v))
			continue;
		int64_t off = (int64_t)v;
		if (off < -(int64_t)HC_LOC_TLS_WINDOW * 64 || off > (int64_t)HC_LOC_TLS_WINDOW * 64)
			continue;
		bool dummy;
		int s = hc_loc_check_tcache_offset(c, l, off, &dummy);
		if (s > best) {
			best = s;
			out->have_tcache_tp_offset = true;
			out->tcache_tp_offset = off;
			found = true;
		} else if (s == 0 && dummy && l->min_minor >= 43 && !found && !have_dummy) {
			/* tcache is never NULL from 2.43: every thread on __tcache_dummy is still its slot */
			have_dummy = true;
			dummy_off = off;
		}
	}
	if (!found && have_dummy) {
		out->have_tcache_tp_offset = true;
		out->tcache_tp_offset = dummy_off;
		found = true;
	}
	return found;
}
