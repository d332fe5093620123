/*
 * Remote delivery (see deliver/remote.h and docs/queue.md "Remote
 * delivery"): remote_deliver() takes one message and its due remote
 * addresses, splits them into SMTP transactions, one per recipient
 * domain (or one for the smarthost) of at most REMOTE_TX_RCPTS
 * recipients, and queues each on its destination (deliver/remote_dest.c),
 * which resolves the route, connects and sends. Each transaction's
 * per-recipient replies come back here and become the message's results;
 * when the last one is in, done() runs on the next loop turn.
 *
 * Also the pure helpers of the results: reply -> status, the relay and
 * TLS strings of the log, and the content checks for 8BITMIME (RFC 6152)
 * and SMTPUTF8 (RFC 6531).
 *
 * Owns struct remote (resolver, client TLS context, destinations,
 * messages) and each message with its transactions and queue file
 * descriptor. Runs in the delivery process, on its event loop.
 */
#include "deliver/remote_int.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "conf/conf.h"
#include "queue/qfile.h"
#include "util/xmalloc.h"

static void remote_pump_cb(evutil_socket_t fd, short what, void *arg);

/* The smarthost, if [delivery] relay is set; logged if unusable. */
static void
remote_relay_setup(struct remote *r, const struct conf *conf)
{
	if (conf->relay == NULL || conf->relay[0] == '\0')
		return;
	if (remote_relay_split(conf->relay, r->relay_host,
	    sizeof(r->relay_host), &r->relay_port) == -1) {
		/* conf validated it; treat a surprise as "no route" */
		log_warnx("remote relay=%s event=relay-unparsable",
		    conf->relay);
		r->relay_host[0] = '\0';
	}
	r->relay = 1;
}

struct remote *
remote_new(struct event_base *base, const struct conf *conf)
{
	struct remote *r = xcalloc(1, sizeof(*r));
	char why[256];

	r->base = base;
	r->conf = conf;
	TAILQ_INIT(&r->dests);
	TAILQ_INIT(&r->msgs);
	if ((r->pump_ev = event_new(base, -1, 0, remote_pump_cb, r)) == NULL)
		fatalx("remote: cannot create an event");
	if ((r->dns = dns_new(base, conf, r->dns_why,
	    sizeof(r->dns_why))) == NULL)
		log_warnx("remote event=resolver-failed reason=\"%s\" "
		    "action=defer-remote-mail", r->dns_why);
	if ((r->tls = smtp_client_tls_ctx_new(NULL, why, sizeof(why))) ==
	    NULL)
		log_warnx("remote event=tls-context-failed reason=\"%s\" "
		    "action=deliver-without-starttls", why);
	remote_relay_setup(r, conf);
	return r;
}

static void
remote_msg_free(struct remote_msg *m)
{
	struct remote_tx *tx;

	while ((tx = TAILQ_FIRST(&m->txs)) != NULL) {
		TAILQ_REMOVE(&m->txs, tx, mentry);
		free(tx->idx);
		free(tx->addrs);
		free(tx->results);
		free(tx);
	}
	if (m->fd != -1)
		(void)close(m->fd);
	if (m->done_ev != NULL)
		event_free(m->done_ev);
	free(m);
}

void
remote_free(struct remote *r)
{
	struct remote_msg *m;

	if (r == NULL)
		return;
	remote_dest_free_all(r);
	while ((m = TAILQ_FIRST(&r->msgs)) != NULL) {
		TAILQ_REMOVE(&r->msgs, m, entry);
		remote_msg_free(m);
	}
	event_free(r->pump_ev);
	dns_free(r->dns);
	smtp_client_tls_ctx_free(r->tls);
	free(r);
}

