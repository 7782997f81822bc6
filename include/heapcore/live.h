/*
 * A live process as a core (src/live_dump.c): every thread seized and
 * stopped with ptrace, its registers, the process's mappings and memory
 * (/proc/PID/maps and /proc/PID/mem) written as an ELF core in the kernel's
 * layout (NT_PRSTATUS per thread, NT_PRPSINFO, NT_AUXV, NT_FILE), which gdb
 * and heapcore read. What is dumped follows the kernel's default
 * coredump_filter: anonymous and writable mappings whole, the first page of
 * other file mappings (their ELF headers and build-ids); the rest is
 * described, not copied.
 *
 * The process is left as it was found: running if it was, still stopped if
 * it was stopped (SIGSTOP), and never traced, also when the dump fails or
 * the caller is interrupted (hc_live_detach_all is async-signal-safe). The
 * pause (from the first thread stopped to the last let go) is reported.
 * x86-64 only.
 */
#ifndef HEAPCORE_LIVE_H
#define HEAPCORE_LIVE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "heapcore/error.h"

struct hc_live_stats {
	uint32_t threads;
	uint32_t mappings;
	uint64_t bytes_dumped;       /* memory copied into the core */
	double pause_seconds;        /* from the first thread stopped to the last let go */
	bool was_stopped;            /* the process was in a group stop (SIGSTOP) before */
};

/*
 * Stops pid, writes its core to fd (from offset 0), and lets it go unless
 * keep_stopped (the caller then calls hc_live_release). Errors: no such
 * process (HC_ERR_NOT_FOUND), permission denied or already traced (HC_ERR_IO,
 * naming the tracer's pid), an architecture other than x86-64
 * (HC_ERR_UNSUPPORTED), a write that fails (HC_ERR_IO).
 */
struct hc_error *hc_live_dump(pid_t pid, int fd, bool keep_stopped, struct hc_live_stats *stats);

/* Lets go of a process hc_live_dump kept stopped: detaches every thread, restoring its state. */
void hc_live_release(struct hc_live_stats *stats);

/* Detaches every thread this process holds: for a SIGINT/SIGTERM handler. */
void hc_live_detach_all(void);

#endif
