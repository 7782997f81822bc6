/*
 * The heapcore command line: parses options, runs one command through the
 * library, prints its report, and turns the outcome into an exit code
 * (docs/exit-codes.md). The only place that prints errors or exits.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "heapcore/analysis.h"
#include "heapcore/diff.h"
#include "heapcore/findings.h"
#include "heapcore/live.h"
#include "heapcore/glibc_heap.h"
#include "heapcore/report.h"
#include "heapcore/symbols.h"
#include "heapcore/target.h"

#define HEAPCORE_VERSION "0.1.0"
#define MAX_DEBUG_DIRS 16

enum output_format { FORMAT_TEXT, FORMAT_JSON };

struct cli_options {
	enum output_format format;
	struct hc_symbol_options symbols;
	const char *debug_dirs[MAX_DEBUG_DIRS];
	enum hc_arena_method arena_method;
	uint64_t max_memory;
	const char *core;
	const char *binary;
	uint64_t address;          /* explain */
	bool scan_free;            /* explain: what free chunks still point to */
	uint32_t top;              /* analyze: findings kept, 0 = all */
	uint64_t min_bytes;        /* analyze: findings retaining less are left out */
	int fail_on;               /* analyze: exit EXIT_FINDINGS if a finding is this severe or more; -1 never */
	const char *output;        /* dump: the core to write */
	bool in_place;             /* attach: keep the process stopped until the analysis is done */
	bool snapshot;             /* analyze: add the snapshot diff compares (a saved report is a diff side) */
	const char *new_core;      /* diff: NEW (core is OLD) */
	struct hc_diff_options diff; /* diff: --interval, --limit, --force */
	bool progress;             /* stderr is a terminal */
};

static const char usage_text[] =
	"usage: heapcore COMMAND [OPTIONS] CORE [BINARY]\n"
	"\n"
	"Commands:\n"
	"  info CORE [BINARY]    process, signal, threads, modules (build-id, file found?), mappings\n"
	"  heap CORE [BINARY]    glibc malloc arenas: chunks in use, free, fastbin, tcache, top, mmapped\n"
	"  analyze CORE [BINARY] leaks grouped, and who holds the rest: owners and allocations ranked by\n"
	"                        the bytes they keep alive, each with its chain of references\n"
	"  explain CORE ADDR [BINARY]  what ADDR is, why it is alive (its chain) or leaked, its references\n"
	"  attach PID            analyze a live process: stop it, copy its memory, let it go, analyze\n"
	"                        the copy (--in-place: keep it stopped until the analysis is done)\n"
	"  dump PID -o FILE      write an ELF core of a live process (gdb and heapcore read it)\n"
	"  diff OLD NEW [BINARY] what grew between two cores of one program (a side may also be a live\n"
	"                        PID, or analyze --snapshot --format json's saved report):\n"
	"                        growth per type and per owner, findings new or worse, a projection\n"
	"\n"
	"Options:\n"
	"  --format text|json    output format (default text)\n"
	"  --sysroot DIR         look for the core's files under DIR (a container's root)\n"
	"  --debug-dir DIR       also look for DIR/.build-id/xx/yyyy.debug (repeatable)\n"
	"  --no-default-debug-dirs  do not look in SYSROOT/usr/lib/debug\n"
	"  --no-files            use no file at all: work from the core alone\n"
	"  --arena-method auto|symbols|disassembly|scan\n"
	"                        how to find glibc's main_arena (default auto: in that order)\n"
	"  --max-memory BYTES    use at most BYTES of memory of heapcore's own (K/M/G suffixes; the core's\n"
	"                        mapping not counted): past it, exit 6\n"
	"  --scan-free           explain: also list free chunks whose stale words still point to ADDR\n"
	"  --top N               analyze, diff: only the N highest-ranked findings\n"
	"  --min-bytes SIZE      analyze, diff: leave out findings that retain less than SIZE (K/M/G suffixes)\n"
	"  --fail-on SEVERITY    analyze, diff: exit 9 when a finding is this severe or more (critical, warning,\n"
	"                        opportunity): a gate for CI\n"
	"  --interval DURATION   diff: the time between OLD and NEW (90s, 15m, 2h, 1d; default: the\n"
	"                        cores' file times)\n"
	"  --limit SIZE          diff: project when the heap reaches SIZE (K/M/G suffixes)\n"
	"  --force               diff: compare cores even if they look like different programs\n"
	"  --snapshot            analyze: add what diff compares to the JSON; diff takes such a saved\n"
	"                        report for OLD or NEW in place of a core\n"
	"  -h, --help            this text\n"
	"  --version             heapcore's version\n"
	"\n"
	"Exit codes: 0 done; 1 internal error; 2 usage; 3 file unreadable; 4 not a supported core;\n"
	"5 input damaged, results partial; 6 out of memory; 7 nothing to analyse (e.g. no glibc heap);\n"
	"8 unsupported (architecture, allocator version); 9 a finding at or above --fail-on.\n"
	"See docs/exit-codes.md.\n";

