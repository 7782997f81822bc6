/*
 * Types suite: static variables named from DWARF (and from ELF symbols
 * without it), allocation types by vtable (full symbols, .dynsym of a
 * stripped -rdynamic binary, RTTI, nothing), DWARF types followed from
 * g_list down a 100-node list, and shape signatures, on cores gcore'd from
 * small C and C++ programs. Graphs are made here from the heap walk (nodes
 * and data roots), so that these tests depend on the walk alone; one test
 * runs on the graph builder's graph too.
 */
#include <CUnit/CUnit.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fixtures.h"
#include "heapcore/glibc_heap.h"
#include "heapcore/graph.h"
#include "heapcore/symbols.h"
#include "heapcore/target.h"
#include "heapcore/types.h"
#include "suites.h"

/* CU_ASSERT_STRING_EQUAL on a NULL string would crash the run instead of failing the test. */
static const char *nz(const char *s)
{
	return s ? s : "(null)";
}
#define ASSERT_STR(a, b) CU_ASSERT_STRING_EQUAL(nz(a), b)

static const char c_source[] =
	"#include <stddef.h>\n"
	"#include <stdio.h>\n"
	"#include <stdlib.h>\n"
	"#include <unistd.h>\n"
	"struct node { struct node *next; long value; };\n"
	"struct cfg { long a; struct node *next; };\n"
	"struct registry { int count; struct node *items[8]; struct cfg cfg; };\n"
	"struct pair { void *heap; long n; void (*fn)(void); };\n"
	"struct trio { long a; long b; void *heap; };\n"
	"struct node *g_list; /* G_LIST */\n"
	"struct registry g_registry;\n"
	"void *g_set_a[20], *g_set_b[20], *g_set_c[20];\n"
	"static void callback(void) {}\n"
	"int main(void)\n"
	"{\n"
	"	static long s_calls = 3;\n"
	"	for (int i = 0; i < 100; i++) {\n"
	"		struct node *n = malloc(sizeof(*n));\n"
	"		n->next = g_list;\n"
	"		n->value = i;\n"
	"		g_list = n;\n"
	"	}\n"
	"	for (int i = 0; i < 8; i++)\n"
	"		g_registry.items[i] = calloc(1, sizeof(struct node));\n"
	"	g_registry.cfg.next = calloc(1, sizeof(struct node));\n"
	"	for (int i = 0; i < 20; i++) {\n"
	"		struct pair *a = malloc(sizeof(*a)), *b = malloc(sizeof(*b));\n"
	"		struct trio *c = malloc(sizeof(*c));\n"
	"		a->heap = b->heap = g_list;\n"
	"		a->n = b->n = i;\n"
	"		a->fn = b->fn = callback;\n"
	"		c->a = i;\n"
	"		c->b = 2 * i;\n"
	"		c->heap = g_list;\n"
	"		g_set_a[i] = a;\n"
	"		g_set_b[i] = b;\n"
	"		g_set_c[i] = c;\n"
	"	}\n"
	"	printf(\"g_list=%lu\\nitems3=%lu\\ncfg_next=%lu\\nregistry=%lu\\noff_items3=%lu\\n\",\n"
	"	       (unsigned long)&g_list, (unsigned long)&g_registry.items[3],\n"
	"	       (unsigned long)&g_registry.cfg.next, (unsigned long)&g_registry,\n"
	"	       (unsigned long)offsetof(struct registry, items[3]));\n"
	"	printf(\"s_calls=%lu\\n\", (unsigned long)&s_calls);\n"
	"	printf(\"head=%lu\\nset_a=%lu\\nset_b=%lu\\nset_c=%lu\\n\", (unsigned long)g_list,\n"
	"	       (unsigned long)g_set_a[7], (unsigned long)g_set_b[3], (unsigned long)g_set_c[5]);\n"
	"	printf(\"READY\\n\");\n"
	"	fflush(stdout);\n"
	"	for (;;)\n"
	"		pause();\n"
	"}\n";

static const char cxx_source[] =
	"#include <cstdio>\n"
	"#include <unistd.h>\n"
	"#include <vector>\n"
	"namespace app {\n"
	"struct Part { long x, y; };\n"
	"struct Widget {\n"
	"	virtual ~Widget() {}\n"
	"	virtual int id() const { return 1; }\n"
	"	long a = 1, b = 2;\n"
	"};\n"
	"struct Gadget : Widget {\n"
	"	int id() const override { return 2; }\n"
	"	Part *peer = nullptr;\n"
	"};\n"
	"std::vector<Widget *> g_widgets;\n"
	"}\n"
	"int main()\n"
	"{\n"
	"	app::g_widgets.reserve(16);\n"
	"	for (int i = 0; i < 15; i++) {\n"
	"		if (i % 3 == 2) {\n"
	"			app::Gadget *g = new app::Gadget;\n"
	"			g->peer = new app::Part{ i, i };\n"
	"			app::g_widgets.push_back(g);\n"
	"		} else {\n"
	"			app::g_widgets.push_back(new app::Widget);\n"
	"		}\n"
	"	}\n"
	"	std::printf(\"widgets=%lu\\nwidget=%lu\\ngadget=%lu\\n\", (unsigned long)&app::g_widgets,\n"
	"		    (unsigned long)app::g_widgets[0], (unsigned long)app::g_widgets[2]);\n"
	"	std::printf(\"READY\\n\");\n"
	"	std::fflush(stdout);\n"
	"	for (;;)\n"
	"		pause();\n"
	"}\n";

