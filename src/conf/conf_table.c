/*
 * The directive table (STYLE.md §10): every key of every section with its
 * type, default, bounds and place in struct conf, and the typed setters
 * and formatters the table drives. Setters own nothing; the strings and
 * lists they store belong to the struct conf being filled. Runs wherever
 * a config is loaded (the serve parent, every CLI command).
 */
#include <sys/types.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <ctype.h>
#include <errno.h>
#include <pwd.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "conf/conf_int.h"
#include "util/xmalloc.h"

#define SRV(f) offsetof(struct conf, f)
#define LST(f) offsetof(struct conf_listener, f)
#define DAY 86400ULL

const struct conf_directive conf_directives[] = {
	{ CONF_SEC_SERVER, "hostname", CONF_T_HOSTNAME, NULL, 0, 0,
	    SRV(hostname) },
	{ CONF_SEC_SERVER, "spool", CONF_T_PATH, "./var/spool", 0, 0,
	    SRV(spool) },
	{ CONF_SEC_SERVER, "user", CONF_T_ACCOUNT, NULL, 0, 0, SRV(user) },
	{ CONF_SEC_SERVER, "max_message_size", CONF_T_SIZE, "35M", 1024,
	    2048ULL * 1024 * 1024, SRV(max_message_size) },
	{ CONF_SEC_SERVER, "max_recipients", CONF_T_UINT, "100", 1, 100000,
	    SRV(max_recipients) },
	{ CONF_SEC_SERVER, "max_connections", CONF_T_UINT, "1000", 1,
	    1000000, SRV(max_connections) },
	{ CONF_SEC_SERVER, "timeout", CONF_T_DURATION, "5m", 1, DAY,
	    SRV(timeout) },
	{ CONF_SEC_SERVER, "workers", CONF_T_UINT, "0", 0, 256,
	    SRV(workers) },

	{ CONF_SEC_LISTENER, "address", CONF_T_LADDR, NULL, 0, 0,
	    LST(address) },
	{ CONF_SEC_LISTENER, "mode", CONF_T_MODE, "mx", 0, 0, LST(mode) },
	{ CONF_SEC_LISTENER, "tls", CONF_T_TLS, "none", 0, 0, LST(tls) },
	/* No default: required for submission, off for mx (conf.c). */
	{ CONF_SEC_LISTENER, "auth", CONF_T_AUTH, NULL, 0, 0, LST(auth) },

	/* No default here: SPOOL/tls/cert.pem and key.pem (conf.c). */
	{ CONF_SEC_TLS, "certificate", CONF_T_PATH, NULL, 0, 0,
	    SRV(tls_certificate) },
	{ CONF_SEC_TLS, "key", CONF_T_PATH, NULL, 0, 0, SRV(tls_key) },

	{ CONF_SEC_AUTH, "database", CONF_T_PATH, "./var/users.db", 0, 0,
	    SRV(auth_database) },
	{ CONF_SEC_AUTH, "mechanisms", CONF_T_MECHS,
	    "SCRAM-SHA-256, PLAIN, LOGIN", 0, 0, SRV(auth_mechanisms) },
	{ CONF_SEC_AUTH, "plaintext", CONF_T_BOOL, "no", 0, 1,
	    SRV(auth_plaintext) },
	{ CONF_SEC_AUTH, "sender_login_match", CONF_T_BOOL, "no", 0, 1,
	    SRV(auth_sender_login_match) },
	{ CONF_SEC_AUTH, "max_failures", CONF_T_UINT, "5", 1, 10000,
	    SRV(auth_max_failures) },
	{ CONF_SEC_AUTH, "failure_window", CONF_T_DURATION, "10m", 1,
	    7 * DAY, SRV(auth_failure_window) },

	{ CONF_SEC_DOMAINS, "local", CONF_T_DOMAINS, "localhost", 0, 0,
	    SRV(local_domains) },

	{ CONF_SEC_DELIVERY, "maildir", CONF_T_MAILDIR, "./var/mail/%d/%u",
	    0, 0, SRV(maildir) },
	{ CONF_SEC_DELIVERY, "dns", CONF_T_RESOLVER, NULL, 0, 0, SRV(dns) },
	{ CONF_SEC_DELIVERY, "trust_anchor", CONF_T_OPTPATH, NULL, 0, 0,
	    SRV(trust_anchor) },
	{ CONF_SEC_DELIVERY, "remote_port", CONF_T_UINT, "25", 1, 65535,
	    SRV(remote_port) },
	{ CONF_SEC_DELIVERY, "relay", CONF_T_RELAY, NULL, 0, 0, SRV(relay) },
	{ CONF_SEC_DELIVERY, "retry", CONF_T_RETRY, "1m, 5m, 15m, 1h, 4h",
	    1, 7 * DAY, SRV(retry) },
	{ CONF_SEC_DELIVERY, "max_queue_time", CONF_T_DURATION, "5d", 0,
	    365 * DAY, SRV(max_queue_time) },
};
const size_t conf_ndirectives =
    sizeof(conf_directives) / sizeof(conf_directives[0]);

