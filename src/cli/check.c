/*
 * `postern check ADDRESS` (SPEC §2): a deliverability diagnosis that walks
 * what delivery would do, one explained step at a time: (1) the MX
 * lookup (null MX, no such domain, DNS failures), (2) connecting to each
 * address of each MX host in delivery order until one answers, (3) its
 * greeting and EHLO extensions, (4) STARTTLS with the certificate checked
 * against the MX host name; then QUIT and a verdict: exit 0 deliverable,
 * 69 never (null MX, no such domain, 5xx), 75 not now (DNS failure, no
 * MX reachable, 4xx). It never sends MAIL or RCPT: no mailbox probing.
 *
 * This file: options, the address, the steps and the verdict logic. The
 * session is in check_session.c, the words in check_text.c, --json in
 * check_json.c. Owns struct check (see check_int.h). Runs in the CLI
 * process.
 */
#include <sys/socket.h>

#include <arpa/inet.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sysexits.h>

#include <event2/event.h>

#include "cli/check_int.h"
#include "cli/cli.h"
#include "conf/conf.h"
#include "util/log.h"
#include "util/xmalloc.h"

/* Step results: go on, or the verdict is in; exit codes are >= 64. */
#define CHECK_GO 0
#define CHECK_STOP 1

static const struct {
	const char		*token;
	enum check_result	 result;
} check_reasons[CHECK_NREASONS] = {
	[CHECK_R_DELIVERABLE] = { "deliverable", CHECK_DELIVERABLE },
	[CHECK_R_NULL_MX] = { "null_mx", CHECK_PERMANENT },
	[CHECK_R_NO_DOMAIN] = { "no_such_domain", CHECK_PERMANENT },
	[CHECK_R_NO_MAIL_HOST] = { "no_mail_host", CHECK_PERMANENT },
	[CHECK_R_NO_ADDRESS] = { "no_address", CHECK_PERMANENT },
	[CHECK_R_DNS_FAILURE] = { "dns_failure", CHECK_TEMPORARY },
	[CHECK_R_DNS_TIMEOUT] = { "dns_timeout", CHECK_TEMPORARY },
	[CHECK_R_UNREACHABLE] = { "no_mx_reachable", CHECK_TEMPORARY },
	[CHECK_R_GREETING_PERM] = { "greeting_refused", CHECK_PERMANENT },
	[CHECK_R_GREETING_TEMP] = { "greeting_deferred", CHECK_TEMPORARY },
	[CHECK_R_EHLO_PERM] = { "ehlo_refused", CHECK_PERMANENT },
	[CHECK_R_EHLO_TEMP] = { "ehlo_deferred", CHECK_TEMPORARY },
	[CHECK_R_SESSION_FAILED] = { "session_failed", CHECK_TEMPORARY },
	[CHECK_R_NO_SMTPUTF8] = { "smtputf8_missing", CHECK_PERMANENT },
};

enum check_result
check_reason_result(enum check_reason r)
{
	return r < CHECK_NREASONS ? check_reasons[r].result : CHECK_TEMPORARY;
}

const char *
check_reason_str(enum check_reason r)
{
	return r < CHECK_NREASONS ? check_reasons[r].token : "?";
}

int
check_reason_exit(enum check_reason r)
{
	switch (check_reason_result(r)) {
	case CHECK_DELIVERABLE:
		return 0;
	case CHECK_PERMANENT:
		return EX_UNAVAILABLE;
	default:
		return EX_TEMPFAIL;
	}
}

const char *
check_result_str(enum check_result r)
{
	static const char *names[] = { "deliverable", "permanent",
	    "temporary" };

	return (size_t)r < sizeof(names) / sizeof(names[0]) ? names[r] : "?";
}

const char *
check_conn_str(enum check_conn c)
{
	static const char *names[] = { "answered", "failed", "no_greeting",
	    "closed", "not_smtp", "no_address" };

	return (size_t)c < sizeof(names) / sizeof(names[0]) ? names[c] : "?";
}

