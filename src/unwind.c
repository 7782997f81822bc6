/*
 * Unwinding the target's threads into frames (include/heapcore/unwind.h).
 *
 * First libdwfl's unwinder: the modules are reported from the files the
 * symbols layer already found and verified (module->file_path, its bias, its
 * debug file for .debug_frame; the vdso from the core's own bytes), never
 * searched for again, and every memory read goes through the target. Where
 * CFI stops before the stack's outermost frame (a module without a file,
 * hand-written code without CFI), the walk goes on by frame pointers, and
 * where those give nothing, by scanning the stack for return addresses: words
 * pointing into some module's code just after a call instruction (checked
 * when the code bytes can be read from the file). Each frame records how it
 * was found, so that a report can say how far to trust it.
 */
#include "heapcore/unwind.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <elfutils/libdwfl.h>

#include "heapcore/demangle.h"

#define DEFAULT_MAX_FRAMES 256
#define DEFAULT_SCAN_BYTES (1u << 20)
#define RED_ZONE 128
/* The innermost function's return address is looked for this far above sp before the frame pointer walk. */
#define BRIDGE_BYTES 4096
#define STACK_SEGMENTS_MAX 64
#define VDSO_MAX (1u << 20)

/* DWARF register numbers. */
#define X86_64_DW_RBP 6
#define X86_64_DW_RSP 7
#define X86_64_NDW 17             /* rax..r15 and rip (16, the return address column) */
#define AARCH64_DW_FP 29
#define AARCH64_DW_SP 31

/* The kernel's user_regs_struct order. */
#define K_X86_64_RBP 4
#define K_X86_64_RIP 16
#define K_X86_64_RSP 19
#define K_AARCH64_FP 29
#define K_AARCH64_SP 31
#define K_AARCH64_PC 32

const char *hc_frame_method_name(enum hc_frame_method m)
{
	switch (m) {
	case HC_FRAME_REGISTERS: return "registers";
	case HC_FRAME_CFI: return "cfi";
	case HC_FRAME_POINTER: return "frame-pointer";
	case HC_FRAME_SCAN: return "scan";
	}
	return "?";
}

/* A frame as found, before it is named. */
struct raw_frame {
	uint64_t pc, sp, fp;
	bool fp_known;
	bool activation;          /* pc is exact, not a return address */
	uint8_t method;
};

/* Strings of the result: offsets into one buffer while it grows, pointers at the end. */
#define NO_STRING UINT32_MAX
struct frame_strings {
	uint32_t function, location, file;
};

struct module_rec {
	const struct hc_module *m;
	struct unwinder *w;
};

struct unwinder {
	struct hc_target *t;
	struct hc_symbols *s;
	struct hc_unwind_options o;
	struct hc_unwind *u;
	uint32_t frames_cap;
	struct frame_strings *strs;
	char *pool;
	size_t pool_len, pool_cap;
	bool nomem;

	/* scratch for one thread */
	struct raw_frame *raw;
	uint32_t nraw, raw_cap;

	/* libdwfl */
	Dwfl *dwfl;
	bool attached;
	struct module_rec *recs;
	struct thread_rec *trecs;
	void **images;            /* vdso images behind elf_memory, freed after dwfl_end */
	uint32_t nimages;
};

/* ---- strings ---- */

static uint32_t pool_add(struct unwinder *w, const char *s)
{
	if (!s)
		return NO_STRING;
	size_t n = strlen(s) + 1;
	if (w->pool_len + n > UINT32_MAX)
		return NO_STRING;
	if (w->pool_len + n > w->pool_cap) {
		size_t cap = w->pool_cap ? w->pool_cap * 2 : 4096;
		while (cap < w->pool_len + n)
			cap *= 2;
		char *p = realloc(w->pool, cap);
		if (!p) {
			w->nomem = true;
			return NO_STRING;
		}
		w->pool = p;
		w->pool_cap = cap;
	}
	memcpy(w->pool + w->pool_len, s, n);
	uint32_t off = (uint32_t)w->pool_len;
	w->pool_len += n;
	return off;
}

/* ---- reading the target ---- */

static bool read_u64(const struct unwinder *w, uint64_t addr, uint64_t *v)
{
	if (hc_target_read_u64(w->t, addr, v))
		return true;
	return hc_symbols_read_file(w->s, NULL, addr, v, 8) == HC_READ_OK;
}

