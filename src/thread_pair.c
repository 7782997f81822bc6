/* Two-thread passes (see thread_pair.h). */
#include "thread_pair.h"

#include <pthread.h>
#include <stdbool.h>
#include <unistd.h>

unsigned hc_thread_count(unsigned requested, uint64_t items, uint64_t min_per_thread)
{
	if (requested)
		return requested > 2 ? 2 : requested;
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	return cpus >= 2 && items >= 2 * min_per_thread ? 2 : 1;
}

void hc_run_pair(unsigned nthreads, void *(*fn)(void *), void *a, void *b)
{
	pthread_t th;
	bool threaded = nthreads > 1 && pthread_create(&th, NULL, fn, b) == 0;
	fn(a);
	if (threaded)
		pthread_join(th, NULL);
	else
		fn(b);
}
