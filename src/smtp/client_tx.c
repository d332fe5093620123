/*
 * One mail transaction of the SMTP client: MAIL FROM (with SIZE=,
 * BODY=8BITMIME and SMTPUTF8 as the peer allows), one RCPT per recipient,
 * DATA, the message streamed from its file through the dot-stuffing
 * encoder, and the final reply. With PIPELINING (RFC 2920) MAIL, the
 * RCPTs and DATA go out in one write and the replies are matched in
 * order; without it each waits for the previous reply. A transaction that
 * ended early leaves the session needing RSET, sent before the next one.
 * Each recipient gets its own result (code, enhanced code, text).
 *
 * Owns the per-transaction arrays and the body buffers of struct
 * smtp_client; borrows the caller's message and results array. Runs in
 * the delivery process and the command line.
 */
#include "smtp/client.h"
#include "smtp/client_int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>

#include "util/xmalloc.h"

#define DEFAULT_DATA_TIMEOUT 600

/* Gives every recipient without a final result the reply r. */
static void
tx_set_pending(struct smtp_client *c, const struct smtp_reply *r,
    int accepted_only)
{
	size_t i;

	for (i = 0; i < c->msg.nrcpts; i++) {
		if (c->final[i] || (accepted_only && !c->accepted[i]))
			continue;
		c->results[i] = *r;
		c->final[i] = 1;
	}
}

/* The transaction is over: free its state, report success. */
static void
tx_end(struct smtp_client *c, int need_rset)
{
	struct smtp_reply none;

	smtp_reply_local(&none, 451, "4.3.0", "no reply for this recipient");
	tx_set_pending(c, &none, 0);
	c->need_rset = need_rset;
	client_tx_free(c);
	client_ready(c);
}

void
client_tx_free(struct smtp_client *c)
{
	free(c->accepted);
	free(c->final);
	c->accepted = c->final = NULL;
	c->have_msg = 0;
}

/* The session failed during a transaction: local results for the rest. */
void
client_tx_abort(struct smtp_client *c)
{
	struct smtp_reply r;
	const struct smtp_client_error *e = &c->err;

	if (!c->have_msg)
		return;
	if (e->reply.code >= 400)
		r = e->reply;
	else
		smtp_reply_local(&r, e->kind == SMTP_CLIENT_E_INTERNAL ? 451 :
		    421, e->kind == SMTP_CLIENT_E_TIMEOUT ? "4.4.2" : "4.4.1",
		    "%s", e->why);
	tx_set_pending(c, &r, 0);
	client_tx_free(c);
}

static void
tx_mail(struct smtp_client *c)
{
	char params[128];
	const struct smtp_client_msg *m = &c->msg;
	int n = 0;

	params[0] = '\0';
	if ((c->ehlo.ext & SMTP_EXT_SIZE) && m->size > 0)
		n += snprintf(params + n, sizeof(params) - (size_t)n,
		    " SIZE=%" PRIu64, m->size);
	if (m->eightbit && (c->ehlo.ext & SMTP_EXT_8BITMIME))
		n += snprintf(params + n, sizeof(params) - (size_t)n,
		    " BODY=8BITMIME");
	if (m->smtputf8)
		(void)snprintf(params + n, sizeof(params) - (size_t)n,
		    " SMTPUTF8");
	client_send_line(c, NULL, "MAIL FROM:<%s>%s", m->from, params);
}

/* Sends command i of the transaction: 0 MAIL, then RCPTs, then DATA. */
static void
tx_send(struct smtp_client *c, size_t i)
{
	if (i == 0)
		tx_mail(c);
	else if (i <= c->msg.nrcpts)
		client_send_line(c, NULL, "RCPT TO:<%s>", c->msg.rcpts[i - 1]);
	else
		client_send_line(c, NULL, "DATA");
	c->nsent = i + 1;
}

static void
tx_begin(struct smtp_client *c)
{
	size_t i;

	c->state = STATE_TX;
	c->ncmds = c->msg.nrcpts + 2;
	c->nsent = c->nreplied = 0;
	c->naccepted = 0;
	c->mail_ok = 0;
	c->discard_dot = 0;
	c->need_rset = 1;	/* until the transaction completes */
	if (!(c->ehlo.ext & SMTP_EXT_PIPELINING)) {
		tx_send(c, 0);
		return;
	}
	for (i = 0; i < c->ncmds && c->state == STATE_TX; i++)
		tx_send(c, i);
}

/* A reason the message cannot go to this server at all, or 0. */
static int
tx_precheck(struct smtp_client *c, struct smtp_reply *r)
{
	const struct smtp_client_msg *m = &c->msg;

	if (m->smtputf8 && !(c->ehlo.ext & SMTP_EXT_SMTPUTF8)) {
		smtp_reply_local(r, 553, "5.6.7", "the message needs SMTPUTF8 "
		    "and %s does not offer it", c->peer);
		return 1;
	}
	if ((c->ehlo.ext & SMTP_EXT_SIZE) && c->ehlo.size > 0 &&
	    m->size > c->ehlo.size) {
		smtp_reply_local(r, 552, "5.3.4", "message size %" PRIu64
		    " exceeds the limit of %s (%" PRIu64 ")", m->size,
		    c->peer, c->ehlo.size);
		return 1;
	}
	return 0;
}

int
smtp_client_send(struct smtp_client *c, const struct smtp_client_msg *msg,
    struct smtp_reply *results, smtp_client_cb cb, void *arg)
{
	struct smtp_reply r;

