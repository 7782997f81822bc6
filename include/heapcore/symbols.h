/*
 * Symbols: the modules loaded in the target (from NT_FILE and the dynamic
 * linker's link map), their build-ids as the core records them, and, when the
 * files can be found and their build-ids match, ELF symbols and DWARF through
 * elfutils (libdwfl/libdw). Everything here degrades to "not found": the
 * layers above must work from the core alone.
 */
#ifndef HEAPCORE_SYMBOLS_H
#define HEAPCORE_SYMBOLS_H

#include <stdbool.h>
#include <stdint.h>

#include "heapcore/error.h"
#include "heapcore/target.h"

struct hc_symbol_options {
	const char *binary;          /* the executable named on the command line, or NULL */
	const char *sysroot;         /* prefix for every path the core names (a container's root), or NULL */
	const char *const *debug_dirs; /* extra dirs holding .build-id/xx/yyyy.debug, searched first */
	unsigned ndebug_dirs;
	bool no_default_debug_dirs;  /* do not look in SYSROOT/usr/lib/debug (tests hide debug info so) */
	bool no_files;               /* open no file at all: symbols from the core alone */
};

enum hc_module_file_status {
	HC_MODULE_FILE_MISSING = 0,  /* no file found */
	HC_MODULE_FILE_FOUND = 1,    /* found, build-id matches (or the core holds none to compare) */
	HC_MODULE_FILE_MISMATCH = 2, /* a file was found but its build-id differs: refused */
};

struct hc_module {
	char *name;                  /* path as the process mapped it */
	uint64_t start, end;         /* lowest and highest+1 address mapped from the file */
	uint64_t bias;               /* runtime address - ELF p_vaddr; valid if bias_known */
	bool bias_known;
	bool extent_known;           /* end covers the PT_LOADs' memory sizes (.bss included), from the program headers */
	bool is_main;                /* the executable */
	uint8_t build_id[64];
	uint32_t build_id_len;       /* 0: the core holds no build-id note for it */
	enum hc_module_file_status file_status;
	char *file_path;             /* ELF file used, if found */
	char *debug_path;            /* separate debug file used, if found */
	bool has_symtab;             /* a full .symtab (file or debug file), not only .dynsym */
	bool has_dwarf;
	void *priv;                  /* private to symbols.c */
};

struct hc_symbols {
	struct hc_target *target;
	struct hc_module *modules;   /* sorted by start */
	uint32_t nmodules;
	void *priv;                  /* private to symbols.c */
};

struct hc_symbol {
	const char *name;            /* owned by the symbols object */
	uint64_t address;            /* runtime address; for TLS symbols, the offset in the module's TLS block */
	uint64_t size;
	int type;                    /* STT_* */
	bool is_tls;
};

/*
 * Never fails for a missing file: a module without one is reported MISSING.
 * Only allocation failure is an error. Warnings go to t->warnings; all are
 * HC_WARN_INFO (a refused or missing file leaves the report as good as the
 * core alone makes it) except link map damage when NT_FILE is absent, which
 * is HC_WARN_PARTIAL (modules may be missing). A refused file's warning names
 * the module, the file and both build-ids.
 */
struct hc_error *hc_symbols_open(struct hc_target *t, const struct hc_symbol_options *opts,
				 struct hc_symbols **out);
void hc_symbols_destroy(struct hc_symbols *s);

/* The module whose file's basename starts with prefix ("libc.so", "libc-"), or NULL. */
const struct hc_module *hc_symbols_module_by_name(const struct hc_symbols *s, const char *prefix);
const struct hc_module *hc_symbols_module_at(const struct hc_symbols *s, uint64_t addr);
const struct hc_module *hc_symbols_main_module(const struct hc_symbols *s);

/* By name in one module (m != NULL) or any: .symtab (file or debug file) first, then .dynsym. */
bool hc_symbols_lookup(const struct hc_symbols *s, const struct hc_module *m, const char *name,
		       struct hc_symbol *out);
/*
 * "symbol+0x10" ("symbol" at offset 0), or "module+0x1234" with no symbol,
 * the offset then from the load bias (as addr2line counts); false if addr is
 * in no module.
 */
