/*
 * Unit tests for src/conf/: the value parsers (sizes, durations), the
 * built-in defaults, and a table of config files {name, text, want} where
 * want is NULL for a file that loads (then a check function asserts the
 * values) or the exact "LINE: message" after "FILE:". Each text is written
 * to a file in a temporary directory and read back through conf_load().
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "conf/conf.h"

static char tmpdir[64];

/* Writes len bytes of text to tmpdir/name; returns the path (static). */
static const char *
write_file(const char *name, const char *text, size_t len, mode_t mode)
{
	static char path[128];
	FILE *f;

	(void)snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	assert_non_null(f = fopen(path, "w"));
	assert_int_equal(fwrite(text, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(chmod(path, mode), 0);
	return path;
}

static int
setup(void **state)
{
	(void)snprintf(tmpdir, sizeof(tmpdir), "/tmp/conf_test.XXXXXX");
	return mkdtemp(tmpdir) == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
	char cmd[128];

	(void)snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

/* Port and family of a listener's resolved address; text form in buf. */
static unsigned
lport(const struct conf_listener *l, char *buf, size_t bufsz)
{
	const struct sockaddr_in *s4 = (const void *)&l->sa;
	const struct sockaddr_in6 *s6 = (const void *)&l->sa;

	if (l->sa.ss_family == AF_INET) {
		assert_int_equal(l->salen, sizeof(*s4));
		assert_non_null(inet_ntop(AF_INET, &s4->sin_addr, buf, bufsz));
		return ntohs(s4->sin_port);
	}
	assert_int_equal(l->sa.ss_family, AF_INET6);
	assert_int_equal(l->salen, sizeof(*s6));
	assert_non_null(inet_ntop(AF_INET6, &s6->sin6_addr, buf, bufsz));
	return ntohs(s6->sin6_port);
}

static void
assert_listener(const struct conf_listener *l, const char *name,
    const char *host, unsigned port, enum listener_mode mode,
    enum listener_tls tls, enum listener_auth auth)
{
	char buf[64];

	assert_string_equal(l->name, name);
	assert_int_equal(lport(l, buf, sizeof(buf)), port);
	assert_string_equal(buf, host);
	assert_int_equal(l->mode, mode);
	assert_int_equal(l->tls, tls);
	assert_int_equal(l->auth, auth);
}

static void
assert_list(const struct conf_list *list, const char *const *want)
{
	size_t i;

	for (i = 0; want[i] != NULL; i++) {
		assert_true(i < list->n);
		assert_string_equal(list->v[i], want[i]);
	}
	assert_int_equal(list->n, i);
}

#define LIST(...) ((const char *const[]){ __VA_ARGS__, NULL })
#define NOLIST ((const char *const[]){ NULL })

/* The defaults every file gets for the keys it does not set. */
static void
assert_common_defaults(const struct conf *c)
{
	static const unsigned retry[] = { 60, 300, 900, 3600, 14400 };

	assert_non_null(c->hostname);
	assert_true(c->hostname[0] != '\0');
	assert_string_equal(c->spool, "./var/spool");
	assert_null(c->user);
	assert_int_equal(c->max_message_size, 35 * 1024 * 1024);
	assert_int_equal(c->max_recipients, 100);
	assert_int_equal(c->max_connections, 1000);
	assert_int_equal(c->timeout, 300);
	assert_int_equal(c->workers, 0);
	assert_string_equal(c->tls_certificate, "./var/spool/tls/cert.pem");
	assert_string_equal(c->tls_key, "./var/spool/tls/key.pem");
	assert_string_equal(c->auth_database, "./var/users.db");
	assert_list(&c->auth_mechanisms, LIST("SCRAM-SHA-256", "PLAIN",
	    "LOGIN"));
	assert_int_equal(c->auth_plaintext, 0);
	assert_int_equal(c->auth_sender_login_match, 0);
	assert_int_equal(c->auth_max_failures, 5);
	assert_int_equal(c->auth_failure_window, 600);
	assert_list(&c->local_domains, LIST("localhost"));
	assert_string_equal(c->maildir, "./var/mail/%d/%u");
	assert_null(c->dns);
	assert_null(c->trust_anchor);
	assert_int_equal(c->remote_port, 25);
	assert_null(c->relay);
	assert_int_equal(c->nretry, 5);
	assert_memory_equal(c->retry, retry, sizeof(retry));
	assert_int_equal(c->max_queue_time, 5 * 86400);
	assert_int_equal(c->warnings.n, 0);
}

static void
check_minimal(const struct conf *c)
{
	assert_common_defaults(c);
	assert_int_equal(c->nlisteners, 1);
	assert_listener(&c->listeners[0], "mx", "127.0.0.1", 25, LISTENER_MX,
	    LISTENER_TLS_NONE, LISTENER_AUTH_OFF);
	assert_string_equal(c->listeners[0].address, "127.0.0.1:25");
	assert_int_equal(c->listeners[0].line, 1);
}

static void
check_spec(const struct conf *c)
{
	static const unsigned retry[] = { 60, 300, 900, 3600, 14400 };

	assert_string_equal(c->hostname, "mx.example.test");
	assert_string_equal(c->spool, "/var/spool/postern");
	assert_null(c->user);
	assert_int_equal(c->max_message_size, 36700160);
	assert_int_equal(c->max_recipients, 100);
	assert_int_equal(c->max_connections, 1000);
	assert_int_equal(c->timeout, 300);
	assert_int_equal(c->nlisteners, 2);
	assert_listener(&c->listeners[0], "mx", "0.0.0.0", 25, LISTENER_MX,
	    LISTENER_TLS_STARTTLS, LISTENER_AUTH_OFF);
	assert_listener(&c->listeners[1], "submission", "0.0.0.0", 587,
	    LISTENER_SUBMISSION, LISTENER_TLS_STARTTLS,
	    LISTENER_AUTH_REQUIRED);
	assert_int_equal(c->listeners[1].line, 16);
	assert_string_equal(c->tls_certificate, "/etc/postern/cert.pem");
	assert_string_equal(c->tls_key, "/etc/postern/key.pem");
	assert_string_equal(c->auth_database, "/var/lib/postern/users.db");
	assert_list(&c->auth_mechanisms, LIST("SCRAM-SHA-256", "PLAIN",
	    "LOGIN"));
	assert_int_equal(c->auth_plaintext, 0);
	assert_list(&c->local_domains, LIST("example.test", "example.org"));
	assert_string_equal(c->maildir, "/var/mail/%d/%u");
	assert_string_equal(c->dns, "127.0.0.1:5353");
	assert_null(c->trust_anchor);
	assert_int_equal(c->remote_port, 25);
	assert_null(c->relay);
	assert_int_equal(c->nretry, 5);
	assert_memory_equal(c->retry, retry, sizeof(retry));
	assert_int_equal(c->max_queue_time, 432000);
	assert_int_equal(c->warnings.n, 0);
}

static const char spec_text[] =
    "[server]\n"
    "hostname = mx.example.test        # greeting, EHLO\n"
    "spool = /var/spool/postern        # queue and state\n"
    "user =                            # drop to it after binding\n"
    "max_message_size = 35M            # advertised as SIZE\n"
    "max_recipients = 100\n"
    "max_connections = 1000\n"
    "timeout = 5m                      # idle timeout -> 421 4.4.2\n"
    "\n"
    "[listener mx]                     # one section per socket\n"
    "address = 0.0.0.0:25              # host:port or [v6]:port\n"
    "mode = mx                         # mx | submission\n"
    "tls = starttls                    # none | starttls | implicit\n"
    "auth = off                        # off | optional | required\n"
    "\n"
    "[listener submission]\n"
    "address = 0.0.0.0:587\n"
    "mode = submission\n"
    "tls = starttls\n"
    "\n"
    "[tls]\n"
    "certificate = /etc/postern/cert.pem\n"
    "key = /etc/postern/key.pem\n"
    "\n"
    "[auth]\n"
    "database = /var/lib/postern/users.db        # SQLite\n"
    "mechanisms = SCRAM-SHA-256, PLAIN, LOGIN    # CRAM-MD5 only if listed\n"
    "plaintext = no                    # yes: offer AUTH without TLS too\n"
    "\n"
    "[domains]\n"
    "local = example.test, example.org\n"
    "\n"
    "[delivery]\n"
    "maildir = /var/mail/%d/%u         # %d domain, %u local part\n"
    "dns = 127.0.0.1:5353              # optional resolver address\n"
    "trust_anchor =                    # DNSSEC root key file\n"
    "                                  # empty: no validation\n"
    "remote_port = 25                  # port used for MX hosts\n"
    "relay =                           # optional smarthost host:port\n"
    "retry = 1m, 5m, 15m, 1h, 4h       # back-off; the last step repeats\n"
    "max_queue_time = 5d\n";

static void
check_every_key(const struct conf *c)
{
	static const unsigned retry[] = { 30, 120, 3600 };

	assert_string_equal(c->hostname, "Mail.Example.NET");
	assert_string_equal(c->spool, "spool-dir");
	assert_string_equal(c->user, "root");
	assert_int_equal(c->max_message_size, 10 * 1024);
	assert_int_equal(c->max_recipients, 7);
	assert_int_equal(c->max_connections, 20);
	assert_int_equal(c->timeout, 45);
	assert_int_equal(c->workers, 3);
	assert_string_equal(c->tls_certificate, "c.pem");
	assert_string_equal(c->tls_key, "/nonexistent/k.pem");
	assert_string_equal(c->auth_database, "u.db");
	assert_list(&c->auth_mechanisms, LIST("PLAIN", "CRAM-MD5",
	    "SCRAM-SHA-256-PLUS"));
	assert_int_equal(c->auth_plaintext, 1);
	assert_int_equal(c->auth_sender_login_match, 1);
	assert_int_equal(c->auth_max_failures, 3);
	assert_int_equal(c->auth_failure_window, 5400);
	assert_list(&c->local_domains, LIST("example.test", "example.org"));
	assert_string_equal(c->maildir, "/srv/%d/%u/Maildir%%");
	assert_string_equal(c->dns, "[::1]:53");
	assert_string_equal(c->trust_anchor, "/dev/null");
	assert_int_equal(c->remote_port, 2525);
	assert_string_equal(c->relay, "smtp.example.net:587");
	assert_int_equal(c->nretry, 3);
	assert_memory_equal(c->retry, retry, sizeof(retry));
	assert_int_equal(c->max_queue_time, 2 * 86400);
	assert_int_equal(c->nlisteners, 1);
	assert_listener(&c->listeners[0], "sub-1.x_y", "::1", 587,
	    LISTENER_SUBMISSION, LISTENER_TLS_IMPLICIT,
	    LISTENER_AUTH_OPTIONAL);
	assert_int_equal(c->warnings.n, 2);
	assert_string_equal(strchr(c->warnings.v[0], ':'), ":15: warning: "
	    "CRAM-MD5 needs a plaintext-equivalent secret stored for each "
	    "user");
	assert_string_equal(strchr(c->warnings.v[1], ':'), ":16: warning: "
	    "plaintext = yes offers AUTH without TLS: passwords may cross "
	    "the network in clear");
}

static const char every_key_text[] =
    "[server]\n"
    "hostname = Mail.Example.NET\n"
    "spool = spool-dir\n"
    "user = root\n"
    "max_message_size = 10k\n"
    "max_recipients = 7\n"
    "max_connections = 20\n"
    "timeout = 45\n"
    "workers = 3\n"
    "[tls]\n"
    "certificate = c.pem\n"
    "key = /nonexistent/k.pem\n"
    "[auth]\n"
    "database = u.db\n"
    "mechanisms = plain,Cram-MD5 ,  scram-sha-256-plus\n"
    "plaintext = YES\n"
    "sender_login_match = on\n"
    "max_failures = 3\n"
    "failure_window = 1h30m\n"
    "[domains]\n"
    "local = Example.TEST , example.org\n"
    "[delivery]\n"
    "maildir = /srv/%d/%u/Maildir%%\n"
    "dns = [::1]\n"
    "trust_anchor = /dev/null\n"
    "remote_port = 2525\n"
    "relay = smtp.example.net:587\n"
    "retry = 30s,2m ,1h\n"
    "max_queue_time = 2d\n"
    "[listener sub-1.x_y]\n"
    "address = [::1]:587\n"
    "mode = Submission\n"
    "tls = implicit\n"
    "auth = optional\n";

static void
check_listeners(const struct conf *c)
{
	assert_int_equal(c->nlisteners, 5);
	assert_listener(&c->listeners[0], "a", "0.0.0.0", 25, LISTENER_MX,
	    LISTENER_TLS_NONE, LISTENER_AUTH_OFF);
	assert_string_equal(c->listeners[0].address, "*:25");
	assert_listener(&c->listeners[1], "b", "::", 25, LISTENER_MX,
	    LISTENER_TLS_STARTTLS, LISTENER_AUTH_OFF);
	assert_listener(&c->listeners[2], "c", "127.0.0.1", 2525, LISTENER_MX,
	    LISTENER_TLS_NONE, LISTENER_AUTH_OPTIONAL);
	assert_string_equal(c->listeners[2].address, "localhost:2525");
	assert_listener(&c->listeners[3], "d", "::1", 2526,
	    LISTENER_SUBMISSION, LISTENER_TLS_STARTTLS,
	    LISTENER_AUTH_REQUIRED);
	assert_int_equal(c->listeners[3].line, 9);
	assert_listener(&c->listeners[4], "e", "127.0.0.2", 26,
	    LISTENER_SUBMISSION, LISTENER_TLS_NONE, LISTENER_AUTH_REQUIRED);
	assert_int_equal(c->warnings.n, 1);
	assert_string_equal(strchr(c->warnings.v[0], ':'), ":13: warning: "
	    "listener 'e': AUTH is never offered (tls = none and [auth] "
	    "plaintext = no)");
}

static void
check_comments(const struct conf *c)
{
	assert_string_equal(c->spool, "/var/spool/a#b;c");
	assert_string_equal(c->hostname, "h.example");
	assert_int_equal(c->timeout, 60);
	assert_int_equal(c->nlisteners, 1);
	assert_string_equal(c->listeners[0].name, "mx");
}

static void
check_case(const struct conf *c)
{
	assert_int_equal(c->timeout, 60);
	assert_int_equal(c->nlisteners, 1);
	assert_listener(&c->listeners[0], "MX", "127.0.0.1", 25, LISTENER_MX,
	    LISTENER_TLS_STARTTLS, LISTENER_AUTH_OPTIONAL);
	assert_int_equal(c->auth_plaintext, 1);
}

static void
check_empty_optional(const struct conf *c)
{
	assert_null(c->user);
	assert_null(c->dns);
	assert_null(c->relay);
	assert_null(c->trust_anchor);
	assert_int_equal(c->local_domains.n, 0);
}

static void
check_repeated_section(const struct conf *c)
{
	assert_int_equal(c->timeout, 60);
	assert_int_equal(c->workers, 2);
	assert_int_equal(c->remote_port, 26);
	assert_string_equal(c->relay, "[2001:db8::1]:25");
}

static void
check_colon(const struct conf *c)
{
	assert_int_equal(c->timeout, 7200);
	assert_int_equal(c->auth_plaintext, 0);
	assert_int_equal(c->max_message_size, 1024ULL * 1024 * 1024 * 2);
	assert_int_equal(c->nretry, 1);
	assert_int_equal(c->retry[0], 604800);
	assert_int_equal(c->max_queue_time, 0);
}

#define L "[listener mx]\naddress = 127.0.0.1:25\n"

struct conf_case {
	const char	*name;
	const char	*text;
	const char	*want;	/* NULL: loads; else "LINE: message" */
	void		(*check)(const struct conf *);
};

static const struct conf_case cases[] = {
	/* Files that load. */
	{ "minimal", L, NULL, check_minimal },
	{ "spec_example", spec_text, NULL, check_spec },
	{ "every_key", every_key_text, NULL, check_every_key },
	{ "listeners", "[listener a]\naddress = *:25\n"
	    "[listener b]\naddress = [::]:25\ntls = starttls\n"
	    "[listener c]\naddress = localhost:2525\nauth = optional\n"
	    "[listener d]\naddress=[::1]:2526\nmode=submission\ntls=starttls\n"
	    "[listener e]\naddress = 127.0.0.2:26\nmode = submission\n",
	    NULL, check_listeners },
	{ "comments", "# a comment\n; another\n  # indented\n"
	    "[server]   # trailing\n"
	    "spool = /var/spool/a#b;c\n"
	    "hostname = h.example # comment\n"
	    "timeout = 1m\t; comment\n\n\n" L, NULL, check_comments },
	{ "crlf_bom", "\xef\xbb\xbf[server]\r\ntimeout = 1m\r\n"
	    "spool = /var/spool/a#b;c \r\n"
	    "hostname = h.example\r\n[listener mx]\r\n"
	    "address = 127.0.0.1:25\r\n", NULL, check_comments },
	{ "no_final_newline", "[server]\nspool=/var/spool/a#b;c\n"
	    "hostname=h.example\ntimeout=1m\n" L "mode = mx", NULL,
	    check_comments },
	{ "case_insensitive", "[SERVER]\nTimeout = 1m\n[Auth]\n"
	    "PlainText = True\n[ Listener   MX ]\nADDRESS = 127.0.0.1:25\n"
	    "Mode = MX\nTLS = StartTLS\nAuth = OPTIONAL\n", NULL, check_case },
	{ "empty_optional", "[server]\nuser =\n[delivery]\ndns =\nrelay =\n"
	    "trust_anchor =\n[domains]\nlocal =\n" L, NULL,
	    check_empty_optional },
	{ "repeated_section", "[server]\ntimeout = 60\n" L "[delivery]\n"
	    "remote_port = 26\n[server]\nworkers = 2\n[delivery]\n"
	    "relay = [2001:db8::1]\n", NULL, check_repeated_section },
	{ "colon_and_limits", "[server]\ntimeout: 2h\nmax_message_size = 2GB\n"
	    "[auth]\nplaintext = 0\n[delivery]\nretry = 7d\n"
	    "max_queue_time = 0\n" L, NULL, check_colon },

	/* Structure. */
	{ "unknown_section", L "[bogus]\n", "3: unknown section [bogus] "
	    "(known: server, listener NAME, tls, auth, domains, delivery)", NULL },
	{ "empty_unknown_section", L "\n[mail]\n# nothing\n",
	    "4: unknown section [mail] (known: server, listener NAME, tls, "
	    "auth, domains, delivery)", NULL },
	{ "unknown_key", L "[server]\nfoo = 1\n",
	    "4: unknown key 'foo' in [server]", NULL },
	{ "key_in_wrong_section", "[server]\nmaildir = /m/%u\n" L,
	    "2: unknown key 'maildir' in [server] (it belongs in [delivery])", NULL },
	{ "listener_key_elsewhere", "[tls]\nmode = mx\n",
	    "2: unknown key 'mode' in [tls] (it belongs in [listener NAME])", NULL },
	{ "unknown_listener_key", L "port = 25\n",
	    "3: unknown key 'port' in [listener NAME]", NULL },
	{ "outside_section", "timeout = 5m\n" L,
	    "1: 'timeout' is outside any section", NULL },
	{ "syntax_no_equals", L "[server]\nhostname\n",
	    "4: syntax error: expected 'key = value', '[section]' or a "
	    "comment", NULL },
	{ "syntax_before_other_error", "[server]\njunk line\nfoo = 1\n",
	    "2: syntax error: expected 'key = value', '[section]' or a "
	    "comment", NULL },
	{ "missing_key", L "[server]\n= 5\n",
	    "4: missing key before '='", NULL },
	{ "bad_header", L "[server\n",
	    "3: bad section header: expected [NAME] or [listener NAME]", NULL },
	{ "header_junk", L "[server] x\n",
	    "3: bad section header: expected [NAME] or [listener NAME]", NULL },
	{ "section_takes_no_name", L "[server main]\n",
	    "3: section [server] takes no name", NULL },
	{ "listener_without_name", "[listener]\naddress = 127.0.0.1:25\n",
	    "1: bad listener name '' (1 to 32 letters, digits, '-', '_' or "
	    "'.'): [listener NAME]", NULL },
	{ "bad_listener_name", "[listener a/b]\n",
	    "1: bad listener name 'a/b' (1 to 32 letters, digits, '-', '_' or "
	    "'.'): [listener NAME]", NULL },
	{ "duplicate_listener", L "mode = mx\n\n[listener mx]\n",
	    "5: duplicate listener name 'mx' (first at line 1)", NULL },
	{ "duplicate_key", "[server]\ntimeout = 5m\n" L "[server]\n"
	    "Timeout = 1m\n", "6: duplicate key 'timeout' (first set at "
	    "line 2)", NULL },
	{ "duplicate_listener_key", L "address = 127.0.0.1:26\n",
	    "3: duplicate key 'address' (first set at line 2)", NULL },
	{ "listener_no_address", "[listener mx]\nmode = mx\n",
	    "1: listener 'mx' has no address (e.g. address = 0.0.0.0:25)", NULL },
	{ "second_listener_no_address", L "\n[listener sub]\n"
	    "mode = submission\n", "4: listener 'sub' has no address (e.g. "
	    "address = 0.0.0.0:25)", NULL },
	{ "no_listener", "[server]\ntimeout = 5m\n\n",
	    "3: no [listener NAME] section: at least one listener is needed", NULL },
	{ "empty_file", "", "1: no [listener NAME] section: at least one "
	    "listener is needed", NULL },

	/* Numbers, sizes, durations, booleans, enums. */
	{ "bad_number", L "[server]\nmax_recipients = 10x\n",
	    "4: max_recipients: bad number '10x'", NULL },
	{ "negative_number", L "[server]\nworkers = -1\n",
	    "4: workers: bad number '-1'", NULL },
	{ "number_too_small", L "[server]\nmax_recipients = 0\n",
	    "4: max_recipients: 0 is out of range (1 to 100000)", NULL },
	{ "number_too_big", L "[server]\nworkers = 257\n",
	    "4: workers: 257 is out of range (0 to 256)", NULL },
	{ "number_overflow", L "[server]\nmax_connections = "
	    "99999999999999999999999\n", "4: max_connections: bad number "
	    "'99999999999999999999999'", NULL },
	{ "max_connections_range", L "[server]\nmax_connections = 1000001\n",
	    "4: max_connections: 1000001 is out of range (1 to 1000000)", NULL },
	{ "port_range", L "[delivery]\nremote_port = 65536\n",
	    "4: remote_port: 65536 is out of range (1 to 65535)", NULL },
	{ "max_failures_range", L "[auth]\nmax_failures = 0\n",
	    "4: max_failures: 0 is out of range (1 to 10000)", NULL },
	{ "bad_size", L "[server]\nmax_message_size = 35Q\n",
	    "4: max_message_size: bad size '35Q' (e.g. 512k, 35M, 1G)", NULL },
	{ "size_too_small", L "[server]\nmax_message_size = 1000\n",
	    "4: max_message_size: 1000 is out of range (1k to 2G)", NULL },
	{ "size_too_big", L "[server]\nmax_message_size = 3G\n",
	    "4: max_message_size: 3G is out of range (1k to 2G)", NULL },
	{ "bad_duration", L "[server]\ntimeout = 5 m\n",
	    "4: timeout: bad duration '5 m' (e.g. 30s, 5m, 1h, 5d)", NULL },
	{ "duration_zero", L "[server]\ntimeout = 0s\n",
	    "4: timeout: 0s is out of range (1s to 1d)", NULL },
	{ "duration_too_long", L "[auth]\nfailure_window = 8d\n",
	    "4: failure_window: 8d is out of range (1s to 7d)", NULL },
	{ "queue_time_too_long", L "[delivery]\nmax_queue_time = 366d\n",
	    "4: max_queue_time: 366d is out of range (0s to 365d)", NULL },
	{ "bad_bool", L "[auth]\nplaintext = maybe\n",
	    "4: plaintext: bad boolean 'maybe' (use yes or no)", NULL },
	{ "empty_bool", L "[auth]\nsender_login_match =\n",
	    "4: sender_login_match: bad boolean '' (use yes or no)", NULL },
	{ "bad_mode", L "mode = relay\n",
	    "3: mode: bad value 'relay' (use mx or submission)", NULL },
	{ "bad_tls", L "tls = yes\n",
	    "3: tls: bad value 'yes' (use none, starttls or implicit)", NULL },
	{ "bad_auth", L "auth = always\n",
	    "3: auth: bad value 'always' (use off, optional or required)", NULL },

	/* Lists. */
	{ "bad_domain", L "[domains]\nlocal = example.test, exa mple.org\n",
	    "4: local: bad domain 'exa mple.org' (ASCII letters, digits, '-' "
	    "and dots; use the xn-- form for IDNs)", NULL },
	{ "utf8_domain", L "[domains]\nlocal = b\xc3\xbc" "cher.example\n",
	    "4: local: bad domain 'b\xc3\xbc" "cher.example' (ASCII letters, "
	    "digits, '-' and dots; use the xn-- form for IDNs)", NULL },
	{ "literal_domain", L "[domains]\nlocal = [192.0.2.1]\n",
	    "4: local: bad domain '[192.0.2.1]' (ASCII letters, digits, '-' "
	    "and dots; use the xn-- form for IDNs)", NULL },
	{ "duplicate_domain", L "[domains]\nlocal = a.test, A.Test\n",
	    "4: local: 'a.test' is listed twice", NULL },
	{ "empty_list_entry", L "[domains]\nlocal = a.test,,b.test\n",
	    "4: empty entry in list", NULL },
	{ "trailing_comma", L "[domains]\nlocal = a.test,\n",
	    "4: empty entry in list", NULL },
	{ "unknown_mechanism", L "[auth]\nmechanisms = PLAIN, GSSAPI\n",
	    "4: mechanisms: unknown mechanism 'GSSAPI' (known: PLAIN, LOGIN, "
	    "SCRAM-SHA-256, SCRAM-SHA-256-PLUS, CRAM-MD5)", NULL },
	{ "duplicate_mechanism", L "[auth]\nmechanisms = plain, PLAIN\n",
	    "4: mechanisms: 'PLAIN' is listed twice", NULL },
	{ "no_mechanism", L "[auth]\nmechanisms =\n",
	    "4: mechanisms: at least one mechanism is needed", NULL },
	{ "retry_empty", L "[delivery]\nretry =\n",
	    "4: retry: give 1 to 16 steps", NULL },
	{ "retry_too_many", L "[delivery]\nretry = 1m,1m,1m,1m,1m,1m,1m,1m,"
	    "1m,1m,1m,1m,1m,1m,1m,1m,1m\n", "4: retry: give 1 to 16 steps", NULL },
	{ "retry_bad", L "[delivery]\nretry = 1m, soon\n",
	    "4: retry: bad duration 'soon' (e.g. 30s, 5m, 1h, 5d)", NULL },
	{ "retry_zero", L "[delivery]\nretry = 1m, 0s\n",
	    "4: retry: 0s is out of range (1s to 7d)", NULL },

	/* Paths, names, addresses. */
	{ "maildir_escape", L "[delivery]\nmaildir = /m/%d/%x\n",
	    "4: maildir: unknown escape '%x' (use %d domain, %u user, %% a "
	    "percent sign)", NULL },
	{ "maildir_trailing_percent", L "[delivery]\nmaildir = /m/%u%\n",
	    "4: maildir: unknown escape '%' (use %d domain, %u user, %% a "
	    "percent sign)", NULL },
	{ "maildir_no_user", L "[delivery]\nmaildir = /var/mail/%d\n",
	    "4: maildir: the pattern needs %u (the user), e.g. "
	    "/var/mail/%d/%u", NULL },
	{ "empty_path", L "[server]\nspool =\n",
	    "4: spool: a value is required", NULL },
	{ "empty_key_path", L "[tls]\nkey =\n", "4: key: a value is required", NULL },
	/* A comment right after "=" (config show writes "key = #x" back). */
	{ "comment_after_equals", L "[tls]\nkey =#x\n",
	    "4: key: a value is required", NULL },
	{ "empty_hostname", L "[server]\nhostname =\n",
	    "4: hostname: a value is required", NULL },
	{ "bad_hostname", L "[server]\nhostname = -mx.example\n",
	    "4: hostname: bad host name '-mx.example' (a fully qualified "
	    "domain name, e.g. mx.example.org)", NULL },
	{ "unknown_user", L "[server]\nuser = no-such-user-postern\n",
	    "4: user: no such user 'no-such-user-postern'", NULL },
	{ "trust_anchor_missing", L "[delivery]\n"
	    "trust_anchor = /nonexistent/root.key\n",
	    "4: trust_anchor: cannot read /nonexistent/root.key: No such file "
	    "or directory", NULL },
	{ "dns_not_numeric", L "[delivery]\ndns = resolver.example:53\n",
	    "4: dns: 'resolver.example' is not an IP address (the resolver "
	    "address cannot itself be looked up)", NULL },
	{ "dns_scope_id", L "[delivery]\ndns = [fe80::1%lo]:53\n",
	    "4: dns: 'fe80::1%lo' is not an IP address (the resolver "
	    "address cannot itself be looked up)", NULL },
	{ "dns_bad_port", L "[delivery]\ndns = 127.0.0.1:0\n",
	    "4: dns: bad port '0' (1-65535)", NULL },
	{ "relay_bad_host", L "[delivery]\nrelay = smtp_host:25\n",
	    "4: relay: bad host name 'smtp_host'", NULL },
	{ "relay_v6_no_brackets", L "[delivery]\nrelay = 2001:db8::1\n",
	    "4: relay: an IPv6 address needs brackets: [ADDRESS]:PORT", NULL },
	{ "address_empty", "[listener mx]\naddress =\n",
	    "2: address: a value is required", NULL },
	{ "address_no_port", "[listener mx]\naddress = 127.0.0.1\n",
	    "2: address: missing port: HOST:PORT or [IPv6]:PORT", NULL },
	{ "address_port_zero", "[listener mx]\naddress = 127.0.0.1:0\n",
	    "2: address: bad port '0' (1-65535)", NULL },
	{ "address_port_big", "[listener mx]\naddress = 127.0.0.1:65536\n",
	    "2: address: bad port '65536' (1-65535)", NULL },
	{ "address_host_name", "[listener mx]\naddress = mx.example:25\n",
	    "2: address: 'mx.example' is not an IP address (use 0.0.0.0, [::], "
	    "* or a numeric address)", NULL },
	{ "address_v6_no_brackets", "[listener mx]\naddress = ::1:25\n",
	    "2: address: an IPv6 address needs brackets: [ADDRESS]:PORT", NULL },
	{ "address_bad_brackets", "[listener mx]\naddress = [::1:25\n",
	    "2: address: bad address: HOST:PORT or [IPv6]:PORT", NULL },
	{ "address_v4_in_brackets_junk", "[listener mx]\n"
	    "address = [::1]x:25\n",
	    "2: address: bad address: HOST:PORT or [IPv6]:PORT", NULL },
	{ "duplicate_address", L "[listener b]\naddress = 127.0.0.1:25\n",
	    "4: listener 'b': address 127.0.0.1:25 collides with listener "
	    "'mx' (127.0.0.1:25, line 2)", NULL },
	{ "wildcard_collision", L "[listener b]\nmode = submission\n"
	    "address = *:25\n", "5: listener 'b': address *:25 collides with "
	    "listener 'mx' (127.0.0.1:25, line 2)", NULL },
	{ "v6_collision", "[listener a]\naddress = [::]:587\n[listener b]\n"
	    "address = [::1]:587\n", "4: listener 'b': address [::1]:587 "
	    "collides with listener 'a' ([::]:587, line 2)", NULL },
	{ "mx_auth_required", L "auth = required\n",
	    "3: listener 'mx': auth = required would refuse mail from other "
	    "servers on an mx listener (use mode = submission)", NULL },
	{ "submission_auth_off", "[listener s]\nauth = off\nmode = submission\n"
	    "address = 127.0.0.1:587\n", "2: listener 's': a submission "
	    "listener needs auth = optional or required", NULL },
};

static void
run_case(const struct conf_case *tc, size_t len)
{
	char name[80], want[CONF_WHY_MAX], why[CONF_WHY_MAX];
	const char *path;
	struct conf *c;

	(void)snprintf(name, sizeof(name), "%s.conf", tc->name);
	path = write_file(name, tc->text, len, 0644);
	why[0] = '\0';
	c = conf_load(path, why, sizeof(why));
	if (tc->want == NULL) {
		if (c == NULL)
			fail_msg("%s: %s", tc->name, why);
		assert_string_equal(c->path, path);
		tc->check(c);
		conf_free(c);
		return;
	}
	(void)snprintf(want, sizeof(want), "%s:%s", path, tc->want);
	if (c != NULL)
		fail_msg("%s: loaded, want %s", tc->name, want);
	assert_string_equal(why, want);
}

static void
test_cases(void **state)
{
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		print_message("case %s\n", cases[i].name);
		run_case(&cases[i], strlen(cases[i].text));
	}
}

/* A NUL byte cannot be in a C-string table entry; its length is explicit. */
static void
test_nul_byte(void **state)
{
	static const char text[] = "[server]\ntime\0out = 5m\n" L;
	const struct conf_case tc = { "nul", text, "2: NUL byte in line",
	    NULL };

	run_case(&tc, sizeof(text) - 1);
}

struct size_case {
	const char	*in;
	int		 rc;
	uint64_t	 want;
};

static void
test_parse_size(void **state)
{
	static const struct size_case t[] = {
		{ "0", 0, 0 }, { "512", 0, 512 }, { "10k", 0, 10240 },
		{ "10K", 0, 10240 }, { "35M", 0, 36700160 },
		{ "35m", 0, 36700160 }, { "35MB", 0, 36700160 },
		{ "2kb", 0, 2048 }, { "1G", 0, 1073741824 },
		{ "3g", 0, 3221225472ULL },
		{ "18446744073709551615", 0, UINT64_MAX },
		{ "18446744073709551616", -1, 0 },
		{ "17179869184G", -1, 0 }, { "", -1, 0 }, { "M", -1, 0 },
		{ "-1", -1, 0 }, { "+1", -1, 0 }, { "1.5M", -1, 0 },
		{ "10 M", -1, 0 }, { " 10M", -1, 0 }, { "1T", -1, 0 },
		{ "1MM", -1, 0 }, { "1B", -1, 0 }, { "1MBB", -1, 0 },
		{ "0x10", -1, 0 },
	};
	uint64_t v;
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		v = 12345;
		print_message("size '%s'\n", t[i].in);
		assert_int_equal(conf_parse_size(t[i].in, &v), t[i].rc);
		assert_int_equal(v, t[i].rc == 0 ? t[i].want : 12345);
	}
}

struct duration_case {
	const char	*in;
	int		 rc;
	unsigned	 want;
};

static void
test_parse_duration(void **state)
{
	static const struct duration_case t[] = {
		{ "0", 0, 0 }, { "90", 0, 90 }, { "30s", 0, 30 },
		{ "5m", 0, 300 }, { "1h", 0, 3600 }, { "5d", 0, 432000 },
		{ "1h30m", 0, 5400 }, { "1d2h3m4s", 0, 93784 },
		{ "0s", 0, 0 }, { "4294967295", 0, 4294967295U },
		{ "4294967296", -1, 0 }, { "49711d", -1, 0 },
		{ "49710d", 0, 4294944000U }, { "49710d6h", 0, 4294965600U },
		{ "49710d7h", -1, 0 },
		{ "", -1, 0 }, { "5x", -1, 0 }, { "m", -1, 0 },
		{ "1h30", -1, 0 }, { "5M", -1, 0 }, { " 5m", -1, 0 },
		{ "5m ", -1, 0 }, { "-5m", -1, 0 }, { "1.5h", -1, 0 },
		{ "5 m", -1, 0 },
	};
	unsigned v;
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		v = 12345;
		print_message("duration '%s'\n", t[i].in);
		assert_int_equal(conf_parse_duration(t[i].in, &v), t[i].rc);
		assert_int_equal(v, t[i].rc == 0 ? t[i].want : 12345);
	}
}

