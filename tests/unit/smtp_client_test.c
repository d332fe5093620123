/*
 * Unit tests for the SMTP client (src/smtp/client*.c): the reply parser
 * and EHLO keywords (tables), the dot-stuffing encoder (table, chunk
 * boundaries, output bound), and whole sessions against a scripted server
 * on the other end of a socketpair, run on one event loop: pipelining,
 * per-recipient results, RSET before reusing the connection, HELO
 * fallback, SIZE and SMTPUTF8 prechecks, a connection lost mid-way. No
 * network, no clock: every session ends by script, never by a time-out.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sys/socket.h>
#include <sys/un.h>

#include <cmocka.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "smtp/client.h"

#include <event2/util.h>

/* ---- the reply parser ---- */

struct reply_case {
	const char	*name;
	const char	*lines[6];
	int		 code;		/* 0: an error is expected */
	const char	*enh;
	const char	*text;
};

static const struct reply_case reply_cases[] = {
	{ "one line", { "250 OK" }, 250, "", "OK" },
	{ "enhanced code", { "550 5.1.1 No such user" }, 550, "5.1.1",
	    "No such user" },
	{ "code alone", { "250" }, 250, "", "" },
	{ "code and space", { "250 " }, 250, "", "" },
	{ "multi-line", { "250-mx.test hello", "250-PIPELINING",
	    "250 SIZE 100" }, 250, "", "mx.test hello\nPIPELINING\nSIZE 100" },
	{ "enhanced on every line", { "451-4.3.0 first", "451 4.3.0 second" },
	    451, "4.3.0", "first\nsecond" },
	{ "enhanced class must match", { "550 4.1.1 odd" }, 550, "",
	    "4.1.1 odd" },
	{ "three-digit parts", { "554 5.123.456 x" }, 554, "5.123.456",
	    "x" },
	{ "four digits is not a code", { "554 5.1234.1 x" }, 554, "",
	    "5.1234.1 x" },
	{ "enhanced code needs a space", { "250 2.0.0ok" }, 250, "",
	    "2.0.0ok" },
	{ "enhanced code alone", { "250 2.0.0" }, 250, "2.0.0", "" },
	{ "control characters", { "250 a\x01" "b\x1b[2Jc" }, 250, "",
	    "a?b?[2Jc" },
	{ "334 challenge", { "334 VXNlcm5hbWU6" }, 334, "", "VXNlcm5hbWU6" },
	{ "codes differ", { "250-a", "251 b" }, 0, NULL, NULL },
	{ "no code", { "hello" }, 0, NULL, NULL },
	{ "1xx is not SMTP", { "150 x" }, 0, NULL, NULL },
	{ "6xx is not SMTP", { "650 x" }, 0, NULL, NULL },
	{ "short", { "25" }, 0, NULL, NULL },
	{ "bad separator", { "250x" }, 0, NULL, NULL },
};

static void
test_reply_table(void **state)
{
	struct smtp_reply_parser p;
	enum smtp_reply_state st = SMTP_REPLY_MORE;
	char why[128];
	size_t i, j;

	for (i = 0; i < sizeof(reply_cases) / sizeof(reply_cases[0]); i++) {
		const struct reply_case *c = &reply_cases[i];

		print_message("case: %s\n", c->name);
		smtp_reply_parser_init(&p);
		for (j = 0; c->lines[j] != NULL; j++) {
			st = smtp_reply_parse_line(&p, c->lines[j],
			    strlen(c->lines[j]), why, sizeof(why));
			if (st == SMTP_REPLY_ERROR)
				break;
			assert_int_equal(st, c->lines[j + 1] != NULL ?
			    SMTP_REPLY_MORE : SMTP_REPLY_DONE);
		}
		if (c->code == 0) {
			assert_int_equal(st, SMTP_REPLY_ERROR);
			assert_true(strncmp(why, "malformed reply: ", 17) == 0);
			continue;
		}
		assert_int_equal(st, SMTP_REPLY_DONE);
		assert_int_equal(p.reply.code, c->code);
		assert_string_equal(p.reply.enh, c->enh);
		assert_string_equal(p.reply.text, c->text);
		assert_int_equal(p.reply.nlines, (int)j);
	}
}

