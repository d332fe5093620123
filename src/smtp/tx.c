/*
 * The mail transaction: MAIL, RCPT, DATA, and streaming the message into
 * the spool through pool jobs (spool/tmp -> fsync -> spool/queue, see
 * queue/spool.h) before "250 queued". Owns struct smtp_tx, its recipient
 * list, its message buffer and, between jobs, its spool file.
 * Runs in the smtp workers; every file operation runs on a pool thread.
 *
 * At most one spool job per transaction runs at a time. A job holds a
 * reference on the session (s->jobs), so neither goes away under it.
 */
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "conf/conf.h"
#include "policy/policy.h"
#include "queue/queue_id.h"
#include "queue/spool.h"
#include "smtp/received.h"
#include "smtp/server.h"
#include "smtp/session_int.h"
#include "util/log.h"
#include "util/pool.h"
#include "util/xmalloc.h"

#define TX_WRITE_CHUNK (64 * 1024)	/* write to the spool past this */
#define TX_BUFFER_MAX (1024 * 1024)	/* pause reading past this */
#define TX_FEED_CHUNK (16 * 1024)	/* bytes through the automaton at once */
/*
 * After [server] timeout seconds in DATA, a client must average this many
 * bytes per second, so a trickle cannot hold a session (and a spool file)
 * for ever while staying under the idle timeout.
 */
#define TX_MIN_DATA_RATE 256

enum spool_step { STEP_WRITE, STEP_COMMIT, STEP_ABORT };

/* One step of writing a message, run on a pool thread. */
struct spool_job {
	struct smtp_tx		*tx;		/* NULL for an orphan abort */
	enum spool_step		 step;
	char			 id[QUEUE_ID_MAX];	/* file to create */
	struct spool_file	*spool;		/* the job's while it runs;
						   NULL: not created yet */
	struct evbuffer		*data;		/* bytes to append, or NULL */
	const char		*spool_dir;
	int			 result;	/* 0 or -1 */
	int			 error;		/* errno on failure */
};

static void tx_pump(struct smtp_tx *tx);
static void tx_job_done(void *arg);

/* Appends job->data to the spool file. */
static int
job_write(struct spool_job *job)
{
	struct evbuffer_iovec v[16];
	int i, n;

	if (job->data == NULL)
		return 0;
	while (evbuffer_get_length(job->data) > 0) {
		n = evbuffer_peek(job->data, -1, NULL, v, 16);
		if (n > 16)
			n = 16;
		for (i = 0; i < n; i++) {
			if (spool_write(job->spool, v[i].iov_base,
			    v[i].iov_len) == -1)
				return -1;
			evbuffer_drain(job->data, v[i].iov_len);
		}
	}
	return 0;
}

static void
job_work(void *arg)
{
	struct spool_job *job = arg;

	errno = 0;
	job->result = 0;
	/* The file is made by the first write, so a small message costs
	 * one job: create, write, fsync, rename. */
	if (job->step != STEP_ABORT && job->spool == NULL)
		job->result = spool_create_id(job->spool_dir, job->id,
		    &job->spool);
	if (job->result == 0 && job->step != STEP_ABORT)
		job->result = job_write(job);
	if (job->result == 0 && job->step == STEP_COMMIT) {
		job->result = spool_commit(job->spool);
		job->spool = NULL;	/* commit frees it either way */
	}
	if (job->step == STEP_ABORT)
		job->result = -1;
	job->error = errno;
	if (job->result == -1 && job->spool != NULL) {
		spool_abort(job->spool);
		job->spool = NULL;
	}
}

static void
job_free(struct spool_job *job)
{
	if (job->data)
		evbuffer_free(job->data);
	free(job);
}

static void
orphan_done(void *arg)
{
	job_free(arg);
}

static struct spool_job *
job_new(struct smtp_tx *tx, enum spool_step step)
{
	struct spool_job *job = xcalloc(1, sizeof(*job));

	job->tx = tx;
	job->step = step;
	memcpy(job->id, tx->id, sizeof(job->id));
	job->spool = tx->spool;
	job->spool_dir = tx->s->srv->conf->spool;
	tx->spool = NULL;
	return job;
}

void
smtp_tx_free(struct smtp_tx *tx)
{
	struct spool_job *job;
	size_t i;

	if (tx == NULL)
		return;
	if (tx->job_busy)
		fatalx("smtp_tx_free with a spool job running");
	if (tx->spool) {
		/* Removing the tmp file may block: not on the loop. */
		job = job_new(tx, STEP_ABORT);
		job->tx = NULL;
		pool_submit(tx->s->srv->pool, job_work, orphan_done, job);
	}
	for (i = 0; i < tx->nrcpts; i++)
		free(tx->rcpts[i]);
	free(tx->rcpts);
	if (tx->buf)
		evbuffer_free(tx->buf);
	free(tx);
}

