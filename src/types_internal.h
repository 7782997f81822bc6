/*
 * Private state shared by the types*.c files while types are inferred: the
 * string pool, the type table, the DWARF layouts met and a small hash map.
 * Nothing outside types*.c includes this.
 *
 *   types.c            the table, the passes in order, the public queries
 *   types_cxx.c        C++ objects by their vtable pointer
 *   types_dwarf.c      DWARF types followed from typed variables through pointers
 *   types_signature.c  shape signatures for everything else
 *
 * Memory: the only per-node arrays are the public node_type and node_via.
 * A node's DWARF layout is its type's (type_layout), save for nodes laid out
 * otherwise: a type named alike from another compilation unit's DWARF (each
 * unit has its own "char", and may have its own "struct node"). Those take a
 * byte each in layout_sel, made on the first of them, naming one of the few
 * distinct other layouts. The member a node was reached through is spelled
 * on request from its via node's layout and memory, which is how it was
 * found (the variables' paths, which memory cannot give back, are kept per
 * node in root_member: there are few).
 */
#ifndef HEAPCORE_TYPES_INTERNAL_H
#define HEAPCORE_TYPES_INTERNAL_H

#include <pthread.h>

#include "address_ranges.h"
#include "thread_pair.h"
#include "heapcore/types.h"

/* An open-addressing map from 64-bit keys to 32-bit values; UINT32_MAX marks an empty slot. */
struct hc_u64map {
	uint64_t *keys;
	uint32_t *vals;
	uint32_t count, cap;
};

#define HC_MAP_NONE UINT32_MAX

uint32_t hc_u64map_get(const struct hc_u64map *m, uint64_t key);
/* False on allocation failure. val must not be HC_MAP_NONE. */
bool hc_u64map_put(struct hc_u64map *m, uint64_t key, uint32_t val);
void hc_u64map_free(struct hc_u64map *m);

/* A layout code: a layout index, with this bit set when the node holds an array of it. */
#define HC_LAYOUT_ARRAY 0x80000000u
/* How many layout codes other than their types' nodes can name by a byte (layout_sel). */
#define HC_LAYOUT_SELS 255

/* A DWARF type nodes are laid out by, with the pointer members found in it (on first need). */
struct hc_type_layout {
	struct hc_type_ref ref;
	uint32_t name;             /* string offset of its name */
	uint64_t size;             /* sizeof, 0 if unknown */
	bool aggregate;            /* a struct, class, union or array: never taken for an array of itself */
	bool pointers_done;
	uint32_t first_ptr, nptrs; /* into priv->ptrs[] */
	uint32_t type_id[2];       /* the DWARF type of a node holding one of it, and of one holding an array */
};

/* One pointer member of a layout. */
struct hc_layout_ptr {
	uint64_t offset;
	uint32_t pointee;          /* layout index */
	uint32_t path;             /* string offset: "next", "items[2]", "" */
};

/* What an hc_types keeps beyond its public fields. */
struct hc_types_priv {
	const struct hc_graph *g;  /* read again by hc_types_incoming_member */
	uint32_t *type_layout;     /* per type: the layout code of its nodes, HC_TYPE_NONE */
	/*
	 * Per node, NULL until a node is laid out other than its type: 0 for its
	 * type's layout, k for sel_codes[k - 1]; past HC_LAYOUT_SELS distinct
	 * other layouts, the node's code is in layout_exc.
	 */
	uint8_t *layout_sel;
	uint32_t sel_codes[HC_LAYOUT_SELS], nsel_codes;
	struct hc_u64map layout_exc;  /* node -> layout code */
	struct hc_u64map root_member; /* node -> string offset of the variable (local) path that typed it */
	struct hc_layout_ptr *ptrs;
	uint32_t nptrs;
	/* "[3].next" spelled on request, kept until destroy so that the pointers given out stay valid */
	pthread_mutex_t lock;
	struct hc_u64map spelled_at;  /* hash of a spelling -> index into spelled */
	char **spelled;
	uint32_t nspelled, spelled_cap;
};