/*
 * --max-memory: the data limit (RLIMIT_DATA) caps what heapcore itself
 * allocates (malloc and private writable mappings); the core, mapped
 * read-only from its file, is not counted, so the cap is on the analysis,
 * not on the core's size. A failed allocation then ends the analysis with
 * exit code 6. AddressSanitizer reserves terabytes of shadow memory, so a
 * sanitizer build cannot be capped and says so.
 */
#if defined(__SANITIZE_ADDRESS__)
#define HEAPCORE_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HEAPCORE_ASAN 1
#endif
#endif

/* --max-memory, when the data limit enforces it */
static uint64_t memory_cap;

static int cap_memory(uint64_t bytes)
{
#ifdef HEAPCORE_ASAN
	fprintf(stderr, "heapcore: --max-memory is not enforced in an AddressSanitizer build\n");
	(void)bytes;
	return 0;
#else
	struct rlimit rl;
	if (getrlimit(RLIMIT_DATA, &rl) != 0)
		return 0;
	rl.rlim_cur = rl.rlim_max != RLIM_INFINITY && rl.rlim_max < bytes ? rl.rlim_max : bytes;
	if (setrlimit(RLIMIT_DATA, &rl) != 0) {
		fprintf(stderr, "heapcore: cannot set the memory cap: %s\n", strerror(errno));
		return HC_ERR_USAGE;
	}
	memory_cap = rl.rlim_cur;
	return 0;
#endif
}

static int usage_error(const char *fmt, const char *arg)
{
	fprintf(stderr, "heapcore: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\nTry 'heapcore --help'.\n");
	return HC_ERR_USAGE;
}

static int parse_size(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v = strtoull(s, &end, 10);
	if (end == s)
		return -1;
	switch (*end) {
	case 'k': case 'K': v <<= 10; end++; break;
	case 'm': case 'M': v <<= 20; end++; break;
	case 'g': case 'G': v <<= 30; end++; break;
	default: break;
	}
	if (*end)
		return -1;
	*out = v;
	return 0;
}

/* "90", "90s", "15m", "2h", "1d" -> seconds; -1 if it is none of those. */
static int parse_duration(const char *s, double *out)
{
	char *end;
	double v = strtod(s, &end);
	if (end == s || v <= 0)
		return -1;
	switch (*end) {
	case 0: case 's': break;
	case 'm': v *= 60; break;
	case 'h': v *= 3600; break;
	case 'd': v *= 86400; break;
	default: return -1;
	}
	if (*end && end[1])
		return -1;
	*out = v;
	return 0;
}