enum check_reason
check_dns_reason(enum dns_status st)
{
	switch (st) {
	case DNS_OK:
		return CHECK_R_DELIVERABLE;
	case DNS_NULL_MX:
		return CHECK_R_NULL_MX;
	case DNS_NXDOMAIN:
		return CHECK_R_NO_DOMAIN;
	case DNS_NODATA:
		return CHECK_R_NO_MAIL_HOST;
	case DNS_NO_ADDRESS:
		return CHECK_R_NO_ADDRESS;
	case DNS_TIMEOUT:
		return CHECK_R_DNS_TIMEOUT;
	default:
		return CHECK_R_DNS_FAILURE;
	}
}

/*
 * The verdict of the session with the first MX that answered: its
 * greeting decides first, then EHLO/HELO, then whether it can take the
 * address at all (SMTPUTF8).
 */
enum check_reason
check_session_reason(const struct check_session *s, int need_utf8)
{
	int code = s->greeting.code;

	if (code != 0 && code != 220)
		return code >= 500 ? CHECK_R_GREETING_PERM : code >= 400 ?
		    CHECK_R_GREETING_TEMP : CHECK_R_SESSION_FAILED;
	if (!s->ready) {
		code = s->err.reply.code;
		if (s->err.kind != SMTP_CLIENT_E_REFUSED || code < 400)
			return CHECK_R_SESSION_FAILED;
		return code >= 500 ? CHECK_R_EHLO_PERM : CHECK_R_EHLO_TEMP;
	}
	if (need_utf8 && !(s->ext.ext & SMTP_EXT_SMTPUTF8))
		return CHECK_R_NO_SMTPUTF8;
	return CHECK_R_DELIVERABLE;
}

static void
check_usage(FILE *out)
{
	fprintf(out,
	    "usage: postern check ADDRESS [-c FILE] [--dns HOST:PORT] "
	    "[--port N]\n"
	    "                     [--timeout SECONDS] [--cafile FILE] "
	    "[--lang en|ja]\n"
	    "                     [--json] [-v]\n"
	    "\n"
	    "Diagnoses whether mail to ADDRESS can be delivered, step by "
	    "step, as\n"
	    "delivery would go: (1) the MX hosts of its domain in delivery "
	    "order, or\n"
	    "the implicit MX, a null MX (RFC 7505) or a missing domain; (2) "
	    "a connection\n"
	    "to each address of each MX host until one answers; (3) its "
	    "greeting and\n"
	    "EHLO extensions; (4) STARTTLS, with the TLS version, cipher and "
	    "whether the\n"
	    "certificate verifies for the MX host name. Then QUIT.\n"
	    "\n"
	    "No MAIL or RCPT is ever sent: the mailbox itself is not probed, "
	    "so the\n"
	    "check does not look like address harvesting to the receiving "
	    "server.\n"
	    "\n"
	    "  -c, --config FILE   [delivery] dns, trust_anchor, "
	    "remote_port and\n"
	    "                      [server] hostname (the EHLO name)\n"
	    "  --dns HOST:PORT     ask this resolver instead\n"
	    "  --port N            connect to this port instead of "
	    "remote_port\n"
	    "  --timeout SECONDS   limit for the DNS lookup, each connection "
	    "and each\n"
	    "                      reply (default %d)\n"
	    "  --cafile FILE       trust this CA file for the certificate "
	    "check\n"
	    "                      (default: the system store, "
	    "SSL_CERT_FILE)\n"
	    "  --lang en|ja        language (default: from LC_ALL, "
	    "LC_MESSAGES, LANG)\n"
	    "  --json              one JSON object (fields in "
	    "docs/check.md)\n"
	    "  -v, --verbose       print the SMTP dialogue\n"
	    "\n"
	    "exit: 0 deliverable; 69 never deliverable (null MX, no such "
	    "domain, a 5xx\n"
	    "greeting or EHLO at the first MX that answers); 75 not now (DNS "
	    "failure, no\n"
	    "MX reachable, 4xx); 64 usage; 65 bad address; 78 config\n",
	    CHECK_TIMEOUT_DEFAULT);
}

