/*
 * The scenario program the graph and leaks suites make a core of: one
 * structure per way an allocation can be held (or not), each printed as
 * "key address count" so the tests compare exact addresses. Lists are built
 * in helper functions whose frames are dead (below sp) when the core is
 * taken, so only the holder the scenario means holds each structure.
 */
#ifndef HEAPCORE_TEST_GRAPH_PROGRAM_H
#define HEAPCORE_TEST_GRAPH_PROGRAM_H

#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* calloc(48): 0x40-byte chunks on x86-64 glibc */
#define GP_NODE_CHUNK 0x40
#define GP_LEAK_N 100
#define GP_RING_N 20
#define GP_GLOBAL_N 30
#define GP_STACK_N 25
#define GP_THREAD_N 40
#define GP_THREAD_LEAK_N 15

static const char gp_program[] =
	"#include <pthread.h>\n"
	"#include <stdio.h>\n"
	"#include <stdlib.h>\n"
	"#include <string.h>\n"
	"#include <ucontext.h>\n"
	"#include <unistd.h>\n"
	"struct node { struct node *next; long pad[5]; };\n"
	"struct node *g_list, *g_anchor, *g_holder;\n"
	"char *g_interior;\n"
	"void *volatile g_reg_tmp;\n"
	"volatile int g_arena_ready, g_reg_ready, g_own_ready, g_co_ready;\n"
	"ucontext_t g_co, g_back;\n"
	"static void out(const char *k, void *p, int n) { printf(\"%s %p %d\\n\", k, p, n); fflush(stdout); }\n"
	"__attribute__((noinline)) static struct node *list(int n, struct node *tail) {\n"
	"  struct node *h = tail;\n"
	"  for (int i = 0; i < n; i++) { struct node *x = calloc(1, sizeof *x); x->next = h; h = x; }\n"
	"  return h;\n"
	"}\n"
	/* a leaked list whose tail points at an anchored node */
	"__attribute__((noinline)) static void make_leak(void) { out(\"leak_list\", list(100, g_anchor), 100); }\n"
	/* a leaked ring: no head; its lowest address names it */
	"__attribute__((noinline)) static void make_ring(void) {\n"
	"  struct node *h = list(20, NULL), *p = h, *low = h;\n"
	"  while (p->next) { p = p->next; if (p < low) low = p; }\n"
	"  p->next = h; out(\"ring\", low, 20);\n"
	"}\n"
	"__attribute__((noinline)) static char *make_big(void) {\n"
	"  char *b = malloc(1 << 20); struct node *c = list(1, NULL);\n"
	"  memcpy(b + 4096, &c, sizeof c); out(\"big\", b, 1); out(\"big_child\", c, 1); return b;\n"
	"}\n"
	"__attribute__((noinline)) static void make_interior(void) {\n"
	"  char *base = malloc(200); g_interior = base + 40; out(\"interior\", base, 1);\n"
	"  struct node *b = list(1, NULL); g_holder = list(1, NULL);\n"
	"  g_holder->pad[0] = (long)((char *)b + 16); out(\"holder\", g_holder, 1); out(\"interior_b\", b, 1);\n"
	"}\n"
	"__attribute__((noinline)) static void make_thread_leak(void) { out(\"thread_leak\", list(15, NULL), 15); }\n"
	"static void *arena_thread(void *a) {\n"
	"  struct node *volatile mine = list(40, NULL);\n"
	"  make_thread_leak(); out(\"thread_list\", mine, 40); g_arena_ready = 1;\n"
	"  for (;;) pause();\n"
	"}\n"
	/* the pointer lives in r12 only: loaded from a global that is then cleared, in a blocking loop */
	"static void *reg_thread(void *a) {\n"
	"  g_reg_tmp = list(1, NULL); out(\"register\", g_reg_tmp, 1);\n"
	"#ifdef __x86_64__\n"
	"  __asm__ volatile(\"mov g_reg_tmp(%%rip), %%r12\\n\\tmovq $0, g_reg_tmp(%%rip)\\n\\tmovl $1, g_reg_ready(%%rip)\\n\"\n"
	"                   \"1:\\tmov $34, %%eax\\n\\tsyscall\\n\\tjmp 1b\" ::: \"r12\", \"rax\", \"rcx\", \"r11\", \"memory\");\n"
	"#endif\n"
	"  g_reg_ready = 1; for (;;) pause();\n"
	"}\n"
	/* runs on a stack malloc'd below everything else in the main heap */
	"static void *own_stack_thread(void *a) {\n"
	"  struct node *volatile mine = list(3, NULL); out(\"own_stack_list\", mine, 3); g_own_ready = 1;\n"
	"  for (;;) pause();\n"
	"}\n"
	/* a coroutine on a stack malloc'd before everything else: the thread's sp is in the heap */
	"static void co_fn(void) {\n"
	"  struct node *volatile mine = list(2, NULL); out(\"co_list\", mine, 2); g_co_ready = 1;\n"
	"  for (;;) pause();\n"
	"}\n"
	"static void *co_thread(void *stk) {\n"
	"  getcontext(&g_co); g_co.uc_stack.ss_sp = stk; g_co.uc_stack.ss_size = 65536; g_co.uc_link = NULL;\n"
	"  makecontext(&g_co, co_fn, 0); swapcontext(&g_back, &g_co); return NULL;\n"
	"}\n"
	/* exits and is joined: glibc caches its stack, with this stale pointer in it */
	"static void *dead_thread(void *a) { struct node *volatile p = list(1, NULL); out(\"dead_stack\", p, 1); return NULL; }\n"
	"int main(void) {\n"
	"  char *co_stk = malloc(65536); out(\"co_stack\", co_stk, 1); pthread_t tc;\n"
	"  pthread_create(&tc, NULL, co_thread, co_stk); while (!g_co_ready) usleep(1000);\n"
	"  g_anchor = list(1, NULL); out(\"anchor\", g_anchor, 1);\n"
	"  g_list = list(30, NULL); out(\"global\", g_list, 30);\n"
	"  make_leak(); make_ring(); make_interior();\n"
	"  char *volatile big = make_big();\n"
	"  struct node *volatile stack_list = list(25, NULL); out(\"stack\", stack_list, 25);\n"
	"  pthread_attr_t at; pthread_attr_init(&at); char *stk = malloc(65536); out(\"own_stack\", stk, 1);\n"
	"  pthread_attr_setstack(&at, stk, 65536); pthread_t t0;\n"
	"  pthread_create(&t0, &at, own_stack_thread, NULL); while (!g_own_ready) usleep(1000);\n"
	"  pthread_t t1, t2, t3;\n"
	"  pthread_create(&t1, NULL, arena_thread, NULL); while (!g_arena_ready) usleep(1000);\n"
	"  pthread_create(&t2, NULL, reg_thread, NULL); while (!g_reg_ready) usleep(1000);\n"
	"  pthread_create(&t3, NULL, dead_thread, NULL); pthread_join(t3, NULL);\n"
	"  out(\"main_tid\", 0, (int)getpid());\n"
	"  printf(\"READY\\n\"); fflush(stdout);\n"
	"  for (;;) pause();\n"
	"  return big[0] + (stack_list != 0) + (stk != 0);\n"
	"}\n";

/* The address printed for key (0 if absent), and its count in *n if n. */
static inline uint64_t gp_value(const char *out, const char *key, int *n)
{
	size_t kl = strlen(key);
	for (const char *p = out; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
		if (strncmp(p, key, kl) || p[kl] != ' ')
			continue;
		unsigned long long a = 0;
		int c = 0;
		/* glibc prints a NULL %p as "(nil)" */
		if (sscanf(p + kl + 1, "%llx %d", &a, &c) != 2 && sscanf(p + kl + 1, "(nil) %d", &c) != 1)
			return 0;
		if (n)
			*n = c;
		return a;
	}
	return 0;
}

#endif
