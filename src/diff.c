/*
 * `heapcore diff`: two analyze reports of one program, each with its
 * snapshot (diff_snapshot.c), compared (heapcore/diff.h). Owns what counts
 * as growth: the thresholds below sit above the noise a process makes
 * between two cores while doing nothing (docs/diff.md says what each
 * finding means and how the projection is made).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "heapcore/diff.h"
#include "heapcore/findings.h"
#include "heapcore/report.h"
#include "report_findings.h"
#include "../heuristics/heuristics.h"

/* An owner or a type grew if it grew by this fraction of what it was, and by these amounts */
#define GROWTH_FRACTION 0.10
#define GROWTH_MIN_ITEMS 100
#define GROWTH_MIN_BYTES (64u << 10)
/* A finding of the old core got worse if what it retains grew so much */
#define WORSE_FRACTION 0.10
#define TOP_ROWS 30

static json_int_t jint(const json_t *o, const char *k)
{
	return json_integer_value(json_object_get(o, k));
}

static const json_t *snap(const json_t *report)
{
	return json_object_get(report, "snapshot");
}

/* 1234567 -> "1.2 MiB", -1234567 -> "-1.2 MiB" */
static void human_bytes(double bytes, char *buf, size_t len)
{
	if (bytes < 0 && len > 1) {
		buf[0] = '-';
		hc_heuristics_bytes((uint64_t)-bytes, buf + 1, len - 1);
	} else {
		hc_heuristics_bytes(bytes > 0 ? (uint64_t)bytes : 0, buf, len);
	}
}

/* 5400 -> "1.5 hours": the unit a person would say it in */
static void human_duration(double secs, char *buf, size_t len)
{
	if (secs < 10)
		snprintf(buf, len, "%.1f seconds", secs);
	else if (secs < 120)
		snprintf(buf, len, "%.0f seconds", secs);
	else if (secs < 2 * 3600)
		snprintf(buf, len, "%.0f minutes", secs / 60);
	else if (secs < 2 * 86400)
		snprintf(buf, len, "%.1f hours", secs / 3600);
	else
		snprintf(buf, len, "%.1f days", secs / 86400);
}

/* 1234567 -> "1,234,567" */
static void grouped(long long v, char *buf, size_t len)
{
	char digits[32];
	snprintf(digits, sizeof(digits), "%lld", v < 0 ? -v : v);
	size_t n = strlen(digits), o = 0;
	if (v < 0 && o + 1 < len)
		buf[o++] = '-';
	for (size_t i = 0; i < n && o + 2 < len; i++) {
		if (i && (n - i) % 3 == 0)
			buf[o++] = ',';
		buf[o++] = digits[i];
	}
	buf[o] = 0;
}

/* Whether growth from (items0, bytes0) to (items1, bytes1) is above the noise. */
static bool grew(long long items0, long long items1, long long bytes0, long long bytes1)
{
	long long di = items1 - items0, db = bytes1 - bytes0;
	return di >= GROWTH_MIN_ITEMS && db >= (long long)GROWTH_MIN_BYTES && (double)di >= GROWTH_FRACTION * (double)items0;
}

struct diff_ctx {
	const json_t *old_snap, *new_snap;
	const json_t *new_findings;  /* NEW's analyze findings: where an anchor is declared */
	double interval;             /* seconds; 0 if unknown */
	struct hc_findings found;
	bool nomem;
};

static void rate_text(const struct diff_ctx *c, double delta_items, double delta_bytes, const char *unit, char *buf,
		      size_t len)
{
	if (c->interval <= 0) {
		buf[0] = 0;
		return;
	}
	double hours = c->interval / 3600;
	char b[32];
	human_bytes(delta_bytes / hours, b, sizeof(b));
	char over[32];
	human_duration(c->interval, over, sizeof(over));
	snprintf(buf, len, "; %.0f %s and %s per hour (measured over %s)", delta_items / hours, unit, b, over);
}

static void add_finding(struct diff_ctx *c, const struct hc_finding *x)
{
	if (!hc_findings_add(&c->found, x))
		c->nomem = true;
}

