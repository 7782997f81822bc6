/*
 * The ELF core reader: turns a core file (plain or compressed) into an
 * hc_target. The file is untrusted: every header, program header and note is
 * checked against the file's real size before it is used, and damage past the
 * ELF header becomes a warning with whatever could still be read.
 */
#include "heapcore/target.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/xattr.h>
#include <sys/stat.h>
#include <unistd.h>

#include "decompress.h"

#ifndef NT_FILE
#define NT_FILE 0x46494c45
#endif
#ifndef NT_SIGINFO
#define NT_SIGINFO 0x53494749
#endif
#ifndef NT_ARM_TLS
#define NT_ARM_TLS 0x401
#endif

/* Offsets in the kernel's struct elf_prstatus / elf_prpsinfo (identical on x86-64 and aarch64). */
#define PRSTATUS_CURSIG 12
#define PRSTATUS_PID 32
#define PRSTATUS_REG 112
#define X86_64_NREGS 27
#define X86_64_REG_RIP 16
#define X86_64_REG_RSP 19
#define X86_64_REG_FS_BASE 21
#define AARCH64_NREGS 34
#define AARCH64_REG_SP 31
#define AARCH64_REG_PC 32
#define PRPSINFO_SIZE 136

/* Caps that keep a hostile core from making us allocate without bound. */
#define MAX_THREADS 65536
#define MAX_FILES (1u << 20)
#define MAX_AUXV 1024

static uint16_t rd16(const uint8_t *p)
{
	uint16_t v;
	memcpy(&v, p, 2);
	return v;
}

static uint32_t rd32(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return v;
}

static uint64_t rd64(const uint8_t *p)
{
	uint64_t v;
	memcpy(&v, p, 8);
	return v;
}

/* The bytes of the ELF image in [off, off+len), or NULL if they are not all in the file. */
static const uint8_t *image_at(const struct hc_target *t, uint64_t off, uint64_t len)
{
	if (off > t->image_size || len > t->image_size - off)
		return NULL;
	return (const uint8_t *)t->image + off;
}

/*
 * systemd-coredump records when the process crashed (microseconds since the
 * epoch) in the stored file's user.coredump.timestamp attribute: a better
 * time than the file's, which a later copy or recompression moves.
 */
static void core_time_from_xattr(struct hc_target *t, int fd)
{
	char buf[32];
	ssize_t n = fgetxattr(fd, "user.coredump.timestamp", buf, sizeof(buf) - 1);
	if (n <= 0)
		return;
	buf[n] = 0;
	char *end;
	unsigned long long us = strtoull(buf, &end, 10);
	if (end == buf || *end || us == 0)
		return;
	t->mtime = (int64_t)(us / 1000000);
	t->mtime_nsec = (uint32_t)(us % 1000000) * 1000;
	t->time_from_coredump = true;
}

static struct hc_error *load_image(struct hc_target *t, const char *path, uint64_t max_memory)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return hc_error_create(HC_ERR_IO, "cannot open: %s", strerror(errno));
	struct stat st;
	if (fstat(fd, &st) < 0) {
		int e = errno;
		close(fd);
		return hc_error_create(HC_ERR_IO, "cannot stat: %s", strerror(e));
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return hc_error_create(HC_ERR_IO, "not a regular file");
	}
	t->mtime = st.st_mtime;
	t->mtime_nsec = (uint32_t)st.st_mtim.tv_nsec;
	core_time_from_xattr(t, fd);
	if (st.st_size == 0) {
		close(fd);
		return hc_error_create(HC_ERR_FORMAT, "empty file, not a core");
	}
	void *map = mmap(NULL, st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	int e = errno;
	close(fd);
	if (map == MAP_FAILED)
		return hc_error_create(HC_ERR_IO, "cannot map: %s", strerror(e));

	enum hc_compression c = hc_compression_detect(map, st.st_size);
	if (c == HC_COMPRESSION_NONE) {
		t->image = map;
		t->image_size = st.st_size;
		t->compression = c;
		return NULL;
	}
	uint8_t *out;
	uint64_t out_len, out_cap;
	bool truncated;
	struct hc_error *err = hc_decompress(c, map, st.st_size, max_memory, &out, &out_len,
					     &out_cap, &truncated);
	munmap(map, st.st_size);
	if (err)
		return err;
	t->image = out;
	t->image_size = out_len;
	t->compression = c;
	t->decompressed_capacity = out_cap;
	if (truncated) {
		t->truncated = true;
		hc_warnings_add(&t->warnings, HC_WARN_PARTIAL,
				"%s stream ends early: the core is truncated",
				hc_compression_name(c));
	}
	return NULL;
}

