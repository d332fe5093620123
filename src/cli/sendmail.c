/*
 * `postern sendmail [-f FROM] [-F NAME] [-t] [-i|-oi] [RCPT...]`: the
 * sendmail-compatible local injection. Reads a message on stdin (bare LF
 * stored as CRLF; without -i a line holding only "." ends it), adds
 * Received, and Date, Message-ID and From where missing, removes Bcc,
 * takes the recipients from the command line and, with -t, from
 * To/Cc/Bcc, and queues it with spool_create/write/commit like the SMTP
 * server does; then wakes the delivery process. Silent on success.
 *
 * Exit codes (sysexits): 0 queued; 64 usage or no recipients; 65 bad
 * address or message too large; 74 reading stdin failed; 75 the spool
 * could not take it (retry later); 78 config.
 * Owns the config and the message it reads. Runs in the CLI process.
 */
#include <errno.h>
#include <getopt.h>
#include <openssl/evp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/sendmail_msg.h"
#include "conf/conf.h"
#include "deliver/dsn.h"
#include "queue/spool.h"
#include "util/addr.h"
#include "util/log.h"
#include "util/xmalloc.h"

struct sendmail_args {
	const char	*conf_path;
	const char	*from;		/* -f/-r; NULL: the invoking user */
	const char	*fullname;	/* -F */
	int		 extract;	/* -t */
	int		 ignore_dots;	/* -i, -oi */
	char		**argv_rcpts;
	int		 nargv_rcpts;
};

/* The envelope being built; owns its strings. */
struct sendmail_env {
	char		 sender[ADDR_BUFSZ];	/* "" for <> */
	char		 user_addr[ADDR_BUFSZ];	/* invoking user@hostname */
	char		**rcpts;
	size_t		 nrcpts;
	int		 smtputf8;
};

static void
sendmail_usage(FILE *out)
{
	fprintf(out,
	    "usage: postern sendmail [-f FROM] [-F NAME] [-t] [-i] [-c FILE] "
	    "[--] [RCPT...]\n"
	    "\n"
	    "Queues the message read on standard input for delivery.\n"
	    "\n"
	    "  -f, -r FROM  envelope sender (\"<>\" or \"\" for the null "
	    "sender);\n"
	    "               default: the invoking user at [server] hostname\n"
	    "  -F NAME      full name for the From: header when it is added\n"
	    "  -t           also take recipients from To:, Cc: and Bcc:\n"
	    "  -i, -oi      a line with a single \".\" does not end the "
	    "message\n"
	    "  -c FILE      config file\n"
	    "  Accepted for compatibility and ignored: -bm, -o<x>, -v, -n, "
	    "-U,\n"
	    "  -B TYPE, -N DSN, -R RET, -V ENVID.\n"
	    "\n"
	    "Bcc: is always removed. Date:, Message-ID: and From: are added "
	    "when\n"
	    "missing. Nothing is printed on success.\n"
	    "exit: 0 queued; 64 usage, no recipients; 65 bad address, too "
	    "large;\n"
	    "74 read error; 75 queue unavailable (try again); 78 config\n");
}

/* Parses options; EX_OK to go on, -1 after --help, else an exit code. */
static int
sendmail_parse_args(int argc, char **argv, struct sendmail_args *a)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	int ch;

	optind = 0;
	while ((ch = getopt_long(argc, argv, "B:b:c:F:f:hiN:no:R:r:tUV:v",
	    longopts, NULL)) != -1) {
		switch (ch) {
		case 'c': a->conf_path = optarg; break;
		case 'f': case 'r': a->from = optarg; break;
		case 'F': a->fullname = optarg; break;
		case 't': a->extract = 1; break;
		case 'i': a->ignore_dots = 1; break;
		case 'o':
			if (strcmp(optarg, "i") == 0)
				a->ignore_dots = 1;
			break;
		case 'b':
			if (strcmp(optarg, "m") == 0)
				break;
			fprintf(stderr, "postern sendmail: -b%s: mode not "
			    "supported (use postern queue list)\n", optarg);
			return EX_USAGE;
		case 'B': case 'N': case 'R': case 'V': case 'v': case 'n':
		case 'U':
			break;
		case 'h':
			sendmail_usage(stdout);
			return -1;
		default:
			sendmail_usage(stderr);
			return EX_USAGE;
		}
	}
	a->argv_rcpts = argv + optind;
	a->nargv_rcpts = argc - optind;
	return EX_OK;
}