static void
test_reply_limits(void **state)
{
	struct smtp_reply_parser p;
	char line[SMTP_CLIENT_LINE_MAX + 2], why[128];
	int i;

	/* a line of exactly the limit is fine, one more is not */
	memset(line, 'x', sizeof(line));
	memcpy(line, "250 ", 4);
	smtp_reply_parser_init(&p);
	assert_int_equal(smtp_reply_parse_line(&p, line, SMTP_CLIENT_LINE_MAX,
	    why, sizeof(why)), SMTP_REPLY_DONE);
	assert_int_equal(p.reply.truncated, 1);
	assert_int_equal(strlen(p.reply.text), SMTP_REPLY_TEXT_MAX - 1);
	smtp_reply_parser_init(&p);
	assert_int_equal(smtp_reply_parse_line(&p, line,
	    SMTP_CLIENT_LINE_MAX + 1, why, sizeof(why)), SMTP_REPLY_ERROR);
	assert_string_equal(why, "malformed reply: line too long");
	/* at most SMTP_CLIENT_REPLY_LINES lines */
	smtp_reply_parser_init(&p);
	for (i = 0; i < SMTP_CLIENT_REPLY_LINES; i++)
		assert_int_equal(smtp_reply_parse_line(&p, "250-x", 5, why,
		    sizeof(why)), SMTP_REPLY_MORE);
	assert_int_equal(smtp_reply_parse_line(&p, "250 x", 5, why,
	    sizeof(why)), SMTP_REPLY_ERROR);
	assert_string_equal(why, "malformed reply: too many lines");
}

static void
test_reply_format_and_local(void **state)
{
	struct smtp_reply r;
	struct smtp_reply_parser p;
	char buf[64], why[64];

	smtp_reply_local(&r, 553, "5.6.7", "needs %s", "SMTPUTF8");
	assert_int_equal(r.local, 1);
	assert_int_equal(smtp_reply_format(&r, buf, sizeof(buf)), 24);
	assert_string_equal(buf, "553 5.6.7 needs SMTPUTF8");
	assert_false(smtp_reply_ok(&r));
	smtp_reply_parser_init(&p);
	(void)smtp_reply_parse_line(&p, "250-one", 7, why, sizeof(why));
	(void)smtp_reply_parse_line(&p, "250 two", 7, why, sizeof(why));
	assert_int_equal(smtp_reply_format(&p.reply, buf, sizeof(buf)), 11);
	assert_string_equal(buf, "250 one two");
	assert_true(smtp_reply_ok(&p.reply));
	assert_int_equal(smtp_reply_format(&p.reply, buf, 8), -1);
	assert_string_equal(buf, "250 one");
}

static void
test_ehlo(void **state)
{
	static const char *lines[] = { "250-mx.test greets you",
	    "250-PIPELINING", "250-size 35882577", "250-8BITMIME",
	    "250-AUTH PLAIN  login scram-sha-256", "250-AUTH=OLDSTYLE",
	    "250-STARTTLS", "250-ENHANCEDSTATUSCODES", "250-SMTPUTF8",
	    "250-XFOO bar", "250 CHUNKING" };
	struct smtp_reply_parser p;
	struct smtp_ehlo e;
	char why[64];
	size_t i;

	smtp_reply_parser_init(&p);
	for (i = 0; i < sizeof(lines) / sizeof(lines[0]); i++)
		(void)smtp_reply_parse_line(&p, lines[i], strlen(lines[i]), why,
		    sizeof(why));
	smtp_ehlo_parse(&p.reply, &e);
	assert_int_equal(e.ext, SMTP_EXT_PIPELINING | SMTP_EXT_SIZE |
	    SMTP_EXT_8BITMIME | SMTP_EXT_AUTH | SMTP_EXT_STARTTLS |
	    SMTP_EXT_ENHANCEDSTATUSCODES | SMTP_EXT_SMTPUTF8 |
	    SMTP_EXT_CHUNKING);
	assert_true(e.size == 35882577);
	assert_string_equal(e.auth, " PLAIN LOGIN SCRAM-SHA-256 ");
	assert_true(smtp_ehlo_has_mech(&e, "plain"));
	assert_true(smtp_ehlo_has_mech(&e, "SCRAM-SHA-256"));
	assert_false(smtp_ehlo_has_mech(&e, "SCRAM-SHA-1"));
	assert_false(smtp_ehlo_has_mech(&e, "OLDSTYLE"));
	assert_false(smtp_ehlo_has_mech(&e, ""));
	/* the greeting line is not a keyword; SIZE without a number */
	smtp_reply_parser_init(&p);
	(void)smtp_reply_parse_line(&p, "250-STARTTLS", 12, why, sizeof(why));
	(void)smtp_reply_parse_line(&p, "250 SIZE", 8, why, sizeof(why));
	smtp_ehlo_parse(&p.reply, &e);
	assert_int_equal(e.ext, SMTP_EXT_SIZE);
	assert_true(e.size == 0);
}

