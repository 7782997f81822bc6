/*
 * Retained sizes of a Python heap's objects (heapcore/cpython_heap.h): the
 * dominator tree of the strong references from one virtual root over the
 * accepted roots and, so that what is kept from outside Python gets sizes
 * too, the objects with a refcount gap. An object's retained bytes are its
 * own and those of every object it dominates: what freeing it would free.
 *
 * Cooper, Harvey and Kennedy's iterative algorithm ("A Simple, Fast
 * Dominance Algorithm"): immediate dominators refined in reverse postorder
 * until nothing changes, which for heaps (mostly trees, with shared leaves)
 * takes two or three passes. Weak references are no edges; garbage is
 * outside the tree and retains its own size.
 */
#include "heapcore/cpython_heap.h"

#include <stdlib.h>
#include <string.h>

#define UNSEEN UINT32_MAX

/* Object index + 1 is the node; node 0 is the virtual root. */
static uint32_t intersect(const uint32_t *idom, const uint32_t *po, uint32_t a, uint32_t b)
{
	while (a != b) {
		while (po[a] < po[b])
			a = idom[a];
		while (po[b] < po[a])
			b = idom[b];
	}
	return a;
}

static bool is_seed(const struct hc_pyheap *h, uint32_t o)
{
	return h->flags[o] & HC_PYOBJ_GAP;
}

struct hc_error *hc_pyheap_dominators(struct hc_pyheap *h)
{
	uint32_t n = h->n + 1;
	uint32_t *po = malloc(n * sizeof(*po)), *order = malloc(n * sizeof(*order));
	uint32_t *in_start = calloc((size_t)n + 1, sizeof(*in_start)), *stack = malloc(n * sizeof(*stack));
	uint32_t *next = malloc(n * sizeof(*next)), *idom = malloc(n * sizeof(*idom));
	uint64_t *retained = calloc(n, sizeof(*retained));
	uint32_t *in = NULL;
	/* out of memory until the last table is filled */
	struct hc_error *err = &hc_error_nomem;
	if (!po || !order || !in_start || !stack || !next || !idom || !retained)
		goto out;

	/* postorder from the root: its children are the accepted roots' targets and the gap seeds */
	memset(po, 0xff, n * sizeof(*po));
	uint32_t npo = 0, sp = 0, rk = 0, sk = 0;
	stack[sp++] = 0;
	po[0] = UNSEEN - 1; /* on the stack */
	while (sp) {
		uint32_t v = stack[sp - 1], w = UNSEEN;
		if (v == 0) {
			while (rk < h->nroots && w == UNSEEN) {
				const struct hc_pyroot *r = &h->roots[rk++];
				if (r->accepted && po[r->target + 1] == UNSEEN)
					w = r->target + 1;
			}
			while (rk == h->nroots && sk < h->n && w == UNSEEN) {
				if (is_seed(h, sk) && po[sk + 1] == UNSEEN)
					w = sk + 1;
				sk++;
			}
		} else {
			uint32_t o = v - 1;
			for (; next[v] < h->out_start[o + 1] && w == UNSEEN; next[v]++) {
				uint32_t e = h->out[next[v]];
				if (!(e & HC_PYEDGE_WEAK) && po[(e & HC_PYEDGE_TARGET) + 1] == UNSEEN)
					w = (e & HC_PYEDGE_TARGET) + 1;
			}
		}
		if (w == UNSEEN) {
			sp--;
			po[v] = npo;
			order[npo++] = v;
			continue;
		}
		po[w] = UNSEEN - 1;
		if (w)
			next[w] = h->out_start[w - 1];
		stack[sp++] = w;
	}

	/* predecessors among the nodes the search reached (the root's included) */
	for (uint32_t o = 0; o < h->n; o++) {
		if (po[o + 1] >= npo)
			continue;
		for (uint32_t e = h->out_start[o]; e < h->out_start[o + 1]; e++)
			if (!(h->out[e] & HC_PYEDGE_WEAK))
				in_start[(h->out[e] & HC_PYEDGE_TARGET) + 2]++;
	}
	for (uint32_t r = 0; r < h->nroots; r++)
		if (h->roots[r].accepted)
			in_start[h->roots[r].target + 2]++;
	for (uint32_t o = 0; o < h->n; o++)
		in_start[o + 2] += is_seed(h, o);
	for (uint32_t v = 1; v <= n; v++)
		in_start[v] += in_start[v - 1];
	in = malloc((in_start[n] ? in_start[n] : 1) * sizeof(*in));
	if (!in)
		goto out;
	uint32_t *cursor = next; /* the search is done with it */
	memcpy(cursor, in_start, n * sizeof(*cursor));
	for (uint32_t o = 0; o < h->n; o++) {
		if (po[o + 1] >= npo)
			continue;
		for (uint32_t e = h->out_start[o]; e < h->out_start[o + 1]; e++)
			if (!(h->out[e] & HC_PYEDGE_WEAK))
				in[cursor[(h->out[e] & HC_PYEDGE_TARGET) + 1]++] = o + 1;
	}
	for (uint32_t r = 0; r < h->nroots; r++)
		if (h->roots[r].accepted)
			in[cursor[h->roots[r].target + 1]++] = 0;
	for (uint32_t o = 0; o < h->n; o++)
		if (is_seed(h, o))
			in[cursor[o + 1]++] = 0;

	memset(idom, 0xff, n * sizeof(*idom));
	idom[0] = 0;
	for (bool changed = true; changed;) {
		changed = false;
		for (uint32_t k = npo - 1; k-- > 0;) {
			uint32_t v = order[k], d = UNSEEN;
			for (uint32_t e = in_start[v]; e < in_start[v + 1]; e++) {
				uint32_t u = in[e];
				if (idom[u] == UNSEEN)
					continue;
				d = d == UNSEEN ? u : intersect(idom, po, u, d);
			}
			if (d != idom[v]) {
				idom[v] = d;
				changed = true;
			}
		}
	}

	/* retained: children before parents, in postorder */
	for (uint32_t k = 0; k < npo; k++) {
		uint32_t v = order[k];
		if (v)
			retained[v] += h->size[v - 1];
		if (v && idom[v] != UNSEEN)
			retained[idom[v]] += retained[v];
	}
	h->idom = malloc((h->n ? h->n : 1) * sizeof(*h->idom));
	h->retained = malloc((h->n ? h->n : 1) * sizeof(*h->retained));
	if (!h->idom || !h->retained)
		goto out;
	for (uint32_t o = 0; o < h->n; o++) {
		uint32_t v = o + 1;
		h->idom[o] = po[v] >= npo || idom[v] == UNSEEN ? HC_PYDOM_NONE : idom[v] ? idom[v] - 1 : HC_PYDOM_ROOT;
		h->retained[o] = po[v] >= npo ? h->size[o] : retained[v];
	}
	err = NULL;
out:
	if (err) {
		free(h->idom);
		free(h->retained);
		h->idom = NULL;
		h->retained = NULL;
	}
	free(po);
	free(order);
	free(in_start);
	free(in);
	free(stack);
	free(next);
	free(idom);
	free(retained);
	return err;
}