/* Copies an address given on the command line, without its <>. */
static int
sendmail_bare(const char *s, char *out, size_t outsz)
{
	size_t n = strlen(s);

	if (n >= 2 && s[0] == '<' && s[n - 1] == '>') {
		s++;
		n -= 2;
	}
	if (n >= outsz)
		return -1;
	memcpy(out, s, n);
	out[n] = '\0';
	return 0;
}

static int
sendmail_add_rcpt(struct sendmail_env *env, const char *s)
{
	char buf[ADDR_BUFSZ];
	struct addr a;
	size_t i;

	if (sendmail_bare(s, buf, sizeof(buf)) == -1 ||
	    addr_parse_mailbox(&a, buf, 1) == -1) {
		fprintf(stderr, "postern sendmail: invalid recipient "
		    "address: %.200s\n", s);
		return EX_DATAERR;
	}
	env->smtputf8 |= a.utf8;
	for (i = 0; i < env->nrcpts; i++)
		if (strcmp(env->rcpts[i], buf) == 0)
			return EX_OK;
	env->rcpts = xreallocarray(env->rcpts, env->nrcpts + 1,
	    sizeof(*env->rcpts));
	env->rcpts[env->nrcpts++] = xstrdup(buf);
	return EX_OK;
}

/* The sender: -f, else the invoking user at the configured hostname. */
static int
sendmail_sender(const struct conf *conf, const struct sendmail_args *args,
    struct sendmail_env *env)
{
	struct passwd *pw = getpwuid(getuid());
	struct addr a;

	(void)snprintf(env->user_addr, sizeof(env->user_addr), "%s@%s",
	    pw != NULL ? pw->pw_name : "nobody", conf->hostname);
	if (args->from == NULL) {
		memcpy(env->sender, env->user_addr, sizeof(env->sender));
		return EX_OK;
	}
	if (sendmail_bare(args->from, env->sender, sizeof(env->sender)) ==
	    -1 || (env->sender[0] != '\0' &&
	    addr_parse_mailbox(&a, env->sender, 1) == -1)) {
		fprintf(stderr, "postern sendmail: invalid sender address: "
		    "%.200s\n", args->from);
		return EX_DATAERR;
	}
	if (env->sender[0] != '\0')
		env->smtputf8 |= a.utf8;
	return EX_OK;
}

/* Recipients from the command line and, with -t, To/Cc/Bcc. */
static int
sendmail_recipients(const struct sendmail_msg *m,
    const struct sendmail_args *args, struct sendmail_env *env)
{
	static const char *const names[] = { "To", "Cc", "Bcc" };
	const struct sendmail_field *f;
	char why[256], **list = NULL;
	size_t i, k, n = 0;
	int rc = EX_OK;

	for (i = 0; i < (size_t)args->nargv_rcpts && rc == EX_OK; i++)
		rc = sendmail_add_rcpt(env, args->argv_rcpts[i]);
	for (i = 0; args->extract && i < m->nfields && rc == EX_OK; i++)
		for (k = 0; k < 3; k++) {
			if (!sendmail_field_is(m, i, names[k]))
				continue;
			f = &m->fields[i];
			if (sendmail_addresses(m->buf + f->off + f->name_len +
			    1, f->len - f->name_len - 1, &list, &n, why,
			    sizeof(why)) == -1) {
				fprintf(stderr, "postern sendmail: invalid "
				    "address in %s: %s\n", names[k], why);
				rc = EX_DATAERR;
			}
		}
	for (i = 0; i < n; i++) {
		if (rc == EX_OK)
			rc = sendmail_add_rcpt(env, list[i]);
		free(list[i]);
	}
	free(list);
	if (rc == EX_OK && env->nrcpts == 0) {
		fprintf(stderr, "postern sendmail: no recipients%s\n",
		    args->extract ? " (none on the command line or in "
		    "To:, Cc:, Bcc:)" : "");
		rc = EX_USAGE;
	}
	return rc;
}

