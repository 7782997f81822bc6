/*
 * Private state shared by the symbols*.c files: what one module holds beyond
 * struct hc_module (its program headers, the open ELF files, the symbol
 * tables and the DWARF type index), and the functions the files call on
 * each other. Nothing outside symbols*.c includes this.
 *
 *   symbols.c          modules: NT_FILE, auxv, link map, build-ids, bias
 *   symbols_files.c    finding and verifying the ELF and debug files
 *   symbols_elf.c      symbol tables, describe, file reads, code range
 *   symbols_dwarf.c    opening DWARF; struct sizes and member offsets
 *   symbols_types.c    type handles: names, pointees, members, pointer maps
 *   symbols_vars.c     static variables by address (DWARF, else ELF symbols)
 *   symbols_lines.c    source lines of code addresses
 */
#ifndef HEAPCORE_SYMBOLS_INTERNAL_H
#define HEAPCORE_SYMBOLS_INTERNAL_H

#include <elf.h>
#include <elfutils/libdw.h>
#include <gelf.h>
#include <libelf.h>

#include "heapcore/symbols.h"

/* Caps: every loop over data from the core or a file is bounded by one. */
#define HC_SYM_MAX_PHDRS 256
#define HC_SYM_MAX_NOTE_BYTES 65536
#define HC_SYM_MAX_DYN 4096
#define HC_SYM_MAX_LINK_MAP 4096
#define HC_SYM_MAX_NAMESPACES 64
#define HC_SYM_MAX_PATH 4096
#define HC_SYM_MAX_SYMBOLS (16u * 1024 * 1024)

/* One ELF symbol as the file gives it (st_value not yet biased). */
struct hc_sym {
	const char *name;        /* into the Elf's string table: valid while the Elf is open */
	uint64_t value;          /* st_value: file vaddr, or the TLS block offset for STT_TLS */
	uint64_t size;
	uint8_t type, bind;
	uint8_t from_dynsym;
	uint8_t hidden;          /* a non-default symbol version (versym bit 15) */
};

/* One named type in the DWARF index. */
struct hc_type_entry {
	const char *name;        /* into the Dwarf's string data; NULL: empty slot */
	uint32_t hash;
	uint8_t kind;            /* enum hc_type_kind */
	Dwarf_Die die;
};

enum hc_type_kind {
	HC_TYPE_STRUCT = 1,
	HC_TYPE_UNION = 2,
	HC_TYPE_CLASS = 3,
	HC_TYPE_TYPEDEF = 4,
};

struct hc_module_priv {
	/* From the core: the ELF header's program headers, or the file's. */
	Elf64_Phdr *phdrs;
	uint32_t nphdrs;
	bool phdrs_from_core;
	uint64_t hdr_addr;       /* runtime address of the ELF header (the file offset 0 mapping) */
	bool have_hdr_addr;
	bool elf_in_core;        /* ELF magic read at hdr_addr */
	bool not_elf;            /* the core or the file shows it is no ELF object: dropped */
	bool in_link_map;
	uint64_t lm_l_addr;      /* the link map's l_addr, if in_link_map */
	int32_t lm_order;        /* position in the first namespace's link map, -1 if not there */

	/* The files, when found: kept open for symbols, reads and DWARF. */
	int fd;
	Elf *elf;
	int dbg_fd;
	Elf *dbg;
	void *image;             /* the vdso's bytes copied from the core, behind elf */

	/* Symbol tables, loaded on first use. */
	bool syms_loaded;
	struct hc_sym *syms;
	uint32_t nsyms;
	uint32_t *by_name;       /* indices into syms, sorted by name */
	uint32_t *by_addr;       /* indices of non-TLS symbols, sorted by value */
	uint32_t naddr;

	/* DWARF, opened on first use. */
	bool dwarf_tried;
	Dwarf *dw;
	int alt_fd;
	Elf *alt_elf;
	Dwarf *alt_dw;
	struct hc_type_entry *types;
	uint32_t ntypes, types_cap;
	bool types_indexed;
	double index_seconds;    /* time the DWARF type index took to build */
	bool dwarf_opened;       /* hc_symbols_dwarf ran (dw may still be NULL) */

	/* Variables with fixed addresses (symbols_vars.c), sorted by address, built on first use. */
	bool vars_built;
	struct hc_var_entry *vars;
	uint32_t nvars;

	/* The units' code ranges (symbols_lines.c), sorted, built on first use. */
	bool cu_ranges_built;
	struct hc_cu_range *cu_ranges;
	uint32_t ncu_ranges;