static void
test_defaults(void **state)
{
	char why[CONF_WHY_MAX] = "";
	struct conf *c;

	assert_non_null(c = conf_load(NULL, why, sizeof(why)));
	assert_string_equal(c->path, "(defaults)");
	assert_common_defaults(c);
	assert_int_equal(c->nlisteners, 2);
	assert_listener(&c->listeners[0], "mx", "127.0.0.1", 2525, LISTENER_MX,
	    LISTENER_TLS_STARTTLS, LISTENER_AUTH_OPTIONAL);
	assert_listener(&c->listeners[1], "submission", "127.0.0.1", 5587,
	    LISTENER_SUBMISSION, LISTENER_TLS_STARTTLS,
	    LISTENER_AUTH_REQUIRED);
	assert_true(conf_is_local_domain(c, "localhost", 9));
	conf_free(c);
	conf_free(NULL);
}

static void
test_default_path(void **state)
{
	char cwd[4096];

	assert_non_null(getcwd(cwd, sizeof(cwd)));
	assert_int_equal(chdir(tmpdir), 0);
	(void)unlink("postern.conf");
	assert_null(conf_default_path());
	write_file("postern.conf", L, strlen(L), 0644);
	assert_string_equal(conf_default_path(), "./postern.conf");
	assert_int_equal(unlink("postern.conf"), 0);
	assert_int_equal(chdir(cwd), 0);
}

