/*
 * A live process written as an ELF core (heapcore/live.h).
 *
 * Threads are seized (PTRACE_SEIZE, then PTRACE_INTERRUPT: no signal is
 * sent, so a stopped process stays stopped and a running one only pauses),
 * and the task list is read again until no thread appears that is not held.
 * The core has the kernel's layout, so that gdb and heapcore read it as
 * they read the kernel's: a PT_NOTE with NT_PRSTATUS and NT_FPREGSET per
 * thread (the process's own thread first), NT_PRPSINFO, NT_AUXV and
 * NT_FILE, then a PT_LOAD per mapping, with the bytes the kernel's default
 * coredump_filter would write. Memory that cannot be read (a guard region)
 * is written as zeros.
 */
#include "heapcore/live.h"

#include <dirent.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/procfs.h>
#include <sys/ptrace.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_THREADS 4096
#define PAGE 4096ull
#define CHUNK (1u << 20)

/* What a signal handler needs to let the process go: plain arrays, no locks. */
static pid_t held_tid[MAX_THREADS];
static volatile sig_atomic_t nheld;
static volatile sig_atomic_t held_pid;
static volatile sig_atomic_t held_was_stopped;

void hc_live_detach_all(void)
{
	for (int i = 0; i < nheld; i++)
		ptrace(PTRACE_DETACH, held_tid[i], 0, 0);
	/* a process found stopped is left stopped (a detached seized thread resumes otherwise) */
	if (held_was_stopped && held_pid > 0)
		kill((pid_t)held_pid, SIGSTOP);
	nheld = 0;
	held_pid = 0;
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double pause_started;

void hc_live_release(struct hc_live_stats *stats)
{
	hc_live_detach_all();
	if (stats)
		stats->pause_seconds = now() - pause_started;
}

/* State letter and TracerPid of /proc/PID/status; false if there is no such process. */
static bool proc_status(pid_t pid, char *state, pid_t *tracer)
{
	char path[64], line[256];
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return false;
	*state = '?';
	*tracer = 0;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, "State:", 6))
			sscanf(line + 6, " %c", state);
		else if (!strncmp(line, "TracerPid:", 10))
			*tracer = (pid_t)atoi(line + 10);
	}
	fclose(f);
	return true;
}

static bool held(pid_t tid)
{
	for (int i = 0; i < nheld; i++)
		if (held_tid[i] == tid)
			return true;
	return false;
}

/* Seizes and stops every thread of pid, until a reading of the task list finds none new. */
static struct hc_error *seize_all(pid_t pid)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	for (bool added = true; added;) {
		added = false;
		DIR *d = opendir(path);
		if (!d)
			return hc_error_create(HC_ERR_NOT_FOUND, "process %d: no such process", (int)pid);
		struct dirent *e;
		while ((e = readdir(d))) {
			pid_t tid = (pid_t)atoi(e->d_name);
			if (tid <= 0 || held(tid))
				continue;
			if (nheld == MAX_THREADS) {
				closedir(d);
				return hc_error_create(HC_ERR_UNSUPPORTED, "process %d: more than %d threads", (int)pid,
						       MAX_THREADS);
			}
			if (ptrace(PTRACE_SEIZE, tid, 0, 0) != 0) {
				int err = errno;
				if (err == ESRCH)
					continue; /* the thread exited meanwhile */
				closedir(d);
				char state;
				pid_t tracer = 0;
				proc_status(pid, &state, &tracer);
				if (tracer)
					return hc_error_create(HC_ERR_IO, "process %d: already traced by process %d",
							       (int)pid, (int)tracer);
				return hc_error_create(HC_ERR_IO, "process %d: cannot trace it: %s", (int)pid,
						       strerror(err));
			}
			held_tid[nheld] = tid;
			nheld = nheld + 1;
			added = true;
			if (ptrace(PTRACE_INTERRUPT, tid, 0, 0) == 0) {
				int st;
				while (waitpid(tid, &st, __WALL) < 0 && errno == EINTR)
					;
			}
		}
		closedir(d);
	}
	return NULL;
}

struct mapping {
	uint64_t start, end, offset;
	char perms[5];
	char *path;                 /* NULL for anonymous */
	uint64_t dump;              /* bytes written to the core from start */
};

static void free_maps(struct mapping *m, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		free(m[i].path);
	free(m);
}

