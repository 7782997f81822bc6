/*
 * The reference graph of a native heap: every in-use allocation is a node,
 * every aligned word that points into one (at its start or inside it) is an
 * edge, and the places outside the heap that hold such words are roots:
 * thread registers and stacks, modules' writable data, TLS blocks and other
 * writable mappings. Nodes are 32-bit indices in address order; edges are
 * stored as CSR in both directions.
 */
#ifndef HEAPCORE_GRAPH_H
#define HEAPCORE_GRAPH_H

#include <stdbool.h>
#include <stdint.h>

#include "heapcore/error.h"
#include "heapcore/glibc_heap.h"
#include "heapcore/symbols.h"
#include "heapcore/target.h"

enum hc_root_kind {
	HC_ROOT_REGISTER = 0,  /* a thread's general registers */
	HC_ROOT_STACK = 1,     /* a thread's stack, from its stack pointer to the top of the mapping */
	HC_ROOT_DATA = 2,      /* a module's writable data: .data, .bss, relro */
	HC_ROOT_TLS = 3,       /* a thread's static TLS block and thread descriptor */
	HC_ROOT_OTHER = 4,     /* any other writable mapping that is not heap */
	HC_ROOT_KIND_COUNT = 5,
};

const char *hc_root_kind_name(enum hc_root_kind k);

/* A range of target memory scanned as roots (registers: a range of the thread's register array). */
struct hc_root_range {
	enum hc_root_kind kind;
	uint64_t start, end;       /* target addresses; for HC_ROOT_REGISTER, 0..nregs*8 */
	int32_t thread;            /* index into target->threads, or -1 */
	int32_t module;            /* index into symbols->modules for HC_ROOT_DATA, or -1 */
};

/* An owner: what holds allocations from outside the heap, named for the user. */
struct hc_owner {
	enum hc_root_kind kind;
	uint32_t range;            /* index into roots[] */
	uint64_t start, end;       /* the symbol's extent for data roots; else the range */
	char *name;                /* "g_list", "libfoo.so+0x1234", "thread 1234 stack", ... */
};

/*
 * Edge flag bits, parallel to out[] and in[]. An edge is one (source,
 * target) pair however many words of the source point into the target; it
 * is interior only if none of them points at the target's start. A node's
 * words pointing into itself are no edge.
 */
#define HC_EDGE_INTERIOR 1     /* points inside the allocation, not at its start */

/* What a word of an allocation holds, for shape signatures (types_signature.c spells them). */
enum hc_word_letter {
	HC_WORD_POINTER = 1,   /* into some in-use allocation, at its start or inside */
	HC_WORD_MODULE = 2,    /* into a module: code, a vtable, static data */
	HC_WORD_INTEGER = 3,   /* below 2^32 (null included), or a negative 32-bit one */
	HC_WORD_OTHER = 4,     /* text, floating point, a pointer elsewhere */
	HC_WORD_UNREAD = 5,    /* not in the core */
};
#define HC_SIG_WORDS 8

/* The letter of a word that points at no allocation and into no module. */
static inline enum hc_word_letter hc_word_letter_of_value(uint64_t v)
{
	return v < (1ull << 32) || v >= (uint64_t)-(1ll << 31) ? HC_WORD_INTEGER : HC_WORD_OTHER;
}
#define HC_SLOT_FAR UINT16_MAX

struct hc_graph_index;

struct hc_graph {
	/*
	 * nodes: in-use allocations (glibc chunks USED or MMAPPED), sorted by
	 * address; their address and size come from the heap's chunk table
	 * (hc_graph_node_addr, hc_graph_node_size), not copied per node
	 */
	uint32_t nnodes;
	uint32_t *chunk;           /* index into the heap's chunk table */
	uint8_t mmapped_hdr;       /* header bytes an mmapped chunk's size counts: 16, or 0 from 2.43 */

	/* node -> node edges, CSR: targets of n are out[out_start[n] .. out_start[n+1]) */
	uint32_t *out_start, *out;
	uint8_t *out_flags;
	/*
	 * parallel to out[]: the slot (8-byte word index in the source) of the
	 * first word pointing at the target's start, or of the first pointing
	 * into it if none does; HC_SLOT_FAR from word 65535 on. Types follow
	 * pointer members by it without reading the source's memory again.
	 */
	uint16_t *out_slot;
	/* the same edges reversed: sources of n are in[in_start[n] .. in_start[n+1]) */
	uint32_t *in_start, *in;
	uint8_t *in_flags;
	uint64_t nedges;

