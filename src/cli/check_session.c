/*
 * `postern check`, steps 2 to 4 for one address: an SMTP client session
 * (src/smtp/client.h) on the check's private event loop with
 * opportunistic STARTTLS and the certificate checked but not enforced,
 * then QUIT. The replies to the greeting, EHLO, HELO and STARTTLS are
 * taken from the transcript, so that the report can show them as the
 * server sent them. A failed TLS handshake is retried once without TLS,
 * as opportunistic delivery does. Owns the session while it runs; the
 * results go into struct check. Runs in the CLI process.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/event.h>

#include "cli/check_int.h"
#include "conf/conf.h"
#include "util/xmalloc.h"

struct check_run {
	struct check		*ck;
	struct check_session	*s;
	struct smtp_client	*c;
	int			 done;
};

/* "peer: reason" -> "reason". */
const char *
check_strip_peer(const char *why, const char *peer)
{
	size_t n = strlen(peer);

	if (n > 0 && strncmp(why, peer, n) == 0 && why[n] == ':' &&
	    why[n + 1] == ' ')
		return why + n + 2;
	return why;
}

static enum check_cmd
check_cmd_of(const char *line, size_t len)
{
	static const struct {
		const char	*verb;
		enum check_cmd	 cmd;
	} verbs[] = {
		{ "EHLO", CHECK_CMD_EHLO }, { "HELO", CHECK_CMD_HELO },
		{ "STARTTLS", CHECK_CMD_STARTTLS }, { "QUIT", CHECK_CMD_QUIT },
	};
	size_t i, n;

	for (i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++) {
		n = strlen(verbs[i].verb);
		if (len >= n && strncasecmp(line, verbs[i].verb, n) == 0 &&
		    (len == n || line[n] == ' '))
			return verbs[i].cmd;
	}
	return CHECK_CMD_OTHER;
}

/* Where the reply to the current command goes; NULL: not kept. */
static struct smtp_reply *
check_slot(struct check_session *s)
{
	switch (s->cur) {
	case CHECK_CMD_NONE:
		return &s->greeting;
	case CHECK_CMD_EHLO:
		return s->starttls.code == 220 ? &s->ehlo_tls : &s->ehlo;
	case CHECK_CMD_HELO:
		return &s->helo;
	case CHECK_CMD_STARTTLS:
		return &s->starttls;
	default:
		return NULL;
	}
}

/*
 * Follows the dialogue: a command line says what the next reply
 * answers; each complete reply is kept in its slot (the first one only).
 */
void
check_capture(struct check_session *s, enum smtp_client_dir dir,
    const char *line, size_t len)
{
	struct smtp_reply *slot;
	char why[SMTP_CLIENT_WHY_MAX];

	if (dir == SMTP_CLIENT_SENT) {
		s->cur = check_cmd_of(line, len);
		smtp_reply_parser_init(&s->parser);
		return;
	}
	if (dir != SMTP_CLIENT_RECEIVED)
		return;
	switch (smtp_reply_parse_line(&s->parser, line, len, why,
	    sizeof(why))) {
	case SMTP_REPLY_MORE:
		return;
	case SMTP_REPLY_ERROR:
		smtp_reply_parser_init(&s->parser);
		return;
	case SMTP_REPLY_DONE:
		break;
	}
	if ((slot = check_slot(s)) != NULL && slot->code == 0)
		*slot = s->parser.reply;
	smtp_reply_parser_init(&s->parser);
}

/* Keeps a -v line for --json: "C: line", "S: line" or "* line". */
static void
check_log(struct check *ck, enum smtp_client_dir dir, const char *line,
    size_t len)
{
	if (ck->log == NULL)
		ck->log = xmalloc(CHECK_LOG_MAX);
	if (CHECK_LOG_MAX - ck->loglen < len + 4)
		return;
	ck->log[ck->loglen++] = (char)dir;
	ck->log[ck->loglen++] = dir == SMTP_CLIENT_INFO ? ' ' : ':';
	if (dir != SMTP_CLIENT_INFO)
		ck->log[ck->loglen++] = ' ';
	memcpy(ck->log + ck->loglen, line, len);
	ck->loglen += len;
	ck->log[ck->loglen++] = '\n';
}

static void
check_transcript(void *arg, enum smtp_client_dir dir, const char *line,
    size_t len)
{
	struct check_run *r = arg;

	check_capture(r->s, dir, line, len);
	if (!r->ck->verbose)
		return;
	if (r->ck->json)
		check_log(r->ck, dir, line, len);
	else
		cli_transcript_line(&r->ck->tr, dir, line, len);
}

static void
check_on_quit(struct smtp_client *c, int status, void *arg)
{
	struct check_run *r = arg;

	r->done = 1;
	event_base_loopbreak(r->ck->base);
}