void
remote_stop(struct remote *r)
{
	struct remote_msg *m;
	struct remote_tx *tx;

	if (r->stopping)
		return;
	r->stopping = 1;
	remote_dest_free_all(r);
	TAILQ_FOREACH(m, &r->msgs, entry)
		while ((tx = TAILQ_FIRST(&m->txs)) != NULL)
			remote_tx_fail(tx, NULL, REMOTE_REPLY_STOPPING);
	log_info("remote event=stopped");
}

/* The destinations' connection slots freed up: serve those waiting. */
static void
remote_pump_cb(evutil_socket_t fd, short what, void *arg)
{
	remote_dest_pump_all(arg);
}

/* The last transaction ended (on a later loop turn): report. */
static void
remote_msg_done(evutil_socket_t fd, short what, void *arg)
{
	struct remote_msg *m = arg;
	remote_done_fn done = m->done;
	void *done_arg = m->arg;

	TAILQ_REMOVE(&m->r->msgs, m, entry);
	remote_msg_free(m);
	done(done_arg);
}

/* Removes tx from its message; the message is done when none is left. */
static void
remote_tx_end(struct remote_tx *tx)
{
	struct remote_msg *m = tx->msg;

	TAILQ_REMOVE(&m->txs, tx, mentry);
	free(tx->idx);
	free(tx->addrs);
	free(tx->results);
	free(tx);
	if (TAILQ_EMPTY(&m->txs))
		event_active(m->done_ev, 0, 0);
}

/* Records one recipient's result. */
static void
remote_set(struct remote_rcpt *rc, const struct remote_where *w,
    const char *reply)
{
	rc->status = remote_reply_status(reply);
	(void)snprintf(rc->reply, sizeof(rc->reply), "%s", reply);
	(void)snprintf(rc->relay, sizeof(rc->relay), "%s",
	    w != NULL && w->relay != NULL ? w->relay : "none");
	(void)snprintf(rc->mta, sizeof(rc->mta), "%s",
	    w != NULL && w->mta != NULL ? w->mta : "");
	(void)snprintf(rc->tls, sizeof(rc->tls), "%s",
	    w != NULL && w->tls != NULL ? w->tls : "");
}

void
remote_tx_done(struct remote_tx *tx, const struct remote_where *w)
{
	char reply[QSTATE_REPLY_MAX];
	size_t i;

	for (i = 0; i < tx->n; i++) {
		if (tx->results[i].code == 0)
			smtp_reply_local(&tx->results[i], 451, "4.3.0",
			    "no result for this recipient");
		(void)smtp_reply_format(&tx->results[i], reply,
		    sizeof(reply));
		remote_set(&tx->msg->rcpts[tx->idx[i]], w, reply);
	}
	remote_tx_end(tx);
}

void
remote_tx_fail(struct remote_tx *tx, const struct remote_where *w,
    const char *reply)
{
	size_t i;

	for (i = 0; i < tx->n; i++)
		remote_set(&tx->msg->rcpts[tx->idx[i]], w, reply);
	remote_tx_end(tx);
}

/* The destination key of address addr: its domain, lower-cased. */
static int
remote_key(const char *addr, char *key, size_t keysz)
{
	const char *at = strrchr(addr, '@');
	size_t i, len;

	if (at == NULL || at[1] == '\0' || (len = strlen(at + 1)) >= keysz)
		return -1;
	for (i = 0; i <= len; i++)
		key[i] = (char)((at[1 + i] >= 'A' && at[1 + i] <= 'Z') ?
		    at[1 + i] + ('a' - 'A') : at[1 + i]);
	return 0;
}

/* Adds recipient i of m to tx (made for key when NULL). */
static struct remote_tx *
remote_tx_add(struct remote_msg *m, struct remote_tx *tx, size_t i)
{
	if (tx == NULL) {
		tx = xcalloc(1, sizeof(*tx));
		tx->msg = m;
		tx->idx = xcalloc(REMOTE_TX_RCPTS, sizeof(*tx->idx));
		tx->addrs = xcalloc(REMOTE_TX_RCPTS, sizeof(*tx->addrs));
		tx->results = xcalloc(REMOTE_TX_RCPTS, sizeof(*tx->results));
		TAILQ_INSERT_TAIL(&m->txs, tx, mentry);
	}
	tx->idx[tx->n] = i;
	tx->addrs[tx->n] = m->rcpts[i].addr;
	tx->n++;
	return tx;
}

