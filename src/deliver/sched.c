/*
 * The delivery scheduler's index (see deliver/sched.h): a chained hash
 * table of struct sched_msg by queue ID and a binary min-heap by (next
 * attempt, ID). Owns every struct sched_msg. Delivery process, loop
 * thread only.
 */
#include "deliver/sched.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "queue/queue_id.h"
#include "util/xmalloc.h"

#define SCHED_MIN_BUCKETS 64

struct sched {
	struct sched_msg	**buckets;
	size_t			  nbuckets;
	size_t			  n;
	struct sched_msg	**heap;
	size_t			  nheap;
	size_t			  heapcap;
	unsigned		  gen;
	size_t			  added;	/* during a scan */
};

static uint64_t
sched_hash(const char *id)
{
	uint64_t h = 1469598103934665603ULL;	/* FNV-1a */

	for (; *id != '\0'; id++)
		h = (h ^ (unsigned char)*id) * 1099511628211ULL;
	return h;
}

struct sched *
sched_new(void)
{
	struct sched *s = xcalloc(1, sizeof(*s));

	s->nbuckets = SCHED_MIN_BUCKETS;
	s->buckets = xcalloc(s->nbuckets, sizeof(*s->buckets));
	return s;
}

void
sched_free(struct sched *s)
{
	struct sched_msg *m, *next;
	size_t i;

	if (s == NULL)
		return;
	for (i = 0; i < s->nbuckets; i++)
		for (m = s->buckets[i]; m != NULL; m = next) {
			next = m->hnext;
			free(m);
		}
	free(s->buckets);
	free(s->heap);
	free(s);
}

size_t
sched_count(const struct sched *s)
{
	return s->n;
}

struct sched_msg *
sched_find(struct sched *s, const char *id)
{
	struct sched_msg *m;

	for (m = s->buckets[sched_hash(id) % s->nbuckets]; m != NULL;
	    m = m->hnext)
		if (strcmp(m->id, id) == 0)
			return m;
	return NULL;
}

static void
sched_rehash(struct sched *s)
{
	struct sched_msg **old = s->buckets, *m, *next;
	size_t i, oldn = s->nbuckets, b;

	s->nbuckets = oldn * 4;
	s->buckets = xcalloc(s->nbuckets, sizeof(*s->buckets));
	for (i = 0; i < oldn; i++)
		for (m = old[i]; m != NULL; m = next) {
			next = m->hnext;
			b = sched_hash(m->id) % s->nbuckets;
			m->hnext = s->buckets[b];
			s->buckets[b] = m;
		}
	free(old);
}

/* 1 if a must come out of the heap before b. */
static int
sched_before(const struct sched_msg *a, const struct sched_msg *b)
{
	if (a->next != b->next)
		return a->next < b->next;
	return strcmp(a->id, b->id) < 0;
}

static void
sched_heap_set(struct sched *s, size_t i, struct sched_msg *m)
{
	s->heap[i] = m;
	m->heap_idx = i;
}

static void
sched_sift_up(struct sched *s, size_t i)
{
	struct sched_msg *m = s->heap[i];

	while (i > 0 && sched_before(m, s->heap[(i - 1) / 2])) {
		sched_heap_set(s, i, s->heap[(i - 1) / 2]);
		i = (i - 1) / 2;
	}
	sched_heap_set(s, i, m);
}

static void
sched_sift_down(struct sched *s, size_t i)
{
	struct sched_msg *m = s->heap[i];
	size_t c;

	while ((c = 2 * i + 1) < s->nheap) {
		if (c + 1 < s->nheap &&
		    sched_before(s->heap[c + 1], s->heap[c]))
			c++;
		if (!sched_before(s->heap[c], m))
			break;
		sched_heap_set(s, i, s->heap[c]);
		i = c;
	}
	sched_heap_set(s, i, m);
}