static bool is_code(const struct unwinder *w, uint64_t v)
{
	const struct hc_module *m = hc_symbols_module_at(w->s, v);
	uint64_t lo, hi;
	return m && hc_symbols_code_range(w->s, m, &lo, &hi) && v >= lo && v < hi;
}

/*
 * Whether the instruction just before v is a call, when the code can be read
 * (the core seldom holds code; the module's file does). Unreadable: assumed.
 */
static bool call_precedes(const struct unwinder *w, uint64_t v)
{
	uint8_t b[8];
	if (v < 8)
		return false;
	if (hc_target_read(w->t, v - 8, b, 8) != HC_READ_OK &&
	    hc_symbols_read_file(w->s, NULL, v - 8, b, 8) != HC_READ_OK)
		return true;
	if (w->t->arch == HC_ARCH_AARCH64) {
		uint32_t insn;
		memcpy(&insn, b + 4, 4);
		return (insn & 0xFC000000u) == 0x94000000u ||  /* bl */
		       (insn & 0xFFFFFC1Fu) == 0xD63F0000u;     /* blr */
	}
	/* x86-64: call rel32 (e8), or call r/m64 (ff /2) with 0..5 bytes of ModRM tail */
	if (b[3] == 0xE8)
		return true;
	for (int len = 2; len <= 7; len++) {
		uint8_t op = b[8 - len], modrm = b[8 - len + 1];
		if (op == 0xFF && (modrm & 0x38) == 0x10)
			return true;
	}
	return false;
}

static bool is_return_address(const struct unwinder *w, uint64_t v)
{
	if (!is_code(w, v))
		return false;
	/* a function's first byte is a function pointer's value, not a return address (nor a module's header) */
	const struct hc_module *m = hc_symbols_module_at(w->s, v);
	struct hc_symbol sym;
	if (v == m->start || (hc_symbols_symbol_at(w->s, v, &sym) && sym.address == v))
		return false;
	return call_precedes(w, v);
}

/* ---- frames of one thread ---- */

static bool push_raw(struct unwinder *w, struct raw_frame f)
{
	if (w->nraw >= w->o.max_frames)
		return false;
	if (w->nraw == w->raw_cap) {
		uint32_t cap = w->raw_cap ? w->raw_cap * 2 : 64;
		struct raw_frame *r = realloc(w->raw, cap * sizeof(*r));
		if (!r) {
			w->nomem = true;
			return false;
		}
		w->raw = r;
		w->raw_cap = cap;
	}
	w->raw[w->nraw++] = f;
	return true;
}

static uint32_t sp_dwarf_reg(const struct hc_target *t)
{
	return t->arch == HC_ARCH_AARCH64 ? AARCH64_DW_SP : X86_64_DW_RSP;
}

static uint32_t fp_dwarf_reg(const struct hc_target *t)
{
	return t->arch == HC_ARCH_AARCH64 ? AARCH64_DW_FP : X86_64_DW_RBP;
}

/* ---- libdwfl ---- */

static int find_elf(Dwfl_Module *mod, void **userdata, const char *modname, Dwarf_Addr base, char **file_name,
		    Elf **elfp)
{
	/* Only the vdso is reported without a file: its image is in the core. */
	struct module_rec *r = *userdata;
	if (!r)
		return -1;
	struct unwinder *w = r->w;
	const struct hc_module *m = r->m;
	uint64_t size = m->end - m->start;
	if (!size || size > VDSO_MAX)
		return -1;
	void *image = malloc(size);
	void **images = realloc(w->images, (w->nimages + 1) * sizeof(*images));
	if (!image || !images) {
		free(image);
		if (images)
			w->images = images;
		return -1;
	}
	w->images = images;
	if (hc_target_read(w->t, m->start, image, size) != HC_READ_OK) {
		free(image);
		return -1;
	}
	Elf *e = elf_memory(image, size);
	if (!e) {
		free(image);
		return -1;
	}
	w->images[w->nimages++] = image;
	*file_name = NULL;
	*elfp = e;
	return -1;
}

