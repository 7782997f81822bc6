/*
 * Static TLS layout: where a module's TLS block lies relative to a thread's
 * thread pointer, for the modules the dynamic linker loaded at startup. The
 * offsets live in link_map fields that are private to glibc, so they are
 * recomputed here the way ld.so lays the blocks out (module ID order, which
 * is link map order; PT_TLS size, alignment and first-byte offset; gaps left
 * by alignment reused). x86-64 puts the blocks below the thread pointer
 * (variant II), aarch64 above its 16-byte TCB (variant I).
 */
#include "symbols_internal.h"

#include <stdlib.h>

/* aarch64's tcbhead_t: dtv and a private pointer. */
#define AARCH64_TCB_SIZE 16

struct tls_block {
	uint64_t size, align, firstbyte;
};

static uint64_t round_up(uint64_t v, uint64_t a)
{
	return (v + a - 1) / a * a;
}

/* The PT_TLS of a module; false if its program headers are unknown. */
static bool module_tls(const struct hc_module *m, struct tls_block *b, bool *has)
{
	const struct hc_module_priv *p = hc_mod_priv(m);
	*has = false;
	if (!p->phdrs)
		return false;
	for (uint32_t i = 0; i < p->nphdrs; i++) {
		const Elf64_Phdr *ph = &p->phdrs[i];
		if (ph->p_type != PT_TLS || ph->p_memsz == 0)
			continue;
		uint64_t align = ph->p_align ? ph->p_align : 1;
		if (align & (align - 1))
			return false;
		b->size = ph->p_memsz;
		b->align = align;
		/* How far the block's first byte sits past an aligned address. */
		b->firstbyte = (-(ph->p_vaddr & (align - 1))) & (align - 1);
		*has = true;
		return true;
	}
	return true;
}

/* Variant II (x86-64): block at tp - off. Returns off for the next block placed. */
static uint64_t place_below(const struct tls_block *b, uint64_t *offset, uint64_t *freetop, uint64_t *freebottom)
{
	if (*freebottom - *freetop >= b->size) {
		uint64_t off = round_up(*freetop + b->size - b->firstbyte, b->align) + b->firstbyte;
		if (off <= *freebottom) {
			*freetop = off;
			return off;
		}
	}
	uint64_t off = round_up(*offset + b->size - b->firstbyte, b->align) + b->firstbyte;
	if (off > *offset + b->size + (*freebottom - *freetop)) {
		*freetop = *offset;
		*freebottom = off - b->size;
	}
	*offset = off;
	return off;
}

/* Variant I (aarch64): block at tp + off. */
static uint64_t place_above(const struct tls_block *b, uint64_t *offset, uint64_t *freetop, uint64_t *freebottom)
{
	if (b->size <= *freetop - *freebottom) {
		uint64_t off = round_up(*freebottom, b->align);
		if (off - *freebottom < b->firstbyte)
			off += b->align;
		if (off + b->size - b->firstbyte <= *freetop) {
			*freebottom = off + b->size - b->firstbyte;
			return off - b->firstbyte;
		}
	}
	uint64_t off = round_up(*offset, b->align);
	if (off - *offset < b->firstbyte)
		off += b->align;
	if (off - b->firstbyte - *offset > *freetop - *freebottom) {
		*freebottom = *offset;
		*freetop = off - b->firstbyte;
	}
	*offset = off + b->size - b->firstbyte;
	return off - b->firstbyte;
}

static int cmp_order(const void *a, const void *b)
{
	int32_t x = hc_mod_priv(*(const struct hc_module *const *)a)->lm_order;
	int32_t y = hc_mod_priv(*(const struct hc_module *const *)b)->lm_order;
	return (x > y) - (x < y);
}

bool hc_symbols_static_tls_offset(const struct hc_symbols *s, const struct hc_module *m, int64_t *offset)
{
	if (!s || !m || hc_mod_priv(m)->lm_order < 0)
		return false;
	const struct hc_module **mods = malloc(s->nmodules * sizeof(*mods));
	if (!mods)
		return false;
	uint32_t n = 0;
	for (uint32_t i = 0; i < s->nmodules; i++)
		if (hc_mod_priv(&s->modules[i])->lm_order >= 0 &&
		    hc_mod_priv(&s->modules[i])->lm_order <= hc_mod_priv(m)->lm_order)
			mods[n++] = &s->modules[i];
	qsort(mods, n, sizeof(*mods), cmp_order);
	bool above = s->target->arch == HC_ARCH_AARCH64;
	uint64_t pos = above ? AARCH64_TCB_SIZE : 0, freetop = 0, freebottom = 0;
	bool ok = false;
	for (uint32_t i = 0; i < n; i++) {
		struct tls_block b;
		bool has;
		/* A module before m with unknown phdrs may hold TLS: the layout is unknown. */
		if (!module_tls(mods[i], &b, &has))
			break;
		if (!has) {
			if (mods[i] == m)
				break;
			continue;
		}
		uint64_t off = above ? place_above(&b, &pos, &freetop, &freebottom)
				     : place_below(&b, &pos, &freetop, &freebottom);
		if (mods[i] == m) {
			*offset = above ? (int64_t)off : -(int64_t)off;
			ok = true;
			break;
		}
	}
	free(mods);
	return ok;
}