static void
sched_heap_push(struct sched *s, struct sched_msg *m)
{
	if (s->nheap == s->heapcap) {
		s->heapcap = s->heapcap ? s->heapcap * 2 : 64;
		s->heap = xreallocarray(s->heap, s->heapcap,
		    sizeof(*s->heap));
	}
	sched_heap_set(s, s->nheap++, m);
	sched_sift_up(s, m->heap_idx);
}

static void
sched_heap_remove(struct sched *s, struct sched_msg *m)
{
	struct sched_msg *last;
	size_t i = m->heap_idx;

	if (i == SCHED_NOT_QUEUED)
		return;
	m->heap_idx = SCHED_NOT_QUEUED;
	if (i == --s->nheap)
		return;
	last = s->heap[s->nheap];
	sched_heap_set(s, i, last);
	sched_sift_down(s, i);
	sched_sift_up(s, last->heap_idx);
}

struct sched_msg *
sched_add(struct sched *s, const char *id, time_t next)
{
	struct sched_msg *m = xcalloc(1, sizeof(*m));
	size_t b;

	if (s->n >= s->nbuckets * 2)
		sched_rehash(s);
	(void)strncpy(m->id, id, QUEUE_ID_MAX - 1);
	m->next = next;
	m->seen = s->gen;
	b = sched_hash(m->id) % s->nbuckets;
	m->hnext = s->buckets[b];
	s->buckets[b] = m;
	s->n++;
	sched_heap_push(s, m);
	return m;
}

void
sched_remove(struct sched *s, struct sched_msg *m)
{
	struct sched_msg **pp;

	sched_heap_remove(s, m);
	for (pp = &s->buckets[sched_hash(m->id) % s->nbuckets]; *pp != NULL;
	    pp = &(*pp)->hnext)
		if (*pp == m) {
			*pp = m->hnext;
			s->n--;
			break;
		}
	free(m);
}

struct sched_msg *
sched_peek(const struct sched *s)
{
	return s->nheap > 0 ? s->heap[0] : NULL;
}

struct sched_msg *
sched_take_due(struct sched *s, time_t now)
{
	struct sched_msg *m = sched_peek(s);

	if (m == NULL || m->next > now)
		return NULL;
	sched_heap_remove(s, m);
	m->running = 1;
	return m;
}

void
sched_requeue(struct sched *s, struct sched_msg *m, time_t next)
{
	m->running = 0;
	m->next = m->again ? 0 : next;
	m->again = 0;
	sched_heap_remove(s, m);
	sched_heap_push(s, m);
}

void
sched_flush(struct sched *s, struct sched_msg *m)
{
	m->force = 1;
	if (m->running) {
		m->again = 1;
		return;
	}
	m->next = 0;
	sched_heap_remove(s, m);
	sched_heap_push(s, m);
}

void
sched_flush_all(struct sched *s)
{
	struct sched_msg *m;
	size_t i;

	for (i = 0; i < s->nbuckets; i++)
		for (m = s->buckets[i]; m != NULL; m = m->hnext) {
			m->force = 1;
			if (m->running)
				m->again = 1;
			else
				m->next = 0;
		}
	/* Every queued key changed: rebuild the heap bottom-up. */
	for (i = s->nheap / 2; i-- > 0;)
		sched_sift_down(s, i);
}

void
sched_scan_begin(struct sched *s)
{
	s->gen++;
	s->added = 0;
}

int
sched_scan_seen(struct sched *s, const char *id)
{
	struct sched_msg *m;

	if ((m = sched_find(s, id)) != NULL) {
		m->seen = s->gen;
		return 0;
	}
	(void)sched_add(s, id, 0);
	s->added++;
	return 0;
}

size_t
sched_scan_end(struct sched *s)
{
	struct sched_msg *m, *next;
	size_t i;

	for (i = 0; i < s->nbuckets; i++)
		for (m = s->buckets[i]; m != NULL; m = next) {
			next = m->hnext;
			if (m->seen != s->gen && !m->running)
				sched_remove(s, m);
		}
	return s->added;
}