static uint64_t key(const char *name, const char *k)
{
	char path[600];
	snprintf(path, sizeof(path), "%s/%s.out", hc_fixture_tmpdir(), name);
	char *text = hc_fixture_read_file(path, NULL);
	uint64_t v = 0;
	size_t n = strlen(k);
	for (const char *p = text; p && (p = strstr(p, k)); p += n) {
		if ((p == text || p[-1] == '\n') && p[n] == '=') {
			v = strtoull(p + n + 1, NULL, 10);
			break;
		}
	}
	free(text);
	return v;
}

static uint32_t line_of(const char *src, const char *marker)
{
	const char *at = strstr(src, marker);
	uint32_t line = 1;
	for (const char *p = src; at && p < at; p++)
		line += *p == '\n';
	return at ? line : 0;
}

static int sh(const char *cmd)
{
	int rc = system(cmd);
	return rc == -1 ? -1 : rc;
}

/* A copy of TMPDIR/name stripped by `strip ARGS`; NULL if strip fails. */
static const char *stripped(const char *name, const char *args)
{
	static char paths[8][400];
	static int next;
	char *out = paths[next++ % 8];
	snprintf(out, 400, "%s/%s.stripped", hc_fixture_tmpdir(), name);
	char cmd[1200];
	snprintf(cmd, sizeof(cmd), "strip %s -o '%s' '%s/%s'", args, out, hc_fixture_tmpdir(), name);
	return sh(cmd) == 0 ? out : NULL;
}

/* ---- a target with its heap, and a graph made from the walk ---- */

struct typed {
	struct hc_target *t;
	struct hc_symbols *s;
	struct hc_glibc_heap *h;
	struct hc_graph *g;
	struct hc_types *ty;
};

/* The graph as analyze builds it: nodes, edges and every kind of root. */
static bool graph_from_heap(struct typed *x)
{
	struct hc_graph_options o = { .threads = 1 };
	struct hc_error *err = hc_graph_build(x->t, x->s, x->h, &o, &x->g);
	if (err) {
		fprintf(stderr, "\n  graph: %s\n", err->message);
		hc_error_destroy(err);
		return false;
	}
	return true;
}

static bool open_typed(const char *core, const struct hc_symbol_options *so, struct typed *x)
{
	memset(x, 0, sizeof(*x));
	if (!core)
		return false;
	struct hc_error *err = hc_target_open_core(core, &x->t);
	if (!err)
		err = hc_symbols_open(x->t, so, &x->s);
	if (!err)
		err = hc_glibc_walk(x->t, x->s, NULL, &x->h);
	if (!err && !graph_from_heap(x))
		err = &hc_error_nomem;
	if (!err)
		err = hc_types_infer(x->g, x->s, &x->ty);
	if (err) {
		fprintf(stderr, "\n  %s: %s\n", core, err->message);
		hc_error_destroy(err);
		return false;
	}
	return true;
}

static void close_typed(struct typed *x)
{
	hc_types_destroy(x->ty);
	hc_graph_destroy(x->g);
	hc_glibc_heap_destroy(x->h);
	hc_symbols_destroy(x->s);
	hc_target_destroy(x->t);
}

static uint32_t node_at(const struct hc_graph *g, uint64_t addr)
{
	for (uint32_t n = 0; n < g->nnodes; n++)
		if (hc_graph_node_addr(g, n) == addr)
			return n;
	return UINT32_MAX;
}

static const struct hc_type *type_named(const struct hc_types *ty, const char *name)
{
	for (uint32_t i = 0; i < ty->ntypes; i++)
		if (!strcmp(ty->types[i].name, name))
			return &ty->types[i];
	return NULL;
}

static const struct hc_type *type_of_node(const struct typed *x, uint64_t addr)
{
	uint32_t n = node_at(x->g, addr);
	return n == UINT32_MAX ? NULL : &x->ty->types[x->ty->node_type[n]];
}

static const char *c_core(void)
{
	return hc_fixture_make_core("types_prog", c_source);
}

static const char *base(const char *path)
{
	const char *b = path ? strrchr(path, '/') : NULL;
	return b ? b + 1 : path;
}

/* ---- static variables ---- */

static void test_variable_at_names_g_list_with_type_and_declaration(void)
{
	struct hc_target *t;
	struct hc_symbols *s;
	const char *core = c_core();
	CU_ASSERT_FATAL(core != NULL);
	CU_ASSERT_FATAL(hc_target_open_core(core, &t) == NULL);
	CU_ASSERT_FATAL(hc_symbols_open(t, NULL, &s) == NULL);
	struct hc_variable v;
	uint64_t g_list = key("types_prog", "g_list");
	CU_ASSERT_FATAL(hc_symbols_variable_at(s, g_list, &v));
	CU_ASSERT(v.from_dwarf);
	ASSERT_STR(v.name, "g_list");
	ASSERT_STR(v.type_name, "struct node *");
	ASSERT_STR(v.path, "g_list");
	CU_ASSERT_EQUAL(v.address, g_list);
	CU_ASSERT_EQUAL(v.size, 8);
	CU_ASSERT_EQUAL(v.offset, 0);
	ASSERT_STR(base(v.decl_file), "types_prog.c");
	CU_ASSERT_EQUAL(v.decl_line, line_of(c_source, "/* G_LIST */"));
	CU_ASSERT_PTR_EQUAL(v.module, hc_symbols_main_module(s));
	/* the word is the pointer itself: its pointee is struct node */
	struct hc_type_ref pointee;
	char name[128];
	CU_ASSERT_FATAL(hc_symbols_type_pointee(s, v.leaf.type, &pointee));
	CU_ASSERT(hc_symbols_type_name(s, pointee, name, sizeof(name)));
	ASSERT_STR(name, "struct node");
	uint64_t size;
	CU_ASSERT(hc_symbols_type_size(s, pointee, &size) && size == 16);
	hc_symbols_destroy(s);
	hc_target_destroy(t);
}

