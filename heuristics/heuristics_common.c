/* Helpers the detectors share (heuristics.h): sizes and Python names for titles. */
#include "heuristics.h"

#include <stdio.h>
#include <string.h>

void hc_heuristics_bytes(uint64_t bytes, char *buf, size_t len)
{
	if (bytes >= (1ull << 30))
		snprintf(buf, len, "%.1f GiB", (double)bytes / (1ull << 30));
	else if (bytes >= (1u << 20))
		snprintf(buf, len, "%.1f MiB", (double)bytes / (1u << 20));
	else if (bytes >= (1u << 10))
		snprintf(buf, len, "%.0f KiB", (double)bytes / (1u << 10));
	else
		snprintf(buf, len, "%llu bytes", (unsigned long long)bytes);
}

void hc_heuristics_python_name(const char *path, char *buf, size_t len)
{
	/* sys.modules['app'].__dict__['_cache']['x'] -> app._cache['x']; .x attributes kept */
	const char *p = path;
	size_t w = 0;
	if (!strncmp(p, "sys.modules['", 13)) {
		p += 13;
		while (*p && *p != '\'' && w + 1 < len)
			buf[w++] = *p++;
		if (!strncmp(p, "']", 2))
			p += 2;
		if (!strncmp(p, ".__dict__['", 11)) {
			p += 11;
			if (w + 1 < len)
				buf[w++] = '.';
			while (*p && *p != '\'' && w + 1 < len)
				buf[w++] = *p++;
			if (!strncmp(p, "']", 2))
				p += 2;
		}
	}
	while (*p && w + 1 < len)
		buf[w++] = *p++;
	buf[w] = 0;
}

void hc_heuristics_module_file(const struct hc_pyheap *h, uint32_t i, char *buf, size_t len)
{
	buf[0] = 0;
	/* up the chain that keeps it to the nearest module */
	uint32_t o = i;
	for (uint32_t n = 0; n < 256 && o < h->n && strcmp(h->types[h->type[o]].name, "module"); n++)
		o = h->parent[o];
	if (o >= h->n || h->out_start[o + 1] == h->out_start[o])
		return;
	/* a module's first reference is its __dict__ */
	uint32_t dict = h->out[h->out_start[o]] & HC_PYEDGE_TARGET, file = hc_pyheap_dict_get(h, dict, "__file__");
	bool interned;
	if (file != UINT32_MAX && !hc_pyheap_str(h, file, buf, len, &interned))
		buf[0] = 0;
}

bool hc_heuristics_big_container(const struct hc_pyheap *h, uint32_t i, uint8_t flags, uint64_t min_len,
				 const struct hc_findings *f, uint64_t *len, enum hc_severity *sev)
{
	return (h->flags[i] & flags) && h->types[h->type[i]].container && strcmp(h->types[h->type[i]].name, "tuple") &&
	       hc_pyheap_len(h, i, len) && *len >= min_len && hc_findings_severity_for(f, h->retained[i], sev);
}
