/*
 * C++ demangling through the C++ ABI's own demangler (__cxa_demangle, from
 * libstdc++), so that names read the way the compiler's own tools print them.
 */
#ifndef HEAPCORE_DEMANGLE_H
#define HEAPCORE_DEMANGLE_H

#include <stdbool.h>
#include <stddef.h>

/*
 * A symbol name ("_ZN3app6Widget2idEv" -> "app::Widget::id()"). A name that
 * is not mangled, or does not demangle, is copied as it is; returns whether
 * it was demangled. Truncates to len - 1 bytes.
 */
bool hc_demangle(const char *name, char *buf, size_t len);

/*
 * A mangled type, as RTTI's type_info::name() and the tail of a _ZTV/_ZTI
 * symbol spell it ("N3app6WidgetE" -> "app::Widget"); false (buf untouched)
 * if it does not demangle. A leading '*' (GCC's mark for local types) is
 * skipped.
 */
bool hc_demangle_type(const char *mangled, char *buf, size_t len);

#endif
