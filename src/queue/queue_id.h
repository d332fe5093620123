/*
 * Queue IDs: unique across worker processes and restarts, sortable by
 * creation time, safe as file names: [0-9A-Z] only.
 */
#ifndef POSTERN_QUEUE_ID_H
#define POSTERN_QUEUE_ID_H

#include <stddef.h>
#include <time.h>

#include "queue/envelope.h"

#define QUEUE_ID_LEN 19		/* every ID has exactly this many characters */

/* Writes a new ID into buf (QUEUE_ID_MAX bytes). */
void queue_id_new(char buf[QUEUE_ID_MAX]);

/* 1 if s looks like a queue ID (so it is safe to join to a path). */
int queue_id_valid(const char *s);

/* The creation second encoded in a valid ID, or (time_t)-1. */
time_t queue_id_time(const char *id);

/* Every part of a valid ID: creation time, pid, counter. 0 or -1. */
struct queue_id_parts {
	time_t		sec;
	long		usec;
	long		pid;
	unsigned long	counter;
};
int queue_id_parts(const char *id, struct queue_id_parts *p);

#endif