static void
test_is_local_domain(void **state)
{
	static const char text[] = L "[domains]\nlocal = Example.test, b.org\n";
	char why[CONF_WHY_MAX] = "";
	struct conf *c;

	c = conf_load_buffer(text, sizeof(text) - 1, "mem", why, sizeof(why));
	assert_non_null(c);
	assert_true(conf_is_local_domain(c, "example.test", 12));
	assert_true(conf_is_local_domain(c, "EXAMPLE.TEST", 12));
	assert_true(conf_is_local_domain(c, "B.org>", 5));
	assert_false(conf_is_local_domain(c, "example.tes", 11));
	assert_false(conf_is_local_domain(c, "example.test.", 13));
	assert_false(conf_is_local_domain(c, "sub.example.test", 16));
	assert_false(conf_is_local_domain(c, "localhost", 9));
	assert_false(conf_is_local_domain(c, "", 0));
	conf_free(c);
}

/* [tls] key: refused when group or others may read it, else accepted. */
static void
test_secret_key(void **state)
{
	char text[512], want[512], why[CONF_WHY_MAX];
	const char *path;
	struct conf *c;
	char keypath[128];

	path = write_file("key.pem", "secret\n", 7, 0644);
	(void)snprintf(keypath, sizeof(keypath), "%s", path);
	(void)snprintf(text, sizeof(text), L "[tls]\nkey = %s\n", keypath);
	path = write_file("secret.conf", text, strlen(text), 0644);
	assert_null(conf_load(path, why, sizeof(why)));
	(void)snprintf(want, sizeof(want), "%s:4: key: %s is accessible by "
	    "group or others (mode 0644); chmod 600 it", path, keypath);
	assert_string_equal(why, want);

	assert_int_equal(chmod(keypath, 0604), 0);
	assert_null(conf_load(path, why, sizeof(why)));
	assert_int_equal(chmod(keypath, 0620), 0);
	assert_null(conf_load(path, why, sizeof(why)));
	assert_int_equal(chmod(keypath, 0600), 0);
	assert_non_null(c = conf_load(path, why, sizeof(why)));
	assert_string_equal(c->tls_key, keypath);
	conf_free(c);
	assert_int_equal(chmod(keypath, 0400), 0);
	assert_non_null(c = conf_load(path, why, sizeof(why)));
	conf_free(c);

	/* A directory is not a key; a missing key is generated later. */
	(void)snprintf(text, sizeof(text), L "[tls]\nkey = %s\n", tmpdir);
	path = write_file("secret.conf", text, strlen(text), 0644);
	assert_null(conf_load(path, why, sizeof(why)));
	(void)snprintf(want, sizeof(want), "%s:4: key: %s is not a regular "
	    "file", path, tmpdir);
	assert_string_equal(why, want);
	(void)snprintf(text, sizeof(text), L "[tls]\nkey = %s/none.pem\n",
	    tmpdir);
	path = write_file("secret.conf", text, strlen(text), 0644);
	assert_non_null(c = conf_load(path, why, sizeof(why)));
	conf_free(c);
	assert_int_equal(unlink(keypath), 0);
}