/* The severity of an owner's growth: see docs/diff.md. */
static enum hc_severity growth_severity(long long items0, long long items1, long long bytes0, long long bytes1)
{
	long long db = bytes1 - bytes0;
	if ((db >= (4ll << 20) && items1 >= 2 * items0) || db >= (256ll << 20))
		return HC_SEVERITY_CRITICAL;
	if (db >= (1ll << 20) || items1 - items0 >= 1000)
		return HC_SEVERITY_WARNING;
	return HC_SEVERITY_OPPORTUNITY;
}

static json_t *find_by(const json_t *list, const char *key, const char *value, const char *key2, const char *value2)
{
	for (size_t i = 0; i < json_array_size(list); i++) {
		json_t *x = json_array_get(list, i);
		if (!strcmp(hc_json_str(x, key), value) && (!key2 || !strcmp(hc_json_str(x, key2), value2)))
			return x;
	}
	return NULL;
}

/* The file NEW's analysis names for the anchor at path (a module's __file__), or "". */
static const char *declared_in(const struct diff_ctx *c, const char *path)
{
	for (size_t i = 0; i < json_array_size(c->new_findings); i++) {
		const json_t *f = json_array_get(c->new_findings, i);
		if (!strcmp(hc_json_str(f, "path"), path))
			return hc_json_str(json_object_get(f, "location"), "file");
	}
	return "";
}

/* ---- owners: native owners by name and kind, Python containers by path ---- */

static void owner_growth(struct diff_ctx *c, json_t *rows)
{
	const json_t *o0 = json_object_get(json_object_get(c->old_snap, "native"), "owners");
	const json_t *o1 = json_object_get(json_object_get(c->new_snap, "native"), "owners");
	for (size_t i = 0; i < json_array_size(o1); i++) {
		const json_t *b = json_array_get(o1, i);
		/* an anonymous mapping is named by its addresses, which are no name from one core to the next */
		if (!strcmp(hc_json_str(b, "kind"), "other"))
			continue;
		const json_t *a = find_by(o0, "name", hc_json_str(b, "name"), "kind", hc_json_str(b, "kind"));
		long long n0 = a ? jint(a, "retained_count") : 0, n1 = jint(b, "retained_count");
		long long b0 = a ? jint(a, "retained_bytes") : 0, b1 = jint(b, "retained_bytes");
		if (!grew(n0, n1, b0, b1) || (!a && b1 < (1ll << 20)))
			continue;
		json_array_append_new(rows, json_pack("{s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:b}", "language", "native",
						      "name", hc_json_str(b, "name"), "kind", hc_json_str(b, "kind"),
						      "old_length", (json_int_t)n0, "new_length", (json_int_t)n1,
						      "old_bytes", (json_int_t)b0, "new_bytes", (json_int_t)b1, "matched",
						      a != NULL));
		char s0[32], s1[32], db[32], title[512], ev[512], rate[160];
		grouped(n0, s0, sizeof(s0));
		grouped(n1, s1, sizeof(s1));
		human_bytes((double)(b1 - b0), db, sizeof(db));
		rate_text(c, (double)(n1 - n0), (double)(b1 - b0), "allocations", rate, sizeof(rate));
		snprintf(title, sizeof(title), "%s (%s): %s -> %s allocations, +%s", hc_json_str(b, "name"),
			 hc_json_str(b, "kind"), s0, s1, db);
		char h0[32], h1[32];
		human_bytes((double)b0, h0, sizeof(h0));
		human_bytes((double)b1, h1, sizeof(h1));
		snprintf(ev, sizeof(ev),
			 "the allocations %s keeps alive (its dominator subtree) went from %s to %s, their bytes from "
			 "%s to %s%s",
			 hc_json_str(b, "name"), s0, s1, h0, h1, rate);
		struct hc_finding x = {
			.severity = growth_severity(n0, n1, b0, b1), .kind = "growing-owner", .title = title,
			.count = (uint64_t)n1, .bytes = (uint64_t)(b1 - b0), .retained_bytes = (uint64_t)(b1 - b0),
			.location = (char *)hc_json_str(b, "name"), .path = (char *)hc_json_str(b, "name"), .evidence = ev,
			.recommendation = "find what adds to it and what should take out: `heapcore explain NEW ADDR` on one "
					  "of its newest allocations shows its chain; bound it or free what it no longer needs",
			.expected_reduction = (uint64_t)(b1 - b0), .confidence = a ? 0.9 : 0.6,
		};
		add_finding(c, &x);
	}
}

