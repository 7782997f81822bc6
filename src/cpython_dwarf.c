/*
 * The built-in CPython layouts checked against the interpreter's own DWARF,
 * when the module that holds _PyRuntime has it (a build with debug info,
 * like pyenv's): each offset heapcore reads is asked of the DWARF by its
 * struct and member name, per version. A disagreement means the build is
 * not the one the table describes (a patched or differently configured
 * interpreter): its objects are then not read, with a warning naming the
 * member, rather than misread. Members a version names differently, or the
 * DWARF lacks, are skipped, not failed.
 */
#include "heapcore/cpython.h"

#include <stdio.h>
#include <string.h>

#include "cpython_layout.h"
#include "cpython_refs.h"

struct member_check {
	unsigned min_minor, max_minor;
	const char *type, *member;
	int64_t want;
};

void hc_cpython_check_layout_dwarf(struct hc_target *t, const struct hc_symbols *s, struct hc_cpython_runtime *r)
{
	const struct hc_cpython_layout *L = r->layout;
	const struct hc_pyobj_layout *O = hc_pyobj_layout_for(r->minor);
	if (!r->module || !r->module->has_dwarf || !L || !O)
		return;
	const struct member_check checks[] = {
		{ 9, 9, "struct _is", "tstate_head", L->interp_threads },
		{ 11, 99, "struct _is", "threads.head", L->interp_threads },
		{ 9, 99, "struct _is", "next", L->interp_next },
		{ 9, 99, "struct _is", "gc", L->interp_gc },
		{ 9, 11, "struct _is", "modules", O->interp_modules },
		{ 12, 99, "struct _is", "imports.modules", O->interp_modules },
		{ 9, 99, "struct _gc_runtime_state", "generations", L->gc_generations },
		{ 9, 13, "struct _gc_runtime_state", "permanent_generation", L->gc_permanent },
		{ 9, 99, "struct _ts", "next", L->tstate_next },
		{ 9, 99, "struct _ts", "interp", L->tstate_interp },
		{ 9, 99, "struct _ts", "thread_id", L->tstate_thread_id },
		{ 11, 99, "struct _ts", "native_thread_id", L->tstate_native_id },
		{ 9, 9, "struct _ts", "frame", L->tstate_frame },
		{ 11, 12, "struct _ts", "cframe", L->tstate_frame },
		{ 13, 99, "struct _ts", "current_frame", L->tstate_frame },
		{ 11, 12, "struct _PyCFrame", "current_frame", L->cframe_frame },
		{ 9, 9, "struct _frame", "f_back", L->frame_previous },
		{ 9, 9, "struct _frame", "f_code", L->frame_code },
		{ 11, 99, "struct _PyInterpreterFrame", "previous", L->frame_previous },
		{ 11, 11, "struct _PyInterpreterFrame", "f_code", L->frame_code },
		{ 12, 12, "struct _PyInterpreterFrame", "f_code", L->frame_code },
		{ 13, 99, "struct _PyInterpreterFrame", "f_executable", L->frame_code },
		{ 11, 99, "struct _PyInterpreterFrame", "owner", L->frame_owner },
		{ 11, 99, "struct _PyInterpreterFrame", "localsplus", O->frame_localsplus },
		{ 11, 11, "struct _PyInterpreterFrame", "f_func", O->frame_func },
		{ 12, 99, "struct _PyInterpreterFrame", "f_funcobj", O->frame_func },
		{ 11, 99, "struct _PyInterpreterFrame", "f_globals", O->frame_globals },
		{ 11, 99, "struct _PyInterpreterFrame", "f_locals", O->frame_locals },
		{ 11, 99, "struct _PyInterpreterFrame", "frame_obj", O->frame_obj },
		{ 11, 12, "struct _PyInterpreterFrame", "prev_instr", O->frame_instr },
		{ 13, 99, "struct _PyInterpreterFrame", "instr_ptr", O->frame_instr },
		{ 9, 99, "PyCodeObject", "co_filename", L->co_filename },
		{ 9, 99, "PyCodeObject", "co_name", L->co_name },
		{ 9, 99, "PyCodeObject", "co_firstlineno", O->co_firstlineno },
		{ 9, 9, "PyCodeObject", "co_lnotab", O->co_linetable },
		{ 11, 99, "PyCodeObject", "co_linetable", O->co_linetable },
		{ 11, 99, "PyCodeObject", "co_localsplusnames", O->co_localsplusnames },
		{ 11, 99, "PyCodeObject", "co_stacksize", O->co_stacksize },
		{ 11, 99, "PyCodeObject", "co_code_adaptive", O->co_code_adaptive },
		{ 9, 99, "PyHeapTypeObject", "ht_qualname", O->ht_qualname },
		{ 9, 99, "PyHeapTypeObject", "ht_module", O->ht_module },
		{ 9, 99, "PyHeapTypeObject", "ht_cached_keys", O->ht_cached_keys },
		{ 9, 99, "PyTypeObject", "tp_flags", 168 },
		{ 9, 99, "PyTypeObject", "tp_dict", 264 },
		{ 9, 99, "PyTypeObject", "tp_weaklistoffset", 208 },
		{ 9, 99, "PyDictObject", "ma_keys", 32 },
		{ 9, 99, "PyDictObject", "ma_values", 40 },
		{ 9, 99, "PyListObject", "ob_item", 24 },
		{ 9, 99, "PyTupleObject", "ob_item", O->tuple_items },
		{ 9, 99, "PySetObject", "table", 40 },
		{ 9, 99, "PyModuleObject", "md_dict", 16 },
		{ 9, 99, "PyModuleObject", "md_state", 32 },
	};
	for (size_t i = 0; i < sizeof(checks) / sizeof(checks[0]); i++) {
		const struct member_check *c = &checks[i];
		uint64_t got;
		if (r->minor < c->min_minor || r->minor > c->max_minor || c->want < 0 ||
		    !hc_symbols_member_offset(s, r->module, c->type, c->member, &got))
			continue;
		r->dwarf_checked++;
		if ((int64_t)got == c->want)
			continue;
		r->dwarf_mismatched++;
		hc_warnings_add(&t->warnings, HC_WARN_PARTIAL,
				"python %u.%u: %s's DWARF puts %s.%s at %llu, the built-in layout at %lld: this build is "
				"not the one the table describes, so its objects are not read",
				r->major, r->minor, r->module->name, c->type, c->member, (unsigned long long)got,
				(long long)c->want);
	}
	if (r->dwarf_mismatched)
		r->layout_known = false;
}