/* Ends the transaction with its final reply; the session goes on. */
static void
tx_end(struct smtp_tx *tx, enum reply_id reply)
{
	struct smtp_session *s = tx->s;

	if (reply == R_QUEUED) {
		smtp_reply(s, R_QUEUED, tx->id);
		log_info("session=%016llx event=queued id=%s from=<%s> "
		    "nrcpt=%zu size=%llu", (unsigned long long)s->id, tx->id,
		    tx->sender, tx->nrcpts, (unsigned long long)tx->size);
		s->ntx++;
	} else
		smtp_reply(s, reply);
	s->tx = NULL;
	smtp_tx_free(tx);
	s->blocked = 0;
	smtp_pause_reading(s, 0);
}

static void
tx_submit(struct smtp_tx *tx, enum spool_step step)
{
	struct spool_job *job = job_new(tx, step);

	job->data = evbuffer_new();
	evbuffer_add_buffer(job->data, tx->buf);
	tx->job_busy = 1;
	tx->s->jobs++;
	pool_submit(tx->s->srv->pool, job_work, tx_job_done, job);
}

/* Envelope header + Received: the start of the queue file. */
static struct evbuffer *
tx_prefix(struct smtp_tx *tx)
{
	struct smtp_session *s = tx->s;
	const struct conf *conf = s->srv->conf;
	struct envelope env;
	struct received_info ri;
	struct evbuffer *out;
	size_t hsz = 1024 + tx->nrcpts * (ADDR_BUFSZ + 8);
	char *head = xmalloc(hsz), rcvd[2048], tls[160];
	int n, m;

	memset(&env, 0, sizeof(env));
	memcpy(env.id, tx->id, sizeof(env.id));
	env.created = time(NULL);
	env.sender = tx->sender;
	env.auth_user = s->authenticated ? s->auth_user : NULL;
	env.client = s->client;
	env.helo = s->helo;
	env.body_8bit = tx->params.body_8bit;
	env.smtputf8 = tx->params.smtputf8;
	env.rcpts = tx->rcpts;
	env.nrcpts = tx->nrcpts;
	memset(&ri, 0, sizeof(ri));
	ri.helo = s->helo;
	ri.client = s->client;
	ri.ipv6 = strchr(s->client, ':') != NULL;
	ri.hostname = conf->hostname;
	ri.esmtp = s->esmtp;
	ri.tls = s->tls;
	ri.authenticated = s->authenticated;
	ri.utf8 = tx->params.smtputf8;
	ri.id = tx->id;
	if (smtp_tls_received(s, tls, sizeof(tls)) == 0)
		ri.tls_desc = tls;
	ri.rcpt = tx->nrcpts == 1 ? tx->rcpts[0] : NULL;
	ri.when = env.created;
	if ((n = envelope_format(&env, head, hsz)) < 0 ||
	    (m = received_format(&ri, rcvd, sizeof(rcvd))) < 0)
		fatalx("queue file header does not fit");
	out = evbuffer_new();
	evbuffer_add(out, head, n);
	evbuffer_add(out, rcvd, m);
	free(head);
	return out;
}

static void
tx_job_done(void *arg)
{
	struct spool_job *job = arg;
	struct smtp_tx *tx = job->tx;
	struct smtp_session *s = tx->s;
	enum reply_id reply;

	tx->job_busy = 0;
	if (s->gone) {
		tx->spool = job->spool;		/* smtp_tx_free aborts it */
		job_free(job);
		smtp_job_done(s);
		return;
	}
	switch (job->step) {
	case STEP_WRITE:
		tx->spool = job->spool;
		if (job->result == -1) {
			errno = job->error;
			log_warn("session=%016llx event=spool-write-failed "
			    "id=%s", (unsigned long long)s->id, tx->id);
			tx->failed = 1;
		}
		break;
	case STEP_COMMIT:
	case STEP_ABORT:
		reply = R_QUEUE_TEMPFAIL;
		if (tx->too_big)
			reply = R_SIZE_EXCEEDED;
		else if (job->result == 0) {
			reply = R_QUEUED;
			smtp_server_wakeup(s->srv);
		}
		else if (job->step == STEP_COMMIT) {
			errno = job->error;
			log_warn("session=%016llx event=spool-commit-failed "
			    "id=%s", (unsigned long long)s->id, tx->id);
		}
		job_free(job);
		smtp_job_done(s);
		tx_end(tx, reply);
		smtp_resume(s);
		return;
	}
	job_free(job);
	smtp_job_done(s);
	if (tx->paused && evbuffer_get_length(tx->buf) < TX_BUFFER_MAX) {
		tx->paused = 0;
		smtp_pause_reading(s, 0);
	}
	tx_pump(tx);
	/* A failed write found after the end of DATA ends the transaction
	 * here (tx is gone): commands pipelined after it must run now. */
	if (s->tx == NULL)
		smtp_resume(s);
}

