/*
 * The inbound SMTP session: I/O events, command-line framing with bounds,
 * the command dispatch and the commands that need no transaction.
 * Owns the bufferevent and the transaction (tx.c). Runs in smtp workers.
 *
 * Input is processed one command at a time; a command that needs a pool
 * job (end of DATA) sets `blocked` and the rest of the pipelined input
 * waits in the bufferevent until smtp_resume(), so replies stay in order.
 */
#include "smtp/session.h"

#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "auth/sasl.h"
#include "conf/conf.h"
#include "smtp/server.h"
#include "smtp/session_int.h"
#include "util/log.h"
#include "util/xmalloc.h"

#define SMTP_DISCARD_MAX (64 * 1024)	/* over-long line skipped, then close */
#define SMTP_ERRORS_SOFT 10		/* past this, each error reply waits */
#define SMTP_ERRORS_HARD 20		/* past this, 421 and close */
#define SMTP_ERROR_DELAY_MS 250

static void smtp_process(struct smtp_session *s);
static void smtp_session_free(struct smtp_session *s);
static void smtp_close_flushed(evutil_socket_t fd, short what, void *arg);

static const char *
smtp_state_str(enum smtp_state st)
{
	switch (st) {
	case STATE_CMD: return "cmd";
	case STATE_DATA: return "data";
	case STATE_AUTH: return "auth";
	case STATE_CLOSING: return "closing";
	}
	return "?";
}

static void
smtp_vreply(struct smtp_session *s, enum reply_id id, int more, va_list ap)
{
	char line[SASL_CHALLENGE_MAX + 64];	/* the longest: a 334 */
	int n;

	if (s->gone)
		return;
	if ((n = reply_vformat(line, sizeof(line), id, more, ap)) < 0)
		fatalx("reply %s does not fit", server_replies[id].name);
	bufferevent_write(s->bev, line, n);
	if (server_replies[id].code >= 400)
		log_info("session=%016llx event=reply state=%s reply=\"%.*s\"",
		    (unsigned long long)s->id, smtp_state_str(s->state),
		    n - 2, line);
}

void
smtp_reply(struct smtp_session *s, enum reply_id id, ...)
{
	va_list ap;

	va_start(ap, id);
	smtp_vreply(s, id, 0, ap);
	va_end(ap);
}

void
smtp_reply_more(struct smtp_session *s, enum reply_id id, ...)
{
	va_list ap;

	va_start(ap, id);
	smtp_vreply(s, id, 1, ap);
	va_end(ap);
}

/* Under STARTTLS the reply sits in the plaintext bufferevent a while. */
static void
smtp_under_drained(struct evbuffer *buf, const struct evbuffer_cb_info *info,
    void *arg)
{
	struct smtp_session *s = arg;
	struct timeval now = { 0, 0 };

	if (evbuffer_get_length(buf) > 0 || s->flush_cb == NULL)
		return;
	evbuffer_remove_cb_entry(buf, s->flush_cb);
	s->flush_cb = NULL;
	/* Not from inside the bufferevent's own write path. */
	s->jobs++;
	if (event_base_once(s->srv->base, -1, EV_TIMEOUT, smtp_close_flushed,
	    s, &now) == -1)
		fatalx("event_base_once");
}

static void
smtp_close_flushed(evutil_socket_t fd, short what, void *arg)
{
	struct smtp_session *s = arg;

	s->jobs--;
	smtp_session_free(s);	/* or, if already gone, schedule the reap */
}

/* Frees the session once every byte of its last reply is on the wire. */
static void
smtp_close_when_flushed(struct smtp_session *s)
{
	struct bufferevent *under;
	struct evbuffer *out;

	if (s->gone || evbuffer_get_length(bufferevent_get_output(s->bev)) > 0)
		return;		/* the write callback comes back here */
	/* Under STARTTLS the alert lands in the plaintext bufferevent, which
	 * is waited for below; with implicit TLS it goes to the socket. */
	smtp_tls_close_notify(s);
	under = bufferevent_get_underlying(s->bev);
	if (under != NULL &&
	    evbuffer_get_length(out = bufferevent_get_output(under)) > 0) {
		if (s->flush_cb == NULL)
			s->flush_cb = evbuffer_add_cb(out, smtp_under_drained, s);
		return;
	}
	smtp_session_free(s);
}