/* ---- the body encoder ---- */

static const struct {
	const char	*in;
	int		 stuff;
	const char	*out;
} stuff_cases[] = {
	{ "", 1, ".\r\n" },
	{ "", 0, "" },
	{ "a", 1, "a\r\n.\r\n" },
	{ "a\r\n", 1, "a\r\n.\r\n" },
	{ "a\n", 1, "a\r\n.\r\n" },
	{ "a\r", 1, "a\r\n.\r\n" },
	{ ".", 1, "..\r\n.\r\n" },
	{ ".\n.\r\n.\r", 1, "..\r\n..\r\n..\r\n.\r\n" },
	{ "a.b\n.c", 1, "a.b\r\n..c\r\n.\r\n" },
	{ "\r\r\n\n", 1, "\r\n\r\n\r\n.\r\n" },
	{ "x\r.y", 1, "x\r\n..y\r\n.\r\n" },
	{ ".\n", 0, ".\r\n" },
	{ "a\rb\nc\r\nd", 0, "a\r\nb\r\nc\r\nd\r\n" },
};

static void
encode_all(const char *in, size_t len, size_t chunk, int stuff, char *out,
    size_t *outlen, struct smtp_dotstuff *d)
{
	size_t i, n, o = 0;

	smtp_dotstuff_init(d, stuff);
	for (i = 0; i < len; i += n) {
		n = len - i < chunk ? len - i : chunk;
		o += smtp_dotstuff_encode(d, in + i, n, out + o);
	}
	o += smtp_dotstuff_end(d, out + o);
	*outlen = o;
}

static void
test_dotstuff_table(void **state)
{
	struct smtp_dotstuff d;
	char out[256];
	size_t i, len, chunk, in_len;

	for (i = 0; i < sizeof(stuff_cases) / sizeof(stuff_cases[0]); i++) {
		in_len = strlen(stuff_cases[i].in);
		/* the same output whatever the chunking */
		for (chunk = 1; chunk <= in_len + 1; chunk++) {
			encode_all(stuff_cases[i].in, in_len, chunk,
			    stuff_cases[i].stuff, out, &len, &d);
			out[len] = '\0';
			assert_string_equal(out, stuff_cases[i].out);
			assert_true(d.out == len);
			assert_true(d.in == in_len);
		}
	}
}

/* Worst cases stay within 2 * len + 2 per call. */
static void
test_dotstuff_bound(void **state)
{
	static const char *inputs[] = { "\n\n\n\n", "\r\r\r\r", ".\n.\n",
	    "\r.\r.", "\r\n.\r\n." };
	struct smtp_dotstuff d;
	char out[64];
	size_t i, n;

	for (i = 0; i < sizeof(inputs) / sizeof(inputs[0]); i++) {
		smtp_dotstuff_init(&d, 1);
		n = smtp_dotstuff_encode(&d, "\r", 1, out);
		n = smtp_dotstuff_encode(&d, inputs[i], strlen(inputs[i]),
		    out);
		assert_true(n <= 2 * strlen(inputs[i]) + 2);
		assert_true(smtp_dotstuff_end(&d, out) <= 8);
	}
	smtp_dotstuff_init(&d, 1);
	(void)smtp_dotstuff_encode(&d, "caf\xc3\xa9", 5, out);
	assert_int_equal(d.eightbit, 1);
}

