/* The graph scan's two threads sharing the nodes (see scan_share.h). */
#include "scan_share.h"

void hc_scan_share_init(struct hc_scan_share *s, uint32_t split, uint32_t n, uint32_t block)
{
	if (split > n)
		split = n;
	s->range[0] = split;
	s->range[1] = (uint64_t)split << 32 | n;
	s->block = block ? block : HC_SCAN_BLOCK;
}

bool hc_scan_share_claim(struct hc_scan_share *s, unsigned self, uint32_t last_end, uint32_t *n0, uint32_t *n1)
{
	uint64_t *mine = &s->range[self & 1], *theirs = &s->range[!(self & 1)];
	uint64_t r = __atomic_load_n(mine, __ATOMIC_ACQUIRE);
	for (;;) {
		uint32_t next = (uint32_t)(r >> 32), end = (uint32_t)r;
		if (next < end) {
			uint32_t stop = end - next > s->block ? next + s->block : end;
			if (__atomic_compare_exchange_n(mine, &r, (uint64_t)stop << 32 | end, false, __ATOMIC_ACQ_REL,
							__ATOMIC_ACQUIRE)) {
				*n0 = next;
				*n1 = stop;
				return true;
			}
			continue; /* the other thread took the back of it meanwhile */
		}
		uint64_t o = __atomic_load_n(theirs, __ATOMIC_ACQUIRE);
		uint32_t onext = (uint32_t)(o >> 32), oend = (uint32_t)o;
		if (oend <= onext || oend - onext < 2 * (uint64_t)s->block)
			return false;
		uint32_t mid = onext + (oend - onext) / 2;
		/*
		 * Thread 1's range can lie below what thread 0 took from it before
		 * (it shrinks from the back): thread 0 leaves such a range alone,
		 * so that its segments stay in node order. What it forgoes is at
		 * most what thread 1 had left when they last split evenly.
		 */
		if (self == 0 && mid < last_end)
			return false;
		if (!__atomic_compare_exchange_n(theirs, &o, (uint64_t)onext << 32 | mid, false, __ATOMIC_ACQ_REL,
						 __ATOMIC_ACQUIRE))
			continue;
		/* the other thread steals only from a range with nodes left, so nobody writes mine meanwhile */
		r = (uint64_t)mid << 32 | oend;
		__atomic_store_n(mine, r, __ATOMIC_RELEASE);
	}
}