void
smtp_close_after_reply(struct smtp_session *s)
{
	s->state = STATE_CLOSING;
	bufferevent_disable(s->bev, EV_READ);
	smtp_close_when_flushed(s);
}

void
smtp_pause_reading(struct smtp_session *s, int pause)
{
	if (s->gone)
		return;
	if (pause)
		bufferevent_disable(s->bev, EV_READ);
	else
		bufferevent_enable(s->bev, EV_READ);
}

/* Counts a command error; past the hard limit the session ends. */
static int
smtp_count_error(struct smtp_session *s)
{
	if (++s->errors > SMTP_ERRORS_HARD) {
		smtp_reply(s, R_TOO_MANY_ERRORS, s->srv->conf->hostname);
		smtp_close_after_reply(s);
		return -1;
	}
	return 0;
}

static void
smtp_pause_done(evutil_socket_t fd, short what, void *arg)
{
	smtp_resume(arg);
}

/* Past the soft limit, hold the next command back for a moment. */
static void
smtp_error_delay(struct smtp_session *s)
{
	struct timeval tv = { 0, SMTP_ERROR_DELAY_MS * 1000 };

	if (s->errors <= SMTP_ERRORS_SOFT || s->state == STATE_CLOSING)
		return;
	if (s->pause_ev == NULL)
		s->pause_ev = evtimer_new(s->srv->base, smtp_pause_done, s);
	s->blocked = 1;
	smtp_pause_reading(s, 1);
	evtimer_add(s->pause_ev, &tv);
}

/* A refused command: reply, count it, maybe slow down or close. */
static void
smtp_refuse(struct smtp_session *s, enum reply_id id)
{
	smtp_reply(s, id);
	if (smtp_count_error(s) == 0)
		smtp_error_delay(s);
}

static void
smtp_tx_reset(struct smtp_session *s)
{
	smtp_tx_free(s->tx);
	s->tx = NULL;
}

static void
smtp_proceed_ehlo(struct smtp_session *s, const struct smtp_cmd *cmd,
    int esmtp)
{
	const struct conf *conf = s->srv->conf;
	char size[32], auth[160];

	if (!smtp_valid_helo(cmd->args, cmd->argslen)) {
		smtp_refuse(s, R_SYNTAX_EHLO);
		return;
	}
	smtp_tx_reset(s);
	memcpy(s->helo, cmd->args, cmd->argslen);
	s->helo[cmd->argslen] = '\0';
	s->helo_seen = 1;
	s->esmtp = esmtp;
	if (!esmtp) {
		smtp_reply(s, R_HELO, conf->hostname);
		return;
	}
	(void)snprintf(size, sizeof(size), "SIZE %llu",
	    (unsigned long long)conf->max_message_size);
	smtp_reply_more(s, R_EHLO_FIRST, conf->hostname);
	smtp_reply_more(s, R_EHLO_FIRST, "PIPELINING");
	smtp_reply_more(s, R_EHLO_FIRST, size);
	smtp_reply_more(s, R_EHLO_FIRST, "8BITMIME");
	smtp_reply_more(s, R_EHLO_FIRST, "ENHANCEDSTATUSCODES");
	if (!s->tls && s->srv->tls != NULL &&
	    s->listener->cl->tls == LISTENER_TLS_STARTTLS)
		smtp_reply_more(s, R_EHLO_FIRST, "STARTTLS");
	if (smtp_auth_offered(s) && !s->authenticated) {
		(void)snprintf(auth, sizeof(auth), "AUTH %s",
		    smtp_auth_mechs(s));
		smtp_reply_more(s, R_EHLO_FIRST, auth);
	}
	smtp_reply(s, R_EHLO_FIRST, "SMTPUTF8");
}

