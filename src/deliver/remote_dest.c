/*
 * Destinations of remote delivery: per recipient domain (or the one
 * smarthost) a route, a queue of transactions waiting to be sent and a
 * cache of SMTP connections. A destination resolves its route when mail
 * comes for it (and again after REMOTE_ROUTE_TTL), opens up to
 * REMOTE_DEST_CONNS connections (REMOTE_CONNS in all, an idle
 * connection of another destination giving way when the total is
 * reached), each trying the route's hosts in order and each host's
 * addresses in order (RFC 5321 §5.1), with opportunistic STARTTLS (a
 * failed handshake is retried once in plaintext, as the peer offered no
 * usable TLS). A connected session takes the queued transactions one
 * after another (several messages per connection, PIPELINING and the
 * rest as the client negotiates); it is closed with QUIT after REMOTE_IDLE
 * seconds without work or REMOTE_CONN_TXS transactions. When no host of
 * the route takes a connection, the transactions waiting get
 * "451 4.4.1 ..." with the last reason; a route without hosts gives its
 * own reply (null MX, NXDOMAIN... see remote_route.c).
 *
 * Before a message goes out the peer's EHLO is checked: a message that
 * needs SMTPUTF8 to a peer without it fails with 553 5.6.7 (RFC 6531
 * §3.2), an 8-bit message to a peer without 8BITMIME with 554 5.6.3
 * (RFC 6152 §3: we bounce rather than convert).
 *
 * Owns struct remote_dest and struct remote_conn (its smtp_client and
 * idle timer); borrows the transactions. Runs in the delivery process, on
 * its event loop.
 */
#include "deliver/remote_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "conf/conf.h"
#include "queue/qfile.h"
#include "util/xmalloc.h"

enum conn_state { CONN_CONNECTING, CONN_IDLE, CONN_BUSY, CONN_QUIT };

/* One SMTP connection of a destination. */
struct remote_conn {
	TAILQ_ENTRY(remote_conn) entry;
	struct remote_dest	*d;
	struct smtp_client	*c;		/* owned */
	struct smtp_client_params params;
	enum conn_state		 state;
	size_t			 target;	/* index into d->route */
	int			 notls;		/* TLS failed: plaintext */
	char			 host[DNS_NAME_BUFSZ];	/* target's name */
	struct remote_tx	*tx;		/* CONN_BUSY: borrowed */
	struct event		*idle_ev;
	unsigned		 ntx;		/* transactions sent */
	char			 why[QSTATE_REPLY_MAX];	/* last connect
							   failure */
	char			 relay[256];	/* "host[ip]:port" */
	char			 tls[32];
};

struct remote_dest {
	TAILQ_ENTRY(remote_dest) entry;
	struct remote		*r;
	char			 key[REMOTE_KEY_MAX];	/* domain; "" relay */
	int			 relay;
	struct remote_route	 route;
	int			 have_route;
	time_t			 route_time;
	struct dns_query	*q;		/* route lookup running */
	TAILQ_HEAD(, remote_tx)	 wait;		/* borrowed */
	size_t			 nwait;
	TAILQ_HEAD(, remote_conn) conns;	/* owned */
	unsigned		 nconns;
};

static void dest_pump(struct remote_dest *d);
static int conn_try(struct remote_conn *conn);

static const char *
dest_name(const struct remote_dest *d)
{
	return d->relay ? d->r->relay_host : d->key;
}

/* ---- connections ---- */

/* Frees conn (no QUIT, no callback); the caller pumps its destination. */
static void
conn_close(struct remote_conn *conn)
{
	struct remote_dest *d = conn->d;

	if (conn->state != CONN_CONNECTING)
		log_info("remote relay=%s event=closed transactions=%u",
		    conn->relay, conn->ntx);
	TAILQ_REMOVE(&d->conns, conn, entry);
	d->nconns--;
	d->r->nconns--;
	smtp_client_free(conn->c);
	event_free(conn->idle_ev);
	free(conn);
	if (d->r->starved)
		event_active(d->r->pump_ev, 0, 0);
}

