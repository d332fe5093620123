/*
 * Internals of the configuration module, shared by conf.c (file reading
 * and checks), conf_table.c (the directive table and typed setters) and
 * conf_value.c (value syntaxes). Not for use outside src/conf/.
 */
#ifndef POSTERN_CONF_INT_H
#define POSTERN_CONF_INT_H

#include <stddef.h>
#include <stdint.h>

#include "conf/conf.h"

#define CONF_LINE_MAX 4096		/* bytes in one line, newline excluded */
#define CONF_FILE_MAX (1024 * 1024)	/* bytes in one config file */
#define CONF_NAME_MAX 32		/* a listener's name */
#define CONF_RETRY_MAX 16		/* steps in [delivery] retry */
#define CONF_MAX_DIRECTIVES 48		/* rows in the directive table */

enum conf_section {
	CONF_SEC_NONE,
	CONF_SEC_SERVER,
	CONF_SEC_LISTENER,
	CONF_SEC_TLS,
	CONF_SEC_AUTH,
	CONF_SEC_DOMAINS,
	CONF_SEC_DELIVERY
};

enum conf_type {
	CONF_T_STRING,		/* free text; empty: NULL */
	CONF_T_PATH,		/* a non-empty path, kept as written */
	CONF_T_OPTPATH,		/* a path or empty (NULL) */
	CONF_T_HOSTNAME,	/* an LDH domain name */
	CONF_T_ACCOUNT,		/* a local user name or empty (NULL) */
	CONF_T_UINT,		/* unsigned in [min, max] */
	CONF_T_SIZE,		/* uint64_t bytes, k/M/G suffixes */
	CONF_T_DURATION,	/* unsigned seconds, s/m/h/d suffixes */
	CONF_T_BOOL,		/* int 0/1 */
	CONF_T_DOMAINS,		/* struct conf_list, lower-cased domains */
	CONF_T_MECHS,		/* struct conf_list, upper-cased SASL names */
	CONF_T_RETRY,		/* conf->retry[] and conf->nretry */
	CONF_T_MAILDIR,		/* a path pattern with %d, %u, %% */
	CONF_T_RESOLVER,	/* numeric host[:port], empty: NULL */
	CONF_T_RELAY,		/* host[:port], empty: NULL */
	CONF_T_LADDR,		/* a listener's address, resolved into sa */
	CONF_T_MODE,		/* enum listener_mode */
	CONF_T_TLS,		/* enum listener_tls */
	CONF_T_AUTH		/* enum listener_auth */
};

/*
 * One row of the directive table (STYLE.md §10). `target` is an offset in
 * struct conf, or in struct conf_listener for CONF_SEC_LISTENER rows.
 * `dflt` is parsed by the row's own setter before the file is read; NULL
 * means no default (unset) or one computed in conf.c.
 */
struct conf_directive {
	enum conf_section	 section;
	const char		*name;
	enum conf_type		 type;
	const char		*dflt;
	uint64_t		 min;
	uint64_t		 max;
	size_t			 target;
};

extern const struct conf_directive conf_directives[];
extern const size_t conf_ndirectives;

/* conf_table.c */
const struct conf_directive *conf_directive_find(enum conf_section sec,
    const char *name, size_t *index);
int conf_directive_set(const struct conf_directive *d, struct conf *conf,
    void *base, const char *value, char *why, size_t whysz);
int conf_directive_format(const struct conf_directive *d,
    const struct conf *conf, const void *base, char *buf, size_t bufsz);
const char *conf_section_str(enum conf_section sec);

/* conf_value.c */
int conf_parse_bool(const char *s, int *out);
int conf_parse_uint(const char *s, uint64_t max, uint64_t *out);
int conf_split_list(const char *s, struct conf_list *list, char *why,
    size_t whysz);
void conf_list_clear(struct conf_list *list);
int conf_list_add(struct conf_list *list, const char *s);
int conf_parse_hostport(const char *s, char *host, size_t hostsz,
    unsigned *port, int port_required, char *why, size_t whysz);
int conf_resolve_numeric(const char *host, unsigned port,
    struct sockaddr_storage *sa, socklen_t *salen);
int conf_valid_hostname(const char *s);
void conf_format_size(uint64_t v, char *buf, size_t bufsz);
void conf_format_duration(unsigned v, char *buf, size_t bufsz);

#endif