/* Returns 0, or an exit code after printing the problem. */
static int parse_options(const char *command, int argc, char **argv, struct cli_options *o)
{
	enum { OPT_FORMAT = 256, OPT_SYSROOT, OPT_DEBUG_DIR, OPT_NO_DEFAULT_DEBUG, OPT_NO_FILES,
	       OPT_ARENA_METHOD, OPT_MAX_MEMORY, OPT_SCAN_FREE, OPT_TOP, OPT_MIN_BYTES, OPT_FAIL_ON, OPT_IN_PLACE,
	       OPT_INTERVAL, OPT_LIMIT, OPT_FORCE, OPT_SNAPSHOT };
	static const struct option longopts[] = {
		{ "format", required_argument, NULL, OPT_FORMAT },
		{ "sysroot", required_argument, NULL, OPT_SYSROOT },
		{ "debug-dir", required_argument, NULL, OPT_DEBUG_DIR },
		{ "no-default-debug-dirs", no_argument, NULL, OPT_NO_DEFAULT_DEBUG },
		{ "no-files", no_argument, NULL, OPT_NO_FILES },
		{ "arena-method", required_argument, NULL, OPT_ARENA_METHOD },
		{ "max-memory", required_argument, NULL, OPT_MAX_MEMORY },
		{ "scan-free", no_argument, NULL, OPT_SCAN_FREE },
		{ "top", required_argument, NULL, OPT_TOP },
		{ "min-bytes", required_argument, NULL, OPT_MIN_BYTES },
		{ "fail-on", required_argument, NULL, OPT_FAIL_ON },
		{ "output", required_argument, NULL, 'o' },
		{ "in-place", no_argument, NULL, OPT_IN_PLACE },
		{ "interval", required_argument, NULL, OPT_INTERVAL },
		{ "limit", required_argument, NULL, OPT_LIMIT },
		{ "force", no_argument, NULL, OPT_FORCE },
		{ "snapshot", no_argument, NULL, OPT_SNAPSHOT },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "ho:", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_FORMAT:
			if (!strcmp(optarg, "text"))
				o->format = FORMAT_TEXT;
			else if (!strcmp(optarg, "json"))
				o->format = FORMAT_JSON;
			else
				return usage_error("--format takes text or json, not '%s'", optarg);
			break;
		case OPT_SYSROOT:
			o->symbols.sysroot = optarg;
			break;
		case OPT_DEBUG_DIR:
			if (o->symbols.ndebug_dirs == MAX_DEBUG_DIRS)
				return usage_error("at most 16 --debug-dir options%s", "");
			o->debug_dirs[o->symbols.ndebug_dirs++] = optarg;
			break;
		case OPT_NO_DEFAULT_DEBUG:
			o->symbols.no_default_debug_dirs = true;
			break;
		case OPT_NO_FILES:
			o->symbols.no_files = true;
			break;
		case OPT_ARENA_METHOD:
			if (!strcmp(optarg, "auto"))
				o->arena_method = HC_ARENA_METHOD_AUTO;
			else if (!strcmp(optarg, "symbols"))
				o->arena_method = HC_ARENA_METHOD_SYMBOLS;
			else if (!strcmp(optarg, "disassembly"))
				o->arena_method = HC_ARENA_METHOD_DISASSEMBLY;
			else if (!strcmp(optarg, "scan"))
				o->arena_method = HC_ARENA_METHOD_SCAN;
			else
				return usage_error("--arena-method takes auto, symbols, disassembly or scan, not '%s'",
						   optarg);
			break;
		case OPT_MAX_MEMORY:
			if (parse_size(optarg, &o->max_memory))
				return usage_error("--max-memory takes a size such as 4G, not '%s'", optarg);
			break;
		case OPT_SCAN_FREE:
			o->scan_free = true;
			break;
		case 'o':
			o->output = optarg;
			break;
		case OPT_IN_PLACE:
			o->in_place = true;
			break;
		case OPT_TOP: {
			char *end;
			unsigned long v = strtoul(optarg, &end, 10);
			if (end == optarg || *end || v > UINT32_MAX)
				return usage_error("--top takes a count, not '%s'", optarg);
			o->top = (uint32_t)v;
			break;
		}
		case OPT_MIN_BYTES:
			if (parse_size(optarg, &o->min_bytes))
				return usage_error("--min-bytes takes a size such as 1M, not '%s'", optarg);
			break;
		case OPT_FAIL_ON: {
			enum hc_severity sev;
			if (!hc_severity_parse(optarg, &sev))
				return usage_error("--fail-on takes critical, warning or opportunity, not '%s'", optarg);
			o->fail_on = (int)sev;
			break;
		}
		case OPT_INTERVAL:
			if (parse_duration(optarg, &o->diff.interval))
				return usage_error("--interval takes a duration such as 90s, 15m, 2h or 1d, not '%s'", optarg);
			break;
		case OPT_LIMIT:
			if (parse_size(optarg, &o->diff.limit) || !o->diff.limit)
				return usage_error("--limit takes a size such as 4G, not '%s'", optarg);
			break;
		case OPT_FORCE:
			o->diff.force = true;
			break;
		case OPT_SNAPSHOT:
			o->snapshot = true;
			break;
		case 'h':
			fputs(usage_text, stdout);
			exit(0);
		default:
			return usage_error("bad option%s", "");
		}
	}
	o->symbols.debug_dirs = o->debug_dirs;
	int rest = argc - optind, first = optind;
	if (!strcmp(command, "explain")) {
		if (rest < 2)
			return usage_error("%s", "explain needs CORE and ADDR");
		char *end;
		const char *a = argv[optind + 1];
		o->address = strtoull(a, &end, !strncmp(a, "0x", 2) || !strncmp(a, "0X", 2) ? 16 : 0);
		if (!*a || *end)
			return usage_error("ADDR must be an address such as 0x55d0c2a6b2a0, not '%s'", a);
		/* CORE ADDR [BINARY]: drop ADDR from the positional list */
		argv[optind + 1] = argv[optind];
		first = optind + 1;
		rest--;
	}
	if (!strcmp(command, "diff")) {
		if (rest < 2 || rest > 3)
			return usage_error("%s", rest < 2 ? "diff needs OLD and NEW" : "too many arguments");
		o->new_core = argv[first + 1];
		/* OLD NEW [BINARY]: drop NEW from the positional list */
		argv[first + 1] = argv[first];
		first++;
		rest--;
	}
	bool live = !strcmp(command, "attach") || !strcmp(command, "dump");
	if (live && rest != 1)
		return usage_error("%s", rest < 1 ? "a PID is required" : "too many arguments");
	if (live && !strcmp(command, "dump") && !o->output)
		return usage_error("%s", "dump needs -o FILE");
	if (rest < 1 || rest > 2)
		return usage_error("%s", rest < 1 ? "a CORE file is required" : "too many arguments");
	o->core = argv[first];
	o->binary = rest == 2 ? argv[first + 1] : NULL;
	o->symbols.binary = o->binary;
	o->progress = isatty(2);
	return 0;
}

