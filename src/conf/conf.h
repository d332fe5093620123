/*
 * The configuration: SPEC.md §3 parsed into one validated struct.
 * conf_load() reads a file (or, with path NULL, gives the built-in defaults
 * of SPEC.md §4); errors are "FILE:LINE: message" in `why` and the caller
 * exits 78 (EX_CONFIG). The struct owns every string and array in it;
 * conf_free() releases them.
 */
#ifndef POSTERN_CONF_H
#define POSTERN_CONF_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

#define CONF_MAX_LISTENERS 16
#define CONF_MAX_LIST 64		/* entries in one comma list */
#define CONF_WHY_MAX 512

enum listener_mode { LISTENER_MX, LISTENER_SUBMISSION };
enum listener_tls { LISTENER_TLS_NONE, LISTENER_TLS_STARTTLS,
    LISTENER_TLS_IMPLICIT };
enum listener_auth { LISTENER_AUTH_OFF, LISTENER_AUTH_OPTIONAL,
    LISTENER_AUTH_REQUIRED };

struct conf_listener {
	char			*name;		/* "[listener NAME]" */
	char			*address;	/* as written: host:port, [v6]:port */
	struct sockaddr_storage	 sa;		/* resolved numeric address */
	socklen_t		 salen;
	enum listener_mode	 mode;
	enum listener_tls	 tls;
	enum listener_auth	 auth;	/* submission default: required */
	int			 line;	/* config line of the section */
};

struct conf_list {
	char	*v[CONF_MAX_LIST];
	size_t	 n;
};

struct conf {
	char		*path;		/* file read, or "(defaults)" */

	/* [server] */
	char		*hostname;
	char		*spool;
	char		*user;		/* NULL or "" when unset */
	uint64_t	 max_message_size;	/* bytes; advertised as SIZE */
	unsigned	 max_recipients;
	unsigned	 max_connections;
	unsigned	 timeout;	/* seconds */
	unsigned	 workers;	/* 0: one per core */

	/* [listener NAME] */
	struct conf_listener listeners[CONF_MAX_LISTENERS];
	size_t		 nlisteners;

	/* [tls] */
	char		*tls_certificate;
	char		*tls_key;

	/* [auth] */
	char		*auth_database;
	struct conf_list auth_mechanisms;	/* upper-cased */
	int		 auth_plaintext;	/* 0/1 */
	int		 auth_sender_login_match;	/* 0/1 */
	unsigned	 auth_max_failures;	/* per client in the window */
	unsigned	 auth_failure_window;	/* seconds */

	/* [domains] */
	struct conf_list local_domains;		/* lower-cased */

	/* [delivery] */
	char		*maildir;	/* pattern with %d, %u */
	char		*dns;		/* "host:port" or NULL: system resolver */
	char		*trust_anchor;	/* NULL or "": no DNSSEC validation */
	unsigned	 remote_port;
	char		*relay;		/* "host:port" or NULL */
	unsigned	 retry[16];	/* seconds; the last step repeats */
	size_t		 nretry;
	unsigned	 max_queue_time;	/* seconds */

	/*
	 * Things that are valid but probably not what was meant, each as
	 * "FILE:LINE: warning: message"; `config check` prints them and
	 * serve should log them.
	 */
	struct conf_list warnings;
};

/*
 * Loads `path` into a new struct, or the built-in defaults when path is
 * NULL. Returns NULL on error with "FILE:LINE: message" in why.
 */
struct conf *conf_load(const char *path, char *why, size_t whysz);
void conf_free(struct conf *conf);

/*
 * As conf_load(), from text[0..len) (any bytes; need not be NUL-terminated);
 * `name` stands for the file name in messages. For tests and fuzzing.
 */
struct conf *conf_load_buffer(const char *text, size_t len, const char *name,
    char *why, size_t whysz);

/*
 * Writes the effective configuration (every key, defaults included) to out
 * in the file format; the output loads back to the same struct. 0 or -1.
 */
int conf_dump(const struct conf *conf, FILE *out);

/*
 * The config file a command uses when -c is not given: "./postern.conf" if
 * it exists, else NULL (the built-in defaults).
 */
const char *conf_default_path(void);

/* Names of the enum values as written in the file ("mx", "starttls"...). */
const char *conf_mode_str(enum listener_mode mode);
const char *conf_tls_str(enum listener_tls tls);
const char *conf_auth_str(enum listener_auth auth);

/* 1 if domain (any case) is one of [domains] local. */
int conf_is_local_domain(const struct conf *conf, const char *domain,
    size_t len);

/* Parsers for the value syntaxes of SPEC §3; 0 on success, -1 if invalid. */
int conf_parse_size(const char *s, uint64_t *out);
int conf_parse_duration(const char *s, unsigned *out);

/* Exit code for configuration errors (sysexits EX_CONFIG). */
#define CONF_EXIT 78

#endif