static int
check_parse_num(const char *s, unsigned max, unsigned *out)
{
	char *end;
	unsigned long v = strtoul(s, &end, 10);

	if (*s < '0' || *s > '9' || *end != '\0' || v == 0 || v > max)
		return -1;
	*out = (unsigned)v;
	return 0;
}

static int
check_parse_opt(struct check *ck, int ch, const char *arg)
{
	switch (ch) {
	case 'c': ck->conf_path = arg; return 0;
	case 'd': ck->dns = arg; return 0;
	case 'C': ck->cafile = arg; return 0;
	case 'j': ck->json = 1; return 0;
	case 'v': ck->verbose = 1; return 0;
	case 'p':
		if (check_parse_num(arg, 65535, &ck->port) == 0)
			return 0;
		fprintf(stderr, "postern check: --port: 1 to 65535\n");
		return EX_USAGE;
	case 't':
		if (check_parse_num(arg, CHECK_TIMEOUT_MAX, &ck->timeout) == 0)
			return 0;
		fprintf(stderr, "postern check: --timeout: 1 to %d seconds\n",
		    CHECK_TIMEOUT_MAX);
		return EX_USAGE;
	case 'l':
		if (cat_lang_parse(arg, &ck->lang) == 0)
			return 0;
		fprintf(stderr, "postern check: --lang: en or ja\n");
		return EX_USAGE;
	default:
		check_usage(stderr);
		return EX_USAGE;
	}
}

/* Parses argv into ck; 0, -1 after --help, or an exit code. */
static int
check_parse(int argc, char **argv, struct check *ck)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "dns", required_argument, NULL, 'd' },
		{ "port", required_argument, NULL, 'p' },
		{ "timeout", required_argument, NULL, 't' },
		{ "cafile", required_argument, NULL, 'C' },
		{ "lang", required_argument, NULL, 'l' },
		{ "json", no_argument, NULL, 'j' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	int ch, rc;

	optind = 0;	/* full getopt reset; options may follow operands */
	while ((ch = getopt_long(argc, argv, "c:vh", longopts, NULL)) != -1) {
		if (ch == 'h') {
			check_usage(stdout);
			return -1;
		}
		if ((rc = check_parse_opt(ck, ch, optarg)) != 0)
			return rc;
	}
	if (argc - optind != 1) {
		check_usage(stderr);
		return EX_USAGE;
	}
	ck->address = argv[optind];
	return 0;
}

/*
 * An address literal (RFC 5321 §4.1.3) as the only "MX": [192.0.2.1] or
 * [IPv6:2001:db8::1]. 0, or -1 if it is not one.
 */
static int
check_literal(struct check *ck, const char *lit)
{
	struct dns_mx_host *h = &ck->mx.hosts[0];
	char inner[ADDR_DOMAIN_MAX + 1];
	size_t len = strlen(lit);
	const char *ip = inner;

	if (len < 3 || lit[len - 1] != ']' || len - 2 >= sizeof(inner))
		return -1;
	memcpy(inner, lit + 1, len - 2);
	inner[len - 2] = '\0';
	if (strncasecmp(inner, "IPv6:", 5) == 0) {
		ip = inner + 5;
		h->addrs[0].af = AF_INET6;
		if (inet_pton(AF_INET6, ip, &h->addrs[0].u.v6) != 1)
			return -1;
	} else {
		h->addrs[0].af = AF_INET;
		if (inet_pton(AF_INET, ip, &h->addrs[0].u.v4) != 1)
			return -1;
	}
	(void)snprintf(ck->mx.domain, sizeof(ck->mx.domain), "%s", lit);
	(void)snprintf(h->name, sizeof(h->name), "%s", ip);
	h->naddrs = 1;
	h->status = DNS_OK;
	ck->mx.nhosts = 1;
	ck->mx.status = DNS_OK;
	ck->literal = 1;
	return 0;
}

