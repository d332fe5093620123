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
	if (bufferevent_write(c->bev, line, (size_t)n + 2) == -1)
		client_fail(c, SMTP_CLIENT_E_INTERNAL, NULL, "cannot queue "
		    "output");
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
	if (c->bev != NULL && c->bev != c->plain)
		bufferevent_free(c->bev);	/* frees plain and SSL too */
	else if (c->plain != NULL)
		bufferevent_free(c->plain);
	c->bev = c->plain = NULL;
	c->ssl = NULL;
	if (c->fd != -1)
		(void)close(c->fd);
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
	client_tx_abort(c);
	client_tx_free(c);
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

static socklen_t
sa_len(const struct sockaddr_storage *ss)
{
	return ss->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) :
	    sizeof(struct sockaddr_in);
}

static void
peer_str(const struct sockaddr_storage *ss, char *buf, size_t bufsz)
{
	char host[INET6_ADDRSTRLEN];
	const struct sockaddr_in *sin = (const struct sockaddr_in *)ss;
	const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)ss;

	if (ss->ss_family == AF_INET6) {
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
	c->plain = c->bev = bufferevent_socket_new(c->base, c->fd, 0);
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

/* Tries the next address, or fails when none is left. */
static void
client_connect_next(struct smtp_client *c)
{
	unsigned t = c->p->connect_timeout ? c->p->connect_timeout :
	    DEFAULT_CONNECT_TIMEOUT;

	while (c->addr_i < c->naddrs) {
		peer_str(&c->addrs[c->addr_i], c->peer, sizeof(c->peer));
		if (client_connect_one(c) == 0) {
			client_arm(c, t);
			return;
		}
		(void)snprintf(c->err.why, sizeof(c->err.why), "%s: %s",
		    c->peer, strerror(errno));
		client_info(c, "cannot connect to %s", c->err.why);
		client_close(c);
		c->addr_i++;
	}
	client_fail(c, SMTP_CLIENT_E_CONNECT, NULL, "%s", c->naddrs > 1 ?
	    "no address accepted a connection (last: see above)" :
	    c->err.why);
}