static void test_variable_at_gives_member_paths_inside_a_global_struct(void)
{
	struct hc_target *t;
	struct hc_symbols *s;
	CU_ASSERT_FATAL(hc_target_open_core(c_core(), &t) == NULL);
	CU_ASSERT_FATAL(hc_symbols_open(t, NULL, &s) == NULL);
	uint64_t reg = key("types_prog", "registry");
	struct hc_variable v;
	CU_ASSERT_FATAL(hc_symbols_variable_at(s, key("types_prog", "items3"), &v));
	ASSERT_STR(v.name, "g_registry");
	ASSERT_STR(v.type_name, "struct registry");
	ASSERT_STR(v.path, "g_registry.items[3]");
	CU_ASSERT_EQUAL(v.offset, key("types_prog", "off_items3"));
	ASSERT_STR(v.leaf.path, "items[3]");
	CU_ASSERT_FATAL(hc_symbols_variable_at(s, key("types_prog", "cfg_next"), &v));
	ASSERT_STR(v.path, "g_registry.cfg.next");
	/* a byte inside the pointer is still that member; the padding after count is no member */
	CU_ASSERT_FATAL(hc_symbols_variable_at(s, key("types_prog", "cfg_next") + 3, &v));
	ASSERT_STR(v.path, "g_registry.cfg.next");
	CU_ASSERT_FATAL(hc_symbols_variable_at(s, reg + 4, &v));
	ASSERT_STR(v.path, "g_registry+0x4");
	/* arrays of pointers: g_set_b[3] is the element, typed void * */
	struct hc_symbol sym;
	CU_ASSERT_FATAL(hc_symbols_lookup(s, NULL, "g_set_b", &sym));
	CU_ASSERT_FATAL(hc_symbols_variable_at(s, sym.address + 24, &v));
	ASSERT_STR(v.path, "g_set_b[3]");
	ASSERT_STR(v.type_name, "void *[20]");
	/* a function-local static is named by its function */
	CU_ASSERT_FATAL(hc_symbols_variable_at(s, key("types_prog", "s_calls"), &v));
	ASSERT_STR(v.name, "main::s_calls");
	ASSERT_STR(v.type_name, "long int");
	hc_symbols_destroy(s);
	hc_target_destroy(t);
}

static void test_variable_at_falls_back_to_elf_symbols_without_dwarf(void)
{
	const char *core = c_core();
	CU_ASSERT_FATAL(core != NULL);
	const char *bin = stripped("types_prog", "--strip-debug");
	CU_ASSERT_FATAL(bin != NULL);
	struct hc_symbol_options so = { .binary = bin, .no_default_debug_dirs = true };
	struct hc_target *t;
	struct hc_symbols *s;
	CU_ASSERT_FATAL(hc_target_open_core(core, &t) == NULL);
	CU_ASSERT_FATAL(hc_symbols_open(t, &so, &s) == NULL);
	CU_ASSERT_FATAL(!hc_symbols_main_module(s)->has_dwarf);
	struct hc_variable v;
	CU_ASSERT_FATAL(hc_symbols_variable_at(s, key("types_prog", "items3"), &v));
	CU_ASSERT(!v.from_dwarf);
	ASSERT_STR(v.name, "g_registry");
	CU_ASSERT_EQUAL(v.address, key("types_prog", "registry"));
	ASSERT_STR(v.path, "g_registry+0x20");
	ASSERT_STR(v.type_name, "");
	CU_ASSERT_PTR_NULL(v.decl_file);
	CU_ASSERT_FATAL(hc_symbols_variable_at(s, key("types_prog", "g_list"), &v));
	ASSERT_STR(v.path, "g_list");
	hc_symbols_destroy(s);
	hc_target_destroy(t);

	/* the core alone names nothing, and says so without failing */
	struct hc_symbol_options none = { .no_files = true };
	CU_ASSERT_FATAL(hc_target_open_core(core, &t) == NULL);
	CU_ASSERT_FATAL(hc_symbols_open(t, &none, &s) == NULL);
	CU_ASSERT(!hc_symbols_variable_at(s, key("types_prog", "g_list"), &v));
	CU_ASSERT(!hc_symbols_variable_at(s, 0x10, &v));
	hc_symbols_destroy(s);
	hc_target_destroy(t);
}

/* ---- DWARF propagation ---- */