/* Validates the address and finds the domain to look up; 0 or 65. */
static int
check_address(struct check *ck)
{
	const char *d;

	if (addr_parse_mailbox(&ck->addr, ck->address, 1) == -1) {
		fprintf(stderr, "postern check: '%s' is not a valid address "
		    "(expected local@domain, e.g. postmaster@example.org)\n",
		    ck->address);
		return EX_DATAERR;
	}
	ck->need_utf8 = ck->addr.utf8;
	d = ck->addr.domain;
	if (d[0] == '[') {
		if (check_literal(ck, d) == -1) {
			fprintf(stderr, "postern check: %s: only IPv4 and IPv6 "
			    "address literals can be delivered to\n", d);
			return EX_DATAERR;
		}
		(void)snprintf(ck->domain, sizeof(ck->domain), "%s", d);
		return 0;
	}
	if (dns_name_normalize(d, ck->domain, sizeof(ck->domain)) == -1) {
		fprintf(stderr, "postern check: %s: not a domain name that can "
		    "be looked up (give an internationalized domain in its "
		    "xn-- form)\n", d);
		return EX_DATAERR;
	}
	ck->local = conf_is_local_domain(ck->conf, ck->domain,
	    strlen(ck->domain));
	return 0;
}

/* Step 1: the MX lookup. CHECK_GO, CHECK_STOP or an exit code. */
static int
check_step_mx(struct check *ck)
{
	char why[256];

	if (!ck->literal && dns_lookup_mx_sync(ck->conf, ck->domain,
	    ck->timeout, &ck->mx, why, sizeof(why)) == -1) {
		fprintf(stderr, "postern check: %s\n", why);
		return ck->dns != NULL ? EX_USAGE : CONF_EXIT;
	}
	if (!ck->json) {
		check_text_intro(ck);
		check_text_mx(ck);
	}
	if (ck->mx.status == DNS_OK)
		return CHECK_GO;
	ck->reason = check_dns_reason(ck->mx.status);
	(void)snprintf(ck->why, sizeof(ck->why), "%s", ck->mx.why[0] ?
	    ck->mx.why : dns_status_str(ck->mx.status));
	return CHECK_STOP;
}

static void
check_sockaddr(const struct dns_addr *a, unsigned port,
    struct sockaddr_storage *ss)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (a->af == AF_INET6) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_addr = a->u.v6;
		sin6->sin6_port = htons((uint16_t)port);
	} else {
		sin->sin_family = AF_INET;
		sin->sin_addr = a->u.v4;
		sin->sin_port = htons((uint16_t)port);
	}
}

static struct check_attempt *
check_new_attempt(struct check *ck, size_t host)
{
	struct check_attempt *att = &ck->attempts[ck->nattempts++];

	memset(att, 0, sizeof(*att));
	att->host = host;
	return att;
}

/* Tries host h's addresses; 1 when one answered, 0 to go on, -1 error. */
static int
check_try_host(struct check *ck, size_t h)
{
	const struct dns_mx_host *host = &ck->mx.hosts[h];
	struct sockaddr_storage ss;
	struct check_attempt *att;
	size_t i;

	if (host->naddrs == 0) {
		att = check_new_attempt(ck, h);
		att->conn = CHECK_CONN_NO_ADDRESS;
		(void)snprintf(att->why, sizeof(att->why), "%s",
		    dns_status_str(host->status));
		if (!ck->json)
			check_text_attempt(ck, att);
		return 0;
	}
	for (i = 0; i < host->naddrs; i++) {
		att = check_new_attempt(ck, h);
		(void)dns_addr_str(&host->addrs[i], att->addr,
		    sizeof(att->addr));
		(void)snprintf(att->peer, sizeof(att->peer), host->addrs[i].af
		    == AF_INET6 ? "[%s]:%u" : "%s:%u", att->addr, ck->port);
		check_sockaddr(&host->addrs[i], ck->port, &ss);
		if (check_session_run(ck, &ss, host->name, att) == -1)
			return -1;
		if (!ck->json)
			check_text_attempt(ck, att);
		if (att->conn == CHECK_CONN_ANSWERED) {
			ck->answered = (int)(ck->nattempts - 1);
			return 1;
		}
	}
	return 0;
}

