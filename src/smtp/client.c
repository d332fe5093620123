/*
 * The SMTP client session: connecting through an address list with a
 * time limit per address, reading replies line by line (bounded, see
 * client_reply.c) and dispatching them by state, the greeting, EHLO with
 * the HELO fallback, STARTTLS and implicit TLS (a libevent OpenSSL filter
 * over the plain socket), QUIT, time-outs and failures. Transactions are
 * in client_tx.c, AUTH in client_auth.c.
 *
 * Owns struct smtp_client and everything in it (see client_int.h). The
 * caller's callbacks run from a deferred event so that they may free the
 * session. Runs in the delivery process and the command line.
 */
#include "smtp/client.h"
#include "smtp/client_int.h"

#include <sys/socket.h>
#include <sys/un.h>

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <openssl/err.h>

#include "util/log.h"
#include "util/xmalloc.h"

#define DEFAULT_CONNECT_TIMEOUT 30
#define DEFAULT_CMD_TIMEOUT 300
#define DEFAULT_DATA_TIMEOUT 600

static void client_read(struct bufferevent *bev, void *arg);
static void client_write(struct bufferevent *bev, void *arg);
static void client_event(struct bufferevent *bev, short what, void *arg);
static void client_connect_next(struct smtp_client *c);
static void client_timeout(evutil_socket_t fd, short what, void *arg);
static void client_connected(struct smtp_client *c);

unsigned
client_cmd_timeout(const struct smtp_client *c)
{
	return c->p->cmd_timeout ? c->p->cmd_timeout : DEFAULT_CMD_TIMEOUT;
}

static void
client_transcript(struct smtp_client *c, enum smtp_client_dir dir,
    const char *line, size_t len)
{
	if (c->p->transcript != NULL)
		c->p->transcript(c->p->transcript_arg, dir, line, len);
}

void
client_info(struct smtp_client *c, const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int n;

	if (c->p->transcript == NULL)
		return;
	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n > 0)
		client_transcript(c, SMTP_CLIENT_INFO, buf,
		    (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1);
}

/* Sends one command line; shown (if set) replaces it in the transcript. */
void
client_send_line(struct smtp_client *c, const char *shown, const char *fmt,
    ...)
{
	char line[SMTP_CLIENT_LINE_MAX];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line) - 2, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(line) - 2) {
		client_fail(c, SMTP_CLIENT_E_INTERNAL, NULL, "command too "
		    "long");
		return;
	}
	client_transcript(c, SMTP_CLIENT_SENT, shown != NULL ? shown : line,
	    shown != NULL ? strlen(shown) : (size_t)n);
	memcpy(line + n, "\r\n", 2);
	if (bufferevent_write(c->bev, line, (size_t)n + 2) == -1) {
		client_fail(c, SMTP_CLIENT_E_INTERNAL, NULL, "cannot queue "
		    "output");
		return;
	}
	client_arm(c, client_cmd_timeout(c));
}

void
client_arm(struct smtp_client *c, unsigned seconds)
{
	struct timeval tv = { (time_t)seconds, 0 };

	(void)evtimer_add(c->timer, &tv);
}

/* The operation ends; its callback runs on the next loop turn. */
void
client_complete(struct smtp_client *c, int status)
{
	if (!c->op_pending)
		return;
	c->op_pending = 0;
	c->op_status = status;
	event_active(c->done_ev, 0, 0);
}

static void
client_done(evutil_socket_t fd, short what, void *arg)
{
	struct smtp_client *c = arg;
	smtp_client_cb cb = c->cb;

	c->cb = NULL;
	if (cb != NULL)
		cb(c, c->op_status, c->cbarg);
}

/* Drops the connection (not the session). */
static void
client_close(struct smtp_client *c)
{
	/*
	 * The bufferevents own the socket (BEV_OPT_CLOSE_ON_FREE): libevent
	 * may finish freeing them after this callback returns, and closes
	 * the descriptor only once its events are gone.
	 */
	if (c->bev != NULL && c->bev != c->plain)
		bufferevent_free(c->bev);	/* frees plain and SSL too */
	else if (c->plain != NULL)
		bufferevent_free(c->plain);
	else if (c->fd != -1)
		(void)close(c->fd);
	c->bev = c->plain = NULL;
	c->ssl = NULL;
	c->fd = -1;
	evtimer_del(c->timer);
}