struct hc_types_build {
	const struct hc_graph *g;
	struct hc_symbols *s;
	const struct hc_target *t;
	const struct hc_unwind *unwind;  /* NULL: no stack seeds */
	struct hc_types *ty;
	struct hc_types_priv *p;   /* ty->priv */
	bool nomem;

	size_t slen, scap;         /* ty->strings */
	struct hc_u64map strs;     /* hash of a string -> its offset */

	uint32_t types_cap;        /* of ty->types and p->type_layout */
	struct hc_u64map type_ids; /* name offset << 2 | source -> type id */

	uint32_t layouts_cap;
	struct hc_u64map layout_ids; /* hashed handle -> layout index */
	uint32_t ptrs_cap;

	unsigned nthreads;         /* 1 or 2, for the passes over every node */
	/* with 2 threads: held around everything above (strings, the table) and symbol lookups beyond module_at */
	pthread_mutex_t lock;

	struct hc_ranges modules;  /* the modules' extents, merged */
	struct hc_types_shapes *shapes; /* the typed allocations' shapes, for the signature pass (types_shape.c) */
	uint64_t heap_lo, heap_len; /* nodes lie in [heap_lo, heap_lo + heap_len) */
};

/* Interns a string into ty->strings; HC_TYPE_NONE on allocation failure. */
uint32_t hc_types_str(struct hc_types_build *b, const char *s);
/* The type id of (source, name), added if new; HC_TYPE_NONE on allocation failure. */
uint32_t hc_types_type(struct hc_types_build *b, enum hc_type_source source, const char *name);
/* The node holding addr (start or interior), HC_TYPE_NONE if none. */
uint32_t hc_types_node_at(const struct hc_graph *g, uint64_t addr);
/* Bytes at addr from the core, else from the module's file (read-only data a core leaves out). */
bool hc_types_read(const struct hc_symbols *s, uint64_t addr, void *buf, size_t len);
/* Whether addr is in the executable range of some module. */
bool hc_types_is_code(const struct hc_symbols *s, uint64_t addr);
/* The layout code of node n (HC_TYPE_NONE: none), from its type unless it has its own. */
uint32_t hc_types_node_layout(const struct hc_types *ty, uint32_t n);
/* Records that node n is laid out by code, not its type's; false on allocation failure. */
bool hc_types_set_node_layout(struct hc_types_build *b, uint32_t n, uint32_t code);

/* The span holding [addr, addr + len), the one given if it does, else a new one from addr. */
static inline void hc_types_span(const struct hc_target *t, struct hc_span *span, uint64_t addr, uint64_t len)
{
	if (!hc_span_contains(span, addr, len))
		hc_target_span(t, addr, UINT64_MAX, span);
}

/*
 * Where node's DWARF type came from when a node's pointer typed it: the
 * first pointer member of its via node (in the order the DWARF pass
 * followed them) holding its address, as element elem of an array
 * (UINT64_MAX: the via node holds one object) and the member's path.
 */
bool hc_types_incoming_slot(const struct hc_types *t, uint32_t node, uint64_t *elem, uint32_t *path);

/* The passes, in order; the first one also sets every node's node_type and node_via. */
void hc_types_vtables(struct hc_types_build *b);
void hc_types_dwarf(struct hc_types_build *b);
/* Tallies the shapes of the DWARF-typed allocations (b->shapes), before the signature pass. */
void hc_types_shapes(struct hc_types_build *b);
/*
 * The SHAPE type for untyped allocations of shape key (types_shape.c), made
 * on first use; HC_TYPE_NONE if the shape names no one struct. Called with
 * b->lock held.
 */
uint32_t hc_types_shape_type(struct hc_types_build *b, uint64_t key);
void hc_types_shapes_free(struct hc_types_build *b);
void hc_types_signatures(struct hc_types_build *b);

#endif