static struct hc_error *check_elf_header(struct hc_target *t, const Elf64_Ehdr **out)
{
	const uint8_t *id = image_at(t, 0, EI_NIDENT);
	if (!id || memcmp(id, ELFMAG, SELFMAG) != 0)
		return hc_error_create(HC_ERR_FORMAT, "not an ELF file");
	if (id[EI_CLASS] == ELFCLASS32)
		return hc_error_create(HC_ERR_FORMAT,
				       "32-bit ELF is not supported (only 64-bit cores)");
	if (id[EI_CLASS] != ELFCLASS64)
		return hc_error_create(HC_ERR_FORMAT, "unknown ELF class %u", id[EI_CLASS]);
	if (id[EI_DATA] == ELFDATA2MSB)
		return hc_error_create(HC_ERR_FORMAT,
				       "big-endian ELF is not supported (only little-endian)");
	if (id[EI_DATA] != ELFDATA2LSB)
		return hc_error_create(HC_ERR_FORMAT, "unknown ELF data encoding %u", id[EI_DATA]);
	const Elf64_Ehdr *eh = (const Elf64_Ehdr *)image_at(t, 0, sizeof(Elf64_Ehdr));
	if (!eh)
		return hc_error_create(HC_ERR_DAMAGED, "file is truncated inside the ELF header");
	Elf64_Ehdr h;
	memcpy(&h, eh, sizeof(h));
	if (h.e_type != ET_CORE) {
		const char *what = h.e_type == ET_EXEC ? "an executable" :
				   h.e_type == ET_DYN ? "a shared object or PIE executable" :
				   h.e_type == ET_REL ? "an object file" : "not a core";
		return hc_error_create(HC_ERR_FORMAT, "not a core file: ELF type %u (%s)",
				       h.e_type, what);
	}
	if (h.e_machine == EM_X86_64)
		t->arch = HC_ARCH_X86_64;
	else if (h.e_machine == EM_AARCH64)
		t->arch = HC_ARCH_AARCH64;
	else
		return hc_error_create(HC_ERR_FORMAT, "unsupported machine %u (x86-64 and aarch64 cores only)",
				       h.e_machine);
	if (h.e_phentsize != sizeof(Elf64_Phdr))
		return hc_error_create(HC_ERR_FORMAT, "program header size %u is not %zu",
				       h.e_phentsize, sizeof(Elf64_Phdr));
	*out = eh;
	return NULL;
}

static int compare_segments(const void *a, const void *b)
{
	const struct hc_segment *x = a, *y = b;
	return x->start < y->start ? -1 : x->start > y->start;
}

static uint64_t phdr_count(struct hc_target *t, const Elf64_Ehdr *eh)
{
	uint16_t phnum = rd16((const uint8_t *)&eh->e_phnum);
	if (phnum != PN_XNUM)
		return phnum;
	/* more than 0xfffe segments: the real count is in section 0's sh_info */
	uint64_t shoff = rd64((const uint8_t *)&eh->e_shoff);
	const uint8_t *sh = image_at(t, shoff, sizeof(Elf64_Shdr));
	if (!sh)
		return 0;
	return rd32(sh + offsetof(Elf64_Shdr, sh_info));
}