static void
smtp_proceed_quit(struct smtp_session *s)
{
	smtp_reply(s, R_QUIT);
	smtp_close_after_reply(s);
}

/* Checks every command shares: sequence and argument presence. */
static int
smtp_check_command(struct smtp_session *s, const struct smtp_cmd *cmd)
{
	if (cmd->id == CMD_UNKNOWN) {
		smtp_refuse(s, R_UNKNOWN_COMMAND);
		return -1;
	}
	if ((cmd->flags & CMD_F_NOARGS) && cmd->argslen > 0) {
		smtp_refuse(s, R_SYNTAX_NO_ARGS);
		return -1;
	}
	if ((cmd->flags & CMD_F_ARGS) && cmd->argslen == 0) {
		smtp_refuse(s, cmd->id == CMD_EHLO || cmd->id == CMD_HELO ?
		    R_SYNTAX_EHLO : R_SYNTAX);
		return -1;
	}
	if (!s->helo_seen && (cmd->id == CMD_MAIL || cmd->id == CMD_RCPT ||
	    cmd->id == CMD_DATA || cmd->id == CMD_AUTH)) {
		smtp_refuse(s, R_NEED_EHLO);
		return -1;
	}
	return 0;
}

/* Dispatches one command line (CRLF removed). */
static void
smtp_command(struct smtp_session *s, const char *line, size_t len)
{
	struct smtp_cmd cmd;

	smtp_cmd_parse(line, len, &cmd);
	if (smtp_check_command(s, &cmd) == -1)
		return;
	switch (cmd.id) {
	case CMD_EHLO: smtp_proceed_ehlo(s, &cmd, 1); break;
	case CMD_HELO: smtp_proceed_ehlo(s, &cmd, 0); break;
	case CMD_MAIL: smtp_proceed_mail(s, &cmd); break;
	case CMD_RCPT: smtp_proceed_rcpt(s, &cmd); break;
	case CMD_DATA: smtp_proceed_data(s); break;
	case CMD_RSET: smtp_tx_reset(s); smtp_reply(s, R_ACK); break;
	case CMD_NOOP: smtp_reply(s, R_ACK); break;
	case CMD_QUIT: smtp_proceed_quit(s); break;
	case CMD_VRFY: smtp_reply(s, R_VRFY); break;
	case CMD_HELP: smtp_reply(s, R_HELP); break;
	case CMD_STARTTLS: smtp_proceed_starttls(s); break;
	case CMD_AUTH: smtp_proceed_auth(s, &cmd); break;
	default: smtp_refuse(s, R_NOT_IMPLEMENTED); break;
	}
}

/*
 * Skips the rest of an over-long line. Returns 1 when its LF was found,
 * 0 if more input is needed, -1 when the session was closed.
 */
static int
smtp_discard(struct smtp_session *s, struct evbuffer *in)
{
	struct evbuffer_ptr lf = evbuffer_search(in, "\n", 1, NULL);
	size_t n = lf.pos == -1 ? evbuffer_get_length(in) : (size_t)lf.pos + 1;

	evbuffer_drain(in, n);
	s->discarded += n;
	if (lf.pos != -1) {
		s->discarding = 0;
		return 1;
	}
	if (s->discarded > SMTP_DISCARD_MAX) {
		log_info("session=%016llx event=close reason=endless-line",
		    (unsigned long long)s->id);
		smtp_session_free(s);
		return -1;
	}
	return 0;
}

/* A line too long: reply once, then skip to its end. */
static int
smtp_line_too_long(struct smtp_session *s, struct evbuffer *in)
{
	if (s->state == STATE_AUTH)
		smtp_auth_too_long(s);
	else
		smtp_reply(s, R_LINE_TOO_LONG);
	if (smtp_count_error(s) == -1)
		return -1;
	s->discarding = 1;
	s->discarded = 0;
	return smtp_discard(s, in);
}

/*
 * Takes one command line out of the input. Returns 1 with the line in buf,
 * 0 when more input is needed, -1 when the session was closed.
 */
