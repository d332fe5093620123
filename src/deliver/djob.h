/*
 * One delivery attempt of one queued message, shared between the loop and
 * the pool: djob_run() (pool thread) loads the queue file and its state,
 * delivers the due local recipients to their Maildirs and collects the
 * remote ones; the loop then hands those to remote_deliver(); and
 * djob_finish() (pool thread) records the results: state file or removal
 * of the finished message, bounces, per-recipient log lines.
 */
#ifndef POSTERN_DJOB_H
#define POSTERN_DJOB_H

#include <pthread.h>
#include <stddef.h>
#include <time.h>

#include "deliver/maildir.h"
#include "deliver/remote.h"
#include "queue/qfile.h"
#include "queue/qstate.h"

struct conf;
struct userdb;

/* Shared by every job of the delivery process; owned by deliver.c. */
struct djob_ctx {
	const struct conf	*conf;
	pthread_mutex_t		 db_mu;		/* guards db, db_retry */
	struct userdb		*db;		/* NULL until it opens */
	time_t			 db_retry;	/* next open attempt */
};

enum djob_outcome {
	DJOB_GONE,		/* deleted from the queue meanwhile */
	DJOB_CORRUPT,		/* damaged: moved to spool/corrupt/ */
	DJOB_NOT_DUE,		/* nothing due: next says when */
	DJOB_REMOTE,		/* remote addresses to hand to remote_deliver */
	DJOB_FINISHED,		/* every recipient done or failed: removed */
	DJOB_DEFERRED		/* some recipients wait: next says when */
};

/* Per-recipient results of this attempt. */
struct djob_rcpt {
	int	due;			/* tried in this attempt */
	int	ntemp;			/* temporary failures */
	int	nperm;			/* permanent failures */
	char	temp[QSTATE_REPLY_MAX];	/* first temporary reply */
	char	perm[QSTATE_REPLY_MAX];	/* first permanent reply */
	char	relay[256];		/* where a failure happened */
	char	mta[256];		/* remote host that answered, or "" */
	char	tls[32];		/* remote: TLS of that session, or "" */
};

/* Owned by the loop (deliver.c) from djob_new() to djob_free(). */
struct djob {
	struct djob_ctx		*ctx;
	char			 id[QUEUE_ID_MAX];
	int			 force;		/* flush: ignore retry times */
	time_t			 now;
	enum djob_outcome	 outcome;
	time_t			 next;		/* NOT_DUE, DEFERRED */
	struct qfile		 qf;
	int			 qf_open;
	struct qstate		 st;
	int			 had_state;	/* state/ID existed */
	struct djob_rcpt		*rcpt;		/* [qf.env.nrcpts] */
	struct remote_rcpt	*remote;
	size_t			 nremote;
	char			**mailboxes;	/* Maildirs written to */
	size_t			 nmailboxes;
	struct maildir_uniq	 uniq;		/* Maildir name, from the ID */
	void			*owner;		/* for the loop's use */
};

struct djob *djob_new(struct djob_ctx *ctx, const char *id, int force);
void djob_free(struct djob *j);			/* NULL ok */

/* Pool work functions (arg: the job). */
void djob_run(void *arg);
void djob_finish(void *arg);

/* Records a temporary (perm 0) or permanent failure of recipient i. */
void djob_fail(struct djob *j, size_t i, int perm, const char *reply,
    const char *relay);

/*
 * Logs one recipient result: id, to (final address), orig_to (the
 * envelope recipient, when it differs), status (sent, deferred, bounced),
 * relay, delay since arrival, tls (remote sessions: "TLSv1.3/verified",
 * "none"; NULL or "": left out), reply.
 */
void djob_log(const struct djob *j, const char *rcpt, const char *to,
    const char *status, const char *relay, const char *tls,
    const char *reply);

/* The retry delay after `attempts` failed attempts (conf->retry). */
unsigned djob_retry_delay(const struct conf *conf, unsigned attempts);

#endif