void
client_fail(struct smtp_client *c, enum smtp_client_errkind kind,
    const struct smtp_reply *reply, const char *fmt, ...)
{
	va_list ap;

	if (c->state == STATE_FAILED)
		return;
	c->err.kind = kind;
	if (reply != NULL)
		c->err.reply = *reply;
	va_start(ap, fmt);
	(void)vsnprintf(c->err.why, sizeof(c->err.why), fmt, ap);
	va_end(ap);
	client_info(c, "failed: %s", c->err.why);
	c->state = STATE_FAILED;
	client_close(c);
	client_auth_free(c);
	client_tx_abort(c);
	client_complete(c, -1);
}

void
client_ready(struct smtp_client *c)
{
	c->state = STATE_READY;
	evtimer_del(c->timer);
	client_complete(c, 0);
}

struct smtp_client *
smtp_client_new(struct event_base *base,
    const struct smtp_client_params *params)
{
	struct smtp_client *c;

	c = xcalloc(1, sizeof(*c));
	c->base = base;
	c->p = params;
	c->fd = -1;
	c->timer = evtimer_new(base, client_timeout, c);
	c->done_ev = event_new(base, -1, 0, client_done, c);
	if (c->timer == NULL || c->done_ev == NULL)
		fatalx("smtp client: cannot create events");
	return c;
}

void
smtp_client_free(struct smtp_client *c)
{
	if (c == NULL)
		return;
	client_close(c);
	client_auth_free(c);
	client_tx_free(c);	/* results are not written: nobody waits */
	free(c->inbuf);
	free(c->outbuf);
	event_free(c->timer);
	event_free(c->done_ev);
	free(c->addrs);
	free(c);
}

/* Starts an operation; -1 (errno set) if one is running or state is wrong. */
static int
client_op(struct smtp_client *c, enum client_state want, smtp_client_cb cb,
    void *arg)
{
	if (c->op_pending || c->cb != NULL) {
		errno = EBUSY;
		return -1;
	}
	if (c->state != want) {
		errno = c->state == STATE_FAILED || c->state == STATE_CLOSED ?
		    ENOTCONN : EINVAL;
		return -1;
	}
	c->cb = cb;
	c->cbarg = arg;
	c->op_pending = 1;
	return 0;
}

int
smtp_client_connect(struct smtp_client *c,
    const struct sockaddr_storage *addrs, size_t naddrs, smtp_client_cb cb,
    void *arg)
{
	if (naddrs == 0) {
		errno = EINVAL;
		return -1;
	}
	if (client_op(c, STATE_INIT, cb, arg) == -1)
		return -1;
	c->addrs = xreallocarray(NULL, naddrs, sizeof(*addrs));
	memcpy(c->addrs, addrs, naddrs * sizeof(*addrs));
	c->naddrs = naddrs;
	c->addr_i = 0;
	c->state = STATE_CONNECTING;
	client_connect_next(c);
	return 0;
}

int
smtp_client_attach(struct smtp_client *c, int fd, const char *name,
    smtp_client_cb cb, void *arg)
{
	if (client_op(c, STATE_INIT, cb, arg) == -1) {
		(void)close(fd);
		return -1;
	}
	(void)snprintf(c->peer, sizeof(c->peer), "%s", name);
	c->fd = fd;
	c->state = STATE_CONNECTING;
	if (evutil_make_socket_nonblocking(fd) == -1 ||
	    (c->plain = c->bev = bufferevent_socket_new(c->base, fd,
	    BEV_OPT_CLOSE_ON_FREE)) == NULL) {
		client_fail(c, SMTP_CLIENT_E_CONNECT, NULL, "%s: cannot use "
		    "the connection", c->peer);
		return 0;
	}
	bufferevent_setcb(c->bev, client_read, client_write, client_event, c);
	bufferevent_setwatermark(c->bev, EV_WRITE, CLIENT_BODY_CHUNK, 0);
	(void)bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	client_connected(c);
	return 0;
}

