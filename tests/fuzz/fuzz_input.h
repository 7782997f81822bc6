/*
 * For the fuzz targets: the fuzzer's bytes as a file heapcore opens by path
 * (a memfd, /proc/self/fd/N), and as a one-segment core around a memory
 * image at a fixed address.
 */
#ifndef HEAPCORE_FUZZ_INPUT_H
#define HEAPCORE_FUZZ_INPUT_H

#include <elf.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "heapcore/symbols.h"
#include "heapcore/target.h"

/* Writes data to a new memfd; its path in path. -1 on failure. */
static inline int fuzz_file(const uint8_t *data, size_t size, char *path, size_t len)
{
	int fd = memfd_create("heapcore-fuzz", MFD_CLOEXEC);
	if (fd < 0)
		return -1;
	for (size_t off = 0; off < size;) {
		ssize_t w = write(fd, data + off, size - off);
		if (w <= 0) {
			close(fd);
			return -1;
		}
		off += (size_t)w;
	}
	snprintf(path, len, "/proc/self/fd/%d", fd);
	return fd;
}

/* A core of one read-write PT_LOAD at vaddr holding image, and no notes. */
static inline int fuzz_image_core(const uint8_t *image, size_t size, uint64_t vaddr, char *path, size_t len)
{
	int fd = memfd_create("heapcore-fuzz-image", MFD_CLOEXEC);
	if (fd < 0)
		return -1;
	Elf64_Ehdr eh = { .e_type = ET_CORE, .e_machine = EM_X86_64, .e_version = EV_CURRENT,
			  .e_phoff = sizeof(Elf64_Ehdr), .e_ehsize = sizeof(Elf64_Ehdr),
			  .e_phentsize = sizeof(Elf64_Phdr), .e_phnum = 1 };
	memcpy(eh.e_ident, ELFMAG, SELFMAG);
	eh.e_ident[EI_CLASS] = ELFCLASS64;
	eh.e_ident[EI_DATA] = ELFDATA2LSB;
	eh.e_ident[EI_VERSION] = EV_CURRENT;
	uint64_t dataoff = 4096;
	Elf64_Phdr ph = { .p_type = PT_LOAD, .p_flags = PF_R | PF_W, .p_offset = dataoff, .p_vaddr = vaddr,
			  .p_filesz = size, .p_memsz = size, .p_align = 4096 };
	if (pwrite(fd, &eh, sizeof(eh), 0) != (ssize_t)sizeof(eh) ||
	    pwrite(fd, &ph, sizeof(ph), sizeof(eh)) != (ssize_t)sizeof(ph) ||
	    (size && pwrite(fd, image, size, (off_t)dataoff) != (ssize_t)size)) {
		close(fd);
		return -1;
	}
	snprintf(path, len, "/proc/self/fd/%d", fd);
	return fd;
}

/*
 * Opens data as a core file, its modules from the core alone (no file of
 * this machine's may answer for the fuzzer's bytes), and runs fn on them.
 */
static inline void fuzz_with_core(const uint8_t *data, size_t size,
				  void (*fn)(struct hc_target *t, struct hc_symbols *s))
{
	char path[64];
	int fd = fuzz_file(data, size, path, sizeof(path));
	if (fd < 0)
		return;
	struct hc_target *t = NULL;
	struct hc_error *err = hc_target_open_core(path, &t);
	if (!err) {
		struct hc_symbols *s = NULL;
		struct hc_symbol_options so = { .no_files = true };
		if (!hc_symbols_open(t, &so, &s)) {
			fn(t, s);
			hc_symbols_destroy(s);
		}
		hc_target_destroy(t);
	}
	hc_error_destroy(err);
	close(fd);
}

#endif