/* Starts the next spool step if one is due. */
static void
tx_pump(struct smtp_tx *tx)
{
	if (tx->job_busy)
		return;
	if (tx->failed || tx->too_big) {
		evbuffer_drain(tx->buf, evbuffer_get_length(tx->buf));
		if (!tx->eom)
			return;
		if (tx->spool)
			tx_submit(tx, STEP_ABORT);
		else
			tx_end(tx, tx->too_big ? R_SIZE_EXCEEDED :
			    R_QUEUE_TEMPFAIL);
		return;
	}
	if (tx->eom)
		tx_submit(tx, STEP_COMMIT);
	else if (evbuffer_get_length(tx->buf) >= TX_WRITE_CHUNK)
		tx_submit(tx, STEP_WRITE);
}

static int
tx_too_slow(const struct smtp_tx *tx)
{
	time_t elapsed = time(NULL) - tx->data_start;

	return elapsed > (time_t)tx->s->srv->conf->timeout &&
	    tx->size / (uint64_t)elapsed < TX_MIN_DATA_RATE;
}

/* Feeds the DATA automaton from the session's input. */
void
smtp_data_input(struct smtp_session *s)
{
	struct smtp_tx *tx = s->tx;
	struct evbuffer *in = bufferevent_get_input(s->bev);
	uint64_t max = s->srv->conf->max_message_size;
	static char out[DATA_OUT_MAX(TX_FEED_CHUNK)];
	struct evbuffer_iovec v;
	size_t used, outlen;

	while (!tx->eom && evbuffer_peek(in, TX_FEED_CHUNK, NULL, &v, 1) > 0) {
		if (v.iov_len > TX_FEED_CHUNK)
			v.iov_len = TX_FEED_CHUNK;
		used = data_feed(&tx->dp, v.iov_base, v.iov_len, out, &outlen);
		evbuffer_drain(in, used);
		if (!tx->too_big && max - tx->size < outlen) {
			tx->too_big = 1;
			log_info("session=%016llx event=too-big id=%s",
			    (unsigned long long)s->id, tx->id);
		}
		tx->size += outlen;
		if (!tx->too_big && !tx->failed)
			evbuffer_add(tx->buf, out, outlen);
		if (tx->dp.state == DATA_DONE)
			tx->eom = 1;
	}
	if (tx->eom) {
		s->state = STATE_CMD;
		s->blocked = 1;
		smtp_pause_reading(s, 1);
	} else if (tx_too_slow(tx)) {
		log_info("session=%016llx event=data-too-slow id=%s size=%llu",
		    (unsigned long long)s->id, tx->id,
		    (unsigned long long)tx->size);
		smtp_reply(s, R_TIMEOUT, s->srv->conf->hostname);
		smtp_close_after_reply(s);
		return;
	} else if (tx->job_busy &&
	    evbuffer_get_length(tx->buf) >= TX_BUFFER_MAX) {
		tx->paused = 1;
		smtp_pause_reading(s, 1);
	}
	tx_pump(tx);
}

static int
tx_may_mail(struct smtp_session *s)
{
	const struct conf_listener *cl = s->listener->cl;

	if (s->tx != NULL) {
		smtp_reply(s, R_NESTED_MAIL);
		return 0;
	}
	if (cl->auth == LISTENER_AUTH_REQUIRED && !s->authenticated) {
		smtp_reply(s, R_AUTH_REQUIRED);
		return 0;
	}
	return 1;
}