static struct remote_where
conn_where(const struct remote_conn *conn)
{
	struct remote_where w = { conn->host, conn->relay, conn->tls };

	return w;
}

/* Notes why the current target failed, for the final deferral. */
static void
conn_note(struct remote_conn *conn, const struct smtp_client_error *e)
{
	const char *peer = smtp_client_peer(conn->c), *why = e->why;
	char reply[SMTP_REPLY_TEXT_MAX], where[320], safe[LOG_SAFE_BUFSZ];
	size_t plen = strlen(peer);

	(void)snprintf(where, sizeof(where), "%s", conn->host);
	if (plen > 0 && strncmp(why, peer, plen) == 0 &&
	    strncmp(why + plen, ": ", 2) == 0) {
		remote_relay_str(where, sizeof(where), conn->host, peer);
		why += plen + 2;
	}
	reply[0] = '\0';
	if (e->reply.code != 0)
		(void)smtp_reply_format(&e->reply, reply, sizeof(reply));
	(void)snprintf(conn->why, sizeof(conn->why), "%.200s: %.150s%s%.150s%s",
	    where, why, reply[0] != '\0' ? " (" : "", reply,
	    reply[0] != '\0' ? ")" : "");
	log_safe(safe, sizeof(safe), conn->why, strlen(conn->why));
	log_info("remote host=%s event=connect-failed kind=%s reason=\"%s\"",
	    conn->host, smtp_client_errkind_str(e->kind), safe);
}

/*
 * No host of the route took the connection: the waiting transactions are
 * deferred with the last reason, unless another connection of the
 * destination is up to take them. Frees conn; the caller pumps.
 */
static void
conn_give_up(struct remote_conn *conn)
{
	struct remote_dest *d = conn->d;
	struct remote_conn *o;
	struct remote_tx *tx;
	char reply[2 * QSTATE_REPLY_MAX];	/* cut to size by remote */

	TAILQ_FOREACH(o, &d->conns, entry)
		if (o != conn && (o->state == CONN_IDLE ||
		    o->state == CONN_BUSY))
			break;
	if (o == NULL) {
		if (d->relay)
			(void)snprintf(reply, sizeof(reply), "451 4.4.1 Relay "
			    "host %s not reachable: %s", dest_name(d),
			    conn->why);
		else
			(void)snprintf(reply, sizeof(reply), "451 4.4.1 No MX "
			    "host of %s accepted a connection; last: %s",
			    dest_name(d), conn->why);
		while ((tx = TAILQ_FIRST(&d->wait)) != NULL) {
			TAILQ_REMOVE(&d->wait, tx, qentry);
			d->nwait--;
			remote_tx_fail(tx, NULL, reply);
		}
	}
	conn_close(conn);
}

/* The session is up: note where and how, then wait for work. */
static void
conn_ready(struct remote_conn *conn)
{
	const struct smtp_client_tls_info *t = smtp_client_tls(conn->c);
	struct timeval idle = { REMOTE_IDLE, 0 };
	char safe[LOG_SAFE_BUFSZ];

	remote_relay_str(conn->relay, sizeof(conn->relay), conn->host,
	    smtp_client_peer(conn->c));
	remote_tls_str(conn->tls, sizeof(conn->tls), t);
	conn->state = CONN_IDLE;
	evtimer_add(conn->idle_ev, &idle);
	if (t->active && !t->verified) {
		log_safe(safe, sizeof(safe), t->verify_error,
		    strlen(t->verify_error));
		log_info("remote relay=%s event=connected tls=%s cipher=%s "
		    "verify_error=\"%s\"", conn->relay, conn->tls, t->cipher,
		    safe);
	} else
		log_info("remote relay=%s event=connected tls=%s%s%s",
		    conn->relay, conn->tls, t->active ? " cipher=" : "",
		    t->active ? t->cipher : "");
}

