/* The `info` report: what the core says about the process, its threads, modules and mappings. */
#include "heapcore/report.h"

#include <inttypes.h>
#include <signal.h>
#include <string.h>

#include "decompress.h"
#include "heapcore/cpython.h"

static json_t *perms_string(uint32_t perms)
{
	char p[4] = { perms & HC_PERM_R ? 'r' : '-', perms & HC_PERM_W ? 'w' : '-',
		      perms & HC_PERM_X ? 'x' : '-', 0 };
	return json_string(p);
}

static const char *module_status_name(enum hc_module_file_status s)
{
	switch (s) {
	case HC_MODULE_FILE_FOUND:
		return "found";
	case HC_MODULE_FILE_MISMATCH:
		return "mismatch";
	case HC_MODULE_FILE_MISSING:
		break;
	}
	return "missing";
}

static json_t *info_threads(const struct hc_target *t, const struct hc_symbols *s)
{
	json_t *list = json_array();
	for (uint32_t i = 0; i < t->nthreads; i++) {
		const struct hc_thread *th = &t->threads[i];
		json_t *o = json_pack("{s:i, s:o, s:o, s:b}", "tid", th->tid, "pc",
				      hc_json_address(th->pc), "sp", hc_json_address(th->sp),
				      "fpregs", th->has_fpregs);
		if (th->has_tp)
			json_object_set_new(o, "tp", hc_json_address(th->tp));
		if (th->cursig)
			json_object_set_new(o, "signal", json_integer(th->cursig));
		char where[256];
		if (s && hc_symbols_describe(s, th->pc, where, sizeof(where)))
			json_object_set_new(o, "function", json_string(where));
		json_array_append_new(list, o);
	}
	return list;
}

/* The CPython runtime, when the process ran one: version, _PyRuntime, thread states. NULL if none. */
static json_t *info_python(struct hc_target *t, const struct hc_symbols *s)
{
	struct hc_cpython_runtime py;
	struct hc_error *err = hc_cpython_find(t, s, &py);
	if (err) {
		hc_error_destroy(err);
		return NULL;
	}
	if (!py.found)
		return NULL;
	char version[32];
	if (py.version_source == HC_CPYTHON_VERSION_FILE_NAME)
		snprintf(version, sizeof(version), "%u.%u", py.major, py.minor);
	else
		snprintf(version, sizeof(version), "%u.%u.%u", py.major, py.minor, py.micro);
	json_t *o = json_pack("{s:s, s:s, s:s, s:o, s:b}", "version", version, "version_from",
			      hc_cpython_version_source_name(py.version_source), "module", py.module->name,
			      "runtime", hc_json_address(py.runtime), "layout_known", py.layout_known);
	json_object_set_new(o, "free_threaded", json_boolean(py.free_threaded));
	json_object_set_new(o, "layout_dwarf", json_pack("{s:i, s:i}", "checked", py.dwarf_checked, "mismatched",
							 py.dwarf_mismatched));
	if (py.layout_known) {
		json_object_set_new(o, "main_interpreter", hc_json_address(py.main_interp));
		json_object_set_new(o, "interpreters", json_integer(py.ninterps));
		json_t *threads = json_array();
		for (uint32_t i = 0; i < py.nthreads; i++) {
			const struct hc_cpython_thread *th = &py.threads[i];
			json_t *x = json_pack("{s:o, s:o}", "tstate", hc_json_address(th->tstate), "interpreter",
					      hc_json_address(th->interp));
			/* the kernel's id as the thread state has it (3.11+), else that of the core's thread it matched */
			if (th->native_id)
				json_object_set_new(x, "tid", json_integer((json_int_t)th->native_id));
			else if (th->core_thread >= 0)
				json_object_set_new(x, "tid", json_integer(t->threads[th->core_thread].tid));
			json_array_append_new(threads, x);
		}
		json_object_set_new(o, "threads", threads);
	}
	hc_cpython_runtime_free(&py);
	return o;
}

