/*
 * One delivery attempt of one queued message, shared between the loop and
 * the pool: job_run() (pool thread) loads the queue file and its state,
 * delivers the due local recipients to their Maildirs and collects the
 * remote ones; the loop then hands those to remote_deliver(); and
 * job_finish() (pool thread) records the results: state file or removal
 * of the finished message, bounces, per-recipient log lines.
 */
#ifndef POSTERN_JOB_H
#define POSTERN_JOB_H

#include <pthread.h>
#include <stddef.h>
#include <time.h>

#include "deliver/remote.h"
#include "queue/qfile.h"
#include "queue/qstate.h"

struct conf;
struct userdb;

/* Shared by every job of the delivery process; owned by deliver.c. */
struct job_ctx {
	const struct conf	*conf;
	pthread_mutex_t		 db_mu;		/* guards db, db_retry */
	struct userdb		*db;		/* NULL until it opens */
	time_t			 db_retry;	/* next open attempt */
};

enum job_outcome {
	JOB_GONE,		/* deleted from the queue meanwhile */
	JOB_CORRUPT,		/* damaged: moved to spool/corrupt/ */
	JOB_NOT_DUE,		/* nothing due: next says when */
	JOB_REMOTE,		/* remote addresses to hand to remote_deliver */
	JOB_FINISHED,		/* every recipient done or failed: removed */
	JOB_DEFERRED		/* some recipients wait: next says when */
};

/* Per-recipient results of this attempt. */
struct job_rcpt {
	int	due;			/* tried in this attempt */
	int	ntemp;			/* temporary failures */
	int	nperm;			/* permanent failures */
	char	temp[QSTATE_REPLY_MAX];	/* first temporary reply */
	char	perm[QSTATE_REPLY_MAX];	/* first permanent reply */
	char	relay[256];		/* where a failure happened */
};

/* Owned by the loop (deliver.c) from job_new() to job_free(). */
struct job {
	struct job_ctx		*ctx;
	char			 id[QUEUE_ID_MAX];
	int			 force;		/* flush: ignore retry times */
	time_t			 now;
	enum job_outcome	 outcome;
	time_t			 next;		/* NOT_DUE, DEFERRED */
	struct qfile		 qf;
	int			 qf_open;
	struct qstate		 st;
	int			 had_state;	/* state/ID existed */
	struct job_rcpt		*rcpt;		/* [qf.env.nrcpts] */
	struct remote_rcpt	*remote;
	size_t			 nremote;
	char			**mailboxes;	/* Maildirs written to */
	size_t			 nmailboxes;
	void			*owner;		/* for the loop's use */
};

struct job *job_new(struct job_ctx *ctx, const char *id, int force);
void job_free(struct job *j);			/* NULL ok */

/* Pool work functions (arg: the job). */
void job_run(void *arg);
void job_finish(void *arg);

/* Records a temporary (perm 0) or permanent failure of recipient i. */
void job_fail(struct job *j, size_t i, int perm, const char *reply,
    const char *relay);

/*
 * Logs one recipient result: id, to (final address), orig_to (the
 * envelope recipient, when it differs), status (sent, deferred, bounced),
 * relay, delay since arrival, reply.
 */
void job_log(const struct job *j, const char *rcpt, const char *to,
    const char *status, const char *relay, const char *reply);

/* The retry delay after `attempts` failed attempts (conf->retry). */
unsigned job_retry_delay(const struct conf *conf, unsigned attempts);

#endif