static void container_growth(struct diff_ctx *c, json_t *rows)
{
	const json_t *c0 = json_object_get(json_object_get(c->old_snap, "python"), "containers");
	const json_t *c1 = json_object_get(json_object_get(c->new_snap, "python"), "containers");
	for (size_t i = 0; i < json_array_size(c1); i++) {
		const json_t *b = json_array_get(c1, i);
		const char *path = hc_json_str(b, "path");
		if (!path[0])
			continue;
		const json_t *a = find_by(c0, "path", path, "type", hc_json_str(b, "type"));
		long long n0 = a ? jint(a, "length") : 0, n1 = jint(b, "length");
		/* retained bytes where the dominator tree gave them, else the container's own */
		const char *bk = json_object_get(b, "retained_bytes") ? "retained_bytes" : "bytes";
		long long b0 = a ? jint(a, bk) : 0, b1 = jint(b, bk);
		/* a container only in the new core is growth only if it is big: paths of small ones come and go */
		if (!grew(n0, n1, b0, b1) || (!a && b1 < (1ll << 20)))
			continue;
		char name[512];
		hc_heuristics_python_name(path, name, sizeof(name));
		json_array_append_new(rows, json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:b}", "language",
						      "python", "name", name, "path", path, "kind", hc_json_str(b, "type"),
						      "old_length", (json_int_t)n0, "new_length", (json_int_t)n1,
						      "old_bytes", (json_int_t)b0, "new_bytes", (json_int_t)b1, "matched",
						      a != NULL));
		char s0[32], s1[32], db[32], title[768], ev[768], rate[160];
		grouped(n0, s0, sizeof(s0));
		grouped(n1, s1, sizeof(s1));
		human_bytes((double)(b1 - b0), db, sizeof(db));
		rate_text(c, (double)(n1 - n0), (double)(b1 - b0), "entries", rate, sizeof(rate));
		snprintf(title, sizeof(title), "%s: %s -> %s entries, +%s", name, s0, s1, db);
		char h0[32], h1[32];
		human_bytes((double)b0, h0, sizeof(h0));
		human_bytes((double)b1, h1, sizeof(h1));
		snprintf(ev, sizeof(ev), "len() of the %s at %s went from %s to %s, what it keeps alive from %s to %s%s",
			 hc_json_str(b, "type"), path, s0, s1, h0, h1, rate);
		struct hc_finding x = {
			.severity = growth_severity(n0, n1, b0, b1), .kind = "growing-container", .title = title,
			.count = (uint64_t)n1, .bytes = (uint64_t)(b1 - b0), .retained_bytes = (uint64_t)(b1 - b0),
			.location = name, .path = (char *)path, .evidence = ev, .file = (char *)declared_in(c, path),
			.recommendation = "bound it (an LRU such as functools.lru_cache(maxsize=...), a maxlen, an expiry) "
					  "or remove entries when they are done with (unsubscribe, del)",
			.expected_reduction = (uint64_t)(b1 - b0), .confidence = a ? 0.9 : 0.6,
		};
		add_finding(c, &x);
	}
}

/* ---- types ---- */

static void type_growth(const json_t *t0, const json_t *t1, const char *language, json_t *rows)
{
	for (size_t i = 0; i < json_array_size(t1); i++) {
		const json_t *b = json_array_get(t1, i);
		const json_t *a = find_by(t0, "name", hc_json_str(b, "name"), NULL, NULL);
		long long n0 = a ? jint(a, "count") : 0, n1 = jint(b, "count");
		long long b0 = a ? jint(a, "bytes") : 0, b1 = jint(b, "bytes");
		if (n1 == n0 && b1 == b0)
			continue;
		json_array_append_new(rows, json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I}", "language", language,
						      "name", hc_json_str(b, "name"), "old_count", (json_int_t)n0,
						      "new_count", (json_int_t)n1, "old_bytes", (json_int_t)b0, "new_bytes",
						      (json_int_t)b1, "delta_count", (json_int_t)(n1 - n0), "delta_bytes",
						      (json_int_t)(b1 - b0)));
	}
}