/* "NAME <addr>" with NAME as atoms, a quoted string, or RFC 2047. */
static void
sendmail_from_field(FILE *fp, const char *name, const char *addr)
{
	unsigned char enc[512];
	const char *p;
	int ascii = 1, atoms = 1;

	if (name == NULL || name[0] == '\0' || strlen(name) > 300) {
		fprintf(fp, "From: %s\r\n", addr);
		return;
	}
	for (p = name; *p != '\0'; p++) {
		if ((unsigned char)*p >= 0x80)
			ascii = 0;
		else if (*p < 0x20 || *p == 0x7f)
			ascii = atoms = 0;
		else if (strchr("()<>[]:;@\\,.\"", *p) != NULL)
			atoms = 0;
	}
	if (!ascii) {
		(void)EVP_EncodeBlock(enc, (const unsigned char *)name,
		    (int)strlen(name));
		fprintf(fp, "From: =?UTF-8?B?%s?= <%s>\r\n", enc, addr);
	} else if (atoms)
		fprintf(fp, "From: %s <%s>\r\n", name, addr);
	else {
		fputs("From: \"", fp);
		for (p = name; *p != '\0'; p++) {
			if (*p == '"' || *p == '\\')
				fputc('\\', fp);
			if (*p >= 0x20 && *p != 0x7f)
				fputc(*p, fp);
		}
		fprintf(fp, "\" <%s>\r\n", addr);
	}
}

/* The stored header section: Received, the fields but Bcc, additions. */
static int
sendmail_headers(const struct conf *conf, const struct sendmail_msg *m,
    const struct sendmail_args *args, const struct sendmail_env *env,
    const char *id, char **out, size_t *outlen)
{
	char date[64];
	FILE *fp;
	size_t i;

	if (dsn_date(time(NULL), date, sizeof(date)) == -1 ||
	    (fp = open_memstream(out, outlen)) == NULL)
		return -1;
	fprintf(fp, "Received: from local (uid %u)\r\n\tby %s (Postern) "
	    "with local id %s;\r\n\t%s\r\n", (unsigned)getuid(),
	    conf->hostname, id, date);
	for (i = 0; i < m->nfields; i++)
		if (!sendmail_field_is(m, i, "Bcc"))
			fwrite(m->buf + m->fields[i].off, 1, m->fields[i].len,
			    fp);
	if (!sendmail_has_field(m, "From"))
		sendmail_from_field(fp, args->fullname,
		    args->from != NULL && env->sender[0] != '\0' ?
		    env->sender : env->user_addr);
	if (!sendmail_has_field(m, "Date"))
		fprintf(fp, "Date: %s\r\n", date);
	if (!sendmail_has_field(m, "Message-ID"))
		fprintf(fp, "Message-ID: <%s@%s>\r\n", id, conf->hostname);
	fputs("\r\n", fp);
	return fclose(fp) == 0 ? 0 : -1;
}

/* Writes the envelope, headers and body into f. */
static int
sendmail_write(struct spool_file *f, const struct sendmail_msg *m,
    const struct sendmail_env *env, const char *hdr, size_t hlen)
{
	struct envelope e;
	char buf[8192];
	size_t i;
	int n;

	memset(&e, 0, sizeof(e));
	memcpy(e.id, spool_file_id(f), QUEUE_ID_MAX);
	e.created = time(NULL);
	e.sender = (char *)env->sender;
	e.client = "local";
	e.smtputf8 = env->smtputf8;
	for (i = 0; i < m->len && !e.body_8bit; i++)
		e.body_8bit = (unsigned char)m->buf[i] >= 0x80;
	e.rcpts = env->rcpts;
	e.nrcpts = env->nrcpts;
	if ((n = envelope_format(&e, buf, sizeof(buf))) == -1) {
		errno = E2BIG;
		return -1;
	}
	if (spool_write(f, buf, (size_t)n) == -1 ||
	    spool_write(f, hdr, hlen) == -1 ||
	    spool_write(f, m->buf + m->body_off, m->len - m->body_off) == -1)
		return -1;
	return 0;
}