/* ---- whole sessions against a scripted server ---- */

/*
 * The server's script: for each line the client sends (in order), the
 * exact line expected and the reply to write (NULL: none yet, "" with
 * close set: close the connection). "<body>" stands for a whole message
 * after 354, terminator included.
 */
struct step {
	const char	*expect;
	const char	*reply;
	int		 close;
};

struct server {
	struct bufferevent	*bev;
	const struct step	*steps;
	size_t			 nsteps, next;
	int			 in_body;
	char			 body[4096];
	size_t			 bodylen;
	unsigned		 replies;	/* replies written so far */
	unsigned		 seen_at[32];	/* replies written when step
						   i's line arrived */
	int			 failed;
};

struct run {
	struct event_base	*base;
	struct smtp_client	*c;
	struct server		 srv;
	struct smtp_reply	 results[4];
	struct smtp_client_msg	 msg;
	int			 status[4];
	int			 nstatus;
	const char		*rcpts[4];
	int			 sends_left;
	struct smtp_client_msg	 msg2;
};

static void
srv_write(struct server *s, const char *reply)
{
	(void)bufferevent_write(s->bev, reply, strlen(reply));
	(void)bufferevent_write(s->bev, "\r\n", 2);
	s->replies++;
}

/* One line (or one whole body) from the client. */
static void
srv_step(struct server *s, const char *line)
{
	const struct step *st;

	if (s->next >= s->nsteps) {
		print_error("unexpected line from the client: %s\n", line);
		s->failed = 1;
		return;
	}
	st = &s->steps[s->next];
	s->seen_at[s->next++] = s->replies;
	if (strcmp(st->expect, line) != 0) {
		print_error("step %zu: expected '%s', got '%s'\n", s->next - 1,
		    st->expect, line);
		s->failed = 1;
	}
	if (st->close) {
		bufferevent_free(s->bev);
		s->bev = NULL;
		return;
	}
	if (st->reply != NULL)
		srv_write(s, st->reply);
	if (st->reply != NULL && (strncmp(st->reply, "354", 3) == 0 ||
	    strstr(st->reply, "\n354 ") != NULL))
		s->in_body = 1;
}

static void
srv_body(struct server *s, struct evbuffer *in)
{
	char *line;
	size_t len;

	while (s->bev != NULL && s->in_body && (line = evbuffer_readln(in,
	    &len, EVBUFFER_EOL_CRLF_STRICT)) != NULL) {
		if (s->bodylen + len + 2 < sizeof(s->body)) {
			memcpy(s->body + s->bodylen, line, len);
			memcpy(s->body + s->bodylen + len, "\r\n", 2);
			s->bodylen += len + 2;
		}
		if (len == 1 && line[0] == '.') {
			s->in_body = 0;
			srv_step(s, "<body>");
		}
		free(line);
	}
}

static void
srv_read(struct bufferevent *bev, void *arg)
{
	struct server *s = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	char *line;
	size_t len;

	for (;;) {
		if (s->in_body)
			srv_body(s, in);
		if (s->bev == NULL || s->in_body || (line = evbuffer_readln(in,
		    &len, EVBUFFER_EOL_CRLF_STRICT)) == NULL)
			return;
		srv_step(s, line);
		free(line);
		if (s->bev == NULL)
			return;
	}
}

static void
srv_event(struct bufferevent *bev, short what, void *arg)
{
	struct server *s = arg;

	bufferevent_free(s->bev);
	s->bev = NULL;
}

static void on_done(struct smtp_client *c, int status, void *arg);

static void
on_sent(struct smtp_client *c, int status, void *arg)
{
	struct run *r = arg;

	r->status[r->nstatus++] = status;
	if (status == 0 && r->sends_left-- > 0 &&
	    smtp_client_send(c, &r->msg2, r->results + r->msg.nrcpts, on_sent,
	    r) == 0)
		return;
	if (status != 0 || smtp_client_quit(c, on_done, r) == -1)
		event_base_loopbreak(r->base);
}