static int by_delta_bytes(const void *x, const void *y)
{
	json_int_t a = jint(*(json_t *const *)x, "delta_bytes"), b = jint(*(json_t *const *)y, "delta_bytes");
	return a < b ? 1 : a > b ? -1 : 0;
}

/* rows sorted by delta_bytes, largest growth first, cut to TOP_ROWS */
static json_t *ranked(json_t *rows)
{
	size_t n = json_array_size(rows);
	json_t **v = malloc((n ? n : 1) * sizeof(*v));
	json_t *out = json_array();
	if (!v)
		return out;
	for (size_t i = 0; i < n; i++)
		v[i] = json_array_get(rows, i);
	qsort(v, n, sizeof(*v), by_delta_bytes);
	for (size_t i = 0; i < n && i < TOP_ROWS; i++)
		json_array_append(out, v[i]);
	free(v);
	json_decref(rows);
	return out;
}

/* ---- findings of the two analyses ---- */

static const json_t *same_finding(const json_t *list, const json_t *f)
{
	const char *kind = hc_json_str(f, "kind"), *name = hc_json_str(json_object_get(f, "location"), "name");
	const char *path = hc_json_str(f, "path");
	for (size_t i = 0; i < json_array_size(list); i++) {
		const json_t *g = json_array_get(list, i);
		if (!strcmp(hc_json_str(g, "kind"), kind) &&
		    !strcmp(hc_json_str(json_object_get(g, "location"), "name"), name) &&
		    (!strcmp(hc_json_str(g, "path"), path) || !strcmp(kind, "leaked-cluster")))
			return g;
	}
	return NULL;
}

/* Whether a growth finding already names this anchor (its path or its location). */
static bool growth_names(const struct diff_ctx *c, const char *path, const char *location)
{
	for (uint32_t i = 0; i < c->found.n; i++) {
		const struct hc_finding *x = &c->found.items[i];
		if ((path[0] && !strcmp(x->path, path)) || (location[0] && !strcmp(x->location, location)))
			return true;
	}
	return false;
}

