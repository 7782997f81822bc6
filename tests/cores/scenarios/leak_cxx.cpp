/*
 * leak_cxx: C++ objects with virtual methods (a vtable pointer at offset 0),
 * some leaked, some anchored in globals; recorded as truth "groups" with the
 * class name in "type" (truth.h). One thread, main arena, small core.
 *
 *   widgets_vector   1 x the buffer of std::vector<app::Widget*> g_widgets
 *                    (reserve(30): 240 bytes), anchored by g_widgets
 *   widgets_anchored 30 x new app::Widget (40 bytes), anchored by g_widgets
 *                    through the vector's buffer (anchor_slot is &buffer[0])
 *   widgets_leaked   25 x new app::Widget, each leaked alone: 25 unreferenced,
 *                    25 clusters
 *   gadget_anchored  5 x new app::Gadget (72 bytes), a list held by the
 *                    file-static g_gadget
 *   gadgets_leaked   12 x new app::Gadget, a leaked list: head unreferenced,
 *                    11 indirect, one cluster
 *
 * As in leak_native.c: nothing is freed (so the vector never reallocates),
 * every structure is followed by a live guard, builders return nothing, and
 * truth_scrub() drops the dead stack and registers before truth_finish().
 */
#include <malloc.h>
#include <string.h>
#include <unistd.h>

#include <new>
#include <vector>

#include "truth.h"

#define NOINLINE __attribute__((noinline, noclone))

namespace app {

class Widget {
public:
	explicit Widget(long id) : id_(id), pad_{1, 2, 3} {}
	virtual ~Widget() {}
	virtual long weight() const { return id_ * 3 + pad_[0]; }

private:
	long id_;
	long pad_[3];
}; /* 40 bytes */

class Gadget {
public:
	explicit Gadget(long id) : id_(id), next_(nullptr), data_{} {}
	virtual ~Gadget() {}
	virtual long power() const { return id_ + data_[0]; }
	void link(Gadget *next) { next_ = next; }
	Gadget *next() const { return next_; }

private:
	long id_;
	Gadget *next_;
	long data_[6];
}; /* 72 bytes */

} // namespace app

std::vector<app::Widget *> g_widgets;
static app::Gadget *g_gadget __attribute__((used));
void *g_guards[16];
static int nguards;
static pid_t tid;

static_assert(sizeof(app::Widget) == 40, "Widget size");
static_assert(sizeof(app::Gadget) == 72, "Gadget size");

static void guard()
{
	void *p = malloc(0x18);
	if (!p)
		_exit(3);
	memset(p, 0, 0x18);
	g_guards[nguards++] = p;
	truth_live("guard", p, tid);
}

static NOINLINE void anchor_widgets()
{
	int gv = truth_group("widgets_vector", "anchored", NULL, 0, 0);
	int gw = truth_group("widgets_anchored", "anchored", "app::Widget", 0, 0);
	g_widgets.reserve(30);
	truth_group_node(gv, g_widgets.data(), TRUTH_ANCHORED);
	truth_group_anchor_global(gv, "g_widgets", &g_widgets, sizeof g_widgets, 0);
	guard();
	for (long i = 0; i < 30; i++) {
		app::Widget *w = new app::Widget(i);
		truth_group_node(gw, w, TRUTH_ANCHORED);
		g_widgets.push_back(w);
	}
	if (g_widgets.capacity() != 30)
		_exit(3);
	truth_group_anchor_global(gw, "g_widgets", g_widgets.data(), 30 * sizeof(void *), 0);
}

static NOINLINE void leak_widgets()
{
	int g = truth_group("widgets_leaked", "leaked", "app::Widget", 25, 0);
	for (long i = 0; i < 25; i++) {
		app::Widget *w = new app::Widget(100 + i);
		truth_group_node(g, w, TRUTH_UNREFERENCED);
	}
}

static NOINLINE app::Gadget *gadget_list(int g, int n, enum truth_role head_role, enum truth_role role)
{
	app::Gadget *head = nullptr, *prev = nullptr;
	for (int i = 0; i < n; i++) {
		app::Gadget *x = new app::Gadget(i);
		truth_group_node(g, x, i == 0 ? head_role : role);
		if (prev)
			prev->link(x);
		else
			head = x;
		prev = x;
	}
	return head;
}

static NOINLINE void anchor_gadgets()
{
	int g = truth_group("gadget_anchored", "anchored", "app::Gadget", 0, 0);
	g_gadget = gadget_list(g, 5, TRUTH_ANCHORED, TRUTH_ANCHORED);
	truth_group_anchor_global(g, "g_gadget", &g_gadget, sizeof g_gadget, 0);
}

static NOINLINE void leak_gadgets()
{
	int g = truth_group("gadgets_leaked", "leaked", "app::Gadget", 1, 0);
	(void)gadget_list(g, 12, TRUTH_UNREFERENCED, TRUTH_INDIRECT);
}

int main(int argc, char **argv)
{
	truth_init("leak_cxx", argc, argv);
	tid = gettid();
	truth_thread(tid, "main");

	anchor_widgets();
	guard();
	leak_widgets();
	guard();
	anchor_gadgets();
	guard();
	leak_gadgets();
	guard();

	truth_scrub(256 * 1024);
	__asm__ volatile("" : : "m"(g_gadget) : "memory");
	truth_finish();
}