static int find_debuginfo(Dwfl_Module *mod, void **userdata, const char *modname, Dwarf_Addr base,
			  const char *file_name, const char *debuglink_file, GElf_Word debuglink_crc,
			  char **debuginfo_file_name)
{
	/* The debug file the symbols layer chose and verified, for .debug_frame; no search of our own. */
	struct module_rec *r = *userdata;
	if (!r || !r->m->debug_path)
		return -1;
	int fd = open(r->m->debug_path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	*debuginfo_file_name = strdup(r->m->debug_path);
	return fd;
}

static const Dwfl_Callbacks dwfl_callbacks = {
	.find_elf = find_elf,
	.find_debuginfo = find_debuginfo,
};

/*
 * Threads are found by index, not by the core's tids (which may repeat, or
 * be 0, in a damaged core): libdwfl sees ids index + 1, and each thread's
 * argument is its record, which leads back to the unwinder.
 */
struct thread_rec {
	struct unwinder *w;
	uint32_t index;
};

static pid_t next_thread(Dwfl *dwfl, void *arg, void **thread_argp)
{
	struct unwinder *w = arg;
	const struct thread_rec *prev = *thread_argp;
	uint32_t i = prev ? prev->index + 1 : 0;
	if (i >= w->t->nthreads)
		return 0;
	*thread_argp = &w->trecs[i];
	return (pid_t)(i + 1);
}

static bool get_thread(Dwfl *dwfl, pid_t tid, void *arg, void **thread_argp)
{
	struct unwinder *w = arg;
	if (tid < 1 || (uint32_t)tid > w->t->nthreads)
		return false;
	*thread_argp = &w->trecs[tid - 1];
	return true;
}

static bool memory_read(Dwfl *dwfl, Dwarf_Addr addr, Dwarf_Word *result, void *arg)
{
	uint64_t v;
	if (!read_u64(arg, addr, &v))
		return false;
	*result = v;
	return true;
}

static bool set_initial_registers(Dwfl_Thread *thread, void *thread_arg)
{
	const struct thread_rec *rec = thread_arg;
	const struct hc_target *t = rec->w->t;
	const struct hc_thread *th = &t->threads[rec->index];
	Dwarf_Word regs[32];
	if (t->arch == HC_ARCH_X86_64 && th->nregs > K_X86_64_RSP) {
		/* DWARF rax, rdx, rcx, rbx, rsi, rdi, rbp, rsp, r8..r15, rip from the kernel's order */
		static const uint8_t k[X86_64_NDW] = { 10, 12, 11, 5, 13, 14, 4, 19, 9, 8, 7, 6, 3, 2, 1, 0, 16 };
		for (unsigned i = 0; i < X86_64_NDW; i++)
			regs[i] = th->regs[k[i]];
		if (!dwfl_thread_state_registers(thread, 0, X86_64_NDW, regs))
			return false;
		dwfl_thread_state_register_pc(thread, th->regs[K_X86_64_RIP]);
		return true;
	}
	if (t->arch == HC_ARCH_AARCH64 && th->nregs > K_AARCH64_PC) {
		/* x0..x30 and sp are DWARF 0..31 in the kernel's order already */
		for (unsigned i = 0; i < 32; i++)
			regs[i] = th->regs[i];
		if (!dwfl_thread_state_registers(thread, 0, 32, regs))
			return false;
		dwfl_thread_state_register_pc(thread, th->regs[K_AARCH64_PC]);
		return true;
	}
	return false;
}

static const Dwfl_Thread_Callbacks thread_callbacks = {
	.next_thread = next_thread,
	.get_thread = get_thread,
	.memory_read = memory_read,
	.set_initial_registers = set_initial_registers,
};

static void dwfl_setup(struct unwinder *w)
{
	struct hc_symbols *s = w->s;
	if (!s || !s->nmodules)
		return;
	w->recs = calloc(s->nmodules, sizeof(*w->recs));
	w->trecs = calloc(w->t->nthreads ? w->t->nthreads : 1, sizeof(*w->trecs));
	w->dwfl = w->recs && w->trecs ? dwfl_begin(&dwfl_callbacks) : NULL;
	if (!w->dwfl)
		return;
	for (uint32_t i = 0; i < w->t->nthreads; i++)
		w->trecs[i] = (struct thread_rec){ w, i };
	dwfl_report_begin(w->dwfl);
	unsigned reported = 0;
	for (uint32_t i = 0; i < s->nmodules; i++) {
		const struct hc_module *m = &s->modules[i];
		if (!m->bias_known)
			continue;
		Dwfl_Module *dm = NULL;
		if (m->file_status == HC_MODULE_FILE_FOUND && m->file_path)
			dm = dwfl_report_elf(w->dwfl, m->name, m->file_path, -1, m->bias, true);
		else if (!strcmp(m->name, "[vdso]"))
			dm = dwfl_report_module(w->dwfl, m->name, m->start, m->end);
		if (!dm)
			continue;
		w->recs[i] = (struct module_rec){ m, w };
		void **ud;
		if (dwfl_module_info(dm, &ud, NULL, NULL, NULL, NULL, NULL, NULL))
			*ud = &w->recs[i];
		reported++;
	}
	dwfl_report_end(w->dwfl, NULL, NULL);
	pid_t pid = w->t->process.present && w->t->process.pid > 0 ? w->t->process.pid : 1;
	w->attached = reported && dwfl_attach_state(w->dwfl, NULL, pid, &thread_callbacks, w);
}

static void dwfl_teardown(struct unwinder *w)
{
	if (w->dwfl)
		dwfl_end(w->dwfl);
	w->dwfl = NULL;
	for (uint32_t i = 0; i < w->nimages; i++)
		free(w->images[i]);
	free(w->images);
	free(w->recs);
	free(w->trecs);
	w->images = NULL;
	w->recs = NULL;
	w->trecs = NULL;
	w->nimages = 0;
}

/* Whether libdwfl has the file (or the vdso image) of the module holding pc, hence its CFI. */
static bool has_cfi(const struct unwinder *w, uint64_t pc)
{
	const struct hc_module *m = hc_symbols_module_at(w->s, pc);
	return m && w->recs[m - w->s->modules].m != NULL;
}

static int frame_cb(Dwfl_Frame *f, void *arg)
{
	struct unwinder *w = arg;
	Dwarf_Addr pc;
	bool activation;
	if (!dwfl_frame_pc(f, &pc, &activation))
		return DWARF_CB_ABORT;
	Dwarf_Word sp = 0, fp = 0;
	bool sp_known = dwfl_frame_reg(f, sp_dwarf_reg(w->t), &sp) == 0;
	bool fp_known = dwfl_frame_reg(f, fp_dwarf_reg(w->t), &fp) == 0;
	struct raw_frame r = {
		.pc = pc,
		.sp = sp_known ? sp : w->nraw ? w->raw[w->nraw - 1].sp : 0,
		.fp = fp,
		.fp_known = fp_known,
		.activation = activation || w->nraw == 0,
		.method = w->nraw == 0 ? HC_FRAME_REGISTERS : HC_FRAME_CFI,
	};
	/* A frame below the previous one is not an unwind: stop. */
	if (w->nraw && r.sp < w->raw[w->nraw - 1].sp)
		return DWARF_CB_ABORT;
	/*
	 * Without CFI for the callee's pc, libdwfl guesses by frame pointer
	 * itself (and skips a frame when the callee has none): stop there and
	 * let the fallbacks, which look for that frame, go on.
	 */
	if (w->nraw && !has_cfi(w, w->raw[w->nraw - 1].pc))
		return DWARF_CB_ABORT;
	if (!push_raw(w, r))
		return DWARF_CB_ABORT;
	return DWARF_CB_OK;
}

/* ---- the fallbacks ---- */

static void stack_extent(const struct hc_target *t, uint64_t sp, uint64_t *start, uint64_t *end)
{
	const struct hc_segment *seg = hc_target_segment(t, sp);
	*start = *end = 0;
	if (!seg)
		return;
	*start = seg->start;
	*end = seg->end;
	/* a stack is one mapping, but a core may split it: follow adjacent segments */
	for (unsigned k = 0; k < STACK_SEGMENTS_MAX; k++) {
		const struct hc_segment *next = hc_target_segment(t, *end);
		if (!next || next->start != *end || !(next->perms & HC_PERM_W))
			break;
		*end = next->end;
	}
}

/* The functions no caller is above: CFI ending there ended the stack. */
static bool is_outermost_function(const struct unwinder *w, uint64_t pc)
{
	static const char *const names[] = { "_start", "__clone", "clone", "__clone3", "clone3", "__GI___clone",
					      "__GI___clone3", "thread_start" };
	struct hc_symbol sym;
	if (!hc_symbols_symbol_at(w->s, pc - 1, &sym) && !hc_symbols_symbol_at(w->s, pc, &sym))
		return false;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strcmp(sym.name, names[i]))
			return true;
	return false;
}

