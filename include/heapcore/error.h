/*
 * Error objects: every fallible library function returns a struct hc_error *
 * (NULL on success) instead of printing or exiting, so that the CLI alone
 * decides what the user sees and which exit code the process ends with.
 */
#ifndef HEAPCORE_ERROR_H
#define HEAPCORE_ERROR_H

#include <stdarg.h>

/*
 * Each code maps to one documented exit code of the CLI (docs/exit-codes.md),
 * so the code says what kind of failure it is, not where it happened.
 */
enum hc_error_code {
	HC_ERR_INTERNAL = 1,     /* a bug or an impossible state */
	HC_ERR_USAGE = 2,        /* bad command line or option value */
	HC_ERR_IO = 3,           /* the file cannot be opened or read */
	HC_ERR_FORMAT = 4,       /* not a supported core: not ELF, ELF32, big-endian, not ET_CORE, ... */
	HC_ERR_DAMAGED = 5,      /* the input is damaged; what could be read was read */
	HC_ERR_NOMEM = 6,        /* out of memory, or over the --max-memory cap */
	HC_ERR_NOT_FOUND = 7,    /* a thing looked for is not in the target (arena, symbol, address) */
	HC_ERR_UNSUPPORTED = 8,  /* understood but not handled: architecture, allocator version */
};

struct hc_error {
	enum hc_error_code code;
	char *message;           /* one line, no trailing newline */
};

/* Returned when allocating the error itself fails; hc_error_destroy ignores it. */
extern struct hc_error hc_error_nomem;

struct hc_error *hc_error_create(enum hc_error_code code, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
struct hc_error *hc_error_createv(enum hc_error_code code, const char *fmt, va_list ap);
/* Prepends "prefix: " to err's message (for naming the file); returns err. */
struct hc_error *hc_error_prefix(struct hc_error *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void hc_error_destroy(struct hc_error *err);

/*
 * Warnings: damage or missing pieces that do not stop the work. They are
 * collected, not printed, so that the report can list them and mark itself
 * partial.
 */
enum hc_warning_kind {
	HC_WARN_INFO = 0,        /* worth saying, changes nothing (e.g. no debug info) */
	HC_WARN_PARTIAL = 1,     /* some results are missing or may be wrong */
};

struct hc_warning {
	enum hc_warning_kind kind;
	char *message;
};

struct hc_warnings {
	struct hc_warning *items;
	unsigned count, capacity;
	unsigned dropped;        /* warnings past the cap, counted not stored */
	int partial;             /* some HC_WARN_PARTIAL was added, stored or not */
};

void hc_warnings_add(struct hc_warnings *w, enum hc_warning_kind kind, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
int hc_warnings_partial(const struct hc_warnings *w);
void hc_warnings_free(struct hc_warnings *w);

/* Where a list of warnings stands, to go back to when work that added some is undone. */
struct hc_warnings_mark {
	unsigned count, dropped;
	int partial;
};
struct hc_warnings_mark hc_warnings_mark(const struct hc_warnings *w);
void hc_warnings_rewind(struct hc_warnings *w, struct hc_warnings_mark m);

#endif