_Static_assert(sizeof(conf_directives) / sizeof(conf_directives[0]) <=
    CONF_MAX_DIRECTIVES, "raise CONF_MAX_DIRECTIVES");

static const char *const mode_names[] = { "mx", "submission", NULL };
static const char *const tls_names[] = { "none", "starttls", "implicit",
    NULL };
static const char *const auth_names[] = { "off", "optional", "required",
    NULL };
static const char *const mech_names[] = { "PLAIN", "LOGIN",
    "SCRAM-SHA-256", "SCRAM-SHA-256-PLUS", "CRAM-MD5", NULL };

const char *
conf_mode_str(enum listener_mode mode)
{
	return (unsigned)mode < 2 ? mode_names[mode] : "?";
}

const char *
conf_tls_str(enum listener_tls tls)
{
	return (unsigned)tls < 3 ? tls_names[tls] : "?";
}

const char *
conf_auth_str(enum listener_auth auth)
{
	return (unsigned)auth < 3 ? auth_names[auth] : "?";
}

const char *
conf_section_str(enum conf_section sec)
{
	static const char *const names[] = { "", "server", "listener", "tls",
	    "auth", "domains", "delivery" };

	return (unsigned)sec < sizeof(names) / sizeof(names[0]) ?
	    names[sec] : "?";
}

const struct conf_directive *
conf_directive_find(enum conf_section sec, const char *name, size_t *index)
{
	size_t i;

	for (i = 0; i < conf_ndirectives; i++)
		if (conf_directives[i].section == sec &&
		    strcasecmp(conf_directives[i].name, name) == 0) {
			*index = i;
			return &conf_directives[i];
		}
	return NULL;
}

#define FIELD(base, d, type) ((type *)((char *)(base) + (d)->target))
#define CFIELD(base, d, type) \
	((const type *)((const char *)(base) + (d)->target))

static void
set_string(const struct conf_directive *d, void *base, const char *value)
{
	char **p = FIELD(base, d, char *);

	free(*p);
	*p = value[0] != '\0' ? xstrdup(value) : NULL;
}

/* Index of value in names (case-insensitive), or -1. */
static int
lookup_name(const char *const *names, const char *value)
{
	int i;

	for (i = 0; names[i] != NULL; i++)
		if (strcasecmp(names[i], value) == 0)
			return i;
	return -1;
}

