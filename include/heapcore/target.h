/*
 * The target: the memory image of a process (from an ELF core, later from a
 * live process) and what the core's notes say about it: threads and their
 * registers, process info, signal, auxv and the files mapped.
 *
 * Every read of target memory goes through hc_target_read*() or an hc_span;
 * both are bounds-checked and tell "not mapped" apart from "mapped but its
 * bytes are not in the core" (p_filesz < p_memsz, or a truncated file), which
 * is never read as zeros.
 */
#ifndef HEAPCORE_TARGET_H
#define HEAPCORE_TARGET_H

#include <assert.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "heapcore/error.h"

enum hc_arch {
	HC_ARCH_X86_64 = 1,
	HC_ARCH_AARCH64 = 2,
};

enum hc_perm {
	HC_PERM_X = 1,
	HC_PERM_W = 2,
	HC_PERM_R = 4,
};

enum hc_read_status {
	HC_READ_OK = 0,
	HC_READ_UNMAPPED = 1,    /* no mapping covers some byte */
	HC_READ_NOT_DUMPED = 2,  /* mapped, but the core does not hold those bytes */
};

/* One mapping: a PT_LOAD of a core. Sorted by start, non-overlapping. */
struct hc_segment {
	uint64_t start, end;     /* end exclusive */
	uint32_t perms;          /* enum hc_perm bits */
	int32_t file;            /* index into hc_target.files of the NT_FILE entry covering start, or -1 */
	uint64_t core_offset;    /* p_offset */
	uint64_t dumped;         /* bytes of [start, start+dumped) held by the core; <= end-start */
	const uint8_t *bytes;    /* private to target.c: go through hc_target_read / hc_span */
};

/* One NT_FILE entry: a file mapped into the process. */
struct hc_mapped_file {
	uint64_t start, end;
	uint64_t file_offset;    /* bytes, already multiplied by the note's page size */
	char *path;
};

#define HC_MAX_REGS 34

struct hc_thread {
	int32_t tid;
	int32_t cursig;          /* signal pending on this thread (pr_cursig) */
	uint64_t pc, sp;
	uint64_t tp;             /* thread pointer: fs_base on x86-64, tpidr_el0 on aarch64 */
	bool has_tp;
	bool has_fpregs;         /* an NT_FPREGSET note was present */
	uint32_t nregs;
	uint64_t regs[HC_MAX_REGS]; /* general registers in the kernel's user_regs order */
};

struct hc_process_info {
	bool present;            /* NT_PRPSINFO was found */
	int32_t pid, ppid;
	uint32_t uid, gid;
	char state;
	char fname[17];
	char psargs[81];
};

struct hc_signal_info {
	bool present;            /* NT_SIGINFO was found */
	int32_t signo, code, err;
	uint64_t addr;           /* si_addr for SIGSEGV/SIGBUS/SIGILL/SIGFPE */
};

struct hc_auxv_entry {
	uint64_t type, value;
};

enum hc_compression {
	HC_COMPRESSION_NONE = 0,
	HC_COMPRESSION_ZSTD,
	HC_COMPRESSION_XZ,
	HC_COMPRESSION_LZ4,
};

struct hc_target {
	char *path;
	enum hc_arch arch;
	enum hc_compression compression;
	uint64_t file_size;      /* of the (decompressed) ELF image */
	int64_t mtime;           /* seconds since the epoch of the core file, -1 if unknown */
	uint32_t mtime_nsec;     /* and its nanoseconds: two cores a second apart still have a rate */
	bool time_from_coredump; /* mtime is systemd-coredump's user.coredump.timestamp, not the file's */
	bool truncated;          /* some PT_LOAD or note lies past the end of the file */

	struct hc_segment *segments;
	uint32_t nsegments;
	struct hc_mapped_file *files;
	uint32_t nfiles;
	uint64_t file_page_size; /* NT_FILE page size */
	struct hc_thread *threads;
	uint32_t nthreads;       /* threads[0] is the one that got the signal (first NT_PRSTATUS) */
	struct hc_process_info process;
	struct hc_signal_info signal;
	struct hc_auxv_entry *auxv;
	uint32_t nauxv;

	struct hc_warnings warnings;

	/* private to target_core.c */
	void *image;             /* mmapped or decompressed ELF bytes */
	uint64_t image_size;
	uint64_t decompressed_capacity; /* bytes mapped for a decompressed image */
	uint32_t threads_capacity;
};

/*
 * Opens an ELF core (plain, or .zst/.xz/.lz4 as systemd-coredump writes them,
 * recognised by their magic, not their name). On a damaged core the target is
 * still returned, with warnings and `truncated` set, when anything is usable.
 */
