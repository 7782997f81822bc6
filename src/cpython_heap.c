/*
 * A Python process's object graph from a core (see heapcore/cpython_heap.h).
 *
 * Discovery starts from the gc lists and the roots and follows references
 * (cpython_refs.c) in index order, so each object's out-references form one
 * CSR row as it is processed. A word is taken for an object only if it is
 * 8-aligned, its refcount is positive (freed and free-listed objects have
 * none) and its ob_type is a type: a type object whose own type is `type`
 * or, through metatypes, reaches it. Types are checked once and cached.
 *
 * Then one breadth-first search per root class (sys.modules, then frames,
 * then what C holds), so that a chain names the most Pythonic way in; the
 * objects it leaves are split by their refcounts: one whose refcount is
 * higher than the references found is held from outside Python, with all
 * it reaches; the rest is garbage, what gc.collect() frees.
 */
#include "heapcore/cpython_heap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpython_layout.h"
#include "cpython_refs.h"
#include "roots.h"

#define NOT_TYPE UINT32_MAX
#define NONE UINT32_MAX
#define F_TYPE (1ull << 31)
#define F_READY (1ull << 12)
/* A larger refcount is a pointer or damage, not a count (3.12+'s immortal ones aside) */
#define MAX_REFCNT (1ull << 40)
/* No thread has a deeper Python stack, nor a frame more slots */
#define MAX_FRAMES 100000
#define MAX_SLOTS 100000

struct type_slot {
	uint64_t addr;
	uint32_t v; /* 0 empty, type index + 1, or NOT_TYPE */
};

struct hc_pyheap_private {
	struct hc_target *t;
	const struct hc_symbols *s;
	const struct hc_cpython_runtime *r;
	const struct hc_pyobj_layout *L;
	uint64_t type_type;
	/* addr -> index + 1 in the low half, the address's bits 3-34 in the high half: most misses need no addr[] */
	uint64_t *slots;
	uint32_t nslots;
	struct type_slot *tslots;
	uint32_t ntslots, ntcached;
	struct hc_pytype *tinfo; /* parallel to types */
	uint32_t cap, tcap, rcap;
	uint64_t ecap;
	bool nomem, too_many;
};

static uint32_t hash64(uint64_t a)
{
	return (uint32_t)((a * 0x9e3779b97f4a7c15ull) >> 32);
}

static uint64_t slot_value(uint64_t addr, uint32_t i)
{
	return (uint64_t)(uint32_t)(addr >> 3) << 32 | (i + 1);
}

/* ---- growing arrays ---- */

static bool grow_objects(struct hc_pyheap *h)
{
	struct hc_pyheap_private *p = h->priv;
	uint32_t cap = p->cap ? p->cap * 2 : 4096;
#define GROW(field)                                                                                                \
	do {                                                                                                       \
		void *x = realloc(h->field, (size_t)cap * sizeof(*h->field));                                      \
		if (!x)                                                                                            \
			return false;                                                                              \
		h->field = x;                                                                                      \
	} while (0)
	GROW(addr);
	GROW(type);
	GROW(refcnt);
	GROW(flags);
#undef GROW
	p->cap = cap;
	/* the index: at most half full */
	uint64_t *slots = calloc((size_t)cap * 2, sizeof(*slots));
	if (!slots)
		return false;
	free(p->slots);
	p->slots = slots;
	p->nslots = cap * 2;
	for (uint32_t i = 0; i < h->n; i++) {
		uint32_t k = hash64(h->addr[i]) & (p->nslots - 1);
		while (p->slots[k])
			k = (k + 1) & (p->nslots - 1);
		p->slots[k] = slot_value(h->addr[i], i);
	}
	return true;
}

uint32_t hc_pyheap_find(const struct hc_pyheap *h, uint64_t addr)
{
	const struct hc_pyheap_private *p = h->priv;
	if (!p || !p->nslots)
		return NONE;
	uint32_t tag = (uint32_t)(addr >> 3);
	for (uint32_t k = hash64(addr) & (p->nslots - 1); p->slots[k]; k = (k + 1) & (p->nslots - 1)) {
		uint64_t v = p->slots[k];
		if ((uint32_t)(v >> 32) == tag && h->addr[(uint32_t)v - 1] == addr)
			return (uint32_t)v - 1;
	}
	return NONE;
}

/* ---- types ---- */

static struct type_slot *type_slot(const struct hc_pyheap_private *p, uint64_t addr)
{
	uint32_t k = hash64(addr) & (p->ntslots - 1);
	while (p->tslots[k].v && p->tslots[k].addr != addr)
		k = (k + 1) & (p->ntslots - 1);
	return &p->tslots[k];
}

static bool grow_tslots(struct hc_pyheap_private *p)
{
	uint32_t n = p->ntslots ? p->ntslots * 2 : 1024;
	struct type_slot *old = p->tslots, *ts = calloc(n, sizeof(*ts));
	if (!ts)
		return false;
	uint32_t nold = p->ntslots;
	p->tslots = ts;
	p->ntslots = n;
	for (uint32_t i = 0; i < nold; i++)
		if (old[i].v)
			*type_slot(p, old[i].addr) = old[i];
	free(old);
	return true;
}

/* The index of the type at addr, checked and cached; NOT_TYPE if it is none. */
static uint32_t type_index(struct hc_pyheap *h, uint64_t addr, int depth)
{
	struct hc_pyheap_private *p = h->priv;
	if ((p->ntcached + 1) * 2 > p->ntslots && !grow_tslots(p)) {
		p->nomem = true;
		return NOT_TYPE;
	}
	struct type_slot *ts = type_slot(p, addr);
	if (ts->v)
		return ts->v == NOT_TYPE ? NOT_TYPE : ts->v - 1;
	uint64_t meta;
	bool ok = !(addr & 7) && addr && depth < 8 && hc_target_read_u64(p->t, addr + HC_CPYTHON_OB_TYPE, &meta);
	if (ok && meta != p->type_type) {
		uint32_t mi = meta == addr ? NOT_TYPE : type_index(h, meta, depth + 1);
		ok = mi != NOT_TYPE && (p->tinfo[mi].flags & F_TYPE);
		ts = type_slot(p, addr); /* the table may have grown */
	}
	struct hc_pytype ty;
	ok = ok && hc_pytype_read(p->t, p->s, p->L, addr, &ty) && (ty.flags & F_READY);
	if (ok && h->ntypes == p->tcap) {
		uint32_t cap = p->tcap ? p->tcap * 2 : 256;
		struct hc_pyheap_type *a = realloc(h->types, cap * sizeof(*a));
		struct hc_pytype *b = a ? realloc(p->tinfo, cap * sizeof(*b)) : NULL;
		if (a)
			h->types = a;
		if (!b) {
			p->nomem = true;
			return NOT_TYPE;
		}
		p->tinfo = b;
		p->tcap = cap;
	}
	p->ntcached++;
	if (!ok) {
		*ts = (struct type_slot){ addr, NOT_TYPE };
		return NOT_TYPE;
	}
	uint32_t i = h->ntypes++;
	p->tinfo[i] = ty;
	h->types[i] = (struct hc_pyheap_type){ .addr = addr,
					       .container = ty.kind == HC_PYKIND_LIST || ty.kind == HC_PYKIND_TUPLE ||
							    ty.kind == HC_PYKIND_DICT || ty.kind == HC_PYKIND_SET };
	*ts = (struct type_slot){ addr, i + 1 };
	return i;
}

/* ---- objects ---- */

