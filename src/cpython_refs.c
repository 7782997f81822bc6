/*
 * What one Python object refers to (see cpython_refs.h), per version.
 *
 * Containers whose items live in a separate buffer (dict, list, set, an
 * instance's managed dict or inline values) are read precisely: a scan of
 * the object's body would miss them. Everything else is read as
 * tp_traverse would see it by scanning the words of its body (basicsize,
 * plus the items of a variable-size object of pointer-sized items), which
 * the caller filters to words that point at objects; the weak-reference
 * list slot is never a reference, and a weakref's referent is a weak one.
 * Reads that leave the core end that part of an object: a damaged object
 * loses references, never the walk.
 */
#include "cpython_refs.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpython_layout.h"

/* PyTypeObject offsets, the same in 3.9-3.14 GIL builds (internals.md §2.4) */
enum {
	TP_BASICSIZE = 32,
	TP_ITEMSIZE = 40,
	TP_FLAGS = 168,
	TP_WEAKLISTOFFSET = 208,
	TP_BASE = 256,
	TP_DICT = 264,
	TP_DICTOFFSET = 288,
	TP_BASES = 336,
	TP_MRO = 344,
	TP_CACHE = 352,
	TP_SUBCLASSES = 360,
};

#define F_MANAGED_WEAKREF (1ull << 3)
#define F_MANAGED_DICT (1ull << 4)
#define F_INLINE_VALUES (1ull << 2)
#define F_HEAPTYPE (1ull << 9)
#define F_HAVE_GC (1ull << 14)
#define F_LONG (1ull << 24)
#define F_LIST (1ull << 25)
#define F_TUPLE (1ull << 26)
#define F_BYTES (1ull << 27)
#define F_UNICODE (1ull << 28)
#define F_DICT (1ull << 29)
#define F_TYPE (1ull << 31)

/* No container in a real process is bigger: a larger count is damage. */
#define MAX_ITEMS (1ull << 28)
/* Nor is a body scanned conservatively (a 64 MiB tuple-like object) */
#define MAX_BODY (64ull << 20)

/* Names of a body's words from offset 16, "" ending the table; NULL: a word with no Python name */
static const char *const function_fields_39[] = { "__code__",	     "__globals__", "__defaults__", "__kwdefaults__",
						   "__closure__",    "__doc__",	    "__name__",	    "__dict__",
						   NULL,	     "__module__",  "__annotations__", "__qualname__",
						   "" };
static const char *const function_fields_311[] = { "__globals__",	  "__builtins__", "__name__",	 "__qualname__",
						    "__code__",	  "__defaults__", "__kwdefaults__", "__closure__",
						    "__doc__",	  "__dict__",	  NULL,		 "__module__",
						    "__annotations__", "" };

static const struct hc_pyobj_layout layouts[] = {
	{ .minor = 9, .co_firstlineno = 40, .co_linetable = 120, .frame_instr = 104, .tuple_items = 24, .values_items = 0, .ht_qualname = 856, .ht_module = 872,
	  .ht_cached_keys = 864, .interp_modules = 856, .co_localsplusnames = 0, .str_ascii_size = 48,
	  .str_compact_size = 72, .function_fields = function_fields_39 },
	{ .minor = 11, .co_firstlineno = 72, .co_linetable = 136, .co_code_adaptive = 184, .frame_instr = 56, .tuple_items = 24, .values_items = 0, .ht_qualname = 864, .ht_module = 880,
	  .ht_cached_keys = 872, .interp_modules = 888, .frame_code = 32, .frame_func = 0, .frame_globals = 8, .frame_locals = 24,
	  .frame_obj = 40, .frame_stack = 64, .frame_localsplus = 72, .co_localsplusnames = 96,
	  .co_stacksize = 68, .str_ascii_size = 48, .str_compact_size = 72, .function_fields = function_fields_311 },
	{ .minor = 12, .co_firstlineno = 68, .co_linetable = 136, .co_code_adaptive = 192, .frame_instr = 56, .tuple_items = 24, .values_items = 0, .ht_qualname = 872, .ht_module = 888,
	  .ht_cached_keys = 880, .interp_modules = 944, .frame_code = 0, .frame_func = 16, .frame_globals = 24, .frame_locals = 40,
	  .frame_obj = 48, .frame_stack = 64, .frame_localsplus = 72, .co_localsplusnames = 96,
	  .co_stacksize = 64, .str_ascii_size = 40, .str_compact_size = 56, .refcnt32 = true, .long_tag = true,
	  .function_fields = function_fields_311 },
	{ .minor = 13, .co_firstlineno = 68, .co_linetable = 136, .co_code_adaptive = 200, .frame_instr = 56, .tuple_items = 24, .values_items = 8, .ht_qualname = 872, .ht_module = 888,
	  .ht_cached_keys = 880, .interp_modules = 7656, .frame_code = 0, .frame_func = 16, .frame_globals = 24, .frame_locals = 40,
	  .frame_obj = 48, .frame_stack = 64, .frame_localsplus = 72, .co_localsplusnames = 96,
	  .co_stacksize = 64, .str_ascii_size = 40, .str_compact_size = 56, .refcnt32 = true, .long_tag = true,
	  .function_fields = function_fields_311 },
	{ .minor = 14, .co_firstlineno = 68, .co_linetable = 136, .co_code_adaptive = 208, .frame_instr = 56, .tuple_items = 32, .values_items = 8, .ht_qualname = 872, .ht_module = 888,
	  .ht_cached_keys = 880, .interp_modules = 7688, .frame_code = 0, .frame_func = 16, .frame_globals = 24, .frame_locals = 40,
	  .frame_obj = 48, .frame_stack = 64, .frame_localsplus = 80, .stack_is_pointer = true,
	  .co_localsplusnames = 96, .co_stacksize = 64, .str_ascii_size = 40, .str_compact_size = 56, .refcnt32 = true,
	  .long_tag = true, .function_fields = function_fields_311 },
};

