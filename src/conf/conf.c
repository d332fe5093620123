/*
 * Loads the configuration file (SPEC.md §3) into one validated struct
 * conf, or gives the built-in defaults of §4. inih splits "key = value";
 * our line reader feeds it one line at a time, which gives every message
 * its line number, and handles comments and [section] headers itself so
 * that empty sections and bad headers are seen. The directive table in
 * conf_table.c does the typed work. Owns: the struct conf it returns (all
 * strings and lists in it). Runs in the serve parent (start, SIGHUP) and
 * in every CLI command.
 */
#include <sys/types.h>
#include <sys/stat.h>
#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#include <ini.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "conf/conf_int.h"
#include "util/log.h"
#include "util/xmalloc.h"

#define CONF_DEFAULT_FILE "./postern.conf"
#define CONF_DEFAULTS_NAME "(defaults)"

/* The state of one load; lives on the loader's stack. */
struct conf_parse {
	struct conf		*conf;
	const char		*name;		/* file name for messages */
	const char		*buf;		/* the file's bytes */
	size_t			 len;
	size_t			 pos;		/* next line starts here */
	int			 line;		/* current line, from 1 */
	enum conf_section	 sec;
	struct conf_listener	*lst;		/* in a [listener NAME] */
	int			 seen[CONF_MAX_DIRECTIVES];	/* key lines */
	int			 lseen[CONF_MAX_LISTENERS][CONF_MAX_DIRECTIVES];
	int			 err_line;	/* first error, 0: none */
	char			 why[CONF_WHY_MAX];
};

static int conf_error(struct conf_parse *, int, const char *, ...)
    PRINTFLIKE(3, 4);

/* Records the first error as "FILE:LINE: message"; returns 0 for inih. */
static int
conf_error(struct conf_parse *p, int line, const char *fmt, ...)
{
	char msg[CONF_WHY_MAX - 40];
	va_list ap;

	if (p->err_line != 0)
		return 0;
	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	p->err_line = line > 0 ? line : 1;
	(void)snprintf(p->why, sizeof(p->why), "%s:%d: %s", p->name,
	    p->err_line, msg);
	return 0;
}

static void conf_warn(struct conf_parse *, int, const char *, ...)
    PRINTFLIKE(3, 4);

static void
conf_warn(struct conf_parse *p, int line, const char *fmt, ...)
{
	char msg[CONF_WHY_MAX], full[CONF_WHY_MAX + 64];
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	(void)snprintf(full, sizeof(full), "%s:%d: warning: %s", p->name,
	    line > 0 ? line : 1, msg);
	(void)conf_list_add(&p->conf->warnings, full);
}

/* Table defaults for one section into base; a failure is a table bug. */
static void
conf_apply_defaults(struct conf *conf, void *base, enum conf_section sec)
{
	const struct conf_directive *d;
	char why[CONF_WHY_MAX];
	size_t i;

	for (i = 0; i < conf_ndirectives; i++) {
		d = &conf_directives[i];
		if (d->section != sec || d->dflt == NULL)
			continue;
		if (conf_directive_set(d, conf, base, d->dflt, why,
		    sizeof(why)) == -1)
			fatalx("conf: bad built-in default: %s", why);
	}
}

/* gethostname() if it is a valid host name, else "localhost". */
static void
conf_default_hostname(struct conf *conf)
{
	char host[256];

	if (gethostname(host, sizeof(host)) == -1)
		host[0] = '\0';
	host[sizeof(host) - 1] = '\0';
	conf->hostname = xstrdup(conf_valid_hostname(host) ? host :
	    "localhost");
}

/* A struct with every default except listeners. */
static struct conf *
conf_new(const char *name)
{
	struct conf *conf = xcalloc(1, sizeof(*conf));
	enum conf_section sec;

	conf->path = xstrdup(name);
	for (sec = CONF_SEC_SERVER; sec <= CONF_SEC_DELIVERY; sec++)
		if (sec != CONF_SEC_LISTENER)
			conf_apply_defaults(conf, conf, sec);
	conf_default_hostname(conf);
	return conf;
}