/* Prints err as one line and returns its exit code. */
static int report_error(struct hc_error *err)
{
	int code = err->code;
	if (code == HC_ERR_NOMEM && memory_cap)
		fprintf(stderr, "heapcore: %s (over the --max-memory cap of %llu MiB)\n", err->message,
			(unsigned long long)(memory_cap >> 20));
	else
		fprintf(stderr, "heapcore: %s\n", err->message);
	hc_error_destroy(err);
	return code;
}

static int print_report(json_t *report, const struct cli_options *o,
			void (*text)(const json_t *, FILE *))
{
	if (!report) {
		fprintf(stderr, "heapcore: out of memory building the report\n");
		return HC_ERR_NOMEM;
	}
	if (o->format == FORMAT_JSON) {
		json_dumpf(report, stdout, JSON_INDENT(2) | JSON_ENSURE_ASCII);
		fputc('\n', stdout);
	} else {
		text(report, stdout);
	}
	int partial = json_is_true(json_object_get(report, "partial"));
	json_decref(report);
	if (fflush(stdout) != 0) {
		fprintf(stderr, "heapcore: cannot write the report\n");
		return HC_ERR_IO;
	}
	return partial ? HC_ERR_DAMAGED : 0;
}

/*
 * --top and --min-bytes: the findings kept (ranks unchanged, so a report
 * cut short still says where each stood); true if one is at or above
 * --fail-on.
 */
#define EXIT_FINDINGS 9

static bool select_findings(json_t *r, const struct cli_options *o)
{
	json_t *list = json_object_get(r, "findings");
	bool fail = false;
	for (size_t i = 0; i < json_array_size(list);) {
		json_t *x = json_array_get(list, i);
		enum hc_severity sev = HC_SEVERITY_OPPORTUNITY;
		hc_severity_parse(hc_json_str(x, "severity"), &sev);
		if ((uint64_t)hc_json_int(x, "retained_bytes") < o->min_bytes || (o->top && i >= o->top)) {
			json_array_remove(list, i);
			continue;
		}
		fail |= o->fail_on >= 0 && (int)sev >= o->fail_on;
		i++;
	}
	return fail;
}

static void *trim_run(void *arg)
{
	hc_analysis_trim(arg);
	return NULL;
}

