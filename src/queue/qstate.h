/*
 * Per-message delivery state, spool/state/ID: for each recipient of the
 * queue file its status, attempts, next attempt time, last reply, and the
 * final addresses already delivered for it (an alias may expand to several;
 * a retry skips those). The file exists only for messages that needed more
 * than one attempt. Format (docs/queue.md):
 *
 *   POSTERN-STATE 1\n
 *   rcpt INDEX STATUS ATTEMPTS NEXT LAST ADDRESS\n   (one per recipient)
 *   reply TEXT\n          (optional: its last reply, "451 4.4.0 ...")
 *   delivered ADDRESS\n   (optional, repeated)
 *
 * STATUS: pending | deferred | done | failed. NEXT, LAST: Unix seconds (0:
 * none). Written atomically: state/ID.tmp, fsync, rename, fsync state/.
 */
#ifndef POSTERN_QSTATE_H
#define POSTERN_QSTATE_H

#include <stddef.h>
#include <time.h>

#include "queue/envelope.h"

#define QSTATE_MAGIC "POSTERN-STATE 1\n"
#define QSTATE_REPLY_MAX 512

enum qstate_status {
	QSTATE_PENDING,		/* not tried yet */
	QSTATE_DEFERRED,	/* temporary failure: retry at next_attempt */
	QSTATE_DONE,		/* delivered */
	QSTATE_FAILED		/* permanent failure, bounce queued */
};

struct qstate_rcpt {
	enum qstate_status	 status;
	unsigned		 attempts;
	time_t			 next_attempt;	/* 0: as soon as possible */
	time_t			 last_attempt;	/* 0: never */
	char			 reply[QSTATE_REPLY_MAX];	/* "" if none */
	char			**delivered;	/* final addresses done */
	size_t			 ndelivered;
};

/* Owns its recipient array and their strings. */
struct qstate {
	struct qstate_rcpt	*r;
	size_t			 n;
};

const char *qstate_status_str(enum qstate_status s);

/* A fresh state: every recipient pending. qstate_clear() frees it. */
void qstate_init(struct qstate *st, size_t nrcpts);
void qstate_clear(struct qstate *st);

/* Records / tests a final address delivered for recipient r. */
void qstate_add_delivered(struct qstate_rcpt *r, const char *addr);
int qstate_is_delivered(const struct qstate_rcpt *r, const char *addr);

/* 1 if every recipient is done or failed. */
int qstate_finished(const struct qstate *st);

/* Earliest next_attempt of an unfinished recipient; -1 if none. */
time_t qstate_next_attempt(const struct qstate *st);

/*
 * Text form. qstate_format returns a malloc'ed buffer (*out, *outlen) the
 * caller frees; -1 on failure. qstate_parse checks the recipients against
 * env (count and addresses) and fills st (qstate_init'ed by it); -1 with
 * why if the text is damaged.
 */
int qstate_format(const struct qstate *st, const struct envelope *env,
    char **out, size_t *outlen);
int qstate_parse(struct qstate *st, const struct envelope *env,
    const char *data, size_t len, char *why, size_t whysz);

/*
 * The file. load: 1 with st filled from state/ID, 0 if there is none (st
 * fresh), -1 with why if it cannot be read or is damaged (st fresh).
 * save: atomically, durable when it returns 0 (-1 with errno).
 * remove: unlinks state/ID (missing is fine).
 */
int qstate_load(const char *spool, const struct envelope *env,
    struct qstate *st, char *why, size_t whysz);
int qstate_save(const char *spool, const struct envelope *env,
    const struct qstate *st);
int qstate_remove(const char *spool, const char *id);

#endif