static void
conn_connected(struct smtp_client *c, int status, void *arg)
{
	struct remote_conn *conn = arg;
	struct remote_dest *d = conn->d;
	const struct smtp_client_error *e = smtp_client_error(c);

	if (status == 0) {
		conn_ready(conn);
		dest_pump(d);
		return;
	}
	conn_note(conn, e);
	if (e->kind == SMTP_CLIENT_E_TLS && !conn->notls &&
	    conn->params.tls != SMTP_CLIENT_TLS_NONE) {
		log_info("remote host=%s event=tls-failed action=retry-"
		    "without-tls", conn->host);
		conn->notls = 1;
	} else {
		conn->target++;
		conn->notls = 0;
	}
	smtp_client_free(c);
	conn->c = NULL;
	if (conn_try(conn) == 0)
		return;
	conn_give_up(conn);
	dest_pump(d);
}

static void
conn_params(struct remote_conn *conn, const struct remote_target *t)
{
	const struct remote *r = conn->d->r;
	struct smtp_client_params *p = &conn->params;

	memset(p, 0, sizeof(*p));
	(void)snprintf(conn->host, sizeof(conn->host), "%s", t->host);
	p->helo = r->conf->hostname;
	p->server_name = t->literal ? NULL : conn->host;
	p->tls = r->tls == NULL || conn->notls ? SMTP_CLIENT_TLS_NONE :
	    SMTP_CLIENT_TLS_OPPORTUNISTIC;
	p->tls_ctx = r->tls;
	p->connect_timeout = REMOTE_CONNECT_TIMEOUT;
}

/* Connects to the current target or the next that accepts the attempt;
 * -1 when none is left. */
static int
conn_try(struct remote_conn *conn)
{
	const struct remote_route *rt = &conn->d->route;
	const struct remote_target *t;

	for (; conn->target < rt->ntargets; conn->target++, conn->notls = 0) {
		t = &rt->targets[conn->target];
		conn_params(conn, t);
		conn->c = smtp_client_new(conn->d->r->base, &conn->params);
		if (smtp_client_connect(conn->c, t->addrs, t->naddrs,
		    conn_connected, conn) == 0)
			return 0;
		(void)snprintf(conn->why, sizeof(conn->why), "%s: %s",
		    conn->host, strerror(errno));
		smtp_client_free(conn->c);
		conn->c = NULL;
	}
	return -1;
}

static void
conn_quit_done(struct smtp_client *c, int status, void *arg)
{
	struct remote_conn *conn = arg;
	struct remote_dest *d = conn->d;

	conn_close(conn);
	dest_pump(d);
}

/* QUIT; 0, or -1 if the session was gone (conn freed). */
static int
conn_quit(struct remote_conn *conn)
{
	evtimer_del(conn->idle_ev);
	conn->state = CONN_QUIT;
	if (smtp_client_quit(conn->c, conn_quit_done, conn) == 0)
		return 0;
	conn_close(conn);
	return -1;
}

static void
conn_idle(evutil_socket_t fd, short what, void *arg)
{
	struct remote_conn *conn = arg;
	struct remote_dest *d = conn->d;

	if (conn_quit(conn) == -1)
		dest_pump(d);
}

static void
conn_open(struct remote_dest *d)
{
	struct remote_conn *conn = xcalloc(1, sizeof(*conn));

	conn->d = d;
	conn->state = CONN_CONNECTING;
	if ((conn->idle_ev = evtimer_new(d->r->base, conn_idle, conn)) ==
	    NULL)
		fatalx("remote: cannot create a timer");
	TAILQ_INSERT_TAIL(&d->conns, conn, entry);
	d->nconns++;
	d->r->nconns++;
	if (conn_try(conn) == -1)
		conn_give_up(conn);
}