void
conf_free(struct conf *conf)
{
	size_t i;

	if (conf == NULL)
		return;
	for (i = 0; i < conf->nlisteners; i++) {
		free(conf->listeners[i].name);
		free(conf->listeners[i].address);
	}
	free(conf->path);
	free(conf->hostname);
	free(conf->spool);
	free(conf->user);
	free(conf->tls_certificate);
	free(conf->tls_key);
	free(conf->auth_database);
	conf_list_clear(&conf->auth_mechanisms);
	conf_list_clear(&conf->local_domains);
	free(conf->maildir);
	free(conf->dns);
	free(conf->trust_anchor);
	free(conf->relay);
	conf_list_clear(&conf->warnings);
	free(conf);
}

/* Index of a listener-section key in the table (for the seen arrays). */
static size_t
conf_listener_key(const char *name)
{
	size_t i;

	if (conf_directive_find(CONF_SEC_LISTENER, name, &i) == NULL)
		fatalx("conf: no listener key %s", name);
	return i;
}

/* Adds a listener with its defaults; the caller checks the limit. */
static struct conf_listener *
conf_listener_add(struct conf *conf, const char *name, int line)
{
	struct conf_listener *l = &conf->listeners[conf->nlisteners++];

	memset(l, 0, sizeof(*l));
	l->name = xstrdup(name);
	l->line = line;
	conf_apply_defaults(conf, l, CONF_SEC_LISTENER);
	return l;
}

/* SPEC §4: mx on 127.0.0.1:2525, submission on 127.0.0.1:5587. */
static void
conf_builtin_listeners(struct conf *conf)
{
	static const char *const rows[2][5] = {
		{ "mx", "127.0.0.1:2525", "mx", "starttls", "optional" },
		{ "submission", "127.0.0.1:5587", "submission", "starttls",
		    "required" },
	};
	static const char *const keys[4] = { "address", "mode", "tls",
	    "auth" };
	struct conf_listener *l;
	char why[CONF_WHY_MAX];
	size_t i, k;

	for (i = 0; i < 2; i++) {
		l = conf_listener_add(conf, rows[i][0], 0);
		for (k = 0; k < 4; k++)
			if (conf_directive_set(&conf_directives[
			    conf_listener_key(keys[k])], conf, l,
			    rows[i][k + 1], why, sizeof(why)) == -1)
				fatalx("conf: bad built-in listener: %s", why);
	}
}

/*
 * Length of s[0..len) without a "#" or ";" comment: one starts the line,
 * follows a blank, or follows the "=" directly ("key =#x" is an empty
 * value, as "key = #x" is, so `config show` output reads back the same).
 */
static size_t
conf_strip_comment(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if ((s[i] == '#' || s[i] == ';') && (i == 0 ||
		    s[i - 1] == ' ' || s[i - 1] == '\t' || s[i - 1] == '='))
			return i;
	return len;
}

static int
conf_valid_listener_name(const char *s, size_t len)
{
	size_t i;

	if (len == 0 || len > CONF_NAME_MAX)
		return 0;
	for (i = 0; i < len; i++)
		if (!(s[i] >= 'a' && s[i] <= 'z') &&
		    !(s[i] >= 'A' && s[i] <= 'Z') &&
		    !(s[i] >= '0' && s[i] <= '9') && s[i] != '-' &&
		    s[i] != '_' && s[i] != '.')
			return 0;
	return 1;
}

/* "[listener NAME]": a new listener, unique by name. */
static void
conf_open_listener(struct conf_parse *p, const char *name, size_t len)
{
	struct conf *conf = p->conf;
	char buf[CONF_NAME_MAX + 1];
	size_t i;

	if (!conf_valid_listener_name(name, len)) {
		conf_error(p, p->line, "bad listener name '%.*s' (1 to %d "
		    "letters, digits, '-', '_' or '.'): [listener NAME]",
		    (int)(len > 64 ? 64 : len), name, CONF_NAME_MAX);
		return;
	}
	memcpy(buf, name, len);
	buf[len] = '\0';
	for (i = 0; i < conf->nlisteners; i++)
		if (strcmp(conf->listeners[i].name, buf) == 0) {
			conf_error(p, p->line, "duplicate listener name '%s' "
			    "(first at line %d)", buf, conf->listeners[i].line);
			return;
		}
	if (conf->nlisteners >= CONF_MAX_LISTENERS) {
		conf_error(p, p->line, "too many listeners (at most %d)",
		    CONF_MAX_LISTENERS);
		return;
	}
	p->lst = conf_listener_add(conf, buf, p->line);
	p->sec = CONF_SEC_LISTENER;
}