/* The object at addr, added if it is one and new; NONE if it is not one. */
static uint32_t object_at(struct hc_pyheap *h, uint64_t addr, bool tracked)
{
	struct hc_pyheap_private *p = h->priv;
	if ((addr & 7) || addr < 4096)
		return NONE;
	uint32_t i = hc_pyheap_find(h, addr);
	if (i != NONE) {
		if (tracked)
			h->flags[i] |= HC_PYOBJ_TRACKED;
		return i;
	}
	uint64_t refcnt, type;
	bool immortal;
	if (!hc_pyobj_refcnt(p->t, p->L, addr, &refcnt, &immortal) || (!immortal && (!refcnt || refcnt > MAX_REFCNT)) ||
	    !hc_target_read_u64(p->t, addr + HC_CPYTHON_OB_TYPE, &type))
		return NONE;
	uint32_t ti = type_index(h, type, 0);
	if (ti == NOT_TYPE)
		return NONE;
	if (h->n == HC_PYEDGE_TARGET) {
		if (!p->too_many)
			hc_warnings_add(&p->t->warnings, HC_WARN_PARTIAL, "python: over 2^30 objects; the rest not read");
		p->too_many = true;
		return NONE;
	}
	if (h->n == p->cap && !grow_objects(h)) {
		p->nomem = true;
		return NONE;
	}
	i = h->n++;
	h->addr[i] = addr;
	h->type[i] = ti;
	h->refcnt[i] = refcnt;
	h->flags[i] = (uint8_t)((tracked ? HC_PYOBJ_TRACKED : 0) | (immortal ? HC_PYOBJ_IMMORTAL : 0));
	uint32_t k = hash64(addr) & (p->nslots - 1);
	while (p->slots[k])
		k = (k + 1) & (p->nslots - 1);
	p->slots[k] = slot_value(addr, i);
	return i;
}

/* ---- roots ---- */

static void add_root(struct hc_pyheap *h, uint8_t kind, uint64_t value, uint64_t where, int32_t thread,
		     uint64_t frame, int32_t slot)
{
	struct hc_pyheap_private *p = h->priv;
	uint32_t i = object_at(h, value, false);
	if (i == NONE)
		return;
	if (h->nroots == p->rcap) {
		uint32_t cap = p->rcap ? p->rcap * 2 : 1024;
		struct hc_pyroot *a = realloc(h->roots, cap * sizeof(*a));
		if (!a) {
			p->nomem = true;
			return;
		}
		h->roots = a;
		p->rcap = cap;
	}
	h->roots[h->nroots++] = (struct hc_pyroot){ kind,  i,	 where, thread,
						    frame, slot, kind <= HC_PYROOT_FRAME || slot == HC_PYROOT_SLOT_ITSELF };
}

/* Each aligned word of [start, end) that is an object, as a root of kind. */
static void scan_roots(struct hc_pyheap *h, uint8_t kind, uint64_t start, uint64_t end, int32_t thread)
{
	struct hc_pyheap_private *p = h->priv;
	uint64_t buf[512];
	start = (start + 7) & ~7ull;
	while (start + 8 <= end && !p->nomem) {
		uint64_t n = (end - start) / 8 < 512 ? (end - start) / 8 : 512;
		struct hc_span sp;
		hc_target_span(p->t, start, n * 8, &sp);
		if (sp.len < 8) {
			/* not in the core: on to where it has bytes again */
			uint64_t next = hc_target_next_dumped(p->t, start + 1);
			if (next >= end)
				break;
			start = (next + 7) & ~7ull;
			continue;
		}
		n = sp.len / 8 < n ? sp.len / 8 : n;
		if (hc_target_read(p->t, start, buf, n * 8) != HC_READ_OK)
			break;
		for (uint64_t i = 0; i < n; i++)
			if (!(buf[i] & 7) && buf[i] >= 4096)
				add_root(h, kind, buf[i], start + i * 8, thread, 0, 0);
		start += n * 8;
	}
}

static void data_root(void *ctx, uint64_t start, uint64_t end, int32_t module)
{
	(void)module;
	scan_roots(ctx, HC_PYROOT_DATA, start, end, -1);
}

/* A malloc'd C struct (a thread or interpreter state): its words, as far as its chunk goes. */
static void chunk_roots(struct hc_pyheap *h, uint8_t kind, uint64_t addr, int32_t thread)
{
	struct hc_pyheap_private *p = h->priv;
	uint64_t head;
	/* a static one (3.12+'s main interpreter and thread) is in a module's data, scanned there */
	if (hc_symbols_module_at(p->s, addr) || !hc_target_read_u64(p->t, addr - 8, &head))
		return;
	uint64_t size = head & ~7ull;
	if (size < 32 || size > (1u << 20))
		return;
	scan_roots(h, kind, addr, addr + size - 8, thread);
}

static uint64_t stackref(const struct hc_pyobj_layout *L, uint64_t v)
{
	/* 3.14's stack references tag their low bits; 3 is an int, not a pointer */
	if (L->minor >= 14)
		return (v & 3) == 3 ? 0 : v & ~3ull;
	return v;
}

/*
 * A frame's word as a root: certain, or (borrowed: 3.11+'s globals and
 * builtins, which the function holds; 3.14's stack references tagged as
 * not owning a count; slots above an unknown stack top) a word taken only
 * where the target's refcount leaves room.
 */
static void frame_root(struct hc_pyheap *h, uint64_t raw, uint64_t where, uint32_t k, uint64_t frame, int32_t slot,
		       bool certain)
{
	const struct hc_pyobj_layout *L = h->priv->L;
	uint64_t w = stackref(L, raw);
	uint32_t before = h->nroots;
	if (!w)
		return;
	add_root(h, HC_PYROOT_FRAME, w, where, (int32_t)k, frame, slot);
	if (h->nroots > before && (!certain || (L->minor >= 14 && (raw & 3) == 1)))
		h->roots[h->nroots - 1].accepted = false;
}

/* Every word of thread k's Python frames that holds an object: code, function, globals, locals, slots. */
static void frame_roots(struct hc_pyheap *h, uint32_t k)
{
	struct hc_pyheap_private *p = h->priv;
	const struct hc_cpython_layout *RL = p->r->layout;
	const struct hc_pyobj_layout *L = p->L;
	uint64_t ts = p->r->threads[k].tstate, frame;
	if (!hc_target_read_u64(p->t, ts + RL->tstate_frame, &frame) ||
	    (RL->cframe_frame >= 0 && frame && !hc_target_read_u64(p->t, frame + (uint64_t)RL->cframe_frame, &frame)))
		return;
	if (L->minor == 9) {
		/* PyFrameObjects: the newest, whose body holds the rest through f_back */
		add_root(h, HC_PYROOT_FRAME, frame, ts + RL->tstate_frame, (int32_t)k, frame, -1);
		return;
	}
	for (uint32_t n = 0; frame && n < MAX_FRAMES && !p->nomem; n++) {
		uint64_t prev, w, code;
		uint8_t owner = 0;
		if (!hc_target_read_u64(p->t, frame + RL->frame_previous, &prev) ||
		    !hc_target_read_u64(p->t, frame + RL->frame_code, &code) ||
		    hc_target_read(p->t, frame + (uint64_t)RL->frame_owner, &owner, 1) != HC_READ_OK)
			return;
		if (owner < RL->owner_skip_min) {
			const uint32_t fields[] = { RL->frame_code, L->frame_func, L->frame_globals, L->frame_globals + 8,
						    L->frame_locals, L->frame_obj };
			for (int f = 0; f < 6; f++)
				if (hc_target_read_u64(p->t, frame + fields[f], &w))
					frame_root(h, w, frame + fields[f], k, frame, -1 - f, f != 2 && f != 3);
			uint64_t nslots = 0;
			if (L->stack_is_pointer) {
				uint64_t sp;
				if (hc_target_read_u64(p->t, frame + L->frame_stack, &sp) && sp >= frame + L->frame_localsplus)
					nslots = (sp - (frame + L->frame_localsplus)) / 8;
			} else {
				uint32_t top;
				if (hc_target_read_u32(p->t, frame + L->frame_stack, &top))
					nslots = (int32_t)top > 0 ? top : 0;
			}
			/*
			 * The running frame has not saved its stack top (3.11-3.13: -1):
			 * its locals then, and its whole stack as words taken for
			 * references only where refcounts leave room, as slots above
			 * the live top are stale while the call in progress holds its
			 * arguments below it
			 */
			uint64_t names, nnames = 0, certain = nslots;
			uint32_t stacksize = 0;
			code = stackref(L, code);
			if (hc_target_read_u64(p->t, code + L->co_localsplusnames, &names) &&
			    hc_target_read_u64(p->t, names + 16, &nnames) &&
			    hc_target_read_u32(p->t, code + L->co_stacksize, &stacksize) && nnames < MAX_SLOTS &&
			    stacksize < MAX_SLOTS && (nslots < nnames || nslots > nnames + stacksize)) {
				certain = nnames;
				nslots = nnames + stacksize;
			}
			if (nslots > MAX_SLOTS)
				nslots = certain = 0;
			for (uint64_t i = 0; i < nslots; i++)
				if (hc_target_read_u64(p->t, frame + L->frame_localsplus + i * 8, &w))
					frame_root(h, w, frame + L->frame_localsplus + i * 8, k, frame, (int32_t)i,
						   i < certain);
		}
		frame = prev;
	}
}

