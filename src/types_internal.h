/*
 * Private state shared by the types*.c files while types are inferred: the
 * string pool, the type table, the DWARF layouts met and a small hash map.
 * Nothing outside types*.c includes this.
 *
 *   types.c            the table, the passes in order, the public queries
 *   types_cxx.c        C++ objects by their vtable pointer
 *   types_dwarf.c      DWARF types followed from typed variables through pointers
 *   types_signature.c  shape signatures for everything else
 */
#ifndef HEAPCORE_TYPES_INTERNAL_H
#define HEAPCORE_TYPES_INTERNAL_H

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

/* node_layout[n]: a layout index, with this bit set when the node holds an array of it. */
#define HC_LAYOUT_ARRAY 0x80000000u

/* A DWARF type nodes are laid out by, with the pointer members found in it (on first need). */
struct hc_type_layout {
	struct hc_type_ref ref;
	uint32_t name;             /* string offset of its name */
	uint64_t size;             /* sizeof, 0 if unknown */
	bool aggregate;            /* a struct, class, union or array: never taken for an array of itself */
	bool pointers_done;
	uint32_t first_ptr, nptrs; /* into the build's ptrs[] */
	uint32_t type_id[2];       /* the DWARF type of a node holding one of it, and of one holding an array */
};

/* One pointer member of a layout. */
struct hc_layout_ptr {
	uint64_t offset;
	uint32_t pointee;          /* layout index */
	uint32_t path;             /* string offset: "next", "items[2]", "" */
};

struct hc_types_build {
	const struct hc_graph *g;
	struct hc_symbols *s;
	const struct hc_target *t;
	const struct hc_unwind *unwind;  /* NULL: no stack seeds */
	struct hc_types *ty;
	bool nomem;

	size_t slen, scap;         /* ty->strings */
	struct hc_u64map strs;     /* hash of a string -> its offset */

	uint32_t types_cap;
	struct hc_u64map type_ids; /* name offset << 2 | source -> type id */

	uint32_t layouts_cap;
	struct hc_u64map layout_ids; /* hashed handle -> layout index */
	struct hc_layout_ptr *ptrs;
	uint32_t nptrs, ptrs_cap;
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

void hc_types_vtables(struct hc_types_build *b);
void hc_types_dwarf(struct hc_types_build *b);
void hc_types_signatures(struct hc_types_build *b);

#endif
