/*
 * Queue IDs. Purpose: names for queued messages that are unique across the
 * SMTP workers, the delivery process, `postern sendmail` and restarts, that
 * sort by creation time, and that are safe as file names.
 *
 * Layout (QUEUE_ID_LEN = 19 characters of [0-9A-Z], base 36, fixed width so
 * that byte order is time order):
 *
 *   SSSSSSS   seconds since the epoch (7 digits: good until year 4453)
 *   UUUU      microseconds (36^4 > 10^6)
 *   PPPPP     process id (36^5 > 2^22, Linux's pid_max limit)
 *   CCC       per-process counter, atomic across threads (mod 36^3)
 *
 * Two IDs can only collide if the same pid issues 46656 IDs within one
 * microsecond, or the clock goes back and a pid is reused; spool_create
 * opens with O_EXCL and renames with RENAME_NOREPLACE, so even then no
 * message is overwritten. Owns no objects; any process, any thread.
 */
#include "queue/queue_id.h"

#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static atomic_uint queue_id_counter;

static const char queue_id_digits[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";

/* Writes v as exactly `width` base-36 digits (most significant first). */
static void
queue_id_put(char *dst, uint64_t v, int width)
{
	int i;

	for (i = width - 1; i >= 0; i--) {
		dst[i] = queue_id_digits[v % 36];
		v /= 36;
	}
}

void
queue_id_new(char buf[QUEUE_ID_MAX])
{
	struct timespec ts;
	unsigned n;

	clock_gettime(CLOCK_REALTIME, &ts);
	n = atomic_fetch_add(&queue_id_counter, 1);
	queue_id_put(buf, (uint64_t)ts.tv_sec, 7);
	queue_id_put(buf + 7, (uint64_t)(ts.tv_nsec / 1000), 4);
	queue_id_put(buf + 11, (uint64_t)getpid(), 5);
	queue_id_put(buf + 16, n, 3);
	buf[QUEUE_ID_LEN] = '\0';
}

int
queue_id_valid(const char *s)
{
	size_t i;

	if (s == NULL)
		return 0;
	for (i = 0; i < QUEUE_ID_LEN; i++)
		if (!((s[i] >= '0' && s[i] <= '9') ||
		    (s[i] >= 'A' && s[i] <= 'Z')))
			return 0;
	return s[QUEUE_ID_LEN] == '\0';
}

/* The base-36 number in id[off..off+width). */
static uint64_t
queue_id_get(const char *id, int off, int width)
{
	const char *p;
	uint64_t v = 0;
	int i;

	for (i = off; i < off + width; i++) {
		p = strchr(queue_id_digits, id[i]);
		v = v * 36 + (uint64_t)(p - queue_id_digits);
	}
	return v;
}

time_t
queue_id_time(const char *id)
{
	if (!queue_id_valid(id))
		return (time_t)-1;
	return (time_t)queue_id_get(id, 0, 7);
}

int
queue_id_parts(const char *id, struct queue_id_parts *p)
{
	if (!queue_id_valid(id))
		return -1;
	p->sec = (time_t)queue_id_get(id, 0, 7);
	p->usec = (long)queue_id_get(id, 7, 4);
	p->pid = (long)queue_id_get(id, 11, 5);
	p->counter = (unsigned long)queue_id_get(id, 16, 3);
	return 0;
}