static int
set_enum(const struct conf_directive *d, void *base, const char *value,
    char *why, size_t whysz)
{
	const char *const *names = d->type == CONF_T_MODE ? mode_names :
	    d->type == CONF_T_TLS ? tls_names : auth_names;
	int v;

	if ((v = lookup_name(names, value)) == -1) {
		(void)snprintf(why, whysz,
		    "%s: bad value '%s' (use %s%s%s%s%s)", d->name, value,
		    names[0], names[2] ? ", " : " or ", names[1],
		    names[2] ? " or " : "", names[2] ? names[2] : "");
		return -1;
	}
	if (d->type == CONF_T_MODE)
		*FIELD(base, d, enum listener_mode) = (enum listener_mode)v;
	else if (d->type == CONF_T_TLS)
		*FIELD(base, d, enum listener_tls) = (enum listener_tls)v;
	else
		*FIELD(base, d, enum listener_auth) = (enum listener_auth)v;
	return 0;
}

/* Writes "min to max" for d's bounds in its own units. */
static void
format_range(const struct conf_directive *d, char *buf, size_t bufsz)
{
	char lo[32], hi[32];

	if (d->type == CONF_T_SIZE) {
		conf_format_size(d->min, lo, sizeof(lo));
		conf_format_size(d->max, hi, sizeof(hi));
	} else if (d->type == CONF_T_DURATION || d->type == CONF_T_RETRY) {
		conf_format_duration((unsigned)d->min, lo, sizeof(lo));
		conf_format_duration((unsigned)d->max, hi, sizeof(hi));
	} else {
		(void)snprintf(lo, sizeof(lo), "%llu",
		    (unsigned long long)d->min);
		(void)snprintf(hi, sizeof(hi), "%llu",
		    (unsigned long long)d->max);
	}
	(void)snprintf(buf, bufsz, "%s to %s", lo, hi);
}

static int
out_of_range(const struct conf_directive *d, const char *value, char *why,
    size_t whysz)
{
	char range[72];

	format_range(d, range, sizeof(range));
	(void)snprintf(why, whysz, "%s: %s is out of range (%s)", d->name,
	    value, range);
	return -1;
}

/* Numbers, sizes, durations and booleans. */
static int
set_number(const struct conf_directive *d, void *base, const char *value,
    char *why, size_t whysz)
{
	uint64_t v = 0;
	unsigned u;
	int b, rc = -1;

	if (d->type == CONF_T_UINT)
		rc = conf_parse_uint(value, UINT64_MAX, &v);
	else if (d->type == CONF_T_SIZE)
		rc = conf_parse_size(value, &v);
	else if (d->type == CONF_T_DURATION)
		rc = (conf_parse_duration(value, &u) == 0) ? (v = u, 0) : -1;
	else if ((rc = conf_parse_bool(value, &b)) == 0)
		v = (uint64_t)b;
	if (rc == -1) {
		(void)snprintf(why, whysz, "%s: bad %s '%s'%s", d->name,
		    d->type == CONF_T_UINT ? "number" :
		    d->type == CONF_T_SIZE ? "size" :
		    d->type == CONF_T_DURATION ? "duration" : "boolean", value,
		    d->type == CONF_T_SIZE ? " (e.g. 512k, 35M, 1G)" :
		    d->type == CONF_T_DURATION ? " (e.g. 30s, 5m, 1h, 5d)" :
		    d->type == CONF_T_BOOL ? " (use yes or no)" : "");
		return -1;
	}
	if (v < d->min || v > d->max)
		return out_of_range(d, value, why, whysz);
	if (d->type == CONF_T_SIZE)
		*FIELD(base, d, uint64_t) = v;
	else if (d->type == CONF_T_BOOL)
		*FIELD(base, d, int) = (int)v;
	else
		*FIELD(base, d, unsigned) = (unsigned)v;
	return 0;
}

/* One entry of a name list: a host name, or a SASL mechanism we know. */
static int
check_name(const struct conf_directive *d, const char *name, char *why,
    size_t whysz)
{
	if (d->type == CONF_T_DOMAINS && !conf_valid_hostname(name)) {
		(void)snprintf(why, whysz, "%s: bad domain '%.255s' (ASCII "
		    "letters, digits, '-' and dots; use the xn-- form for "
		    "IDNs)", d->name, name);
		return -1;
	}
	if (d->type == CONF_T_MECHS && lookup_name(mech_names, name) == -1) {
		(void)snprintf(why, whysz, "%s: unknown mechanism '%.64s' "
		    "(known: PLAIN, LOGIN, SCRAM-SHA-256, SCRAM-SHA-256-PLUS, "
		    "CRAM-MD5)", d->name, name);
		return -1;
	}
	return 0;
}