static void
on_ready(struct smtp_client *c, int status, void *arg)
{
	struct run *r = arg;

	r->status[r->nstatus++] = status;
	if (status != 0 || smtp_client_send(c, &r->msg, r->results, on_sent,
	    r) == -1)
		event_base_loopbreak(r->base);
}

static void
on_done(struct smtp_client *c, int status, void *arg)
{
	struct run *r = arg;

	r->status[r->nstatus++] = status;
	event_base_loopbreak(r->base);
}

static int
body_fd(const char *text)
{
	FILE *fp = tmpfile();
	int fd;

	assert_non_null(fp);
	assert_int_equal(fwrite(text, 1, strlen(text), fp), strlen(text));
	assert_int_equal(fflush(fp), 0);
	fd = dup(fileno(fp));
	fclose(fp);
	return fd;
}

/*
 * Runs a session: greeting, then the steps; the client sends msg (and
 * msg2 when given) and quits. Returns the run for inspection.
 */
static void
session(struct run *r, const struct smtp_client_params *p,
    const char *greeting, const struct step *steps, size_t nsteps)
{
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	r->base = event_base_new();
	r->srv.steps = steps;
	r->srv.nsteps = nsteps;
	r->srv.bev = bufferevent_socket_new(r->base, sv[1],
	    BEV_OPT_CLOSE_ON_FREE);
	bufferevent_setcb(r->srv.bev, srv_read, NULL, srv_event, &r->srv);
	(void)bufferevent_enable(r->srv.bev, EV_READ | EV_WRITE);
	srv_write(&r->srv, greeting);
	r->c = smtp_client_new(r->base, p);
	assert_int_equal(smtp_client_attach(r->c, sv[0], "test-peer",
	    on_ready, r), 0);
	(void)event_base_dispatch(r->base);
	assert_false(r->srv.failed);
}

static void
run_free(struct run *r)
{
	smtp_client_free(r->c);
	if (r->srv.bev != NULL)
		bufferevent_free(r->srv.bev);
	if (r->msg.fd > 0)
		close(r->msg.fd);
	if (r->msg2.fd > 0)
		close(r->msg2.fd);
	event_base_free(r->base);
	free(r);
}

static const struct smtp_client_params plain_params = { .helo =
    "client.test" };

static struct run *
run_new(const char *body, size_t nrcpts)
{
	static const char *rcpts[] = { "a@dest.test", "b@dest.test",
	    "c@dest.test" };
	struct run *r = calloc(1, sizeof(*r));

	assert_non_null(r);
	r->msg.from = "s@client.test";
	r->msg.rcpts = rcpts;
	r->msg.nrcpts = nrcpts;
	r->msg.fd = body_fd(body);
	r->msg.size = strlen(body);
	return r;
}

#define EHLO_PIPE "250-server.test\r\n250-PIPELINING\r\n250 SIZE 1000"
#define NSTEPS(a) (sizeof(a) / sizeof((a)[0]))

static void
test_session_pipelined(void **state)
{
	static const struct step steps[] = {
		{ "EHLO client.test", EHLO_PIPE, 0 },
		{ "MAIL FROM:<s@client.test> SIZE=15", NULL, 0 },
		{ "RCPT TO:<a@dest.test>", NULL, 0 },
		{ "RCPT TO:<b@dest.test>", NULL, 0 },
		{ "DATA", "250 2.1.0 ok\r\n250 2.1.5 ok\r\n"
		    "550-5.1.1 no such\r\n550 5.1.1 user\r\n354 go", 0 },
		{ "<body>", "250 2.0.0 queued as X", 0 },
		{ "QUIT", "221 2.0.0 bye", 0 },
	};
	struct run *r = run_new("Subject: x\n\n.a\n", 2);

	session(r, &plain_params, "220 server.test ESMTP", steps,
	    NSTEPS(steps));
	/* MAIL, RCPT, RCPT, DATA all came before any reply to them */
	assert_int_equal(r->srv.seen_at[1], 2);
	assert_int_equal(r->srv.seen_at[4], 2);
	assert_int_equal(r->nstatus, 3);
	assert_int_equal(r->status[0] | r->status[1] | r->status[2], 0);
	assert_int_equal(r->results[0].code, 250);
	assert_string_equal(r->results[0].text, "queued as X");
	assert_int_equal(r->results[1].code, 550);
	assert_string_equal(r->results[1].enh, "5.1.1");
	assert_string_equal(r->results[1].text, "no such\nuser");
	assert_int_equal(r->results[1].local, 0);
	r->srv.body[r->srv.bodylen] = '\0';
	assert_string_equal(r->srv.body, "Subject: x\r\n\r\n..a\r\n.\r\n");
	run_free(r);
}