/* 1 if every result is made up here (no reply from the server came). */
static int
tx_all_local(const struct remote_tx *tx)
{
	size_t i;

	for (i = 0; i < tx->n; i++)
		if (tx->results[i].code != 0 && !tx->results[i].local)
			return 0;
	return 1;
}

static void
conn_sent(struct smtp_client *c, int status, void *arg)
{
	struct remote_conn *conn = arg;
	struct remote_dest *d = conn->d;
	struct remote_tx *tx = conn->tx;
	struct remote_where w = conn_where(conn);
	struct timeval idle = { REMOTE_IDLE, 0 };
	char safe[LOG_SAFE_BUFSZ];

	conn->tx = NULL;
	if (status == -1 && conn->ntx > 0 && !tx->retried &&
	    tx_all_local(tx)) {
		/* a reused connection the server had dropped: once more */
		tx->retried = 1;
		TAILQ_INSERT_HEAD(&d->wait, tx, qentry);
		d->nwait++;
		conn_close(conn);
		dest_pump(d);
		return;
	}
	conn->ntx++;
	remote_tx_done(tx, &w);
	if (status == -1) {
		log_safe(safe, sizeof(safe), smtp_client_error(c)->why,
		    strlen(smtp_client_error(c)->why));
		log_info("remote relay=%s event=session-failed reason=\"%s\"",
		    conn->relay, safe);
		conn_close(conn);
	} else if (conn->ntx >= REMOTE_CONN_TXS) {
		(void)conn_quit(conn);
	} else {
		conn->state = CONN_IDLE;
		evtimer_add(conn->idle_ev, &idle);
	}
	dest_pump(d);
}

/* The peer's EHLO cannot take tx: the reply, or NULL if it can. */
static const char *
conn_precheck(const struct remote_conn *conn, const struct remote_tx *tx,
    char *buf, size_t bufsz)
{
	const struct smtp_ehlo *e = smtp_client_ehlo(conn->c);

	if (tx->smtputf8 && !(e->ext & SMTP_EXT_SMTPUTF8)) {
		(void)snprintf(buf, bufsz, "553 5.6.7 The message needs "
		    "SMTPUTF8 and %s does not offer it", conn->relay);
		return buf;
	}
	if (tx->msg->eightbit && !(e->ext & SMTP_EXT_8BITMIME)) {
		(void)snprintf(buf, bufsz, "554 5.6.3 The message has 8-bit "
		    "content and %s does not offer 8BITMIME", conn->relay);
		return buf;
	}
	return NULL;
}

/*
 * Starts sending tx on an idle connection. 0 while conn lives (tx sent,
 * or failed by the precheck); -1 if the session was gone: tx is queued
 * again and conn freed.
 */
static int
conn_send(struct remote_conn *conn, struct remote_tx *tx)
{
	const struct qfile *qf = tx->msg->qf;
	const struct smtp_ehlo *e = smtp_client_ehlo(conn->c);
	struct remote_where w = conn_where(conn);
	struct smtp_client_msg m;
	char buf[QSTATE_REPLY_MAX];

	if (conn_precheck(conn, tx, buf, sizeof(buf)) != NULL) {
		remote_tx_fail(tx, &w, buf);
		return 0;
	}
	memset(&m, 0, sizeof(m));
	m.from = qf->env.sender;
	m.rcpts = tx->addrs;
	m.nrcpts = tx->n;
	m.fd = tx->msg->fd;
	m.offset = (off_t)qf->env.body_offset;
	m.size = qf->msglen;
	m.eightbit = tx->msg->eightbit || qf->env.body_8bit;
	m.smtputf8 = tx->smtputf8 || (qf->env.smtputf8 &&
	    (e->ext & SMTP_EXT_SMTPUTF8));
	evtimer_del(conn->idle_ev);
	if (smtp_client_send(conn->c, &m, tx->results, conn_sent, conn) ==
	    -1) {
		TAILQ_INSERT_HEAD(&conn->d->wait, tx, qentry);
		conn->d->nwait++;
		conn_close(conn);
		return -1;
	}
	conn->tx = tx;
	conn->state = CONN_BUSY;
	return 0;
}

