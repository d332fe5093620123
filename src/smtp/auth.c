/*
 * SMTP AUTH (RFC 4954) on inbound sessions: the command's checks, the 334
 * exchange, and the rate limit on failures. Each SASL step may block
 * (argon2id, SQLite), so it runs on the pool; the session waits, blocked,
 * and replies in the step's completion. Owns the session's sasl exchange.
 * Runs in the smtp workers.
 */
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/authlimit.h"
#include "auth/sasl.h"
#include "conf/conf.h"
#include "smtp/server.h"
#include "smtp/session_int.h"
#include "tls/tls.h"
#include "util/log.h"
#include "util/pool.h"
#include "util/xmalloc.h"

/* One SASL step on the pool. */
struct auth_job {
	struct smtp_session	*s;
	char			*in;		/* response, NULL: none given */
	size_t			 inlen;
	int			 result;
	char			 out[SASL_CHALLENGE_MAX];
	struct event		*delay;		/* failure pause before 535 */
};

static const char *
smtp_mech_list(const struct smtp_session *s)
{
	return s->srv->sasl ? sasl_server_mechs(s->srv->sasl, s->tls) : "";
}

/* AUTH is advertised: listener allows it and TLS is on (or not needed). */
int
smtp_auth_offered(const struct smtp_session *s)
{
	return s->listener->cl->auth != LISTENER_AUTH_OFF &&
	    (s->tls || s->srv->conf->auth_plaintext) &&
	    smtp_mech_list(s)[0] != '\0';
}

const char *
smtp_auth_mechs(const struct smtp_session *s)
{
	return smtp_mech_list(s);
}

void
smtp_auth_end(struct smtp_session *s)
{
	sasl_exchange_free(s->sasl);
	s->sasl = NULL;
	if (s->state == STATE_AUTH)
		s->state = STATE_CMD;
}

static int
smtp_check_auth(struct smtp_session *s)
{
	const struct conf_listener *cl = s->listener->cl;

	if (s->authenticated) {
		smtp_reply(s, R_AUTH_ALREADY);
		return -1;
	}
	if (s->tx != NULL) {
		smtp_reply(s, R_AUTH_IN_TRANSACTION);
		return -1;
	}
	if (cl->auth == LISTENER_AUTH_OFF || (!s->tls &&
	    !s->srv->conf->auth_plaintext && cl->tls == LISTENER_TLS_NONE)) {
		smtp_reply(s, R_AUTH_UNAVAILABLE);
		return -1;
	}
	if (!s->tls && !s->srv->conf->auth_plaintext) {
		smtp_reply(s, R_AUTH_TLS_REQUIRED);
		return -1;
	}
	if (s->srv->sasl == NULL) {
		smtp_reply(s, R_AUTH_TEMPFAIL);
		return -1;
	}
	if (authlimit_blocked(s->srv->authlimit,
	    (const struct sockaddr *)&s->sa)) {
		smtp_reply(s, R_AUTH_TOO_MANY_FAILURES, s->srv->conf->hostname);
		smtp_close_after_reply(s);
		return -1;
	}
	return 0;
}

static void
auth_job_work(void *arg)
{
	struct auth_job *job = arg;

	job->result = sasl_exchange_step(job->s->sasl, job->in, job->inlen,
	    job->out, sizeof(job->out));
}

static void
auth_job_free(struct auth_job *job)
{
	if (job->in) {
		explicit_bzero(job->in, job->inlen);
		free(job->in);
	}
	if (job->delay)
		event_free(job->delay);
	explicit_bzero(job->out, sizeof(job->out));
	free(job);
}

static enum reply_id
auth_reply(int result)
{
	switch (result) {
	case SASL_OK: return R_AUTH_OK;
	case SASL_CANCELLED: return R_AUTH_CANCELLED;
	case SASL_BAD_BASE64: return R_AUTH_BAD_BASE64;
	case SASL_TOO_LONG: return R_AUTH_LINE_TOO_LONG;
	case SASL_BAD_MECH: return R_AUTH_UNKNOWN_MECH;
	case SASL_NEED_TLS: return R_AUTH_TLS_REQUIRED;
	case SASL_TEMPFAIL: return R_AUTH_TEMPFAIL;
	default: return R_AUTH_BAD;
	}
}

static void
auth_succeeded(struct smtp_session *s)
{
	const char *user = sasl_exchange_user(s->sasl);

	s->authenticated = 1;
	(void)snprintf(s->auth_user, sizeof(s->auth_user), "%s",
	    user ? user : "");
	authlimit_success(s->srv->authlimit, (const struct sockaddr *)&s->sa);
	log_info("session=%016llx event=auth-ok mech=%s user=%s",
	    (unsigned long long)s->id, sasl_exchange_mech(s->sasl),
	    s->auth_user);
	smtp_reply(s, R_AUTH_OK);
}