/*
 * Without PIPELINING each command waits for its reply; when no recipient
 * is accepted DATA is not sent, and the next message starts with RSET.
 */
static void
test_session_rset_reuse(void **state)
{
	static const char *rcpts2[] = { "c@dest.test" };
	static const struct step steps[] = {
		{ "EHLO client.test", "250-server.test\r\n250 8BITMIME", 0 },
		{ "MAIL FROM:<s@client.test>", "250 ok", 0 },
		{ "RCPT TO:<a@dest.test>", "550 5.1.1 no", 0 },
		{ "RSET", "250 2.0.0 ok", 0 },
		{ "MAIL FROM:<s@client.test>", "250 ok", 0 },
		{ "RCPT TO:<c@dest.test>", "250 ok", 0 },
		{ "DATA", "354 go", 0 },
		{ "<body>", "451 4.3.0 try later", 0 },
		{ "QUIT", "221 bye", 0 },
	};
	struct run *r = run_new("one\n", 1);

	r->msg2 = r->msg;
	r->msg2.rcpts = rcpts2;
	r->msg2.fd = body_fd("two\n");
	r->sends_left = 1;
	session(r, &plain_params, "220 server.test", steps, NSTEPS(steps));
	assert_int_equal(r->srv.seen_at[1], 2);
	assert_int_equal(r->srv.seen_at[2], 3);
	assert_int_equal(r->nstatus, 4);
	assert_int_equal(r->status[1], 0);
	assert_int_equal(r->status[2], 0);
	assert_int_equal(r->results[0].code, 550);
	assert_int_equal(r->results[1].code, 451);
	assert_string_equal(r->results[1].enh, "4.3.0");
	r->srv.body[r->srv.bodylen] = '\0';
	assert_string_equal(r->srv.body, "two\r\n.\r\n");
	run_free(r);
}

/* MAIL refused under pipelining: every recipient gets MAIL's reply. */
static void
test_session_mail_refused(void **state)
{
	static const struct step steps[] = {
		{ "EHLO client.test", EHLO_PIPE, 0 },
		{ "MAIL FROM:<s@client.test> SIZE=2", NULL, 0 },
		{ "RCPT TO:<a@dest.test>", NULL, 0 },
		{ "RCPT TO:<b@dest.test>", NULL, 0 },
		{ "DATA", "553 5.7.1 sender refused\r\n503 5.5.1 no MAIL\r\n"
		    "503 5.5.1 no MAIL\r\n503 5.5.1 no valid recipients", 0 },
		{ "QUIT", "221 bye", 0 },
	};
	struct run *r = run_new("x\n", 2);

	session(r, &plain_params, "220 server.test", steps, NSTEPS(steps));
	assert_int_equal(r->results[0].code, 553);
	assert_int_equal(r->results[1].code, 553);
	assert_string_equal(r->results[1].text, "sender refused");
	run_free(r);
}

