/* Test fixtures (see fixtures.h). */
#include "fixtures.h"

#include "heapcore/target.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char tmpdir[256];

static void remove_tmpdir(void)
{
	if (!tmpdir[0] || getenv("HEAPCORE_KEEP_TMP"))
		return;
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", tmpdir);
}

const char *hc_fixture_tmpdir(void)
{
	if (!tmpdir[0]) {
		snprintf(tmpdir, sizeof(tmpdir), "/tmp/heapcore-test-XXXXXX");
		if (!mkdtemp(tmpdir)) {
			perror("mkdtemp");
			abort();
		}
		atexit(remove_tmpdir);
	}
	return tmpdir;
}

const char *hc_fixture_source_dir(void)
{
	const char *s = getenv("HEAPCORE_SOURCE_DIR");
	return s && *s ? s : ".";
}

const char *hc_fixture_cores_dir(void)
{
	const char *s = getenv("HEAPCORE_CORES_DIR");
	return s && *s ? s : NULL;
}

char *hc_fixture_read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	size_t cap = 4096, n = 0;
	char *buf = malloc(cap + 1);
	size_t r;
	while (buf && (r = fread(buf + n, 1, cap - n, f)) > 0) {
		n += r;
		if (n == cap) {
			char *b = realloc(buf, cap * 2 + 1);
			if (!b) {
				free(buf);
				buf = NULL;
				break;
			}
			buf = b;
			cap *= 2;
		}
	}
	fclose(f);
	if (buf)
		buf[n] = 0;
	if (len)
		*len = n;
	return buf;
}

const char *hc_fixture_write_file(const char *name, const void *data, size_t len)
{
	static char paths[64][320];
	static int next;
	char *path = paths[next++ % 64];
	snprintf(path, 320, "%s/%s", hc_fixture_tmpdir(), name);
	FILE *f = fopen(path, "wb");
	if (!f)
		return NULL;
	if (len && fwrite(data, 1, len, f) != len) {
		fclose(f);
		return NULL;
	}
	fclose(f);
	return path;
}

const char *hc_fixture_copy_file(const char *name, const char *src, size_t len)
{
	size_t n;
	char *data = hc_fixture_read_file(src, &n);
	if (!data)
		return NULL;
	if (len && len < n)
		n = len;
	const char *p = hc_fixture_write_file(name, data, n);
	free(data);
	return p;
}

/* Runs a shell command; returns its exit status or -1. */
static int run(const char *cmd)
{
	int st = system(cmd);
	return st == -1 || !WIFEXITED(st) ? -1 : WEXITSTATUS(st);
}

const char *hc_fixture_make_core(const char *name, const char *source)
{
	return hc_fixture_make_core_with(name, source, "gcc -g -O0 -pthread", "c");
}

const char *hc_fixture_make_core_with(const char *name, const char *source, const char *compile, const char *ext)
{
	return hc_fixture_make_core_by(name, source, compile, ext, NULL);
}

bool hc_fixture_kernel_writes_cores(void)
{
	char *pat = hc_fixture_read_file("/proc/sys/kernel/core_pattern", NULL);
	bool plain = pat && !strchr(pat, '|') && !strchr(pat, '/') && !strncmp(pat, "core", 4) &&
		     (pat[4] == 0 || pat[4] == '\n');
	free(pat);
	struct rlimit rl;
	return plain && getrlimit(RLIMIT_CORE, &rl) == 0 && rl.rlim_max != 0;
}

/* The kernel's core of pid, killed by SIGABRT, as `core` or `core.PID` in dir, moved to path. */
static bool kernel_core(pid_t pid, const char *dir, const char *path)
{
	kill(pid, SIGABRT);
	int st = 0;
	waitpid(pid, &st, 0);
	if (!WIFSIGNALED(st) || !WCOREDUMP(st))
		return false;
	char from[400];
	snprintf(from, sizeof(from), "%s/core", dir);
	if (access(from, R_OK) != 0)
		snprintf(from, sizeof(from), "%s/core.%d", dir, (int)pid);
	return rename(from, path) == 0;
}

/* Whether file says word within 10 s. */
static bool wait_for_word(const char *file, const char *word)
{
	for (int i = 0; i < 1000; i++) {
		char *out = hc_fixture_read_file(file, NULL);
		bool ok = out && strstr(out, word);
		free(out);
		if (ok)
			return true;
		usleep(10000);
	}
	return false;
}

/* gdb's core of the running process pid, as path. */
static bool take_gcore(pid_t pid, const char *name, const char *path)
{
	char cmd[1400];
	const char *dir = hc_fixture_tmpdir();
	snprintf(cmd, sizeof(cmd), "gcore -o '%s/%s.gcore' %d >/dev/null 2>&1 && mv '%s/%s.gcore.%d' '%s'", dir, name,
		 (int)pid, dir, name, (int)pid, path);
	return run(cmd) == 0;
}

/*
 * Writes source to TMPDIR/name.ext, compiles it to TMPDIR/name and starts
 * it, its stdout in TMPDIR/name.out (with its core size limit raised to
 * the hard limit if asked); its pid, or 0.
 */