/* ---- destinations ---- */

static void
dest_free(struct remote_dest *d)
{
	struct remote_conn *conn;

	dns_cancel(d->q);
	while ((conn = TAILQ_FIRST(&d->conns)) != NULL) {
		TAILQ_REMOVE(&d->conns, conn, entry);
		d->r->nconns--;
		smtp_client_free(conn->c);
		event_free(conn->idle_ev);
		free(conn);
	}
	TAILQ_REMOVE(&d->r->dests, d, entry);
	free(d);
}

static void
dest_set_route(struct remote_dest *d)
{
	char safe[LOG_SAFE_BUFSZ];

	d->have_route = 1;
	d->route_time = time(NULL);
	if (d->route.usable) {
		log_info("remote %s=%s event=routed hosts=%zu first=%s",
		    d->relay ? "relay" : "domain", dest_name(d),
		    d->route.ntargets, d->route.targets[0].host);
		return;
	}
	log_safe(safe, sizeof(safe), d->route.reply, strlen(d->route.reply));
	log_info("remote %s=%s event=no-route reply=\"%s\"",
	    d->relay ? "relay" : "domain", dest_name(d), safe);
}

static void
dest_route_cb(const struct dns_mx_result *res, void *arg)
{
	struct remote_dest *d = arg;
	const struct conf *conf = d->r->conf;

	d->q = NULL;
	if (d->relay)
		remote_route_relay(&d->route, res, d->r->relay_port);
	else
		remote_route_from_mx(&d->route, res, conf->remote_port,
		    conf->hostname);
	dest_set_route(d);
	dest_pump(d);
}

/* A route known without DNS: literals, a broken setup. 1 if set. */
static int
dest_route_now(struct remote_dest *d)
{
	struct remote *r = d->r;

	if (d->relay && r->relay_host[0] == '\0')
		remote_route_fail(&d->route, "451 4.4.3 [delivery] relay "
		    "is not a usable host:port");
	else if (!(d->relay ? remote_route_relay_literal(&d->route,
	    r->relay_host, r->relay_port) : remote_route_literal(&d->route,
	    d->key, r->conf->remote_port)) && r->dns == NULL)
		remote_route_fail(&d->route, "451 4.4.3 DNS resolver "
		    "unavailable: %s", r->dns_why);
	else if (!d->route.usable && d->route.reply[0] == '\0')
		return 0;
	dest_set_route(d);
	return 1;
}

/* Finds the route: at once, or d->q is the lookup running. */
static void
dest_resolve(struct remote_dest *d)
{
	struct remote *r = d->r;
	char why[DNS_WHY_MAX];

	memset(&d->route, 0, sizeof(d->route));
	if (dest_route_now(d))
		return;
	d->q = d->relay ? dns_lookup_host(r->dns, r->relay_host,
	    dest_route_cb, d, why, sizeof(why)) : dns_lookup_mx(r->dns,
	    d->key, dest_route_cb, d, why, sizeof(why));
	if (d->q != NULL)
		return;
	if (errno == EINVAL && !d->relay)
		remote_route_fail(&d->route, "550 5.1.2 Recipient domain %s "
		    "cannot be looked up: %s", d->key, why);
	else
		remote_route_fail(&d->route, "451 4.4.3 DNS lookup for %s "
		    "could not start: %s", dest_name(d), why);
	dest_set_route(d);
}

/* 1 if the route must be (re)resolved before new connections. */
static int
dest_stale(const struct remote_dest *d)
{
	return !d->have_route || time(NULL) - d->route_time >=
	    REMOTE_ROUTE_TTL;
}