/* Opens the core and its symbols; on failure prints and returns the exit code. */
static int open_target(const struct cli_options *o, struct hc_target **t, struct hc_symbols **s)
{
	struct hc_error *err = hc_target_open_core_capped(o->core, o->max_memory, t);
	if (err)
		return report_error(err);
	err = hc_symbols_open(*t, &o->symbols, s);
	if (err) {
		hc_target_destroy(*t);
		return report_error(hc_error_prefix(err, "%s", o->core));
	}
	return 0;
}

/* The partial/damage line on stderr, so scripts reading JSON still see it. */
static void say_partial(const struct hc_target *t)
{
	if (t->warnings.partial)
		fprintf(stderr, "heapcore: %s: input is damaged or incomplete; results are partial\n",
			t->path);
}

static int cmd_info(const struct cli_options *o)
{
	struct hc_target *t;
	struct hc_symbols *s;
	int rc = open_target(o, &t, &s);
	if (rc)
		return rc;
	json_t *r = hc_report_info(t, s);
	if (r)
		hc_report_add_warnings(r, &t->warnings);
	say_partial(t);
	rc = print_report(r, o, hc_report_info_text);
	hc_symbols_destroy(s);
	hc_target_destroy(t);
	return rc;
}

static int cmd_heap(const struct cli_options *o)
{
	struct hc_target *t;
	struct hc_symbols *s;
	int rc = open_target(o, &t, &s);
	if (rc)
		return rc;
	struct hc_glibc_walk_options wo = { .method = o->arena_method };
	struct hc_glibc_heap *h;
	struct hc_error *err = hc_glibc_walk(t, s, &wo, &h);
	if (err) {
		rc = report_error(hc_error_prefix(err, "%s", o->core));
	} else {
		json_t *r = hc_report_heap(t, h);
		if (r)
			hc_report_add_warnings(r, &t->warnings);
		say_partial(t);
		rc = print_report(r, o, hc_report_heap_text);
		hc_glibc_heap_destroy(h);
	}
	hc_symbols_destroy(s);
	hc_target_destroy(t);
	return rc;
}

/* One line on a terminal's stderr per phase, overwritten in place. */
static void show_phase(enum hc_phase p, int done, void *arg)
{
	(void)arg;
	if (!done)
		fprintf(stderr, "\rheapcore: %-12s", hc_phase_name(p));
	else if (p + 1 == HC_PHASE_COUNT)
		fprintf(stderr, "\r%40s\r", "");
}

static struct hc_analysis_options analysis_options(const struct cli_options *o)
{
	struct hc_analysis_options ao = { .walk = { .method = o->arena_method } };
	/* the pool reserves address space ahead, which a data limit counts as used */
	if (memory_cap)
		ao.pool = HC_POOL_NEVER;
	return ao;
}

static int cmd_analyze(const struct cli_options *o, bool explain)
{
	struct hc_target *t;
	struct hc_symbols *s;
	int rc = open_target(o, &t, &s);
	if (rc)
		return rc;
	struct hc_analysis_options ao = analysis_options(o);
	if (o->progress) {
		ao.phase = show_phase;
	}
	struct hc_analysis *a;
	struct hc_error *err = hc_analysis_run(t, s, &ao, &a);
	if (err) {
		if (o->progress)
			fprintf(stderr, "\r%40s\r", "");
		rc = report_error(hc_error_prefix(err, "%s", o->core));
	} else {
		/* what only explain reads goes back to the kernel on the idle CPU while the report is built */
		pthread_t trim;
		bool trimming = !explain && pthread_create(&trim, NULL, trim_run, a) == 0;
		json_t *r;
		if (explain)
			r = hc_report_explain(a, o->address, o->scan_free);
		else
			r = o->snapshot ? hc_report_analyze_with_snapshot(a) : hc_report_analyze(a);
		if (trimming)
			pthread_join(trim, NULL);
		/* the chains are searched as the report asks: a search that stopped leaves some out */
		const struct hc_error *chains_err = hc_chains_error(a->chains);
		if (chains_err)
			hc_warnings_add(&t->warnings, HC_WARN_PARTIAL, "reference chains: %s", chains_err->message);
		if (r)
			hc_report_add_warnings(r, &t->warnings);
		say_partial(t);
		bool fail = !explain && r && select_findings(r, o);
		rc = print_report(r, o, explain ? hc_report_explain_text : hc_report_analyze_text);
		if (fail && (rc == 0 || rc == HC_ERR_DAMAGED))
			rc = EXIT_FINDINGS;
		hc_analysis_destroy(a);
	}
	hc_symbols_destroy(s);
	hc_target_destroy(t);
	return rc;
}