static bool fp_walk(struct unwinder *w, uint64_t fp, uint64_t sp, uint64_t stack_end)
{
	bool any = false;
	for (uint32_t k = 0; k < w->o.max_frames; k++) {
		uint64_t prev, ret;
		if (!fp || (fp & 7) || fp < sp || fp + 16 > stack_end || !read_u64(w, fp, &prev) ||
		    !read_u64(w, fp + 8, &ret) || !is_code(w, ret))
			break;
		struct raw_frame r = { .pc = ret, .sp = fp + 16, .fp = prev, .fp_known = true, .method = HC_FRAME_POINTER };
		if (!push_raw(w, r))
			break;
		any = true;
		if (is_outermost_function(w, ret))
			break;
		/* frame records go up the stack; anything else is the end of the chain or garbage */
		if (prev <= fp)
			break;
		sp = fp + 16;
		fp = prev;
	}
	return any;
}

/* Return addresses in [from, to): SCAN frames; stops at the first unreadable word. */
static bool scan(struct unwinder *w, uint64_t from, uint64_t to)
{
	bool any = false;
	from = (from + 7) & ~7ull;
	if (to - from > w->o.max_scan_bytes && to > from)
		to = from + w->o.max_scan_bytes;
	struct hc_span span = { 0 };
	for (uint64_t a = from; a + 8 <= to; a += 8) {
		uint64_t v;
		if (!hc_span_u64(&span, a, &v)) {
			hc_target_span(w->t, a, to - a, &span);
			if (!hc_span_u64(&span, a, &v))
				break;
		}
		if (!is_return_address(w, v))
			continue;
		struct raw_frame r = { .pc = v, .sp = a + 8, .method = HC_FRAME_SCAN };
		if (!push_raw(w, r))
			break;
		any = true;
		/* above _start or a thread's entry lie arguments, the environment and auxv, no frames */
		if (is_outermost_function(w, v))
			break;
	}
	return any;
}