const struct hc_pyobj_layout *hc_pyobj_layout_for(unsigned minor)
{
	for (size_t i = 0; i < sizeof(layouts) / sizeof(layouts[0]); i++)
		if (layouts[i].minor == minor)
			return &layouts[i];
	return NULL;
}

bool hc_cpython_read_cstr(const struct hc_target *t, const struct hc_symbols *s, uint64_t addr, char *buf,
			  size_t len)
{
	if (hc_target_read_cstr(t, addr, buf, len) && buf[0])
		return true;
	for (size_t i = 0; s && i + 1 < len; i++) {
		if (hc_symbols_read_file(s, NULL, addr + i, &buf[i], 1) != HC_READ_OK)
			return false;
		if (!buf[i])
			return i > 0;
	}
	if (len)
		buf[len - 1] = 0;
	return false;
}

static uint64_t u64_or(const struct hc_target *t, uint64_t addr, uint64_t dflt)
{
	uint64_t v;
	return hc_target_read_u64(t, addr, &v) ? v : dflt;
}

/* The kind of a static type, by its tp_name; subclasses take their first static base's. */
static uint8_t kind_by_name(const char *n)
{
	static const struct {
		const char *name;
		uint8_t kind;
	} names[] = {
		{ "set", HC_PYKIND_SET },
		{ "frozenset", HC_PYKIND_SET },
		{ "weakref", HC_PYKIND_WEAKREF },
		{ "weakref.ReferenceType", HC_PYKIND_WEAKREF },
		{ "weakproxy", HC_PYKIND_WEAKREF },
		{ "weakcallableproxy", HC_PYKIND_WEAKREF },
		{ "weakref.ProxyType", HC_PYKIND_WEAKREF },
		{ "weakref.CallableProxyType", HC_PYKIND_WEAKREF },
		{ "module", HC_PYKIND_MODULE },
		{ "function", HC_PYKIND_FUNCTION },
		{ "method", HC_PYKIND_METHOD },
		{ "cell", HC_PYKIND_CELL },
		{ "float", HC_PYKIND_LEAF },
		{ "complex", HC_PYKIND_LEAF },
		{ "bytearray", HC_PYKIND_BYTEARRAY },
		{ "collections.deque", HC_PYKIND_DEQUE },
		{ "frame", HC_PYKIND_FRAME },
		{ "code", HC_PYKIND_CODE },
	};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strcmp(n, names[i].name))
			return names[i].kind;
	return HC_PYKIND_GENERIC;
}

bool hc_pytype_read(const struct hc_target *t, const struct hc_symbols *s, const struct hc_pyobj_layout *L,
		    uint64_t addr, struct hc_pytype *out)
{
	memset(out, 0, sizeof(*out));
	out->addr = addr;
	uint64_t dictoff, weakoff;
	if (!hc_target_read_u64(t, addr + TP_FLAGS, &out->flags) ||
	    !hc_target_read_u64(t, addr + TP_BASICSIZE, &out->basicsize) ||
	    !hc_target_read_u64(t, addr + TP_ITEMSIZE, &out->itemsize) ||
	    !hc_target_read_u64(t, addr + TP_DICTOFFSET, &dictoff) ||
	    !hc_target_read_u64(t, addr + TP_WEAKLISTOFFSET, &weakoff))
		return false;
	out->dictoffset = (int64_t)dictoff;
	out->weaklistoffset = (int64_t)weakoff;
	out->heap = out->flags & F_HEAPTYPE;
	out->gc = out->flags & F_HAVE_GC;
	if (out->basicsize < 16 || out->basicsize > MAX_BODY || out->itemsize > 4096)
		return false;
	if (L->minor == 11)
		out->preheader = out->flags & F_MANAGED_DICT ? 16 : 0;
	else if (L->minor >= 12)
		out->preheader = out->flags & (F_MANAGED_DICT | F_MANAGED_WEAKREF) ? 16 : 0;
	uint64_t f = out->flags;
	out->kind = f & F_TYPE      ? HC_PYKIND_TYPE
		    : f & F_DICT    ? HC_PYKIND_DICT
		    : f & F_LIST    ? HC_PYKIND_LIST
		    : f & F_TUPLE   ? HC_PYKIND_TUPLE
		    : f & F_UNICODE ? HC_PYKIND_STR
		    : f & F_LONG    ? HC_PYKIND_INT
		    : f & F_BYTES   ? HC_PYKIND_BYTES
				    : HC_PYKIND_GENERIC;
	/*
	 * The first static base: its name gives the other kinds, its size where
	 * a subclass's own words start. A C extension's heap type (3.13's
	 * deque) is named like a static one, module-dotted; a class is not.
	 */
	char name[64];
	uint64_t at;
	if (out->kind == HC_PYKIND_GENERIC && out->heap && hc_target_read_u64(t, addr + HC_CPYTHON_TP_NAME, &at) &&
	    hc_cpython_read_cstr(t, s, at, name, sizeof(name)) && strchr(name, '.'))
		out->kind = kind_by_name(name);
	uint64_t base = addr, bflags = f;
	for (int depth = 0; depth < 64 && (bflags & F_HEAPTYPE); depth++) {
		if (!hc_target_read_u64(t, base + TP_BASE, &base) || !base ||
		    !hc_target_read_u64(t, base + TP_FLAGS, &bflags))
			return false;
	}
	uint64_t bsize = out->basicsize;
	if (base != addr && (!hc_target_read_u64(t, base + TP_BASICSIZE, &bsize) || bsize > out->basicsize))
		return false;
	if (out->kind == HC_PYKIND_GENERIC && hc_target_read_u64(t, base + HC_CPYTHON_TP_NAME, &at) &&
	    hc_cpython_read_cstr(t, s, at, name, sizeof(name)))
		out->kind = kind_by_name(name);
	/*
	 * A generic base is scanned whole; the precise kinds read their own
	 * part, and a subclass's words after it (ctypes' StgDict's C fields, a
	 * class's __slots__) are scanned
	 */
	out->base_size = out->kind == HC_PYKIND_GENERIC ? 16
			 : out->kind == HC_PYKIND_DICT	 ? 48
			 : out->kind == HC_PYKIND_LIST	 ? 40
			 : out->kind == HC_PYKIND_SET	 ? 200
							 : (uint32_t)bsize;
	return true;
}