static void test_dwarf_types_the_whole_list_from_g_list(void)
{
	struct typed x;
	CU_ASSERT_FATAL(open_typed(c_core(), NULL, &x));
	uint32_t n = node_at(x.g, key("types_prog", "head"));
	CU_ASSERT_FATAL(n != UINT32_MAX);
	CU_ASSERT_EQUAL(x.ty->node_via[n], HC_TYPE_VIA_ROOT);
	ASSERT_STR(hc_types_incoming_member(x.ty, n), "g_list");
	uint32_t steps = 0, prev = UINT32_MAX;
	while (n != UINT32_MAX && steps < 200) {
		const struct hc_type *t = &x.ty->types[x.ty->node_type[n]];
		ASSERT_STR(t->name, "struct node");
		CU_ASSERT_EQUAL(t->source, HC_TYPE_SOURCE_DWARF);
		if (prev != UINT32_MAX) {
			CU_ASSERT_EQUAL(x.ty->node_via[n], prev);
			ASSERT_STR(hc_types_incoming_member(x.ty, n), "next");
		}
		char member[64];
		CU_ASSERT(hc_types_member_at(x.ty, n, 0, member, sizeof(member)) && !strcmp(member, "next"));
		CU_ASSERT(hc_types_member_at(x.ty, n, 8, member, sizeof(member)) && !strcmp(member, "value"));
		steps++;
		uint64_t next = 0;
		CU_ASSERT_FATAL(hc_target_read_u64(x.t, hc_graph_node_addr(x.g, n), &next));
		prev = n;
		n = next ? node_at(x.g, next) : UINT32_MAX;
	}
	CU_ASSERT_EQUAL(steps, 100);
	/* 100 list nodes, 8 items[] and cfg.next: all struct node, none in conflict */
	const struct hc_type *t = type_named(x.ty, "struct node");
	CU_ASSERT_FATAL(t != NULL);
	CU_ASSERT_EQUAL(t->count, 109);
	CU_ASSERT_EQUAL(t->conflicts, 0);
	uint32_t item = UINT32_MAX;
	for (uint32_t k = 0; k < x.g->nnodes; k++) {
		const char *m = hc_types_incoming_member(x.ty, k);
		if (m && !strcmp(m, "g_registry.items[3]"))
			item = k;
	}
	CU_ASSERT(item != UINT32_MAX && x.ty->node_via[item] == HC_TYPE_VIA_ROOT);
	close_typed(&x);
}

/* ---- signatures ---- */

static void test_signatures_group_alike_allocations_and_split_other_shapes(void)
{
	struct typed x;
	CU_ASSERT_FATAL(open_typed(c_core(), NULL, &x));
	const struct hc_type *a = type_of_node(&x, key("types_prog", "set_a"));
	const struct hc_type *b = type_of_node(&x, key("types_prog", "set_b"));
	const struct hc_type *c = type_of_node(&x, key("types_prog", "set_c"));
	CU_ASSERT_FATAL(a && b && c);
	CU_ASSERT_EQUAL(a->source, HC_TYPE_SOURCE_SIGNATURE);
	CU_ASSERT_PTR_EQUAL(a, b);
	CU_ASSERT_PTR_NOT_EQUAL(a, c);
	ASSERT_STR(a->name, "sig 24:pim");
	ASSERT_STR(c->name, "sig 24:iip");
	CU_ASSERT_EQUAL(a->count, 40);
	CU_ASSERT_EQUAL(c->count, 20);
	CU_ASSERT_EQUAL(a->bytes, 40 * 32);
	close_typed(&x);
}

static void test_signatures_are_the_same_in_another_core_of_the_program(void)
{
	struct typed x, y;
	CU_ASSERT_FATAL(open_typed(c_core(), NULL, &x));
	CU_ASSERT_FATAL(open_typed(hc_fixture_make_core("types_prog_again", c_source), NULL, &y));
	/* mapped elsewhere (ASLR), typed the same */
	CU_ASSERT(key("types_prog", "head") != key("types_prog_again", "head"));
	const char *sets[] = { "set_a", "set_b", "set_c" };
	for (unsigned i = 0; i < 3; i++) {
		const struct hc_type *tx = type_of_node(&x, key("types_prog", sets[i]));
		const struct hc_type *ty = type_of_node(&y, key("types_prog_again", sets[i]));
		CU_ASSERT_FATAL(tx && ty);
		ASSERT_STR(tx->name, ty->name);
		CU_ASSERT_EQUAL(tx->count, ty->count);
	}
	close_typed(&y);
	close_typed(&x);
}

static void test_table_is_sorted_and_covers_every_node(void)
{
	struct typed x;
	CU_ASSERT_FATAL(open_typed(c_core(), NULL, &x));
	uint64_t count = 0;
	for (uint32_t i = 0; i < x.ty->ntypes; i++) {
		count += x.ty->types[i].count;
		if (i)
			CU_ASSERT(x.ty->types[i - 1].bytes >= x.ty->types[i].bytes);
	}
	CU_ASSERT_EQUAL(count, x.g->nnodes);
	for (uint32_t n = 0; n < x.g->nnodes; n++)
		CU_ASSERT(x.ty->node_type[n] < x.ty->ntypes);
	close_typed(&x);
}

/* The graph builder's own graph gives the same answers. */
static void test_types_on_the_built_graph(void)
{
	struct typed x;
	CU_ASSERT_FATAL(open_typed(c_core(), NULL, &x));
	struct hc_graph *g;
	struct hc_graph_options go = { 0 };
	struct hc_error *err = hc_graph_build(x.t, x.s, x.h, &go, &g);
	CU_ASSERT_FATAL(err == NULL);
	struct hc_types *ty;
	CU_ASSERT_FATAL(hc_types_infer(g, x.s, &ty) == NULL);
	uint32_t head = hc_graph_node_at(g, key("types_prog", "head"));
	CU_ASSERT_FATAL(head != UINT32_MAX);
	ASSERT_STR(ty->types[ty->node_type[head]].name, "struct node");
	ASSERT_STR(hc_types_incoming_member(ty, head), "g_list");
	const struct hc_type *t = type_named(ty, "struct node");
	CU_ASSERT(t && t->count == 109);
	uint32_t a = hc_graph_node_at(g, key("types_prog", "set_a"));
	CU_ASSERT_FATAL(a != UINT32_MAX);
	ASSERT_STR(ty->types[ty->node_type[a]].name, "sig 24:pim");
	/* glibc's own tcache is named for what it is, not by its shape */
	CU_ASSERT_FATAL(x.h->ntcaches >= 1);
	uint32_t tc = hc_graph_node_at(g, x.h->tcaches[0].address);
	CU_ASSERT_FATAL(tc != UINT32_MAX);
	ASSERT_STR(ty->types[ty->node_type[tc]].name, "glibc tcache_perthread_struct");
	CU_ASSERT_EQUAL(ty->types[ty->node_type[tc]].source, HC_TYPE_SOURCE_ALLOCATOR);
	hc_types_destroy(ty);
	hc_graph_destroy(g);
	close_typed(&x);
}