void
smtp_proceed_mail(struct smtp_session *s, const struct smtp_cmd *cmd)
{
	struct smtp_mail_params p;
	char safe[LOG_SAFE_BUFSZ];
	struct addr a;
	enum reply_id err;
	int owned;

	if (!tx_may_mail(s))
		return;
	if (smtp_parse_mail(cmd->args, cmd->argslen, &a, &p, &err) == -1) {
		smtp_reply(s, err);
		return;
	}
	if (p.size > s->srv->conf->max_message_size) {
		smtp_reply(s, R_SIZE_EXCEEDED);
		return;
	}
	if (s->authenticated && s->srv->conf->auth_sender_login_match &&
	    (owned = policy_sender_owned(&s->srv->policy, &a,
	    s->auth_user)) != 1) {
		smtp_reply(s, owned == 0 ? R_AUTH_SENDER_MISMATCH :
		    R_LOOKUP_TEMPFAIL);
		return;
	}
	if (p.has_auth)
		log_info("session=%016llx event=mail-auth-param auth=<%s>",
		    (unsigned long long)s->id, log_safe_word(safe,
		    sizeof(safe), p.auth, strlen(p.auth)));
	/* RFC 7505 §4.2: a sender at a null MX domain cannot get replies. */
	if (s->listener->cl->mode == LISTENER_MX && !s->authenticated &&
	    !a.null && !conf_is_local_domain(s->srv->conf, a.domain,
	    strlen(a.domain))) {
		smtp_dnscheck_sender(s, &a, &p);
		return;
	}
	smtp_tx_begin(s, &a, &p);
}

void
smtp_tx_begin(struct smtp_session *s, const struct addr *a,
    const struct smtp_mail_params *p)
{
	struct smtp_tx *tx = xcalloc(1, sizeof(*tx));

	tx->s = s;
	tx->params = *p;
	if (addr_format(a, tx->sender, sizeof(tx->sender)) == -1)
		fatalx("parsed address does not fit");
	s->tx = tx;
	smtp_reply(s, R_MAIL_OK);
}

void
smtp_tx_add_rcpt(struct smtp_tx *tx, const struct addr *a)
{
	char buf[ADDR_BUFSZ];

	if (addr_format(a, buf, sizeof(buf)) == -1)
		fatalx("parsed address does not fit");
	if (tx->nrcpts == tx->rcptcap) {
		tx->rcptcap = tx->rcptcap ? tx->rcptcap * 2 : 4;
		tx->rcpts = xreallocarray(tx->rcpts, tx->rcptcap,
		    sizeof(*tx->rcpts));
	}
	tx->rcpts[tx->nrcpts++] = xstrdup(buf);
}

void
smtp_proceed_rcpt(struct smtp_session *s, const struct smtp_cmd *cmd)
{
	struct smtp_tx *tx = s->tx;
	enum reply_id reply;
	struct addr a;

	if (tx == NULL) {
		smtp_reply(s, R_NEED_MAIL);
		return;
	}
	tx->rcpt_tries++;
	if (smtp_parse_rcpt(cmd->args, cmd->argslen, tx->params.smtputf8, &a,
	    &reply) == -1) {
		smtp_reply(s, reply);
		return;
	}
	if (a.domain[0] == '\0') {	/* <Postmaster>: RFC 5321 §4.5.1 */
		if (s->srv->conf->local_domains.n == 0) {
			smtp_reply(s, R_UNKNOWN_USER);
			return;
		}
		(void)snprintf(a.domain, sizeof(a.domain), "%s",
		    s->srv->conf->local_domains.v[0]);
	}
	if (tx->nrcpts >= s->srv->conf->max_recipients) {
		smtp_reply(s, R_TOO_MANY_RECIPIENTS);
		return;
	}
	switch (policy_check_rcpt(&s->srv->policy, &a, s->authenticated,
	    &reply)) {
	case POLICY_RCPT_REJECT:
		smtp_reply(s, reply);
		return;
	case POLICY_RCPT_RELAY:
		/* RFC 7505: a null MX domain is refused now, not bounced. */
		smtp_dnscheck_rcpt(s, &a);
		return;
	case POLICY_RCPT_LOCAL:
		break;
	}
	smtp_tx_add_rcpt(tx, &a);
	smtp_reply(s, R_RCPT_OK);
}

void
smtp_proceed_data(struct smtp_session *s)
{
	struct smtp_tx *tx = s->tx;

	if (tx == NULL) {
		smtp_reply(s, R_NEED_MAIL);
		return;
	}
	if (tx->nrcpts == 0) {
		smtp_reply(s, tx->rcpt_tries ? R_NO_VALID_RECIPIENTS :
		    R_NEED_RCPT);
		return;
	}
	/* The ID is made here so that Received: can name it. */
	queue_id_new(tx->id);
	tx->buf = tx_prefix(tx);
	tx->data_start = time(NULL);
	data_parser_init(&tx->dp);
	s->state = STATE_DATA;
	smtp_reply(s, R_DATA_GO);
}
