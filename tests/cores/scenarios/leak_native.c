/*
 * leak_native: structures whose leak classification is known, recorded as
 * "groups" in the truth JSON (truth.h). Two threads, two arenas.
 *
 * main thread, main arena:
 *   leaked_list        1000 x malloc(48), singly linked; head unreferenced, 999 indirect
 *   leaked_ring        500 x malloc(64), a cycle: 500 indirect, no unreferenced, one cluster
 *   leaked_tree        127 x malloc(32), a complete binary tree; root unreferenced
 *   leaked_mmapped     1 x malloc(512 KiB), mmapped, unreferenced
 *   global_list        300 x malloc(40), anchored by the global g_list
 *   interior_list      8 x malloc(96), an intrusive list: g_intrusive and every
 *                      link point at offset 40 of the next record (only interior
 *                      pointers reach them)
 *   stack_list         200 x malloc(88), anchored only by a local of hold_on_stack()
 *   stack_mmapped      1 x malloc(8 MiB), mmapped, anchored only by a local of
 *                      hold_big_on_stack()
 * worker thread, its own arena:
 *   thread_list        250 x malloc(104), anchored only by a local of thread_hold()
 *   thread_leaked_list 150 x malloc(120), leaked; head unreferenced
 *
 * No stray copy of a group's pointer may survive: each structure is built by
 * a function that returns nothing (or the head, straight into its anchor),
 * every structure is followed by a live guard chunk (so neither top nor a bin
 * points into its last node), nothing is ever freed, and truth_scrub() zeroes
 * the dead stack and the registers once the builders have returned. The truth
 * recorder keeps node addresses as text only. scripts/check-no-stray-pointers.py
 * verifies the core.
 *
 * The worker's stack has no guard page (see main()): gcore could not read it
 * on glibc 2.43.
 *
 * When READY, the main thread is blocked in truth_finish() called from
 * hold_on_stack() <- hold_big_on_stack() <- main(); the worker in pause()
 * called from thread_hold().
 */
#define _GNU_SOURCE
#include <malloc.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "truth.h"

#define NOINLINE __attribute__((noinline, noclone))
#define SCRUB (256 * 1024)
#define GUARD 0x18

struct node {
	struct node *next;
	long idx;          /* small integers only: nothing else looks like a pointer */
};

struct tnode {
	struct tnode *left, *right;
	long depth, idx;
};

struct link {
	struct link *next;
	long tag;
};
struct rec {
	long id;
	char name[32];
	struct link link; /* at offset 40 */
	long tail[5];
};                        /* 96 bytes */

struct node *g_list;          /* anchors global_list */
struct link *g_intrusive;     /* anchors interior_list (interior pointer) */
void *g_guards[64];
static int nguards;
static pid_t main_tid;
static pthread_barrier_t built;

static void die(const char *msg)
{
	(void)!write(2, msg, strlen(msg));
	(void)!write(2, "\n", 1);
	_exit(3);
}

static void *xmalloc(size_t n)
{
	void *p = malloc(n);
	if (!p)
		die("leak_native: malloc failed");
	memset(p, 0, n < 4096 ? n : 4096);
	return p;
}

/* The chunk's size field (flags: 2 IS_MMAPPED, 4 NON_MAIN_ARENA). */
static NOINLINE size_t size_field(const void *p)
{
	size_t sf;
	memcpy(&sf, (const char *)p - sizeof sf, sizeof sf);
	return sf;
}

/* A live, anchored chunk after a structure: top and the bins never point into
 * the structure's last node. */
static void guard(pid_t tid)
{
	void *p = xmalloc(GUARD);
	g_guards[nguards++] = p;
	truth_live("guard", p, tid);
}

/* A singly linked list of n nodes of size sz; returns its head. */
static NOINLINE struct node *build_list(int g, int n, size_t sz, enum truth_role head_role,
					enum truth_role role)
{
	struct node *head = NULL, *prev = NULL;
	for (int i = 0; i < n; i++) {
		struct node *x = xmalloc(sz);
		x->idx = i;
		truth_group_node(g, x, i == 0 ? head_role : role);
		if (prev)
			prev->next = x;
		else
			head = x;
		prev = x;
	}
	return head;
}

static NOINLINE void leak_list(void)
{
	int g = truth_group("leaked_list", "leaked", NULL, 1, 0);
	(void)build_list(g, 1000, 48, TRUTH_UNREFERENCED, TRUTH_INDIRECT);
}

static NOINLINE void leak_ring(void)
{
	int g = truth_group("leaked_ring", "leaked", NULL, 1, 1);
	struct node *first = build_list(g, 500, 64, TRUTH_INDIRECT, TRUTH_INDIRECT);
	struct node *last = first;
	while (last->next)
		last = last->next;
	last->next = first;
}

static NOINLINE struct tnode *tree(int g, int depth, long *idx)
{
	struct tnode *t = xmalloc(sizeof *t);
	t->depth = depth;
	t->idx = (*idx)++;
	truth_group_node(g, t, t->idx == 0 ? TRUTH_UNREFERENCED : TRUTH_INDIRECT);
	if (depth > 1) {
		t->left = tree(g, depth - 1, idx);
		t->right = tree(g, depth - 1, idx);
	}
	return t;
}

