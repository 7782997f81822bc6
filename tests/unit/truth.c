/* Reading the scenario programs' ground truth (see truth.h). */
#include "truth.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fixtures.h"

static uint64_t attr(const char *tag, const char *name)
{
	char key[64];
	snprintf(key, sizeof(key), "%s=\"", name);
	const char *p = strstr(tag, key);
	return p ? strtoull(p + strlen(key), NULL, 10) : 0;
}

/* The <total type="TYPE" .../> element in [from, to), parsed. */
static bool total(const char *from, const char *to, const char *type, uint64_t *count, uint64_t *size)
{
	char key[64];
	snprintf(key, sizeof(key), "<total type=\"%s\"", type);
	const char *p = strstr(from, key);
	if (!p || (to && p >= to))
		return false;
	*count = attr(p, "count");
	*size = attr(p, "size");
	return true;
}

static void parse_malloc_info(struct truth *t, const char *xml)
{
	const char *p = xml;
	while ((p = strstr(p, "<heap nr=")) && t->narenas < 64) {
		const char *end = strstr(p, "</heap>");
		struct truth_arena *a = &t->arenas[t->narenas++];
		total(p, end, "fast", &a->fast_count, &a->fast_bytes);
		total(p, end, "rest", &a->rest_count, &a->rest_bytes);
		const char *sys = strstr(p, "<system type=\"current\"");
		if (sys && (!end || sys < end))
			a->system_current = attr(sys, "size");
		p = end ? end : p + 1;
	}
	/* the totals after the last heap */
	const char *last = strrchr(xml, '>');
	(void)last;
	const char *tail = strstr(xml, "</heap>");
	while (tail) {
		const char *n = strstr(tail + 1, "</heap>");
		if (!n)
			break;
		tail = n;
	}
	if (tail)
		total(tail, NULL, "mmap", &t->mmap_count, &t->mmap_bytes);
}

bool truth_load(struct truth *t, const char *dir, const char *name)
{
	memset(t, 0, sizeof(*t));
	char path[700];
	snprintf(t->core, sizeof(t->core), "%s/%s.core", dir, name);
	snprintf(path, sizeof(path), "%s/%s.truth.json", dir, name);
	json_error_t e;
	t->json = json_load_file(path, 0, &e);
	if (!t->json) {
		fprintf(stderr, "%s: %s\n", path, e.text);
		return false;
	}
	snprintf(path, sizeof(path), "%s/%s.malloc_info.xml", dir, name);
	char *xml = hc_fixture_read_file(path, NULL);
	if (xml) {
		parse_malloc_info(t, xml);
		free(xml);
	}
	const char *scenario = json_string_value(json_object_get(t->json, "scenario"));
	if (scenario) {
		/* make-test-cores.sh keeps binaries in OUTDIR/bin; committed cores keep theirs beside them */
		snprintf(t->binary, sizeof(t->binary), "%s/../bin/%s", dir, scenario);
		if (access(t->binary, R_OK) != 0)
			snprintf(t->binary, sizeof(t->binary), "%s/%s", dir, scenario);
		if (access(t->binary, R_OK) != 0)
			t->binary[0] = 0;
	}
	snprintf(path, sizeof(path), "%s/runtime.json", dir);
	json_t *rt = json_load_file(path, 0, &e);
	if (rt) {
		const char *s = json_string_value(json_object_get(rt, "sysroot"));
		const char *r = json_string_value(json_object_get(rt, "runtime"));
		snprintf(t->sysroot, sizeof(t->sysroot), "%s", s && strcmp(s, "/") ? s : "");
		snprintf(t->runtime, sizeof(t->runtime), "%s", r ? r : "");
		json_decref(rt);
	}
	return true;
}

void truth_free(struct truth *t)
{
	json_decref(t->json);
	t->json = NULL;
}

uint64_t truth_mallinfo(const struct truth *t, const char *field)
{
	return (uint64_t)json_integer_value(json_object_get(json_object_get(t->json, "mallinfo2"), field));
}

static int compare_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

unsigned truth_for_each(const char *runtime, const char *scenario_prefix,
			void (*fn)(const struct truth *t, void *arg), void *arg)
{
	const char *cores = hc_fixture_cores_dir();
	if (!cores)
		return 0;
	char dir[600];
	snprintf(dir, sizeof(dir), "%s/%s", cores, runtime);
	return truth_for_each_in(dir, scenario_prefix, fn, arg);
}

unsigned truth_for_each_in(const char *dir, const char *scenario_prefix,
			   void (*fn)(const struct truth *t, void *arg), void *arg)
{
	DIR *d = opendir(dir);
	if (!d)
		return 0;
	char *names[256];
	unsigned n = 0;
	struct dirent *de;
	while ((de = readdir(d)) && n < 256) {
		size_t len = strlen(de->d_name);
		const char *suffix = ".truth.json";
		if (len > strlen(suffix) && !strcmp(de->d_name + len - strlen(suffix), suffix) &&
		    !strncmp(de->d_name, scenario_prefix, strlen(scenario_prefix)))
			names[n++] = strndup(de->d_name, len - strlen(suffix));
	}
	closedir(d);
	qsort(names, n, sizeof(*names), compare_names);
	unsigned done = 0;
	for (unsigned i = 0; i < n; i++) {
		/* one truth serves the gcore and the kernel core of the same process */
		const char *kinds[] = { ".core", ".kernel.core", ".core.zst", ".kernel.core.zst",
					".kernel.core.xz", ".kernel.core.lz4" };
		for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
			struct truth t;
			if (truth_load(&t, dir, names[i])) {
				snprintf(t.core, sizeof(t.core), "%s/%s%s", dir, names[i], kinds[k]);
				if (access(t.core, R_OK) == 0) {
					fn(&t, arg);
					done++;
				}
			}
			truth_free(&t);
		}
		free(names[i]);
	}
	return done;
}