/*
 * [domains] local: lower-cased host names; [auth] mechanisms: known SASL
 * names, upper-cased, at least one. Each entry once.
 */
static int
set_names(const struct conf_directive *d, void *base, const char *value,
    char *why, size_t whysz)
{
	struct conf_list *list = FIELD(base, d, struct conf_list);
	int upper = d->type == CONF_T_MECHS;
	size_t i, j;
	char *p;

	if (conf_split_list(value, list, why, whysz) == -1)
		return -1;
	if (upper && list->n == 0) {
		(void)snprintf(why, whysz, "%s: at least one mechanism is "
		    "needed", d->name);
		return -1;
	}
	for (i = 0; i < list->n; i++) {
		for (p = list->v[i]; *p != '\0'; p++)
			*p = (char)(upper ? toupper((unsigned char)*p) :
			    tolower((unsigned char)*p));
		if (check_name(d, list->v[i], why, whysz) == -1)
			goto fail;
		for (j = 0; j < i; j++)
			if (strcmp(list->v[i], list->v[j]) == 0) {
				(void)snprintf(why, whysz, "%s: '%.255s' is "
				    "listed twice", d->name, list->v[i]);
				goto fail;
			}
	}
	return 0;
fail:
	conf_list_clear(list);
	return -1;
}

/* [delivery] retry: 1..16 durations; the last one repeats. */
static int
set_retry(const struct conf_directive *d, struct conf *conf,
    const char *value, char *why, size_t whysz)
{
	struct conf_list list = { .n = 0 };
	unsigned steps[CONF_RETRY_MAX];
	size_t i;
	int rc = -1;

	if (conf_split_list(value, &list, why, whysz) == -1)
		return -1;
	if (list.n == 0 || list.n > CONF_RETRY_MAX) {
		(void)snprintf(why, whysz, "%s: give 1 to %d steps", d->name,
		    CONF_RETRY_MAX);
		goto done;
	}
	for (i = 0; i < list.n; i++) {
		if (conf_parse_duration(list.v[i], &steps[i]) == -1) {
			(void)snprintf(why, whysz, "%s: bad duration '%.64s' "
			    "(e.g. 30s, 5m, 1h, 5d)", d->name, list.v[i]);
			goto done;
		}
		if (steps[i] < d->min || steps[i] > d->max) {
			out_of_range(d, list.v[i], why, whysz);
			goto done;
		}
	}
	memcpy(conf->retry, steps, list.n * sizeof(steps[0]));
	conf->nretry = list.n;
	rc = 0;
done:
	conf_list_clear(&list);
	return rc;
}

/* [delivery] maildir: a path pattern; %d, %u and %% only, %u required. */
static int
set_maildir(const struct conf_directive *d, void *base, const char *value,
    char *why, size_t whysz)
{
	const char *p;
	int user = 0;

	for (p = value; *p != '\0'; p++) {
		if (*p != '%')
			continue;
		if (p[1] == 'u')
			user = 1;
		else if (p[1] != 'd' && p[1] != '%') {
			(void)snprintf(why, whysz, "%s: unknown escape "
			    "'%%%.1s' (use %%d domain, %%u user, %%%% a "
			    "percent sign)", d->name, p + 1);
			return -1;
		}
		p++;
	}
	if (!user) {
		(void)snprintf(why, whysz, "%s: the pattern needs %%u (the "
		    "user), e.g. /var/mail/%%d/%%u", d->name);
		return -1;
	}
	set_string(d, base, value);
	return 0;
}