/* A "[...]" line (trimmed, comment removed): opens a section. */
static void
conf_section_header(struct conf_parse *p, const char *s, size_t len)
{
	const char *kind, *arg;
	size_t klen, alen;
	enum conf_section sec;

	if (len < 2 || s[len - 1] != ']') {
		conf_error(p, p->line, "bad section header: expected [NAME] "
		    "or [listener NAME]");
		return;
	}
	for (kind = s + 1; kind < s + len - 1 && (*kind == ' ' ||
	    *kind == '\t'); kind++)
		;
	for (klen = 0; kind + klen < s + len - 1 && kind[klen] != ' ' &&
	    kind[klen] != '\t'; klen++)
		;
	for (arg = kind + klen; arg < s + len - 1 && (*arg == ' ' ||
	    *arg == '\t'); arg++)
		;
	for (alen = s + len - 1 - arg; alen > 0 && (arg[alen - 1] == ' ' ||
	    arg[alen - 1] == '\t'); alen--)
		;
	p->sec = CONF_SEC_NONE;
	p->lst = NULL;
	for (sec = CONF_SEC_SERVER; sec <= CONF_SEC_DELIVERY; sec++)
		if (strlen(conf_section_str(sec)) == klen &&
		    strncasecmp(conf_section_str(sec), kind, klen) == 0)
			break;
	if (sec > CONF_SEC_DELIVERY)
		conf_error(p, p->line, "unknown section [%.*s] (known: server, "
		    "listener NAME, tls, auth, domains, delivery)",
		    (int)(klen > 64 ? 64 : klen), kind);
	else if (sec == CONF_SEC_LISTENER)
		conf_open_listener(p, arg, alen);
	else if (alen != 0)
		conf_error(p, p->line, "section [%s] takes no name",
		    conf_section_str(sec));
	else
		p->sec = sec;
}

/*
 * Takes the next line of the buffer, counting it: *s and *len without the
 * line end (LF or CRLF) and, on line 1, without a UTF-8 byte order mark.
 */
static void
conf_next_line(struct conf_parse *p, const char **s, size_t *len)
{
	const char *nl;

	*s = p->buf + p->pos;
	nl = memchr(*s, '\n', p->len - p->pos);
	*len = nl != NULL ? (size_t)(nl - *s) : p->len - p->pos;
	p->pos += *len + (nl != NULL);
	p->line++;
	if (*len > 0 && (*s)[*len - 1] == '\r')
		(*len)--;
	if (p->line == 1 && *len >= 3 && memcmp(*s, "\xef\xbb\xbf", 3) == 0) {
		*s += 3;
		*len -= 3;
	}
}

/*
 * inih's reader: hands over the next line, trimmed and without comments;
 * section headers are handled here and passed on as blank lines. Returns
 * NULL at the end or after the first error, which ends the parse.
 */
static char *
conf_reader(char *str, int num, void *stream)
{
	struct conf_parse *p = stream;
	const char *s;
	size_t len, max;

	if (p->err_line != 0 || p->pos >= p->len || num < 3)
		return NULL;
	conf_next_line(p, &s, &len);
	max = (size_t)num - 2 < CONF_LINE_MAX ? (size_t)num - 2 :
	    CONF_LINE_MAX;
	if (len > max) {
		conf_error(p, p->line, "line too long (at most %zu bytes)",
		    max);
		return NULL;
	}
	if (memchr(s, '\0', len) != NULL) {
		conf_error(p, p->line, "NUL byte in line");
		return NULL;
	}
	len = conf_strip_comment(s, len);
	for (; len > 0 && (*s == ' ' || *s == '\t'); s++, len--)
		;
	while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t' ||
	    s[len - 1] == '\r'))
		len--;
	if (len > 0 && s[0] == '[') {
		conf_section_header(p, s, len);
		len = 0;
	}
	if (p->err_line != 0)
		return NULL;
	memcpy(str, s, len);
	str[len] = '\n';
	str[len + 1] = '\0';
	return str;
}

/* Where a key that is not in section sec belongs, for the message. */
static const char *
conf_key_home(const char *name)
{
	size_t i;

	for (i = 0; i < conf_ndirectives; i++)
		if (strcasecmp(conf_directives[i].name, name) == 0)
			return conf_directives[i].section == CONF_SEC_LISTENER ?
			    "listener NAME" :
			    conf_section_str(conf_directives[i].section);
	return NULL;
}

