/* Synthetic ELF cores for tests (see synthetic_core.h). */
#include "synthetic_core.h"

#include <elf.h>
#include <stdlib.h>
#include <string.h>

static size_t put_note(uint8_t *p, const char *name, uint32_t type, const void *desc, uint32_t descsz)
{
	uint32_t namesz = strlen(name) + 1;
	memcpy(p, &namesz, 4);
	memcpy(p + 4, &descsz, 4);
	memcpy(p + 8, &type, 4);
	memcpy(p + 12, name, namesz);
	size_t off = 12 + ((namesz + 3) & ~3u);
	memcpy(p + off, desc, descsz);
	return off + ((descsz + 3) & ~3u);
}

static void build(struct synth_core *c, int machine, const uint8_t *notes, size_t nlen,
		  const struct synth_segment *segs, unsigned nsegs);

void synth_core_build(struct synth_core *c, int tid, uint64_t rip, uint64_t rsp, uint64_t fs_base,
		      const char *fname, const struct synth_segment *segs, unsigned nsegs)
{
	uint8_t notes[1024] = { 0 };
	uint8_t prstatus[336] = { 0 };
	memcpy(prstatus + 32, &tid, 4);
	memcpy(prstatus + 112 + 16 * 8, &rip, 8);
	memcpy(prstatus + 112 + 19 * 8, &rsp, 8);
	memcpy(prstatus + 112 + 21 * 8, &fs_base, 8);
	uint8_t prpsinfo[136] = { 0 };
	memcpy(prpsinfo + 24, &tid, 4);
	strncpy((char *)prpsinfo + 40, fname, 15);
	size_t nlen = put_note(notes, "CORE", NT_PRSTATUS, prstatus, sizeof(prstatus));
	nlen += put_note(notes + nlen, "CORE", NT_PRPSINFO, prpsinfo, sizeof(prpsinfo));
	build(c, EM_X86_64, notes, nlen, segs, nsegs);
}

void synth_core_build_aarch64(struct synth_core *c, int tid, uint64_t pc, uint64_t sp, uint64_t tpidr,
			      const struct synth_segment *segs, unsigned nsegs)
{
	uint8_t notes[1024] = { 0 };
	uint8_t prstatus[392] = { 0 };
	memcpy(prstatus + 32, &tid, 4);
	memcpy(prstatus + 112 + 31 * 8, &sp, 8);
	memcpy(prstatus + 112 + 32 * 8, &pc, 8);
	size_t nlen = put_note(notes, "CORE", NT_PRSTATUS, prstatus, sizeof(prstatus));
	nlen += put_note(notes + nlen, "LINUX", 0x401 /* NT_ARM_TLS */, &tpidr, 8);
	build(c, EM_AARCH64, notes, nlen, segs, nsegs);
}

static void build(struct synth_core *c, int machine, const uint8_t *notes, size_t nlen,
		  const struct synth_segment *segs, unsigned nsegs)
{

	size_t phoff = sizeof(Elf64_Ehdr), nph = nsegs + 1;
	size_t off = phoff + nph * sizeof(Elf64_Phdr);
	size_t total = off + nlen;
	for (unsigned i = 0; i < nsegs; i++)
		total += segs[i].filesz;
	c->data = calloc(1, total);
	c->len = total;
	Elf64_Ehdr eh = { 0 };
	memcpy(eh.e_ident, ELFMAG, SELFMAG);
	eh.e_ident[EI_CLASS] = ELFCLASS64;
	eh.e_ident[EI_DATA] = ELFDATA2LSB;
	eh.e_ident[EI_VERSION] = EV_CURRENT;
	eh.e_type = ET_CORE;
	eh.e_machine = machine;
	eh.e_version = EV_CURRENT;
	eh.e_phoff = phoff;
	eh.e_ehsize = sizeof(eh);
	eh.e_phentsize = sizeof(Elf64_Phdr);
	eh.e_phnum = nph;
	memcpy(c->data, &eh, sizeof(eh));
	Elf64_Phdr ph = { .p_type = PT_NOTE, .p_offset = off, .p_filesz = nlen };
	memcpy(c->data + phoff, &ph, sizeof(ph));
	memcpy(c->data + off, notes, nlen);
	off += nlen;
	for (unsigned i = 0; i < nsegs; i++) {
		Elf64_Phdr p = { .p_type = PT_LOAD, .p_flags = segs[i].flags, .p_offset = off,
				 .p_vaddr = segs[i].vaddr, .p_filesz = segs[i].filesz,
				 .p_memsz = segs[i].memsz, .p_align = 4096 };
		memcpy(c->data + phoff + (i + 1) * sizeof(Elf64_Phdr), &p, sizeof(p));
		if (segs[i].bytes)
			memcpy(c->data + off, segs[i].bytes, segs[i].filesz);
		off += segs[i].filesz;
	}
}

void synth_core_free(struct synth_core *c)
{
	free(c->data);
	c->data = NULL;
}
