/* Large arrays, populated up front (see large_alloc.h). */
#include "large_alloc.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

/* below this, the faults are too few to matter */
#define POPULATE_MIN (1u << 20)

void hc_populate(void *p, size_t bytes)
{
	const uintptr_t page = 4096;
	if (!p || bytes < POPULATE_MIN)
		return;
	uintptr_t start = ((uintptr_t)p + page - 1) & ~(page - 1), end = ((uintptr_t)p + bytes) & ~(page - 1);
	/* EINVAL before 5.14: the pages then fault in as they are written */
	if (end > start)
		madvise((void *)start, end - start, MADV_POPULATE_WRITE);
}

/* blocks kept by hc_free_large: few, and only big ones, so that holding them costs little */
#define CACHE_SLOTS 4
#define CACHE_MIN (8u << 20)

static struct {
	pthread_mutex_t lock;
	void *p[CACHE_SLOTS];
	size_t bytes[CACHE_SLOTS];
} cache = { .lock = PTHREAD_MUTEX_INITIALIZER };

/* The kept block that fits bytes best (no more than twice as big), taken out of the cache; NULL if none. */
static void *cache_take(size_t bytes)
{
	void *p = NULL;
	pthread_mutex_lock(&cache.lock);
	int best = -1;
	for (int i = 0; i < CACHE_SLOTS; i++)
		if (cache.p[i] && cache.bytes[i] >= bytes && cache.bytes[i] / 2 <= bytes &&
		    (best < 0 || cache.bytes[i] < cache.bytes[best]))
			best = i;
	if (best >= 0) {
		p = cache.p[best];
		cache.p[best] = NULL;
	}
	pthread_mutex_unlock(&cache.lock);
	return p;
}

void *hc_alloc_large(size_t bytes)
{
	void *p = bytes >= CACHE_MIN ? cache_take(bytes) : NULL;
	if (p)
		return p;
	p = malloc(bytes ? bytes : 1);
	hc_populate(p, bytes);
	return p;
}

void hc_free_large(void *p, size_t bytes)
{
	if (!p)
		return;
	if (bytes >= CACHE_MIN) {
		pthread_mutex_lock(&cache.lock);
		/* an empty slot, else the smallest kept block if this one is bigger */
		int slot = 0;
		for (int i = 0; i < CACHE_SLOTS; i++) {
			if (!cache.p[i]) {
				slot = i;
				break;
			}
			if (cache.bytes[i] < cache.bytes[slot])
				slot = i;
		}
		if (!cache.p[slot] || cache.bytes[slot] < bytes) {
			void *old = cache.p[slot];
			cache.p[slot] = p;
			cache.bytes[slot] = bytes;
			p = old;
		}
		pthread_mutex_unlock(&cache.lock);
	}
	free(p);
}

void hc_large_cache_drain(void)
{
	pthread_mutex_lock(&cache.lock);
	for (int i = 0; i < CACHE_SLOTS; i++) {
		free(cache.p[i]);
		cache.p[i] = NULL;
	}
	pthread_mutex_unlock(&cache.lock);
}

void *hc_calloc_large(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);
	/* calloc of a fresh mapping skips its memset: the pages are still untouched */
	if (p && n && size <= SIZE_MAX / n)
		hc_populate(p, n * size);
	return p;
}

#define POPULATOR_QUEUE 16

struct hc_populator {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t work, idle;
	void *ptr[POPULATOR_QUEUE];
	size_t bytes[POPULATOR_QUEUE];
	unsigned head, count;
	bool busy, stop;
};

static void *populator_run(void *arg)
{
	struct hc_populator *p = arg;
	pthread_mutex_lock(&p->lock);
	for (;;) {
		while (!p->count && !p->stop)
			pthread_cond_wait(&p->work, &p->lock);
		if (!p->count)
			break;
		void *ptr = p->ptr[p->head];
		size_t bytes = p->bytes[p->head];
		p->head = (p->head + 1) % POPULATOR_QUEUE;
		p->count--;
		p->busy = true;
		pthread_mutex_unlock(&p->lock);
		hc_populate(ptr, bytes);
		pthread_mutex_lock(&p->lock);
		p->busy = false;
		if (!p->count)
			pthread_cond_broadcast(&p->idle);
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

struct hc_populator *hc_populator_start(void)
{
	if (sysconf(_SC_NPROCESSORS_ONLN) < 2)
		return NULL;
	struct hc_populator *p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->work, NULL);
	pthread_cond_init(&p->idle, NULL);
	if (pthread_create(&p->thread, NULL, populator_run, p)) {
		pthread_mutex_destroy(&p->lock);
		pthread_cond_destroy(&p->work);
		pthread_cond_destroy(&p->idle);
		free(p);
		return NULL;
	}
	return p;
}

void hc_populator_request(struct hc_populator *p, void *ptr, size_t bytes)
{
	if (p) {
		pthread_mutex_lock(&p->lock);
		if (p->count < POPULATOR_QUEUE) {
			unsigned tail = (p->head + p->count) % POPULATOR_QUEUE;
			p->ptr[tail] = ptr;
			p->bytes[tail] = bytes;
			p->count++;
			pthread_cond_signal(&p->work);
			pthread_mutex_unlock(&p->lock);
			return;
		}
		pthread_mutex_unlock(&p->lock);
	}
	hc_populate(ptr, bytes);
}

void hc_populator_wait(struct hc_populator *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	while (p->count || p->busy)
		pthread_cond_wait(&p->idle, &p->lock);
	pthread_mutex_unlock(&p->lock);
}

void hc_populator_stop(struct hc_populator *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	p->stop = true;
	pthread_cond_signal(&p->work);
	pthread_mutex_unlock(&p->lock);
	pthread_join(p->thread, NULL);
	pthread_mutex_destroy(&p->lock);
	pthread_cond_destroy(&p->work);
	pthread_cond_destroy(&p->idle);
	free(p);
}