static void add_thread(struct hc_target *t, const uint8_t *desc, uint32_t len)
{
	uint32_t nregs = t->arch == HC_ARCH_X86_64 ? X86_64_NREGS : AARCH64_NREGS;
	if (len < PRSTATUS_REG + nregs * 8) {
		hc_warnings_add(&t->warnings, HC_WARN_PARTIAL,
				"NT_PRSTATUS note of %u bytes is too short; thread skipped", len);
		return;
	}
	if (t->nthreads >= MAX_THREADS)
		return;
	if (t->nthreads == t->threads_capacity) {
		uint32_t cap = t->threads_capacity ? t->threads_capacity * 2 : 16;
		struct hc_thread *n = realloc(t->threads, cap * sizeof(*n));
		if (!n)
			return;
		t->threads = n;
		t->threads_capacity = cap;
	}
	struct hc_thread *th = &t->threads[t->nthreads++];
	memset(th, 0, sizeof(*th));
	th->cursig = (int16_t)rd16(desc + PRSTATUS_CURSIG);
	th->tid = (int32_t)rd32(desc + PRSTATUS_PID);
	th->nregs = nregs;
	for (uint32_t i = 0; i < nregs; i++)
		th->regs[i] = rd64(desc + PRSTATUS_REG + 8 * i);
	if (t->arch == HC_ARCH_X86_64) {
		th->pc = th->regs[X86_64_REG_RIP];
		th->sp = th->regs[X86_64_REG_RSP];
		th->tp = th->regs[X86_64_REG_FS_BASE];
		th->has_tp = true;
	} else {
		th->pc = th->regs[AARCH64_REG_PC];
		th->sp = th->regs[AARCH64_REG_SP];
	}
}

static void parse_prpsinfo(struct hc_target *t, const uint8_t *d, uint32_t len)
{
	if (len < PRPSINFO_SIZE) {
		hc_warnings_add(&t->warnings, HC_WARN_INFO, "NT_PRPSINFO note is too short");
		return;
	}
	struct hc_process_info *p = &t->process;
	p->present = true;
	p->state = (char)d[1];
	p->uid = rd32(d + 16);
	p->gid = rd32(d + 20);
	p->pid = (int32_t)rd32(d + 24);
	p->ppid = (int32_t)rd32(d + 28);
	memcpy(p->fname, d + 40, 16);
	p->fname[16] = 0;
	memcpy(p->psargs, d + 56, 80);
	p->psargs[80] = 0;
}

static void parse_siginfo(struct hc_target *t, const uint8_t *d, uint32_t len)
{
	if (len < 24)
		return;
	struct hc_signal_info *s = &t->signal;
	s->present = true;
	s->signo = (int32_t)rd32(d);
	s->err = (int32_t)rd32(d + 4);
	s->code = (int32_t)rd32(d + 8);
	s->addr = rd64(d + 16);
}

static void parse_auxv(struct hc_target *t, const uint8_t *d, uint32_t len)
{
	uint32_t n = len / 16;
	if (n > MAX_AUXV)
		n = MAX_AUXV;
	free(t->auxv);
	t->auxv = calloc(n ? n : 1, sizeof(*t->auxv));
	t->nauxv = 0;
	if (!t->auxv)
		return;
	for (uint32_t i = 0; i < n; i++) {
		uint64_t type = rd64(d + 16 * i), value = rd64(d + 16 * i + 8);
		if (type == AT_NULL)
			break;
		t->auxv[t->nauxv].type = type;
		t->auxv[t->nauxv].value = value;
		t->nauxv++;
	}
}