	if (msg->nrcpts == 0 || c->op_pending || c->cb != NULL ||
	    c->state != STATE_READY) {
		errno = c->state == STATE_FAILED || c->state == STATE_CLOSED ?
		    ENOTCONN : EINVAL;
		return -1;
	}
	c->cb = cb;
	c->cbarg = arg;
	c->op_pending = 1;
	c->msg = *msg;
	c->have_msg = 1;
	c->results = results;
	memset(results, 0, msg->nrcpts * sizeof(*results));
	c->accepted = xcalloc(msg->nrcpts, 1);
	c->final = xcalloc(msg->nrcpts, 1);
	if (tx_precheck(c, &r)) {
		client_info(c, "not sent: %s", r.text);
		tx_set_pending(c, &r, 0);
		tx_end(c, c->need_rset);
		return 0;
	}
	if (c->need_rset) {
		c->state = STATE_RSET;
		client_send_line(c, NULL, "RSET");
		return 0;
	}
	tx_begin(c);
	return 0;
}

static void
tx_start_body(struct smtp_client *c)
{
	if (c->inbuf == NULL) {
		c->inbuf = xmalloc(CLIENT_BODY_CHUNK);
		c->outbuf = xmalloc(2 * CLIENT_BODY_CHUNK + 8);
	}
	smtp_dotstuff_init(&c->ds, 1);
	c->body_off = c->msg.offset;
	c->state = STATE_BODY;
	client_tx_pump(c);
}

/* Reads the file and fills the output up to CLIENT_OUT_HIGH. */
void
client_tx_pump(struct smtp_client *c)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);
	ssize_t n;
	size_t len;
	char end[16];

	while (c->state == STATE_BODY &&
	    evbuffer_get_length(out) < CLIENT_OUT_HIGH) {
		n = pread(c->msg.fd, c->inbuf, CLIENT_BODY_CHUNK, c->body_off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			client_fail(c, SMTP_CLIENT_E_INTERNAL, NULL, "cannot "
			    "read the message: %s", strerror(errno));
			return;
		}
		if (n == 0) {
			len = smtp_dotstuff_end(&c->ds, end);
			(void)evbuffer_add(out, end, len);
			client_info(c, "message: %" PRIu64 " octets sent as %"
			    PRIu64, c->ds.in, c->ds.out);
			c->state = STATE_DOT;
			client_arm(c, c->p->data_timeout ? c->p->data_timeout :
			    DEFAULT_DATA_TIMEOUT);
			return;
		}
		c->body_off += n;
		len = smtp_dotstuff_encode(&c->ds, c->inbuf, (size_t)n,
		    c->outbuf);
		if (evbuffer_add(out, c->outbuf, len) == -1) {
			client_fail(c, SMTP_CLIENT_E_INTERNAL, NULL, "cannot "
			    "queue output");
			return;
		}
	}
	client_arm(c, client_cmd_timeout(c));
}

/* The reply to MAIL (i == 0) or to RCPT i - 1. */
static void
tx_envelope_reply(struct smtp_client *c, size_t i,
    const struct smtp_reply *r)
{
	if (i == 0) {
		c->mail_ok = smtp_reply_ok(r);
		if (!c->mail_ok)
			tx_set_pending(c, r, 0);
	} else if (c->mail_ok) {
		c->results[i - 1] = *r;
		if (smtp_reply_ok(r)) {
			c->accepted[i - 1] = 1;
			c->naccepted++;
		} else
			c->final[i - 1] = 1;
	}
	if (c->ehlo.ext & SMTP_EXT_PIPELINING)
		return;		/* every command is out already */
	if (!c->mail_ok || (i == c->msg.nrcpts && c->naccepted == 0)) {
		tx_end(c, 1);
		return;
	}
	tx_send(c, i + 1);
}

static void
tx_data_reply(struct smtp_client *c, const struct smtp_reply *r)
{
	if (r->code == 354 && c->mail_ok && c->naccepted > 0) {
		tx_start_body(c);
		return;
	}
	if (r->code == 354) {
		/* RFC 2920 §3.1: nobody to send to; end the empty DATA */
		c->discard_dot = 1;
		c->state = STATE_DOT;
		client_send_line(c, NULL, ".");
		return;
	}
	if (c->mail_ok)
		tx_set_pending(c, r, 1);
	tx_end(c, 1);
}

static void
tx_reply(struct smtp_client *c, const struct smtp_reply *r)
{
	size_t i = c->nreplied++;

	if (i >= c->nsent) {
		client_fail(c, SMTP_CLIENT_E_PROTOCOL, r, "%s: reply without "
		    "a command", c->peer);
		return;
	}
	if (i + 1 < c->ncmds)
		tx_envelope_reply(c, i, r);
	else
		tx_data_reply(c, r);
}

void
client_tx_reply(struct smtp_client *c, const struct smtp_reply *r)
{
	switch (c->state) {
	case STATE_RSET:
		if (!smtp_reply_ok(r)) {
			client_fail(c, SMTP_CLIENT_E_REFUSED, r, "%s: RSET "
			    "refused", c->peer);
			return;
		}
		c->need_rset = 0;
		tx_begin(c);
		break;
	case STATE_TX:
		tx_reply(c, r);
		break;
	case STATE_BODY:
		/* a reply before the end of data: believe it, then drop */
		tx_set_pending(c, r, 1);
		client_fail(c, SMTP_CLIENT_E_PROTOCOL, r, "%s: reply before "
		    "the end of the message", c->peer);
		break;
	case STATE_DOT:
		if (!c->discard_dot)
			tx_set_pending(c, r, 1);
		tx_end(c, c->discard_dot);
		break;
	default:
		break;
	}
}