static void
test_session_helo_fallback_and_lost(void **state)
{
	static const struct step steps[] = {
		{ "EHLO client.test", "500 5.5.1 what?", 0 },
		{ "HELO client.test", "250 old.test", 0 },
		{ "MAIL FROM:<s@client.test>", "250 ok", 0 },
		{ "RCPT TO:<a@dest.test>", "250 ok", 0 },
		{ "DATA", NULL, 1 },	/* the server goes away */
	};
	struct run *r = run_new("x\n", 1);
	const struct smtp_client_error *e;

	session(r, &plain_params, "220 old.test", steps, NSTEPS(steps));
	assert_int_equal(r->nstatus, 2);
	assert_int_equal(r->status[1], -1);
	e = smtp_client_error(r->c);
	assert_int_equal(e->kind, SMTP_CLIENT_E_LOST);
	assert_string_equal(e->why, "test-peer: connection closed by the "
	    "server");
	assert_true(smtp_client_error_temporary(e));
	assert_int_equal(r->results[0].code, 421);
	assert_string_equal(r->results[0].enh, "4.4.1");
	assert_int_equal(r->results[0].local, 1);
	assert_int_equal(smtp_client_ehlo(r->c)->ext, 0);
	run_free(r);
}

static void
test_session_prechecks(void **state)
{
	static const char *utf8[] = { "j\xc3\xb6rg@dest.test" };
	static const struct step steps[] = {
		{ "EHLO client.test", "250-server.test\r\n250 SIZE 10", 0 },
		{ "QUIT", "221 bye", 0 },
	};
	struct run *r = run_new("more than ten octets\n", 1);

	session(r, &plain_params, "220 server.test", steps, NSTEPS(steps));
	assert_int_equal(r->status[1], 0);
	assert_int_equal(r->results[0].code, 552);
	assert_string_equal(r->results[0].enh, "5.3.4");
	assert_int_equal(r->results[0].local, 1);
	run_free(r);

	r = run_new("x\n", 1);
	r->msg.rcpts = utf8;
	r->msg.smtputf8 = 1;
	session(r, &plain_params, "220 server.test", steps, NSTEPS(steps));
	assert_int_equal(r->results[0].code, 553);
	assert_string_equal(r->results[0].enh, "5.6.7");
	run_free(r);
}

/* A refused greeting ends the session; operations then say ENOTCONN. */
static void
test_session_refused_greeting(void **state)
{
	static const struct step steps[] = {
		{ "QUIT", NULL, 0 },
	};
	struct run *r = run_new("x\n", 1);
	const struct smtp_client_error *e;

	session(r, &plain_params, "554 5.3.2 go away", steps, NSTEPS(steps));
	assert_int_equal(r->nstatus, 1);
	assert_int_equal(r->status[0], -1);
	e = smtp_client_error(r->c);
	assert_int_equal(e->kind, SMTP_CLIENT_E_REFUSED);
	assert_int_equal(e->reply.code, 554);
	assert_false(smtp_client_error_temporary(e));
	assert_int_equal(smtp_client_send(r->c, &r->msg, r->results, on_sent,
	    r), -1);
	assert_int_equal(smtp_client_greeting(r->c)->code, 554);
	run_free(r);
}

struct listen_ctx {
	struct run	*r;
	const char	*greeting;
};

static void
srv_accept(evutil_socket_t fd, short what, void *arg)
{
	struct listen_ctx *l = arg;
	struct run *r = l->r;
	int s = accept(fd, NULL, NULL);

	assert_true(s >= 0);
	r->srv.bev = bufferevent_socket_new(r->base, s, BEV_OPT_CLOSE_ON_FREE);
	bufferevent_setcb(r->srv.bev, srv_read, NULL, srv_event, &r->srv);
	(void)bufferevent_enable(r->srv.bev, EV_READ | EV_WRITE);
	srv_write(&r->srv, l->greeting);
}

static void
unix_addr(struct sockaddr_storage *ss, const char *dir, const char *name)
{
	struct sockaddr_un *sun = (struct sockaddr_un *)ss;

	memset(ss, 0, sizeof(*ss));
	sun->sun_family = AF_UNIX;
	(void)snprintf(sun->sun_path, sizeof(sun->sun_path), "%s/%s", dir,
	    name);
}

/*
 * The address list: the first address refuses (no such socket), the
 * second answers; the session then runs on the second.
 */