static socklen_t
sa_len(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_UNIX)
		return sizeof(struct sockaddr_un);
	return ss->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) :
	    sizeof(struct sockaddr_in);
}

static void
peer_str(const struct sockaddr_storage *ss, char *buf, size_t bufsz)
{
	char host[INET6_ADDRSTRLEN];
	const struct sockaddr_in *sin = (const struct sockaddr_in *)ss;
	const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)ss;
	const struct sockaddr_un *sun = (const struct sockaddr_un *)ss;

	if (ss->ss_family == AF_UNIX)
		(void)snprintf(buf, bufsz, "unix:%.*s",
		    (int)sizeof(sun->sun_path), sun->sun_path);
	else if (ss->ss_family == AF_INET6) {
		(void)inet_ntop(AF_INET6, &sin6->sin6_addr, host, sizeof(host));
		(void)snprintf(buf, bufsz, "[%s]:%u", host,
		    ntohs(sin6->sin6_port));
	} else {
		(void)inet_ntop(AF_INET, &sin->sin_addr, host, sizeof(host));
		(void)snprintf(buf, bufsz, "%s:%u", host, ntohs(sin->sin_port));
	}
}

/* A plain bufferevent on a new socket, connecting to addrs[addr_i]. */
static int
client_connect_one(struct smtp_client *c)
{
	const struct sockaddr_storage *ss = &c->addrs[c->addr_i];

	c->fd = socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0);
	if (c->fd == -1)
		return -1;
	c->plain = c->bev = bufferevent_socket_new(c->base, c->fd,
	    BEV_OPT_CLOSE_ON_FREE);
	if (c->bev == NULL)
		return -1;
	bufferevent_setcb(c->bev, client_read, client_write, client_event, c);
	bufferevent_setwatermark(c->bev, EV_WRITE, CLIENT_BODY_CHUNK, 0);
	if (bufferevent_enable(c->bev, EV_READ | EV_WRITE) == -1)
		return -1;
	client_info(c, "connecting to %s", c->peer);
	return bufferevent_socket_connect(c->bev,
	    (const struct sockaddr *)ss, sa_len(ss));
}

/* Notes why addrs[addr_i] failed and moves on to the next one. */
static void
client_connect_failed(struct smtp_client *c, const char *why)
{
	(void)snprintf(c->err.why, sizeof(c->err.why), "%s: %s", c->peer,
	    why);
	client_info(c, "cannot connect to %s", c->err.why);
	client_close(c);
	c->addr_i++;
}

/* Tries the next address, or fails when none is left. */
static void
client_connect_next(struct smtp_client *c)
{
	unsigned t = c->p->connect_timeout ? c->p->connect_timeout :
	    DEFAULT_CONNECT_TIMEOUT;

	char last[SMTP_CLIENT_WHY_MAX];

	while (c->addr_i < c->naddrs) {
		peer_str(&c->addrs[c->addr_i], c->peer, sizeof(c->peer));
		if (client_connect_one(c) == 0) {
			client_arm(c, t);
			return;
		}
		client_connect_failed(c, strerror(errno));
	}
	(void)snprintf(last, sizeof(last), "%s", c->err.why);
	if (c->naddrs > 1)
		client_fail(c, SMTP_CLIENT_E_CONNECT, NULL, "all %zu addresses "
		    "failed; last: %s", c->naddrs, last);
	else
		client_fail(c, SMTP_CLIENT_E_CONNECT, NULL, "%s", last);
}

static void
client_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct smtp_client *c = arg;

	switch (c->state) {
	case STATE_CONNECTING:
		client_connect_failed(c, "connection timed out");
		client_connect_next(c);
		break;
	case STATE_QUIT:
		client_close(c);
		c->state = STATE_CLOSED;
		client_complete(c, 0);
		break;
	default:
		client_fail(c, SMTP_CLIENT_E_TIMEOUT, NULL, "%s: no reply "
		    "within the time limit", c->peer);
		break;
	}
}