	/* Qualified C++ type names already spelled (symbols_types.c): DIE offset -> name. */
	struct hc_name_cache *names;
	/* Whether some unit of the module is C++ (for dwz partial units that name no language): 0 not known yet, 1 no, 2 yes. */
	uint8_t cxx;
};

/* One variable of the DWARF variable index. */
struct hc_var_entry {
	uint64_t value;          /* file vaddr (add the bias for the runtime address) */
	uint64_t size;
	uint64_t die;            /* offset of the DIE holding DW_AT_location (in the main Dwarf) */
	const char *scope;       /* the enclosing function's name for a function-local static, else NULL */
};

/* One address range of a unit: [lo, hi) file vaddrs, and the unit's DIE offset. */
struct hc_cu_range {
	uint64_t lo, hi;
	uint64_t cu_die;
};

struct hc_symbols_priv {
	bool link_map_complete;  /* the link map was walked to its end in every namespace */
	char *sysroot;           /* "" for / */
	char **debug_dirs;       /* the user's, then SYSROOT/usr/lib/debug unless no_default_debug_dirs */
	unsigned ndebug_dirs;
	bool no_files;
	char *binary;            /* the BINARY option: the executable's file */
};

static inline struct hc_module_priv *hc_mod_priv(const struct hc_module *m)
{
	return (struct hc_module_priv *)m->priv;
}

/* symbols.c */
/* With p->phdrs set: the bias (if unknown and the header's address is known) and the extent. */
void hc_symbols_apply_phdrs(const struct hc_target *t, struct hc_module *m);

/* symbols_files.c */
struct hc_error *hc_symbols_find_files(struct hc_symbols *s, struct hc_module *m);
/* The vdso's own ELF image, which the core holds whole: its .dynsym names its functions. */
struct hc_error *hc_symbols_vdso_image(struct hc_symbols *s, struct hc_module *m);
/* "SYSROOT/path" in a new string (NULL on allocation failure). */
char *hc_symbols_sysroot_path(const struct hc_symbols_priv *p, const char *path);
enum hc_open_result {
	HC_OPEN_OK,
	HC_OPEN_MISSING,         /* cannot be opened (absent, unreadable) */
	HC_OPEN_NOT_ELF,         /* not an ELF file */
	HC_OPEN_WRONG_MACHINE,   /* ELF, but not 64-bit for the target's machine */
};
/* Opens path as an ELF file of the target's machine; NULL unless HC_OPEN_OK. */
Elf *hc_symbols_open_elf(const struct hc_target *t, const char *path, int *fd, enum hc_open_result *why);
void hc_symbols_close_elf(Elf **elf, int *fd);
/* The first section of the given type holding data (not SHT_NOBITS), or NULL. */
Elf_Scn *hc_elf_section_by_type(Elf *elf, Elf64_Word type);
Elf_Scn *hc_elf_section_by_name(Elf *elf, const char *name);

/* symbols_elf.c */
void hc_symbols_free_symtab(struct hc_module_priv *p);

/* symbols_dwarf.c */
void hc_symbols_free_dwarf(struct hc_module_priv *p);
/* The module's Dwarf (its dwz alt file attached), opened once without indexing; NULL if it has none. */
Dwarf *hc_symbols_dwarf(const struct hc_symbols *s, const struct hc_module *m);
/* Follows typedefs and qualifiers to a struct/union/class with a layout, resolving declarations by name. */
bool hc_symbols_resolve_aggregate(const struct hc_symbols *s, const struct hc_module *m, Dwarf_Die *die);
/* A member's (or base class's) DW_AT_data_member_location; 0 for union members. False if not a constant. */
bool hc_symbols_member_location(Dwarf_Die *member, uint64_t *off);

/* symbols_types.c */
void hc_symbols_free_types(struct hc_module_priv *p);
/* The handle of a DIE of module m's DWARF (main or alt file). */
struct hc_type_ref hc_symbols_type_ref(const struct hc_module *m, Dwarf_Die *die);
/* The DIE of a handle; false if empty or unreadable. */
bool hc_symbols_type_die(struct hc_type_ref t, Dwarf_Die *die);

/* symbols_vars.c */
void hc_symbols_free_vars(struct hc_module_priv *p);

/* symbols_lines.c */
void hc_symbols_free_lines(struct hc_module_priv *p);
/* The compile unit whose code ranges hold file vaddr v of module m. */
bool hc_symbols_unit_at(const struct hc_symbols *s, const struct hc_module *m, uint64_t v, Dwarf_Die *cudie);

#endif