bool hc_symbols_describe(const struct hc_symbols *s, uint64_t addr, char *buf, size_t len);
/*
 * The sized ELF symbol whose [address, address + size) holds the runtime
 * address addr (not a TLS symbol); false if none does. For grouping words of
 * a module's data by the variable they belong to, and naming code addresses.
 * name is as the file spells it (mangled for C++).
 */
bool hc_symbols_symbol_at(const struct hc_symbols *s, uint64_t addr, struct hc_symbol *out);

/*
 * Reads bytes at a runtime address from the module's on-disk file, for what
 * a core does not hold (code, read-only data). m NULL: the module at addr.
 * HC_READ_UNMAPPED unless FOUND or outside every PT_LOAD; HC_READ_NOT_DUMPED
 * where a PT_LOAD has no file bytes (.bss).
 */
enum hc_read_status hc_symbols_read_file(const struct hc_symbols *s, const struct hc_module *m,
					 uint64_t addr, void *buf, size_t len);
/* The module's runtime address range of its (first) executable PT_LOAD; false if unknown. Needs no file. */
bool hc_symbols_code_range(const struct hc_symbols *s, const struct hc_module *m, uint64_t *start,
			   uint64_t *end);

/*
 * From DWARF, when present: sizeof(struct name) and offsetof(struct name,
 * member). name is "struct x", "union x", or a bare tag or typedef name;
 * member may be a path ("a.b") and is looked up through anonymous members.
 * The first question on a module indexes its types (libc: ~0.1 s); the rest
 * are hash lookups.
 */
bool hc_symbols_struct_size(const struct hc_symbols *s, const struct hc_module *m,
			    const char *struct_name, uint64_t *size);
bool hc_symbols_member_offset(const struct hc_symbols *s, const struct hc_module *m,
			      const char *struct_name, const char *member, uint64_t *offset);

/*
 * The offset from a thread's thread pointer to module m's static TLS block:
 * &var = tp + offset + sym.address for an is_tls symbol. Recomputed the way
 * glibc's ld.so lays out the blocks of the modules in the link map (their
 * private l_tls_offset is not a stable field), so it is a candidate to check:
 * right for modules loaded at startup (libc always is), wrong for one
 * dlopen()ed later; false without a link map or the program headers.
 */
bool hc_symbols_static_tls_offset(const struct hc_symbols *s, const struct hc_module *m, int64_t *offset);

/*
 * Seconds the module's DWARF type index took to build (on the first
 * struct/member question), 0 if not built: for diagnostics and tests.
 */
double hc_symbols_dwarf_index_seconds(const struct hc_module *m);

/* Hex of the build-id into buf (2*len+1 bytes); "" when none. */
void hc_build_id_hex(const uint8_t *id, uint32_t len, char *buf);

/*
 * The source line of a code address, from the DWARF line table of the unit
 * covering it (symbols_lines.c). *file is owned by the symbols object (the
 * path as the unit records it, often absolute). For a return address pass
 * ret - 1, so that a call ending a function is not read as the next one.
 */
bool hc_symbols_source_line(const struct hc_symbols *s, uint64_t addr, const char **file, uint32_t *line);

/*
 * A type in one module's DWARF: a handle to name a type and walk its layout
 * without exposing libdw. Valid while the symbols object lives; module NULL
 * means "no type". Two handles may name the same type from two units (C has
 * no one definition rule in DWARF): compare names, not handles, to merge.
 */
struct hc_type_ref {
	const struct hc_module *module;
	uint64_t die;                /* DIE offset in the module's DWARF, or in its dwz alt file if alt */
	bool alt;
};

/*
 * A C-like spelling of the type: "struct node *", "char[16]", "const char *",
 * "app::Widget" (C++ types qualified by namespace and class, no "struct"),
 * "std::vector<app::Widget*, std::allocator<app::Widget*> >". Typedef names
 * are kept as written. False if the handle is empty or unreadable.
 */
bool hc_symbols_type_name(const struct hc_symbols *s, struct hc_type_ref t, char *buf, size_t len);
/*
 * The struct, union, class or typedef of that name in module m's DWARF, as
 * hc_symbols_struct_size finds it ("struct node", "node_t"); a qualified C++
 * name ("app::Widget") is looked up by its last component and must spell
 * back the same.
 */
bool hc_symbols_type_by_name(const struct hc_symbols *s, const struct hc_module *m, const char *name,
			     struct hc_type_ref *out);
