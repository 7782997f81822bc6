/*
 * Types of allocations: every node of a reference graph gets a type from the
 * best evidence there is, in this order:
 *
 *   VTABLE     a C++ object: its first word points into a vtable. Named by
 *              the vtable's symbol (_ZTV<class>, in .symtab or .dynsym),
 *              else by the class's RTTI name the vtable points to, else
 *              "vtable 0x... (module+0x...)" (types_cxx.c).
 *   DWARF      reached through a typed pointer: a global or static variable
 *              (or, given the threads' frames, a local) of a pointer type,
 *              or holding one in a member, points at the node's start, and
 *              from each typed node its pointer members type the nodes they
 *              point at, breadth-first (types_dwarf.c).
 *   ALLOCATOR  glibc's own allocations, which the walk knows: each
 *              thread's tcache ("glibc tcache_perthread_struct").
 *   SHAPE      reached by no typed pointer (a leaked list's nodes), but of
 *              the exact size and first-word shape that every typed
 *              allocation of that shape has, all of one struct: "struct
 *              item (by shape)" (types_shape.c).
 *   SIGNATURE  anything else, grouped by a shape signature: size and what
 *              the first words hold (types_signature.c).
 *
 * The table is struct-of-arrays over nodes: node_type[n] indexes types[].
 */
#ifndef HEAPCORE_TYPES_H
#define HEAPCORE_TYPES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "heapcore/error.h"
#include "heapcore/graph.h"
#include "heapcore/symbols.h"
#include "heapcore/unwind.h"

enum hc_type_source {
	HC_TYPE_SOURCE_VTABLE = 1,
	HC_TYPE_SOURCE_DWARF = 2,
	HC_TYPE_SOURCE_SIGNATURE = 3,
	HC_TYPE_SOURCE_ALLOCATOR = 4,  /* the allocator's own bookkeeping: glibc's per-thread tcache */
	HC_TYPE_SOURCE_SHAPE = 5,      /* untyped, but of the shape of one DWARF struct's allocations (types_shape.c) */
};

const char *hc_type_source_name(enum hc_type_source s);

#define HC_TYPE_NONE UINT32_MAX
#define HC_TYPE_VIA_ROOT (UINT32_MAX - 1)

struct hc_type {
	/*
	 * VTABLE: "app::Widget", or "vtable 0x55d0c0a3dd48 (prog+0x3d48)".
	 * DWARF: the pointee type as C or C++ spells it, "struct node";
	 * "char[]", "app::Widget *[]" when the allocation holds several of a
	 * scalar or pointer type (never for a struct: see types_dwarf.c).
	 * SIGNATURE: "sig 24:pim" (see types_signature.c for the letters).
	 */
	const char *name;
	enum hc_type_source source;
	uint64_t count;            /* nodes of this type */
	uint64_t bytes;            /* their bytes as hc_graph_node_bytes counts them (usable size without a heap) */
	uint64_t vtable;           /* VTABLE: the vtable address its objects point to (the first seen); else 0 */
	/* DWARF: typed pointers that reached one of its nodes already typed otherwise (the first type is kept) */
	uint32_t conflicts;
};

struct hc_types {
	struct hc_type *types;     /* sorted by bytes, largest first */
	uint32_t ntypes;
	uint32_t nnodes;
	uint32_t *node_type;       /* per node: index into types; every node has one */
	/*
	 * Per node, how a DWARF type reached it: the node whose typed member
	 * points at it, HC_TYPE_VIA_ROOT for a variable or a local, HC_TYPE_NONE when the
	 * node has no DWARF type. The pointer's member name is
	 * hc_types_incoming_member.
	 */
	uint32_t *node_via;

	/* private to types*.c */
	struct hc_type_layout *layouts;
	uint32_t nlayouts;
	char *strings;
	const struct hc_symbols *symbols;
	struct hc_types_priv *priv; /* layouts per type and the few exceptions, the members' spellings */
};

/*
 * Types every node of g. s gives symbols, DWARF and the target's memory
 * (s->target). Only allocation failure is an error. The result refers to g
 * and s: the queries below need them alive.
 */
struct hc_error *hc_types_infer(const struct hc_graph *g, struct hc_symbols *s, struct hc_types **out);

struct hc_types_options {
	/*
	 * The threads' frames (from hc_unwind_threads on the same target):
	 * words of the graph's HC_ROOT_STACK ranges that are typed locals
	 * (hc_unwind_local_at) seed the DWARF pass as variables do. NULL: none.
	 */
	const struct hc_unwind *unwind;
	/*
	 * Threads for the passes over every node (vtables, signatures, the
	 * tally), at most 2; the result is the same. 0: 2 when there are 2 CPUs
	 * and many nodes.
	 */
	unsigned threads;
};
struct hc_error *hc_types_infer_opts(const struct hc_graph *g, struct hc_symbols *s, const struct hc_types_options *o,
				     struct hc_types **out);
void hc_types_destroy(struct hc_types *t);
/* Gives back node_via now (hc_analysis_trim): NULL after. */
void hc_types_trim(struct hc_types *t);

/*
 * The member through which the node's DWARF type came: "next", "items[3]",
 * "[2]" (an element of a typed array), or for a node a variable points at,
 * the variable's path ("g_list", "g_registry.items[3]"). NULL if none.
 * Spelled on request from the via node's memory, so the graph and the
 * target must still be there; the string lives as long as t. Thread-safe.
 */
const char *hc_types_incoming_member(const struct hc_types *t, uint32_t node);

/*
 * The member of a typed node at byte offset `offset` ("next", "[3].next" in
 * an array of structs), for showing a reference chain as g_list->next->next.
 * False when the node has no DWARF layout (C++ objects typed by their vtable
 * alone included) or the offset is in padding.
 */
bool hc_types_member_at(const struct hc_types *t, uint32_t node, uint64_t offset, char *buf, size_t len);

#endif