static void
auth_delay_done(evutil_socket_t fd, short what, void *arg)
{
	struct auth_job *job = arg;
	struct smtp_session *s = job->s;

	auth_job_free(job);
	smtp_job_done(s);
	if (s->gone)
		return;
	smtp_reply(s, R_AUTH_BAD);
	smtp_resume(s);
}

/*
 * A wrong password: counted; the 535 waits out the client's back-off,
 * or the client is cut off with 421 at its limit.
 */
static int
auth_failed(struct smtp_session *s, struct auth_job *job)
{
	const struct sockaddr *sa = (const struct sockaddr *)&s->sa;
	struct timeval tv;
	unsigned ms;

	/* The sasl module has logged the failure with its reason. */
	if (authlimit_failure(s->srv->authlimit, sa)) {
		smtp_reply(s, R_AUTH_TOO_MANY_FAILURES, s->srv->conf->hostname);
		smtp_close_after_reply(s);
		return 0;
	}
	if ((ms = authlimit_delay(s->srv->authlimit, sa)) == 0)
		return 0;
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	job->delay = evtimer_new(s->srv->base, auth_delay_done, job);
	evtimer_add(job->delay, &tv);
	return 1;	/* the job lives on until the timer */
}

static void
auth_job_done(void *arg)
{
	struct auth_job *job = arg;
	struct smtp_session *s = job->s;
	int result = job->result, delayed = 0;

	if (s->gone)
		goto done;
	if (result == SASL_CONTINUE) {
		smtp_reply(s, R_AUTH_CHALLENGE, job->out);
		goto done;
	}
	if (result == SASL_OK)
		auth_succeeded(s);
	else if (result == SASL_BAD)
		delayed = auth_failed(s, job);
	else
		smtp_reply(s, auth_reply(result));
	smtp_auth_end(s);
	if (delayed)
		return;		/* auth_delay_done() finishes */
done:
	auth_job_free(job);
	smtp_job_done(s);
	if (!s->gone)
		smtp_resume(s);
}

static void
auth_step(struct smtp_session *s, const char *in, size_t inlen)
{
	struct auth_job *job = xcalloc(1, sizeof(*job));

	job->s = s;
	if (in != NULL) {
		job->in = xmalloc(inlen + 1);
		memcpy(job->in, in, inlen);
		job->in[inlen] = '\0';
		job->inlen = inlen;
	}
	s->jobs++;
	s->blocked = 1;
	smtp_pause_reading(s, 1);
	pool_submit(s->srv->auth_pool, auth_job_work, auth_job_done, job);
}

static struct sasl_exchange *
auth_start(struct smtp_session *s, const char *mech, size_t mechlen)
{
	struct sasl_exchange *ex;
	struct sasl_cbind cb;
	char ctx[SASL_CONTEXT_MAX];
	int err = SASL_BAD_MECH;
	SSL *ssl = NULL;

	memset(&cb, 0, sizeof(cb));
	if (s->tls && (ssl = bufferevent_openssl_get_ssl(s->bev)) != NULL &&
	    tls_channel_binding(ssl, &cb) == 0)
		ex = sasl_exchange_new_tls(s->srv->sasl, mech, mechlen, &cb,
		    &err);
	else
		ex = sasl_exchange_new(s->srv->sasl, mech, mechlen, &err);
	explicit_bzero(&cb, sizeof(cb));
	if (ex == NULL) {
		smtp_reply(s, auth_reply(err));
		return NULL;
	}
	(void)snprintf(ctx, sizeof(ctx), "session=%016llx client=%s",
	    (unsigned long long)s->id, s->client);
	sasl_exchange_set_context(ex, ctx);
	return ex;
}

void
smtp_proceed_auth(struct smtp_session *s, const struct smtp_cmd *cmd)
{
	const char *sp = memchr(cmd->args, ' ', cmd->argslen);
	size_t mechlen = sp ? (size_t)(sp - cmd->args) : cmd->argslen;
	const char *ir = sp ? sp + 1 : NULL;
	size_t irlen = sp ? cmd->argslen - mechlen - 1 : 0;

	if (smtp_check_auth(s) == -1)
		return;
	if ((s->sasl = auth_start(s, cmd->args, mechlen)) == NULL)
		return;
	s->state = STATE_AUTH;
	/* RFC 4954 §4: "=" is an initial response of zero length. */
	if (ir != NULL && irlen == 1 && ir[0] == '=')
		irlen = 0;
	auth_step(s, ir, irlen);
}

void
smtp_auth_response(struct smtp_session *s, const char *line, size_t len)
{
	auth_step(s, line, len);
}

void
smtp_auth_too_long(struct smtp_session *s)
{
	smtp_auth_end(s);
	smtp_reply(s, R_AUTH_LINE_TOO_LONG);
}