/*
 * Groups the recipients into transactions by key (keys[i]: domain, or ""
 * for the smarthost), at most REMOTE_TX_RCPTS each, in recipient order.
 */
static void
remote_group(struct remote_msg *m, char (*keys)[REMOTE_KEY_MAX],
    struct remote_tx **txof)
{
	struct remote_tx *tx;
	size_t i, k;

	for (i = 0; i < m->n; i++) {
		txof[i] = NULL;
		if (keys[i][0] == '\0' && !m->r->relay)
			continue;	/* unusable address, failed below */
		tx = NULL;
		for (k = i; k-- > 0;)
			if (txof[k] != NULL && strcmp(keys[k], keys[i]) == 0) {
				tx = txof[k];
				break;
			}
		if (tx != NULL && tx->n == REMOTE_TX_RCPTS)
			tx = NULL;
		txof[i] = remote_tx_add(m, tx, i);
	}
}

/*
 * Sets each transaction's SMTPUTF8 need, then queues it. A transaction
 * may end inside remote_dest_queue() (a route failure known already) and
 * be freed: the list is made first and each entry used once.
 */
static void
remote_dispatch(struct remote_msg *m, char (*keys)[REMOTE_KEY_MAX],
    struct remote_tx **txof)
{
	const struct qfile *qf = m->qf;
	struct remote_tx **list = xcalloc(m->n, sizeof(*list));
	size_t *key = xcalloc(m->n, sizeof(*key));
	size_t i, ntx = 0;

	for (i = 0; i < m->n; i++) {
		if (txof[i] == NULL || txof[i]->idx[0] != i)
			continue;	/* each transaction at its first */
		txof[i]->smtputf8 = remote_needs_smtputf8(&qf->env, qf->msg,
		    qf->msglen, txof[i]->addrs, txof[i]->n);
		key[ntx] = i;
		list[ntx++] = txof[i];
	}
	for (i = 0; i < ntx; i++)
		remote_dest_queue(m->r, keys[key[i]], m->r->relay, list[i]);
	free(list);
	free(key);
}