static void parse_nt_file(struct hc_target *t, const uint8_t *d, uint32_t len)
{
	if (len < 16)
		goto bad;
	uint64_t count = rd64(d), page = rd64(d + 8);
	if (count > MAX_FILES || count > (len - 16) / 24)
		goto bad;
	const uint8_t *names = d + 16 + count * 24, *end = d + len;
	struct hc_mapped_file *files = calloc(count ? count : 1, sizeof(*files));
	if (!files)
		return;
	uint32_t n = 0;
	for (uint64_t i = 0; i < count; i++) {
		const uint8_t *nul = names < end ? memchr(names, 0, end - names) : NULL;
		if (!nul)
			break;
		struct hc_mapped_file *f = &files[n];
		f->start = rd64(d + 16 + 24 * i);
		f->end = rd64(d + 16 + 24 * i + 8);
		/* a page size of 0 or an overflowing offset is damage; keep the mapping, drop the offset */
		uint64_t pgoff = rd64(d + 16 + 24 * i + 16);
		f->file_offset = page && pgoff <= UINT64_MAX / page ? pgoff * page : 0;
		f->path = strndup((const char *)names, nul - names);
		names = nul + 1;
		if (!f->path || f->end <= f->start) {
			free(f->path);
			continue;
		}
		n++;
	}
	for (uint32_t i = 0; i < t->nfiles; i++)
		free(t->files[i].path);
	free(t->files);
	t->files = files;
	t->nfiles = n;
	t->file_page_size = page;
	if (n < count)
		hc_warnings_add(&t->warnings, HC_WARN_PARTIAL,
				"NT_FILE note lists %llu files but only %u could be read",
				(unsigned long long)count, n);
	return;
bad:
	hc_warnings_add(&t->warnings, HC_WARN_PARTIAL, "NT_FILE note is malformed; mapped files unknown");
}

static void parse_notes(struct hc_target *t, const uint8_t *p, uint64_t len)
{
	uint64_t off = 0;
	while (len - off >= 12) {
		uint32_t namesz = rd32(p + off), descsz = rd32(p + off + 4), type = rd32(p + off + 8);
		uint64_t name_off = off + 12;
		uint64_t desc_off = name_off + (((uint64_t)namesz + 3) & ~3ull);
		uint64_t next = desc_off + (((uint64_t)descsz + 3) & ~3ull);
		if (desc_off > len || descsz > len - desc_off) {
			hc_warnings_add(&t->warnings, HC_WARN_PARTIAL,
					"note at offset %llu runs past its segment; later notes ignored",
					(unsigned long long)off);
			return;
		}
		const char *name = (const char *)p + name_off;
		const uint8_t *desc = p + desc_off;
		bool core = namesz == 5 && memcmp(name, "CORE", 5) == 0;
		bool linux_ = namesz == 6 && memcmp(name, "LINUX", 6) == 0;
		if (core && type == NT_PRSTATUS) {
			add_thread(t, desc, descsz);
		} else if (core && type == NT_FPREGSET) {
			if (t->nthreads)
				t->threads[t->nthreads - 1].has_fpregs = true;
		} else if (core && type == NT_PRPSINFO) {
			parse_prpsinfo(t, desc, descsz);
		} else if (core && type == NT_AUXV) {
			parse_auxv(t, desc, descsz);
		} else if (core && type == NT_SIGINFO) {
			parse_siginfo(t, desc, descsz);
		} else if (core && type == NT_FILE) {
			parse_nt_file(t, desc, descsz);
		} else if (linux_ && type == NT_ARM_TLS && t->arch == HC_ARCH_AARCH64 && descsz >= 8 &&
			   t->nthreads) {
			t->threads[t->nthreads - 1].tp = rd64(desc);
			t->threads[t->nthreads - 1].has_tp = true;
		}
		off = next;
		if (off > len)
			return;
	}
}

static void link_segments_to_files(struct hc_target *t)
{
	for (uint32_t i = 0; i < t->nsegments; i++) {
		t->segments[i].file = -1;
		for (uint32_t j = 0; j < t->nfiles; j++) {
			if (t->segments[i].start >= t->files[j].start &&
			    t->segments[i].start < t->files[j].end) {
				t->segments[i].file = (int32_t)j;
				break;
			}
		}
	}
}