/* Starts the TLS handshake over the plain connection. */
static void
client_start_tls(struct smtp_client *c)
{
	char why[SMTP_CLIENT_WHY_MAX];

	if (c->p->tls_ctx == NULL) {
		client_fail(c, SMTP_CLIENT_E_TLS, NULL, "no TLS context");
		return;
	}
	if ((c->ssl = client_tls_ssl_new(c->p->tls_ctx, c->p->server_name,
	    why, sizeof(why))) == NULL) {
		client_fail(c, SMTP_CLIENT_E_TLS, NULL, "%s", why);
		return;
	}
	c->bev = bufferevent_openssl_filter_new(c->base, c->plain, c->ssl,
	    BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE);
	if (c->bev == NULL) {
		c->ssl = NULL;	/* XXX leaked: libevent may have freed it */
		c->bev = c->plain;
		client_fail(c, SMTP_CLIENT_E_TLS, NULL, "cannot start TLS");
		return;
	}
	bufferevent_openssl_set_allow_dirty_shutdown(c->bev, 1);
	bufferevent_setcb(c->bev, client_read, client_write, client_event, c);
	bufferevent_setwatermark(c->bev, EV_WRITE, CLIENT_BODY_CHUNK, 0);
	(void)bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	c->state = STATE_TLS_HANDSHAKE;
	client_arm(c, client_cmd_timeout(c));
}

static void
client_tls_done(struct smtp_client *c)
{
	int implicit = c->p->tls == SMTP_CLIENT_TLS_IMPLICIT;

	client_tls_describe(c->ssl, &c->tls);
	c->in_tls = 1;
	if (c->tls.verified)
		client_info(c, "TLS %s %s; certificate verified: %s",
		    c->tls.version, c->tls.cipher, c->tls.peer);
	else
		client_info(c, "TLS %s %s; certificate NOT verified: %s",
		    c->tls.version, c->tls.cipher, c->tls.verify_error);
	if (c->p->tls_verify && !c->tls.verified) {
		client_fail(c, SMTP_CLIENT_E_TLS_VERIFY, NULL, "%s: server "
		    "certificate not verified: %s", c->peer,
		    c->tls.verify_error);
		return;
	}
	if (implicit) {
		c->state = STATE_GREETING;
		client_arm(c, client_cmd_timeout(c));
		return;
	}
	memset(&c->ehlo, 0, sizeof(c->ehlo));
	c->state = STATE_EHLO;
	client_send_line(c, NULL, "EHLO %s", c->p->helo);
}

static void
client_connected(struct smtp_client *c)
{
	memset(&c->err, 0, sizeof(c->err));	/* earlier addresses' */
	client_info(c, "connected to %s", c->peer);
	if (c->p->tls == SMTP_CLIENT_TLS_IMPLICIT) {
		client_start_tls(c);
		return;
	}
	c->state = STATE_GREETING;
	client_arm(c, client_cmd_timeout(c));
}

static void
client_event(struct bufferevent *bev, short what, void *arg)
{
	struct smtp_client *c = arg;
	unsigned long sslerr;
	char why[SMTP_CLIENT_WHY_MAX];

	if (c->state == STATE_CONNECTING) {
		if (what & BEV_EVENT_CONNECTED)
			client_connected(c);
		else {
			client_connect_failed(c, strerror(
			    EVUTIL_SOCKET_ERROR()));
			client_connect_next(c);
		}
		return;
	}
	if (c->state == STATE_TLS_HANDSHAKE) {
		if (what & BEV_EVENT_CONNECTED) {
			client_tls_done(c);
			return;
		}
		sslerr = bufferevent_get_openssl_error(bev);
		client_tls_handshake_error(sslerr, why, sizeof(why));
		ERR_clear_error();
		client_fail(c, SMTP_CLIENT_E_TLS, NULL, "%s: %s", c->peer, why);
		return;
	}
	/*
	 * A reply may arrive together with the end of the connection (the
	 * 221 and a TLS close_notify in one read): read it before the end.
	 * Completions are deferred, so c stays valid here.
	 */
	if (what & BEV_EVENT_EOF)
		client_read(bev, c);
	if (c->state == STATE_CLOSED)
		return;
	if (c->state == STATE_QUIT) {
		client_close(c);
		c->state = STATE_CLOSED;
		client_complete(c, 0);
		return;
	}
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
		client_fail(c, SMTP_CLIENT_E_LOST, NULL, "%s: connection %s",
		    c->peer, (what & BEV_EVENT_EOF) ? "closed by the server" :
		    "lost");
}