static struct hc_error *read_maps(pid_t pid, struct mapping **out, uint32_t *nout)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return hc_error_create(HC_ERR_IO, "process %d: cannot read its mappings: %s", (int)pid, strerror(errno));
	struct mapping *m = NULL;
	uint32_t n = 0, cap = 0;
	char line[4352];
	while (fgets(line, sizeof(line), f)) {
		struct mapping x = { 0 };
		unsigned long long s, e, off;
		char perms[8], name[4096] = "";
		if (sscanf(line, "%llx-%llx %7s %llx %*s %*s %4095[^\n]", &s, &e, perms, &off, name) < 4)
			continue;
		x.start = s;
		x.end = e;
		x.offset = off;
		memcpy(x.perms, perms, 4);
		char *p = name;
		while (*p == ' ')
			p++;
		if (*p && (x.path = strdup(p)) == NULL) {
			fclose(f);
			free_maps(m, n);
			return &hc_error_nomem;
		}
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			struct mapping *a = realloc(m, cap * sizeof(*a));
			if (!a) {
				free(x.path);
				fclose(f);
				free_maps(m, n);
				return &hc_error_nomem;
			}
			m = a;
		}
		m[n++] = x;
	}
	fclose(f);
	*out = m;
	*nout = n;
	return NULL;
}

/* The kernel's default coredump_filter: anonymous and writable private mappings, ELF headers of the rest. */
static uint64_t bytes_to_dump(const struct mapping *m)
{
	uint64_t size = m->end - m->start;
	if (m->perms[0] != 'r' || (m->path && (!strcmp(m->path, "[vvar]") || !strcmp(m->path, "[vsyscall]") ||
					       !strcmp(m->path, "[vvar_vclock]"))))
		return 0;
	bool anon = !m->path || m->path[0] == '[' || !strncmp(m->path, "/memfd:", 7) || strstr(m->path, "(deleted)");
	if (anon || m->perms[1] == 'w')
		return size;
	return m->offset == 0 ? (size < PAGE ? size : PAGE) : 0;
}

/* A note: "CORE" name, descriptor padded to 4. */
struct buf {
	uint8_t *p;
	size_t n, cap;
};

static bool put(struct buf *b, const void *data, size_t len)
{
	if (b->n + len + 8 > b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 65536;
		while (cap < b->n + len + 8)
			cap *= 2;
		uint8_t *p = realloc(b->p, cap);
		if (!p)
			return false;
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->n, data, len);
	b->n += len;
	while (b->n % 4)
		b->p[b->n++] = 0;
	return true;
}

static bool note(struct buf *b, uint32_t type, const void *desc, size_t len)
{
	Elf64_Nhdr h = { .n_namesz = 5, .n_descsz = (Elf64_Word)len, .n_type = type };
	return put(b, &h, sizeof(h)) && put(b, "CORE", 5) && put(b, desc, len);
}

static bool read_file(const char *path, struct buf *out)
{
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return false;
	uint8_t chunk[4096];
	ssize_t r;
	out->n = 0;
	while ((r = read(fd, chunk, sizeof(chunk))) > 0) {
		if (out->n + (size_t)r + 8 > out->cap) {
			size_t cap = out->cap ? out->cap * 2 : 8192;
			uint8_t *p = realloc(out->p, cap);
			if (!p) {
				close(fd);
				return false;
			}
			out->p = p;
			out->cap = cap;
		}
		memcpy(out->p + out->n, chunk, (size_t)r);
		out->n += (size_t)r;
	}
	close(fd);
	return true;
}