/* inih's handler: one "key = value" of the current section. */
static int
conf_handler(void *user, const char *section, const char *name,
    const char *value)
{
	struct conf_parse *p = user;
	const struct conf_directive *d;
	const char *home;
	char msg[CONF_WHY_MAX];
	size_t idx;
	int *seen;

	if (p->err_line != 0)
		return 0;
	if (name[0] == '\0')
		return conf_error(p, p->line, "missing key before '='");
	if (p->sec == CONF_SEC_NONE)
		return conf_error(p, p->line, "'%.64s' is outside any section",
		    name);
	if ((d = conf_directive_find(p->sec, name, &idx)) == NULL) {
		home = conf_key_home(name);
		return conf_error(p, p->line,
		    "unknown key '%.64s' in [%s]%s%s%s", name,
		    p->sec == CONF_SEC_LISTENER ? "listener NAME" :
		    conf_section_str(p->sec), home ? " (it belongs in [" : "",
		    home ? home : "", home ? "])" : "");
	}
	seen = p->sec == CONF_SEC_LISTENER ?
	    p->lseen[p->lst - p->conf->listeners] : p->seen;
	if (seen[idx] != 0)
		return conf_error(p, p->line, "duplicate key '%s' (first set "
		    "at line %d)", d->name, seen[idx]);
	seen[idx] = p->line;
	if (conf_directive_set(d, p->conf, p->sec == CONF_SEC_LISTENER ?
	    (void *)p->lst : (void *)p->conf, value, msg, sizeof(msg)) == -1)
		return conf_error(p, p->line, "%s", msg);
	return 1;
}

static int
sa_is_wildcard(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return ((const struct sockaddr_in *)ss)->sin_addr.s_addr ==
		    htonl(INADDR_ANY);
	return IN6_IS_ADDR_UNSPECIFIED(
	    &((const struct sockaddr_in6 *)ss)->sin6_addr);
}

/* 1 if binding both would collide: same port, same or wildcard address. */
static int
conf_addr_overlap(const struct conf_listener *a, const struct conf_listener *b)
{
	const struct sockaddr_in *a4, *b4;
	const struct sockaddr_in6 *a6, *b6;

	if (a->sa.ss_family != b->sa.ss_family)
		return 0;
	if (a->sa.ss_family == AF_INET) {
		a4 = (const struct sockaddr_in *)&a->sa;
		b4 = (const struct sockaddr_in *)&b->sa;
		if (a4->sin_port != b4->sin_port)
			return 0;
		return a4->sin_addr.s_addr == b4->sin_addr.s_addr ||
		    sa_is_wildcard(&a->sa) || sa_is_wildcard(&b->sa);
	}
	a6 = (const struct sockaddr_in6 *)&a->sa;
	b6 = (const struct sockaddr_in6 *)&b->sa;
	if (a6->sin6_port != b6->sin6_port)
		return 0;
	return IN6_ARE_ADDR_EQUAL(&a6->sin6_addr, &b6->sin6_addr) ||
	    sa_is_wildcard(&a->sa) || sa_is_wildcard(&b->sa);
}

/* Checks one listener after its section: address, auth, collisions. */
static int
conf_finish_listener(struct conf_parse *p, size_t i)
{
	struct conf_listener *l = &p->conf->listeners[i];
	int *seen = p->lseen[i];
	size_t addr = conf_listener_key("address");
	size_t auth = conf_listener_key("auth");
	size_t j;

	if (seen[addr] == 0)
		return conf_error(p, l->line, "listener '%s' has no address "
		    "(e.g. address = 0.0.0.0:25)", l->name);
	if (seen[auth] == 0)
		l->auth = l->mode == LISTENER_SUBMISSION ?
		    LISTENER_AUTH_REQUIRED : LISTENER_AUTH_OFF;
	if (l->mode == LISTENER_MX && l->auth == LISTENER_AUTH_REQUIRED)
		return conf_error(p, seen[auth], "listener '%s': auth = "
		    "required would refuse mail from other servers on an mx "
		    "listener (use mode = submission)", l->name);
	if (l->mode == LISTENER_SUBMISSION && l->auth == LISTENER_AUTH_OFF)
		return conf_error(p, seen[auth], "listener '%s': a submission "
		    "listener needs auth = optional or required", l->name);
	for (j = 0; j < i; j++)
		if (conf_addr_overlap(&p->conf->listeners[j], l))
			return conf_error(p, seen[addr], "listener '%s': "
			    "address %s collides with listener '%s' (%s, "
			    "line %d)", l->name, l->address,
			    p->conf->listeners[j].name,
			    p->conf->listeners[j].address,
			    p->lseen[j][addr]);
	if (l->mode == LISTENER_SUBMISSION && l->tls == LISTENER_TLS_NONE &&
	    !p->conf->auth_plaintext)
		conf_warn(p, l->line, "listener '%s': AUTH is never offered "
		    "(tls = none and [auth] plaintext = no)", l->name);
	return 1;
}