static void client_read(struct bufferevent *bev, void *arg);

static void
client_write(struct bufferevent *bev, void *arg)
{
	struct smtp_client *c = arg;

	if (c->state == STATE_BODY)
		client_tx_pump(c);
}

static void
client_greeting(struct smtp_client *c, const struct smtp_reply *r)
{
	c->greeting = *r;
	if (r->code != 220) {
		client_send_line(c, NULL, "QUIT");
		client_fail(c, SMTP_CLIENT_E_REFUSED, r, "%s: the server "
		    "refused the session", c->peer);
		return;
	}
	c->state = STATE_EHLO;
	client_send_line(c, NULL, "EHLO %s", c->p->helo);
}

/* After EHLO/HELO: STARTTLS, AUTH, or ready. */
static void
client_after_ehlo(struct smtp_client *c)
{
	int offered = (c->ehlo.ext & SMTP_EXT_STARTTLS) != 0;

	if (!c->in_tls && (c->p->tls == SMTP_CLIENT_TLS_STARTTLS ||
	    (c->p->tls == SMTP_CLIENT_TLS_OPPORTUNISTIC && offered))) {
		if (!offered) {
			client_fail(c, SMTP_CLIENT_E_TLS_UNAVAILABLE, NULL,
			    "%s: the server does not offer STARTTLS", c->peer);
			return;
		}
		c->state = STATE_STARTTLS;
		client_send_line(c, NULL, "STARTTLS");
		return;
	}
	if (c->p->user != NULL) {
		client_auth_start(c);
		return;
	}
	client_ready(c);
}

static void
client_ehlo_reply(struct smtp_client *c, const struct smtp_reply *r)
{
	if (smtp_reply_ok(r)) {
		if (c->state == STATE_EHLO)
			smtp_ehlo_parse(r, &c->ehlo);
		else
			memset(&c->ehlo, 0, sizeof(c->ehlo));
		client_after_ehlo(c);
		return;
	}
	if (c->state == STATE_EHLO && r->code >= 500 && !c->in_tls) {
		c->state = STATE_HELO;
		client_send_line(c, NULL, "HELO %s", c->p->helo);
		return;
	}
	client_fail(c, SMTP_CLIENT_E_REFUSED, r, "%s: %s refused", c->peer,
	    c->state == STATE_EHLO ? "EHLO" : "HELO");
}

static void
client_starttls_reply(struct smtp_client *c, const struct smtp_reply *r)
{
	if (r->code == 220) {
		/* RFC 3207 §6: nothing may come before the handshake */
		if (evbuffer_get_length(bufferevent_get_input(c->bev)) > 0) {
			client_fail(c, SMTP_CLIENT_E_PROTOCOL, NULL, "%s: "
			    "data after the STARTTLS reply", c->peer);
			return;
		}
		client_start_tls(c);
		return;
	}
	if (c->p->tls == SMTP_CLIENT_TLS_STARTTLS) {
		client_fail(c, SMTP_CLIENT_E_TLS_UNAVAILABLE, r, "%s: STARTTLS "
		    "refused", c->peer);
		return;
	}
	client_info(c, "STARTTLS refused; going on without TLS");
	c->ehlo.ext &= ~(unsigned)SMTP_EXT_STARTTLS;
	client_after_ehlo(c);
}

static void
client_quit_reply(struct smtp_client *c)
{
	client_close(c);
	c->state = STATE_CLOSED;
	client_complete(c, 0);
}

static void
client_dispatch(struct smtp_client *c, const struct smtp_reply *r)
{
	switch (c->state) {
	case STATE_GREETING:
		client_greeting(c, r);
		break;
	case STATE_EHLO:
	case STATE_HELO:
		client_ehlo_reply(c, r);
		break;
	case STATE_STARTTLS:
		client_starttls_reply(c, r);
		break;
	case STATE_AUTH:
		client_auth_reply(c, r);
		break;
	case STATE_RSET:
	case STATE_TX:
	case STATE_BODY:
	case STATE_DOT:
		client_tx_reply(c, r);
		break;
	case STATE_QUIT:
		client_quit_reply(c);
		break;
	default:
		client_fail(c, SMTP_CLIENT_E_PROTOCOL, r, "%s: unexpected "
		    "reply", c->peer);
		break;
	}
}