static struct hc_error *build_notes(pid_t pid, const struct mapping *m, uint32_t nmaps, struct buf *notes)
{
	/* the process's own thread first: tools take the first NT_PRSTATUS as the one that got the signal */
	for (int pass = 0; pass < 2; pass++)
		for (int i = 0; i < nheld; i++) {
			pid_t tid = held_tid[i];
			if ((pass == 0) != (tid == pid))
				continue;
			struct elf_prstatus st;
			memset(&st, 0, sizeof(st));
			st.pr_pid = tid;
			st.pr_ppid = getppid();
			struct user_regs_struct regs;
			if (ptrace(PTRACE_GETREGS, tid, 0, &regs) != 0)
				continue; /* the thread went away */
			memcpy(&st.pr_reg, &regs, sizeof(regs) < sizeof(st.pr_reg) ? sizeof(regs) : sizeof(st.pr_reg));
			struct user_fpregs_struct fp;
			bool fpok = ptrace(PTRACE_GETFPREGS, tid, 0, &fp) == 0;
			st.pr_fpvalid = fpok;
			if (!note(notes, NT_PRSTATUS, &st, sizeof(st)) || (fpok && !note(notes, NT_FPREGSET, &fp, sizeof(fp))))
				return &hc_error_nomem;
		}
	/* NT_PRPSINFO: name, state and command line */
	struct elf_prpsinfo ps;
	memset(&ps, 0, sizeof(ps));
	ps.pr_pid = pid;
	ps.pr_ppid = getppid();
	ps.pr_sname = 'T';
	ps.pr_state = 3;
	char path[64];
	struct buf tmp = { 0 };
	snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	if (read_file(path, &tmp))
		for (size_t i = 0; i < tmp.n && i + 1 < sizeof(ps.pr_fname) && tmp.p[i] != '\n'; i++)
			ps.pr_fname[i] = (char)tmp.p[i];
	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
	if (read_file(path, &tmp))
		for (size_t i = 0; i < tmp.n && i + 1 < sizeof(ps.pr_psargs); i++)
			ps.pr_psargs[i] = tmp.p[i] ? (char)tmp.p[i] : ' ';
	bool ok = note(notes, NT_PRPSINFO, &ps, sizeof(ps));
	snprintf(path, sizeof(path), "/proc/%d/auxv", (int)pid);
	if (ok && read_file(path, &tmp))
		ok = note(notes, NT_AUXV, tmp.p, tmp.n);
	/* NT_FILE: count, page size, then (start, end, page offset) each, then the names */
	struct buf nf = { 0 };
	uint64_t count = 0, page = PAGE;
	for (uint32_t i = 0; i < nmaps; i++)
		count += m[i].path && m[i].path[0] == '/';
	ok = ok && put(&nf, &count, 8) && put(&nf, &page, 8);
	for (uint32_t i = 0; ok && i < nmaps; i++)
		if (m[i].path && m[i].path[0] == '/') {
			uint64_t v[3] = { m[i].start, m[i].end, m[i].offset / PAGE };
			ok = put(&nf, v, sizeof(v));
		}
	/* the names are packed, NUL-terminated: undo put's padding between them */
	for (uint32_t i = 0; ok && i < nmaps; i++)
		if (m[i].path && m[i].path[0] == '/') {
			size_t len = strlen(m[i].path) + 1, at = nf.n;
			ok = put(&nf, m[i].path, len);
			nf.n = at + len;
		}
	while (ok && nf.n % 4)
		nf.p[nf.n++] = 0;
	ok = ok && note(notes, 0x46494c45 /* NT_FILE */, nf.p, nf.n);
	free(nf.p);
	free(tmp.p);
	return ok ? NULL : &hc_error_nomem;
}

static struct hc_error *write_all(int fd, const void *p, size_t len, uint64_t off)
{
	const uint8_t *c = p;
	while (len) {
		ssize_t w = pwrite(fd, c, len, (off_t)off);
		if (w <= 0)
			return hc_error_create(HC_ERR_IO, "cannot write the core: %s", w < 0 ? strerror(errno) : "disk full");
		c += w;
		len -= (size_t)w;
		off += (uint64_t)w;
	}
	return NULL;
}