/* ---- pymalloc ---- */

/*
 * pymalloc's pools (internals.md §2.10): POOL_SIZE-aligned in anonymous
 * mappings, each a 48-byte header and blocks of one size class. A header
 * is taken for one only if it holds together: a size class below 32, the
 * last carving offset the class implies, a next offset on a block
 * boundary within it, a free list inside the pool and as many blocks
 * carved and not free as its count says. Each allocated block then may
 * hold an object at its start, after a GC head, or after the pre-header
 * and the GC head, as its type says.
 */
#define POOL_OVERHEAD 48

static void walk_pool(struct hc_pyheap *h, uint64_t pool, uint64_t pool_size, uint8_t *isfree, uint64_t *cand)
{
	uint32_t ncand = 0;
	struct hc_pyheap_private *p = h->priv;
	uint32_t hdr[12];
	if (hc_target_read(p->t, pool, hdr, sizeof(hdr)) != HC_READ_OK)
		return;
	uint32_t count = hdr[0], szidx = hdr[9], next = hdr[10], maxnext = hdr[11];
	uint64_t freeblock = (uint64_t)hdr[2] | (uint64_t)hdr[3] << 32;
	uint64_t size = ((uint64_t)szidx + 1) * 16;
	if (szidx >= 32 || maxnext != pool_size - size || next < POOL_OVERHEAD || next > maxnext + size ||
	    (next - POOL_OVERHEAD) % size || !count || (freeblock && (freeblock < pool + POOL_OVERHEAD ||
								   freeblock >= pool + next ||
								   (freeblock - pool - POOL_OVERHEAD) % size)))
		return;
	uint64_t carved = (next - POOL_OVERHEAD) / size, nfree = 0;
	memset(isfree, 0, carved);
	for (uint64_t b = freeblock; b && nfree <= carved; nfree++) {
		if (b < pool + POOL_OVERHEAD || b >= pool + next || (b - pool - POOL_OVERHEAD) % size)
			return;
		isfree[(b - pool - POOL_OVERHEAD) / size] = 1;
		if (!hc_target_read_u64(p->t, b, &b))
			return;
	}
	if (nfree > carved || carved - nfree != count)
		return;
	h->pools++;
	for (uint64_t k = 0; k < carved && !p->nomem; k++) {
		if (isfree[k])
			continue;
		uint64_t block = pool + POOL_OVERHEAD + k * size, w[6];
		h->blocks++;
		if (hc_target_read(p->t, block, w, size < 48 ? size : 48) != HC_READ_OK)
			continue;
		/*
		 * Only at the offset its type puts it (at the start, after a GC
		 * head, or after the pre-header too), with a count a live object
		 * here could have: a block's other data (a GC head whose next is a
		 * list head in static memory, then a pointer) can look like an
		 * object. One with a million references is referenced, and found
		 * that way. The type is checked before the object table is asked,
		 * whose lookups are what the walk costs.
		 */
		for (uint64_t off = 0; off <= 32 && off + 16 <= size; off += 16) {
			uint64_t refcnt = w[off / 8], type = w[off / 8 + 1];
			bool immortal = p->L->refcnt32 && (int32_t)(uint32_t)refcnt < 0;
			if (p->L->refcnt32 && !immortal && (refcnt >> 32) & (p->L->minor >= 14 ? 0xffffull : 0xffffffffull))
				continue; /* as hc_pyobj_refcnt says */
			if (p->L->refcnt32)
				refcnt = (uint32_t)refcnt;
			if ((!immortal && (!refcnt || refcnt >= (1u << 20))) || (type & 7) || type < 4096)
				continue;
			uint32_t ti = type_index(h, type, 0);
			if (ti == NOT_TYPE)
				continue;
			const struct hc_pytype *ty = &p->tinfo[ti];
			if (off != (uint64_t)(ty->gc ? HC_CPYTHON_GC_HEAD : 0) + ty->preheader)
				continue;
			uint64_t gc_next = off ? w[off / 8 - 2] : 0;
			if (ty->gc && gc_next && gc_next < 4096)
				continue;
			/* looked up once the pool's candidates are all known and their slots prefetched */
			__builtin_prefetch(&p->slots[hash64(block + off) & (p->nslots - 1)]);
			cand[ncand++] = block + off;
			break;
		}
	}
	for (uint32_t c = 0; c < ncand && !p->nomem; c++) {
		uint32_t before = h->n;
		if (object_at(h, cand[c], false) != NONE)
			h->walked += h->n > before;
	}
}

static void walk_pools(struct hc_pyheap *h)
{
	struct hc_pyheap_private *p = h->priv;
	uint64_t pool_size = p->L->minor == 9 ? 4096 : 16384;
	uint8_t *isfree = malloc(pool_size / 16);
	uint64_t *cand = malloc(pool_size / 16 * sizeof(*cand));
	if (!isfree || !cand) {
		free(isfree);
		free(cand);
		p->nomem = true;
		return;
	}
	for (uint32_t g = 0; g < p->t->nsegments && !p->nomem; g++) {
		const struct hc_segment *seg = &p->t->segments[g];
		if (seg->file >= 0 || !(seg->perms & HC_PERM_W) || !seg->dumped)
			continue;
		uint64_t end = seg->start + seg->dumped;
		for (uint64_t pool = (seg->start + pool_size - 1) & ~(pool_size - 1); pool + pool_size <= end;
		     pool += pool_size)
			walk_pool(h, pool, pool_size, isfree, cand);
	}
	free(isfree);
	free(cand);
}

/* ---- building ---- */

struct edge_sink {
	struct hc_pyheap *h;
};

static bool add_edge(struct hc_pyheap *h, uint64_t target, uint32_t flags)
{
	struct hc_pyheap_private *p = h->priv;
	uint32_t j = object_at(h, target, false);
	if (j == NONE)
		return !p->nomem;
	if (h->nedges == p->ecap) {
		uint64_t cap = p->ecap ? p->ecap * 2 : 65536;
		uint32_t *a = cap < UINT32_MAX ? realloc(h->out, cap * sizeof(*a)) : NULL;
		if (!a) {
			p->nomem = true;
			return false;
		}
		h->out = a;
		p->ecap = cap;
	}
	h->out[h->nedges++] = j | flags;
	return true;
}

/*
 * The references of a batch of objects, gathered before any is looked up:
 * each target's slot in the object table is prefetched as it is gathered,
 * as those lookups, random over the whole table, are what the build costs.
 */
#define BATCH_OBJECTS 64