/* Opens the queue file for the client's pread(); -1 with errno. */
static int
remote_open_body(const struct remote *r, const struct qfile *qf)
{
	char path[PATH_MAX];

	if ((size_t)snprintf(path, sizeof(path), "%s/queue/%s",
	    r->conf->spool, qf->env.id) >= sizeof(path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return open(path, O_RDONLY | O_CLOEXEC);
}

static struct remote_msg *
remote_msg_new(struct remote *r, const struct qfile *qf,
    struct remote_rcpt *rcpts, size_t n, remote_done_fn done, void *arg)
{
	struct remote_msg *m = xcalloc(1, sizeof(*m));

	m->r = r;
	m->qf = qf;
	m->rcpts = rcpts;
	m->n = n;
	m->done = done;
	m->arg = arg;
	TAILQ_INIT(&m->txs);
	if ((m->done_ev = event_new(r->base, -1, 0, remote_msg_done,
	    m)) == NULL)
		fatalx("remote: cannot create an event");
	TAILQ_INSERT_TAIL(&r->msgs, m, entry);
	m->eightbit = remote_has_8bit(qf->msg, qf->msglen);
	m->fd = remote_open_body(r, qf);
	return m;
}

/* Every recipient gets reply, without a connection. */
static void
remote_fail_all(struct remote_msg *m, const char *reply)
{
	size_t i;

	for (i = 0; i < m->n; i++)
		remote_set(&m->rcpts[i], NULL, reply);
}

void
remote_deliver(struct remote *r, const struct qfile *qf,
    struct remote_rcpt *rcpts, size_t n, remote_done_fn done, void *arg)
{
	struct remote_msg *m = remote_msg_new(r, qf, rcpts, n, done, arg);
	char (*keys)[REMOTE_KEY_MAX] = xcalloc(n, sizeof(*keys));
	struct remote_tx **txof = xcalloc(n, sizeof(*txof));
	size_t i;

	if (r->stopping) {
		remote_fail_all(m, REMOTE_REPLY_STOPPING);
		goto out;
	}
	if (m->fd == -1) {
		log_warn("id=%s event=queue-file-unreadable", qf->env.id);
		remote_fail_all(m, "451 4.3.0 Cannot read the queued message");
		goto out;
	}
	for (i = 0; i < n; i++)
		if (!r->relay && remote_key(rcpts[i].addr, keys[i],
		    sizeof(keys[i])) == -1)
			remote_set(&rcpts[i], NULL, "550 5.1.3 Bad recipient "
			    "address syntax");
	remote_group(m, keys, txof);
	remote_dispatch(m, keys, txof);
out:
	if (TAILQ_EMPTY(&m->txs))
		event_active(m->done_ev, 0, 0);
	free(keys);
	free(txof);
}

/* ---- pure helpers ---- */

/* DONE for 2xx, FAILED for 5xx, DEFERRED otherwise (4xx, none). */
enum qstate_status
remote_reply_status(const char *reply)
{
	if (reply[0] == '2')
		return QSTATE_DONE;
	if (reply[0] == '5')
		return QSTATE_FAILED;
	return QSTATE_DEFERRED;
}

/* "mx.example.net[192.0.2.1]:25" from the host and "192.0.2.1:25" or
 * "[2001:db8::1]:25" (smtp_client_peer). */
void
remote_relay_str(char *buf, size_t bufsz, const char *host,
    const char *peer)
{
	const char *colon = strrchr(peer, ':');
	const char *ip = peer;
	size_t iplen;

	if (colon == NULL || host[0] == '[') {
		(void)snprintf(buf, bufsz, "%s%s%s", host, colon != NULL ?
		    ":" : "", colon != NULL ? colon + 1 : "");
		return;
	}
	iplen = (size_t)(colon - peer);
	if (peer[0] == '[' && iplen >= 2) {
		ip++;
		iplen -= 2;
	}
	(void)snprintf(buf, bufsz, "%s[%.*s]:%s", host, (int)iplen, ip,
	    colon + 1);
}

/* "TLSv1.3/verified", "TLSv1.2/unverified" or "none". */
void
remote_tls_str(char *buf, size_t bufsz, const struct smtp_client_tls_info *t)
{
	if (!t->active)
		(void)snprintf(buf, bufsz, "none");
	else
		(void)snprintf(buf, bufsz, "%s/%s", t->version,
		    t->verified ? "verified" : "unverified");
}

/* 1 if p[0..len) holds an octet > 127 (8BITMIME needed, RFC 6152). */
int
remote_has_8bit(const char *p, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if ((unsigned char)p[i] >= 0x80)
			return 1;
	return 0;
}

/*
 * 1 if this transaction needs SMTPUTF8 (RFC 6531 §3.2): a non-ASCII
 * sender or recipient, or a message received with SMTPUTF8 whose header
 * section holds UTF-8. A message merely flagged SMTPUTF8 whose addresses
 * and headers are ASCII goes to any server.
 */
int
remote_needs_smtputf8(const struct envelope *env, const char *msg,
    size_t msglen, const char *const *rcpts, size_t n)
{
	size_t i;

	if (remote_has_8bit(env->sender, strlen(env->sender)))
		return 1;
	for (i = 0; i < n; i++)
		if (remote_has_8bit(rcpts[i], strlen(rcpts[i])))
			return 1;
	return env->smtputf8 && remote_has_8bit(msg, qfile_header_len(msg,
	    msglen));
}