/* ---- live processes ---- */

static void let_go(int sig)
{
	/* a process held is never left traced or stopped by us, even when we are interrupted */
	hc_live_detach_all();
	signal(sig, SIG_DFL);
	raise(sig);
}

static void hold_signals(void)
{
	struct sigaction sa = { .sa_handler = let_go };
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGQUIT, &sa, NULL);
}

static int parse_pid(const char *s, pid_t *pid)
{
	char *end;
	long v = strtol(s, &end, 10);
	if (!*s || *end || v <= 0 || v > 0x7fffffff)
		return usage_error("PID must be a process id, not '%s'", s);
	*pid = (pid_t)v;
	return 0;
}

static int cmd_dump(const struct cli_options *o)
{
	pid_t pid;
	int rc = parse_pid(o->core, &pid);
	if (rc)
		return rc;
	/* a new file only: never through a symlink, never over another file */
	int fd = open(o->output, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		fprintf(stderr, "heapcore: %s: cannot create it: %s\n", o->output, strerror(errno));
		return HC_ERR_IO;
	}
	hold_signals();
	struct hc_live_stats st;
	struct hc_error *err = hc_live_dump(pid, fd, false, &st);
	if (close(fd) != 0 && !err)
		err = hc_error_create(HC_ERR_IO, "%s: cannot write it: %s", o->output, strerror(errno));
	if (err) {
		unlink(o->output);
		return report_error(err);
	}
	fprintf(stderr, "heapcore: process %d paused %.3f s: %u threads, %u mappings, %llu bytes to %s\n", (int)pid,
		st.pause_seconds, st.threads, st.mappings, (unsigned long long)st.bytes_dumped, o->output);
	return 0;
}

/*
 * A copy of live process pid as a core in memory (a memfd, read like any
 * other core through path): its descriptor in *fd. Unless keep_stopped,
 * the process is let go at once and its pause said. Returns 0 or an exit
 * code after printing the problem.
 */
static int live_copy(pid_t pid, bool keep_stopped, int *fd, char *path, size_t len, struct hc_live_stats *st)
{
	*fd = memfd_create("heapcore-copy", MFD_CLOEXEC);
	if (*fd < 0) {
		fprintf(stderr, "heapcore: cannot make room for the copy: %s\n", strerror(errno));
		return HC_ERR_IO;
	}
	hold_signals();
	struct hc_error *err = hc_live_dump(pid, *fd, keep_stopped, st);
	if (err) {
		close(*fd);
		*fd = -1;
		return report_error(err);
	}
	if (!keep_stopped)
		fprintf(stderr, "heapcore: process %d paused %.3f s (%u threads, %llu bytes copied)\n", (int)pid,
			st->pause_seconds, st->threads, (unsigned long long)st->bytes_dumped);
	snprintf(path, len, "/proc/self/fd/%d", *fd);
	return 0;
}

static int cmd_attach(struct cli_options *o)
{
	pid_t pid;
	int rc = parse_pid(o->core, &pid);
	if (rc)
		return rc;
	int fd;
	char path[64];
	struct hc_live_stats st;
	rc = live_copy(pid, o->in_place, &fd, path, sizeof(path), &st);
	if (rc)
		return rc;
	o->core = path;
	rc = cmd_analyze(o, false);
	if (o->in_place) {
		hc_live_release(&st);
		fprintf(stderr, "heapcore: process %d paused %.3f s, the analysis included (%u threads)\n", (int)pid,
			st.pause_seconds, st.threads);
	}
	close(fd);
	return rc;
}

/* ---- diff ---- */