struct ref_batch {
	const struct hc_pyheap_private *p;
	uint64_t *target;
	uint32_t *flags;
	uint32_t n, cap;
	uint32_t row_end[BATCH_OBJECTS];
	bool nomem;
};

static bool gather_ref(void *ctx, const struct hc_pyref *ref)
{
	struct ref_batch *b = ctx;
	if (b->n == b->cap) {
		uint32_t cap = b->cap ? b->cap * 2 : 4096;
		uint64_t *t = realloc(b->target, cap * sizeof(*t));
		if (t)
			b->target = t;
		uint32_t *f = t ? realloc(b->flags, cap * sizeof(*f)) : NULL;
		if (!f) {
			b->nomem = true;
			return false;
		}
		b->flags = f;
		b->cap = cap;
	}
	__builtin_prefetch(&b->p->slots[hash64(ref->target) & (b->p->nslots - 1)]);
	b->target[b->n] = ref->target;
	b->flags[b->n++] = (ref->weak ? HC_PYEDGE_WEAK : 0) | (ref->untraversed ? HC_PYEDGE_UNTRAVERSED : 0);
	return true;
}

static bool seed_tracked(void *ctx, uint64_t obj, uint64_t type)
{
	struct hc_pyheap *h = ctx;
	struct hc_pyheap_private *p = h->priv;
	if (!p->type_type) {
		/* type(type) is type: climb from the first object's type */
		uint64_t ty = type, meta;
		for (int i = 0; i < 8 && hc_target_read_u64(p->t, ty + HC_CPYTHON_OB_TYPE, &meta); i++, ty = meta)
			if (meta == ty) {
				p->type_type = ty;
				break;
			}
		if (!p->type_type)
			return true;
	}
	/* gc lists hold objects only: one whose header does not read as one is damage */
	if (object_at(h, obj, true) == NONE && !p->nomem && !p->too_many) {
		uint64_t refcnt = 0;
		bool immortal = false;
		hc_pyobj_refcnt(p->t, p->L, obj, &refcnt, &immortal);
		if (type_index(h, type, 0) == NOT_TYPE)
			hc_warnings_add(&p->t->warnings, HC_WARN_PARTIAL,
					"python: object 0x%llx on a gc list has ob_type 0x%llx, which is no type: left out",
					(unsigned long long)obj, (unsigned long long)type);
		else
			hc_warnings_add(&p->t->warnings, HC_WARN_PARTIAL,
					"python: object 0x%llx on a gc list has refcount %llu: left out",
					(unsigned long long)obj, (unsigned long long)refcnt);
	}
	return !p->nomem;
}

/*
 * What gc.collect() would free, found its way: a tracked object's gc_refs
 * is its refcount less the references from other tracked objects; those
 * with some left are referenced from outside the tracked set, and all they
 * reach through tracked objects stays. The rest is garbage. Unlike a search
 * from the roots, a stale pointer in C data (a cache's borrowed reference)
 * cannot keep garbage alive here, as it holds no count.
 */
static bool mark_garbage(struct hc_pyheap *h, uint32_t *queue)
{
	int64_t *gc_refs = malloc((h->n ? h->n : 1) * sizeof(*gc_refs));
	uint8_t *stays = calloc(h->n ? h->n : 1, 1);
	if (!gc_refs || !stays) {
		free(gc_refs);
		free(stays);
		return false;
	}
	for (uint32_t i = 0; i < h->n; i++)
		gc_refs[i] = (int64_t)h->refcnt[i];
	for (uint32_t i = 0; i < h->n; i++)
		if (h->flags[i] & HC_PYOBJ_TRACKED)
			for (uint32_t e = h->out_start[i]; e < h->out_start[i + 1]; e++)
				if (!(h->out[e] & (HC_PYEDGE_WEAK | HC_PYEDGE_UNTRAVERSED)))
					gc_refs[h->out[e] & HC_PYEDGE_TARGET]--;
	uint32_t head = 0, tail = 0;
	for (uint32_t i = 0; i < h->n; i++)
		if ((h->flags[i] & HC_PYOBJ_TRACKED) && (gc_refs[i] > 0 || (h->flags[i] & HC_PYOBJ_IMMORTAL))) {
			stays[i] = 1;
			queue[tail++] = i;
		}
	while (head < tail) {
		uint32_t o = queue[head++];
		for (uint32_t e = h->out_start[o]; e < h->out_start[o + 1]; e++) {
			uint32_t d = h->out[e] & HC_PYEDGE_TARGET;
			if ((h->out[e] & (HC_PYEDGE_WEAK | HC_PYEDGE_UNTRAVERSED)) || stays[d] ||
			    !(h->flags[d] & HC_PYOBJ_TRACKED))
				continue;
			stays[d] = 1;
			queue[tail++] = d;
		}
	}
	for (uint32_t i = 0; i < h->n; i++)
		if ((h->flags[i] & HC_PYOBJ_TRACKED) && !stays[i])
			h->flags[i] |= HC_PYOBJ_GARBAGE | HC_PYOBJ_GC_UNREACHABLE;
	free(gc_refs);
	free(stays);
	return true;
}

/* Breadth-first from the roots of the kinds in [kmin, kmax], over strong references, recording parents. */
static void reach(struct hc_pyheap *h, uint32_t *queue, uint8_t kmin, uint8_t kmax)
{
	uint32_t head = 0, tail = 0;
	const uint8_t stop = HC_PYOBJ_REACHABLE | HC_PYOBJ_GARBAGE;
	for (uint32_t r = 0; r < h->nroots; r++) {
		uint32_t o = h->roots[r].target;
		if (h->roots[r].kind < kmin || h->roots[r].kind > kmax || !h->roots[r].accepted || (h->flags[o] & stop))
			continue;
		h->flags[o] |= HC_PYOBJ_REACHABLE;
		h->parent[o] = HC_PYPARENT_ROOT | r;
		queue[tail++] = o;
	}
	while (head < tail) {
		uint32_t o = queue[head++];
		for (uint32_t e = h->out_start[o]; e < h->out_start[o + 1]; e++) {
			uint32_t d = h->out[e] & HC_PYEDGE_TARGET;
			if ((h->out[e] & HC_PYEDGE_WEAK) || (h->flags[d] & stop))
				continue;
			h->flags[d] |= HC_PYOBJ_REACHABLE;
			h->parent[d] = o;
			queue[tail++] = d;
		}
	}
}

/*
 * The rest: one whose refcount is higher than the references found is kept
 * from outside Python, with all it reaches; what is left (untracked objects
 * only garbage refers to) goes with the garbage.
 */
static void classify_unreachable(struct hc_pyheap *h, uint32_t *queue)
{
	uint32_t head = 0, tail = 0;
	const uint8_t done = HC_PYOBJ_REACHABLE | HC_PYOBJ_GARBAGE | HC_PYOBJ_IMMORTAL;
	for (uint32_t o = 0; o < h->n; o++) {
		if ((h->flags[o] & done) || h->refcnt[o] <= h->found_refs[o])
			continue;
		h->flags[o] |= HC_PYOBJ_KEPT | HC_PYOBJ_GAP;
		queue[tail++] = o;
	}
	while (head < tail) {
		uint32_t o = queue[head++];
		for (uint32_t e = h->out_start[o]; e < h->out_start[o + 1]; e++) {
			uint32_t d = h->out[e] & HC_PYEDGE_TARGET;
			if ((h->out[e] & HC_PYEDGE_WEAK) || (h->flags[d] & (done | HC_PYOBJ_KEPT)))
				continue;
			h->flags[d] |= HC_PYOBJ_KEPT;
			h->parent[d] = o;
			queue[tail++] = d;
		}
	}
	for (uint32_t o = 0; o < h->n; o++)
		if (!(h->flags[o] & (done | HC_PYOBJ_KEPT)))
			h->flags[o] |= HC_PYOBJ_GARBAGE;
}

