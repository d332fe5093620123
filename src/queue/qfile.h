/*
 * Reading the queue: one committed message (spool/queue/ID, mapped
 * read-only: the file never changes once queued) and the list of queued
 * IDs. Blocking file I/O: pool threads or command-line tools only.
 */
#ifndef POSTERN_QFILE_H
#define POSTERN_QFILE_H

#include <stddef.h>
#include <sys/types.h>
#include <time.h>

#include "queue/envelope.h"

/* Owns the mapping and the parsed envelope. */
struct qfile {
	struct envelope	 env;
	const char	*data;		/* the whole file */
	size_t		 len;
	const char	*msg;		/* the message (after the envelope) */
	size_t		 msglen;
};

/*
 * Opens spool/queue/ID. 0, or -1 with errno (ENOENT: not queued, or
 * deleted meanwhile; EINVAL: damaged, reason in why; others: I/O).
 */
int qfile_open(const char *spool, const char *id, struct qfile *qf,
    char *why, size_t whysz);
void qfile_close(struct qfile *qf);

/*
 * The message's header section: its length including the CRLF CRLF (or
 * LF LF) that ends it, or the whole message if it has no body.
 */
size_t qfile_header_len(const char *msg, size_t len);

/*
 * Calls fn(id, arg) for each valid queue ID in spool/DIR ("queue",
 * "state", "tmp"), in directory order; a nonzero return stops the walk
 * and is returned. -1 with errno if the directory cannot be read.
 */
typedef int (*qfile_id_fn)(const char *id, void *arg);
int qfile_scan(const char *spool, const char *dir, qfile_id_fn fn,
    void *arg);

/* Sorted list of the queued IDs (queue/): *ids malloc'ed, QUEUE_ID_MAX
 * bytes per entry. Returns the count, -1 with errno. */
ssize_t qfile_list(const char *spool, char (**ids)[QUEUE_ID_MAX]);

/*
 * Housekeeping, for the delivery process at start and then hourly:
 * removes tmp/ files older than QFILE_TMP_MAX_AGE (abandoned by a crash;
 * a live SMTP session never takes that long), state/ files whose message
 * is no longer queued, and state/ID.tmp files older than an hour. Returns the
 * number of files removed.
 */
#define QFILE_TMP_MAX_AGE (36 * 3600)
size_t qfile_cleanup(const char *spool, time_t now);

#endif