/* ---- C++: vtables ---- */

static const char *cxx_core(const char *name, const char *flags)
{
	char compile[200];
	snprintf(compile, sizeof(compile), "g++ -O0 %s", flags);
	return hc_fixture_make_core_with(name, cxx_source, compile, "cc");
}

static void test_vtables_name_cxx_classes_with_full_symbols(void)
{
	struct typed x;
	CU_ASSERT_FATAL(open_typed(cxx_core("types_cxx", "-g"), NULL, &x));
	const struct hc_type *w = type_named(x.ty, "app::Widget");
	const struct hc_type *g = type_named(x.ty, "app::Gadget");
	CU_ASSERT_FATAL(w && g);
	CU_ASSERT_EQUAL(w->source, HC_TYPE_SOURCE_VTABLE);
	CU_ASSERT_EQUAL(w->count, 10);
	CU_ASSERT_EQUAL(g->count, 5);
	uint64_t vptr;
	CU_ASSERT(hc_target_read_u64(x.t, key("types_cxx", "widget"), &vptr) && vptr == w->vtable);
	CU_ASSERT_PTR_EQUAL(type_of_node(&x, key("types_cxx", "widget")), w);
	CU_ASSERT_PTR_EQUAL(type_of_node(&x, key("types_cxx", "gadget")), g);
	/* the vector's buffer is typed from app::g_widgets, and its elements know their index */
	struct hc_variable v;
	CU_ASSERT_FATAL(hc_symbols_variable_at(x.s, key("types_cxx", "widgets"), &v));
	ASSERT_STR(v.name, "app::g_widgets");
	ASSERT_STR(v.type_name, "std::vector<app::Widget*, std::allocator<app::Widget*> >");
	const struct hc_type *buf = type_named(x.ty, "app::Widget *[]");
	CU_ASSERT(buf && buf->count == 1 && buf->source == HC_TYPE_SOURCE_DWARF);
	uint32_t gn = node_at(x.g, key("types_cxx", "gadget"));
	CU_ASSERT_FATAL(gn != UINT32_MAX);
	ASSERT_STR(hc_types_incoming_member(x.ty, gn), "[2]");
	/* a Gadget is laid out as a Gadget (its class's DWARF), and its pointer is followed */
	char member[64];
	CU_ASSERT(hc_types_member_at(x.ty, gn, 24, member, sizeof(member)) && !strcmp(member, "peer"));
	const struct hc_type *part = type_named(x.ty, "app::Part");
	CU_ASSERT(part && part->count == 5 && part->source == HC_TYPE_SOURCE_DWARF);
	close_typed(&x);
}

static void test_vtables_named_from_dynsym_of_a_stripped_binary(void)
{
	const char *core = cxx_core("types_cxx_dyn", "-rdynamic -fno-rtti");
	CU_ASSERT_FATAL(core != NULL);
	const char *bin = stripped("types_cxx_dyn", "");
	CU_ASSERT_FATAL(bin != NULL);
	struct hc_symbol_options so = { .binary = bin };
	struct typed x;
	CU_ASSERT_FATAL(open_typed(core, &so, &x));
	CU_ASSERT(!hc_symbols_main_module(x.s)->has_symtab);
	const struct hc_type *w = type_named(x.ty, "app::Widget");
	const struct hc_type *g = type_named(x.ty, "app::Gadget");
	CU_ASSERT(w && w->count == 10);
	CU_ASSERT(g && g->count == 5);
	close_typed(&x);
}

static void test_vtables_named_from_rtti_without_symbols(void)
{
	const char *core = cxx_core("types_cxx_rtti", "");
	CU_ASSERT_FATAL(core != NULL);
	const char *bin = stripped("types_cxx_rtti", "");
	CU_ASSERT_FATAL(bin != NULL);
	struct hc_symbol_options so = { .binary = bin };
	struct typed x;
	CU_ASSERT_FATAL(open_typed(core, &so, &x));
	struct hc_symbol sym;
	CU_ASSERT(!hc_symbols_lookup(x.s, hc_symbols_main_module(x.s), "_ZTVN3app6WidgetE", &sym));
	const struct hc_type *w = type_named(x.ty, "app::Widget");
	CU_ASSERT(w && w->count == 10);
	close_typed(&x);
}

static void test_vtables_without_names_group_by_address(void)
{
	const char *core = cxx_core("types_cxx_plain", "-fno-rtti");
	CU_ASSERT_FATAL(core != NULL);
	const char *bin = stripped("types_cxx_plain", "");
	CU_ASSERT_FATAL(bin != NULL);
	struct hc_symbol_options so = { .binary = bin };
	struct typed x;
	CU_ASSERT_FATAL(open_typed(core, &so, &x));
	const struct hc_type *w = type_of_node(&x, key("types_cxx_plain", "widget"));
	const struct hc_type *g = type_of_node(&x, key("types_cxx_plain", "gadget"));
	CU_ASSERT_FATAL(w && g && w != g);
	CU_ASSERT_EQUAL(w->source, HC_TYPE_SOURCE_VTABLE);
	CU_ASSERT_EQUAL(w->count, 10);
	CU_ASSERT_EQUAL(g->count, 5);
	char want[64];
	snprintf(want, sizeof(want), "vtable 0x%llx (types_cxx_plain+0x", (unsigned long long)w->vtable);
	CU_ASSERT(!strncmp(w->name, want, strlen(want)));
	close_typed(&x);

	/* the same with no file at all: the vtables are in the core's relro data */
	struct hc_symbol_options none = { .no_files = true };
	CU_ASSERT_FATAL(open_typed(cxx_core("types_cxx", "-g"), &none, &x));
	w = type_of_node(&x, key("types_cxx", "widget"));
	CU_ASSERT_FATAL(w != NULL);
	CU_ASSERT(!strncmp(w->name, "vtable 0x", 9));
	CU_ASSERT_EQUAL(w->count, 10);
	close_typed(&x);
}