static void unwind_one(struct unwinder *w, uint32_t ti, uint64_t stack_end)
{
	const struct hc_thread *th = &w->t->threads[ti];
	w->nraw = 0;
	bool complete = false;
	if (w->attached && !w->o.no_cfi) {
		int rc = dwfl_getthread_frames(w->dwfl, (pid_t)(ti + 1), frame_cb, w);
		complete = rc == 0 && w->nraw > 1;
		if (w->nraw && is_outermost_function(w, w->raw[w->nraw - 1].pc))
			complete = true;
	}
	if (!w->nraw) {
		bool arm = w->t->arch == HC_ARCH_AARCH64;
		uint32_t kfp = arm ? K_AARCH64_FP : K_X86_64_RBP;
		struct raw_frame r = { .pc = th->pc, .sp = th->sp, .activation = true, .method = HC_FRAME_REGISTERS };
		if (th->nregs > kfp) {
			r.fp = th->regs[kfp];
			r.fp_known = true;
		}
		push_raw(w, r);
	}
	if (complete || w->nomem || !stack_end || w->nraw >= w->o.max_frames)
		return;
	struct raw_frame last = w->raw[w->nraw - 1];
	bool more = false;
	if (!w->o.no_frame_pointers && last.fp_known && last.fp > last.sp) {
		uint32_t mark = w->nraw;
		/*
		 * The innermost function may not have set up a frame pointer yet
		 * (a libc wrapper in a syscall): its caller's return address lies
		 * between sp and the frame pointer it inherited.
		 */
		if (last.method == HC_FRAME_REGISTERS) {
			uint64_t lim = last.fp < last.sp + BRIDGE_BYTES ? last.fp : last.sp + BRIDGE_BYTES;
			for (uint64_t a = (last.sp + 7) & ~7ull; a + 8 <= lim; a += 8) {
				uint64_t v;
				if (read_u64(w, a, &v) && is_return_address(w, v)) {
					struct raw_frame r = { .pc = v, .sp = a + 8, .method = HC_FRAME_SCAN };
					push_raw(w, r);
					break;
				}
			}
		}
		more = fp_walk(w, last.fp, w->raw[w->nraw - 1].sp, stack_end);
		if (!more)
			w->nraw = mark;
	}
	if (!more && !w->o.no_scan)
		scan(w, last.sp, stack_end);
}