/* Closes an idle connection anywhere to free a slot; 1 if one was. */
static int
dest_evict_idle(struct remote *r)
{
	struct remote_dest *d;
	struct remote_conn *conn;

	TAILQ_FOREACH(d, &r->dests, entry)
		TAILQ_FOREACH(conn, &d->conns, entry)
			if (conn->state == CONN_IDLE) {
				(void)conn_quit(conn);
				return 1;
			}
	return 0;
}

/* Idle connections take the waiting transactions. */
static void
dest_assign(struct remote_dest *d)
{
	struct remote_conn *conn, *next;
	struct remote_tx *tx;

	for (conn = TAILQ_FIRST(&d->conns); conn != NULL && d->nwait > 0;
	    conn = next) {
		next = TAILQ_NEXT(conn, entry);
		while (conn->state == CONN_IDLE &&
		    (tx = TAILQ_FIRST(&d->wait)) != NULL) {
			TAILQ_REMOVE(&d->wait, tx, qentry);
			d->nwait--;
			if (conn_send(conn, tx) == -1)
				break;
		}
	}
}

/* Opens connections for the transactions no connection will take. */
static void
dest_open(struct remote_dest *d)
{
	struct remote *r = d->r;
	struct remote_conn *conn;
	size_t coming = 0;

	TAILQ_FOREACH(conn, &d->conns, entry)
		if (conn->state == CONN_CONNECTING)
			coming++;
	while (d->nwait > coming && d->nconns < REMOTE_DEST_CONNS) {
		if (r->nconns >= REMOTE_CONNS) {
			/* pumped again when a connection ends (an idle one
			   of another destination is asked to QUIT now) */
			r->starved = 1;
			(void)dest_evict_idle(r);
			return;
		}
		conn_open(d);
		coming++;
	}
}

/*
 * Moves d's work along: route, failures, idle connections, new ones.
 * d may be freed (nothing left to do).
 */
static void
dest_pump(struct remote_dest *d)
{
	struct remote_tx *tx;

	if (d->nwait > 0 && d->q == NULL && d->nconns == 0 && dest_stale(d))
		dest_resolve(d);
	if (d->q != NULL)
		return;
	if (d->nwait > 0 && !d->route.usable)
		while ((tx = TAILQ_FIRST(&d->wait)) != NULL) {
			TAILQ_REMOVE(&d->wait, tx, qentry);
			d->nwait--;
			remote_tx_fail(tx, NULL, d->route.reply);
		}
	dest_assign(d);
	if (d->route.usable)
		dest_open(d);
	if (d->nwait == 0 && d->nconns == 0)
		dest_free(d);
}

void
remote_dest_queue(struct remote *r, const char *key, int relay,
    struct remote_tx *tx)
{
	struct remote_dest *d;

	TAILQ_FOREACH(d, &r->dests, entry)
		if (d->relay == relay && strcmp(d->key, key) == 0)
			break;
	if (d == NULL) {
		d = xcalloc(1, sizeof(*d));
		d->r = r;
		d->relay = relay;
		(void)snprintf(d->key, sizeof(d->key), "%s", key);
		TAILQ_INIT(&d->wait);
		TAILQ_INIT(&d->conns);
		TAILQ_INSERT_TAIL(&r->dests, d, entry);
	}
	TAILQ_INSERT_TAIL(&d->wait, tx, qentry);
	d->nwait++;
	dest_pump(d);
}

void
remote_dest_pump_all(struct remote *r)
{
	struct remote_dest *d, *next;

	r->starved = 0;
	for (d = TAILQ_FIRST(&r->dests); d != NULL; d = next) {
		next = TAILQ_NEXT(d, entry);
		dest_pump(d);
	}
}

void
remote_dest_free_all(struct remote *r)
{
	struct remote_dest *d;

	while ((d = TAILQ_FIRST(&r->dests)) != NULL)
		dest_free(d);
}
