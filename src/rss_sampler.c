/* Resident-memory sampling for per-phase peaks (see rss_sampler.h). */
#include "rss_sampler.h"

#include <stdio.h>
#include <time.h>
#include <unistd.h>

#define SAMPLE_NS 2000000        /* 2 ms: phases hold their big arrays far longer */

uint64_t hc_rss_now(void)
{
	FILE *f = fopen("/proc/self/statm", "r");
	unsigned long long size = 0, resident = 0;
	int n = f ? fscanf(f, "%llu %llu", &size, &resident) : 0;
	if (f)
		fclose(f);
	long page = sysconf(_SC_PAGESIZE);
	return n == 2 && page > 0 ? (uint64_t)resident * (uint64_t)page : 0;
}

static void raise_peak(struct hc_rss_sampler *s, uint64_t v)
{
	uint64_t cur = __atomic_load_n(&s->peak, __ATOMIC_RELAXED);
	while (v > cur && !__atomic_compare_exchange_n(&s->peak, &cur, v, true, __ATOMIC_RELAXED, __ATOMIC_RELAXED))
		;
}

static void *sample(void *arg)
{
	struct hc_rss_sampler *s = arg;
	struct timespec ts = { 0, SAMPLE_NS };
	while (!__atomic_load_n(&s->stop, __ATOMIC_RELAXED)) {
		raise_peak(s, hc_rss_now());
		nanosleep(&ts, NULL);
	}
	return NULL;
}

void hc_rss_sampler_start(struct hc_rss_sampler *s)
{
	s->stop = 0;
	s->peak = hc_rss_now();
	s->running = pthread_create(&s->thread, NULL, sample, s) == 0;
}

void hc_rss_sampler_mark(struct hc_rss_sampler *s)
{
	__atomic_store_n(&s->peak, hc_rss_now(), __ATOMIC_RELAXED);
}

uint64_t hc_rss_sampler_peak(struct hc_rss_sampler *s)
{
	raise_peak(s, hc_rss_now());
	return __atomic_load_n(&s->peak, __ATOMIC_RELAXED);
}

void hc_rss_sampler_stop(struct hc_rss_sampler *s)
{
	__atomic_store_n(&s->stop, 1, __ATOMIC_RELAXED);
	if (s->running)
		pthread_join(s->thread, NULL);
	s->running = false;
}