	/* roots and what they point to */
	struct hc_root_range *roots;
	uint32_t nroots;
	struct hc_owner *owners;
	uint32_t nowners;
	/* owner -> node edges, CSR over owners */
	uint32_t *owner_out_start, *owner_out;
	uint8_t *owner_out_flags;
	uint8_t *root_kinds;       /* per node: bit k set if a root of kind k points straight at it */
	/*
	 * The nodes whose first word points into a module, in address order:
	 * what the scan saw of C++ objects' vtable pointers (and of data that
	 * merely looks like them), so that types need not read every node again.
	 */
	uint32_t *word0_module, nword0_module;
	/*
	 * Per node, what the scan saw in its first min(8, size / 8) words, a
	 * letter of 3 bits each (enum hc_word_letter, word i at bit 3i): the
	 * shape signature types group untyped nodes by, without reading them
	 * again. NULL in a graph made by hand.
	 */
	uint32_t *sig_code;

	const struct hc_glibc_heap *heap;
	const struct hc_target *target;
	struct hc_graph_index *index; /* private to graph.c, graph_index.c: address -> node lookup */
};

struct hc_graph_options {
	void (*progress)(const char *phase, uint64_t done, uint64_t total, void *arg);
	void *progress_arg;
	/* threads scanning the heap, at most 2 (the result is the same): 0 = 2 if 2 CPUs and a big heap */
	unsigned threads;
	/*
	 * Tests: the nodes a scanning thread takes at a time (0 = 4096) and the
	 * node the second thread starts at (0 = where the bytes split evenly).
	 * Tiny blocks and a lopsided start make the threads steal from each other.
	 */
	uint32_t scan_block, scan_split;
};

/* The user address of a node: its chunk's address + 16. */
static inline uint64_t hc_graph_node_addr(const struct hc_graph *g, uint32_t n)
{
	return g->heap->chunk_addr[g->chunk[n]] + 16;
}

/*
 * The bytes a node's user may hold pointers in, malloc_usable_size: an arena
 * chunk in use also owns the next chunk's prev_size word; an mmapped chunk
 * runs to its mapping's end.
 */
static inline uint64_t hc_graph_node_size(const struct hc_graph *g, uint32_t n)
{
	uint32_t c = g->chunk[n];
	uint64_t cs = hc_glibc_chunk_size(g->heap, c);
	if (g->heap->chunk_state[c] == HC_CHUNK_MMAPPED)
		return cs > g->mmapped_hdr ? cs - g->mmapped_hdr : 0;
	return cs >= 8 ? cs - 8 : 0;
}

struct hc_error *hc_graph_build(struct hc_target *t, struct hc_symbols *s,
				const struct hc_glibc_heap *h, const struct hc_graph_options *opts,
				struct hc_graph **out);
void hc_graph_destroy(struct hc_graph *g);
/* Gives back the in-CSR, shape letters, slots, root kinds and index now (hc_analysis_trim): NULL after. */
void hc_graph_trim(struct hc_graph *g);

/* The node whose allocation contains addr (start or interior), or UINT32_MAX. */
uint32_t hc_graph_node_at(const struct hc_graph *g, uint64_t addr);

/*
 * The node's bytes as `heap` counts them: its chunk's size for an arena
 * chunk, the whole mapping for an mmapped one. The leak tallies count these.
 */
uint64_t hc_graph_node_bytes(const struct hc_graph *g, uint32_t node);

/*
 * Leak classification, after chap and valgrind: a node is anchored if some
 * root reaches it (hc_leaks_reached_by says through which root kinds), else leaked;
 * a leaked node no other node points to is unreferenced (valgrind's
 * "definitely lost"), the other leaked ones are indirectly leaked. Leaked
 * nodes form clusters: the weakly connected components of the leaked
 * subgraph, so a leaked ring is one cluster.
 */
enum hc_leak_class {
	HC_ANCHORED = 0,
	HC_LEAKED_UNREFERENCED = 1,
	HC_LEAKED_INDIRECT = 2,
};

