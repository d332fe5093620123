/*
 * Recipient policy for the MX and submission roles (SPEC §1, §5): local
 * domains, users and aliases from the user store, postmaster, relay only
 * after AUTH. Runs in the smtp workers, on the event loop: the user store
 * look-up is one indexed SQLite read (WAL readers never wait for writers).
 */
#include "policy/policy.h"

#include <string.h>
#include <strings.h>

#include "auth/userdb.h"
#include "conf/conf.h"
#include "util/log.h"

int
policy_is_postmaster(const struct policy *p, const struct addr *a)
{
	return !a->null && strcasecmp(a->local, "postmaster") == 0 &&
	    conf_is_local_domain(p->conf, a->domain, strlen(a->domain));
}

enum policy_rcpt_kind
policy_check_rcpt(const struct policy *p, const struct addr *rcpt,
    int may_relay, enum reply_id *reply)
{
	char key[ADDR_BUFSZ];
	int found;

	if (!conf_is_local_domain(p->conf, rcpt->domain,
	    strlen(rcpt->domain))) {
		if (may_relay)
			return POLICY_RCPT_RELAY;
		*reply = R_RELAY_DENIED;
		return POLICY_RCPT_REJECT;
	}
	/* RFC 5321 §4.5.1: postmaster is always accepted. */
	if (policy_is_postmaster(p, rcpt))
		return POLICY_RCPT_LOCAL;
	if (addr_lookup_key(rcpt, key, sizeof(key)) == -1) {
		*reply = R_UNKNOWN_USER;
		return POLICY_RCPT_REJECT;
	}
	found = p->db ? userdb_recipient_exists(p->db, key) : 0;
	if (found == 1)
		return POLICY_RCPT_LOCAL;
	if (found == -1) {
		log_warnx("event=lookup-failed key=%s", key);
		*reply = R_LOOKUP_TEMPFAIL;
		return POLICY_RCPT_REJECT;
	}
	*reply = R_UNKNOWN_USER;
	return POLICY_RCPT_REJECT;
}

int
policy_sender_owned(const struct policy *p, const struct addr *sender,
    const char *user)
{
	char key[ADDR_BUFSZ], **targets;
	int i, n, owned = 0;

	if (sender->null)
		return 1;	/* bounces carry no owner */
	if (addr_lookup_key(sender, key, sizeof(key)) == -1)
		return 0;
	if (strcmp(key, user) == 0)
		return 1;
	if (p->db == NULL || (n = userdb_expand(p->db, key, &targets)) < 0)
		return -1;
	for (i = 0; i < n && !owned; i++)
		owned = strcasecmp(targets[i], user) == 0;
	userdb_targets_free(targets, n);
	return owned;
}