static void finding_changes(struct diff_ctx *c, const json_t *old_report, const json_t *new_report, json_t *out)
{
	const json_t *f0 = json_object_get(old_report, "findings"), *f1 = json_object_get(new_report, "findings");
	json_t *fresh = json_array(), *worse = json_array(), *gone = json_array();
	for (size_t i = 0; i < json_array_size(f1); i++) {
		const json_t *b = json_array_get(f1, i);
		const json_t *a = same_finding(f0, b);
		long long r0 = a ? jint(a, "retained_bytes") : 0, r1 = jint(b, "retained_bytes");
		enum hc_severity sev = HC_SEVERITY_OPPORTUNITY;
		hc_severity_parse(hc_json_str(b, "severity"), &sev);
		/* the growth finding on the same anchor says it, with the lengths: listed, not said twice */
		bool said = growth_names(c, hc_json_str(b, "path"), hc_json_str(json_object_get(b, "location"), "name"));
		char title[768], ev[1024];
		if (!a) {
			json_array_append_new(fresh, json_pack("{s:s, s:s, s:I}", "kind", hc_json_str(b, "kind"), "title",
							       hc_json_str(b, "title"), "retained_bytes", (json_int_t)r1));
			if (sev == HC_SEVERITY_OPPORTUNITY || said)
				continue;
			snprintf(title, sizeof(title), "new since OLD: %s", hc_json_str(b, "title"));
			snprintf(ev, sizeof(ev), "not in OLD's findings; %s", hc_json_str(b, "evidence"));
		} else if (r1 - r0 >= (long long)GROWTH_MIN_BYTES && (double)(r1 - r0) >= WORSE_FRACTION * (double)r0) {
			char d[32];
			human_bytes((double)(r1 - r0), d, sizeof(d));
			json_array_append_new(worse, json_pack("{s:s, s:s, s:I, s:I}", "kind", hc_json_str(b, "kind"), "title",
							       hc_json_str(b, "title"), "old_retained_bytes", (json_int_t)r0,
							       "new_retained_bytes", (json_int_t)r1));
			if (said)
				continue;
			snprintf(title, sizeof(title), "worse since OLD (+%s): %s", d, hc_json_str(b, "title"));
			char h0[32], h1[32], rate[160];
			human_bytes((double)r0, h0, sizeof(h0));
			human_bytes((double)r1, h1, sizeof(h1));
			rate_text(c, (double)(jint(b, "count") - jint(a, "count")), (double)(r1 - r0), "items", rate,
				  sizeof(rate));
			snprintf(ev, sizeof(ev), "it retained %s in OLD, %s now (%lld -> %lld items)%s; %s", h0, h1,
				 (long long)jint(a, "count"), (long long)jint(b, "count"), rate, hc_json_str(b, "evidence"));
		} else {
			continue;
		}
		struct hc_finding x = {
			.severity = sev, .kind = !a ? "new-finding" : "worse-finding", .title = title,
			.count = (uint64_t)jint(b, "count"), .bytes = (uint64_t)jint(b, "bytes"),
			.retained_bytes = (uint64_t)(r1 - r0), .location = (char *)hc_json_str(json_object_get(b, "location"), "name"),
			.file = (char *)hc_json_str(json_object_get(b, "location"), "file"),
			.line = (int32_t)jint(json_object_get(b, "location"), "line"), .path = (char *)hc_json_str(b, "path"),
			.evidence = ev, .recommendation = (char *)hc_json_str(b, "recommendation"),
			.expected_reduction = (uint64_t)(r1 - r0), .confidence = 0.8,
		};
		add_finding(c, &x);
	}
	for (size_t i = 0; i < json_array_size(f0); i++) {
		const json_t *a = json_array_get(f0, i);
		if (!same_finding(f1, a))
			json_array_append_new(gone, json_pack("{s:s, s:s}", "kind", hc_json_str(a, "kind"), "title",
							      hc_json_str(a, "title")));
	}
	json_object_set_new(out, "findings_new", fresh);
	json_object_set_new(out, "findings_worse", worse);
	json_object_set_new(out, "findings_gone", gone);
}

/* ---- identity, time, totals, projection ---- */

static json_t *side_json(const json_t *report)
{
	const json_t *s = snap(report), *p = json_object_get(s, "program");
	json_t *o = json_pack("{s:s}", "path", hc_json_str(json_object_get(report, "core"), "path"));
	const char *keys[] = { "executable", "build_id", "pid", "command" };
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (json_object_get(p, keys[i]))
			json_object_set(o, keys[i], json_object_get(p, keys[i]));
	if (json_object_get(s, "time")) {
		json_object_set(o, "time", json_object_get(s, "time"));
		json_object_set(o, "time_from", json_object_get(s, "time_from"));
	}
	return o;
}

/* Whether OLD and NEW are of one program; if not, why in buf. */
static bool same_program(const json_t *s0, const json_t *s1, char *buf, size_t len)
{
	const json_t *p0 = json_object_get(s0, "program"), *p1 = json_object_get(s1, "program");
	const char *m0 = hc_json_str(json_object_get(s0, "python"), "main");
	const char *m1 = hc_json_str(json_object_get(s1, "python"), "main");
	if (*m0 && *m1 && strcmp(m0, m1)) {
		snprintf(buf, len, "Python scripts %s and %s", m0, m1);
		return false;
	}
	const char *id0 = hc_json_str(p0, "build_id"), *id1 = hc_json_str(p1, "build_id");
	const char *e0 = hc_json_str(p0, "executable"), *e1 = hc_json_str(p1, "executable");
	if (*id0 && *id1 && strcmp(id0, id1)) {
		snprintf(buf, len, "%s (build-id %s) and %s (build-id %s)", e0, id0, e1, id1);
		return false;
	}
	if ((!*id0 || !*id1) && strcmp(e0, e1)) {
		snprintf(buf, len, "%s and %s", e0, e1);
		return false;
	}
	/*
	 * One interpreter runs many programs: the command line (the script)
	 * tells them apart. gdb writes only the executable there, the kernel
	 * and heapcore's own copy the arguments too (cut at 80 bytes): one
	 * that begins the other is the same.
	 */
	const char *c0 = hc_json_str(p0, "command"), *c1 = hc_json_str(p1, "command");
	size_t l0 = strlen(c0), l1 = strlen(c1);
	while (l0 && c0[l0 - 1] == ' ')
		l0--;
	while (l1 && c1[l1 - 1] == ' ')
		l1--;
	size_t common = l0 < l1 ? l0 : l1;
	bool prefix = !strncmp(c0, c1, common) && (l0 == l1 || (l0 < l1 ? c1[l0] : c0[l1]) == ' ');
	if (l0 && l1 && !prefix) {
		snprintf(buf, len, "'%s' and '%s' (same executable %s, other command lines)", c0, c1, e1);
		return false;
	}
	return true;
}