/* STYLE §10: a secrets file may not be open to group or others. */
static int
conf_check_secret(struct conf_parse *p, const char *path, int line)
{
	struct stat st;

	if (stat(path, &st) == -1) {
		if (errno == ENOENT)
			return 1;	/* generated at start (self-signed) */
		return conf_error(p, line, "key: cannot stat %s: %s", path,
		    strerror(errno));
	}
	if (!S_ISREG(st.st_mode))
		return conf_error(p, line, "key: %s is not a regular file",
		    path);
	if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0)
		return conf_error(p, line, "key: %s is accessible by group or "
		    "others (mode %04o); chmod 600 it", path,
		    (unsigned)(st.st_mode & 07777));
	return 1;
}

static char *
conf_spool_path(const struct conf *conf, const char *rel)
{
	char *path;

	if (asprintf(&path, "%s/%s", conf->spool, rel) == -1)
		fatal("asprintf");
	return path;
}

/*
 * The certificate and key default to the spool's tls/ directory, so a
 * daemon started from any working directory finds (or makes) them there.
 */
static void
conf_default_tls_paths(struct conf *conf)
{
	if (conf->tls_certificate == NULL)
		conf->tls_certificate = conf_spool_path(conf, "tls/cert.pem");
	if (conf->tls_key == NULL)
		conf->tls_key = conf_spool_path(conf, "tls/key.pem");
}

/* Whole-file checks after the last line. 0 or -1 with p->why set. */
static int
conf_finish(struct conf_parse *p)
{
	struct conf *conf = p->conf;
	size_t i, key;

	conf_default_tls_paths(conf);
	for (i = 0; i < conf->nlisteners; i++)
		if (!conf_finish_listener(p, i))
			return -1;
	if (conf->nlisteners == 0) {
		conf_error(p, p->line, "no [listener NAME] section: at least "
		    "one listener is needed");
		return -1;
	}
	(void)conf_directive_find(CONF_SEC_TLS, "key", &key);
	if (p->seen[key] != 0 &&
	    !conf_check_secret(p, conf->tls_key, p->seen[key]))
		return -1;
	(void)conf_directive_find(CONF_SEC_AUTH, "mechanisms", &key);
	for (i = 0; i < conf->auth_mechanisms.n; i++)
		if (strcmp(conf->auth_mechanisms.v[i], "CRAM-MD5") == 0)
			conf_warn(p, p->seen[key], "CRAM-MD5 needs a "
			    "plaintext-equivalent secret stored for each user");
	(void)conf_directive_find(CONF_SEC_AUTH, "plaintext", &key);
	if (conf->auth_plaintext)
		conf_warn(p, p->seen[key], "plaintext = yes offers AUTH "
		    "without TLS: passwords may cross the network in clear");
	return 0;
}

/*
 * Loads text as a config named name. The inih globals are Debian's
 * run-time knobs: a heap line buffer of CONF_LINE_MAX, since the
 * compiled-in 200 bytes is short for a list of domains.
 */
