/*
 * Decompression of whole cores as systemd-coredump stores them (.zst, .xz,
 * .lz4), recognised by magic bytes. The output is one anonymous mapping, so
 * that a multi-GiB core grows by mremap rather than realloc-and-copy.
 */
#ifndef HEAPCORE_DECOMPRESS_H
#define HEAPCORE_DECOMPRESS_H

#include <stddef.h>
#include <stdint.h>

#include "heapcore/error.h"
#include "heapcore/target.h"

/* The compression the first bytes announce, HC_COMPRESSION_NONE if none. */
enum hc_compression hc_compression_detect(const uint8_t *data, size_t len);
const char *hc_compression_name(enum hc_compression c);

/*
 * Decompresses in[0, in_len) into a fresh mapping (*out, *out_len, to be
 * munmap'ed with *out_cap). A stream that ends early returns what it produced
 * with *truncated set; a stream that is garbage from the start is an error.
 * max_out caps the output (0 = no cap).
 */
struct hc_error *hc_decompress(enum hc_compression c, const uint8_t *in, size_t in_len,
			       uint64_t max_out, uint8_t **out, uint64_t *out_len,
			       uint64_t *out_cap, bool *truncated);

#endif
