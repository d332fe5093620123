/*
 * A delivery attempt, second half (see deliver/djob.h): fold the local and
 * remote results into each due recipient's state (done, deferred with the
 * next retry time, failed), give up on recipients older than
 * max_queue_time (Status 4.4.7), queue one bounce for the newly failed
 * recipients, then either remove the finished message (queue/ID, then
 * state/ID) or write state/ID atomically. Order matters for crashes: the
 * bounce is durable before the state says "failed", and the state is
 * durable before anything relies on it (docs/queue.md). Runs in the
 * delivery process, in pool threads.
 */
#include "deliver/djob.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "conf/conf.h"
#include "deliver/dsn.h"
#include "util/addr.h"
#include "util/log.h"
#include "util/xmalloc.h"

/* Remote results go to their recipients like local ones. */
static void
djob_apply_remote(struct djob *j)
{
	struct remote_rcpt *r;
	struct djob_rcpt *res;
	size_t k;

	for (k = 0; k < j->nremote; k++) {
		r = &j->remote[k];
		if (r->status == QSTATE_DONE) {
			qstate_add_delivered(&j->st.r[r->index], r->addr);
			djob_log(j, j->qf.env.rcpts[r->index], r->addr, "sent",
			    r->relay, r->tls, r->reply);
			continue;
		}
		djob_fail(j, r->index, r->status == QSTATE_FAILED, r->reply,
		    r->relay);
		res = &j->rcpt[r->index];
		if (res->mta[0] == '\0' && res->tls[0] == '\0') {
			(void)snprintf(res->mta, sizeof(res->mta), "%s",
			    r->mta);
			(void)snprintf(res->tls, sizeof(res->tls), "%s",
			    r->tls);
		}
	}
}

/*
 * The new state of due recipient i. Temporary failures win over
 * permanent ones (the recipient is retried as a whole, skipping the final
 * addresses already delivered). Returns 1 if it failed now (bounce).
 */
static int
djob_settle(struct djob *j, size_t i, int *expired)
{
	const struct conf *conf = j->ctx->conf;
	struct qstate_rcpt *r = &j->st.r[i];
	struct djob_rcpt *res = &j->rcpt[i];
	time_t expiry = j->qf.env.created + (time_t)conf->max_queue_time;

	r->attempts++;
	r->last_attempt = j->now;
	*expired = 0;
	if (res->ntemp > 0) {
		(void)snprintf(r->reply, sizeof(r->reply), "%s", res->temp);
		if (j->now >= expiry) {
			r->status = QSTATE_FAILED;
			*expired = 1;
			return 1;
		}
		r->status = QSTATE_DEFERRED;
		r->next_attempt = j->now + djob_retry_delay(conf, r->attempts);
		if (r->next_attempt > expiry)
			r->next_attempt = expiry;
		return 0;
	}
	if (res->nperm > 0) {
		(void)snprintf(r->reply, sizeof(r->reply), "%s", res->perm);
		r->status = QSTATE_FAILED;
		return 1;
	}
	r->status = QSTATE_DONE;
	(void)snprintf(r->reply, sizeof(r->reply), "250 2.0.0 Ok");
	return 0;
}

/*
 * Where the bounce for the failed recipients idx[0..n) goes: the sender;
 * for a message with the null sender (itself a bounce) postmaster of the
 * first local domain, a double bounce; NULL (no bounce, only the log) if
 * every one of them is a postmaster address, so that a double bounce
 * that fails ends there.
 */
static const char *
djob_bounce_to(const struct djob *j, const size_t *idx, size_t n,
    char *buf, size_t bufsz)
{
	const struct conf *conf = j->ctx->conf;
	size_t k;

	if (j->qf.env.sender[0] != '\0')
		return j->qf.env.sender;
	for (k = 0; k < n; k++)
		if (strncasecmp(j->qf.env.rcpts[idx[k]], "postmaster@", 11) !=
		    0)
			break;
	if (k == n)
		return NULL;
	(void)snprintf(buf, bufsz, "postmaster@%s", conf->local_domains.n >
	    0 ? conf->local_domains.v[0] : conf->hostname);
	return buf;
}

/* Queues one bounce to `to` for the failed recipients; -1 if it could
 * not be. */