/* Builds "[domains]\nlocal = d0.example, ..." of n domains. */
static char *
domains_text(size_t n, size_t pad)
{
	size_t i, sz = 64 + n * (pad + 24);
	char *t = malloc(sz), *p;

	assert_non_null(t);
	p = t + snprintf(t, sz, L "[domains]\nlocal = ");
	for (i = 0; i < n; i++)
		p += snprintf(p, sz - (p - t), "%s%0*zu.example", i ? "," : "",
		    (int)pad, i);
	(void)snprintf(p, sz - (p - t), "\n");
	return t;
}

static void
test_long_lines(void **state)
{
	char why[CONF_WHY_MAX], want[CONF_WHY_MAX], *text, *line;
	struct conf *c;

	/* 64 domains of 62 bytes: a 4066-byte line loads. */
	text = domains_text(64, 54);
	c = conf_load_buffer(text, strlen(text), "m", why, sizeof(why));
	if (c == NULL)
		fail_msg("%s", why);
	assert_int_equal(c->local_domains.n, 64);
	assert_true(conf_is_local_domain(c, text + strlen(text) - 63, 62));
	conf_free(c);
	free(text);

	text = domains_text(65, 1);
	assert_null(conf_load_buffer(text, strlen(text), "m", why,
	    sizeof(why)));
	assert_string_equal(why, "m:4: too many entries in list (at most 64)");
	free(text);

	/* A 4097-byte line is refused, even a comment. */
	assert_non_null(line = malloc(5000));
	memset(line, 'x', 4097);
	line[0] = '#';
	(void)snprintf(line + 4097, 5000 - 4097, "\n" L);
	assert_null(conf_load_buffer(line, strlen(line), "m", why,
	    sizeof(why)));
	(void)snprintf(want, sizeof(want), "m:1: line too long (at most 4096 "
	    "bytes)");
	assert_string_equal(why, want);
	line[4096] = '\n';	/* 4096 bytes: fine */
	assert_non_null(c = conf_load_buffer(line, strlen(line), "m", why,
	    sizeof(why)));
	conf_free(c);
	free(line);
}

