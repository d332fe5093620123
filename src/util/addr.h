/*
 * RFC 5321 paths and mailboxes: the one address parser shared by the
 * server, the client and the command line. Bounded, no allocation.
 */
#ifndef POSTERN_ADDR_H
#define POSTERN_ADDR_H

#include <stddef.h>

#define ADDR_LOCAL_MAX 64	/* RFC 5321 §4.5.3.1.1 */
#define ADDR_DOMAIN_MAX 255	/* §4.5.3.1.2 */
#define ADDR_MAX 256		/* a path, §4.5.3.1.3, + NUL fits 320 */
#define ADDR_BUFSZ 320

struct addr {
	char	local[ADDR_LOCAL_MAX * 4 + 1];	/* as written (quoted form kept) */
	char	domain[ADDR_DOMAIN_MAX + 1];	/* as written; may be [IPv4] */
	int	null;		/* the null path <> */
	int	utf8;		/* contains non-ASCII (needs SMTPUTF8) */
};

/*
 * Parses an RFC 5321 reverse-path or forward-path "<local@domain>" (an
 * optional source route "@a,@b:" is accepted and dropped) from s[0..len).
 * allow_null: accept "<>". allow_utf8: accept UTF-8 per RFC 6531.
 * On success fills a and returns the number of bytes consumed (the
 * closing '>' included); -1 if malformed.
 */
int addr_parse_path(struct addr *a, const char *s, size_t len, int allow_null,
    int allow_utf8);

/* Parses a bare mailbox "local@domain" (no brackets), e.g. from the CLI. */
int addr_parse_mailbox(struct addr *a, const char *s, int allow_utf8);

/* Writes "local@domain" (or "" for null) into buf; -1 if it does not fit. */
int addr_format(const struct addr *a, char *buf, size_t bufsz);

/*
 * The key used for user and alias lookups: local part lower-cased (ASCII)
 * with a "+tag" suffix removed, "@", domain lower-cased. buf: ADDR_BUFSZ.
 */
int addr_lookup_key(const struct addr *a, char *buf, size_t bufsz);

/* 1 if s is a syntactically valid domain name (LDH labels) or literal. */
int addr_valid_domain(const char *s, size_t len);

#endif
