/*
 * Demangling C++ names with __cxa_demangle, the C++ ABI's demangler that
 * libstdc++ exports (docs/dependencies.md says why it is linked): it is the
 * one g++ itself agrees with, and it demangles bare type encodings too, which
 * RTTI names need.
 */
#include "heapcore/demangle.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* From the Itanium C++ ABI (cxxabi.h), which is C++ only. */
extern char *__cxa_demangle(const char *mangled, char *out, size_t *length, int *status);

/* Names past this are not names: a damaged string table or core. */
#define MANGLED_MAX 4096

static bool demangle_into(const char *mangled, char *buf, size_t len)
{
	if (!mangled || !len || strnlen(mangled, MANGLED_MAX) >= MANGLED_MAX)
		return false;
	int status = -1;
	char *d = __cxa_demangle(mangled, NULL, NULL, &status);
	if (!d || status != 0) {
		free(d);
		return false;
	}
	snprintf(buf, len, "%s", d);
	free(d);
	return true;
}

bool hc_demangle(const char *name, char *buf, size_t len)
{
	if (!buf || !len)
		return false;
	if (!name) {
		buf[0] = 0;
		return false;
	}
	/* Only _Z names: a plain C name such as "i" would demangle as the type int. */
	if (!strncmp(name, "_Z", 2) && demangle_into(name, buf, len))
		return true;
	snprintf(buf, len, "%s", name);
	return false;
}

bool hc_demangle_type(const char *mangled, char *buf, size_t len)
{
	if (!mangled || !buf || !len)
		return false;
	if (*mangled == '*')
		mangled++;
	if (!*mangled)
		return false;
	return demangle_into(mangled, buf, len);
}