static json_t *totals_json(const struct diff_ctx *c)
{
	const json_t *n0 = json_object_get(c->old_snap, "native"), *n1 = json_object_get(c->new_snap, "native");
	json_t *o = json_pack("{s:{s:I, s:I, s:I}, s:{s:I, s:I, s:I}}", "old", "allocations", jint(n0, "allocations"),
			      "bytes", jint(n0, "bytes"), "footprint", jint(n0, "footprint"), "new", "allocations",
			      jint(n1, "allocations"), "bytes", jint(n1, "bytes"), "footprint", jint(n1, "footprint"));
	const json_t *p0 = json_object_get(c->old_snap, "python"), *p1 = json_object_get(c->new_snap, "python");
	if (p0 && p1)
		json_object_set_new(o, "python", json_pack("{s:I, s:I, s:I, s:I}", "old_objects", jint(p0, "objects"),
							   "new_objects", jint(p1, "objects"), "old_bytes",
							   jint(p0, "bytes"), "new_bytes", jint(p1, "bytes")));
	return o;
}

/*
 * At the rate between the two snapshots, when the heap's footprint reaches
 * the limit: a straight line through two points, said as an estimate.
 */
static json_t *projection_json(const struct diff_ctx *c, const struct hc_diff_options *opts)
{
	long long f0 = jint(json_object_get(c->old_snap, "native"), "footprint");
	long long f1 = jint(json_object_get(c->new_snap, "native"), "footprint");
	json_t *o = json_pack("{s:I, s:I}", "old_footprint", (json_int_t)f0, "new_footprint", (json_int_t)f1);
	char text[512], a[32], b[32], r[32], l[32];
	human_bytes((double)f0, a, sizeof(a));
	human_bytes((double)f1, b, sizeof(b));
	if (c->interval <= 0) {
		snprintf(text, sizeof(text),
			 "the heap went from %s to %s; the time between the cores is unknown (give --interval), so "
			 "there is no rate",
			 a, b);
		json_object_set_new(o, "estimate", json_string(text));
		return o;
	}
	double per_hour = (double)(f1 - f0) / (c->interval / 3600);
	human_bytes(per_hour, r, sizeof(r));
	json_object_set_new(o, "bytes_per_hour", json_real(per_hour));
	if (!opts->limit) {
		char over[32];
		human_duration(c->interval, over, sizeof(over));
		snprintf(text, sizeof(text), "the heap went from %s to %s in %s: %s per hour (give --limit for a projection)",
			 a, b, over, r);
	} else {
		human_bytes((double)opts->limit, l, sizeof(l));
		json_object_set_new(o, "limit", json_integer((json_int_t)opts->limit));
		if ((double)f1 >= (double)opts->limit) {
			snprintf(text, sizeof(text), "the heap (%s) is already at or past the limit of %s", b, l);
		} else if (per_hour <= 0) {
			snprintf(text, sizeof(text), "the heap went from %s to %s: not growing, so it does not reach %s at this rate",
				 a, b, l);
		} else {
			double hours = ((double)opts->limit - (double)f1) / per_hour;
			json_object_set_new(o, "hours_to_limit", json_real(hours));
			char in[32];
			human_duration(hours * 3600, in, sizeof(in));
			snprintf(text, sizeof(text),
				 "an estimate from two points: growing %s per hour from %s, the heap would reach %s in "
				 "about %s, if it kept growing at the same rate",
				 r, b, l, in);
			const json_t *t1 = json_object_get(c->new_snap, "time");
			if (t1) {
				time_t when = (time_t)(json_number_value(t1) + hours * 3600);
				struct tm tm;
				char iso[40];
				if (gmtime_r(&when, &tm) && strftime(iso, sizeof(iso), "%Y-%m-%dT%H:%MZ", &tm))
					json_object_set_new(o, "reaches_limit_at", json_string(iso));
			}
		}
	}
	json_object_set_new(o, "estimate", json_string(text));
	return o;
}

