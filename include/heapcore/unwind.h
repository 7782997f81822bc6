/*
 * Stack frames of the target's threads, for naming stack roots: "thread 1234
 * (main) in hold_on_stack() at leak_native.c:88". Each thread is unwound
 * with libdwfl's CFI unwinder (.eh_frame / .debug_frame of the files the
 * symbols layer found, memory read through the target), then, where that
 * stops early, by walking frame pointers, and last by scanning the stack for
 * return addresses. Never fails for lack of files: a thread's frames are
 * then as few as its pc alone.
 */
#ifndef HEAPCORE_UNWIND_H
#define HEAPCORE_UNWIND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "heapcore/error.h"
#include "heapcore/symbols.h"
#include "heapcore/target.h"

/* How a frame was found, most trusted first. */
enum hc_frame_method {
	HC_FRAME_REGISTERS = 0,      /* the thread's own pc and sp: the innermost frame */
	HC_FRAME_CFI = 1,            /* call frame information (libdwfl) */
	HC_FRAME_POINTER = 2,        /* the frame pointer chain (rbp / x29) */
	HC_FRAME_SCAN = 3,           /* a word on the stack that points just after a call: may be stale */
};

const char *hc_frame_method_name(enum hc_frame_method m);

struct hc_frame {
	uint64_t pc;                 /* the innermost frame's pc, else the return address into the function */
	bool pc_exact;               /* pc is where the function is (innermost, signal frame), not a return address */
	/*
	 * The frame's part of the stack: [sp, cfa). cfa is the next outer
	 * frame's sp (the canonical frame address); the outermost frame's cfa
	 * is the top of the stack mapping.
	 */
	uint64_t sp, cfa;
	enum hc_frame_method method;
	int32_t module;              /* index into symbols->modules, -1 if the pc is in none */
	const char *function;        /* demangled ("hold_on_stack", "app::Widget::run()"), NULL if no symbol */
	uint64_t function_offset;    /* pc - the function's start */
	/* "hold_on_stack+0x1f", or "libfoo.so+0x1234" (module+offset from its load bias) without a symbol */
	const char *location;
	const char *file;            /* source file as DWARF names it (often absolute), NULL if unknown */
	uint32_t line;               /* 0 if unknown */
};

struct hc_thread_frames {
	int32_t tid;
	bool is_main;                /* tid is the process id: the main thread */
	uint32_t first, count;       /* frames[first .. first + count), innermost first */
	uint64_t stack_start, stack_end; /* the mapping holding sp; 0, 0 if sp is in none */
	enum hc_frame_method worst;  /* the least trusted method any of its frames needed */
};

struct hc_unwind {
	struct hc_thread_frames *threads; /* parallel to target->threads */
	uint32_t nthreads;
	struct hc_frame *frames;
	uint32_t nframes;
	/* private: the strings the frames point to */
	char *strings;
};

struct hc_unwind_options {
	uint32_t max_frames;         /* per thread; 0 = 256 */
	uint64_t max_scan_bytes;     /* stack bytes scanned per thread for return addresses; 0 = 1 MiB */
	bool no_cfi;                 /* skip libdwfl (tests of the fallbacks) */
	bool no_frame_pointers;      /* skip the frame pointer walk */
	bool no_scan;                /* skip the stack scan */
};

/*
 * Unwinds every thread. Only allocation failure is an error; a thread that
 * cannot be unwound has its pc frame, or none if even its sp is unreadable.
 * The result keeps no pointer into t or s and outlives them.
 */
struct hc_error *hc_unwind_threads(struct hc_target *t, struct hc_symbols *s, struct hc_unwind **out);
struct hc_error *hc_unwind_threads_opts(struct hc_target *t, struct hc_symbols *s,
					const struct hc_unwind_options *opts, struct hc_unwind **out);
void hc_unwind_destroy(struct hc_unwind *u);

/*
 * The frame whose part of the stack holds stack_addr (a root word's
 * address) in thread thread_index (an index into target->threads), or NULL.
 * Words up to 128 bytes below the innermost sp (the x86-64 red zone, where a
 * leaf function may keep locals) belong to the innermost frame.
 */
const struct hc_frame *hc_unwind_frame_at(const struct hc_unwind *u, uint32_t thread_index, uint64_t stack_addr);

/*
 * The local variable or parameter whose slot holds stack_addr, in the frame
 * holding it (hc_symbols_local_at with that frame's pc, sp and cfa): "held",
 * "struct node *". False without DWARF for the function, or for a word in
 * no variable's slot (saved registers, spills, padding).
 */
bool hc_unwind_local_at(const struct hc_unwind *u, const struct hc_symbols *s, uint32_t thread_index,
			uint64_t stack_addr, struct hc_variable *out);

/*
 * "thread 1234 (main) in hold_on_stack() at leak_native.c:88" for a word of
 * a thread's stack; without a frame "thread 1234 stack", without a line
 * "... in hold_on_stack()", without a symbol "... in libfoo.so+0x1234".
 * Returns buf.
 */
const char *hc_unwind_describe(const struct hc_unwind *u, uint32_t thread_index, uint64_t stack_addr, char *buf,
			       size_t len);

#endif
