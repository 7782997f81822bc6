/*
 * Each Python thread's stack from a core (see heapcore/cpython.h): the
 * frames from the thread state's current one back through `previous`
 * (3.11+, _PyInterpreterFrame) or f_back (3.9, PyFrameObject), each named
 * by its code object's co_name and co_filename, as py-spy dump shows them
 * (line numbers not yet). Frames the interpreter owns (3.12+'s C-stack
 * shims) are skipped; a frame whose code is not a code object ends the
 * walk with a warning.
 */
#include "heapcore/cpython.h"

#include <stdlib.h>
#include <string.h>

#include "cpython_layout.h"
#include "cpython_refs.h"

/* No real stack is deeper (the default recursion limit is 1000); a longer chain
 * loops. */
#define MAX_FRAMES 100000

bool hc_cpython_read_str(const struct hc_target *t, const struct hc_cpython_runtime *r, uint64_t addr, char *buf,
			 size_t len)
{
	const struct hc_cpython_layout *L = r->layout;
	uint32_t state;
	uint64_t n;
	if (!len || !L || !hc_target_read_u32(t, addr + HC_CPYTHON_STR_STATE, &state) ||
	    !hc_target_read_u64(t, addr + HC_CPYTHON_STR_LENGTH, &n))
		return false;
	unsigned kind = (state >> 2) & 7, compact = (state >> 5) & 1, ascii = (state >> 6) & 1;
	if (!compact || kind != 1)
		return false; /* UCS-2/4 and legacy strings: not read yet */
	uint64_t data = addr + (ascii ? L->str_ascii_data : L->str_compact_data);
	size_t w = 0;
	uint8_t chunk[64];
	for (uint64_t i = 0; i < n && w + 1 < len; i += sizeof(chunk)) {
		size_t k = n - i < sizeof(chunk) ? (size_t)(n - i) : sizeof(chunk);
		if (hc_target_read(t, data + i, chunk, k) != HC_READ_OK)
			return false;
		/* Latin-1 to UTF-8; a character that does not fit ends the string */
		for (size_t j = 0; j < k; j++) {
			if (chunk[j] < 0x80 && w + 1 < len) {
				buf[w++] = (char)chunk[j];
			} else if (chunk[j] >= 0x80 && w + 2 < len) {
				buf[w++] = (char)(0xc0 | chunk[j] >> 6);
				buf[w++] = (char)(0x80 | (chunk[j] & 0x3f));
			} else {
				i = n;
				break;
			}
		}
	}
	buf[w] = 0;
	return true;
}

/* A bytes object's contents (ob_size at 16, data at 32) into a new buffer; NULL if unreadable or absurd. */
static uint8_t *read_bytes(const struct hc_target *t, uint64_t obj, uint64_t *len)
{
	if (!hc_target_read_u64(t, obj + 16, len) || *len > (16u << 20))
		return NULL;
	uint8_t *b = malloc(*len ? *len : 1);
	if (b && hc_target_read(t, obj + 32, b, *len) != HC_READ_OK) {
		free(b);
		return NULL;
	}
	return b;
}

/* 3.9's co_lnotab: (address delta, line delta) byte pairs from co_firstlineno (PyCode_Addr2Line). */
static int32_t line_from_lnotab(const uint8_t *p, uint64_t len, int32_t line, int64_t addrq)
{
	int64_t addr = 0;
	for (uint64_t i = 0; i + 1 < len; i += 2) {
		addr += p[i];
		if (addr > addrq)
			break;
		line += (int8_t)p[i + 1];
	}
	return line;
}

static bool varint(const uint8_t *p, uint64_t len, uint64_t *i, uint32_t *out)
{
	uint32_t v = 0;
	for (unsigned shift = 0; *i < len && shift < 32; shift += 6) {
		uint8_t b = p[(*i)++];
		v |= (uint32_t)(b & 63) << shift;
		if (!(b & 64)) {
			*out = v;
			return true;
		}
	}
	return false;
}

/*
 * 3.11+'s location table (Objects/locations.md): entries of a header byte
 * (bit 7 set; code in bits 3-6; code units covered - 1 in bits 0-2) and
 * their data; the line is co_firstlineno plus the deltas up to the entry
 * covering the code unit. -1 where the table has no line for it.
 */
static int32_t line_from_locations(const uint8_t *p, uint64_t len, int32_t line, uint64_t unit)
{
	uint64_t at = 0, i = 0;
	while (i < len) {
		uint8_t h = p[i++];
		if (!(h & 128))
			return -1;
		unsigned code = (h >> 3) & 15, n = (h & 7) + 1;
		int32_t delta = 0;
		uint32_t v;
		bool none = false;
		if (code == 15) {
			none = true;
		} else if (code == 14 || code == 13) {
			if (!varint(p, len, &i, &v))
				return -1;
			delta = v & 1 ? -(int32_t)(v >> 1) : (int32_t)(v >> 1);
			for (int k = 0; code == 14 && k < 3; k++)
				if (!varint(p, len, &i, &v))
					return -1;
		} else if (code >= 10) {
			delta = (int32_t)code - 10;
			i += 2;
		} else {
			i += 1;
		}
		line += delta;
		if (unit >= at && unit < at + n)
			return none ? -1 : line;
		at += n;
	}
	return -1;
}

