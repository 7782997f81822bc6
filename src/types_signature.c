/*
 * Shape signatures for the nodes neither a vtable nor DWARF typed, so that
 * look-alike allocations group together and the same groups come out of
 * two cores of one program (for comparing them). The signature of a node is
 *
 *     sig <usable size>:<one letter per word, for its first min(8, size/8) words>
 *
 * where a word is
 *     p  a pointer into some in-use allocation (its start or inside it)
 *     m  a pointer into a module (code, a vtable, static data)
 *     i  a small integer or null: below 2^32, or a negative 32-bit one
 *     x  anything else: text, floating point, a pointer elsewhere (a stack,
 *        a free chunk, an unmapped address)
 *     ?  not in the core
 *
 * e.g. "sig 24:pim". Nothing in it depends on where things were mapped, so
 * ASLR leaves it unchanged; what does change it is data: a list's last node,
 * whose next is null, reads "i" where the others read "p".
 */
#include <stdio.h>

#include "types_internal.h"

#define SIG_WORDS 8

static char letter(const struct hc_types_build *b, uint64_t v)
{
	/* heap first: a non-PIE program's heap and data sit below 2^32 too */
	if (hc_types_node_at(b->g, v) != HC_TYPE_NONE)
		return 'p';
	if (hc_symbols_module_at(b->s, v))
		return 'm';
	if (v < (1ull << 32) || v >= (uint64_t)-(1ll << 31))
		return 'i';
	return 'x';
}

/* The letters' codes in a cache key: 3 bits each. */
static uint64_t letter_code(char c)
{
	switch (c) {
	case 'p': return 1;
	case 'm': return 2;
	case 'i': return 3;
	case 'x': return 4;
	default: return 5;
	}
}

void hc_types_signatures(struct hc_types_build *b)
{
	const struct hc_graph *g = b->g;
	/* (size, letters) -> type id, so that the name is spelled once per signature, not per node */
	struct hc_u64map cache = { 0 };
	for (uint32_t n = 0; n < g->nnodes && !b->nomem; n++) {
		if (b->ty->node_type[n] != HC_TYPE_NONE)
			continue;
		uint64_t words = g->size[n] / 8;
		if (words > SIG_WORDS)
			words = SIG_WORDS;
		char sig[SIG_WORDS + 1];
		uint64_t code = 0;
		struct hc_span span;
		hc_target_span(b->t, g->addr[n], words * 8, &span);
		for (uint64_t i = 0; i < words; i++) {
			uint64_t v;
			sig[i] = hc_span_u64(&span, g->addr[n] + 8 * i, &v) ? letter(b, v) : '?';
			code |= letter_code(sig[i]) << (3 * i);
		}
		sig[words] = 0;
		uint64_t key = g->size[n] < (1ull << 40) ? g->size[n] << 24 | code : UINT64_MAX;
		uint32_t id = key != UINT64_MAX ? hc_u64map_get(&cache, key) : HC_MAP_NONE;
		if (id == HC_MAP_NONE) {
			char name[64];
			snprintf(name, sizeof(name), "sig %llu:%s", (unsigned long long)g->size[n], sig);
			id = hc_types_type(b, HC_TYPE_SOURCE_SIGNATURE, name);
			if (id == HC_TYPE_NONE)
				break;
			if (key != UINT64_MAX && !hc_u64map_put(&cache, key, id))
				b->nomem = true;
		}
		b->ty->node_type[n] = id;
	}
	hc_u64map_free(&cache);
}