/* ---- naming ---- */

static bool push_frame(struct unwinder *w, const struct hc_frame *f, struct frame_strings st)
{
	struct hc_unwind *u = w->u;
	if (u->nframes == w->frames_cap) {
		uint32_t cap = w->frames_cap ? w->frames_cap * 2 : 256;
		struct hc_frame *fr = realloc(u->frames, cap * sizeof(*fr));
		struct frame_strings *ss = fr ? realloc(w->strs, cap * sizeof(*ss)) : NULL;
		if (fr)
			u->frames = fr;
		if (ss)
			w->strs = ss;
		if (!fr || !ss) {
			w->nomem = true;
			return false;
		}
		w->frames_cap = cap;
	}
	u->frames[u->nframes] = *f;
	w->strs[u->nframes] = st;
	u->nframes++;
	return true;
}

static void name_frame(struct unwinder *w, const struct raw_frame *r, struct hc_frame *f, struct frame_strings *st)
{
	/* A return address may be the first byte after its function (a call to a noreturn function). */
	uint64_t look = r->activation ? r->pc : r->pc - 1;
	const struct hc_module *m = hc_symbols_module_at(w->s, look);
	f->module = m ? (int32_t)(m - w->s->modules) : -1;
	char name[1024], loc[1100];
	struct hc_symbol sym;
	st->function = NO_STRING;
	if (hc_symbols_symbol_at(w->s, look, &sym)) {
		hc_demangle(sym.name, name, sizeof(name));
		/* "__libc_start_main@@GLIBC_2.34": the version says nothing about the frame */
		char *at = strchr(name, '@');
		if (at && at != name)
			*at = 0;
		f->function_offset = r->pc - sym.address;
		st->function = pool_add(w, name);
		if (f->function_offset)
			snprintf(loc, sizeof(loc), "%s+0x%llx", name, (unsigned long long)f->function_offset);
		else
			snprintf(loc, sizeof(loc), "%s", name);
	} else if (!hc_symbols_describe(w->s, r->pc, loc, sizeof(loc))) {
		snprintf(loc, sizeof(loc), "0x%llx", (unsigned long long)r->pc);
	}
	st->location = pool_add(w, loc);
	const char *file;
	uint32_t line;
	st->file = NO_STRING;
	if (hc_symbols_source_line(w->s, look, &file, &line)) {
		st->file = pool_add(w, file);
		f->line = line;
	}
}

static void emit_thread(struct unwinder *w, uint32_t ti, uint64_t stack_end)
{
	struct hc_thread_frames *tf = &w->u->threads[ti];
	tf->first = w->u->nframes;
	tf->worst = HC_FRAME_REGISTERS;
	for (uint32_t i = 0; i < w->nraw && !w->nomem; i++) {
		const struct raw_frame *r = &w->raw[i];
		struct hc_frame f = { .pc = r->pc, .pc_exact = r->activation, .sp = r->sp,
				      .method = (enum hc_frame_method)r->method };
		f.cfa = i + 1 < w->nraw ? w->raw[i + 1].sp : stack_end > r->sp ? stack_end : r->sp;
		struct frame_strings st;
		name_frame(w, r, &f, &st);
		if (!push_frame(w, &f, st))
			break;
		if (f.method > tf->worst)
			tf->worst = f.method;
	}
	tf->count = w->u->nframes - tf->first;
}

/* ---- the API ---- */

struct hc_error *hc_unwind_threads(struct hc_target *t, struct hc_symbols *s, struct hc_unwind **out)
{
	return hc_unwind_threads_opts(t, s, NULL, out);
}