bool hc_pyobj_refcnt(const struct hc_target *t, const struct hc_pyobj_layout *L, uint64_t obj, uint64_t *refcnt,
		     bool *immortal)
{
	uint64_t v;
	if (!hc_target_read_u64(t, obj, &v))
		return false;
	*immortal = false;
	if (L->refcnt32) {
		/*
		 * A mortal object's count fits its low half, the rest zero but for
		 * 3.14's flags in the top 16 bits: a pointer there (block data
		 * that looks like an object) has its high half set
		 */
		*immortal = (int32_t)(uint32_t)v < 0;
		if (!*immortal && (v >> 32) & (L->minor >= 14 ? 0xffffull : 0xffffffffull))
			return false;
		v = (uint32_t)v;
	}
	*refcnt = v;
	return true;
}

/* ---- emitting ---- */

struct emit {
	hc_pyref_fn fn;
	void *ctx;
	bool stopped;
	char *damage;                /* where the first impossible size field is said; NULL: not asked */
	size_t damage_len;
};

static void damaged(struct emit *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void damaged(struct emit *e, const char *fmt, ...)
{
	if (!e->damage || e->damage[0])
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(e->damage, e->damage_len, fmt, ap);
	va_end(ap);
}

static bool emit(struct emit *e, uint64_t target, uint8_t label, uint64_t key, uint32_t offset, const char *name,
		 bool weak)
{
	if (e->stopped || !target)
		return !e->stopped;
	struct hc_pyref r = { .target = target, .key = key, .offset = offset, .name = name, .label = label,
			      .weak = weak };
	if (!e->fn(e->ctx, &r))
		e->stopped = true;
	return !e->stopped;
}

/* A named field tp_traverse may not visit */
static bool emit_ref(struct emit *e, uint64_t target, uint32_t offset, const char *name, bool untraversed)
{
	if (e->stopped || !target)
		return !e->stopped;
	struct hc_pyref r = { .target = target, .offset = offset, .name = name, .label = HC_PYREF_FIELD,
			      .untraversed = untraversed };
	if (!e->fn(e->ctx, &r))
		e->stopped = true;
	return !e->stopped;
}

/* Each 8-aligned word of [obj+from, obj+to) as a FIELD reference, except the skip offsets. */
static bool scan_words(const struct hc_target *t, uint64_t obj, uint64_t from, uint64_t to, int64_t skip1,
		       int64_t skip2, const char *const *names, struct emit *e)
{
	uint64_t buf[64];
	from = (from + 7) & ~7ull;
	for (uint64_t off = from; off < to && !e->stopped;) {
		uint64_t n = (to - off) / 8 < 64 ? (to - off) / 8 : 64;
		if (!n || hc_target_read(t, obj + off, buf, n * 8) != HC_READ_OK)
			return true;
		for (uint64_t i = 0; i < n; i++, off += 8) {
			if ((int64_t)off == skip1 || (int64_t)off == skip2 || (buf[i] & 7) || buf[i] < 4096)
				continue;
			const char *name = NULL;
			for (uint64_t k = 0; names && off >= 16 && k <= (off - 16) / 8; k++) {
				if (names[k] && !names[k][0])
					break;
				if (k == (off - 16) / 8)
					name = names[k];
			}
			emit(e, buf[i], HC_PYREF_FIELD, 0, (uint32_t)off, name, false);
		}
	}
	return !e->stopped;
}

/* ---- dicts ---- */

/*
 * The entries of a dict's keys (and split values): for each live entry i
 * below nentries, its key and value, as the version lays them out. values
 * is the PyDictValues (or 3.9's value array), 0 for a combined table.
 * Instance attributes come through here as ATTR references (attrs).
 */
static bool keys_each(const struct hc_target *t, const struct hc_pyobj_layout *L, uint64_t keys, uint64_t values,
		      uint64_t max_values, bool attrs, struct emit *e, uint64_t *capacity_out)
{
	uint64_t nentries, entries, esize, koff, capacity;
	if (L->minor == 9) {
		uint64_t size;
		if (!hc_target_read_u64(t, keys + 8, &size) || !hc_target_read_u64(t, keys + 32, &nentries) ||
		    size > MAX_ITEMS || (size & (size - 1)))
			return true;
		uint64_t width = size <= 0xff ? 1 : size <= 0xffff ? 2 : size <= 0xffffffffull ? 4 : 8;
		entries = keys + 40 + size * width;
		esize = 24;
		koff = 8;
		capacity = 2 * size / 3;
	} else {
		uint8_t hdr[3];
		if (hc_target_read(t, keys + 8, hdr, 3) != HC_READ_OK || !hc_target_read_u64(t, keys + 24, &nentries) ||
		    hdr[0] > 40 || hdr[1] > 43)
			return true;
		entries = keys + 32 + (1ull << hdr[1]);
		esize = hdr[2] == 0 ? 24 : 16;
		koff = hdr[2] == 0 ? 8 : 0;
		capacity = hdr[0] < 40 ? (2ull << hdr[0]) / 3 : MAX_ITEMS;
	}
	if (capacity_out)
		*capacity_out = capacity;
	/* entries are used in order and never past the table's usable fraction */
	if (nentries > capacity) {
		damaged(e, "dict keys 0x%llx: dk_nentries %llu exceeds the table's %llu usable entries",
			(unsigned long long)keys, (unsigned long long)nentries, (unsigned long long)capacity);
		nentries = capacity;
	}
	if (nentries > MAX_ITEMS)
		return true;
	if (values && nentries > max_values)
		nentries = max_values;
	uint64_t buf[3 * 32];
	for (uint64_t i = 0; i < nentries && !e->stopped;) {
		uint64_t n = nentries - i < 32 ? nentries - i : 32;
		if (hc_target_read(t, entries + i * esize, buf, n * esize) != HC_READ_OK)
			return true;
		uint64_t vals[32];
		if (values && hc_target_read(t, values + L->values_items + i * 8, vals, n * 8) != HC_READ_OK)
			return true;
		for (uint64_t j = 0; j < n; j++) {
			const uint64_t *ent = (const uint64_t *)((const uint8_t *)buf + j * esize);
			uint64_t key = ent[koff / 8], value = values ? vals[j] : ent[koff / 8 + 1];
			if (!key || !value)
				continue;
			if (attrs) {
				emit(e, value, HC_PYREF_ATTR, key, 0, NULL, false);
			} else {
				emit(e, key, HC_PYREF_DICT_KEY, key, 0, NULL, false);
				emit(e, value, HC_PYREF_DICT_VALUE, key, 0, NULL, false);
			}
		}
		i += n;
	}
	return !e->stopped;
}

static bool dict_refs(const struct hc_target *t, const struct hc_pyobj_layout *L, uint64_t dict, struct emit *e)
{
	uint64_t keys, values, used, capacity = MAX_ITEMS;
	if (!hc_target_read_u64(t, dict + 32, &keys) || !hc_target_read_u64(t, dict + 40, &values) || !keys)
		return true;
	bool ok = keys_each(t, L, keys, values, UINT64_MAX, false, e, &capacity);
	if (e->damage && hc_target_read_u64(t, dict + 16, &used) && used > capacity)
		damaged(e, "dict ma_used %llu exceeds its table's %llu usable entries", (unsigned long long)used,
			(unsigned long long)capacity);
	return ok;
}

bool hc_pydict_each(const struct hc_target *t, const struct hc_pyobj_layout *L, uint64_t dict, hc_pyref_fn fn,
		    void *ctx)
{
	struct emit e = { fn, ctx, false, NULL, 0 };
	dict_refs(t, L, dict, &e);
	return !e.stopped;
}

/*
 * An instance's own dict: 3.9's at tp_dictoffset (a word of the body,
 * scanned with it, but named here); 3.11+'s managed dict in the pre-header,
 * or its values without a dict (3.11/3.12's in the pre-header, 3.13+'s
 * inline after the body), whose keys are the class's shared ones.
 */
static bool instance_dict(const struct hc_target *t, const struct hc_pyobj_layout *L, const struct hc_pytype *ty,
			  uint64_t obj, int64_t *dict_slot, struct emit *e)
{
	*dict_slot = -1;
	uint64_t dict = 0, values = 0, max_values = UINT64_MAX;
	if (!(ty->flags & F_MANAGED_DICT) || L->minor < 11) {
		if (ty->dictoffset > 0 && (uint64_t)ty->dictoffset + 8 <= ty->basicsize) {
			*dict_slot = ty->dictoffset;
			dict = u64_or(t, obj + (uint64_t)ty->dictoffset, 0);
		} else if (ty->dictoffset < 0) {
			uint64_t size = u64_or(t, obj + 16, 0);
			int64_t n = (int64_t)size < 0 ? -(int64_t)size : (int64_t)size;
			uint64_t at = (ty->basicsize + (uint64_t)n * ty->itemsize + 7) & ~7ull;
			if ((uint64_t)n < MAX_ITEMS)
				dict = u64_or(t, obj + at + (uint64_t)ty->dictoffset, 0);
		}
	} else if (L->minor == 11) {
		dict = u64_or(t, obj - 24, 0);
		if (!dict)
			values = u64_or(t, obj - 32, 0);
	} else if (L->minor == 12) {
		uint64_t w = u64_or(t, obj - 24, 0);
		if (w & 1)
			values = w + 1;
		else
			dict = w;
	} else {
		dict = u64_or(t, obj - 24, 0);
		if (!dict && (ty->flags & F_INLINE_VALUES)) {
			uint8_t hdr[4];
			if (hc_target_read(t, obj + ty->basicsize, hdr, 4) == HC_READ_OK && hdr[3]) {
				values = obj + ty->basicsize;
				max_values = hdr[0];
			}
		}
	}
	if (dict)
		return emit(e, dict, HC_PYREF_FIELD, 0, 0, "__dict__", false);
	uint64_t keys = values ? u64_or(t, ty->addr + L->ht_cached_keys, 0) : 0;
	return keys ? keys_each(t, L, keys, values, max_values, true, e, NULL) : true;
}

/* ---- the kinds ---- */

static bool items_refs(const struct hc_target *t, uint64_t items, uint64_t n, struct emit *e)
{
	uint64_t buf[64];
	for (uint64_t i = 0; i < n && !e->stopped;) {
		uint64_t k = n - i < 64 ? n - i : 64;
		if (hc_target_read(t, items + i * 8, buf, k * 8) != HC_READ_OK)
			return true;
		for (uint64_t j = 0; j < k; j++)
			emit(e, buf[j], HC_PYREF_ITEM, i + j, 0, NULL, false);
		i += k;
	}
	return !e->stopped;
}

/* A deque's items: from leftblock's data[leftindex], 64 to a block, the next block linked at its end. */
static bool deque_refs(const struct hc_target *t, uint64_t dq, struct emit *e)
{
	enum { BLOCKLEN = 64, RIGHTLINK = 8 + BLOCKLEN * 8 };
	uint64_t n, block, index, buf[BLOCKLEN];
	if (!hc_target_read_u64(t, dq + 16, &n) || !hc_target_read_u64(t, dq + 24, &block) ||
	    !hc_target_read_u64(t, dq + 40, &index) || n >= MAX_ITEMS || index >= BLOCKLEN)
		return true;
	for (uint64_t i = 0; i < n && block && !e->stopped;) {
		uint64_t k = BLOCKLEN - index < n - i ? BLOCKLEN - index : n - i;
		if (hc_target_read(t, block + 8 + index * 8, buf, k * 8) != HC_READ_OK)
			return true;
		for (uint64_t j = 0; j < k; j++)
			emit(e, buf[j], HC_PYREF_ITEM, i + j, 0, NULL, false);
		i += k;
		index = 0;
		if (!hc_target_read_u64(t, block + RIGHTLINK, &block))
			return true;
	}
	return !e->stopped;
}

/*
 * A frame object, as frame_traverse sees it. 3.9's: its fields, then its
 * fast locals, cells and free variables, and its value stack only up to a
 * saved f_stacktop (a running frame's is NULL: its slots above the locals
 * are stale). 3.11+'s: f_back and f_trace, and the interpreter frame it
 * owns once its function has returned (f_frame inside the object).
 */
static bool frame_refs(const struct hc_target *t, const struct hc_pyobj_layout *L, uint64_t f, uint64_t basicsize,
		       struct emit *e)
{
	if (L->minor == 9) {
		static const char *const names[] = { "f_back", "f_code", "f_builtins", "f_globals", "f_locals" };
		for (uint32_t i = 0; i < 5; i++)
			emit(e, u64_or(t, f + 24 + i * 8, 0), HC_PYREF_FIELD, 0, 24 + i * 8, names[i], false);
		emit(e, u64_or(t, f + 80, 0), HC_PYREF_FIELD, 0, 80, "f_trace", false);
		uint64_t stack = u64_or(t, f + 64, 0), top = u64_or(t, f + 72, 0), end = top ? top : stack;
		uint64_t locals = f + basicsize - 8; /* f_localsplus[1] ends the struct */
		if (end > locals && (end - locals) / 8 < MAX_ITEMS)
			items_refs(t, locals, (end - locals) / 8, e);
		return !e->stopped;
	}
	emit(e, u64_or(t, f + 16, 0), HC_PYREF_FIELD, 0, 16, "f_back", false);
	emit(e, u64_or(t, f + 32, 0), HC_PYREF_FIELD, 0, 32, "f_trace", false);
	uint64_t fr = u64_or(t, f + 24, 0);
	if (fr <= f || fr >= f + basicsize)
		return !e->stopped; /* still running: the thread's frames are roots */
	uint64_t v;
	const uint32_t fields[] = { L->frame_code, L->frame_func, L->frame_locals };
	for (int i = 0; i < 3; i++)
		if ((v = u64_or(t, fr + fields[i], 0)) && (L->minor < 14 || !(v & 3)))
			emit(e, L->minor >= 14 ? v & ~3ull : v, HC_PYREF_FIELD, 0, (uint32_t)(fr - f + fields[i]), NULL,
			     false);
	uint64_t n = 0;
	if (L->stack_is_pointer) {
		uint64_t sp = u64_or(t, fr + L->frame_stack, 0);
		n = sp > fr + L->frame_localsplus ? (sp - fr - L->frame_localsplus) / 8 : 0;
	} else {
		uint32_t top = 0;
		hc_target_read_u32(t, fr + L->frame_stack, &top);
		n = (int32_t)top > 0 ? top : 0;
	}
	uint64_t buf[64];
	for (uint64_t i = 0; i < n && i < MAX_ITEMS && !e->stopped;) {
		uint64_t k = n - i < 64 ? n - i : 64;
		if (hc_target_read(t, fr + L->frame_localsplus + i * 8, buf, k * 8) != HC_READ_OK)
			break;
		/* 3.14's tagged slots (an int, or a reference owning no count) are not what frame_traverse visits */
		for (uint64_t j = 0; j < k; j++)
			if (L->minor < 14 || !(buf[j] & 3))
				emit(e, L->minor >= 14 ? buf[j] & ~3ull : buf[j], HC_PYREF_ITEM, i + j, 0, NULL, false);
		i += k;
	}
	return !e->stopped;
}

static bool set_refs(const struct hc_target *t, uint64_t set, struct emit *e)
{
	uint64_t mask, table;
	if (!hc_target_read_u64(t, set + 32, &mask) || !hc_target_read_u64(t, set + 40, &table))
		return true;
	if (mask >= MAX_ITEMS || ((mask + 1) & mask)) {
		damaged(e, "set mask 0x%llx is no table size", (unsigned long long)mask);
		return true;
	}
	uint64_t used;
	if (e->damage && hc_target_read_u64(t, set + 24, &used) && used > mask + 1)
		damaged(e, "set used %llu exceeds its table of %llu", (unsigned long long)used,
			(unsigned long long)(mask + 1));
	uint64_t buf[2 * 32];
	for (uint64_t i = 0; i <= mask && !e->stopped;) {
		uint64_t k = mask + 1 - i < 32 ? mask + 1 - i : 32;
		if (hc_target_read(t, table + i * 16, buf, k * 16) != HC_READ_OK)
			return true;
		for (uint64_t j = 0; j < k; j++)
			emit(e, buf[2 * j], HC_PYREF_SET_ITEM, 0, 0, NULL, false);
		i += k;
	}
	return !e->stopped;
}

static bool type_refs(const struct hc_target *t, const struct hc_pyobj_layout *L, uint64_t ty, bool heap,
		      struct emit *e)
{
	/* type_traverse visits these; the names, __slots__ and the subclasses' dict it does not */
	static const struct {
		uint32_t off;
		const char *name;
		bool untraversed;
	} fields[] = { { TP_BASE, "__base__", false },	  { TP_DICT, "__dict__", false },
		       { TP_BASES, "__bases__", false },  { TP_MRO, "__mro__", false },
		       { TP_CACHE, "<tp_cache>", false }, { TP_SUBCLASSES, "<tp_subclasses>", true } };
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		emit_ref(e, u64_or(t, ty + fields[i].off, 0), fields[i].off, fields[i].name, fields[i].untraversed);
	if (heap) {
		emit_ref(e, u64_or(t, ty + L->ht_qualname - 16, 0), L->ht_qualname - 16, "__name__", true);
		emit_ref(e, u64_or(t, ty + L->ht_qualname - 8, 0), L->ht_qualname - 8, "__slots__", true);
		emit_ref(e, u64_or(t, ty + L->ht_qualname, 0), L->ht_qualname, "__qualname__", true);
		emit_ref(e, u64_or(t, ty + L->ht_module, 0), L->ht_module, "<ht_module>", false);
	}
	return !e->stopped;
}

/* A module: its dict and name, and the words of its C state (PyModuleDef.m_size bytes at md_state). */
static bool module_refs(const struct hc_target *t, uint64_t mod, struct emit *e)
{
	emit(e, u64_or(t, mod + 16, 0), HC_PYREF_FIELD, 0, 16, "__dict__", false);
	emit(e, u64_or(t, mod + 48, 0), HC_PYREF_FIELD, 0, 48, "__name__", false);
	uint64_t def = u64_or(t, mod + 24, 0), state = u64_or(t, mod + 32, 0), size = def ? u64_or(t, def + 56, 0) : 0;
	if (!state || (int64_t)size <= 0 || size > MAX_BODY)
		return !e->stopped;
	uint64_t buf[64];
	for (uint64_t off = 0; off + 8 <= size && !e->stopped;) {
		uint64_t n = (size - off) / 8 < 64 ? (size - off) / 8 : 64;
		if (hc_target_read(t, state + off, buf, n * 8) != HC_READ_OK)
			break;
		for (uint64_t i = 0; i < n; i++, off += 8)
			if (!(buf[i] & 7) && buf[i] >= 4096)
				emit(e, buf[i], HC_PYREF_FIELD, 0, (uint32_t)off, "<module state>", false);
	}
	return !e->stopped;
}

bool hc_pyrefs_each(const struct hc_target *t, const struct hc_pyobj_layout *L, const struct hc_pytype *ty,
		    uint64_t obj, hc_pyref_fn fn, void *ctx)
{
	return hc_pyrefs_each_checked(t, L, ty, obj, fn, ctx, NULL, 0);
}

bool hc_pyrefs_each_checked(const struct hc_target *t, const struct hc_pyobj_layout *L, const struct hc_pytype *ty,
			    uint64_t obj, hc_pyref_fn fn, void *ctx, char *damage, size_t damage_len)
{
	struct emit e = { fn, ctx, false, damage, damage_len };
	if (damage && damage_len)
		damage[0] = 0;
	/* an instance of a heap type holds its class (subtype_traverse visits it) */
	if (ty->heap)
		emit(&e, ty->addr, HC_PYREF_TYPE, 0, 8, "__class__", false);
	uint64_t size = 0, end = ty->basicsize;
	switch (ty->kind) {
	case HC_PYKIND_TUPLE:
		if (!hc_target_read_u64(t, obj + 16, &size))
			break;
		if (size < MAX_ITEMS)
			items_refs(t, obj + L->tuple_items, size, &e);
		else
			damaged(&e, "tuple size %lld is impossible", (long long)size);
		break;
	case HC_PYKIND_LIST: {
		/* ob_size <= allocated always; past a damaged size, allocated bounds what is read */
		uint64_t items, allocated;
		if (!hc_target_read_u64(t, obj + 16, &size) || !hc_target_read_u64(t, obj + 24, &items) ||
		    !hc_target_read_u64(t, obj + 32, &allocated))
			break;
		if (size > allocated || size >= MAX_ITEMS) {
			damaged(&e, "list ob_size %lld exceeds its %lld allocated items", (long long)size,
				(long long)allocated);
			size = allocated < MAX_ITEMS ? allocated : 0;
		}
		items_refs(t, items, size, &e);
		break;
	}
	case HC_PYKIND_DICT:
		dict_refs(t, L, obj, &e);
		break;
	case HC_PYKIND_SET:
		set_refs(t, obj, &e);
		break;
	case HC_PYKIND_DEQUE:
		deque_refs(t, obj, &e);
		break;
	case HC_PYKIND_FRAME:
		frame_refs(t, L, obj, ty->basicsize, &e);
		break;
	case HC_PYKIND_WEAKREF:
		emit(&e, u64_or(t, obj + 16, 0), HC_PYREF_FIELD, 0, 16, "<referent>", true);
		emit(&e, u64_or(t, obj + 24, 0), HC_PYREF_FIELD, 0, 24, "__callback__", false);
		break;
	case HC_PYKIND_MODULE:
		module_refs(t, obj, &e);
		break;
	case HC_PYKIND_TYPE:
		type_refs(t, L, obj, (u64_or(t, obj + TP_FLAGS, 0) & F_HEAPTYPE) != 0, &e);
		break;
	case HC_PYKIND_STR:
	case HC_PYKIND_INT:
	case HC_PYKIND_BYTES:
	case HC_PYKIND_LEAF:
	case HC_PYKIND_BYTEARRAY:
		break;
	case HC_PYKIND_CODE:
		/*
		 * Its object fields come first (co_consts .. co_linetable), then
		 * co_weakreflist, then C state (executors, caches, monitoring,
		 * co_extra) and 3.11+'s bytecode with the inline caches a
		 * specializing interpreter fills: words there are no references
		 */
		scan_words(t, obj, 16,
			   ty->weaklistoffset > 16 && (uint64_t)ty->weaklistoffset < ty->basicsize
				   ? (uint64_t)ty->weaklistoffset
				   : ty->basicsize,
			   -1, -1, NULL, &e);
		return !e.stopped;
	default: {
		/* the body, with a variable-size object's pointer-sized items */
		int64_t n;
		if (ty->itemsize == 8 && hc_target_read_u64(t, obj + 16, &size) && (n = (int64_t)size) > 0 &&
		    (uint64_t)n < MAX_BODY / 8)
			end = ty->basicsize + (uint64_t)n * 8;
		const char *const *names = NULL;
		if (ty->kind == HC_PYKIND_FUNCTION)
			names = L->function_fields;
		else if (ty->kind == HC_PYKIND_METHOD) {
			static const char *const m[] = { "__func__", "__self__", "" };
			names = m;
		} else if (ty->kind == HC_PYKIND_CELL) {
			static const char *const c[] = { "cell_contents", "" };
			names = c;
		}
		int64_t dict_slot;
		if (ty->heap || ty->dictoffset)
			instance_dict(t, L, ty, obj, &dict_slot, &e);
		else
			dict_slot = -1;
		scan_words(t, obj, 16, end, ty->weaklistoffset > 0 ? ty->weaklistoffset : -1, dict_slot, names, &e);
		return !e.stopped;
	}
	}
	/* a subclass's own words after its precise base: __slots__, C fields, and its instance dict */
	int64_t dict_slot = -1;
	if (ty->heap || ty->dictoffset)
		instance_dict(t, L, ty, obj, &dict_slot, &e);
	bool var = ty->kind == HC_PYKIND_TUPLE || ty->kind == HC_PYKIND_STR || ty->kind == HC_PYKIND_INT ||
		   ty->kind == HC_PYKIND_BYTES;
	if (!var && ty->basicsize > ty->base_size)
		scan_words(t, obj, ty->base_size, ty->basicsize, ty->weaklistoffset > 0 ? ty->weaklistoffset : -1,
			   dict_slot, NULL, &e);
	return !e.stopped;
}

/* ---- sizes ---- */

bool hc_pyobj_len(const struct hc_target *t, const struct hc_pyobj_layout *L, const struct hc_pytype *ty,
		  uint64_t obj, uint64_t *len)
{
	(void)L;
	switch (ty->kind) {
	case HC_PYKIND_TUPLE:
	case HC_PYKIND_LIST:
		return hc_target_read_u64(t, obj + 16, len) && *len < MAX_ITEMS;
	case HC_PYKIND_DICT:
	case HC_PYKIND_DEQUE:
		return hc_target_read_u64(t, obj + 16, len) && *len < MAX_ITEMS;
	case HC_PYKIND_SET:
		return hc_target_read_u64(t, obj + 24, len) && *len < MAX_ITEMS;
	default:
		return false;
	}
}

static uint64_t dict_keys_bytes(const struct hc_target *t, const struct hc_pyobj_layout *L, uint64_t dict)
{
	uint64_t keys = u64_or(t, dict + 32, 0), refcnt;
	if (!keys || !hc_target_read_u64(t, keys, &refcnt) || refcnt != 1)
		return 0;
	if (L->minor == 9) {
		uint64_t size = u64_or(t, keys + 8, 0);
		if (size > MAX_ITEMS)
			return 0;
		uint64_t width = size <= 0xff ? 1 : size <= 0xffff ? 2 : size <= 0xffffffffull ? 4 : 8;
		return 40 + width * size + 24 * (2 * size / 3);
	}
	uint8_t hdr[3];
	if (hc_target_read(t, keys + 8, hdr, 3) != HC_READ_OK || hdr[0] > 40 || hdr[1] > 43)
		return 0;
	uint64_t size = 1ull << hdr[0];
	return 32 + (1ull << hdr[1]) + (2 * size / 3) * (hdr[2] == 0 ? 24 : 16);
}

uint64_t hc_pyobj_size(const struct hc_target *t, const struct hc_pyobj_layout *L, const struct hc_pytype *ty,
		       uint64_t obj)
{
	uint64_t pre = (ty->gc ? HC_CPYTHON_GC_HEAD : 0) + ty->preheader, size = 0, body = ty->basicsize;
	if (ty->kind == HC_PYKIND_STR) {
		uint32_t state;
		if (hc_target_read_u64(t, obj + HC_CPYTHON_STR_LENGTH, &size) && size < MAX_BODY &&
		    hc_target_read_u32(t, obj + HC_CPYTHON_STR_STATE, &state) && ((state >> 5) & 1)) {
			unsigned kind = (state >> 2) & 7;
			body = (state >> 6) & 1 ? L->str_ascii_size + size + 1
						: L->str_compact_size + (size + 1) * (kind ? kind : 1);
		}
		return pre + body;
	}
	if (ty->kind == HC_PYKIND_INT) {
		uint64_t v = u64_or(t, obj + 16, 0);
		uint64_t digits = L->long_tag ? v >> 3 : (int64_t)v < 0 ? (uint64_t)-(int64_t)v : v;
		if (L->long_tag && !digits)
			digits = 1;
		return pre + body + (digits < MAX_ITEMS ? digits * 4 : 0);
	}
	if (ty->itemsize && hc_target_read_u64(t, obj + 16, &size)) {
		int64_t n = (int64_t)size < 0 ? -(int64_t)size : (int64_t)size;
		if ((uint64_t)n < MAX_BODY / ty->itemsize)
			body += (uint64_t)n * ty->itemsize;
	}
	if (ty->kind == HC_PYKIND_LIST) {
		uint64_t allocated = u64_or(t, obj + 32, 0);
		body += allocated < MAX_ITEMS ? allocated * 8 : 0;
	} else if (ty->kind == HC_PYKIND_SET) {
		uint64_t mask = u64_or(t, obj + 32, 0), table = u64_or(t, obj + 40, 0);
		if (table != obj + 64 && mask < MAX_ITEMS)
			body += (mask + 1) * 16;
	} else if (ty->kind == HC_PYKIND_DICT) {
		body += dict_keys_bytes(t, L, obj);
	} else if (ty->kind == HC_PYKIND_BYTEARRAY) {
		uint64_t alloc = u64_or(t, obj + 24, 0); /* ob_alloc: its buffer, as sys.getsizeof counts it */
		body += alloc < MAX_BODY ? alloc : 0;
	}
	return pre + body;
}