static int
smtp_read_line(struct smtp_session *s, struct evbuffer *in, char *buf,
    size_t *len)
{
	/* An AUTH response may be 12288 octets of base64, CRLF not counted. */
	size_t max = s->state == STATE_AUTH ? SMTP_AUTH_LINE_MAX + 2 :
	    SMTP_LINE_MAX;
	struct evbuffer_ptr lf;
	size_t n;

	if (s->discarding) {
		int r = smtp_discard(s, in);
		if (r != 1)
			return r;
	}
	lf = evbuffer_search(in, "\n", 1, NULL);
	if (lf.pos == -1) {
		if (evbuffer_get_length(in) >= max)
			return smtp_line_too_long(s, in) == -1 ? -1 : 0;
		return 0;
	}
	if ((size_t)lf.pos + 1 > max)
		return smtp_line_too_long(s, in) == -1 ? -1 : 0;
	n = (size_t)lf.pos;
	evbuffer_remove(in, buf, n + 1);
	if (n > 0 && buf[n - 1] == '\r')
		n--;
	else
		log_debug("session=%016llx event=bare-lf-command",
		    (unsigned long long)s->id);
	buf[n] = '\0';
	*len = n;
	return 1;
}

/* Runs the commands (or DATA bytes) waiting in the input buffer. */
static void
smtp_process(struct smtp_session *s)
{
	struct evbuffer *in = bufferevent_get_input(s->bev);
	static char line[SMTP_AUTH_LINE_MAX + 3];
	size_t len;
	int r;

	while (!s->blocked && !s->gone && s->state != STATE_CLOSING) {
		if (s->state == STATE_DATA) {
			smtp_data_input(s);
			if (s->state == STATE_DATA || s->blocked)
				return;
			continue;
		}
		if (s->draining && s->state == STATE_CMD && s->tx == NULL) {
			smtp_reply(s, R_SHUTTING_DOWN, s->srv->conf->hostname);
			smtp_close_after_reply(s);
			return;
		}
		if ((r = smtp_read_line(s, in, line, &len)) != 1)
			return;
		if (s->state == STATE_AUTH)
			smtp_auth_response(s, line, len);
		else
			smtp_command(s, line, len);
	}
}

void
smtp_resume(struct smtp_session *s)
{
	s->blocked = 0;
	if (s->gone || s->state == STATE_CLOSING)
		return;
	smtp_pause_reading(s, 0);
	smtp_process(s);
}

static void
smtp_read_cb(struct bufferevent *bev, void *arg)
{
	smtp_process(arg);
}

static void
smtp_write_cb(struct bufferevent *bev, void *arg)
{
	struct smtp_session *s = arg;

	if (s->state == STATE_CLOSING)
		smtp_close_when_flushed(s);
}

static void
smtp_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct smtp_session *s = arg;

	if (what & BEV_EVENT_CONNECTED) {
		smtp_tls_connected(s);
		return;
	}
	if ((what & BEV_EVENT_TIMEOUT) && (what & BEV_EVENT_READING) &&
	    !s->handshaking) {
		log_info("session=%016llx event=timeout state=%s",
		    (unsigned long long)s->id, smtp_state_str(s->state));
		bufferevent_disable(bev, EV_READ | EV_WRITE);
		smtp_reply(s, R_TIMEOUT, s->srv->conf->hostname);
		/* Best effort: one non-blocking flush attempt, then close. */
		bufferevent_enable(bev, EV_WRITE);
		smtp_close_after_reply(s);
		return;
	}
	if (s->handshaking)
		smtp_tls_failed(s);
	else
		log_info("session=%016llx event=disconnect state=%s%s",
		    (unsigned long long)s->id, smtp_state_str(s->state),
		    (what & BEV_EVENT_ERROR) ? " reason=error" : "");
	smtp_session_free(s);
}