struct hc_error *hc_target_open_core(const char *path, struct hc_target **out);
/* The same, refusing to decompress more than max_memory bytes (0 = no cap). */
struct hc_error *hc_target_open_core_capped(const char *path, uint64_t max_memory,
					    struct hc_target **out);
void hc_target_destroy(struct hc_target *t);

/*
 * Lets the kernel drop the core's pages from memory once a pass over them is
 * done; later reads fault them back in from the file. A no-op for a
 * decompressed core, whose only copy is in memory.
 */
void hc_target_release_pages(struct hc_target *t);

/*
 * The same for the whole pages of the core that back target addresses
 * [lo, hi): what a pass going through memory in address order calls behind
 * itself, so that the core's share of memory is the pass's window rather
 * than its whole size. Thread-safe; a no-op for a decompressed core.
 */
void hc_target_release_range(const struct hc_target *t, uint64_t lo, uint64_t hi);

/* Releases behind a pass in address order, a few MiB at a time (see hc_target_release_range). */
struct hc_release_cursor {
	const struct hc_target *t;
	uint64_t from;               /* released below this; 0 = not started */
};
void hc_release_cursor_advance(struct hc_release_cursor *c, uint64_t addr);

/* Copies len bytes at addr into buf; reads may span adjacent segments. */
enum hc_read_status hc_target_read(const struct hc_target *t, uint64_t addr, void *buf, size_t len);
bool hc_target_read_u64(const struct hc_target *t, uint64_t addr, uint64_t *out);
bool hc_target_read_u32(const struct hc_target *t, uint64_t addr, uint32_t *out);
/* Reads a NUL-terminated string of at most max-1 bytes; false if unreadable or unterminated. */
bool hc_target_read_cstr(const struct hc_target *t, uint64_t addr, char *buf, size_t max);

/* The segment holding addr, or NULL. */
const struct hc_segment *hc_target_segment(const struct hc_target *t, uint64_t addr);
/*
 * The first address at or after addr whose bytes the core holds, or
 * UINT64_MAX: loops over a range skip what the core lacks in one step,
 * however much a segment claims to span.
 */
uint64_t hc_target_next_dumped(const struct hc_target *t, uint64_t addr);
/* The NT_FILE entry covering addr, or NULL. */
const struct hc_mapped_file *hc_target_file_at(const struct hc_target *t, uint64_t addr);
/* auxv value of the given AT_* type, or false. */
bool hc_target_auxv(const struct hc_target *t, uint64_t type, uint64_t *value);
const char *hc_arch_name(enum hc_arch arch);

/*
 * A span: the longest run of dumped bytes from addr (at most max_len), for
 * scanning large ranges without a lookup per word. Accessors check bounds.
 */
struct hc_span {
	uint64_t addr;
	uint64_t len;
	const uint8_t *bytes;    /* private: use the accessors */
};

/* Fills *out with the dumped bytes from addr; out->len == 0 if none. */
void hc_target_span(const struct hc_target *t, uint64_t addr, uint64_t max_len, struct hc_span *out);

static inline bool hc_span_contains(const struct hc_span *s, uint64_t addr, uint64_t len)
{
	return addr >= s->addr && len <= s->len && addr - s->addr <= s->len - len;
}

static inline bool hc_span_u64(const struct hc_span *s, uint64_t addr, uint64_t *out)
{
	if (!hc_span_contains(s, addr, 8))
		return false;
	memcpy(out, s->bytes + (addr - s->addr), 8);
	return true;
}

/*
 * Asks the CPU for the line at addr if the span holds it, and nothing
 * else. A macro: GCC 12 finds a function that only prefetches free of side
 * effects and deletes calls to it before inlining them.
 */
#define hc_span_prefetch(s, a)                                                          \
	do {                                                                            \
		const struct hc_span *s_ = (s);                                         \
		uint64_t a_ = (a);                                                      \
		if (hc_span_contains(s_, a_, 1))                                        \
			__builtin_prefetch(s_->bytes + (a_ - s_->addr));                \
	} while (0)

/*
 * The word at addr, for a loop that has checked once that the span holds
 * its whole range (hc_span_contains) instead of each word: a debug build
 * checks each word again.
 */
static inline uint64_t hc_span_u64_within(const struct hc_span *s, uint64_t addr)
{
	assert(hc_span_contains(s, addr, 8));
	uint64_t v;
	memcpy(&v, s->bytes + (addr - s->addr), 8);
	return v;
}

static inline bool hc_span_read(const struct hc_span *s, uint64_t addr, void *buf, uint64_t len)
{
	if (!hc_span_contains(s, addr, len))
		return false;
	memcpy(buf, s->bytes + (addr - s->addr), len);
	return true;
}

#endif