static void
test_listener_limit(void **state)
{
	char text[2048], why[CONF_WHY_MAX];
	struct conf *c;
	size_t i, used = 0;

	for (i = 0; i < CONF_MAX_LISTENERS; i++)
		used += snprintf(text + used, sizeof(text) - used, "[listener "
		    "l%zu]\naddress = 127.0.0.1:%zu\n", i, 2000 + i);
	assert_non_null(c = conf_load_buffer(text, used, "m", why,
	    sizeof(why)));
	assert_int_equal(c->nlisteners, CONF_MAX_LISTENERS);
	assert_string_equal(c->listeners[15].name, "l15");
	conf_free(c);
	(void)snprintf(text + used, sizeof(text) - used, "[listener x]\n");
	assert_null(conf_load_buffer(text, strlen(text), "m", why,
	    sizeof(why)));
	assert_string_equal(why, "m:33: too many listeners (at most 16)");
}

static void
test_file_errors(void **state)
{
	char why[CONF_WHY_MAX], want[CONF_WHY_MAX], path[128], *big;
	const char *p;

	(void)snprintf(path, sizeof(path), "%s/missing.conf", tmpdir);
	assert_null(conf_load(path, why, sizeof(why)));
	(void)snprintf(want, sizeof(want), "%s: No such file or directory",
	    path);
	assert_string_equal(why, want);

	assert_non_null(big = malloc(1024 * 1024 + 1));
	memset(big, '\n', 1024 * 1024 + 1);
	p = write_file("big.conf", big, 1024 * 1024 + 1, 0644);
	assert_null(conf_load(p, why, sizeof(why)));
	(void)snprintf(want, sizeof(want), "%s: file too large (over 1048576 "
	    "bytes)", p);
	assert_string_equal(why, want);
	free(big);
}