void
smtp_set_callbacks(struct smtp_session *s)
{
	struct timeval tmo = { s->srv->conf->timeout, 0 };

	bufferevent_setcb(s->bev, smtp_read_cb, smtp_write_cb, smtp_event_cb, s);
	bufferevent_set_timeouts(s->bev, &tmo, &tmo);
	bufferevent_enable(s->bev, EV_READ | EV_WRITE);
}

static void
smtp_client_text(struct smtp_session *s, const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr,
		    s->client, sizeof(s->client));
	else if (sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr,
		    s->client, sizeof(s->client));
	else
		(void)snprintf(s->client, sizeof(s->client), "local");
}

void
smtp_session_start(struct smtp_server *srv, struct smtp_listener *l, int fd,
    const struct sockaddr *sa, socklen_t salen)
{
	struct smtp_session *s = xcalloc(1, sizeof(*s));
	int r;

	s->srv = srv;
	s->listener = l;
	if (getrandom(&s->id, sizeof(s->id), 0) != sizeof(s->id))
		s->id = ((uint64_t)getpid() << 32) ^ (uint64_t)fd;
	if (salen <= sizeof(s->sa))
		memcpy(&s->sa, sa, salen);
	smtp_client_text(s, sa);
	TAILQ_INSERT_TAIL(&srv->sessions, s, entry);
	srv->nsessions++;
	if (l->cl->tls == LISTENER_TLS_IMPLICIT && srv->tls != NULL)
		r = smtp_tls_accept(s, fd);
	else
		r = (s->bev = bufferevent_socket_new(srv->base, fd,
		    BEV_OPT_CLOSE_ON_FREE)) == NULL ? -1 : 0;
	if (r == -1) {
		log_warnx("session=%016llx event=setup-failed",
		    (unsigned long long)s->id);
		if (s->bev == NULL)
			close(fd);
		smtp_session_free(s);
		return;
	}
	smtp_set_callbacks(s);
	log_info("session=%016llx event=connect client=%s listener=%s",
	    (unsigned long long)s->id, s->client, l->cl->name);
	smtp_reply(s, R_GREETING, srv->conf->hostname);
}

static void
smtp_session_reap(evutil_socket_t fd, short what, void *arg)
{
	struct smtp_session *s = arg;

	s->reap_scheduled = 0;
	if (s->jobs > 0)
		return;		/* smtp_job_done() comes back here */
	smtp_tx_free(s->tx);
	sasl_exchange_free(s->sasl);
	TAILQ_REMOVE(&s->srv->sessions, s, entry);
	smtp_server_session_gone(s->srv);
	free(s);
}

/*
 * Ends the connection now; the struct itself is freed in a later loop turn
 * (callers up the stack may still look at s->gone), and only once no pool
 * job refers to it.
 */
static void
smtp_session_free(struct smtp_session *s)
{
	struct timeval now = { 0, 0 };

	if (!s->gone) {
		s->gone = 1;
		smtp_dnscheck_cancel(s);
		if (s->bev)
			bufferevent_free(s->bev);
		s->bev = NULL;
		if (s->pause_ev)
			event_free(s->pause_ev);
		s->pause_ev = NULL;
	}
	if (s->jobs == 0 && !s->reap_scheduled) {
		s->reap_scheduled = 1;
		if (event_base_once(s->srv->base, -1, EV_TIMEOUT,
		    smtp_session_reap, s, &now) == -1)
			fatalx("event_base_once");
	}
}

void
smtp_job_done(struct smtp_session *s)
{
	s->jobs--;
	if (s->gone)
		smtp_session_free(s);
}

void
smtp_session_drain(struct smtp_session *s)
{
	s->draining = 1;
	if (!s->blocked && s->state == STATE_CMD && s->tx == NULL) {
		smtp_reply(s, R_SHUTTING_DOWN, s->srv->conf->hostname);
		smtp_close_after_reply(s);
	}
}

void
smtp_session_abort(struct smtp_session *s)
{
	log_info("session=%016llx event=abort reason=shutdown state=%s",
	    (unsigned long long)s->id, smtp_state_str(s->state));
	smtp_session_free(s);
}
