/*
 * Reading target memory: the one bounds-checked path from a virtual address
 * to bytes of the memory image. Segments are sorted and disjoint, so a lookup
 * is a binary search; bytes a segment maps but the core does not hold are
 * reported as such, never made up.
 */
#include "heapcore/target.h"

#include <elf.h>
#include <stdlib.h>

static int64_t segment_search(const struct hc_target *t, uint64_t addr);

/*
 * The segment the calling thread read last, checked first: reads cluster
 * (an object's fields, a list's items), and the search over a core's
 * hundreds of segments was a tenth of the Python object graph's time.
 * Per thread, and keyed by the target, so that threads and targets never
 * see each other's.
 */
static __thread const struct hc_target *last_target;
static __thread uint32_t last_segment;

static int64_t segment_index(const struct hc_target *t, uint64_t addr)
{
	if (last_target == t && last_segment < t->nsegments) {
		const struct hc_segment *s = &t->segments[last_segment];
		if (addr >= s->start && addr < s->end)
			return last_segment;
	}
	int64_t i = segment_search(t, addr);
	if (i >= 0) {
		last_target = t;
		last_segment = (uint32_t)i;
	}
	return i;
}

static int64_t segment_search(const struct hc_target *t, uint64_t addr)
{
	uint32_t lo = 0, hi = t->nsegments;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		const struct hc_segment *s = &t->segments[mid];
		if (addr < s->start)
			hi = mid;
		else if (addr >= s->end)
			lo = mid + 1;
		else
			return mid;
	}
	return -1;
}

const struct hc_segment *hc_target_segment(const struct hc_target *t, uint64_t addr)
{
	int64_t i = segment_index(t, addr);
	return i < 0 ? NULL : &t->segments[i];
}

enum hc_read_status hc_target_read(const struct hc_target *t, uint64_t addr, void *buf, size_t len)
{
	uint8_t *out = buf;
	while (len) {
		int64_t i = segment_index(t, addr);
		if (i < 0)
			return HC_READ_UNMAPPED;
		const struct hc_segment *s = &t->segments[i];
		uint64_t off = addr - s->start;
		if (off >= s->dumped)
			return HC_READ_NOT_DUMPED;
		uint64_t n = s->dumped - off;
		if (n > len)
			n = len;
		memcpy(out, s->bytes + off, n);
		out += n;
		len -= n;
		addr += n;
		/* a read that runs past the dumped part of a segment into a gap */
		if (len && addr != s->end)
			return HC_READ_NOT_DUMPED;
	}
	return HC_READ_OK;
}

bool hc_target_read_u64(const struct hc_target *t, uint64_t addr, uint64_t *out)
{
	int64_t i = segment_index(t, addr);
	if (i >= 0) {
		const struct hc_segment *s = &t->segments[i];
		uint64_t off = addr - s->start;
		if (off < s->dumped && s->dumped - off >= 8) {
			memcpy(out, s->bytes + off, 8);
			return true;
		}
	}
	return hc_target_read(t, addr, out, 8) == HC_READ_OK;
}

bool hc_target_read_u32(const struct hc_target *t, uint64_t addr, uint32_t *out)
{
	return hc_target_read(t, addr, out, 4) == HC_READ_OK;
}

bool hc_target_read_cstr(const struct hc_target *t, uint64_t addr, char *buf, size_t max)
{
	if (!max)
		return false;
	for (size_t i = 0; i < max; i++) {
		if (hc_target_read(t, addr + i, &buf[i], 1) != HC_READ_OK) {
			buf[i] = 0;
			return false;
		}
		if (!buf[i])
			return true;
	}
	buf[max - 1] = 0;
	return false;
}

void hc_target_span(const struct hc_target *t, uint64_t addr, uint64_t max_len, struct hc_span *out)
{
	out->addr = addr;
	out->len = 0;
	out->bytes = NULL;
	int64_t i = segment_index(t, addr);
	if (i < 0)
		return;
	const struct hc_segment *s = &t->segments[i];
	uint64_t off = addr - s->start;
	if (off >= s->dumped)
		return;
	out->bytes = s->bytes + off;
	out->len = s->dumped - off < max_len ? s->dumped - off : max_len;
}

uint64_t hc_target_next_dumped(const struct hc_target *t, uint64_t addr)
{
	/* segments are sorted by start and do not overlap */
	uint32_t lo = 0, hi = t->nsegments;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (t->segments[mid].end <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (uint32_t i = lo; i < t->nsegments; i++) {
		const struct hc_segment *s = &t->segments[i];
		uint64_t from = addr > s->start ? addr : s->start;
		if (from - s->start < s->dumped)
			return from;
	}
	return UINT64_MAX;
}

const struct hc_mapped_file *hc_target_file_at(const struct hc_target *t, uint64_t addr)
{
	for (uint32_t i = 0; i < t->nfiles; i++)
		if (addr >= t->files[i].start && addr < t->files[i].end)
			return &t->files[i];
	return NULL;
}

bool hc_target_auxv(const struct hc_target *t, uint64_t type, uint64_t *value)
{
	for (uint32_t i = 0; i < t->nauxv; i++) {
		if (t->auxv[i].type == type) {
			*value = t->auxv[i].value;
			return true;
		}
	}
	return false;
}

const char *hc_arch_name(enum hc_arch arch)
{
	switch (arch) {
	case HC_ARCH_X86_64:
		return "x86-64";
	case HC_ARCH_AARCH64:
		return "aarch64";
	}
	return "unknown";
}