static NOINLINE void leak_tree(void)
{
	int g = truth_group("leaked_tree", "leaked", NULL, 1, 0);
	long idx = 0;
	(void)tree(g, 7, &idx); /* 127 nodes */
}

static NOINLINE void leak_mmapped(void)
{
	int g = truth_group("leaked_mmapped", "leaked", NULL, 1, 0);
	void *p = malloc(512 * 1024);
	if (!p)
		die("leak_native: malloc failed");
	memset(p, 0, 4096);
	if (!(size_field(p) & 2))
		die("leak_native: 512 KiB allocation is not mmapped");
	truth_group_node(g, p, TRUTH_UNREFERENCED);
}

static NOINLINE void anchor_global_list(void)
{
	int g = truth_group("global_list", "anchored", NULL, 0, 0);
	g_list = build_list(g, 300, 40, TRUTH_ANCHORED, TRUTH_ANCHORED);
	truth_group_anchor_global(g, "g_list", &g_list, sizeof g_list, 0);
}

static NOINLINE void anchor_interior_list(void)
{
	int g = truth_group("interior_list", "anchored", NULL, 0, 0);
	struct link **tail = &g_intrusive;
	for (int i = 0; i < 8; i++) {
		struct rec *r = xmalloc(sizeof(struct rec));
		r->id = i;
		r->link.tag = i;
		truth_group_node(g, r, TRUTH_ANCHORED);
		*tail = &r->link;
		tail = &r->link.next;
	}
	truth_group_anchor_global(g, "g_intrusive", &g_intrusive, sizeof g_intrusive, 1);
}

/* ---- the worker thread: its own arena --------------------------------- */

static NOINLINE void thread_leak_list(void)
{
	int g = truth_group("thread_leaked_list", "leaked", NULL, 1, 0);
	(void)build_list(g, 150, 120, TRUTH_UNREFERENCED, TRUTH_INDIRECT);
}

static NOINLINE void thread_hold(void)
{
	pid_t tid = gettid();
	int g = truth_group("thread_list", "anchored", NULL, 0, 0);
	struct node *volatile head = build_list(g, 250, 104, TRUTH_ANCHORED, TRUTH_ANCHORED);
	truth_group_anchor_stack(g, tid, "thread_hold", (const void *)&head, 0);
	if (!(size_field(head) & 4))
		die("leak_native: the worker's allocations are in the main arena");
	guard(tid);
	thread_leak_list();
	guard(tid);
	truth_scrub(SCRUB);
	pthread_barrier_wait(&built);
	for (;;)
		pause();
	__asm__ volatile("" : : "r"(&head) : "memory");
}

static void *worker(void *arg)
{
	(void)arg;
	truth_thread(gettid(), "worker");
	thread_hold();
	return NULL;
}

/* ---- main: the stack anchors stay on the stack ------------------------- */

static NOINLINE void hold_on_stack(void)
{
	int g = truth_group("stack_list", "anchored", NULL, 0, 0);
	struct node *volatile head = build_list(g, 200, 88, TRUTH_ANCHORED, TRUTH_ANCHORED);
	truth_group_anchor_stack(g, main_tid, "hold_on_stack", (const void *)&head, 0);
	guard(main_tid);
	truth_scrub(SCRUB);
	truth_finish();
	__asm__ volatile("" : : "r"(&head) : "memory");
}

static NOINLINE void *big_alloc(int g)
{
	void *p = malloc(8 << 20);
	if (!p)
		die("leak_native: malloc failed");
	memset(p, 0, 4096);
	if (!(size_field(p) & 2))
		die("leak_native: 8 MiB allocation is not mmapped");
	truth_group_node(g, p, TRUTH_ANCHORED);
	return p;
}

static NOINLINE void hold_big_on_stack(void)
{
	int g = truth_group("stack_mmapped", "anchored", NULL, 0, 0);
	void *volatile big = big_alloc(g);
	truth_group_anchor_stack(g, main_tid, "hold_big_on_stack", (const void *)&big, 0);
	truth_scrub(SCRUB);
	hold_on_stack();
	__asm__ volatile("" : : "r"(&big) : "memory");
}

int main(int argc, char **argv)
{
	truth_init("leak_native", argc, argv);
	main_tid = gettid();
	truth_thread(main_tid, "main");

	leak_list();
	guard(main_tid);
	leak_ring();
	guard(main_tid);
	leak_tree();
	guard(main_tid);
	leak_mmapped();
	anchor_global_list();
	guard(main_tid);
	anchor_interior_list();
	guard(main_tid);

	/* No guard page: glibc 2.43 installs stack guards with MADV_GUARD_INSTALL,
	 * which gdb's gcore cannot read through; it then writes the whole stack
	 * mapping as zeros, and thread_list would really be leaked in that core. */
	pthread_t th;
	pthread_attr_t attr;
	if (pthread_attr_init(&attr) != 0 || pthread_attr_setguardsize(&attr, 0) != 0 ||
	    pthread_barrier_init(&built, NULL, 2) != 0 || pthread_create(&th, &attr, worker, NULL) != 0)
		die("leak_native: pthread failed");
	pthread_barrier_wait(&built);

	truth_scrub(SCRUB);
	hold_big_on_stack();
	return 0;
}
