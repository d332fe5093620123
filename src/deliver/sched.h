/*
 * The delivery process's in-memory index of the queue: every known queue
 * ID with its next attempt time, in a hash table (lookup by ID on each
 * directory scan) and a binary heap (the earliest due message first; ties
 * go to the older ID). Messages being delivered are out of the heap.
 * Loop thread only; no locking.
 */
#ifndef POSTERN_SCHED_H
#define POSTERN_SCHED_H

#include <stddef.h>
#include <time.h>

#include "queue/envelope.h"

/* Owned by struct sched. */
struct sched_msg {
	char			 id[QUEUE_ID_MAX];
	time_t			 next;		/* due time; 0: at once */
	int			 running;	/* a delivery job has it */
	int			 force;		/* flushed: retry now */
	int			 again;		/* flushed while running */
	unsigned		 seen;		/* scan generation */
	size_t			 heap_idx;	/* or SCHED_NOT_QUEUED */
	struct sched_msg	*hnext;
};

#define SCHED_NOT_QUEUED ((size_t)-1)

struct sched;

struct sched *sched_new(void);
void sched_free(struct sched *s);		/* NULL ok */
size_t sched_count(const struct sched *s);

struct sched_msg *sched_find(struct sched *s, const char *id);
/* Adds id (not yet known) due at next. */
struct sched_msg *sched_add(struct sched *s, const char *id, time_t next);
/* Forgets m (running or not) and frees it. */
void sched_remove(struct sched *s, struct sched_msg *m);

/* The earliest queued message, or NULL. */
struct sched_msg *sched_peek(const struct sched *s);
/* Takes the earliest message if it is due at now: out of the heap, marked
 * running. NULL if none is due. */
struct sched_msg *sched_take_due(struct sched *s, time_t now);
/* A running message goes back into the heap, due at next. */
void sched_requeue(struct sched *s, struct sched_msg *m, time_t next);
/* Makes m due at once (flush); a running one is redone when it ends. */
void sched_flush(struct sched *s, struct sched_msg *m);
void sched_flush_all(struct sched *s);

/*
 * Directory scans: sched_scan_begin(), then sched_scan_seen() for each ID
 * found (adding new ones due at once), then sched_scan_end() forgets the
 * queued messages not seen (deleted); returns the count added.
 */
void sched_scan_begin(struct sched *s);
int sched_scan_seen(struct sched *s, const char *id);
size_t sched_scan_end(struct sched *s);

#endif