struct conf *
conf_load_buffer(const char *text, size_t len, const char *name, char *why,
    size_t whysz)
{
	struct conf_parse *p;
	struct conf *conf = NULL;
	int rc;

	p = xcalloc(1, sizeof(*p));
	p->conf = conf_new(name);
	p->name = name;
	p->buf = text;
	p->len = len;
	ini_use_stack = false;
	ini_allow_realloc = false;
	ini_max_line = ini_initial_alloc = CONF_LINE_MAX + 2;
	rc = ini_parse_stream(conf_reader, p, conf_handler, p);
	if (rc == -2)
		(void)snprintf(p->why, sizeof(p->why), "%s: out of memory",
		    name);
	else if (rc > 0 && (p->err_line == 0 || rc < p->err_line)) {
		p->err_line = 0;
		conf_error(p, rc, "syntax error: expected 'key = value', "
		    "'[section]' or a comment");
	}
	if (rc == -2 || p->err_line != 0 || conf_finish(p) == -1)
		goto fail;
	conf = p->conf;
	p->conf = NULL;
fail:
	if (conf == NULL)
		(void)snprintf(why, whysz, "%s", p->why);
	conf_free(p->conf);
	free(p);
	return conf;
}

/* Reads path whole (at most CONF_FILE_MAX); *textp is the caller's. */
static int
conf_read_file(const char *path, char **textp, size_t *lenp, char *why,
    size_t whysz)
{
	char *text = NULL;
	size_t len = 0;
	ssize_t n;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		(void)snprintf(why, whysz, "%s: %s", path, strerror(errno));
		return -1;
	}
	text = xmalloc(CONF_FILE_MAX + 1);
	while (len <= CONF_FILE_MAX) {
		n = read(fd, text + len, CONF_FILE_MAX + 1 - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			(void)snprintf(why, whysz, "%s: %s", path,
			    strerror(errno));
			goto fail;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len > CONF_FILE_MAX) {
		(void)snprintf(why, whysz, "%s: file too large (over %d "
		    "bytes)", path, CONF_FILE_MAX);
		goto fail;
	}
	close(fd);
	*textp = text;
	*lenp = len;
	return 0;
fail:
	free(text);
	close(fd);
	return -1;
}

struct conf *
conf_load(const char *path, char *why, size_t whysz)
{
	struct conf *conf;
	char *text;
	size_t len;

	if (path == NULL) {
		conf = conf_new(CONF_DEFAULTS_NAME);
		conf_builtin_listeners(conf);
		conf_default_tls_paths(conf);
		return conf;
	}
	if (conf_read_file(path, &text, &len, why, whysz) == -1)
		return NULL;
	conf = conf_load_buffer(text, len, path, why, whysz);
	free(text);
	return conf;
}

const char *
conf_default_path(void)
{
	return access(CONF_DEFAULT_FILE, F_OK) == 0 ? CONF_DEFAULT_FILE : NULL;
}

int
conf_is_local_domain(const struct conf *conf, const char *domain, size_t len)
{
	size_t i;

	for (i = 0; i < conf->local_domains.n; i++)
		if (strlen(conf->local_domains.v[i]) == len &&
		    strncasecmp(conf->local_domains.v[i], domain, len) == 0)
			return 1;
	return 0;
}

/* One section's keys as "key = value" lines. */
static int
conf_dump_section(const struct conf *conf, const void *base,
    enum conf_section sec, FILE *out)
{
	char value[CONF_LINE_MAX];
	size_t i;

	for (i = 0; i < conf_ndirectives; i++) {
		if (conf_directives[i].section != sec)
			continue;
		if (conf_directive_format(&conf_directives[i], conf, base,
		    value, sizeof(value)) == -1)
			return -1;
		if (fprintf(out, "%s =%s%s\n", conf_directives[i].name,
		    value[0] ? " " : "", value) < 0)
			return -1;
	}
	return 0;
}

int
conf_dump(const struct conf *conf, FILE *out)
{
	enum conf_section sec;
	size_t i;

	for (sec = CONF_SEC_SERVER; sec <= CONF_SEC_DELIVERY; sec++) {
		if (sec == CONF_SEC_LISTENER)
			continue;
		if (fprintf(out, "[%s]\n", conf_section_str(sec)) < 0 ||
		    conf_dump_section(conf, conf, sec, out) == -1 ||
		    fprintf(out, "\n") < 0)
			return -1;
	}
	for (i = 0; i < conf->nlisteners; i++)
		if (fprintf(out, "[listener %s]\n", conf->listeners[i].name) <
		    0 || conf_dump_section(conf, &conf->listeners[i],
		    CONF_SEC_LISTENER, out) == -1 || fprintf(out, "%s",
		    i + 1 < conf->nlisteners ? "\n" : "") < 0)
			return -1;
	return fflush(out) == EOF ? -1 : 0;
}
