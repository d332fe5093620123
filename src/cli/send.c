/*
 * `postern send`: submits a message read from stdin to an SMTP server
 * with the SMTP client of src/smtp/client.h (SPEC §2):
 *   postern send --server HOST:PORT [--tls none|starttls|implicit
 *     |opportunistic]
 *     [--cafile F | --insecure] [--user U --password-file F] [--mech M]
 *     --from A --to B [--to C ...] [-v] [--helo NAME] [--timeout S]
 * The message is first copied to a temporary file with every line ending
 * made CRLF (its size then goes out as SIZE=). With -v the dialogue is
 * printed (C:, S:, and * for connection and TLS events; AUTH data masked)
 * and every reply that is not 2xx is explained from the reply catalogue.
 * One line per recipient tells the outcome. Exit: 0 all accepted, 69 a
 * permanent failure, 75 a temporary one, 77 authentication failed, 64
 * usage. Owns the temporary file, the TLS context and the session; runs
 * in the CLI process.
 */
#include <sys/socket.h>

#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include <event2/event.h>

#include "cli/cli.h"
#include "cli/client_common.h"
#include "replies/catalogue.h"
#include "smtp/client.h"
#include "util/addr.h"
#include "util/xmalloc.h"

#define SEND_MAX_RCPTS 1000
#define SEND_MAX_ADDRS 16
#define SEND_HOST_MAX 256

struct send_opts {
	const char	*server, *tls, *cafile, *user, *password_file, *mech;
	const char	*from, *helo;
	char		**to;
	size_t		 nto;
	int		 insecure, verbose;
	unsigned	 timeout;
};

struct send_run {
	struct event_base	*base;
	struct smtp_client	*c;
	struct smtp_client_msg	 msg;
	struct smtp_reply	*results;
	int			 verbose;
	int			 status;	/* of the last operation */
	int			 sent;		/* the transaction completed */
	struct cli_transcript	 tr;		/* the -v printer */
};

static void
send_usage(FILE *out)
{
	fprintf(out,
	    "usage: postern send --server HOST:PORT [--tls none|starttls|"
	    "implicit]\n"
	    "           [--cafile FILE | --insecure] [--user USER "
	    "--password-file FILE]\n"
	    "           [--mech MECH] --from ADDRESS --to ADDRESS [--to "
	    "ADDRESS...] [-v]\n"
	    "           [--helo NAME] [--timeout SECONDS] "
	    "[--tls opportunistic]\n"
	    "\n"
	    "Submits the message on stdin. The server certificate is verified"
	    " (system\nstore, SSL_CERT_FILE, or --cafile) unless --insecure. "
	    "--tls defaults to\nnone; opportunistic does STARTTLS when "
	    "offered and, as MTAs do, accepts\nan unverified certificate. "
	    "AUTH (--user) uses the best mechanism the\nserver offers, or "
	    "--mech (PLAIN, LOGIN, CRAM-MD5, SCRAM-SHA-256).\n"
	    "--from '' sends the null sender.\n"
	    "  -v   print the dialogue and explain every reply that is not "
	    "2xx\n"
	    "\n"
	    "exit: 0 accepted for every recipient; 69 a permanent failure "
	    "(5xx);\n75 a temporary failure (4xx, connection, time-out); "
	    "77 authentication\nfailed; 64 usage\n");
}

static void
send_transcript(void *arg, enum smtp_client_dir dir, const char *line,
    size_t len)
{
	struct send_run *r = arg;

	if (r->verbose)
		cli_transcript_line(&r->tr, dir, line, len);
}

/* "host:port" or "[v6]:port" (port defaults to dflt). */
static int
send_split_server(const char *s, char *host, size_t hostsz,
    const char **port, const char *dflt)
{
	const char *end, *colon;
	size_t len;

	*port = dflt;
	if (s[0] == '[') {
		if ((end = strchr(s, ']')) == NULL ||
		    (end[1] != '\0' && end[1] != ':'))
			return -1;
		len = (size_t)(end - s - 1);
		s++;
		if (end[1] == ':')
			*port = end + 2;
	} else if ((colon = strrchr(s, ':')) != NULL &&
	    strchr(s, ':') == colon) {
		len = (size_t)(colon - s);
		*port = colon + 1;
	} else
		len = strlen(s);
	if (len == 0 || len >= hostsz || **port == '\0')
		return -1;
	memcpy(host, s, len);
	host[len] = '\0';
	return 0;
}