/* module.QualName for a class (its __module__ and __qualname__), tp_name for the rest. */
static char *type_name(struct hc_pyheap *h, uint32_t ti);

/*
 * Objects over pymalloc's 512 bytes come from malloc: each used chunk that
 * big may hold one at its start, after a GC head, or after the pre-header
 * and the GC head, taken by the same checks as a pool's block.
 */
static void walk_big_chunks(struct hc_pyheap *h, const struct hc_glibc_heap *g)
{
	struct hc_pyheap_private *p = h->priv;
	for (uint32_t c = 0; c < g->nchunks && !p->nomem; c++) {
		uint8_t st = g->chunk_state[c];
		uint64_t size = hc_glibc_chunk_size(g, c);
		if ((st != HC_CHUNK_USED && st != HC_CHUNK_MMAPPED) || size < 512 + 16)
			continue;
		uint64_t user = g->chunk_addr[c] + 16, w[6];
		h->big_chunks++;
		if (hc_target_read(p->t, user, w, sizeof(w)) != HC_READ_OK)
			continue;
		for (uint64_t off = 0; off <= 32; off += 16) {
			uint64_t refcnt, type = w[off / 8 + 1];
			bool immortal;
			if (!hc_pyobj_refcnt(p->t, p->L, user + off, &refcnt, &immortal) ||
			    (!immortal && (!refcnt || refcnt >= (1u << 20))) || (type & 7) || type < 4096)
				continue;
			uint32_t ti = type_index(h, type, 0);
			if (ti == NOT_TYPE)
				continue;
			const struct hc_pytype *ty = &p->tinfo[ti];
			uint64_t gc_next = off ? w[off / 8 - 2] : 0;
			if (off != (uint64_t)(ty->gc ? HC_CPYTHON_GC_HEAD : 0) + ty->preheader ||
			    (ty->gc && gc_next && gc_next < 4096))
				continue;
			uint32_t before = h->n;
			if (object_at(h, user + off, false) != NONE)
				h->walked += h->n > before;
			break;
		}
	}
}

struct hc_error *hc_pyheap_build(struct hc_target *t, const struct hc_symbols *s,
				 const struct hc_cpython_runtime *r, const struct hc_glibc_heap *glibc,
				 struct hc_pyheap **out)
{
	*out = NULL;
	struct hc_pyheap *h = calloc(1, sizeof(*h));
	struct hc_pyheap_private *p = h ? calloc(1, sizeof(*p)) : NULL;
	if (!p) {
		free(h);
		return &hc_error_nomem;
	}
	h->priv = p;
	p->t = t;
	p->s = s;
	p->r = r;
	p->L = r->found && r->layout_known ? hc_pyobj_layout_for(r->minor) : NULL;
	if (!p->L || !grow_objects(h)) {
		*out = h;
		return p->L ? (hc_pyheap_destroy(h), &hc_error_nomem) : NULL;
	}
	hc_cpython_gc_each(t, r, seed_tracked, h);
	if (!p->type_type) {
		*out = h;
		return NULL;
	}
	/* the roots, the order chains prefer */
	uint64_t interps[64];
	uint32_t ninterps = 0;
	for (uint32_t k = 0; k < r->nthreads; k++) {
		bool seen = false;
		for (uint32_t j = 0; j < ninterps; j++)
			seen |= interps[j] == r->threads[k].interp;
		if (!seen && ninterps < 64)
			interps[ninterps++] = r->threads[k].interp;
	}
	for (uint32_t j = 0; j < ninterps; j++) {
		uint64_t mods;
		if (hc_target_read_u64(t, interps[j] + p->L->interp_modules, &mods))
			add_root(h, HC_PYROOT_SYS_MODULES, mods, interps[j] + p->L->interp_modules, -1, 0, 0);
	}
	for (uint32_t k = 0; k < r->nthreads; k++)
		frame_roots(h, k);
	for (uint32_t k = 0; k < r->nthreads; k++)
		chunk_roots(h, HC_PYROOT_THREAD_STATE, r->threads[k].tstate, (int32_t)k);
	for (uint32_t j = 0; j < ninterps; j++)
		chunk_roots(h, HC_PYROOT_INTERPRETER, interps[j], -1);
	hc_module_data_ranges(t, s, data_root, h);
	walk_pools(h);
	if (glibc)
		walk_big_chunks(h, glibc);
	if (ninterps) {
		uint32_t enabled;
		h->gc_enabled_known = hc_target_read_u32(t, interps[0] + r->layout->interp_gc + 12, &enabled);
		h->gc_enabled = enabled != 0;
		/* the youngest generation's threshold (gc.get_threshold()[0]): 0 collects nothing */
		int32_t th;
		if (hc_target_read_u32(t, interps[0] + r->layout->interp_gc + r->layout->gc_generations + 16,
				       (uint32_t *)&th))
			h->gc_threshold0 = th;
		else
			h->gc_threshold0 = -1;
	}

	/* every object's references, in index order: each a CSR row */
	uint32_t scap = 0, done = 0;
	struct ref_batch batch = { .p = p };
	while (done < h->n && !p->nomem) {
		uint32_t from = done, to = h->n - done < BATCH_OBJECTS ? h->n : done + BATCH_OBJECTS;
		batch.n = 0;
		for (uint32_t i = from; i < to && !batch.nomem; i++) {
			char damage[160];
			hc_pyrefs_each_checked(t, p->L, &p->tinfo[h->type[i]], h->addr[i], gather_ref, &batch, damage,
					       sizeof(damage));
			if (damage[0])
				hc_warnings_add(&t->warnings, HC_WARN_PARTIAL,
						"python: object 0x%llx is damaged: %s; its references read as far as they are sound",
						(unsigned long long)h->addr[i], damage);
			batch.row_end[i - from] = batch.n;
		}
		if (batch.nomem) {
			p->nomem = true;
			break;
		}
		for (uint32_t i = from, r = 0; i < to && !p->nomem; i++) {
			if (i + 1 >= scap) {
				scap = p->cap + 1;
				uint32_t *a = realloc(h->out_start, (size_t)scap * sizeof(*a));
				if (!a) {
					p->nomem = true;
					break;
				}
				h->out_start = a;
			}
			h->out_start[i] = (uint32_t)h->nedges;
			for (; r < batch.row_end[i - from] && !p->nomem; r++)
				add_edge(h, batch.target[r], batch.flags[r]);
		}
		done = to;
		if (h->nedges >= UINT32_MAX / 2) {
			hc_warnings_add(&t->warnings, HC_WARN_PARTIAL, "python: over 2^31 references; the rest not read");
			break;
		}
	}
	free(batch.target);
	free(batch.flags);
	if (p->nomem) {
		hc_pyheap_destroy(h);
		return &hc_error_nomem;
	}
	uint32_t *a = realloc(h->out_start, ((size_t)h->n + 1) * sizeof(*a));
	if (!a && h->n) {
		hc_pyheap_destroy(h);
		return &hc_error_nomem;
	}
	h->out_start = a ? a : h->out_start;
	for (uint32_t i = done; i <= h->n; i++)
		h->out_start[i] = (uint32_t)h->nedges; /* the end, and the rows a cut-off left unread */