struct hc_leak_cluster {
	uint32_t head;             /* an unreferenced node, or the lowest-address node of a pure cycle */
	uint32_t nnodes;
	uint64_t bytes;
	uint32_t nheads;           /* unreferenced nodes in it; 0 for a pure cycle */
	bool cyclic;               /* it contains a cycle */
};

/* Bytes in clusters and tallies are chunk bytes, as hc_graph_node_bytes counts them. */
struct hc_leaks {
	uint8_t *cls;              /* per node, enum hc_leak_class */
	uint32_t *cluster;         /* per node, index into clusters, UINT32_MAX if anchored */
	struct hc_leak_cluster *clusters;
	uint32_t nclusters;        /* sorted by bytes, largest first */
	struct hc_tally anchored, leaked, unreferenced, indirect;
};


/*
 * Retained size through the dominator tree of the graph rooted at a virtual
 * root whose children are the owners. idom of an owner is the virtual root;
 * leaked nodes are not in the tree (idom UINT32_MAX, retained = own size).
 */
#define HC_DOM_VIRTUAL_ROOT (UINT32_MAX - 1)
#define HC_DOM_NONE UINT32_MAX

struct hc_dominators {
	/* ids: nodes 0..nnodes-1, then owners nnodes..nnodes+nowners-1 */
	uint32_t *idom;            /* per id: immediate dominator id, HC_DOM_VIRTUAL_ROOT, or HC_DOM_NONE */
	uint64_t *retained;        /* per id: bytes it keeps alive (its own size included for nodes) */
	uint32_t *owners_by_retained; /* owner indices, largest retained first */
	uint64_t peak_bytes;       /* most bytes the computation held at once, these results included */
};

struct hc_error *hc_dominators_compute(const struct hc_graph *g, struct hc_dominators **out);
void hc_dominators_destroy(struct hc_dominators *d);

/*
 * d, when given, says which nodes are anchored (those in its tree: its DFS
 * is the search from the owners that classification needs); else the
 * classification searches from the owners itself.
 */
struct hc_error *hc_leaks_classify(const struct hc_graph *g, const struct hc_dominators *d, struct hc_leaks **out);
void hc_leaks_destroy(struct hc_leaks *l);
/* Gives back cls and cluster (of a graph of nnodes) now (hc_analysis_trim): NULL after. */
void hc_leaks_trim(struct hc_leaks *l, uint32_t nnodes);

/*
 * *kinds, bit k: a root of kind k reaches node (through its ancestors,
 * searched along in-edges: up to the whole graph for a node deep in a big
 * structure). False if memory ran out.
 */
bool hc_leaks_reached_by(const struct hc_graph *g, uint32_t node, uint8_t *kinds);

/*
 * One step of a reference chain: the word at from_addr, in owner or node `from`, points to node `to`.
 * For an owner of kind HC_ROOT_REGISTER, from_addr is the register's index in its thread's regs[];
 * HC_CHAIN_NO_ADDR when no such word can be read (its bytes are not in the core).
 */
#define HC_CHAIN_NO_ADDR UINT64_MAX

struct hc_chain_step {
	bool from_owner;
	uint32_t from;             /* owner index or node index */
	uint64_t from_addr;        /* the address of the pointer word */
	uint32_t to;               /* node index */
	bool interior;
};

/*
 * Shortest chains from the owners (one BFS, run as far as the chains asked
 * for need and resumed for the next: see chains.c); then any node's chain.
 * Not thread-safe: hc_chains_get moves the search on.
 */
struct hc_chains;
struct hc_error *hc_chains_compute(const struct hc_graph *g, struct hc_chains **out);
/*
 * Writes up to max steps root-first; returns the chain's length, 0 if the
 * node is not anchored (or the search stopped: hc_chains_error says why).
 * g must be the graph the chains were made for.
 */
uint32_t hc_chains_get(struct hc_chains *c, const struct hc_graph *g, uint32_t node,
		       struct hc_chain_step *steps, uint32_t max);
/* Why the search stopped early (an inconsistent graph, no memory), or NULL; owned by c. */
struct hc_error *hc_chains_error(const struct hc_chains *c);
void hc_chains_destroy(struct hc_chains *c);

#endif
