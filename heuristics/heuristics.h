/*
 * The detectors, one per file in heuristics/ (docs/heuristics.md): each
 * reads the analysis (and the Python object graph, when there is one) and
 * adds its findings; false only when out of memory. src/findings.c runs
 * them in turn and ranks what they found.
 */
#ifndef HEAPCORE_HEURISTICS_H
#define HEAPCORE_HEURISTICS_H

#include "heapcore/findings.h"

bool hc_detect_leaked_clusters(const struct hc_heuristics_input *in, struct hc_findings *out);
bool hc_detect_garbage_cycles(const struct hc_heuristics_input *in, struct hc_findings *out);
bool hc_detect_unbounded_containers(const struct hc_heuristics_input *in, struct hc_findings *out);
bool hc_detect_listener_leaks(const struct hc_heuristics_input *in, struct hc_findings *out);
bool hc_detect_waste(const struct hc_heuristics_input *in, struct hc_findings *out);

/* A size for titles: "12.3 MiB", "640 KiB", "512 bytes". */
void hc_heuristics_bytes(uint64_t bytes, char *buf, size_t len);

/* "app._cache" from a Python path "sys.modules['app'].__dict__['_cache']"; the path itself if not of that form. */
void hc_heuristics_python_name(const char *path, char *buf, size_t len);

/* The __file__ of the module whose namespace object i hangs from (its chain's first module); "" if none. */
/*
 * Whether object i is a container the container detectors look at: one of
 * the flags (HC_PYOBJ_*), a list, dict or set (no tuple) of at least
 * min_len items, retaining enough for a finding. Its len() in *len and the
 * severity of what it retains in *sev.
 */
bool hc_heuristics_big_container(const struct hc_pyheap *h, uint32_t i, uint8_t flags, uint64_t min_len,
				 const struct hc_findings *f, uint64_t *len, enum hc_severity *sev);
void hc_heuristics_module_file(const struct hc_pyheap *h, uint32_t i, char *buf, size_t len);

#endif
