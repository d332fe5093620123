/*
 * Local recipient resolution (see deliver/local.h): lookup key, user store
 * expansion, the postmaster rule, and classification of each final
 * address (mailbox, remote, unknown, invalid); plus mail loop detection by
 * Delivered-To. Owns the target arrays it returns until the caller frees
 * them. Runs in the delivery process, in pool threads.
 */
#include "deliver/local.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth/userdb.h"
#include "conf/conf.h"
#include "replies/replies.h"
#include "util/xmalloc.h"

static void
local_lower(char *s)
{
	for (; *s != '\0'; s++)
		if (*s >= 'A' && *s <= 'Z')
			*s = (char)(*s - 'A' + 'a');
}

/* Fills the names of t from a parsed mailbox; -1 if it has no key. */
static int
local_target_names(struct local_target *t, const struct addr *a)
{
	size_t ulen = strcspn(a->local, "+");

	if (ulen == 0 || a->null)
		return -1;
	(void)snprintf(t->user, sizeof(t->user), "%.*s", (int)ulen,
	    a->local);
	(void)snprintf(t->domain, sizeof(t->domain), "%s", a->domain);
	if ((size_t)snprintf(t->addr, sizeof(t->addr), "%s@%s", a->local,
	    a->domain) >= sizeof(t->addr))
		return -1;
	local_lower(t->user);
	local_lower(t->domain);
	local_lower(t->addr);
	return 0;
}

/*
 * Classifies one expansion result. self_key: the key that was expanded;
 * a target equal to it is that user's own mailbox, addressed as `self`
 * (so Delivered-To keeps the recipient's +tag). -1 on a store error.
 */
static int
local_classify(const struct conf *conf, struct userdb *db,
    const char *target, const char *self_key, const struct addr *self,
    struct local_target *t)
{
	char key[ADDR_BUFSZ];
	struct addr a;
	int rc;

	memset(t, 0, sizeof(*t));
	(void)snprintf(t->addr, sizeof(t->addr), "%s", target);
	if (addr_parse_mailbox(&a, target, 1) == -1 ||
	    addr_lookup_key(&a, key, sizeof(key)) == -1) {
		t->kind = LOCAL_INVALID;
		return 0;
	}
	if (!conf_is_local_domain(conf, a.domain, strlen(a.domain))) {
		t->kind = LOCAL_REMOTE;
		return 0;
	}
	if (strcmp(key, self_key) == 0) {
		t->kind = LOCAL_MAILBOX;
		return local_target_names(t, self != NULL ? self : &a) == -1 ?
		    (t->kind = LOCAL_INVALID, 0) : 0;
	}
	if ((rc = userdb_recipient_exists(db, key)) == -1)
		return -1;
	t->kind = rc == 1 ? LOCAL_MAILBOX : LOCAL_UNKNOWN;
	if (local_target_names(t, &a) == -1)
		t->kind = LOCAL_INVALID;
	return 0;
}

/* The postmaster of the first local domain, which is never refused. */
static int
local_postmaster_fallback(const struct conf *conf, struct local_target **out)
{
	struct local_target *t = xcalloc(1, sizeof(*t));

	t->kind = LOCAL_MAILBOX;
	(void)snprintf(t->user, sizeof(t->user), "postmaster");
	(void)snprintf(t->domain, sizeof(t->domain), "%s",
	    conf->local_domains.v[0]);
	(void)snprintf(t->addr, sizeof(t->addr), "postmaster@%s", t->domain);
	local_lower(t->domain);
	local_lower(t->addr);
	*out = t;
	return 1;
}

void
local_unknown_reply(char *reply, size_t replysz)
{
	char buf[512];
	int n;

	/* The same reply the SMTP server gives at RCPT time, without CRLF. */
	n = reply_format(buf, sizeof(buf), R_UNKNOWN_USER, 0);
	(void)snprintf(reply, replysz, "%.*s", n >= 2 ? n - 2 : 0, buf);
}

static int
local_temp(char *reply, size_t replysz)
{
	(void)snprintf(reply, replysz, "%s", LOCAL_REPLY_DB_UNAVAILABLE);
	return -1;
}

/* Expands key; for postmaster@ falls back per SPEC.md §5. */
static int
local_expand(const struct conf *conf, struct userdb *db, char *key,
    size_t keysz, char ***targets)
{
	int n;

	if ((n = userdb_expand(db, key, targets)) != 0)
		return n;
	if (strncmp(key, "postmaster@", 11) != 0 ||
	    conf->local_domains.n == 0)
		return 0;
	(void)snprintf(key, keysz, "postmaster@%s", conf->local_domains.v[0]);
	local_lower(key);
	return userdb_expand(db, key, targets);
}

int
local_resolve(const struct conf *conf, struct userdb *db,
    const struct addr *rcpt, struct local_target **out, char *reply,
    size_t replysz)
{
	char key[ADDR_BUFSZ], rkey[ADDR_BUFSZ], **targets = NULL;
	int n, i;

	*out = NULL;
	if (addr_lookup_key(rcpt, rkey, sizeof(rkey)) == -1)
		goto unknown;
	if (db == NULL)
		return local_temp(reply, replysz);
	memcpy(key, rkey, sizeof(key));
	if ((n = local_expand(conf, db, key, sizeof(key), &targets)) == -1)
		return local_temp(reply, replysz);
	if (n == 0 && strncmp(rkey, "postmaster@", 11) == 0 &&
	    conf->local_domains.n > 0)
		return local_postmaster_fallback(conf, out);
	if (n == 0)
		goto unknown;
	*out = xcalloc((size_t)n, sizeof(**out));
	for (i = 0; i < n; i++)
		if (local_classify(conf, db, targets[i], key,
		    strcmp(key, rkey) == 0 ? rcpt : NULL, &(*out)[i]) == -1) {
			userdb_targets_free(targets, n);
			free(*out);
			*out = NULL;
			return local_temp(reply, replysz);
		}
	userdb_targets_free(targets, n);
	return n;
unknown:
	local_unknown_reply(reply, replysz);
	return 0;
}

int
local_is_loop(const char *hdr, size_t len, const char *addr)
{
	static const char name[] = "delivered-to:";
	size_t off = 0, nlen = sizeof(name) - 1, alen = strlen(addr), v;

	while (off + nlen < len) {
		if (strncasecmp(hdr + off, name, nlen) == 0) {
			v = off + nlen;
			while (v < len && (hdr[v] == ' ' || hdr[v] == '\t'))
				v++;
			if (len - v >= alen &&
			    strncasecmp(hdr + v, addr, alen) == 0 &&
			    (v + alen == len || hdr[v + alen] == '\r' ||
			    hdr[v + alen] == '\n' || hdr[v + alen] == ' '))
				return 1;
		}
		while (off < len && hdr[off] != '\n')
			off++;
		off++;
	}
	return 0;
}
