/* Large arrays, populated up front (see large_alloc.h). */
#include "large_alloc.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
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

/*
 * Faults in the pages of [p, p + bytes) for writing one by one, writing
 * nothing: an atomic add of 0 leaves a page other threads already use as it
 * is. Slower than hc_populate, but a fault takes only its mapping's lock,
 * where MADV_POPULATE_WRITE holds the whole address space's: a populator at
 * nice 19, preempted while holding that, stalls every mmap (and the page
 * faults queued behind it) for as long as the busy threads keep it off the
 * CPU.
 */
static void populate_by_touch(uint8_t *p, size_t bytes)
{
	const uintptr_t page = 4096;
	uintptr_t a = ((uintptr_t)p + page - 1) & ~(page - 1), end = (uintptr_t)p + bytes;
	for (; a < end; a += page)
		__atomic_fetch_add((uint8_t *)a, 0, __ATOMIC_RELAXED);
}

/* blocks kept by hc_free_large: few, and only big ones, so that holding them costs little */
#define CACHE_SLOTS 4
#define CACHE_MIN (8u << 20)
/* smaller blocks come from malloc: a pool block takes whole pages */
#define POOL_MIN 4096
/* big blocks are made in whole MiB, so that arrays of nearly one size (n and n + owners) share blocks */
#define ROUND (1u << 20)

static size_t rounded(size_t bytes)
{
	return bytes >= CACHE_MIN && bytes <= SIZE_MAX - ROUND ? (bytes + ROUND - 1) & ~(size_t)(ROUND - 1) : bytes;
}

static struct {
	pthread_mutex_t lock;
	void *p[CACHE_SLOTS];
	size_t bytes[CACHE_SLOTS];
} cache = { .lock = PTHREAD_MUTEX_INITIALIZER };

/*
 * The pool: one mapping, populated ahead by a populator while a
 * single-threaded pass runs, that big arrays are carved from in order.
 * Nothing is given back to it until it goes as a whole (hc_pool_end).
 */
static struct {
	pthread_mutex_t lock;
	bool taken;
	uint8_t *base;
	size_t size, used, populated;
} pool = { .lock = PTHREAD_MUTEX_INITIALIZER };

static bool in_pool(const void *p)
{
	uintptr_t b = (uintptr_t)pool.base;
	return b && (uintptr_t)p >= b && (uintptr_t)p < b + pool.size;
}

bool hc_pool_owns(const void *p)
{
	return in_pool(p);
}

/* The next bytes of the pool, or NULL when it has no room (or there is none). */
static void *pool_take(size_t bytes)
{
	void *p = NULL;
	pthread_mutex_lock(&pool.lock);
	size_t need = (bytes + 4095) & ~(size_t)4095;
	if (pool.base && need >= bytes && pool.size - pool.used >= need) {
		p = pool.base + pool.used;
		pool.used += need;
	}
	pthread_mutex_unlock(&pool.lock);
	return p;
}

bool hc_pool_begin(size_t bytes)
{
	pthread_mutex_lock(&pool.lock);
	bool ok = false;
	if (!pool.taken && bytes) {
		void *m = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (m != MAP_FAILED) {
			pool.base = m;
			pool.size = bytes;
			pool.used = pool.populated = 0;
			pool.taken = ok = true;
		}
	}
	pthread_mutex_unlock(&pool.lock);
	return ok;
}

static void populator_background(struct hc_populator *p, uint8_t *base, size_t upto);

void hc_pool_populate(struct hc_populator *p, size_t upto)
{
	pthread_mutex_lock(&pool.lock);
	size_t from = pool.populated, to = upto < pool.size ? upto : pool.size;
	if (pool.base && to > from)
		pool.populated = to;
	pthread_mutex_unlock(&pool.lock);
	if (pool.base && to > from && p)
		populator_background(p, pool.base, to);
}

void hc_pool_end(void)
{
	hc_large_cache_drain(false);
	pthread_mutex_lock(&pool.lock);
	if (pool.base)
		munmap(pool.base, pool.size);
	pool.base = NULL;
	pool.size = pool.used = pool.populated = 0;
	pool.taken = false;
	pthread_mutex_unlock(&pool.lock);
}

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
	bytes = rounded(bytes);
	void *p = bytes >= CACHE_MIN ? cache_take(bytes) : NULL;
	if (!p && bytes >= POOL_MIN)
		p = pool_take(bytes);
	if (p)
		return p;
	p = malloc(bytes ? bytes : 1);
	hc_populate(p, bytes);
	return p;
}

void *hc_calloc_large(size_t n, size_t size)
{
	if (n && size > SIZE_MAX / n)
		return NULL;
	size_t bytes = n * size;
	/* the pool's pages are fresh: zero, whether populated yet or not */
	void *p = bytes >= POOL_MIN ? pool_take(rounded(bytes)) : NULL;
	if (p)
		return p;
	p = calloc(n ? n : 1, size ? size : 1);
	/* calloc of a fresh mapping skips its memset: the pages are still untouched */
	if (p)
		hc_populate(p, bytes);
	return p;
}

void hc_free_large(void *p, size_t bytes)
{
	if (!p)
		return;
	bytes = rounded(bytes);
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
	/* the pool's blocks go with the pool */
	if (p && !in_pool(p))
		free(p);
}