/* Dumps c to a file and returns the text (caller frees). */
static char *
dump_text(const struct conf *c)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	assert_non_null(f = open_memstream(&buf, &len));
	assert_int_equal(conf_dump(c, f), 0);
	assert_int_equal(fclose(f), 0);
	return buf;
}

/* conf_dump's output loads back and dumps the same again. */
static void
test_dump_roundtrip(void **state)
{
	static const char *const texts[] = { spec_text, every_key_text, NULL };
	char why[CONF_WHY_MAX], *d1, *d2;
	struct conf *c, *c2;
	size_t i;

	for (i = 0; i < 3; i++) {
		if (i < 2)
			c = conf_load_buffer(texts[i], strlen(texts[i]), "m",
			    why, sizeof(why));
		else
			c = conf_load(NULL, why, sizeof(why));
		assert_non_null(c);
		d1 = dump_text(c);
		c2 = conf_load_buffer(d1, strlen(d1), "dump", why, sizeof(why));
		if (c2 == NULL)
			fail_msg("%s\n%s", why, d1);
		d2 = dump_text(c2);
		assert_string_equal(d1, d2);
		if (i == 0)
			assert_non_null(strstr(d1, "[listener submission]\n"
			    "address = 0.0.0.0:587\nmode = submission\n"
			    "tls = starttls\nauth = required\n"));
		free(d1);
		free(d2);
		conf_free(c);
		conf_free(c2);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_size),
		cmocka_unit_test(test_parse_duration),
		cmocka_unit_test(test_cases),
		cmocka_unit_test(test_nul_byte),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_default_path),
		cmocka_unit_test(test_is_local_domain),
		cmocka_unit_test(test_secret_key),
		cmocka_unit_test(test_long_lines),
		cmocka_unit_test(test_listener_limit),
		cmocka_unit_test(test_file_errors),
		cmocka_unit_test(test_dump_roundtrip),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