	h->found_refs = calloc(h->n ? h->n : 1, sizeof(*h->found_refs));
	h->parent = malloc((h->n ? h->n : 1) * sizeof(*h->parent));
	h->size = malloc((h->n ? h->n : 1) * sizeof(*h->size));
	uint32_t *queue = malloc((h->n ? h->n : 1) * sizeof(*queue));
	if (!h->found_refs || !h->parent || !h->size || !queue) {
		free(queue);
		hc_pyheap_destroy(h);
		return &hc_error_nomem;
	}
	for (uint64_t e = 0; e < h->nedges; e++)
		if (!(h->out[e] & HC_PYEDGE_WEAK))
			h->found_refs[h->out[e] & HC_PYEDGE_TARGET]++;
	/* an object in a module's data (a static type, a singleton) is a root itself */
	for (uint32_t i = 0; i < h->n && !p->nomem; i++)
		if (hc_symbols_module_at(s, h->addr[i]))
			add_root(h, HC_PYROOT_DATA, h->addr[i], h->addr[i], -1, 0, HC_PYROOT_SLOT_ITSELF);
	if (p->nomem) {
		free(queue);
		hc_pyheap_destroy(h);
		return &hc_error_nomem;
	}
	for (uint32_t k = 0; k < h->nroots; k++)
		h->found_refs[h->roots[k].target] += h->roots[k].accepted && h->roots[k].slot != HC_PYROOT_SLOT_ITSELF;
	/* C's words, where refcounts leave room (immortal and static objects always) */
	for (uint32_t k = 0; k < h->nroots; k++) {
		struct hc_pyroot *r = &h->roots[k];
		uint32_t o = r->target;
		if (r->accepted)
			continue;
		r->accepted = (h->flags[o] & HC_PYOBJ_IMMORTAL) || h->found_refs[o] < h->refcnt[o] ||
			      hc_symbols_module_at(s, h->addr[o]);
		h->found_refs[o] += r->accepted;
	}
	memset(h->parent, 0xff, h->n * sizeof(*h->parent));
	if (!mark_garbage(h, queue)) {
		free(queue);
		hc_pyheap_destroy(h);
		return &hc_error_nomem;
	}
	reach(h, queue, HC_PYROOT_SYS_MODULES, HC_PYROOT_SYS_MODULES);
	reach(h, queue, HC_PYROOT_FRAME, HC_PYROOT_FRAME);
	reach(h, queue, HC_PYROOT_THREAD_STATE, HC_PYROOT_DATA);
	classify_unreachable(h, queue);
	free(queue);

	for (uint32_t i = 0; i < h->n; i++) {
		struct hc_pyheap_type *ty = &h->types[h->type[i]];
		uint64_t size = h->size[i] = hc_pyobj_size(t, p->L, &p->tinfo[h->type[i]], h->addr[i]);
		uint8_t f = h->flags[i];
		ty->count++;
		ty->bytes += size;
		h->bytes += size;
		h->tracked += (f & HC_PYOBJ_TRACKED) != 0;
		ty->tracked += (f & HC_PYOBJ_TRACKED) != 0;
		h->reachable += (f & HC_PYOBJ_REACHABLE) != 0;
		if (f & HC_PYOBJ_KEPT) {
			h->kept++;
			h->kept_bytes += size;
		}
		if (f & HC_PYOBJ_GARBAGE) {
			ty->garbage_count++;
			ty->garbage_bytes += size;
			ty->garbage_tracked += (f & HC_PYOBJ_GC_UNREACHABLE) != 0;
			h->garbage++;
			h->garbage_bytes += size;
			h->garbage_tracked += (f & HC_PYOBJ_GC_UNREACHABLE) != 0;
		}
	}
	struct hc_error *err = hc_pyheap_dominators(h);
	if (err) {
		hc_pyheap_destroy(h);
		return err;
	}
	for (uint32_t i = 0; i < h->ntypes; i++)
		if (!(h->types[i].name = type_name(h, i))) {
			hc_pyheap_destroy(h);
			return &hc_error_nomem;
		}
	*out = h;
	return NULL;
}

void hc_pyheap_destroy(struct hc_pyheap *h)
{
	if (!h)
		return;
	struct hc_pyheap_private *p = h->priv;
	for (uint32_t i = 0; i < h->ntypes; i++)
		free(h->types[i].name);
	free(h->types);
	free(h->addr);
	free(h->type);
	free(h->refcnt);
	free(h->found_refs);
	free(h->size);
	free(h->flags);
	free(h->parent);
	free(h->idom);
	free(h->retained);
	free(h->out_start);
	free(h->out);
	free(h->roots);
	if (p) {
		free(p->slots);
		free(p->tslots);
		free(p->tinfo);
		free(p);
	}
	free(h);
}

bool hc_pyheap_len(const struct hc_pyheap *h, uint32_t i, uint64_t *len)
{
	const struct hc_pyheap_private *p = h->priv;
	return i < h->n && hc_pyobj_len(p->t, p->L, &p->tinfo[h->type[i]], h->addr[i], len);
}

/* ---- names ---- */

struct find_key {
	const struct hc_pyheap *h;
	const char *want;
	uint64_t value;
};

static bool find_str_key(void *ctx, const struct hc_pyref *ref)
{
	struct find_key *f = ctx;
	char buf[64];
	if (ref->label != HC_PYREF_DICT_VALUE ||
	    !hc_cpython_read_str(f->h->priv->t, f->h->priv->r, ref->key, buf, sizeof(buf)) || strcmp(buf, f->want))
		return true;
	f->value = ref->target;
	return false;
}

static char *type_name(struct hc_pyheap *h, uint32_t ti)
{
	struct hc_pyheap_private *p = h->priv;
	const struct hc_pytype *ty = &p->tinfo[ti];
	char name[340], mod[128] = "", qual[200];
	uint64_t at;
	if (!hc_target_read_u64(p->t, ty->addr + HC_CPYTHON_TP_NAME, &at) ||
	    !hc_cpython_read_cstr(p->t, p->s, at, name, sizeof(name)))
		strcpy(name, "?");
	if (ty->heap) {
		uint64_t q, dict;
		struct find_key f = { h, "__module__", 0 };
		if (hc_target_read_u64(p->t, ty->addr + p->L->ht_qualname, &q) &&
		    hc_cpython_read_str(p->t, p->r, q, qual, sizeof(qual)) && qual[0]) {
			if (hc_target_read_u64(p->t, ty->addr + 264, &dict) && dict) {
				hc_pydict_each(p->t, p->L, dict, find_str_key, &f);
				if (f.value)
					hc_cpython_read_str(p->t, p->r, f.value, mod, sizeof(mod));
			}
			if (mod[0] && strcmp(mod, "builtins"))
				snprintf(name, sizeof(name), "%s.%s", mod, qual);
			else
				snprintf(name, sizeof(name), "%s", qual);
		}
	}
	return strdup(name);
}

/* ---- for the detectors ---- */

static void step_text(const struct hc_pyheap *h, uint32_t from, uint32_t to, char *buf, size_t len);

bool hc_pyheap_str(const struct hc_pyheap *h, uint32_t i, char *buf, size_t len, bool *interned)
{
	const struct hc_pyheap_private *p = h->priv;
	uint32_t state;
	if (i >= h->n || p->tinfo[h->type[i]].kind != HC_PYKIND_STR ||
	    !hc_target_read_u32(p->t, h->addr[i] + HC_CPYTHON_STR_STATE, &state))
		return false;
	*interned = (state & 3) != 0;
	return hc_cpython_read_str(p->t, p->r, h->addr[i], buf, len);
}

static uint32_t dict_get_addr(const struct hc_pyheap *h, uint64_t dict, const char *key)
{
	struct find_key f = { h, key, 0 };
	hc_pydict_each(h->priv->t, h->priv->L, dict, find_str_key, &f);
	return f.value ? hc_pyheap_find(h, f.value) : UINT32_MAX;
}

uint32_t hc_pyheap_dict_get(const struct hc_pyheap *h, uint32_t i, const char *key)
{
	if (i >= h->n || h->priv->tinfo[h->type[i]].kind != HC_PYKIND_DICT)
		return UINT32_MAX;
	return dict_get_addr(h, h->addr[i], key);
}

bool hc_pyheap_type_defines(const struct hc_pyheap *h, uint32_t t, const char *name)
{
	uint64_t dict;
	if (t >= h->ntypes || !hc_target_read_u64(h->priv->t, h->types[t].addr + 264, &dict) || !dict)
		return false;
	struct find_key f = { h, name, 0 };
	hc_pydict_each(h->priv->t, h->priv->L, dict, find_str_key, &f);
	return f.value != 0;
}