/* Stores "host:port" with IPv6 hosts in brackets. */
static void
store_hostport(const struct conf_directive *d, void *base, const char *host,
    unsigned port)
{
	char buf[300];

	(void)snprintf(buf, sizeof(buf), strchr(host, ':') ? "[%s]:%u" :
	    "%s:%u", host, port);
	set_string(d, base, buf);
}

/* dns (numeric, port 53 by default) and relay (any host, port 25). */
static int
set_remote(const struct conf_directive *d, void *base, const char *value,
    char *why, size_t whysz)
{
	struct in6_addr in6;
	char host[256], msg[160];
	unsigned port;
	int numeric;

	if (value[0] == '\0') {
		set_string(d, base, value);
		return 0;
	}
	if (conf_parse_hostport(value, host, sizeof(host), &port, 0, msg,
	    sizeof(msg)) == -1) {
		(void)snprintf(why, whysz, "%s: %s", d->name, msg);
		return -1;
	}
	numeric = inet_pton(AF_INET, host, &in6) == 1 ||
	    inet_pton(AF_INET6, host, &in6) == 1;
	if (d->type == CONF_T_RESOLVER && !numeric) {
		(void)snprintf(why, whysz, "%s: '%s' is not an IP address "
		    "(the resolver address cannot itself be looked up)",
		    d->name, host);
		return -1;
	}
	if (!numeric && !conf_valid_hostname(host)) {
		(void)snprintf(why, whysz, "%s: bad host name '%s'", d->name,
		    host);
		return -1;
	}
	store_hostport(d, base, host, port != 0 ? port :
	    d->type == CONF_T_RESOLVER ? 53 : 25);
	return 0;
}

/* A listener's address: numeric, "*" (IPv4 any) or "localhost". */
static int
set_laddr(const struct conf_directive *d, void *base, const char *value,
    char *why, size_t whysz)
{
	struct conf_listener *l = base;
	const char *h;
	char host[256], msg[160];
	unsigned port;

	if (value[0] == '\0') {
		(void)snprintf(why, whysz, "%s: a value is required", d->name);
		return -1;
	}
	if (conf_parse_hostport(value, host, sizeof(host), &port, 1, msg,
	    sizeof(msg)) == -1) {
		(void)snprintf(why, whysz, "%s: %s", d->name, msg);
		return -1;
	}
	h = strcmp(host, "*") == 0 ? "0.0.0.0" :
	    strcasecmp(host, "localhost") == 0 ? "127.0.0.1" : host;
	if (conf_resolve_numeric(h, port, &l->sa, &l->salen) == -1) {
		(void)snprintf(why, whysz, "%s: '%s' is not an IP address "
		    "(use 0.0.0.0, [::], * or a numeric address)", d->name,
		    host);
		return -1;
	}
	set_string(d, base, value);
	return 0;
}

/* Strings, paths, host name, account. */
static int
set_text(const struct conf_directive *d, void *base, const char *value,
    char *why, size_t whysz)
{
	if (value[0] == '\0' && (d->type == CONF_T_PATH ||
	    d->type == CONF_T_HOSTNAME)) {
		(void)snprintf(why, whysz, "%s: a value is required", d->name);
		return -1;
	}
	if (d->type == CONF_T_HOSTNAME && !conf_valid_hostname(value)) {
		(void)snprintf(why, whysz, "%s: bad host name '%s' (a fully "
		    "qualified domain name, e.g. mx.example.org)", d->name,
		    value);
		return -1;
	}
	if (d->type == CONF_T_ACCOUNT && value[0] != '\0' &&
	    getpwnam(value) == NULL) {
		(void)snprintf(why, whysz, "%s: no such user '%s'", d->name,
		    value);
		return -1;
	}
	if (d->type == CONF_T_OPTPATH && value[0] != '\0' &&
	    access(value, R_OK) == -1) {
		(void)snprintf(why, whysz, "%s: cannot read %s: %s", d->name,
		    value, strerror(errno));
		return -1;
	}
	set_string(d, base, value);
	return 0;
}