struct hc_error *hc_unwind_threads_opts(struct hc_target *t, struct hc_symbols *s,
					const struct hc_unwind_options *opts, struct hc_unwind **out)
{
	*out = NULL;
	struct unwinder w = { .t = t, .s = s };
	if (opts)
		w.o = *opts;
	if (!w.o.max_frames)
		w.o.max_frames = DEFAULT_MAX_FRAMES;
	if (!w.o.max_scan_bytes)
		w.o.max_scan_bytes = DEFAULT_SCAN_BYTES;
	struct hc_unwind *u = calloc(1, sizeof(*u));
	if (!u)
		return &hc_error_nomem;
	w.u = u;
	u->nthreads = t->nthreads;
	u->threads = calloc(t->nthreads ? t->nthreads : 1, sizeof(*u->threads));
	if (!u->threads) {
		free(u);
		return &hc_error_nomem;
	}
	if (!w.o.no_cfi)
		dwfl_setup(&w);
	for (uint32_t i = 0; i < t->nthreads && !w.nomem; i++) {
		const struct hc_thread *th = &t->threads[i];
		struct hc_thread_frames *tf = &u->threads[i];
		tf->tid = th->tid;
		tf->is_main = t->process.present && th->tid == t->process.pid;
		stack_extent(t, th->sp, &tf->stack_start, &tf->stack_end);
		unwind_one(&w, i, tf->stack_end);
		emit_thread(&w, i, tf->stack_end);
	}
	dwfl_teardown(&w);
	free(w.raw);
	if (w.nomem) {
		free(w.strs);
		free(w.pool);
		hc_unwind_destroy(u);
		return &hc_error_nomem;
	}
	/* the pool is final: offsets become pointers */
	u->strings = w.pool;
	for (uint32_t i = 0; i < u->nframes; i++) {
		struct frame_strings st = w.strs[i];
		u->frames[i].function = st.function == NO_STRING ? NULL : u->strings + st.function;
		u->frames[i].location = st.location == NO_STRING ? NULL : u->strings + st.location;
		u->frames[i].file = st.file == NO_STRING ? NULL : u->strings + st.file;
	}
	free(w.strs);
	*out = u;
	return NULL;
}

void hc_unwind_destroy(struct hc_unwind *u)
{
	if (!u)
		return;
	free(u->threads);
	free(u->frames);
	free(u->strings);
	free(u);
}

const struct hc_frame *hc_unwind_frame_at(const struct hc_unwind *u, uint32_t thread_index, uint64_t stack_addr)
{
	if (!u || thread_index >= u->nthreads)
		return NULL;
	const struct hc_thread_frames *tf = &u->threads[thread_index];
	if (!tf->count)
		return NULL;
	const struct hc_frame *f = &u->frames[tf->first];
	if (stack_addr < f[0].sp)
		return f[0].sp - stack_addr <= RED_ZONE ? &f[0] : NULL;
	/* the last frame whose sp is at or below the address */
	uint32_t lo = 0, hi = tf->count;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (f[mid].sp <= stack_addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	const struct hc_frame *k = &f[lo - 1];
	return stack_addr < k->cfa ? k : NULL;
}

bool hc_unwind_local_at(const struct hc_unwind *u, const struct hc_symbols *s, uint32_t thread_index,
			uint64_t stack_addr, struct hc_variable *out)
{
	const struct hc_frame *f = hc_unwind_frame_at(u, thread_index, stack_addr);
	if (!f || !s)
		return false;
	return hc_symbols_local_at(s, f->pc_exact ? f->pc : f->pc - 1, f->sp, f->cfa, stack_addr, out);
}

static const char *base_name(const char *path)
{
	const char *b = strrchr(path, '/');
	return b && b[1] ? b + 1 : path;
}

const char *hc_unwind_describe(const struct hc_unwind *u, uint32_t thread_index, uint64_t stack_addr, char *buf,
			       size_t len)
{
	if (!buf || !len)
		return buf;
	if (!u || thread_index >= u->nthreads) {
		snprintf(buf, len, "stack");
		return buf;
	}
	const struct hc_thread_frames *tf = &u->threads[thread_index];
	const struct hc_frame *f = hc_unwind_frame_at(u, thread_index, stack_addr);
	const char *main_mark = tf->is_main ? " (main)" : "";
	if (!f) {
		snprintf(buf, len, "thread %d%s stack", tf->tid, main_mark);
		return buf;
	}
	char where[600];
	if (f->function)
		snprintf(where, sizeof(where), "%s%s", f->function, strchr(f->function, '(') ? "" : "()");
	else
		snprintf(where, sizeof(where), "%s", f->location ? f->location : "?");
	if (f->file && f->line)
		snprintf(buf, len, "thread %d%s in %s at %s:%u", tf->tid, main_mark, where, base_name(f->file), f->line);
	else
		snprintf(buf, len, "thread %d%s in %s", tf->tid, main_mark, where);
	return buf;
}