void hc_pyheap_ref_label(const struct hc_pyheap *h, uint32_t from, uint32_t to, char *buf, size_t len)
{
	if (from >= h->n || to >= h->n) {
		snprintf(buf, len, "?");
		return;
	}
	step_text(h, from, to, buf, len);
}

bool hc_pyheap_type_source(const struct hc_pyheap *h, uint32_t t, char *file, size_t len, int32_t *line)
{
	const struct hc_pyheap_private *p = h->priv;
	uint64_t dict;
	const struct hc_cpython_layout *RL = p->r->layout;
	const struct hc_pyobj_layout *L = p->L;
	if (t >= h->ntypes || !h->types[t].addr || !hc_target_read_u64(p->t, h->types[t].addr + 264, &dict) || !dict)
		return false;
	uint32_t di = hc_pyheap_find(h, dict);
	if (di == UINT32_MAX)
		return false;
	/* its methods' code: the earliest first line, the file it is in */
	int32_t best = INT32_MAX;
	for (uint32_t e = h->out_start[di]; e < h->out_start[di + 1]; e++) {
		uint32_t f = h->out[e] & HC_PYEDGE_TARGET;
		if (strcmp(h->types[h->type[f]].name, "function"))
			continue;
		uint64_t code, fname;
		uint32_t first;
		uint64_t at = L->minor == 9 ? 16 : 48; /* func_code */
		if (!hc_target_read_u64(p->t, h->addr[f] + at, &code) ||
		    !hc_target_read_u32(p->t, code + L->co_firstlineno, &first) || (int32_t)first >= best ||
		    !hc_target_read_u64(p->t, code + RL->co_filename, &fname) ||
		    !hc_cpython_read_str(p->t, p->r, fname, file, len))
			continue;
		best = (int32_t)first;
	}
	if (best == INT32_MAX)
		return false;
	*line = best;
	return true;
}

/* ---- paths and previews ---- */

struct find_ref {
	uint64_t target;
	struct hc_pyref ref;
	bool found;
};

static bool match_ref(void *ctx, const struct hc_pyref *ref)
{
	struct find_ref *f = ctx;
	if (ref->target != f->target || ref->weak)
		return true;
	f->ref = *ref;
	f->found = true;
	return false;
}

/* How a key reads in a path: 'text', 17, or <type at 0x...>. */
static void key_text(const struct hc_pyheap *h, uint64_t key, char *buf, size_t len)
{
	const struct hc_pyheap_private *p = h->priv;
	char s[120];
	uint32_t k = hc_pyheap_find(h, key);
	if (hc_cpython_read_str(p->t, p->r, key, s, sizeof(s))) {
		snprintf(buf, len, "'%s'", s);
	} else if (k != NONE && p->tinfo[h->type[k]].kind == HC_PYKIND_INT) {
		hc_pyheap_preview(h, k, buf, len);
	} else {
		snprintf(buf, len, "<%s at 0x%llx>", k != NONE ? h->types[h->type[k]].name : "?",
			 (unsigned long long)key);
	}
}

static void step_text(const struct hc_pyheap *h, uint32_t from, uint32_t to, char *buf, size_t len)
{
	const struct hc_pyheap_private *p = h->priv;
	struct find_ref f = { .target = h->addr[to] };
	hc_pyrefs_each(p->t, p->L, &p->tinfo[h->type[from]], h->addr[from], match_ref, &f);
	char key[160];
	if (!f.found) {
		snprintf(buf, len, " -> ");
		return;
	}
	switch (f.ref.label) {
	case HC_PYREF_ITEM:
		snprintf(buf, len, "[%llu]", (unsigned long long)f.ref.key);
		break;
	case HC_PYREF_DICT_VALUE:
		key_text(h, f.ref.key, key, sizeof(key));
		snprintf(buf, len, "[%s]", key);
		break;
	case HC_PYREF_DICT_KEY:
		key_text(h, f.ref.key, key, sizeof(key));
		snprintf(buf, len, ".keys()<%s>", key);
		break;
	case HC_PYREF_ATTR:
		if (hc_cpython_read_str(p->t, p->r, f.ref.key, key, sizeof(key)))
			snprintf(buf, len, ".%s", key);
		else
			snprintf(buf, len, ".<attribute>");
		break;
	case HC_PYREF_SET_ITEM:
		snprintf(buf, len, ".<set member>");
		break;
	case HC_PYREF_TYPE:
		snprintf(buf, len, ".__class__");
		break;
	default:
		if (f.ref.name)
			snprintf(buf, len, ".%s", f.ref.name);
		else
			snprintf(buf, len, ".<+0x%x>", f.ref.offset);
	}
}

static void root_text(const struct hc_pyheap *h, uint32_t ri, char *buf, size_t len)
{
	const struct hc_pyheap_private *p = h->priv;
	const struct hc_pyroot *r = &h->roots[ri];
	char what[300];
	int32_t tid = r->thread >= 0 && p->r->threads[r->thread].core_thread >= 0
			      ? p->t->threads[p->r->threads[r->thread].core_thread].tid
			      : 0;
	switch (r->kind) {
	case HC_PYROOT_SYS_MODULES:
		snprintf(buf, len, "sys.modules");
		return;
	case HC_PYROOT_FRAME: {
		static const char *const fields[] = { "f_code", "f_func", "f_globals", "f_builtins", "f_locals",
						      "frame object" };
		char fn[128] = "?", local[128] = "";
		uint64_t code;
		const struct hc_cpython_layout *RL = p->r->layout;
		if (hc_target_read_u64(p->t, r->frame + RL->frame_code, &code)) {
			code = stackref(p->L, code);
			uint64_t name, names, n;
			if (hc_target_read_u64(p->t, code + RL->co_name, &name))
				hc_cpython_read_str(p->t, p->r, name, fn, sizeof(fn));
			if (r->slot >= 0 && hc_target_read_u64(p->t, code + p->L->co_localsplusnames, &names) &&
			    hc_target_read_u64(p->t, names + 16, &n) && (uint64_t)r->slot < n &&
			    hc_target_read_u64(p->t, names + p->L->tuple_items + (uint64_t)r->slot * 8, &name))
				hc_cpython_read_str(p->t, p->r, name, local, sizeof(local));
		}
		if (r->slot >= 0 && local[0])
			snprintf(what, sizeof(what), "local '%s'", local);
		else if (r->slot >= 0)
			snprintf(what, sizeof(what), "stack slot %d", r->slot);
		else
			snprintf(what, sizeof(what), "%s", -1 - r->slot < 6 ? fields[-1 - r->slot] : "frame");
		snprintf(buf, len, "<thread %d, %s(): %s>", tid, fn, what);
		return;
	}
	case HC_PYROOT_THREAD_STATE:
		snprintf(buf, len, "<thread state of thread %d +0x%llx>", tid,
			 (unsigned long long)(r->where - p->r->threads[r->thread].tstate));
		return;
	case HC_PYROOT_INTERPRETER:
		snprintf(buf, len, "<interpreter state 0x%llx>", (unsigned long long)r->where);
		return;
	default:
		if (r->slot == HC_PYROOT_SLOT_ITSELF && hc_symbols_describe(p->s, r->where, what, sizeof(what)) &&
		    !strchr(what, '+')) {
			snprintf(buf, len, "%s", what); /* PyDict_Type */
			return;
		}
		if (!hc_symbols_describe(p->s, r->where, what, sizeof(what)))
			snprintf(what, sizeof(what), "0x%llx", (unsigned long long)r->where);
		snprintf(buf, len, "<static %s>", what);
	}
}

