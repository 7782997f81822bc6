/*
 * The findings in analyze's report (report_findings.h; docs/json.md and
 * docs/heuristics.md): each with its rank, severity, impact, location,
 * chain, evidence, fix, expected reduction and confidence; a summary with
 * what the fixes would give back, the fixes in priority order and the
 * kinds of problem that repeat. The text leads with them, most severe
 * first, each section in rank order.
 */
#include "report_findings.h"

#include <stdlib.h>
#include <string.h>

#include "heapcore/report.h"

void hc_report_findings_json(const struct hc_findings *f, json_t *r)
{
	json_t *list = json_array(), *fixes = json_array(), *patterns = json_object();
	uint64_t reducible = 0, by_sev[3] = { 0, 0, 0 };
	for (uint32_t i = 0; i < f->n; i++) {
		const struct hc_finding *x = &f->items[i];
		json_t *chain = json_array();
		if (x->address || x->path[0])
			json_array_append_new(chain, json_pack("{s:o, s:s}", "address", hc_json_address(x->address), "label",
								x->path));
		json_t *o = json_pack("{s:I, s:s, s:s, s:s, s:I, s:I, s:I, s:{s:s, s:s, s:i}, s:o, s:s, s:s, s:s, s:I, s:f}",
				      "rank", (json_int_t)i + 1, "severity", hc_severity_name(x->severity), "kind",
				      x->kind, "title", x->title, "count", (json_int_t)x->count, "bytes",
				      (json_int_t)x->bytes, "retained_bytes", (json_int_t)x->retained_bytes, "location",
				      "name", x->location, "file", x->file, "line", x->line, "chain", chain, "path",
				      x->path, "evidence", x->evidence, "recommendation", x->recommendation,
				      "expected_reduction_bytes", (json_int_t)x->expected_reduction, "confidence",
				      x->confidence);
		json_array_append_new(list, o);
		reducible += x->expected_reduction;
		by_sev[x->severity]++;
		if (x->severity != HC_SEVERITY_OPPORTUNITY || json_array_size(fixes) < 10)
			json_array_append_new(fixes, json_pack("{s:I, s:s, s:s}", "rank", (json_int_t)i + 1, "location",
							       x->location, "fix", x->recommendation));
		json_t *k = json_object_get(patterns, x->kind);
		json_object_set_new(patterns, x->kind, json_integer(k ? json_integer_value(k) + 1 : 1));
	}
	json_t *repeat = json_array();
	const char *kind;
	json_t *v;
	json_object_foreach(patterns, kind, v)
	{
		if (json_integer_value(v) >= 2)
			json_array_append_new(repeat, json_pack("{s:s, s:O}", "kind", kind, "findings", v));
	}
	json_decref(patterns);
	json_object_set_new(r, "findings", list);
	json_object_set_new(r, "summary",
			    json_pack("{s:I, s:I, s:I, s:I, s:I, s:o, s:o}", "critical", (json_int_t)by_sev[2], "warnings",
				      (json_int_t)by_sev[1], "opportunities", (json_int_t)by_sev[0], "reducible_bytes",
				      (json_int_t)reducible, "process_bytes", (json_int_t)f->process_bytes, "fixes",
				      fixes, "repeated", repeat));
}

static void human(long long bytes, char *buf, size_t len)
{
	if (bytes >= (1ll << 30))
		snprintf(buf, len, "%.1f GiB", (double)bytes / (1ll << 30));
	else if (bytes >= (1 << 20))
		snprintf(buf, len, "%.1f MiB", (double)bytes / (1 << 20));
	else if (bytes >= (1 << 10))
		snprintf(buf, len, "%.0f KiB", (double)bytes / (1 << 10));
	else
		snprintf(buf, len, "%lld bytes", bytes);
}

void hc_report_findings_text(const json_t *r, FILE *out)
{
	const json_t *list = json_object_get(r, "findings");
	static const char *const sections[] = { "CRITICAL ISSUES", "WARNINGS", "OPTIMIZATION OPPORTUNITIES" };
	static const char *const sev[] = { "critical", "warning", "opportunity" };
	for (int s = 0; s < 3; s++) {
		size_t n = 0;
		for (size_t i = 0; i < json_array_size(list); i++)
			n += !strcmp(hc_json_str(json_array_get(list, i), "severity"), sev[s]);
		fprintf(out, "%s%s (%zu)\n", s ? "\n" : "", sections[s], n);
		if (!n)
			fprintf(out, "  none\n");
		for (size_t i = 0; i < json_array_size(list); i++) {
			const json_t *x = json_array_get(list, i);
			if (strcmp(hc_json_str(x, "severity"), sev[s]))
				continue;
			const json_t *loc = json_object_get(x, "location");
			char retained[32], reduction[32];
			human(hc_json_int(x, "retained_bytes"), retained, sizeof(retained));
			human(hc_json_int(x, "expected_reduction_bytes"), reduction, sizeof(reduction));
			fprintf(out, "  #%lld [%s] %s\n", hc_json_int(x, "rank"), hc_json_str(x, "kind"),
				hc_json_str(x, "title"));
			fprintf(out, "      where:   %s%s%s\n", hc_json_str(loc, "name"),
				*hc_json_str(loc, "file") ? " in " : "", hc_json_str(loc, "file"));
			if (*hc_json_str(x, "path"))
				fprintf(out, "      chain:   %s\n", hc_json_str(x, "path"));
			fprintf(out, "      why:     %s\n", hc_json_str(x, "evidence"));
			fprintf(out, "      fix:     %s\n", hc_json_str(x, "recommendation"));
			fprintf(out, "      impact:  %lld objects, %s retained; a fix gives back about %s (confidence %.0f%%)\n",
				hc_json_int(x, "count"), retained, reduction,
				100 * json_real_value(json_object_get(x, "confidence")));
		}
	}
	const json_t *sum = json_object_get(r, "summary");
	char reducible[32], total[32];
	human(hc_json_int(sum, "reducible_bytes"), reducible, sizeof(reducible));
	human(hc_json_int(sum, "process_bytes"), total, sizeof(total));
	fprintf(out, "\nSUMMARY\n  %lld critical, %lld warning(s), %lld opportunities; the fixes would give back about %s of %s\n",
		hc_json_int(sum, "critical"), hc_json_int(sum, "warnings"), hc_json_int(sum, "opportunities"), reducible,
		total);
	const json_t *fixes = json_object_get(sum, "fixes");
	for (size_t i = 0; i < json_array_size(fixes) && i < 5; i++) {
		const json_t *x = json_array_get(fixes, i);
		fprintf(out, "  %zu. #%lld %s: %s\n", i + 1, hc_json_int(x, "rank"), hc_json_str(x, "location"),
			hc_json_str(x, "fix"));
	}
	const json_t *rep = json_object_get(sum, "repeated");
	for (size_t i = 0; i < json_array_size(rep); i++)
		fprintf(out, "  repeated: %lld findings of kind %s\n", hc_json_int(json_array_get(rep, i), "findings"),
			hc_json_str(json_array_get(rep, i), "kind"));
}
