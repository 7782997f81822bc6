/*
 * Fuzz target: the ELF core and note parser, and what reads only the notes
 * and headers: opening a core (program headers, PRSTATUS, PRPSINFO, AUXV,
 * FILE, SIGINFO), its modules from the core alone, and info's report.
 * Seeds: tests/fuzz/corpus/core.
 */
#include <jansson.h>
#include <stdlib.h>

#include "fuzz_input.h"
#include "heapcore/report.h"

static void info(struct hc_target *t, struct hc_symbols *s)
{
	json_t *r = hc_report_info(t, s);
	char *text = r ? json_dumps(r, 0) : NULL;
	free(text);
	json_decref(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_with_core(data, size, info);
	return 0;
}