/* Steps 2 to 4. 0, or an exit code for a local failure. */
static int
check_step_connect(struct check *ck)
{
	size_t h;
	int rc = 0;

	if (!ck->json)
		check_text_connect(ck);
	for (h = 0; h < ck->mx.nhosts && rc == 0; h++)
		rc = check_try_host(ck, h);
	if (rc == -1)
		return EX_SOFTWARE;
	if (rc == 0) {
		ck->reason = CHECK_R_UNREACHABLE;
		return 0;
	}
	ck->reason = check_session_reason(&ck->s, ck->need_utf8);
	if (ck->reason == CHECK_R_SESSION_FAILED)
		(void)snprintf(ck->why, sizeof(ck->why), "%s",
		    check_strip_peer(ck->s.err.why,
		    ck->attempts[ck->answered].peer));
	if (!ck->json)
		check_text_session(ck);
	return 0;
}

/*
 * Loads the config, applies the overrides, makes the event loop and the
 * TLS context; 0 or an exit code.
 */
static int
check_setup(struct check *ck)
{
	char why[SMTP_CLIENT_WHY_MAX];

	if ((ck->conf = cli_load_conf(ck->conf_path)) == NULL)
		return CONF_EXIT;
	/* a server that hangs up on us must not kill the check */
	(void)signal(SIGPIPE, SIG_IGN);
	if ((ck->base = event_base_new()) == NULL) {
		fprintf(stderr, "postern check: cannot create an event loop\n");
		return EX_OSERR;
	}
	if ((ck->tls_ctx = smtp_client_tls_ctx_new(ck->cafile, why,
	    sizeof(why))) == NULL) {
		fprintf(stderr, "postern check: %s%s%s\n", ck->cafile ?
		    ck->cafile : "", ck->cafile ? ": " : "", why);
		return ck->cafile ? EX_NOINPUT : EX_SOFTWARE;
	}
	if (ck->dns != NULL) {
		free(ck->conf->dns);
		ck->conf->dns = xstrdup(ck->dns);
	}
	if (ck->port == 0)
		ck->port = ck->conf->remote_port;
	cli_transcript_init(&ck->tr, stdout, ck->lang);
	ck->answered = -1;
	return 0;
}

static int
check_main(struct check *ck)
{
	int rc;

	if ((rc = check_setup(ck)) != 0 || (rc = check_address(ck)) != 0)
		return rc;
	log_init("postern-check", LOG_LEVEL_ERR);
	rc = check_step_mx(ck);
	if (rc == CHECK_GO)
		rc = check_step_connect(ck);
	else if (rc == CHECK_STOP)
		rc = 0;
	if (rc != 0)
		return rc;
	fflush(stdout);
	if (ck->json)
		check_json(ck);
	else
		check_text_verdict(ck);
	return check_reason_exit(ck->reason);
}

int
cli_check(int argc, char **argv)
{
	struct check *ck;
	int rc;

	ck = xcalloc(1, sizeof(*ck));
	ck->timeout = CHECK_TIMEOUT_DEFAULT;
	ck->lang = cat_lang_env();
	rc = check_parse(argc, argv, ck);
	if (rc == 0)
		rc = check_main(ck);
	fflush(stdout);
	smtp_client_tls_ctx_free(ck->tls_ctx);
	if (ck->base != NULL)
		event_base_free(ck->base);
	if (ck->conf != NULL)
		conf_free(ck->conf);
	free(ck->log);
	free(ck);
	return rc == -1 ? 0 : rc;
}