/* Whether the type is a struct, class, union or array (through typedefs and qualifiers), not a scalar. */
bool hc_symbols_type_is_aggregate(const struct hc_symbols *s, struct hc_type_ref t);
/* sizeof the type (through typedefs and qualifiers); false if unknown (void, functions, incomplete). */
bool hc_symbols_type_size(const struct hc_symbols *s, struct hc_type_ref t, uint64_t *size);
/*
 * If t is a pointer (or C++ reference) type, through typedefs and qualifiers:
 * what it points to, with qualifiers and typedefs of named aggregates peeled
 * so that "struct node *" and "node_t *" give the same "struct node", and a
 * declaration resolved to its definition. False for void * and non-pointers.
 */
bool hc_symbols_type_pointee(const struct hc_symbols *s, struct hc_type_ref t, struct hc_type_ref *pointee);

/*
 * The innermost member of type t covering byte offset `offset`, through
 * nested structs and fixed arrays: path relative to t ("next", "items[3]",
 * "cfg.next", "" when offset falls in t itself as a scalar), its type and the
 * offset where it begins. Unions answer with their first member covering the
 * offset. False when the offset is in padding or past the type.
 */
struct hc_type_member {
	char path[192];
	struct hc_type_ref type;
	uint64_t offset;             /* where the member begins, from the start of t */
	uint64_t size;
};
bool hc_symbols_type_member_at(const struct hc_symbols *s, struct hc_type_ref t, uint64_t offset,
			       struct hc_type_member *out);

/*
 * Every pointer-typed scalar inside t (t itself if it is a pointer), through
 * nested structs, the first member of unions and fixed arrays, in offset
 * order, at most max of them: for following typed pointers out of an object.
 * Returns how many were written; void * and function pointers are left out.
 */
struct hc_type_pointer {
	uint64_t offset;
	struct hc_type_ref pointee;  /* as hc_symbols_type_pointee gives it */
	char path[96];               /* "next", "items[2]", "" for t itself */
};
uint32_t hc_symbols_type_pointers(const struct hc_symbols *s, struct hc_type_ref t, struct hc_type_pointer *out,
				  uint32_t max);

/*
 * The global or static variable containing addr (symbols_vars.c). From DWARF
 * when the module has it: every variable with a fixed address (file scope,
 * namespace scope, static members, function-local statics named
 * "function::var"); else from the ELF symbol table (an STT_OBJECT symbol
 * enclosing addr): name and offset only. Each module's variables are indexed
 * by address on the first question about it; later ones are binary searches.
 */
struct hc_variable {
	const struct hc_module *module;
	char name[160];              /* "g_list", "app::g_widgets", "main::counter" (demangled) */
	uint64_t address, size;      /* the variable's extent */
	uint64_t offset;             /* addr - address */
	bool from_dwarf;             /* false: an ELF symbol, no type, no declaration, no member path */
	struct hc_type_ref type;     /* the variable's type (DWARF only) */
	char type_name[192];         /* "struct node *", "" without DWARF */
	const char *decl_file;       /* owned by the symbols object; NULL if unknown */
	uint32_t decl_line;          /* 0 if unknown */
	/*
	 * "g_registry.items[3]", "cfg.next", "g_list"; without DWARF, or in
	 * padding, "name+0x10" (just "name" at offset 0).
	 */
	char path[384];
	struct hc_type_member leaf;  /* the innermost member at addr (DWARF only; leaf.type.module NULL if none) */
};
bool hc_symbols_variable_at(const struct hc_symbols *s, uint64_t addr, struct hc_variable *out);

/*
 * The local variable or parameter whose stack slot holds addr, in the frame
 * of the function running at pc (a return address minus 1 for a caller's
 * frame) whose stack pointer is sp and canonical frame address cfa (see
 * hc_unwind_local_at, which knows them). Filled as by hc_symbols_variable_at,
 * address being the slot's. Only slots at a fixed offset from the frame base
 * (DW_OP_call_frame_cfa, as gcc emits it) or from sp are found: all of them
 * without optimisation, those not kept in registers with it.
 */
bool hc_symbols_local_at(const struct hc_symbols *s, uint64_t pc, uint64_t sp, uint64_t cfa, uint64_t addr,
			 struct hc_variable *out);

#endif