/* One complete line of input: 1 to go on, 0 to stop reading. */
static int
client_line(struct smtp_client *c, const char *line, size_t len)
{
	char why[SMTP_CLIENT_WHY_MAX];
	struct smtp_reply r;

	client_transcript(c, SMTP_CLIENT_RECEIVED, line, len);
	switch (smtp_reply_parse_line(&c->parser, line, len, why,
	    sizeof(why))) {
	case SMTP_REPLY_MORE:
		return 1;
	case SMTP_REPLY_ERROR:
		client_fail(c, SMTP_CLIENT_E_PROTOCOL, NULL, "%s: %s", c->peer,
		    why);
		return 0;
	case SMTP_REPLY_DONE:
		break;
	}
	r = c->parser.reply;
	smtp_reply_parser_init(&c->parser);
	if (c->state != STATE_BODY)
		evtimer_del(c->timer);
	client_dispatch(c, &r);
	return 1;
}

static void
client_read(struct bufferevent *bev, void *arg)
{
	struct smtp_client *c = arg;
	char line[SMTP_CLIENT_LINE_MAX + 1];
	struct evbuffer *in;
	struct evbuffer_ptr eol;
	size_t eol_len;

	while (c->bev == bev && c->state != STATE_TLS_HANDSHAKE) {
		in = bufferevent_get_input(bev);
		eol = evbuffer_search_eol(in, NULL, &eol_len,
		    EVBUFFER_EOL_CRLF);
		if (eol.pos == -1 || eol.pos > SMTP_CLIENT_LINE_MAX) {
			if (eol.pos != -1 ||
			    evbuffer_get_length(in) > SMTP_CLIENT_LINE_MAX)
				client_fail(c, SMTP_CLIENT_E_PROTOCOL, NULL,
				    "%s: reply line too long", c->peer);
			return;
		}
		(void)evbuffer_remove(in, line, (size_t)eol.pos);
		(void)evbuffer_drain(in, eol_len);
		line[eol.pos] = '\0';
		if (!client_line(c, line, (size_t)eol.pos))
			return;
	}
}

int
smtp_client_quit(struct smtp_client *c, smtp_client_cb cb, void *arg)
{
	if (client_op(c, STATE_READY, cb, arg) == -1)
		return -1;
	c->state = STATE_QUIT;
	client_send_line(c, NULL, "QUIT");
	client_arm(c, client_cmd_timeout(c));
	return 0;
}

const struct smtp_client_error *
smtp_client_error(const struct smtp_client *c)
{
	return &c->err;
}

const struct smtp_ehlo *
smtp_client_ehlo(const struct smtp_client *c)
{
	return &c->ehlo;
}

const struct smtp_reply *
smtp_client_greeting(const struct smtp_client *c)
{
	return &c->greeting;
}

const struct smtp_client_tls_info *
smtp_client_tls(const struct smtp_client *c)
{
	return &c->tls;
}

const char *
smtp_client_peer(const struct smtp_client *c)
{
	return c->peer;
}

const char *
smtp_client_auth_mech(const struct smtp_client *c)
{
	return c->mech[0] != '\0' ? c->mech : NULL;
}

int
smtp_client_error_temporary(const struct smtp_client_error *e)
{
	if (e->reply.code >= 400 && e->reply.code < 500)
		return 1;
	if (e->reply.code >= 500)
		return 0;
	return e->kind != SMTP_CLIENT_E_AUTH_UNAVAILABLE &&
	    e->kind != SMTP_CLIENT_E_TLS_UNAVAILABLE &&
	    e->kind != SMTP_CLIENT_E_NONE;
}

const char *
smtp_client_errkind_str(enum smtp_client_errkind kind)
{
	static const char *names[] = { "none", "connect", "timeout", "lost",
	    "protocol", "refused", "tls", "tls-verify", "tls-unavailable",
	    "auth", "auth-unavailable", "internal" };

	if ((size_t)kind < sizeof(names) / sizeof(names[0]))
		return names[kind];
	return "?";
}
