/* Pieces every report shares: addresses as hex strings, the warnings block. */
#include "heapcore/report.h"

#include <inttypes.h>

json_t *hc_json_address(uint64_t addr)
{
	char buf[24];
	snprintf(buf, sizeof(buf), "0x%" PRIx64, addr);
	return json_string(buf);
}

const char *hc_json_str(const json_t *obj, const char *key)
{
	const char *v = json_string_value(json_object_get(obj, key));
	return v ? v : "";
}

long long hc_json_int(const json_t *obj, const char *key)
{
	return json_integer_value(json_object_get(obj, key));
}

int hc_report_add_warnings(json_t *report, const struct hc_warnings *w)
{
	json_t *list = json_array();
	if (!list)
		return -1;
	for (unsigned i = 0; i < w->count; i++) {
		json_t *item = json_pack("{s:s, s:s}", "severity",
					 w->items[i].kind == HC_WARN_PARTIAL ? "partial" : "info",
					 "message", w->items[i].message);
		if (item)
			json_array_append_new(list, item);
	}
	json_object_set_new(report, "warnings", list);
	json_object_set_new(report, "warnings_dropped", json_integer(w->dropped));
	json_object_set_new(report, "partial", json_boolean(w->partial));
	return 0;
}

void hc_report_warnings_text(const json_t *report, FILE *out)
{
	const json_t *list = json_object_get(report, "warnings");
	size_t n = json_array_size(list);
	json_int_t dropped = json_integer_value(json_object_get(report, "warnings_dropped"));
	if (n || dropped)
		fprintf(out, "\nWarnings:\n");
	for (size_t i = 0; i < n; i++) {
		const json_t *w = json_array_get(list, i);
		fprintf(out, "  [%s] %s\n", json_string_value(json_object_get(w, "severity")),
			json_string_value(json_object_get(w, "message")));
	}
	if (dropped)
		fprintf(out, "  (%lld more not shown)\n", (long long)dropped);
	if (json_is_true(json_object_get(report, "partial")))
		fprintf(out, "\nThe input is damaged or incomplete: these results are PARTIAL.\n");
}
