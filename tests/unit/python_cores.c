/* Python scenario cores for the tests (see python_cores.h). */
#include "python_cores.h"

#include <CUnit/CUnit.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fixtures.h"

const char *hc_test_python_core(const char *name, const char *scenario, const char *python, const char *root,
				bool kernel, json_t **truth)
{
	char compile[1200];
	/* the fixture "compiles" by writing a wrapper that execs the interpreter on the script */
	if (root)
		snprintf(compile, sizeof(compile),
			 "sh -c 'cp \"$3\" %s/tmp/%s.py && echo \"#!/bin/sh\" > \"$2\" && "
			 "echo \"exec chroot %s %s /tmp/%s.py\" >> \"$2\" && chmod +x \"$2\"' x",
			 root, name, root, python, name);
	else
		snprintf(compile, sizeof(compile),
			 "sh -c 'echo \"#!/bin/sh\" > \"$2\" && echo \"exec $0 $3\" >> \"$2\" && chmod +x \"$2\"' %s",
			 python);
	char kdir[600];
	snprintf(kdir, sizeof(kdir), "%s%s", root ? root : hc_fixture_tmpdir(), root ? "/tmp" : "");
	const char *core = hc_fixture_make_core_by(name, scenario, compile, "py", kernel ? kdir : NULL);
	char path[400];
	snprintf(path, sizeof(path), "%s/%s.out", hc_fixture_tmpdir(), name);
	char *out = hc_fixture_read_file(path, NULL);
	*truth = out ? json_loads(out, JSON_DISABLE_EOF_CHECK, NULL) : NULL;
	free(out);
	return core && *truth ? core : NULL;
}

bool hc_test_python_core_pair(const char *name, const char *scenario, const char *python, const char **old_core,
			      const char **new_core)
{
	char compile[600];
	snprintf(compile, sizeof(compile),
		 "sh -c 'echo \"#!/bin/sh\" > \"$2\" && echo \"exec $0 $3\" >> \"$2\" && chmod +x \"$2\"' %s", python);
	return hc_fixture_make_core_pair(name, scenario, compile, "py", old_core, new_core);
}

const char *hc_test_python_root(const char *v, char *buf, size_t len)
{
	const char *dir = getenv("HEAPCORE_RUNTIMES"), *home = getenv("HOME");
	if (dir && *dir)
		snprintf(buf, len, "%s/python%s", dir, v);
	else
		snprintf(buf, len, "%s/.cache/heapcore/runtimes/python%s", home ? home : "/root", v);
	char marker[600];
	snprintf(marker, sizeof(marker), "%s/.heapcore-python.json", buf);
	if (access(marker, R_OK) == 0)
		return buf;
	fprintf(stderr, "\n  %s missing: run scripts/test.sh (scripts/fetch-runtimes.sh makes it)\n", buf);
	CU_FAIL("a Python root of scripts/fetch-runtimes.sh is missing");
	return NULL;
}

pid_t hc_test_python_spawn(const char *name, const char *scenario, int arg)
{
	const char *dir = hc_fixture_tmpdir();
	char script[400], out[400];
	snprintf(script, sizeof(script), "%s/%s.py", dir, name);
	snprintf(out, sizeof(out), "%s/%s.%d.out", dir, name, arg);
	FILE *f = fopen(script, "w");
	if (!f)
		return 0;
	fputs(scenario, f);
	fclose(f);
	unlink(out); /* a READY left by the last one must not count */
	pid_t pid = fork();
	if (pid == 0) {
		if (!freopen(out, "w", stdout))
			_exit(127);
		char a[16];
		snprintf(a, sizeof(a), "%d", arg);
		execl("/usr/bin/python3.11", "python3.11", script, arg ? a : (char *)NULL, (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 1500; i++) {
		char *text = hc_fixture_read_file(out, NULL);
		bool ready = text && strstr(text, "READY");
		free(text);
		if (ready)
			return pid;
		usleep(10000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	return 0;
}