static void
test_session_connect_list(void **state)
{
	static const struct step steps[] = {
		{ "EHLO client.test", "250 server.test", 0 },
		{ "MAIL FROM:<s@client.test>", "250 ok", 0 },
		{ "RCPT TO:<a@dest.test>", "250 ok", 0 },
		{ "DATA", "354 go", 0 },
		{ "<body>", "250 2.0.0 queued", 0 },
		{ "QUIT", "221 bye", 0 },
	};
	char dir[] = "/tmp/smtp_client_test.XXXXXX";
	struct sockaddr_storage addrs[2];
	struct run *r = run_new("x\n", 1);
	struct listen_ctx l = { r, "220 server.test" };
	struct event *ev;
	int lfd;

	assert_non_null(mkdtemp(dir));
	unix_addr(&addrs[0], dir, "absent");
	unix_addr(&addrs[1], dir, "smtp");
	lfd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_int_equal(bind(lfd, (struct sockaddr *)&addrs[1],
	    sizeof(struct sockaddr_un)), 0);
	assert_int_equal(listen(lfd, 1), 0);
	r->base = event_base_new();
	r->srv.steps = steps;
	r->srv.nsteps = NSTEPS(steps);
	ev = event_new(r->base, lfd, EV_READ, srv_accept, &l);
	(void)event_add(ev, NULL);
	r->c = smtp_client_new(r->base, &plain_params);
	assert_int_equal(smtp_client_connect(r->c, addrs, 2, on_ready, r), 0);
	(void)event_base_dispatch(r->base);
	assert_false(r->srv.failed);
	assert_int_equal(r->nstatus, 3);
	assert_int_equal(r->status[0], 0);
	assert_int_equal(r->results[0].code, 250);
	assert_true(strncmp(smtp_client_peer(r->c), "unix:", 5) == 0);
	assert_string_equal(smtp_client_peer(r->c) + 5, ((struct sockaddr_un *)
	    &addrs[1])->sun_path);
	assert_int_equal(smtp_client_error(r->c)->kind, SMTP_CLIENT_E_NONE);
	event_free(ev);
	close(lfd);
	(void)unlink(((struct sockaddr_un *)&addrs[1])->sun_path);
	(void)rmdir(dir);
	run_free(r);
}

/* No address answers: E_CONNECT, temporary, naming the last failure. */
static void
test_session_connect_fails(void **state)
{
	char dir[] = "/tmp/smtp_client_test.XXXXXX";
	struct sockaddr_storage addrs[2];
	struct run *r = run_new("x\n", 1);
	const struct smtp_client_error *e;
	char want[200];

	assert_non_null(mkdtemp(dir));
	unix_addr(&addrs[0], dir, "a");
	unix_addr(&addrs[1], dir, "b");
	r->base = event_base_new();
	r->c = smtp_client_new(r->base, &plain_params);
	assert_int_equal(smtp_client_connect(r->c, addrs, 2, on_ready, r), 0);
	(void)event_base_dispatch(r->base);
	assert_int_equal(r->nstatus, 1);
	assert_int_equal(r->status[0], -1);
	e = smtp_client_error(r->c);
	assert_int_equal(e->kind, SMTP_CLIENT_E_CONNECT);
	assert_true(smtp_client_error_temporary(e));
	(void)snprintf(want, sizeof(want), "all 2 addresses failed; last: "
	    "unix:%s/b: No such file or directory", dir);
	assert_string_equal(e->why, want);
	/* a second connect on the same session is refused */
	assert_int_equal(smtp_client_connect(r->c, addrs, 2, on_ready, r), -1);
	(void)rmdir(dir);
	run_free(r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reply_table),
		cmocka_unit_test(test_reply_limits),
		cmocka_unit_test(test_reply_format_and_local),
		cmocka_unit_test(test_ehlo),
		cmocka_unit_test(test_dotstuff_table),
		cmocka_unit_test(test_dotstuff_bound),
		cmocka_unit_test(test_session_pipelined),
		cmocka_unit_test(test_session_rset_reuse),
		cmocka_unit_test(test_session_mail_refused),
		cmocka_unit_test(test_session_helo_fallback_and_lost),
		cmocka_unit_test(test_session_prechecks),
		cmocka_unit_test(test_session_refused_greeting),
		cmocka_unit_test(test_session_connect_list),
		cmocka_unit_test(test_session_connect_fails),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
