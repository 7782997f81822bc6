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

#define SIG_WORDS HC_SIG_WORDS

/* The letters, as their 3-bit codes in a signature's key: the graph's scan writes the same (graph.h). */
enum {
	L_P = HC_WORD_POINTER,
	L_M = HC_WORD_MODULE,
	L_I = HC_WORD_INTEGER,
	L_X = HC_WORD_OTHER,
	L_UNREAD = HC_WORD_UNREAD,
};

static const char letters[] = "?pmix?";

/*
 * What word v is. Heap first: a non-PIE program's heap and data sit below
 * 2^32 too. Most words are small integers or pointers into the heap's
 * middle; the range checks answer before any lookup that would miss the
 * caches.
 */
static unsigned letter(const struct hc_types_build *b, uint64_t v)
{
	if (v - b->heap_lo < b->heap_len && hc_types_node_at(b->g, v) != HC_TYPE_NONE)
		return L_P;
	if (hc_ranges_has(&b->modules, v) && hc_symbols_module_at(b->s, v))
		return L_M;
	return hc_word_letter_of_value(v);
}

/* Signatures remembered in front of the map, by a hash of their key: a few hundred cover a heap's. */
#define RECENT_BITS 8

/* One thread's part of the pass: a range of nodes, with its own cache. */
struct sig_part {
	struct hc_types_build *b;
	uint32_t n0, n1;
	struct hc_u64map cache;    /* (size, letters) -> type id, so that a name is spelled once per signature */
	uint64_t recent_key[1u << RECENT_BITS];
	uint32_t recent_id[1u << RECENT_BITS];
	bool nomem;
};

static void *sig_run(void *arg)
{
	struct sig_part *pt = arg;
	struct hc_types_build *b = pt->b;
	const struct hc_graph *g = b->g;
	uint32_t *type = b->ty->node_type;
	struct hc_span span = { 0 };
	struct hc_release_cursor release = { b->t, 0 };
	for (uint32_t n = pt->n0; n < pt->n1 && !pt->nomem; n++) {
		if (!g->sig_code && !(n & 0xfff))
			hc_release_cursor_advance(&release, hc_graph_node_addr(g, n));
		if (type[n] != HC_TYPE_NONE)
			continue;
		uint64_t size = hc_graph_node_size(g, n);
		uint64_t words = size / 8 < SIG_WORDS ? size / 8 : SIG_WORDS;
		uint64_t code = 0;
		if (g->sig_code) {
			/* the scan read them already */
			code = g->sig_code[n];
		} else {
			/* one span per run of dumped memory; a word past its end is not in the core */
			uint64_t a = hc_graph_node_addr(g, n);
			hc_types_span(b->t, &span, a, words * 8);
			for (uint64_t i = 0; i < words; i++) {
				uint64_t v;
				code |= (uint64_t)(hc_span_u64(&span, a + 8 * i, &v) ? letter(b, v) : L_UNREAD) << (3 * i);
			}
		}
		uint64_t key = size < (1ull << 40) ? size << 24 | code : UINT64_MAX;
		uint32_t slot = (uint32_t)((key * 0x9e3779b97f4a7c15ull) >> (64 - RECENT_BITS));
		if (key != UINT64_MAX && pt->recent_key[slot] == key) {
			type[n] = pt->recent_id[slot];
			continue;
		}
		uint32_t id = key != UINT64_MAX ? hc_u64map_get(&pt->cache, key) : HC_MAP_NONE;
		if (id == HC_MAP_NONE) {
			char name[64];
			int len = snprintf(name, sizeof(name), "sig %llu:", (unsigned long long)size);
			for (uint64_t i = 0; i < words; i++)
				name[len++] = letters[(code >> (3 * i)) & 7];
			name[len] = 0;
			/* the table and the strings are shared; the type is the same whichever thread adds it */
			pthread_mutex_lock(&b->lock);
			/* the one struct whose typed allocations have this shape names it (types_shape.c), else the letters */
			id = hc_types_shape_type(b, key);
			if (id == HC_TYPE_NONE && !b->nomem)
				id = hc_types_type(b, HC_TYPE_SOURCE_SIGNATURE, name);
			pthread_mutex_unlock(&b->lock);
			if (id == HC_TYPE_NONE || (key != UINT64_MAX && !hc_u64map_put(&pt->cache, key, id))) {
				pt->nomem = true;
				break;
			}
		}
		if (key != UINT64_MAX) {
			pt->recent_key[slot] = key;
			pt->recent_id[slot] = id;
		}
		type[n] = id;
	}
	return NULL;
}

/* The nodes no type before reached, in address order (two halves at once with two threads). */
void hc_types_signatures(struct hc_types_build *b)
{
	uint32_t half = b->g->nnodes / 2;
	struct sig_part parts[2] = { { .b = b, .n0 = 0, .n1 = half }, { .b = b, .n0 = half, .n1 = b->g->nnodes } };
	for (int i = 0; i < 2; i++)
		for (uint32_t k = 0; k < (1u << RECENT_BITS); k++)
			parts[i].recent_key[k] = UINT64_MAX;
	hc_run_pair(b->nthreads, sig_run, &parts[0], &parts[1]);
	for (int i = 0; i < 2; i++) {
		b->nomem |= parts[i].nomem;
		hc_u64map_free(&parts[i].cache);
	}
}
