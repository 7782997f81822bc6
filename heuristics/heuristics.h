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
void hc_heuristics_module_file(const struct hc_pyheap *h, uint32_t i, char *buf, size_t len);

#endif
