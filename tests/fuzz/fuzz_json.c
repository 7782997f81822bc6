/*
 * Fuzz target: the reports fed odd strings, as a damaged core gives them
 * (names, str values, paths with any bytes, invalid UTF-8 included): a
 * findings list whose strings are the fuzzer's, written as JSON and as
 * text, and the JSON printed.
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "heapcore/findings.h"
#include "report_findings.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* the input split at NULs into up to six strings */
	char *copy = malloc(size + 7);
	if (!copy)
		return 0;
	memcpy(copy, data, size);
	memset(copy + size, 0, 7);
	const char *str[6];
	size_t at = 0;
	for (int k = 0; k < 6; k++) {
		str[k] = copy + (at <= size ? at : size);
		at += strlen(str[k]) + 1;
	}
	struct hc_findings f = { .process_bytes = size };
	struct hc_finding x = { .severity = (enum hc_severity)(size % 3), .kind = "fuzz", .title = (char *)str[0],
				.count = size, .bytes = size, .retained_bytes = size * 3, .address = (uint64_t)size << 12,
				.location = (char *)str[1], .file = (char *)str[2], .line = (int32_t)size,
				.path = (char *)str[3], .evidence = (char *)str[4], .recommendation = (char *)str[5],
				.expected_reduction = size, .confidence = 0.5 };
	if (hc_findings_add(&f, &x) && hc_findings_add(&f, &x)) {
		json_t *r = json_object();
		hc_report_findings_json(&f, r);
		char *text = json_dumps(r, 0);
		free(text);
		FILE *null = fopen("/dev/null", "w");
		if (null) {
			hc_report_findings_text(r, null);
			fclose(null);
		}
		json_decref(r);
	}
	hc_findings_free(&f);
	free(copy);
	return 0;
}
