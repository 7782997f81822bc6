/*
 * Builds small ELF cores byte by byte, for tests that need exact control of
 * headers, notes and segment sizes (the damaged shapes real cores come in).
 */
#ifndef HEAPCORE_TEST_SYNTHETIC_CORE_H
#define HEAPCORE_TEST_SYNTHETIC_CORE_H

#include <stddef.h>
#include <stdint.h>

struct synth_segment {
	uint64_t vaddr, memsz, filesz;
	uint32_t flags;              /* PF_R | PF_W | PF_X */
	const void *bytes;           /* filesz bytes, or NULL for zeros */
};

struct synth_core {
	uint8_t *data;
	size_t len;
};

/* A core with one thread (tid, rip, rsp, fs_base), a PRPSINFO naming fname, and the segments. */
void synth_core_build(struct synth_core *c, int tid, uint64_t rip, uint64_t rsp, uint64_t fs_base,
		      const char *fname, const struct synth_segment *segs, unsigned nsegs);
/* The same for an aarch64 process: 34 registers (x0-x30, sp, pc, pstate), tp in NT_ARM_TLS. */
void synth_core_build_aarch64(struct synth_core *c, int tid, uint64_t pc, uint64_t sp, uint64_t tpidr,
			      const struct synth_segment *segs, unsigned nsegs);
void synth_core_free(struct synth_core *c);

#endif
