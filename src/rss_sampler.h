/*
 * The process's resident memory, sampled by a thread of its own, so that
 * each analysis phase can report its own peak without resetting the
 * kernel's high-water mark (which getrusage and /usr/bin/time report, and
 * which must stay the whole run's).
 */
#ifndef HEAPCORE_RSS_SAMPLER_H
#define HEAPCORE_RSS_SAMPLER_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

struct hc_rss_sampler {
	pthread_t thread;
	bool running;
	int stop;                    /* atomic: set to end the thread */
	uint64_t peak;               /* atomic: highest sample since the last mark, bytes */
};

/* The resident bytes now (/proc/self/statm), 0 if unknown. */
uint64_t hc_rss_now(void);

/* Starts sampling every few milliseconds; without a thread, marks and peaks still see their own samples. */
void hc_rss_sampler_start(struct hc_rss_sampler *s);
/* Starts a new window: its peak is what is resident now, until samples say more. */
void hc_rss_sampler_mark(struct hc_rss_sampler *s);
/* The highest resident bytes seen since the mark, a sample taken now included. */
uint64_t hc_rss_sampler_peak(struct hc_rss_sampler *s);
void hc_rss_sampler_stop(struct hc_rss_sampler *s);

#endif
