/* Error objects and warning lists (see include/heapcore/error.h). */
#include "heapcore/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct hc_error hc_error_nomem = { HC_ERR_NOMEM, "out of memory" };

/* A corrupt core can yield one warning per chunk; a cap keeps memory bounded. */
#define HC_WARNINGS_MAX 1000

struct hc_error *hc_error_createv(enum hc_error_code code, const char *fmt, va_list ap)
{
	struct hc_error *err = malloc(sizeof(*err));
	if (!err)
		return &hc_error_nomem;
	err->code = code;
	if (vasprintf(&err->message, fmt, ap) < 0) {
		free(err);
		return &hc_error_nomem;
	}
	return err;
}

struct hc_error *hc_error_create(enum hc_error_code code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	struct hc_error *err = hc_error_createv(code, fmt, ap);
	va_end(ap);
	return err;
}

struct hc_error *hc_error_prefix(struct hc_error *err, const char *fmt, ...)
{
	if (!err || err == &hc_error_nomem)
		return err;
	char *prefix, *joined;
	va_list ap;
	va_start(ap, fmt);
	int n = vasprintf(&prefix, fmt, ap);
	va_end(ap);
	if (n < 0)
		return err;
	if (asprintf(&joined, "%s: %s", prefix, err->message) >= 0) {
		free(err->message);
		err->message = joined;
	}
	free(prefix);
	return err;
}

void hc_error_destroy(struct hc_error *err)
{
	if (!err || err == &hc_error_nomem)
		return;
	free(err->message);
	free(err);
}

void hc_warnings_add(struct hc_warnings *w, enum hc_warning_kind kind, const char *fmt, ...)
{
	if (kind == HC_WARN_PARTIAL)
		w->partial = 1;
	if (w->count >= HC_WARNINGS_MAX) {
		w->dropped++;
		return;
	}
	if (w->count == w->capacity) {
		unsigned cap = w->capacity ? w->capacity * 2 : 16;
		struct hc_warning *items = realloc(w->items, cap * sizeof(*items));
		if (!items) {
			w->dropped++;
			return;
		}
		w->items = items;
		w->capacity = cap;
	}
	va_list ap;
	va_start(ap, fmt);
	char *msg;
	if (vasprintf(&msg, fmt, ap) < 0) {
		va_end(ap);
		w->dropped++;
		return;
	}
	va_end(ap);
	w->items[w->count].kind = kind;
	w->items[w->count].message = msg;
	w->count++;
}

int hc_warnings_partial(const struct hc_warnings *w)
{
	return w->partial;
}

struct hc_warnings_mark hc_warnings_mark(const struct hc_warnings *w)
{
	return (struct hc_warnings_mark){ w->count, w->dropped, w->partial };
}

void hc_warnings_rewind(struct hc_warnings *w, struct hc_warnings_mark m)
{
	for (unsigned i = m.count; i < w->count; i++)
		free(w->items[i].message);
	if (m.count < w->count)
		w->count = m.count;
	w->dropped = m.dropped;
	w->partial = m.partial;
}

void hc_warnings_free(struct hc_warnings *w)
{
	for (unsigned i = 0; i < w->count; i++)
		free(w->items[i].message);
	free(w->items);
	memset(w, 0, sizeof(*w));
}
