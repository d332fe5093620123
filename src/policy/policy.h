/*
 * Policy: the answers the SMTP dialogue asks for ("is this a local user?",
 * "may this client relay?"), kept apart from the protocol so that another
 * backend can plug in without touching the session code.
 */
#ifndef POSTERN_POLICY_H
#define POSTERN_POLICY_H

#include "replies/replies.h"
#include "util/addr.h"

struct conf;
struct userdb;

struct policy {
	const struct conf	*conf;
	struct userdb		*db;	/* borrowed; NULL: no user store */
};

enum policy_rcpt_kind {
	POLICY_RCPT_LOCAL,	/* accepted for a local mailbox or alias */
	POLICY_RCPT_RELAY,	/* accepted for relaying (authenticated) */
	POLICY_RCPT_REJECT,	/* refused: send *reply */
};

/*
 * Decides on a recipient. may_relay: the session is authenticated.
 * A relay recipient still needs the DNS checks of the outbound path.
 */
enum policy_rcpt_kind policy_check_rcpt(const struct policy *p,
    const struct addr *rcpt, int may_relay, enum reply_id *reply);

/*
 * [auth] sender_login_match: 1 if the authenticated user `user` (lookup-key
 * form) may use `sender` as MAIL FROM: it is the user's own address, or an
 * alias that expands to it. 0 if not, -1 on a lookup error.
 */
int policy_sender_owned(const struct policy *p, const struct addr *sender,
    const char *user);

/* 1 if the address is postmaster@ (any case) a local domain. */
int policy_is_postmaster(const struct policy *p, const struct addr *a);

#endif