/* The line frame is at: its instruction mapped through its code's line table; -1 if unknown. */
static int32_t frame_line(const struct hc_target *t, const struct hc_cpython_runtime *r, uint64_t frame, uint64_t code)
{
	const struct hc_pyobj_layout *L = hc_pyobj_layout_for(r->minor);
	uint32_t first;
	uint64_t table, len;
	if (!L || !hc_target_read_u32(t, code + L->co_firstlineno, &first) ||
	    !hc_target_read_u64(t, code + L->co_linetable, &table))
		return -1;
	uint8_t *p = read_bytes(t, table, &len);
	if (!p)
		return -1;
	int32_t line = -1;
	if (r->minor == 9) {
		uint32_t lasti;
		if (hc_target_read_u32(t, frame + L->frame_instr, &lasti))
			line = line_from_lnotab(p, len, (int32_t)first, (int32_t)lasti);
	} else {
		uint64_t instr, units = code + L->co_code_adaptive;
		if (hc_target_read_u64(t, frame + L->frame_instr, &instr) && instr >= units && instr - units < (64u << 20))
			line = line_from_locations(p, len, (int32_t)first, (instr - units) / 2);
	}
	free(p);
	return line;
}

/* Whether obj's type is named name: its tp_name, from the core or the module's
 * file. */
static bool type_named(const struct hc_target *t, const struct hc_symbols *s, uint64_t obj, const char *name)
{
	uint64_t type, at;
	char buf[32];
	size_t n = strlen(name);
	if (n >= sizeof(buf) || !hc_target_read_u64(t, obj + HC_CPYTHON_OB_TYPE, &type) ||
	    !hc_target_read_u64(t, type + HC_CPYTHON_TP_NAME, &at))
		return false;
	if (hc_target_read(t, at, buf, n + 1) != HC_READ_OK &&
	    (!s || hc_symbols_read_file(s, NULL, at, buf, n + 1) != HC_READ_OK))
		return false;
	return !memcmp(buf, name, n + 1);
}

static bool add_frame(struct hc_cpython_stack *st, uint32_t *cap, const struct hc_cpython_frame *f)
{
	if (st->nframes == *cap) {
		uint32_t c = *cap ? *cap * 2 : 16;
		struct hc_cpython_frame *a = realloc(st->frames, c * sizeof(*a));
		if (!a)
			return false;
		st->frames = a;
		*cap = c;
	}
	st->frames[st->nframes++] = *f;
	return true;
}

struct hc_error *hc_cpython_thread_stack(struct hc_target *t, const struct hc_symbols *s,
					 const struct hc_cpython_runtime *r, uint32_t thread,
					 struct hc_cpython_stack *out)
{
	memset(out, 0, sizeof(*out));
	const struct hc_cpython_layout *L = r->layout;
	if (!r->layout_known || !L || thread >= r->nthreads)
		return NULL;
	uint64_t ts = r->threads[thread].tstate, frame;
	if (!hc_target_read_u64(t, ts + L->tstate_frame, &frame) ||
	    (L->cframe_frame >= 0 && frame && !hc_target_read_u64(t, frame + (uint64_t)L->cframe_frame, &frame))) {
		hc_warnings_add(&t->warnings, HC_WARN_PARTIAL, "python: thread state 0x%llx's frame is not in the core",
				(unsigned long long)ts);
		return NULL;
	}
	uint32_t cap = 0;
	for (uint32_t n = 0; frame; n++) {
		uint64_t code, prev;
		uint8_t owner = 0;
		bool ok = n < MAX_FRAMES && hc_target_read_u64(t, frame + L->frame_code, &code) &&
			  hc_target_read_u64(t, frame + L->frame_previous, &prev) &&
			  (L->frame_owner < 0 ||
			   hc_target_read(t, frame + (uint64_t)L->frame_owner, &owner, 1) == HC_READ_OK);
		if (!ok) {
			hc_warnings_add(&t->warnings, HC_WARN_PARTIAL,
					"python: thread state 0x%llx's stack %s at frame 0x%llx",
					(unsigned long long)ts, n < MAX_FRAMES ? "leaves the core" : "loops",
					(unsigned long long)frame);
			break;
		}
		if (L->code_is_stackref)
			code &= ~3ull;
		if (L->frame_owner < 0 || owner < L->owner_skip_min) {
			struct hc_cpython_frame f = { .frame = frame, .code = code, .line = -1 };
			uint64_t name, file;
			if (!type_named(t, s, code, "code") || !hc_target_read_u64(t, code + L->co_name, &name) ||
			    !hc_target_read_u64(t, code + L->co_filename, &file)) {
				hc_warnings_add(&t->warnings, HC_WARN_PARTIAL,
						"python: frame 0x%llx of thread state 0x%llx has no "
						"code object (0x%llx)",
						(unsigned long long)frame, (unsigned long long)ts,
						(unsigned long long)code);
				break;
			}
			if (!hc_cpython_read_str(t, r, name, f.function, sizeof(f.function)))
				strcpy(f.function, "?");
			if (!hc_cpython_read_str(t, r, file, f.file, sizeof(f.file)))
				strcpy(f.file, "?");
			f.line = frame_line(t, r, frame, code);
			if (!add_frame(out, &cap, &f)) {
				hc_cpython_stack_free(out);
				return &hc_error_nomem;
			}
		}
		frame = prev;
	}
	return NULL;
}

void hc_cpython_stack_free(struct hc_cpython_stack *st)
{
	free(st->frames);
	memset(st, 0, sizeof(*st));
}