struct hc_error *hc_diff_compare(const json_t *old_report, const json_t *new_report,
				 const struct hc_diff_options *opts, json_t **out)
{
	*out = NULL;
	struct diff_ctx c = { .old_snap = snap(old_report), .new_snap = snap(new_report),
			      .new_findings = json_object_get(new_report, "findings") };
	if (!c.old_snap || !c.new_snap)
		return hc_error_create(HC_ERR_INTERNAL, "diff: a report without its snapshot");
	char why[512];
	if (!opts->force && !same_program(c.old_snap, c.new_snap, why, sizeof(why)))
		return hc_error_create(HC_ERR_USAGE, "OLD and NEW are cores of different programs: %s (--force compares them anyway)",
				       why);
	json_t *r = json_pack("{s:s, s:o, s:o}", "schema", "heapcore.diff/1", "old", side_json(old_report), "new",
			      side_json(new_report));
	if (!r)
		return &hc_error_nomem;
	const json_t *t0 = json_object_get(c.old_snap, "time"), *t1 = json_object_get(c.new_snap, "time");
	const char *source = "unknown";
	if (opts->interval > 0) {
		c.interval = opts->interval;
		source = "--interval";
	} else if (t0 && t1 && json_number_value(t1) > json_number_value(t0)) {
		c.interval = json_number_value(t1) - json_number_value(t0);
		source = "the cores' times";
	}
	json_object_set_new(r, "interval", json_pack("{s:f, s:s}", "seconds", c.interval, "from", source));
	json_object_set_new(r, "totals", totals_json(&c));

	c.found.process_bytes = (uint64_t)jint(json_object_get(c.new_snap, "native"), "bytes");
	json_t *owners = json_array();
	container_growth(&c, owners);
	owner_growth(&c, owners);
	for (size_t i = 0; i < json_array_size(owners); i++) {
		json_t *x = json_array_get(owners, i);
		json_object_set_new(x, "delta_bytes", json_integer(jint(x, "new_bytes") - jint(x, "old_bytes")));
		json_object_set_new(x, "delta_length", json_integer(jint(x, "new_length") - jint(x, "old_length")));
	}
	json_object_set_new(r, "owners", ranked(owners));

	json_t *types = json_array();
	type_growth(json_object_get(json_object_get(c.old_snap, "native"), "types"),
		    json_object_get(json_object_get(c.new_snap, "native"), "types"), "native", types);
	type_growth(json_object_get(json_object_get(c.old_snap, "python"), "types"),
		    json_object_get(json_object_get(c.new_snap, "python"), "types"), "python", types);
	json_object_set_new(r, "types", ranked(types));

	finding_changes(&c, old_report, new_report, r);
	json_object_set_new(r, "projection", projection_json(&c, opts));
	hc_findings_rank(&c.found);
	hc_report_findings_json(&c.found, r);
	hc_findings_free(&c.found);
	if (c.nomem) {
		json_decref(r);
		return &hc_error_nomem;
	}
	bool partial = json_is_true(json_object_get(old_report, "partial")) ||
		       json_is_true(json_object_get(new_report, "partial"));
	json_t *warnings = json_array();
	const json_t *sides[2] = { old_report, new_report };
	for (int k = 0; k < 2; k++) {
		const json_t *w = json_object_get(sides[k], "warnings");
		for (size_t i = 0; i < json_array_size(w); i++)
			json_array_append_new(warnings, json_pack("{s:s, s:s+}", "severity",
								  hc_json_str(json_array_get(w, i), "severity"), "message",
								  k ? "NEW: " : "OLD: ",
								  hc_json_str(json_array_get(w, i), "message")));
	}
	json_object_set_new(r, "warnings", warnings);
	json_object_set_new(r, "partial", json_boolean(partial));
	*out = r;
	return NULL;
}