static bool all_digits(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

/*
 * One side of a diff: the analyze report with its snapshot, of a core, or
 * of a live process (a copy taken as attach does, kept in memory). Each
 * analysis is freed before the next starts: two never share the memory.
 */
static int snapshot_report(const struct cli_options *o, const char *what, json_t **out)
{
	*out = NULL;
	/* a report saved by analyze --snapshot --format json: the analysis is done already */
	FILE *peek = fopen(what, "r");
	int first = peek ? fgetc(peek) : EOF;
	if (peek)
		fclose(peek);
	if (first == '{') {
		json_error_t jerr;
		json_t *r = json_load_file(what, 0, &jerr);
		if (!r) {
			fprintf(stderr, "heapcore: %s: not a JSON report: %s (line %d)\n", what, jerr.text, jerr.line);
			return HC_ERR_FORMAT;
		}
		if (!json_is_object(json_object_get(r, "snapshot"))) {
			json_decref(r);
			fprintf(stderr, "heapcore: %s: a report without a snapshot (save it with analyze --snapshot --format json)\n",
				what);
			return HC_ERR_FORMAT;
		}
		*out = r;
		return 0;
	}
	struct cli_options one = *o;
	one.core = what;
	int fd = -1;
	char path[64];
	struct stat st;
	if (stat(what, &st) != 0 && all_digits(what)) {
		pid_t pid;
		struct hc_live_stats ls;
		int rc = parse_pid(what, &pid);
		if (!rc)
			rc = live_copy(pid, false, &fd, path, sizeof(path), &ls);
		if (rc)
			return rc;
		one.core = path;
	}
	struct hc_target *t;
	struct hc_symbols *s;
	int rc = open_target(&one, &t, &s);
	if (rc) {
		if (fd >= 0)
			close(fd);
		return rc;
	}
	struct hc_analysis_options ao = analysis_options(o);
	struct hc_analysis *a;
	struct hc_error *err = hc_analysis_run(t, s, &ao, &a);
	if (err) {
		rc = report_error(hc_error_prefix(err, "%s", what));
	} else {
		json_t *r = hc_report_analyze_with_snapshot(a);
		if (r) {
			hc_report_add_warnings(r, &t->warnings);
			/* a live copy is named by its process, not by the memfd it was read from */
			json_object_set_new(json_object_get(r, "core"), "path",
					    fd >= 0 ? json_sprintf("process %s", what) : json_string(what));
		}
		say_partial(t);
		hc_analysis_destroy(a);
		*out = r;
		if (!r) {
			fprintf(stderr, "heapcore: out of memory building the report\n");
			rc = HC_ERR_NOMEM;
		}
	}
	hc_symbols_destroy(s);
	hc_target_destroy(t);
	if (fd >= 0)
		close(fd);
	return rc;
}

static int cmd_diff(const struct cli_options *o)
{
	json_t *r0, *r1;
	int rc = snapshot_report(o, o->core, &r0);
	if (rc)
		return rc;
	rc = snapshot_report(o, o->new_core, &r1);
	if (rc) {
		json_decref(r0);
		return rc;
	}
	json_t *d;
	struct hc_error *err = hc_diff_compare(r0, r1, &o->diff, &d);
	json_decref(r0);
	json_decref(r1);
	if (err)
		return report_error(err);
	bool fail = select_findings(d, o);
	rc = print_report(d, o, hc_report_diff_text);
	if (fail && (rc == 0 || rc == HC_ERR_DAMAGED))
		rc = EXIT_FINDINGS;
	return rc;
}

int main(int argc, char **argv)
{
	if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") ||
	    !strcmp(argv[1], "help")) {
		fputs(usage_text, argc < 2 ? stderr : stdout);
		return argc < 2 ? HC_ERR_USAGE : 0;
	}
	if (!strcmp(argv[1], "--version")) {
		printf("heapcore %s\n", HEAPCORE_VERSION);
		return 0;
	}
	struct cli_options o = { .format = FORMAT_TEXT, .fail_on = -1 };
	const char *command = argv[1];
	int rc = parse_options(command, argc - 1, argv + 1, &o);
	if (!rc && o.max_memory)
		rc = cap_memory(o.max_memory);
	if (rc)
		return rc;
	if (!strcmp(command, "info"))
		return cmd_info(&o);
	if (!strcmp(command, "heap"))
		return cmd_heap(&o);
	if (!strcmp(command, "analyze"))
		return cmd_analyze(&o, false);
	if (!strcmp(command, "diff"))
		return cmd_diff(&o);
	if (!strcmp(command, "explain"))
		return cmd_analyze(&o, true);
	if (!strcmp(command, "dump"))
		return cmd_dump(&o);
	if (!strcmp(command, "attach"))
		return cmd_attach(&o);
	return usage_error("unknown command '%s'", command);
}