/*
 * Sets d's field in base (conf, or the listener for listener rows) from
 * the text value. 0, or -1 with "key: message" in why.
 */
int
conf_directive_set(const struct conf_directive *d, struct conf *conf,
    void *base, const char *value, char *why, size_t whysz)
{
	switch (d->type) {
	case CONF_T_UINT:
	case CONF_T_SIZE:
	case CONF_T_DURATION:
	case CONF_T_BOOL:
		return set_number(d, base, value, why, whysz);
	case CONF_T_MODE:
	case CONF_T_TLS:
	case CONF_T_AUTH:
		return set_enum(d, base, value, why, whysz);
	case CONF_T_DOMAINS:
	case CONF_T_MECHS:
		return set_names(d, base, value, why, whysz);
	case CONF_T_RETRY:
		return set_retry(d, conf, value, why, whysz);
	case CONF_T_MAILDIR:
		return set_maildir(d, base, value, why, whysz);
	case CONF_T_RESOLVER:
	case CONF_T_RELAY:
		return set_remote(d, base, value, why, whysz);
	case CONF_T_LADDR:
		return set_laddr(d, base, value, why, whysz);
	default:
		return set_text(d, base, value, why, whysz);
	}
}

/* Joins list entries with ", " into buf; -1 if it does not fit. */
static int
format_list(const char *const *v, size_t n, char *buf, size_t bufsz)
{
	size_t i, used = 0;
	int w;

	buf[0] = '\0';
	for (i = 0; i < n; i++) {
		w = snprintf(buf + used, bufsz - used, "%s%s", i ? ", " : "",
		    v[i]);
		if (w < 0 || (size_t)w >= bufsz - used)
			return -1;
		used += (size_t)w;
	}
	return 0;
}

static int
format_retry(const struct conf *conf, char *buf, size_t bufsz)
{
	char steps[CONF_RETRY_MAX][16];
	const char *v[CONF_RETRY_MAX];
	size_t i;

	for (i = 0; i < conf->nretry && i < CONF_RETRY_MAX; i++) {
		conf_format_duration(conf->retry[i], steps[i],
		    sizeof(steps[i]));
		v[i] = steps[i];
	}
	return format_list(v, i, buf, bufsz);
}

/*
 * Writes d's current value in base as the file would spell it ("" for
 * unset strings). 0, or -1 if buf is too small.
 */
int
conf_directive_format(const struct conf_directive *d,
    const struct conf *conf, const void *base, char *buf, size_t bufsz)
{
	const struct conf_list *list;
	const char *s;

	switch (d->type) {
	case CONF_T_UINT:
		return snprintf(buf, bufsz, "%u",
		    *CFIELD(base, d, unsigned)) >= (int)bufsz ? -1 : 0;
	case CONF_T_SIZE:
		conf_format_size(*CFIELD(base, d, uint64_t), buf, bufsz);
		return 0;
	case CONF_T_DURATION:
		conf_format_duration(*CFIELD(base, d, unsigned), buf, bufsz);
		return 0;
	case CONF_T_BOOL:
		s = *CFIELD(base, d, int) ? "yes" : "no";
		break;
	case CONF_T_MODE:
		s = conf_mode_str(*CFIELD(base, d, enum listener_mode));
		break;
	case CONF_T_TLS:
		s = conf_tls_str(*CFIELD(base, d, enum listener_tls));
		break;
	case CONF_T_AUTH:
		s = conf_auth_str(*CFIELD(base, d, enum listener_auth));
		break;
	case CONF_T_DOMAINS:
	case CONF_T_MECHS:
		list = CFIELD(base, d, struct conf_list);
		return format_list((const char *const *)list->v, list->n, buf,
		    bufsz);
	case CONF_T_RETRY:
		return format_retry(conf, buf, bufsz);
	default:
		s = *CFIELD(base, d, char *);
		break;
	}
	return snprintf(buf, bufsz, "%s", s ? s : "") >= (int)bufsz ? -1 : 0;
}
