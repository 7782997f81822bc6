/* Whole-file decompression of zstd, xz and lz4 cores (see decompress.h). */
#include "decompress.h"

#include <lz4frame.h>
#include <lzma.h>
#include <sys/mman.h>
#include <zstd.h>

struct out_buffer {
	uint8_t *data;
	uint64_t len, cap, max;
};

static struct hc_error *out_reserve(struct out_buffer *b, uint64_t want)
{
	if (b->cap - b->len >= want)
		return NULL;
	if (b->max && b->len + want > b->max)
		return hc_error_create(HC_ERR_NOMEM,
				       "decompressed core would exceed the memory cap of %llu bytes",
				       (unsigned long long)b->max);
	uint64_t cap = b->cap ? b->cap : 1 << 20;
	/* no address space holds 2^47 bytes: a want that large is a claim, not data */
	if (want > (1ull << 47) || b->len > (1ull << 47) - want)
		return &hc_error_nomem;
	while (cap - b->len < want)
		cap *= 2;
	void *p;
	if (b->data)
		p = mremap(b->data, b->cap, cap, MREMAP_MAYMOVE);
	else
		p = mmap(NULL, cap, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return &hc_error_nomem;
	b->data = p;
	b->cap = cap;
	return NULL;
}

enum hc_compression hc_compression_detect(const uint8_t *d, size_t len)
{
	if (len >= 4 && d[0] == 0x28 && d[1] == 0xb5 && d[2] == 0x2f && d[3] == 0xfd)
		return HC_COMPRESSION_ZSTD;
	if (len >= 6 && d[0] == 0xfd && d[1] == '7' && d[2] == 'z' && d[3] == 'X' && d[4] == 'Z' &&
	    d[5] == 0)
		return HC_COMPRESSION_XZ;
	if (len >= 4 && d[0] == 0x04 && d[1] == 0x22 && d[2] == 0x4d && d[3] == 0x18)
		return HC_COMPRESSION_LZ4;
	return HC_COMPRESSION_NONE;
}

const char *hc_compression_name(enum hc_compression c)
{
	switch (c) {
	case HC_COMPRESSION_NONE:
		return "none";
	case HC_COMPRESSION_ZSTD:
		return "zstd";
	case HC_COMPRESSION_XZ:
		return "xz";
	case HC_COMPRESSION_LZ4:
		return "lz4";
	}
	return "unknown";
}

#define CHUNK (1u << 20)
/* cores of mostly zero pages compress about 1:100; beyond 1:4096 a size is not believed up front */
#define MAX_RATIO 4096

static struct hc_error *decompress_zstd(const uint8_t *in, size_t in_len, struct out_buffer *b,
					bool *truncated)
{
	ZSTD_DStream *z = ZSTD_createDStream();
	if (!z)
		return &hc_error_nomem;
	ZSTD_initDStream(z);
	/*
	 * The frame's content size is a claim of the file's: it sizes the first
	 * reservation only as far as a plausible ratio to the input goes, the
	 * output grows by what really comes out.
	 */
	unsigned long long hint = ZSTD_getFrameContentSize(in, in_len);
	struct hc_error *err = NULL;
	if (hint != ZSTD_CONTENTSIZE_UNKNOWN && hint != ZSTD_CONTENTSIZE_ERROR &&
	    hint / MAX_RATIO <= in_len && (!b->max || hint <= b->max))
		err = out_reserve(b, hint + 1);
	ZSTD_inBuffer ib = { in, in_len, 0 };
	/* keep calling while output comes: input can be consumed before the frame is flushed */
	while (!err) {
		if ((err = out_reserve(b, CHUNK)))
			break;
		ZSTD_outBuffer ob = { b->data + b->len, b->cap - b->len, 0 };
		size_t ret = ZSTD_decompressStream(z, &ob, &ib);
		b->len += ob.pos;
		if (ZSTD_isError(ret)) {
			if (b->len == 0)
				err = hc_error_create(HC_ERR_FORMAT, "zstd data is corrupt: %s",
						      ZSTD_getErrorName(ret));
			else
				*truncated = true;
			break;
		}
		if (ret == 0 && ib.pos == ib.size)
			break;
		if (ob.pos == 0 && ib.pos == ib.size) {
			/* the last frame is incomplete */
			*truncated = true;
			break;
		}
	}
	ZSTD_freeDStream(z);
	return err;
}

static struct hc_error *decompress_xz(const uint8_t *in, size_t in_len, struct out_buffer *b,
				      bool *truncated)
{
	lzma_stream s = LZMA_STREAM_INIT;
	if (lzma_stream_decoder(&s, UINT64_MAX, LZMA_CONCATENATED) != LZMA_OK)
		return &hc_error_nomem;
	s.next_in = in;
	s.avail_in = in_len;
	struct hc_error *err = NULL;
	for (;;) {
		if ((err = out_reserve(b, CHUNK)))
			break;
		s.next_out = b->data + b->len;
		s.avail_out = b->cap - b->len;
		lzma_ret r = lzma_code(&s, s.avail_in ? LZMA_RUN : LZMA_FINISH);
		b->len = b->cap - s.avail_out;
		if (r == LZMA_STREAM_END)
			break;
		if (r == LZMA_OK)
			continue;
		if (r == LZMA_MEM_ERROR) {
			err = &hc_error_nomem;
		} else if (b->len == 0 && r != LZMA_BUF_ERROR) {
			err = hc_error_create(HC_ERR_FORMAT, "xz data is corrupt (liblzma error %d)",
					      (int)r);
		} else {
			*truncated = true;
		}
		break;
	}
	lzma_end(&s);
	return err;
}

static struct hc_error *decompress_lz4(const uint8_t *in, size_t in_len, struct out_buffer *b,
				       bool *truncated)
{
	LZ4F_dctx *ctx;
	if (LZ4F_isError(LZ4F_createDecompressionContext(&ctx, LZ4F_VERSION)))
		return &hc_error_nomem;
	struct hc_error *err = NULL;
	size_t pos = 0;
	for (;;) {
		if ((err = out_reserve(b, CHUNK)))
			break;
		size_t dst = b->cap - b->len, src = in_len - pos;
		size_t hint = LZ4F_decompress(ctx, b->data + b->len, &dst, in + pos, &src, NULL);
		b->len += dst;
		pos += src;
		if (LZ4F_isError(hint)) {
			if (b->len == 0)
				err = hc_error_create(HC_ERR_FORMAT, "lz4 data is corrupt: %s",
						      LZ4F_getErrorName(hint));
			else
				*truncated = true;
			break;
		}
		/* hint 0: every frame is complete; more frames may follow */
		if (hint == 0 && pos == in_len)
			break;
		if (src == 0 && dst == 0) {
			*truncated = true;
			break;
		}
	}
	LZ4F_freeDecompressionContext(ctx);
	return err;
}

struct hc_error *hc_decompress(enum hc_compression c, const uint8_t *in, size_t in_len,
			       uint64_t max_out, uint8_t **out, uint64_t *out_len,
			       uint64_t *out_cap, bool *truncated)
{
	struct out_buffer b = { .max = max_out };
	struct hc_error *err;
	*truncated = false;
	switch (c) {
	case HC_COMPRESSION_ZSTD:
		err = decompress_zstd(in, in_len, &b, truncated);
		break;
	case HC_COMPRESSION_XZ:
		err = decompress_xz(in, in_len, &b, truncated);
		break;
	case HC_COMPRESSION_LZ4:
		err = decompress_lz4(in, in_len, &b, truncated);
		break;
	default:
		return hc_error_create(HC_ERR_INTERNAL, "no decompressor for this format");
	}
	if (err) {
		if (b.data)
			munmap(b.data, b.cap);
		return err;
	}
	*out = b.data;
	*out_len = b.len;
	*out_cap = b.cap;
	return NULL;
}