/* ---- cost ---- */

static const char big_source[] =
	"#include <stdio.h>\n"
	"#include <stdlib.h>\n"
	"#include <string.h>\n"
	"#include <unistd.h>\n"
	"struct node { struct node *next; long value; char *name; };\n"
	"struct node *g_list;\n"
	"void *g_blobs[20000];\n"
	"int main(void)\n"
	"{\n"
	"	for (int i = 0; i < 40000; i++) {\n"
	"		struct node *n = malloc(sizeof(*n));\n"
	"		n->next = g_list;\n"
	"		n->value = i;\n"
	"		n->name = strdup(\"abcdefgh\");\n"
	"		g_list = n;\n"
	"	}\n"
	"	for (int i = 0; i < 20000; i++) {\n"
	"		void **p = malloc(48);\n"
	"		p[0] = g_list;\n"
	"		p[1] = (void *)(long)i;\n"
	"		g_blobs[i] = p;\n"
	"	}\n"
	"	printf(\"READY\\n\");\n"
	"	fflush(stdout);\n"
	"	for (;;)\n"
	"		pause();\n"
	"}\n";

/*
 * Shapes: two lists of struct item held by globals (two, so that even the
 * shape of a last node, a null next, has MIN_TYPED typed ones), and a list
 * of them that nothing points to any more; lists of struct twin_a and twin_b, two
 * structs of one size and layout, and a leaked list of twin_a.
 */
static const char shape_source[] =
	"#include <stdio.h>\n"
	"#include <stdlib.h>\n"
	"#include <unistd.h>\n"
	"struct item { struct item *next; long a, b, c; };\n"
	"struct twin_a { struct twin_a *next; long v[5]; };\n"
	"struct twin_b { struct twin_b *next; long w[5]; };\n"
	"struct item *g_items, *g_more_items;\n"
	"struct twin_a *g_as;\n"
	"struct twin_b *g_bs;\n"
	"#define LIST(type, head, n) for (int i = 0; i < (n); i++) { type *x = calloc(1, sizeof(type)); \\\n"
	"	x->next = head; head = x; }\n"
	"static __attribute__((noinline)) unsigned long leak_items(void)\n"
	"{\n"
	"	struct item *h = NULL;\n"
	"	LIST(struct item, h, 6)\n"
	"	return (unsigned long)h ^ 0x5555;\n"
	"}\n"
	"static __attribute__((noinline)) unsigned long leak_twins(void)\n"
	"{\n"
	"	struct twin_a *h = NULL;\n"
	"	LIST(struct twin_a, h, 6)\n"
	"	return (unsigned long)h ^ 0x5555;\n"
	"}\n"
	"int main(void)\n"
	"{\n"
	"	LIST(struct item, g_items, 10)\n"
	"	LIST(struct item, g_more_items, 10)\n"
	"	LIST(struct twin_a, g_as, 10)\n"
	"	LIST(struct twin_b, g_bs, 10)\n"
	"	/* the leaked heads' addresses, hidden so that no stray copy types them */\n"
	"	unsigned long items = leak_items(), twins = leak_twins();\n"
	"	printf(\"leaked_items=%lu\\nleaked_twins=%lu\\n\", items ^ 0x5555, twins ^ 0x5555);\n"
	"	printf(\"READY\\n\");\n"
	"	fflush(stdout);\n"
	"	for (;;)\n"
	"		pause();\n"
	"}\n";

/*
 * A leaked list's nodes have the size and shape of every typed struct item
 * and of nothing else: they are "struct item (by shape)", laid out as one.
 * A leaked list of twin_a is of a shape twin_b's nodes have too: it keeps
 * its signature.
 */
static void test_untyped_nodes_of_one_structs_shape_are_named_by_it(void)
{
	struct typed x;
	CU_ASSERT_FATAL(open_typed(hc_fixture_make_core("types_shape", shape_source), NULL, &x));
	uint32_t items = hc_graph_node_at(x.g, key("types_shape", "leaked_items"));
	uint32_t twins = hc_graph_node_at(x.g, key("types_shape", "leaked_twins"));
	CU_ASSERT_FATAL(items != UINT32_MAX && twins != UINT32_MAX);
	/* the whole leaked item list, its last node (a null next) included */
	uint32_t n = items, steps = 0;
	while (n != UINT32_MAX && steps < 10) {
		const struct hc_type *t = &x.ty->types[x.ty->node_type[n]];
		ASSERT_STR(t->name, "struct item (by shape)");
		CU_ASSERT_EQUAL(t->source, HC_TYPE_SOURCE_SHAPE);
		char member[64];
		CU_ASSERT(hc_types_member_at(x.ty, n, 0, member, sizeof(member)) && !strcmp(member, "next"));
		uint64_t next = 0;
		CU_ASSERT_FATAL(hc_target_read_u64(x.t, hc_graph_node_addr(x.g, n), &next));
		n = next ? hc_graph_node_at(x.g, next) : UINT32_MAX;
		steps++;
	}
	CU_ASSERT_EQUAL(steps, 6);
	const struct hc_type *t = &x.ty->types[x.ty->node_type[twins]];
	CU_ASSERT_EQUAL(t->source, HC_TYPE_SOURCE_SIGNATURE);
	CU_ASSERT(strncmp(t->name, "sig ", 4) == 0);
	/* the typed ones keep their DWARF types */
	const struct hc_type *item = type_named(x.ty, "struct item"), *a = type_named(x.ty, "struct twin_a");
	CU_ASSERT(item && item->count == 20 && item->source == HC_TYPE_SOURCE_DWARF);
	CU_ASSERT(a && a->count == 10);
	close_typed(&x);
}