/* ---- text ---- */

void hc_report_diff_text(const json_t *r, FILE *out)
{
	hc_report_findings_text(r, out);
	fprintf(out, "\nDETAILS\n\n");
	static const char *const sides[] = { "old", "new" };
	for (int k = 0; k < 2; k++) {
		const json_t *x = json_object_get(r, sides[k]);
		fprintf(out, "%s %s", k ? "NEW" : "OLD", hc_json_str(x, "path"));
		if (json_object_get(x, "pid"))
			fprintf(out, " (pid %lld)", hc_json_int(x, "pid"));
		fputc('\n', out);
	}
	const json_t *iv = json_object_get(r, "interval");
	double secs = json_real_value(json_object_get(iv, "seconds"));
	if (secs > 0)
		fprintf(out, "%.1f s apart (from %s)\n", secs, hc_json_str(iv, "from"));
	else
		fprintf(out, "the time between them is unknown\n");
	const json_t *t = json_object_get(r, "totals");
	char a[32], b[32];
	human_bytes((double)hc_json_int(json_object_get(t, "old"), "bytes"), a, sizeof(a));
	human_bytes((double)hc_json_int(json_object_get(t, "new"), "bytes"), b, sizeof(b));
	fprintf(out, "Heap in use: %lld allocations, %s -> %lld allocations, %s\n",
		hc_json_int(json_object_get(t, "old"), "allocations"), a,
		hc_json_int(json_object_get(t, "new"), "allocations"), b);
	const json_t *py = json_object_get(t, "python");
	if (py) {
		human_bytes((double)hc_json_int(py, "old_bytes"), a, sizeof(a));
		human_bytes((double)hc_json_int(py, "new_bytes"), b, sizeof(b));
		fprintf(out, "Python objects: %lld, %s -> %lld, %s\n", hc_json_int(py, "old_objects"), a,
			hc_json_int(py, "new_objects"), b);
	}
	fprintf(out, "Projection: %s\n", hc_json_str(json_object_get(r, "projection"), "estimate"));

	const json_t *owners = json_object_get(r, "owners");
	if (json_array_size(owners)) {
		fprintf(out, "\nGrowing owners and containers:\n");
		for (size_t i = 0; i < json_array_size(owners); i++) {
			const json_t *x = json_array_get(owners, i);
			human_bytes((double)hc_json_int(x, "delta_bytes"), a, sizeof(a));
			fprintf(out, "  %-10s %12lld -> %-12lld %s  %s [%s]\n", a, hc_json_int(x, "old_length"),
				hc_json_int(x, "new_length"), hc_json_str(x, "language"), hc_json_str(x, "name"),
				hc_json_str(x, "kind"));
		}
	}
	const json_t *types = json_object_get(r, "types");
	if (json_array_size(types)) {
		fprintf(out, "\nTypes (count and bytes, largest change first):\n");
		for (size_t i = 0; i < json_array_size(types) && i < 15; i++) {
			const json_t *x = json_array_get(types, i);
			human_bytes((double)hc_json_int(x, "delta_bytes"), a, sizeof(a));
			fprintf(out, "  %-10s %+10lld  %s %s (%lld -> %lld)\n", a, hc_json_int(x, "delta_count"),
				hc_json_str(x, "language"), hc_json_str(x, "name"), hc_json_int(x, "old_count"),
				hc_json_int(x, "new_count"));
		}
	}
	const json_t *gone = json_object_get(r, "findings_gone");
	if (json_array_size(gone)) {
		fprintf(out, "\nFindings of OLD no longer in NEW:\n");
		for (size_t i = 0; i < json_array_size(gone); i++)
			fprintf(out, "  [%s] %s\n", hc_json_str(json_array_get(gone, i), "kind"),
				hc_json_str(json_array_get(gone, i), "title"));
	}
	hc_report_warnings_text(r, out);
}