static json_t *info_modules(const struct hc_symbols *s)
{
	json_t *list = json_array();
	for (uint32_t i = 0; s && i < s->nmodules; i++) {
		const struct hc_module *m = &s->modules[i];
		char id[2 * sizeof(m->build_id) + 1];
		hc_build_id_hex(m->build_id, m->build_id_len, id);
		json_t *o = json_pack("{s:s, s:o, s:o, s:s, s:b, s:s, s:b, s:b}", "name", m->name,
				      "start", hc_json_address(m->start), "end",
				      hc_json_address(m->end), "build_id", id, "main", m->is_main,
				      "file_status", module_status_name(m->file_status), "symtab",
				      m->has_symtab, "dwarf", m->has_dwarf);
		if (m->bias_known)
			json_object_set_new(o, "bias", hc_json_address(m->bias));
		if (m->file_path)
			json_object_set_new(o, "file", json_string(m->file_path));
		if (m->debug_path)
			json_object_set_new(o, "debug_file", json_string(m->debug_path));
		json_array_append_new(list, o);
	}
	return list;
}

static json_t *info_mappings(const struct hc_target *t)
{
	json_t *list = json_array();
	for (uint32_t i = 0; i < t->nsegments; i++) {
		const struct hc_segment *seg = &t->segments[i];
		json_t *o = json_pack("{s:o, s:o, s:o, s:I, s:I}", "start", hc_json_address(seg->start),
				      "end", hc_json_address(seg->end), "perms",
				      perms_string(seg->perms), "size",
				      (json_int_t)(seg->end - seg->start), "dumped",
				      (json_int_t)seg->dumped);
		if (seg->file >= 0) {
			const struct hc_mapped_file *f = &t->files[seg->file];
			json_object_set_new(o, "file", json_string(f->path));
			json_object_set_new(o, "file_offset",
					    json_integer(f->file_offset + (seg->start - f->start)));
		}
		json_array_append_new(list, o);
	}
	return list;
}

json_t *hc_report_info(struct hc_target *t, const struct hc_symbols *s)
{
	json_t *core = json_pack("{s:s, s:s, s:s, s:I, s:b}", "path", t->path, "arch",
				 hc_arch_name(t->arch), "compression",
				 hc_compression_name(t->compression), "size",
				 (json_int_t)t->file_size, "truncated", t->truncated);
	if (t->mtime >= 0) {
		json_object_set_new(core, "mtime", json_integer(t->mtime));
		json_object_set_new(core, "time_from", json_string(t->time_from_coredump ? "systemd-coredump" : "file"));
	}
	json_t *r = json_pack("{s:o}", "core", core);
	if (!r)
		return NULL;
	if (t->process.present) {
		const struct hc_process_info *p = &t->process;
		char state[2] = { p->state ? p->state : '?', 0 };
		json_object_set_new(r, "process",
				    json_pack("{s:i, s:i, s:i, s:i, s:s, s:s, s:s}", "pid", p->pid,
					      "ppid", p->ppid, "uid", p->uid, "gid", p->gid, "name",
					      p->fname, "args", p->psargs, "state", state));
	}
	if (t->signal.present) {
		const struct hc_signal_info *g = &t->signal;
		const char *abbrev = sigabbrev_np(g->signo);
		json_t *o = json_pack("{s:i, s:i, s:i}", "number", g->signo, "code", g->code,
				      "errno", g->err);
		if (abbrev) {
			char name[32];
			snprintf(name, sizeof(name), "SIG%s", abbrev);
			json_object_set_new(o, "name", json_string(name));
		}
		if (g->signo == SIGSEGV || g->signo == SIGBUS || g->signo == SIGILL ||
		    g->signo == SIGFPE)
			json_object_set_new(o, "address", hc_json_address(g->addr));
		json_object_set_new(r, "signal", o);
	}
	json_object_set_new(r, "threads", info_threads(t, s));
	json_t *py = info_python(t, s);
	if (py)
		json_object_set_new(r, "python", py);
	json_object_set_new(r, "modules", info_modules(s));
	json_object_set_new(r, "mappings", info_mappings(t));
	return r;
}