/* Gives the file to [server] user when root queues it. */
static void
sendmail_owner(const struct conf *conf, struct spool_file *f)
{
	struct passwd *pw;

	if (geteuid() != 0 || conf->user == NULL || conf->user[0] == '\0')
		return;
	if ((pw = getpwnam(conf->user)) == NULL ||
	    spool_set_owner(f, pw->pw_uid, pw->pw_gid) == -1)
		fprintf(stderr, "postern sendmail: warning: cannot give the "
		    "queue file to user %s\n", conf->user);
}

static int
sendmail_too_big(const struct conf *conf)
{
	fprintf(stderr, "postern sendmail: message exceeds max_message_size "
	    "(%llu bytes)\n", (unsigned long long)conf->max_message_size);
	return EX_DATAERR;
}

/* Queues the message; an exit code. */
static int
sendmail_queue(const struct conf *conf, const struct sendmail_msg *m,
    const struct sendmail_args *args, const struct sendmail_env *env)
{
	struct spool_file *f = NULL;
	char why[512], *hdr = NULL;
	size_t hlen = 0;

	if (spool_init(conf->spool, why, sizeof(why)) == -1) {
		fprintf(stderr, "postern sendmail: %s\n", why);
		return EX_TEMPFAIL;
	}
	if (spool_create(conf->spool, &f) == -1)
		goto fail;
	sendmail_owner(conf, f);
	if (sendmail_headers(conf, m, args, env, spool_file_id(f), &hdr,
	    &hlen) == -1)
		goto fail;
	if (hlen + m->len - m->body_off > conf->max_message_size) {
		spool_abort(f);
		free(hdr);
		return sendmail_too_big(conf);
	}
	if (sendmail_write(f, m, env, hdr, hlen) == -1)
		goto fail;
	free(hdr);
	hdr = NULL;
	if (spool_commit(f) == -1) {
		f = NULL;
		goto fail;
	}
	spool_wakeup(conf->spool);
	return EX_OK;
fail:
	fprintf(stderr, "postern sendmail: cannot queue the message in %s: "
	    "%s\n", conf->spool, strerror(errno));
	spool_abort(f);
	free(hdr);
	return EX_TEMPFAIL;
}

/* Reads stdin; drops a leading mbox "From " line. An exit code. */
static int
sendmail_input(const struct conf *conf, const struct sendmail_args *args,
    struct sendmail_msg *m)
{
	const char *nl;
	size_t skip;

	if (sendmail_read(m, STDIN_FILENO, args->ignore_dots,
	    conf->max_message_size) == -1) {
		if (errno == EFBIG)
			return sendmail_too_big(conf);
		fprintf(stderr, "postern sendmail: reading the message: %s\n",
		    strerror(errno));
		return EX_IOERR;
	}
	if (m->len > 5 && memcmp(m->buf, "From ", 5) == 0 &&
	    (nl = memchr(m->buf, '\n', m->len)) != NULL) {
		skip = (size_t)(nl - m->buf) + 1;
		memmove(m->buf, m->buf + skip, m->len - skip);
		m->len -= skip;
	}
	sendmail_parse_headers(m);
	return EX_OK;
}

int
cli_sendmail(int argc, char **argv)
{
	struct sendmail_args args;
	struct sendmail_env env;
	struct sendmail_msg m;
	struct conf *conf;
	size_t i;
	int rc;

	memset(&args, 0, sizeof(args));
	memset(&env, 0, sizeof(env));
	memset(&m, 0, sizeof(m));
	if ((rc = sendmail_parse_args(argc, argv, &args)) != EX_OK)
		return rc == -1 ? EX_OK : rc;
	if ((conf = cli_load_conf(args.conf_path)) == NULL)
		return CONF_EXIT;
	log_init("postern-sendmail", LOG_LEVEL_WARN);
	if ((rc = sendmail_sender(conf, &args, &env)) == EX_OK &&
	    (rc = sendmail_input(conf, &args, &m)) == EX_OK &&
	    (rc = sendmail_recipients(&m, &args, &env)) == EX_OK)
		rc = sendmail_queue(conf, &m, &args, &env);
	for (i = 0; i < env.nrcpts; i++)
		free(env.rcpts[i]);
	free(env.rcpts);
	sendmail_msg_clear(&m);
	conf_free(conf);
	return rc;
}