static struct hc_error *parse_program_headers(struct hc_target *t, const Elf64_Ehdr *eh)
{
	uint64_t phoff = rd64((const uint8_t *)&eh->e_phoff);
	uint64_t phnum = phdr_count(t, eh);
	if (phnum == 0)
		return hc_error_create(HC_ERR_FORMAT, "core has no program headers");
	/* the table itself may be cut short: use the entries that are there */
	uint64_t avail = phoff < t->image_size ? (t->image_size - phoff) / sizeof(Elf64_Phdr) : 0;
	if (avail < phnum) {
		t->truncated = true;
		hc_warnings_add(&t->warnings, HC_WARN_PARTIAL,
				"file is truncated: only %llu of %llu program headers are present",
				(unsigned long long)avail, (unsigned long long)phnum);
		phnum = avail;
		if (phnum == 0)
			return hc_error_create(HC_ERR_DAMAGED,
					       "file is truncated before its program headers");
	}
	const uint8_t *ph = image_at(t, phoff, phnum * sizeof(Elf64_Phdr));

	uint64_t nload = 0;
	for (uint64_t i = 0; i < phnum; i++)
		if (rd32(ph + i * sizeof(Elf64_Phdr)) == PT_LOAD)
			nload++;
	t->segments = calloc(nload ? nload : 1, sizeof(*t->segments));
	if (!t->segments)
		return &hc_error_nomem;

	uint64_t missing_bytes = 0;
	uint32_t short_segments = 0;
	for (uint64_t i = 0; i < phnum; i++) {
		Elf64_Phdr p;
		memcpy(&p, ph + i * sizeof(p), sizeof(p));
		uint64_t in_file = p.p_offset < t->image_size ? t->image_size - p.p_offset : 0;
		if (p.p_type == PT_NOTE) {
			uint64_t n = p.p_filesz < in_file ? p.p_filesz : in_file;
			if (n < p.p_filesz) {
				t->truncated = true;
				hc_warnings_add(&t->warnings, HC_WARN_PARTIAL,
						"file is truncated inside the notes");
			}
			if (n)
				parse_notes(t, (const uint8_t *)t->image + p.p_offset, n);
			continue;
		}
		if (p.p_type != PT_LOAD || p.p_memsz == 0)
			continue;
		if (p.p_vaddr + p.p_memsz < p.p_vaddr) {
			hc_warnings_add(&t->warnings, HC_WARN_PARTIAL,
					"segment at 0x%llx wraps around the address space; ignored",
					(unsigned long long)p.p_vaddr);
			continue;
		}
		struct hc_segment *s = &t->segments[t->nsegments++];
		s->start = p.p_vaddr;
		s->end = p.p_vaddr + p.p_memsz;
		s->perms = ((p.p_flags & PF_R) ? HC_PERM_R : 0) | ((p.p_flags & PF_W) ? HC_PERM_W : 0) |
			   ((p.p_flags & PF_X) ? HC_PERM_X : 0);
		s->core_offset = p.p_offset;
		uint64_t want = p.p_filesz < p.p_memsz ? p.p_filesz : p.p_memsz;
		s->dumped = want < in_file ? want : in_file;
		s->bytes = s->dumped ? (const uint8_t *)t->image + p.p_offset : NULL;
		if (s->dumped < want) {
			t->truncated = true;
			short_segments++;
			missing_bytes += want - s->dumped;
		}
	}
	if (short_segments)
		hc_warnings_add(&t->warnings, HC_WARN_PARTIAL,
				"file is truncated: %u segments lack %llu bytes that the core should hold",
				short_segments, (unsigned long long)missing_bytes);