void hc_report_info_text(const json_t *r, FILE *out)
{
	const json_t *core = json_object_get(r, "core");
	fprintf(out, "Core:     %s (%s, %lld bytes%s%s%s)\n", hc_json_str(core, "path"), hc_json_str(core, "arch"),
		hc_json_int(core, "size"), strcmp(hc_json_str(core, "compression"), "none") ? ", " : "",
		strcmp(hc_json_str(core, "compression"), "none") ? hc_json_str(core, "compression") : "",
		json_is_true(json_object_get(core, "truncated")) ? ", TRUNCATED" : "");
	const json_t *p = json_object_get(r, "process");
	if (p)
		fprintf(out, "Process:  pid %lld (%s), ppid %lld, uid %lld, args: %s\n", hc_json_int(p, "pid"),
			hc_json_str(p, "name"), hc_json_int(p, "ppid"), hc_json_int(p, "uid"), hc_json_str(p, "args"));
	const json_t *g = json_object_get(r, "signal");
	if (g) {
		fprintf(out, "Signal:   %lld %s, code %lld", hc_json_int(g, "number"), hc_json_str(g, "name"),
			hc_json_int(g, "code"));
		if (json_object_get(g, "address"))
			fprintf(out, ", address %s", hc_json_str(g, "address"));
		fprintf(out, "\n");
	}
	const json_t *threads = json_object_get(r, "threads");
	fprintf(out, "\nThreads (%zu):\n", json_array_size(threads));
	for (size_t i = 0; i < json_array_size(threads); i++) {
		const json_t *th = json_array_get(threads, i);
		fprintf(out, "  tid %-8lld pc %-18s sp %-18s %s\n", hc_json_int(th, "tid"), hc_json_str(th, "pc"),
			hc_json_str(th, "sp"), hc_json_str(th, "function"));
	}
	const json_t *py = json_object_get(r, "python");
	if (py) {
		fprintf(out, "\nPython:   %s (from %s) in %s, _PyRuntime %s\n", hc_json_str(py, "version"),
			hc_json_str(py, "version_from"), hc_json_str(py, "module"), hc_json_str(py, "runtime"));
		const json_t *pt = json_object_get(py, "threads");
		if (json_is_true(json_object_get(py, "layout_known")))
			fprintf(out, "  %lld interpreter(s), main %s; %zu thread state(s)\n", hc_json_int(py, "interpreters"),
				hc_json_str(py, "main_interpreter"), json_array_size(pt));
		for (size_t i = 0; i < json_array_size(pt); i++) {
			const json_t *th = json_array_get(pt, i);
			fprintf(out, "  thread state %-18s", hc_json_str(th, "tstate"));
			if (json_object_get(th, "tid"))
				fprintf(out, " tid %lld", hc_json_int(th, "tid"));
			fprintf(out, "\n");
		}
	}
	const json_t *mods = json_object_get(r, "modules");
	fprintf(out, "\nModules (%zu):\n", json_array_size(mods));
	for (size_t i = 0; i < json_array_size(mods); i++) {
		const json_t *m = json_array_get(mods, i);
		const char *id = hc_json_str(m, "build_id");
		fprintf(out, "  %-18s %-8s %-40s %s", hc_json_str(m, "start"), hc_json_str(m, "file_status"),
			*id ? id : "(no build-id in core)", hc_json_str(m, "name"));
		if (json_object_get(m, "debug_file"))
			fprintf(out, "  [debug: %s]", hc_json_str(m, "debug_file"));
		fprintf(out, "\n");
	}
	const json_t *maps = json_object_get(r, "mappings");
	fprintf(out, "\nMappings (%zu):\n", json_array_size(maps));
	for (size_t i = 0; i < json_array_size(maps); i++) {
		const json_t *m = json_array_get(maps, i);
		long long size = hc_json_int(m, "size"), dumped = hc_json_int(m, "dumped");
		char note[96] = "";
		if (dumped < size)
			snprintf(note, sizeof(note), " (%lld of %lld bytes in core)", dumped, size);
		fprintf(out, "  %18s-%-18s %s %10lld %s%s\n", hc_json_str(m, "start"), hc_json_str(m, "end"),
			hc_json_str(m, "perms"), size, hc_json_str(m, "file"), note);
	}
	hc_report_warnings_text(r, out);
}
