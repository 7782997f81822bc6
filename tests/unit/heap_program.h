/* A small C program with a busy heap, shared by the suites that need a real core of one. */
#ifndef HEAPCORE_TEST_HEAP_PROGRAM_H
#define HEAPCORE_TEST_HEAP_PROGRAM_H

static const char hc_heap_program[] =
	"#include <stdio.h>\n#include <stdlib.h>\n#include <unistd.h>\n"
	"int main(void) { void *keep[400]; for (int i = 0; i < 400; i++) keep[i] = malloc(16 + 8 * (i % 150));\n"
	" for (int i = 0; i < 400; i += 3) free(keep[i]);\n"
	" void *big = malloc(1 << 20); (void)big; printf(\"READY\\n\"); fflush(stdout); pause(); }\n";

#endif