void hc_release_large(void *p, size_t bytes)
{
	if (!p)
		return;
	if (!in_pool(p)) {
		free(p);
		return;
	}
	/* pool blocks start on a page and own whole pages */
	size_t whole = (rounded(bytes) + 4095) & ~(size_t)4095;
	madvise(p, whole, MADV_DONTNEED);
}

void hc_large_cache_drain(bool keep_pool_blocks)
{
	pthread_mutex_lock(&cache.lock);
	for (int i = 0; i < CACHE_SLOTS; i++) {
		if (!cache.p[i] || (keep_pool_blocks && in_pool(cache.p[i])))
			continue;
		if (!in_pool(cache.p[i]))
			free(cache.p[i]);
		cache.p[i] = NULL;
	}
	pthread_mutex_unlock(&cache.lock);
}

void hc_large_cache_release(void)
{
	void *p[CACHE_SLOTS];
	size_t bytes[CACHE_SLOTS];
	/* out of the cache first: nobody else can take one while its pages go */
	pthread_mutex_lock(&cache.lock);
	for (int i = 0; i < CACHE_SLOTS; i++) {
		p[i] = cache.p[i];
		bytes[i] = cache.bytes[i];
		cache.p[i] = NULL;
	}
	pthread_mutex_unlock(&cache.lock);
	for (int i = 0; i < CACHE_SLOTS; i++)
		hc_release_large(p[i], bytes[i]);
}

#define POPULATOR_QUEUE 16

/*
 * The queue holds what a pass writes next (the chunk table's next window)
 * and comes first; the pool is populated in the background, from its start
 * up to bg_goal, whenever the queue is empty. Queued behind the pool's
 * windows, the table's would wait for them whenever populating falls
 * behind the walk (it needs 64 bytes a chunk to the walk's 13), and the
 * walk would clear the table's pages itself.
 */
struct hc_populator {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t work, idle;
	void *ptr[POPULATOR_QUEUE];
	size_t bytes[POPULATOR_QUEUE];
	unsigned head, count;
	uint8_t *bg_base;
	size_t bg_done, bg_goal;
	bool busy, stop;
};

/* a request is done in steps of this many bytes, so that stopping never waits for a big one */
#define POPULATOR_STEP (16u << 20)

static void *populator_run(void *arg)
{
	struct hc_populator *p = arg;
	/* idle time only: the passes running beside it come first */
	setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), 19);
	pthread_mutex_lock(&p->lock);
	for (;;) {
		while (!p->count && p->bg_done >= p->bg_goal && !p->stop)
			pthread_cond_wait(&p->work, &p->lock);
		if (p->stop)
			break;
		uint8_t *ptr;
		size_t bytes;
		bool queued = p->count;
		if (queued) {
			ptr = p->ptr[p->head];
			bytes = p->bytes[p->head];
			p->head = (p->head + 1) % POPULATOR_QUEUE;
			p->count--;
		} else {
			/* a step of the background at a time, so that a queued request waits no longer */
			ptr = p->bg_base + p->bg_done;
			bytes = p->bg_goal - p->bg_done < POPULATOR_STEP ? p->bg_goal - p->bg_done : POPULATOR_STEP;
			p->bg_done += bytes;
		}
		bool background = !queued;
		p->busy = true;
		pthread_mutex_unlock(&p->lock);
		for (size_t done = 0; done < bytes && !__atomic_load_n(&p->stop, __ATOMIC_RELAXED);) {
			size_t n = bytes - done < POPULATOR_STEP ? bytes - done : POPULATOR_STEP;
			/* the pool goes on populating while the later phases run: page by page */
			if (background)
				populate_by_touch(ptr + done, n);
			else
				hc_populate(ptr + done, n);
			done += n;
		}
		pthread_mutex_lock(&p->lock);
		p->busy = false;
		if (!p->count)
			pthread_cond_broadcast(&p->idle);
	}
	/* pending requests are dropped: their pages fault in when written, as without a populator */
	p->count = 0;
	p->busy = false;
	pthread_cond_broadcast(&p->idle);
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
		/* a range right after the last one queued (the pool's, growing) joins it */
		if (p->count) {
			unsigned last = (p->head + p->count - 1) % POPULATOR_QUEUE;
			if ((uint8_t *)p->ptr[last] + p->bytes[last] == (uint8_t *)ptr) {
				p->bytes[last] += bytes;
				pthread_mutex_unlock(&p->lock);
				return;
			}
		}
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

static void populator_background(struct hc_populator *p, uint8_t *base, size_t upto)
{
	pthread_mutex_lock(&p->lock);
	if (p->bg_base != base) {
		p->bg_base = base;
		p->bg_done = p->bg_goal = 0;
	}
	if (upto > p->bg_goal) {
		p->bg_goal = upto;
		pthread_cond_signal(&p->work);
	}
	pthread_mutex_unlock(&p->lock);
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
	__atomic_store_n(&p->stop, true, __ATOMIC_RELAXED);
	pthread_cond_signal(&p->work);
	pthread_mutex_unlock(&p->lock);
	pthread_join(p->thread, NULL);
	pthread_mutex_destroy(&p->lock);
	pthread_cond_destroy(&p->work);
	pthread_cond_destroy(&p->idle);
	free(p);
}