struct hc_error *hc_live_dump(pid_t pid, int fd, bool keep_stopped, struct hc_live_stats *stats)
{
	memset(stats, 0, sizeof(*stats));
#if !defined(__x86_64__)
	(void)pid;
	(void)fd;
	(void)keep_stopped;
	return hc_error_create(HC_ERR_UNSUPPORTED, "live processes are read on x86-64 only");
#else
	char state;
	pid_t tracer;
	if (pid <= 0 || !proc_status(pid, &state, &tracer))
		return hc_error_create(HC_ERR_NOT_FOUND, "process %d: no such process", (int)pid);
	if (tracer)
		return hc_error_create(HC_ERR_IO, "process %d: already traced by process %d", (int)pid, (int)tracer);
	held_was_stopped = state == 'T';
	stats->was_stopped = held_was_stopped;
	held_pid = pid;
	pause_started = now();
	struct hc_error *err = seize_all(pid);
	struct mapping *m = NULL;
	uint32_t nmaps = 0;
	struct buf notes = { 0 };
	uint8_t *chunk = NULL;
	int mem = -1;
	if (!err)
		err = read_maps(pid, &m, &nmaps);
	if (!err)
		err = build_notes(pid, m, nmaps, &notes);
	if (err)
		goto done;
	stats->threads = (uint32_t)nheld;
	stats->mappings = nmaps;
	/* ELF header, program headers (one note, a load per mapping), notes, then the memory page-aligned */
	uint64_t phoff = sizeof(Elf64_Ehdr), noteoff = phoff + (uint64_t)(nmaps + 1) * sizeof(Elf64_Phdr);
	uint64_t dataoff = (noteoff + notes.n + PAGE - 1) & ~(PAGE - 1);
	Elf64_Ehdr eh = { .e_type = ET_CORE, .e_machine = EM_X86_64, .e_version = EV_CURRENT, .e_phoff = phoff,
			  .e_ehsize = sizeof(Elf64_Ehdr), .e_phentsize = sizeof(Elf64_Phdr),
			  .e_phnum = (Elf64_Half)(nmaps + 1) };
	memcpy(eh.e_ident, ELFMAG, SELFMAG);
	eh.e_ident[EI_CLASS] = ELFCLASS64;
	eh.e_ident[EI_DATA] = ELFDATA2LSB;
	eh.e_ident[EI_VERSION] = EV_CURRENT;
	eh.e_ident[EI_OSABI] = ELFOSABI_NONE;
	Elf64_Phdr *ph = calloc(nmaps + 1, sizeof(*ph));
	if (!ph) {
		err = &hc_error_nomem;
		goto done;
	}
	ph[0] = (Elf64_Phdr){ .p_type = PT_NOTE, .p_offset = noteoff, .p_filesz = notes.n };
	uint64_t off = dataoff;
	for (uint32_t i = 0; i < nmaps; i++) {
		m[i].dump = bytes_to_dump(&m[i]);
		ph[i + 1] = (Elf64_Phdr){ .p_type = PT_LOAD,
					  .p_flags = (m[i].perms[0] == 'r' ? PF_R : 0) | (m[i].perms[1] == 'w' ? PF_W : 0) |
						     (m[i].perms[2] == 'x' ? PF_X : 0),
					  .p_offset = m[i].dump ? off : 0,
					  .p_vaddr = m[i].start,
					  .p_filesz = m[i].dump,
					  .p_memsz = m[i].end - m[i].start,
					  .p_align = PAGE };
		off += m[i].dump;
	}
	err = write_all(fd, &eh, sizeof(eh), 0);
	if (!err)
		err = write_all(fd, ph, (nmaps + 1) * sizeof(*ph), phoff);
	if (!err)
		err = write_all(fd, notes.p, notes.n, noteoff);
	free(ph);
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/mem", (int)pid);
	mem = open(path, O_RDONLY);
	chunk = malloc(CHUNK);
	if (!err && (mem < 0 || !chunk))
		err = mem < 0 ? hc_error_create(HC_ERR_IO, "process %d: cannot read its memory: %s", (int)pid,
						strerror(errno))
			      : &hc_error_nomem;
	off = dataoff;
	for (uint32_t i = 0; !err && i < nmaps; i++) {
		for (uint64_t done = 0; !err && done < m[i].dump;) {
			size_t n = m[i].dump - done < CHUNK ? (size_t)(m[i].dump - done) : CHUNK;
			ssize_t r = pread(mem, chunk, n, (off_t)(m[i].start + done));
			if (r <= 0) {
				/* unreadable (a guard region): zeros, a page at a time */
				n = (size_t)PAGE < n ? (size_t)PAGE : n;
				memset(chunk, 0, n);
			} else {
				n = (size_t)r;
			}
			err = write_all(fd, chunk, n, off + done);
			done += n;
		}
		off += m[i].dump;
		stats->bytes_dumped += m[i].dump;
	}
done:
	if (mem >= 0)
		close(mem);
	free(chunk);
	free(notes.p);
	free_maps(m, nmaps);
	if (err || !keep_stopped)
		hc_live_release(stats);
	return err;
#endif
}
