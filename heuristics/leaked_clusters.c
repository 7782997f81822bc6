/*
 * Leaked clusters (native): allocations nothing reachable points to, from
 * the leak classification (chap's and valgrind's "definitely" and
 * "indirectly lost"), grouped by the type or signature of each cluster's
 * head, so that a thousand leaked lists of one struct are one finding.
 * Each group is named by its type and an example head; the evidence says
 * how many heads nothing points to and whether the clusters are cycles
 * (which no reference count could have freed). Severity goes by bytes,
 * but a hundred or more of one kind is at least a warning: a leak that
 * repeats grows with the work the process does. A conservative scan can
 * miss a pointer stored disguised (xor'd, compressed, in a file), so the
 * confidence is high but not certain.
 */
#include "heuristics.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "heapcore/report.h"

struct group {
	char key[160];
	uint32_t clusters, heads, cyclic;
	uint64_t count, bytes;
	uint32_t example;
};

bool hc_detect_leaked_clusters(const struct hc_heuristics_input *in, struct hc_findings *out)
{
	const struct hc_analysis *a = in->a;
	if (!a || !a->leaks || !a->graph)
		return true;
	const struct hc_leaks *l = a->leaks;
	/* groups in order of their largest cluster (clusters come largest first); few enough for a scan */
	struct group *g = NULL;
	uint32_t ng = 0, cap = 0;
	for (uint32_t i = 0; i < l->nclusters; i++) {
		const struct hc_leak_cluster *c = &l->clusters[i];
		char key[160];
		const char *type = hc_report_node_type(a, c->head);
		if (type)
			snprintf(key, sizeof(key), "%s", type);
		else
			snprintf(key, sizeof(key), "%" PRIu64 "-byte allocations", hc_graph_node_size(a->graph, c->head));
		uint32_t k = 0;
		while (k < ng && strcmp(g[k].key, key))
			k++;
		if (k == ng) {
			if (ng == 256)
				continue; /* the rest are small: the list is by size */
			if (ng == cap) {
				cap = cap ? cap * 2 : 16;
				struct group *x = realloc(g, cap * sizeof(*x));
				if (!x) {
					free(g);
					return false;
				}
				g = x;
			}
			memset(&g[ng], 0, sizeof(g[ng]));
			snprintf(g[ng].key, sizeof(g[ng].key), "%s", key);
			g[ng].example = c->head;
			ng++;
		}
		g[k].clusters++;
		g[k].count += c->nnodes;
		g[k].bytes += c->bytes;
		g[k].heads += c->nheads;
		g[k].cyclic += c->cyclic;
	}
	bool ok = true;
	for (uint32_t k = 0; k < ng && ok; k++) {
		enum hc_severity sev;
		if (!hc_findings_severity_for(out, g[k].bytes, &sev))
			continue;
		/* a hundred leaked allocations of one kind is a leak that repeats: it grows with the work done */
		if (g[k].count >= 100 && sev < HC_SEVERITY_WARNING)
			sev = HC_SEVERITY_WARNING;
		char size[32], title[320], evidence[400], rec[400], where[64];
		hc_heuristics_bytes(g[k].bytes, size, sizeof(size));
		snprintf(title, sizeof(title), "%s leaked: %" PRIu64 " allocations of %s in %u cluster(s)", size,
			 g[k].count, g[k].key, g[k].clusters);
		snprintf(evidence, sizeof(evidence),
			 "no root (global, stack, register, TLS) reaches them; %u head(s) nothing points to%s%s",
			 g[k].heads, g[k].cyclic ? "; " : "",
			 g[k].cyclic ? "some clusters are cycles: every node is pointed to, none reachable" : "");
		snprintf(rec, sizeof(rec),
			 "free them where their owner lets go of them: `heapcore explain CORE 0x%" PRIx64
			 "` on the head shows what it points to; a cycle needs its links broken before free()",
			 hc_graph_node_addr(a->graph, g[k].example));
		snprintf(where, sizeof(where), "0x%" PRIx64, hc_graph_node_addr(a->graph, g[k].example));
		struct hc_finding f = { .severity = sev,
					.kind = "leaked-cluster",
					.title = title,
					.count = g[k].count,
					.bytes = g[k].bytes,
					.retained_bytes = g[k].bytes,
					.address = hc_graph_node_addr(a->graph, g[k].example),
					.location = g[k].key,
					.path = where,
					.evidence = evidence,
					.recommendation = rec,
					.expected_reduction = g[k].bytes,
					.confidence = 0.9 };
		ok = hc_findings_add(out, &f);
	}
	free(g);
	return ok;
}