static void
check_on_ready(struct smtp_client *c, int status, void *arg)
{
	struct check_run *r = arg;

	r->s->ext = *smtp_client_ehlo(c);
	r->s->tls = *smtp_client_tls(c);
	if (status == 0) {
		r->s->ready = 1;
		if (smtp_client_quit(c, check_on_quit, r) == 0)
			return;
	} else
		r->s->err = *smtp_client_error(c);
	r->done = 1;
	event_base_loopbreak(r->ck->base);
}

/* One session to sa in the given TLS mode; -1 on a local failure. */
static int
check_session_once(struct check *ck, const struct sockaddr_storage *sa,
    const char *server_name, enum smtp_client_tls mode,
    struct check_session *s)
{
	struct smtp_client_params p;
	struct check_run r = { ck, s, NULL, 0 };

	memset(s, 0, sizeof(*s));
	smtp_reply_parser_init(&s->parser);
	memset(&p, 0, sizeof(p));
	p.helo = ck->conf->hostname;
	p.server_name = server_name;
	p.tls = mode;
	p.tls_verify = 0;	/* reported, not enforced */
	p.tls_ctx = ck->tls_ctx;
	p.connect_timeout = p.cmd_timeout = p.data_timeout = ck->timeout;
	p.transcript = check_transcript;
	p.transcript_arg = &r;
	r.c = smtp_client_new(ck->base, &p);
	if (smtp_client_connect(r.c, sa, 1, check_on_ready, &r) == -1) {
		smtp_client_free(r.c);
		return -1;
	}
	while (!r.done)
		if (event_base_dispatch(ck->base) != 0)
			break;	/* error, or nothing left to wait for */
	if (smtp_reply_ok(&s->ehlo))
		smtp_ehlo_parse(&s->ehlo, &s->ext_plain);
	smtp_client_free(r.c);
	return r.done ? 0 : -1;
}

/* How the attempt ended, from what the session saw. */
static void
check_classify(const struct check_session *s, struct check_attempt *att)
{
	if (s->greeting.code != 0) {
		att->conn = CHECK_CONN_ANSWERED;
		return;
	}
	switch (s->err.kind) {
	case SMTP_CLIENT_E_TIMEOUT:
		att->conn = CHECK_CONN_SILENT;
		break;
	case SMTP_CLIENT_E_LOST:
		att->conn = CHECK_CONN_CLOSED;
		break;
	case SMTP_CLIENT_E_PROTOCOL:
		att->conn = CHECK_CONN_NOT_SMTP;
		break;
	default:
		att->conn = CHECK_CONN_FAILED;
		break;
	}
	(void)snprintf(att->why, sizeof(att->why), "%s",
	    check_strip_peer(s->err.why, att->peer));
}

/*
 * After a failed TLS handshake: the same address again without TLS. The
 * handshake's error and the STARTTLS reply are kept.
 */
static int
check_retry_plain(struct check *ck, const struct sockaddr_storage *sa,
    const char *server_name, const char *peer)
{
	struct check_session *tls_try;
	int rc;

	tls_try = xmalloc(sizeof(*tls_try));
	*tls_try = ck->s;
	if (ck->verbose && !ck->json)
		cli_transcript_line(&ck->tr, SMTP_CLIENT_INFO, "retrying "
		    "without TLS", strlen("retrying without TLS"));
	else if (ck->verbose)
		check_log(ck, SMTP_CLIENT_INFO, "retrying without TLS",
		    strlen("retrying without TLS"));
	rc = check_session_once(ck, sa, server_name, SMTP_CLIENT_TLS_NONE,
	    &ck->s);
	if (rc == 0 && ck->s.greeting.code == 0)
		ck->s = *tls_try;	/* gone meanwhile: report the first */
	else if (rc == 0) {
		ck->s.tls_failed = 1;
		(void)snprintf(ck->s.tls_error, sizeof(ck->s.tls_error), "%s",
		    check_strip_peer(tls_try->err.why, peer));
		ck->s.starttls = tls_try->starttls;
		ck->s.ext_plain = tls_try->ext_plain;
	}
	free(tls_try);
	return rc;
}

int
check_session_run(struct check *ck, const struct sockaddr_storage *sa,
    const char *server_name, struct check_attempt *att)
{
	if (check_session_once(ck, sa, server_name,
	    SMTP_CLIENT_TLS_OPPORTUNISTIC, &ck->s) == -1)
		return -1;
	check_classify(&ck->s, att);
	if (att->conn == CHECK_CONN_ANSWERED && !ck->s.ready &&
	    ck->s.err.kind == SMTP_CLIENT_E_TLS)
		return check_retry_plain(ck, sa, server_name, att->peer);
	return 0;
}