/* Speed is measured by scripts/bench-analyze.sh, not asserted here. */
static void test_hundred_thousand_nodes_are_all_typed(void)
{
	struct typed x;
	CU_ASSERT_FATAL(open_typed(hc_fixture_make_core("types_big", big_source), NULL, &x));
	CU_ASSERT(x.g->nnodes >= 100000);
	const struct hc_type *node = type_named(x.ty, "struct node");
	const struct hc_type *name = type_named(x.ty, "char[]");
	CU_ASSERT(node && node->count == 40000);
	CU_ASSERT(name && name->count >= 40000);
	close_typed(&x);
}

/* ---- the same answers however they are computed ---- */

/* Every answer of two type tables of one graph, node by node; how many nodes differ. */
static uint32_t differences(const struct hc_graph *g, const struct hc_types *a, const struct hc_types *b)
{
	CU_ASSERT_FATAL(a->ntypes == b->ntypes);
	for (uint32_t i = 0; i < a->ntypes; i++) {
		const struct hc_type *x = &a->types[i], *y = &b->types[i];
		ASSERT_STR(x->name, y->name);
		CU_ASSERT(x->source == y->source && x->count == y->count && x->bytes == y->bytes &&
			  x->vtable == y->vtable && x->conflicts == y->conflicts);
	}
	uint32_t bad = 0;
	for (uint32_t n = 0; n < g->nnodes; n++) {
		const char *ma = hc_types_incoming_member(a, n), *mb = hc_types_incoming_member(b, n);
		char la[200], lb[200];
		bool ha = hc_types_member_at(a, n, 8, la, sizeof(la)), hb = hc_types_member_at(b, n, 8, lb, sizeof(lb));
		if (a->node_type[n] != b->node_type[n] || a->node_via[n] != b->node_via[n] || !ma != !mb ||
		    (ma && strcmp(ma, mb)) || ha != hb || (ha && strcmp(la, lb)))
			bad++;
	}
	return bad;
}

/* Two threads (forced: these graphs are too small to get them unasked) type as one does. */
static void test_two_threads_give_the_same_types(void)
{
	const char *cores[] = { hc_fixture_make_core("types_big", big_source), cxx_core("types_cxx", "-g") };
	for (unsigned i = 0; i < 2; i++) {
		struct typed x;
		CU_ASSERT_FATAL(open_typed(cores[i], NULL, &x));
		struct hc_types_options one = { .threads = 1 }, two = { .threads = 2 };
		struct hc_types *a, *b;
		CU_ASSERT_FATAL(hc_types_infer_opts(x.g, x.s, &one, &a) == NULL);
		CU_ASSERT_FATAL(hc_types_infer_opts(x.g, x.s, &two, &b) == NULL);
		CU_ASSERT_EQUAL(differences(x.g, a, b), 0);
		CU_ASSERT_EQUAL(differences(x.g, a, x.ty), 0);
		hc_types_destroy(a);
		hc_types_destroy(b);
		close_typed(&x);
	}
}

/* The scan's letters (g->sig_code) and reading the nodes again give every node the same signature. */
static void test_signatures_from_the_scan_equal_those_read_again(void)
{
	const char *cores[] = { hc_fixture_make_core("types_big", big_source), c_core() };
	for (unsigned i = 0; i < 2; i++) {
		struct typed x;
		CU_ASSERT_FATAL(open_typed(cores[i], NULL, &x));
		CU_ASSERT_FATAL(x.g->sig_code != NULL);
		uint32_t *codes = x.g->sig_code;
		x.g->sig_code = NULL;
		struct hc_types *reread;
		CU_ASSERT_FATAL(hc_types_infer(x.g, x.s, &reread) == NULL);
		x.g->sig_code = codes;
		uint32_t sigs = 0;
		for (uint32_t t = 0; t < reread->ntypes; t++)
			sigs += reread->types[t].source == HC_TYPE_SOURCE_SIGNATURE;
		/* both programs leave some nodes to signatures */
		CU_ASSERT(sigs >= 1);
		CU_ASSERT_EQUAL(differences(x.g, x.ty, reread), 0);
		hc_types_destroy(reread);
		close_typed(&x);
	}
}

/* An element's member is spelled on request, once: the same string every time, for the life of the table. */
static void test_array_element_members_are_spelled_once(void)
{
	struct typed x;
	CU_ASSERT_FATAL(open_typed(cxx_core("types_cxx", "-g"), NULL, &x));
	uint32_t gn = node_at(x.g, key("types_cxx", "gadget"));
	CU_ASSERT_FATAL(gn != UINT32_MAX);
	const char *m = hc_types_incoming_member(x.ty, gn);
	ASSERT_STR(m, "[2]");
	for (uint32_t n = 0; n < x.g->nnodes; n++)
		(void)hc_types_incoming_member(x.ty, n);
	CU_ASSERT_PTR_EQUAL(hc_types_incoming_member(x.ty, gn), m);
	ASSERT_STR(m, "[2]");
	close_typed(&x);
}