static int
djob_bounce(struct djob *j, const char *to, const size_t *idx,
    const int *expired, size_t n, char *dsn_id)
{
	struct envelope env = j->qf.env;	/* shallow: only read */
	struct dsn_rcpt *d = xcalloc(n, sizeof(*d));
	char (*status)[16] = xcalloc(n, sizeof(*status));
	const char *relay;
	size_t k;
	int rc;

	for (k = 0; k < n; k++) {
		d[k].addr = j->qf.env.rcpts[idx[k]];
		d[k].diag = j->st.r[idx[k]].reply;
		d[k].expired = expired[k];
		relay = j->rcpt[idx[k]].relay;
		/* A host that answered, for Remote-MTA (not local, none):
		   its name, as remote reports it apart from "host[ip]:port" */
		if (j->rcpt[idx[k]].mta[0] != '\0')
			d[k].remote_mta = j->rcpt[idx[k]].mta;
		else if (relay[0] != '\0' && strcmp(relay, "local") != 0 &&
		    strcmp(relay, "none") != 0)
			d[k].remote_mta = relay;
		if (expired[k])
			(void)snprintf(status[k], sizeof(status[k]), "4.4.7");
		else
			dsn_status_of(d[k].diag, status[k], sizeof(status[k]));
		d[k].status = status[k];
	}
	env.sender = (char *)to;
	rc = dsn_queue(j->ctx->conf, &env, j->qf.msg, j->qf.msglen, d, n,
	    dsn_id);
	free(status);
	free(d);
	return rc;
}

/* Settles every due recipient, bounces the failed ones, logs. */
static void
djob_settle_all(struct djob *j)
{
	size_t i, n = 0, *idx = xcalloc(j->st.n, sizeof(*idx));
	int *expired = xcalloc(j->st.n, sizeof(*expired));
	char dsn_id[QUEUE_ID_MAX] = "none", pm[ADDR_BUFSZ];
	const char *rcpt, *to;

	for (i = 0; i < j->st.n; i++)
		if (j->rcpt[i].due && djob_settle(j, i, &expired[n]))
			idx[n++] = i;
	to = djob_bounce_to(j, idx, n, pm, sizeof(pm));
	if (n > 0 && to != NULL &&
	    djob_bounce(j, to, idx, expired, n, dsn_id) == -1) {
		/* Not bounced: keep them queued and try again later. */
		log_warn("id=%s event=bounce-failed", j->id);
		for (i = 0; i < n; i++) {
			j->st.r[idx[i]].status = QSTATE_DEFERRED;
			j->st.r[idx[i]].next_attempt = j->now +
			    djob_retry_delay(j->ctx->conf, 1);
		}
		n = 0;
	}
	for (i = 0; i < n; i++) {
		rcpt = j->qf.env.rcpts[idx[i]];
		djob_log(j, rcpt, rcpt, "bounced", j->rcpt[idx[i]].relay,
		    j->rcpt[idx[i]].tls, j->st.r[idx[i]].reply);
		log_info("id=%s to=<%s> event=%s dsn=%s%s%s", j->id, rcpt,
		    expired[i] ? "expired" : "failed", to != NULL ? dsn_id :
		    "none (null sender)", to == pm ? " double_bounce_to=" :
		    "", to == pm ? pm : "");
	}
	for (i = 0; i < j->st.n; i++)
		if (j->rcpt[i].due && j->st.r[i].status == QSTATE_DEFERRED) {
			rcpt = j->qf.env.rcpts[i];
			djob_log(j, rcpt, rcpt, "deferred", j->rcpt[i].relay,
			    j->rcpt[i].tls, j->st.r[i].reply);
		}
	free(idx);
	free(expired);
}

/* Every recipient is final: the message leaves the queue. */
static void
djob_remove(struct djob *j)
{
	const char *spool = j->ctx->conf->spool;
	char path[PATH_MAX];

	(void)snprintf(path, sizeof(path), "%s/queue/%s", spool, j->id);
	if (unlink(path) == -1 && errno != ENOENT)
		log_warn("id=%s event=unlink-failed path=%s", j->id, path);
	if (j->had_state && qstate_remove(spool, j->id) == -1)
		log_warn("id=%s event=state-unlink-failed", j->id);
	log_info("id=%s event=removed", j->id);
	j->outcome = DJOB_FINISHED;
}

void
djob_finish(void *arg)
{
	struct djob *j = arg;
	const char *spool = j->ctx->conf->spool;
	char path[PATH_MAX];

	djob_apply_remote(j);
	djob_settle_all(j);
	if (qstate_finished(&j->st)) {
		djob_remove(j);
		return;
	}
	(void)snprintf(path, sizeof(path), "%s/queue/%s", spool, j->id);
	if (access(path, F_OK) == -1 && errno == ENOENT) {
		/* `postern queue delete` while we were at it. */
		(void)qstate_remove(spool, j->id);
		j->outcome = DJOB_GONE;
		return;
	}
	if (qstate_save(spool, &j->qf.env, &j->st) == -1)
		log_warn("id=%s event=state-save-failed", j->id);
	j->had_state = 1;
	j->outcome = DJOB_DEFERRED;
	j->next = qstate_next_attempt(&j->st);
}
