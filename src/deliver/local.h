/*
 * Local recipients: what a recipient in a local domain resolves to, from
 * the user store (users, aliases, recursively) and the postmaster rule
 * (SPEC.md §5: postmaster@DOMAIN goes to the alias postmaster@DOMAIN, else
 * to postmaster@ the first local domain, which is never refused). May
 * block (SQLite): pool threads only.
 */
#ifndef POSTERN_LOCAL_H
#define POSTERN_LOCAL_H

#include <stddef.h>

#include "util/addr.h"

struct conf;
struct userdb;

enum local_kind {
	LOCAL_MAILBOX,		/* a local user (or the postmaster fallback) */
	LOCAL_REMOTE,		/* an alias target in a non-local domain */
	LOCAL_UNKNOWN,		/* an alias target no local user has */
	LOCAL_INVALID		/* an alias target that is not an address */
};

struct local_target {
	enum local_kind	 kind;
	char		 addr[ADDR_BUFSZ];	/* Delivered-To: the address
						   with its domain and local
						   part lower-cased */
	char		 user[ADDR_LOCAL_MAX * 4 + 1];	/* %u: lower-cased,
							   +tag removed */
	char		 domain[ADDR_DOMAIN_MAX + 1];	/* %d: lower-cased */
};

/* Local-recipient replies (reasons recorded in the queue and DSNs). */
#define LOCAL_REPLY_DB_UNAVAILABLE \
	"451 4.3.0 User database temporarily unavailable"
#define LOCAL_REPLY_BAD_TARGET "550 5.1.3 Bad alias target address syntax"
#define LOCAL_REPLY_LOOP "554 5.4.6 Mail forwarding loop detected"

/*
 * Resolves rcpt (its domain is local) into final addresses: *out is a new
 * array (free()) of the count returned. 0: no such user (reply says so,
 * 550 5.1.1); -1: temporary failure (db is NULL or failed; reply set).
 */
int local_resolve(const struct conf *conf, struct userdb *db,
    const struct addr *rcpt, struct local_target **out, char *reply,
    size_t replysz);

/* The reply for an unknown local user (550 5.1.1, as at RCPT time). */
void local_unknown_reply(char *reply, size_t replysz);

/*
 * 1 if the header section hdr[0..len) already has "Delivered-To: addr"
 * (any case): delivering again would be a mail loop.
 */
int local_is_loop(const char *hdr, size_t len, const char *addr);

#endif