static pid_t build_and_start(const char *name, const char *source, const char *compile, const char *ext,
			     bool raise_core_limit)
{
	const char *dir = hc_fixture_tmpdir();
	char src[320], bin[320], cmd[1400], out[320];
	snprintf(src, sizeof(src), "%s/%s.%s", dir, name, ext);
	snprintf(bin, sizeof(bin), "%s/%s", dir, name);
	snprintf(out, sizeof(out), "%s/%s.out", dir, name);
	FILE *f = fopen(src, "w");
	if (!f)
		return 0;
	fputs(source, f);
	fclose(f);
	snprintf(cmd, sizeof(cmd), "%s -o '%s' '%s'", compile, bin, src);
	if (run(cmd) != 0)
		return 0;
	pid_t pid = fork();
	if (pid < 0)
		return 0;
	if (pid == 0) {
		struct rlimit rl;
		if (raise_core_limit && getrlimit(RLIMIT_CORE, &rl) == 0) {
			rl.rlim_cur = rl.rlim_max;
			setrlimit(RLIMIT_CORE, &rl);
		}
		int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd < 0 || dup2(fd, 1) < 0)
			_exit(127);
		execl(bin, bin, (char *)NULL);
		_exit(127);
	}
	return pid;
}

bool hc_fixture_make_core_pair(const char *name, const char *source, const char *compile, const char *ext,
			       const char **old_core, const char **new_core)
{
	static char paths[16][2][320];
	static char names[16][64];
	static int npairs;
	*old_core = *new_core = NULL;
	for (int i = 0; i < npairs; i++)
		if (!strcmp(names[i], name)) {
			*old_core = paths[i][0];
			*new_core = paths[i][1];
			return true;
		}
	if (npairs == 16)
		return false;
	const char *dir = hc_fixture_tmpdir();
	char out[320];
	snprintf(out, sizeof(out), "%s/%s.out", dir, name);
	pid_t pid = build_and_start(name, source, compile, ext, false);
	if (pid <= 0)
		return false;
	char *p0 = paths[npairs][0], *p1 = paths[npairs][1];
	snprintf(p0, 320, "%s/%s.old.core", dir, name);
	snprintf(p1, 320, "%s/%s.new.core", dir, name);
	bool ok = wait_for_word(out, "READY") && take_gcore(pid, name, p0) && kill(pid, SIGUSR1) == 0 &&
		  wait_for_word(out, "GREW") && take_gcore(pid, name, p1);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	if (!ok)
		return false;
	snprintf(names[npairs], sizeof(names[npairs]), "%s", name);
	npairs++;
	*old_core = p0;
	*new_core = p1;
	return true;
}

const char *hc_fixture_make_core_by(const char *name, const char *source, const char *compile, const char *ext,
				    const char *kernel_dir)
{
	static char cores[32][320];
	static char names[32][64];
	static int ncores;
	for (int i = 0; i < ncores; i++)
		if (!strcmp(names[i], name))
			return cores[i];
	if (ncores == 32)
		return NULL;
	const char *dir = hc_fixture_tmpdir();
	char ready[320];
	snprintf(ready, sizeof(ready), "%s/%s.out", dir, name);
	pid_t pid = build_and_start(name, source, compile, ext, kernel_dir != NULL);
	if (pid <= 0)
		return NULL;
	int ok = wait_for_word(ready, "READY");
	char *core = cores[ncores];
	snprintf(core, 320, "%s/%s.core", dir, name);
	if (ok && kernel_dir) {
		ok = kernel_core(pid, kernel_dir, core);
	} else {
		ok = ok && take_gcore(pid, name, core);
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
	if (!ok)
		return NULL;
	snprintf(names[ncores], 64, "%s", name);
	ncores++;
	return core;
}

int hc_fixture_run_cli(const char *args, char **out, char **err)
{
	return hc_fixture_run_cli_bounded(0, args, out, err);
}

int hc_fixture_run_cli_bounded(unsigned seconds, const char *args, char **out, char **err)
{
	const char *bin = getenv("HEAPCORE_BINARY");
	if (!bin || !*bin)
		bin = "./heapcore";
	const char *dir = hc_fixture_tmpdir();
	char cmd[4096], outp[320], errp[320];
	snprintf(outp, sizeof(outp), "%s/cli.out", dir);
	snprintf(errp, sizeof(errp), "%s/cli.err", dir);
	char limit[48] = "";
	if (seconds)
		snprintf(limit, sizeof(limit), "timeout -s KILL %u ", seconds);
	snprintf(cmd, sizeof(cmd), "%s'%s' %s >'%s' 2>'%s' </dev/null", limit, bin, args, outp, errp);
	int rc = run(cmd);
	if (out)
		*out = hc_fixture_read_file(outp, NULL);
	if (err)
		*err = hc_fixture_read_file(errp, NULL);
	return rc;
}

size_t hc_fixture_core_data_end(const char *core)
{
	struct hc_target *t;
	struct hc_error *err = hc_target_open_core(core, &t);
	if (err) {
		hc_error_destroy(err);
		return 0;
	}
	size_t end = 0;
	for (uint32_t i = 0; i < t->nsegments; i++)
		if (t->segments[i].dumped && t->segments[i].core_offset + t->segments[i].dumped > end)
			end = t->segments[i].core_offset + t->segments[i].dumped;
	hc_target_destroy(t);
	return end;
}

const char *hc_fixture_patch_core(const char *core, const struct hc_target *t, uint64_t addr,
				  uint64_t value, const char *name)
{
	return hc_fixture_patch_core_bytes(core, t, addr, &value, 8, name);
}

const char *hc_fixture_patch_core_bytes(const char *core, const struct hc_target *t, uint64_t addr,
					const void *bytes, size_t n, const char *name)
{
	const struct hc_segment *seg = hc_target_segment(t, addr);
	if (!seg || addr + n > seg->start + seg->dumped)
		return NULL;
	size_t len;
	char *data = hc_fixture_read_file(core, &len);
	if (!data)
		return NULL;
	memcpy(data + seg->core_offset + (addr - seg->start), bytes, n);
	const char *p = hc_fixture_write_file(name, data, len);
	free(data);
	return p;
}