void hc_pyheap_path(const struct hc_pyheap *h, uint32_t i, char *buf, size_t len)
{
	if (!len)
		return;
	buf[0] = 0;
	if (i >= h->n || (h->flags[i] & HC_PYOBJ_GARBAGE) || (h->flags[i] & HC_PYOBJ_IMMORTAL && h->parent[i] == NONE))
		return;
	/* the chain, object to root, then spelled root first */
	uint32_t chain[256], n = 0;
	for (uint32_t o = i; n < 256; o = h->parent[o]) {
		chain[n++] = o;
		if (h->parent[o] == NONE || (h->parent[o] & HC_PYPARENT_ROOT) || h->parent[o] >= h->n)
			break;
	}
	uint32_t top = chain[n - 1];
	size_t w = 0;
	char step[400];
	if (h->parent[top] != NONE && (h->parent[top] & HC_PYPARENT_ROOT))
		root_text(h, h->parent[top] & ~HC_PYPARENT_ROOT, step, sizeof(step));
	else
		snprintf(step, sizeof(step), "<%s at 0x%llx, refcount %llu, %u reference(s) found>",
			 h->types[h->type[top]].name, (unsigned long long)h->addr[top],
			 (unsigned long long)h->refcnt[top], h->found_refs[top]);
	w += (size_t)snprintf(buf + w, len - w, "%s", step);
	for (uint32_t k = n - 1; k > 0 && w < len; k--) {
		step_text(h, chain[k], chain[k - 1], step, sizeof(step));
		w += (size_t)snprintf(buf + w, len - w, "%s", step);
	}
}

/* The first items of a container, for its preview: "'a', 1, ..." or "'k': v, ..." */
struct first_items {
	const struct hc_pyheap *h;
	char *buf;
	size_t len, w;
	uint32_t n;
	uint64_t key;
};

static void preview_one(const struct hc_pyheap *h, uint32_t i, char *buf, size_t len, bool items);

static bool add_item(void *ctx, const struct hc_pyref *ref)
{
	struct first_items *f = ctx;
	if (ref->label == HC_PYREF_DICT_KEY) {
		f->key = ref->target;
		return true;
	}
	if (ref->label != HC_PYREF_ITEM && ref->label != HC_PYREF_DICT_VALUE && ref->label != HC_PYREF_SET_ITEM)
		return true;
	if (f->n == 3) {
		f->w += (size_t)snprintf(f->buf + f->w, f->w < f->len ? f->len - f->w : 0, ", ...");
		return false;
	}
	char v[80], k[80] = "";
	uint32_t vi = hc_pyheap_find(f->h, ref->target);
	if (vi == UINT32_MAX)
		snprintf(v, sizeof(v), "0x%llx", (unsigned long long)ref->target);
	else
		preview_one(f->h, vi, v, sizeof(v), false);
	if (ref->label == HC_PYREF_DICT_VALUE) {
		uint32_t ki = hc_pyheap_find(f->h, ref->key);
		if (ki != UINT32_MAX)
			preview_one(f->h, ki, k, sizeof(k) - 2, false);
		strcat(k, ": ");
	}
	if (f->w < f->len)
		f->w += (size_t)snprintf(f->buf + f->w, f->len - f->w, "%s%s%s", f->n ? ", " : "", k, v);
	f->n++;
	return true;
}

void hc_pyheap_preview(const struct hc_pyheap *h, uint32_t i, char *buf, size_t len)
{
	preview_one(h, i, buf, len, true);
}

static void preview_one(const struct hc_pyheap *h, uint32_t i, char *buf, size_t len, bool items)
{
	const struct hc_pyheap_private *p = h->priv;
	if (!len)
		return;
	buf[0] = 0;
	if (i >= h->n)
		return;
	const struct hc_pytype *ty = &p->tinfo[h->type[i]];
	const char *tn = h->types[h->type[i]].name;
	char s[200];
	uint64_t v, n;
	switch (ty->kind) {
	case HC_PYKIND_STR:
		if (hc_cpython_read_str(p->t, p->r, h->addr[i], s, sizeof(s))) {
			/* as repr() would: quotes and control characters escaped */
			size_t w = 0;
			buf[w++] = '\'';
			for (const char *c = s; *c && w + 6 < len; c++) {
				if (*c == '\n' || *c == '\t' || *c == '\r' || *c == '\\' || *c == '\'') {
					buf[w++] = '\\';
					buf[w++] = *c == '\n' ? 'n' : *c == '\t' ? 't' : *c == '\r' ? 'r' : *c;
				} else if ((unsigned char)*c < 0x20) {
					w += (size_t)snprintf(buf + w, len - w, "\\x%02x", (unsigned char)*c);
				} else {
					buf[w++] = *c;
				}
			}
			if (w + 1 < len)
				buf[w++] = '\'';
			buf[w < len ? w : len - 1] = 0;
		}
		else
			snprintf(buf, len, "<str (not ASCII or Latin-1)>");
		return;
	case HC_PYKIND_INT: {
		/* small values exactly: one or two 30-bit digits */
		uint64_t tag;
		uint32_t d[2] = { 0, 0 };
		if (!hc_target_read_u64(p->t, h->addr[i] + 16, &tag) ||
		    hc_target_read(p->t, h->addr[i] + 24, d, 8) != HC_READ_OK) {
			snprintf(buf, len, "<int>");
			return;
		}
		uint64_t ndigits;
		bool neg;
		if (p->L->long_tag) {
			ndigits = tag >> 3;
			neg = (tag & 3) == 2;
		} else {
			neg = (int64_t)tag < 0;
			ndigits = neg ? (uint64_t)-(int64_t)tag : tag;
		}
		if (ndigits > 2) {
			snprintf(buf, len, "<int of %llu digits>", (unsigned long long)ndigits);
			return;
		}
		v = ndigits == 0 ? 0 : ndigits == 1 ? d[0] : (uint64_t)d[0] | (uint64_t)d[1] << 30;
		snprintf(buf, len, "%s%llu", neg ? "-" : "", (unsigned long long)v);
		return;
	}
	default:
		break;
	}
	uint64_t at;
	if (ty->kind == HC_PYKIND_TYPE) {
		struct type_slot *ts = p->ntslots ? type_slot(h->priv, h->addr[i]) : NULL;
		if (ts && ts->v && ts->v != NOT_TYPE) {
			snprintf(buf, len, "<class '%s'>", h->types[ts->v - 1].name);
			return;
		}
	} else if ((ty->kind == HC_PYKIND_MODULE && hc_target_read_u64(p->t, h->addr[i] + 48, &at)) ||
		   (ty->kind == HC_PYKIND_FUNCTION &&
		    hc_target_read_u64(p->t, h->addr[i] + (p->L->minor == 9 ? 104 : 40), &at))) {
		if (hc_cpython_read_str(p->t, p->r, at, s, sizeof(s))) {
			snprintf(buf, len, "<%s %s%s%s>", tn, ty->kind == HC_PYKIND_MODULE ? "'" : "", s,
				 ty->kind == HC_PYKIND_MODULE ? "'" : "");
			return;
		}
	}
	if (hc_pyobj_len(p->t, p->L, ty, h->addr[i], &n)) {
		int w = snprintf(buf, len, "<%s len=%llu", tn, (unsigned long long)n);
		if (items && n && w > 0 && (size_t)w + 8 < len) {
			char inner[200];
			struct first_items f = { .h = h, .buf = inner, .len = sizeof(inner) };
			inner[0] = 0;
			hc_pyrefs_each(p->t, p->L, ty, h->addr[i], add_item, &f);
			snprintf(buf + w, len - (size_t)w, ": %s>", inner);
		} else if (w > 0 && (size_t)w + 1 < len) {
			snprintf(buf + w, len - (size_t)w, ">");
		}
	} else
		snprintf(buf, len, "<%s object at 0x%llx>", tn, (unsigned long long)h->addr[i]);
}
