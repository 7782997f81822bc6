/* The modules' merged extents (see address_ranges.h). */
#include "address_ranges.h"

#include <stdlib.h>

bool hc_ranges_of_modules(const struct hc_symbols *s, struct hc_ranges *r)
{
	uint32_t n = s ? s->nmodules : 0;
	*r = (struct hc_ranges){ 0 };
	r->lo = malloc((n ? n : 1) * sizeof(uint64_t));
	r->hi = malloc((n ? n : 1) * sizeof(uint64_t));
	if (!r->lo || !r->hi) {
		hc_ranges_free(r);
		return false;
	}
	/* modules are sorted by start; an extent inside or across the one before merges into it */
	for (uint32_t i = 0; i < n; i++) {
		const struct hc_module *m = &s->modules[i];
		if (m->end <= m->start)
			continue;
		if (r->n && m->start <= r->hi[r->n - 1]) {
			if (m->end > r->hi[r->n - 1])
				r->hi[r->n - 1] = m->end;
			continue;
		}
		r->lo[r->n] = m->start;
		r->hi[r->n] = m->end;
		r->n++;
	}
	r->min = r->n ? r->lo[0] : 1;
	r->max = r->n ? r->hi[r->n - 1] : 0;
	return true;
}

void hc_ranges_free(struct hc_ranges *r)
{
	free(r->lo);
	free(r->hi);
	r->lo = r->hi = NULL;
	r->n = 0;
}