/* Resolves --server into addresses; 0, or an exit code. */
static int
send_resolve(const struct send_opts *o, char *host, size_t hostsz,
    struct sockaddr_storage *addrs, size_t *naddrs)
{
	struct addrinfo hints, *res, *ai;
	const char *port;
	int rc;

	if (send_split_server(o->server, host, hostsz, &port,
	    strcmp(o->tls, "implicit") == 0 ? "465" : "25") == -1) {
		fprintf(stderr, "postern send: --server %s: expected "
		    "HOST:PORT\n", o->server);
		return EX_USAGE;
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	if ((rc = getaddrinfo(host, port, &hints, &res)) != 0) {
		fprintf(stderr, "postern send: %s: %s\n", o->server,
		    gai_strerror(rc));
		return rc == EAI_NONAME || rc == EAI_SERVICE ?
		    EX_UNAVAILABLE : EX_TEMPFAIL;
	}
	*naddrs = 0;
	for (ai = res; ai != NULL && *naddrs < SEND_MAX_ADDRS;
	    ai = ai->ai_next) {
		memset(&addrs[*naddrs], 0, sizeof(addrs[0]));
		memcpy(&addrs[(*naddrs)++], ai->ai_addr, ai->ai_addrlen);
	}
	freeaddrinfo(res);
	return 0;
}

/* Copies stdin to an unlinked temporary file with CRLF line endings. */
static int
send_spool_stdin(struct smtp_client_msg *m)
{
	char in[16384], out[2 * 16384 + 8];
	struct smtp_dotstuff ds;
	FILE *tmp;
	size_t n, len;

	if ((tmp = tmpfile()) == NULL) {
		fprintf(stderr, "postern send: temporary file: %s\n",
		    strerror(errno));
		return -1;
	}
	smtp_dotstuff_init(&ds, 0);
	while ((n = fread(in, 1, sizeof(in), stdin)) > 0) {
		len = smtp_dotstuff_encode(&ds, in, n, out);
		if (fwrite(out, 1, len, tmp) != len)
			goto fail;
	}
	if (ferror(stdin))
		goto fail;
	len = smtp_dotstuff_end(&ds, out);
	if (fwrite(out, 1, len, tmp) != len || fflush(tmp) == EOF)
		goto fail;
	m->fd = dup(fileno(tmp));
	m->size = ds.out;
	m->eightbit = ds.eightbit;
	fclose(tmp);
	return m->fd == -1 ? -1 : 0;
fail:
	fprintf(stderr, "postern send: reading the message: %s\n",
	    strerror(errno));
	fclose(tmp);
	return -1;
}

/* Checks an envelope address; "" is the null sender when allowed. */
static int
send_check_addr(const char *s, int allow_null, int *utf8)
{
	struct addr a;

	if (s[0] == '\0' && allow_null)
		return 0;
	if (addr_parse_mailbox(&a, s, 1) == -1) {
		fprintf(stderr, "postern send: '%s' is not a valid address\n",
		    s);
		return -1;
	}
	if (a.utf8)
		*utf8 = 1;
	return 0;
}

/* The first line of file into buf; 0, or an exit code. */
static int
send_read_password(const char *file, char *buf, size_t bufsz)
{
	FILE *fp;
	size_t len;

	if ((fp = fopen(file, "r")) == NULL) {
		fprintf(stderr, "postern send: %s: %s\n", file,
		    strerror(errno));
		return EX_NOINPUT;
	}
	if (fgets(buf, (int)bufsz, fp) == NULL)
		buf[0] = '\0';
	fclose(fp);
	len = strcspn(buf, "\r\n");
	buf[len] = '\0';
	return 0;
}

static void
send_on_quit(struct smtp_client *c, int status, void *arg)
{
	struct send_run *r = arg;

	event_base_loopbreak(r->base);
}

static void
send_quit(struct send_run *r)
{
	if (smtp_client_quit(r->c, send_on_quit, r) == -1)
		event_base_loopbreak(r->base);
}

static void
send_on_sent(struct smtp_client *c, int status, void *arg)
{
	struct send_run *r = arg;

	r->status = status;
	r->sent = 1;
	if (status == 0)
		send_quit(r);
	else
		event_base_loopbreak(r->base);
}

static void
send_on_ready(struct smtp_client *c, int status, void *arg)
{
	struct send_run *r = arg;

	r->status = status;
	if (status == 0 && smtp_client_send(c, &r->msg, r->results,
	    send_on_sent, r) == 0)
		return;
	event_base_loopbreak(r->base);
}

/* 69, 75 or 77 for a session that failed. */
static int
send_error_exit(const struct smtp_client_error *e)
{
	if (e->kind == SMTP_CLIENT_E_AUTH &&
	    (e->reply.code == 535 || e->reply.code == 0))
		return EX_NOPERM;
	return smtp_client_error_temporary(e) ? EX_TEMPFAIL : EX_UNAVAILABLE;
}

/* One line per recipient; returns the exit code they add up to. */
static int
send_report(const struct send_run *r)
{
	char line[SMTP_REPLY_TEXT_MAX + 32];
	const struct smtp_reply *res;
	int perm = 0, temp = 0;
	size_t i;

	for (i = 0; i < r->msg.nrcpts; i++) {
		res = &r->results[i];
		(void)smtp_reply_format(res, line, sizeof(line));
		printf("%s: %s: ", r->msg.rcpts[i], smtp_reply_ok(res) ?
		    "sent" : res->code >= 500 ? "rejected" : "deferred");
		cli_print_safe(stdout, line, strlen(line));
		printf("%s\n", res->local ? " (no server reply)" : "");
		perm |= res->code >= 500;
		temp |= res->code < 500 && !smtp_reply_ok(res);
	}
	return perm ? EX_UNAVAILABLE : temp ? EX_TEMPFAIL : 0;
}

static int
send_outcome(struct send_run *r)
{
	const struct smtp_client_error *e = smtp_client_error(r->c);
	char line[SMTP_REPLY_TEXT_MAX + 32];
	int rc;

	if (r->sent && r->status == 0)
		return send_report(r);
	fprintf(stderr, "postern send: %s\n", e->why);
	if (e->reply.code != 0) {
		(void)smtp_reply_format(&e->reply, line, sizeof(line));
		fprintf(stderr, "postern send: the server said: %s\n", line);
	}
	if (e->kind == SMTP_CLIENT_E_TLS_VERIFY)
		fprintf(stderr, "postern send: trust the server's CA with "
		    "--cafile, or skip the check with --insecure\n");
	rc = send_error_exit(e);
	if (r->sent)
		(void)send_report(r);
	return rc;
}

/* Checks the combination of options; 0 or EX_USAGE. */
static int
send_check_opts(const struct send_opts *o)
{
	const char *bad = NULL;

	if (o->server == NULL)
		bad = "--server is required";
	else if (o->from == NULL)
		bad = "--from is required ('' for the null sender)";
	else if (o->nto == 0)
		bad = "at least one --to is required";
	else if (strcmp(o->tls, "none") != 0 &&
	    strcmp(o->tls, "starttls") != 0 &&
	    strcmp(o->tls, "implicit") != 0 &&
	    strcmp(o->tls, "opportunistic") != 0)
		bad = "--tls takes none, starttls, implicit or opportunistic";
	else if (o->cafile != NULL && o->insecure)
		bad = "--cafile and --insecure exclude each other";
	else if ((o->user == NULL) != (o->password_file == NULL))
		bad = "--user and --password-file go together";
	else if (o->mech != NULL && o->user == NULL)
		bad = "--mech needs --user";
	if (bad == NULL)
		return 0;
	fprintf(stderr, "postern send: %s\n", bad);
	return EX_USAGE;
}

static int
send_parse_opt(struct send_opts *o, int ch, const char *arg)
{
	char *end;

	switch (ch) {
	case 's': o->server = arg; break;
	case 'T': o->tls = arg; break;
	case 'C': o->cafile = arg; break;
	case 'k': o->insecure = 1; break;
	case 'u': o->user = arg; break;
	case 'p': o->password_file = arg; break;
	case 'm': o->mech = arg; break;
	case 'f': o->from = arg; break;
	case 'H': o->helo = arg; break;
	case 'v': o->verbose = 1; break;
	case 't':
		if (o->nto == SEND_MAX_RCPTS) {
			fprintf(stderr, "postern send: at most %d --to\n",
			    SEND_MAX_RCPTS);
			return EX_USAGE;
		}
		o->to[o->nto++] = (char *)arg;
		break;
	case 'w':
		o->timeout = (unsigned)strtoul(arg, &end, 10);
		if (*arg == '\0' || *end != '\0' || o->timeout == 0 ||
		    o->timeout > 86400) {
			fprintf(stderr, "postern send: --timeout: 1 to 86400 "
			    "seconds\n");
			return EX_USAGE;
		}
		break;
	default:
		send_usage(stderr);
		return EX_USAGE;
	}
	return 0;
}

/* Parses argv into o; 0, -1 after --help, or an exit code. */
static int
send_parse(int argc, char **argv, struct send_opts *o)
{
	static const struct option longopts[] = {
		{ "server", required_argument, NULL, 's' },
		{ "tls", required_argument, NULL, 'T' },
		{ "cafile", required_argument, NULL, 'C' },
		{ "insecure", no_argument, NULL, 'k' },
		{ "user", required_argument, NULL, 'u' },
		{ "password-file", required_argument, NULL, 'p' },
		{ "mech", required_argument, NULL, 'm' },
		{ "from", required_argument, NULL, 'f' },
		{ "to", required_argument, NULL, 't' },
		{ "helo", required_argument, NULL, 'H' },
		{ "timeout", required_argument, NULL, 'w' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	int ch, rc;

	optind = 0;	/* full getopt reset; options may follow operands */
	while ((ch = getopt_long(argc, argv, "v", longopts, NULL)) != -1) {
		if (ch == 'h') {
			send_usage(stdout);
			return -1;
		}
		if ((rc = send_parse_opt(o, ch, optarg)) != 0)
			return rc;
	}
	if (optind != argc) {
		fprintf(stderr, "postern send: unexpected argument '%s'\n",
		    argv[optind]);
		return EX_USAGE;
	}
	return send_check_opts(o);
}

/* Validates the addresses and reads the password; 0 or an exit code. */
static int
send_prepare(const struct send_opts *o, struct send_run *r, char *password,
    size_t passwordsz)
{
	size_t i;
	int utf8 = 0;

	if (send_check_addr(o->from, 1, &utf8) == -1)
		return EX_USAGE;
	for (i = 0; i < o->nto; i++)
		if (send_check_addr(o->to[i], 0, &utf8) == -1)
			return EX_USAGE;
	r->msg.from = o->from;
	r->msg.rcpts = (const char *const *)o->to;
	r->msg.nrcpts = o->nto;
	r->msg.smtputf8 = utf8;
	if (o->password_file != NULL)
		return send_read_password(o->password_file, password,
		    passwordsz);
	return 0;
}

static enum smtp_client_tls
send_tls_mode(const char *s)
{
	if (strcmp(s, "starttls") == 0)
		return SMTP_CLIENT_TLS_STARTTLS;
	if (strcmp(s, "implicit") == 0)
		return SMTP_CLIENT_TLS_IMPLICIT;
	if (strcmp(s, "opportunistic") == 0)
		return SMTP_CLIENT_TLS_OPPORTUNISTIC;
	return SMTP_CLIENT_TLS_NONE;
}

static void
send_params(const struct send_opts *o, struct send_run *r,
    struct smtp_client_params *p, const char *host, const char *helo,
    const char *password)
{
	memset(p, 0, sizeof(*p));
	p->helo = helo;
	p->server_name = host;
	p->tls = send_tls_mode(o->tls);
	p->tls_verify = !o->insecure && p->tls != SMTP_CLIENT_TLS_OPPORTUNISTIC;
	p->user = o->user;
	p->password = password;
	p->mech = o->mech;
	p->connect_timeout = p->cmd_timeout = p->data_timeout = o->timeout;
	p->transcript = send_transcript;
	p->transcript_arg = r;
	r->verbose = o->verbose;
	cli_transcript_init(&r->tr, stdout, cat_lang_env());
}

/* Connects, sends, quits; returns the exit code. */
static int
send_session(struct send_run *r, const struct smtp_client_params *p,
    const struct sockaddr_storage *addrs, size_t naddrs)
{
	int rc;

	if ((r->base = event_base_new()) == NULL) {
		fprintf(stderr, "postern send: cannot create an event loop\n");
		return EX_OSERR;
	}
	r->c = smtp_client_new(r->base, p);
	r->results = xcalloc(r->msg.nrcpts, sizeof(*r->results));
	r->status = -1;
	if (smtp_client_connect(r->c, addrs, naddrs, send_on_ready, r) == 0)
		(void)event_base_dispatch(r->base);
	fflush(stdout);
	rc = send_outcome(r);
	smtp_client_free(r->c);
	free(r->results);
	event_base_free(r->base);
	return rc;
}

static int
send_main(const struct send_opts *o)
{
	struct sockaddr_storage addrs[SEND_MAX_ADDRS];
	struct smtp_client_params p;
	struct smtp_client_tls_ctx *tls = NULL;
	struct send_run r;
	char host[SEND_HOST_MAX], helo[SEND_HOST_MAX], password[1024];
	char why[SMTP_CLIENT_WHY_MAX];
	size_t naddrs = 0;
	int rc;

	memset(&r, 0, sizeof(r));
	r.msg.fd = -1;
	password[0] = '\0';
	if ((rc = send_prepare(o, &r, password, sizeof(password))) != 0 ||
	    (rc = send_resolve(o, host, sizeof(host), addrs, &naddrs)) != 0)
		goto done;
	if (strcmp(o->tls, "none") != 0 && (tls = smtp_client_tls_ctx_new(
	    o->cafile, why, sizeof(why))) == NULL) {
		fprintf(stderr, "postern send: %s%s%s\n", o->cafile ?
		    o->cafile : "", o->cafile ? ": " : "", why);
		rc = EX_NOINPUT;
		goto done;
	}
	if (o->helo != NULL)
		(void)snprintf(helo, sizeof(helo), "%s", o->helo);
	else if (gethostname(helo, sizeof(helo)) == -1 || helo[0] == '\0')
		(void)snprintf(helo, sizeof(helo), "localhost");
	helo[sizeof(helo) - 1] = '\0';
	if (send_spool_stdin(&r.msg) == -1) {
		rc = EX_IOERR;
		goto done;
	}
	send_params(o, &r, &p, host, helo, password);
	p.tls_ctx = tls;
	rc = send_session(&r, &p, addrs, naddrs);
done:
	if (r.msg.fd != -1)
		(void)close(r.msg.fd);
	smtp_client_tls_ctx_free(tls);
	explicit_bzero(password, sizeof(password));
	return rc;
}

int
cli_send(int argc, char **argv)
{
	struct send_opts o;
	int rc;

	/* A server hanging up mid-write is an SMTP failure, not a crash. */
	(void)signal(SIGPIPE, SIG_IGN);
	memset(&o, 0, sizeof(o));
	o.tls = "none";
	o.to = xcalloc(SEND_MAX_RCPTS, sizeof(*o.to));
	rc = send_parse(argc, argv, &o);
	if (rc == 0)
		rc = send_main(&o);
	free(o.to);
	return rc == -1 ? 0 : rc;
}