	qsort(t->segments, t->nsegments, sizeof(*t->segments), compare_segments);
	/* overlapping segments would make reads ambiguous: keep the first */
	uint32_t kept = 0;
	for (uint32_t i = 0; i < t->nsegments; i++) {
		if (kept && t->segments[i].start < t->segments[kept - 1].end) {
			hc_warnings_add(&t->warnings, HC_WARN_PARTIAL,
					"segment at 0x%llx overlaps the one before it; ignored",
					(unsigned long long)t->segments[i].start);
			continue;
		}
		t->segments[kept++] = t->segments[i];
	}
	t->nsegments = kept;
	if (t->nthreads == 0)
		hc_warnings_add(&t->warnings, HC_WARN_PARTIAL, "core has no thread (NT_PRSTATUS) notes");
	/* gdb writes section headers last: their loss costs nothing, but the file was cut */
	uint64_t shoff = rd64((const uint8_t *)&eh->e_shoff);
	uint64_t shnum = rd16((const uint8_t *)&eh->e_shnum);
	if (shoff && shnum && (shoff > t->image_size || shnum * sizeof(Elf64_Shdr) > t->image_size - shoff)) {
		t->truncated = true;
		hc_warnings_add(&t->warnings, HC_WARN_INFO,
				"file is truncated after its last segment (section headers missing); nothing needed was lost");
	}
	link_segments_to_files(t);
	return NULL;
}

struct hc_error *hc_target_open_core_capped(const char *path, uint64_t max_memory,
					    struct hc_target **out)
{
	*out = NULL;
	struct hc_target *t = calloc(1, sizeof(*t));
	if (!t)
		return &hc_error_nomem;
	t->mtime = -1;
	t->path = strdup(path);
	if (!t->path) {
		free(t);
		return &hc_error_nomem;
	}
	const Elf64_Ehdr *eh = NULL;
	struct hc_error *err = load_image(t, path, max_memory);
	if (!err)
		err = check_elf_header(t, &eh);
	if (!err)
		err = parse_program_headers(t, eh);
	if (err) {
		hc_target_destroy(t);
		return hc_error_prefix(err, "%s", path);
	}
	t->file_size = t->image_size;
	*out = t;
	return NULL;
}

struct hc_error *hc_target_open_core(const char *path, struct hc_target **out)
{
	return hc_target_open_core_capped(path, 0, out);
}

void hc_target_release_pages(struct hc_target *t)
{
	/* MADV_DONTNEED on a private, never-written file mapping just forgets clean pages */
	if (t->image && t->compression == HC_COMPRESSION_NONE)
		madvise(t->image, t->image_size, MADV_DONTNEED);
}

void hc_target_release_range(const struct hc_target *t, uint64_t lo, uint64_t hi)
{
	if (!t->image || t->compression != HC_COMPRESSION_NONE || hi <= lo)
		return;
	const uint64_t page = 4096;
	for (uint32_t i = 0; i < t->nsegments; i++) {
		const struct hc_segment *seg = &t->segments[i];
		uint64_t s = lo > seg->start ? lo : seg->start, e = seg->start + seg->dumped;
		if (hi < e)
			e = hi;
		if (s >= e || !seg->bytes)
			continue;
		/* whole pages of the image only: a page's other bytes may be another segment's */
		uint64_t off0 = (uint64_t)(seg->bytes - (const uint8_t *)t->image) + (s - seg->start);
		uint64_t off1 = off0 + (e - s);
		off0 = (off0 + page - 1) & ~(page - 1);
		off1 &= ~(page - 1);
		if (off1 > off0)
			madvise((uint8_t *)t->image + off0, off1 - off0, MADV_DONTNEED);
	}
}

void hc_release_cursor_advance(struct hc_release_cursor *c, uint64_t addr)
{
	const uint64_t step = 16ull << 20;
	if (!c->from) {
		c->from = addr;
		return;
	}
	if (addr < c->from || addr - c->from < step)
		return;
	hc_target_release_range(c->t, c->from, addr);
	c->from = addr;
}

void hc_target_destroy(struct hc_target *t)
{
	if (!t)
		return;
	if (t->image) {
		if (t->compression != HC_COMPRESSION_NONE)
			munmap(t->image, t->decompressed_capacity);
		else
			munmap(t->image, t->image_size);
	}
	for (uint32_t i = 0; i < t->nfiles; i++)
		free(t->files[i].path);
	free(t->files);
	free(t->segments);
	free(t->threads);
	free(t->auxv);
	hc_warnings_free(&t->warnings);
	free(t->path);
	free(t);
}