/*
 * Two struct items, one at file scope and one in main: two DWARF types of
 * one name, so one type "struct item", each node laid out by its own.
 */
static const char twin_source[] =
	"#include <stdio.h>\n"
	"#include <stdlib.h>\n"
	"#include <unistd.h>\n"
	"struct item { struct item *next; long a; };\n"
	"struct item *g_items;\n"
	"int main(void)\n"
	"{\n"
	"	static struct item { long b; struct item *link; } *s_items;\n"
	"	for (int i = 0; i < 3; i++) {\n"
	"		struct item *n = malloc(sizeof(*n));\n"
	"		n->b = i;\n"
	"		n->link = s_items;\n"
	"		s_items = n;\n"
	"	}\n"
	"	for (int i = 0; i < 3; i++) {\n"
	"		void *p = malloc(48);\n"
	"		((struct item **)p)[0] = (struct item *)g_items;\n"
	"		g_items = p;\n"
	"	}\n"
	"	printf(\"file=%lu\\nfunc=%lu\\n\", (unsigned long)g_items, (unsigned long)s_items);\n"
	"	printf(\"READY\\n\");\n"
	"	fflush(stdout);\n"
	"	for (;;)\n"
	"		pause();\n"
	"}\n";

static void test_types_of_one_name_keep_each_nodes_layout(void)
{
	struct typed x;
	CU_ASSERT_FATAL(open_typed(hc_fixture_make_core("types_twin", twin_source), NULL, &x));
	const struct hc_type *t = type_named(x.ty, "struct item");
	CU_ASSERT_FATAL(t != NULL);
	CU_ASSERT_EQUAL(t->count, 6);
	CU_ASSERT_EQUAL(t->conflicts, 0);
	/* each list, three deep, by the members of its own struct */
	const char *names[] = { "file", "func" }, *link[] = { "next", "link" }, *root[] = { "g_items", "main::s_items" };
	uint64_t at[] = { 0, 8 };
	for (unsigned i = 0; i < 2; i++) {
		uint32_t n = node_at(x.g, key("types_twin", names[i]));
		for (unsigned depth = 0; depth < 3; depth++) {
			CU_ASSERT_FATAL(n != UINT32_MAX);
			CU_ASSERT_PTR_EQUAL(&x.ty->types[x.ty->node_type[n]], t);
			ASSERT_STR(hc_types_incoming_member(x.ty, n), depth ? link[i] : root[i]);
			char member[64];
			CU_ASSERT(hc_types_member_at(x.ty, n, at[i], member, sizeof(member)) && !strcmp(member, link[i]));
			uint64_t next = 0;
			CU_ASSERT_FATAL(hc_target_read_u64(x.t, hc_graph_node_addr(x.g, n) + at[i], &next));
			n = next ? node_at(x.g, next) : UINT32_MAX;
		}
		CU_ASSERT_EQUAL(n, UINT32_MAX);
	}
	close_typed(&x);
}

void hc_test_register_types(void)
{
	CU_pSuite s = CU_add_suite("types", NULL, NULL);
	if (!s)
		return;
	CU_add_test(s, "test_variable_at_names_g_list_with_type_and_declaration",
		    test_variable_at_names_g_list_with_type_and_declaration);
	CU_add_test(s, "test_variable_at_gives_member_paths_inside_a_global_struct",
		    test_variable_at_gives_member_paths_inside_a_global_struct);
	CU_add_test(s, "test_variable_at_falls_back_to_elf_symbols_without_dwarf",
		    test_variable_at_falls_back_to_elf_symbols_without_dwarf);
	CU_add_test(s, "test_dwarf_types_the_whole_list_from_g_list", test_dwarf_types_the_whole_list_from_g_list);
	CU_add_test(s, "test_signatures_group_alike_allocations_and_split_other_shapes",
		    test_signatures_group_alike_allocations_and_split_other_shapes);
	CU_add_test(s, "test_signatures_are_the_same_in_another_core_of_the_program",
		    test_signatures_are_the_same_in_another_core_of_the_program);
	CU_add_test(s, "test_table_is_sorted_and_covers_every_node", test_table_is_sorted_and_covers_every_node);
	CU_add_test(s, "test_types_on_the_built_graph", test_types_on_the_built_graph);
	CU_add_test(s, "test_vtables_name_cxx_classes_with_full_symbols",
		    test_vtables_name_cxx_classes_with_full_symbols);
	CU_add_test(s, "test_vtables_named_from_dynsym_of_a_stripped_binary",
		    test_vtables_named_from_dynsym_of_a_stripped_binary);
	CU_add_test(s, "test_vtables_named_from_rtti_without_symbols", test_vtables_named_from_rtti_without_symbols);
	CU_add_test(s, "test_vtables_without_names_group_by_address", test_vtables_without_names_group_by_address);
	CU_add_test(s, "test_hundred_thousand_nodes_are_all_typed", test_hundred_thousand_nodes_are_all_typed);
	CU_add_test(s, "test_two_threads_give_the_same_types", test_two_threads_give_the_same_types);
	CU_add_test(s, "test_untyped_nodes_of_one_structs_shape_are_named_by_it",
		    test_untyped_nodes_of_one_structs_shape_are_named_by_it);
	CU_add_test(s, "test_signatures_from_the_scan_equal_those_read_again",
		    test_signatures_from_the_scan_equal_those_read_again);
	CU_add_test(s, "test_array_element_members_are_spelled_once", test_array_element_members_are_spelled_once);
	CU_add_test(s, "test_types_of_one_name_keep_each_nodes_layout", test_types_of_one_name_keep_each_nodes_layout);
}
