/*
 * DNS checks in the dialogue (RFC 7505, RFC 7504): a relayed recipient's
 * domain must accept mail (null MX: 556 5.1.10; no such domain: 550 5.1.2;
 * DNS failure: 451 4.4.3), and on an MX listener a sender's domain must
 * not publish a null MX (550 5.7.27). The look-up is asynchronous; the
 * session waits, blocked, other sessions do not. Owns the pending check.
 * Runs in the smtp workers.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dns/dns.h"
#include "smtp/server.h"
#include "smtp/session_int.h"
#include "util/log.h"
#include "util/xmalloc.h"

enum dnswait_kind { DNSWAIT_SENDER, DNSWAIT_RCPT };

/* A MAIL or RCPT waiting for its domain's verdict; owned by the session. */
struct smtp_dnswait {
	struct smtp_session	*s;
	struct dns_query	*q;
	enum dnswait_kind	 kind;
	struct addr		 a;
	struct smtp_mail_params	 p;	/* DNSWAIT_SENDER */
};

static enum reply_id
rcpt_reply(enum dns_verdict v)
{
	switch (v) {
	case DNS_CHECK_OK: return R_RCPT_OK;
	case DNS_CHECK_NULL_MX: return R_NULLMX_RECIPIENT;
	case DNS_CHECK_NO_DOMAIN: return R_RECIPIENT_NO_DOMAIN;
	case DNS_CHECK_TEMPFAIL: break;
	}
	return R_RECIPIENT_DNS_TEMPFAIL;
}

/*
 * Answers the waiting command. resume: called from the DNS callback, so
 * the session's pipelined input must be restarted; otherwise the caller
 * is still inside the session's command loop, which goes on by itself.
 */
static void
dnswait_finish(struct smtp_dnswait *w, enum dns_verdict v, const char *why,
    int resume)
{
	struct smtp_session *s = w->s;
	char local[LOG_SAFE_BUFSZ];

	s->dnswait = NULL;
	if (v != DNS_CHECK_OK)
		log_info("session=%016llx event=dns-check %s=<%s@%s> "
		    "verdict=%d why=\"%s\"", (unsigned long long)s->id,
		    w->kind == DNSWAIT_SENDER ? "from" : "to",
		    log_safe_word(local, sizeof(local), w->a.local,
		    strlen(w->a.local)),
		    w->a.domain, (int)v, why);
	if (w->kind == DNSWAIT_SENDER) {
		if (v == DNS_CHECK_NULL_MX)
			smtp_reply(s, R_NULLMX_SENDER);
		else if (v == DNS_CHECK_TEMPFAIL)
			smtp_reply(s, R_SENDER_DNS_TEMPFAIL);
		else
			smtp_tx_begin(s, &w->a, &w->p);
	} else if (v == DNS_CHECK_OK && s->tx != NULL) {
		smtp_tx_add_rcpt(s->tx, &w->a);
		smtp_reply(s, R_RCPT_OK);
	} else
		smtp_reply(s, rcpt_reply(v));
	free(w);
	if (resume)
		smtp_resume(s);
	else {
		s->blocked = 0;
		smtp_pause_reading(s, 0);
	}
}

static void
dnswait_cb(const struct dns_check_result *res, void *arg)
{
	dnswait_finish(arg, res->verdict, res->why, 1);
}

static void
dnswait_start(struct smtp_session *s, struct smtp_dnswait *w)
{
	char why[DNS_WHY_MAX] = "no resolver";

	w->s = s;
	s->dnswait = w;
	s->blocked = 1;
	smtp_pause_reading(s, 1);
	if (s->srv->dns != NULL)
		w->q = dns_check_domain(s->srv->dns, w->a.domain, dnswait_cb, w,
		    why, sizeof(why));
	if (w->q != NULL)
		return;
	/* A name DNS cannot look up at all does not exist for mail. */
	dnswait_finish(w, s->srv->dns != NULL && errno == EINVAL ?
	    DNS_CHECK_NO_DOMAIN : DNS_CHECK_TEMPFAIL, why, 0);
}

void
smtp_dnscheck_sender(struct smtp_session *s, const struct addr *a,
    const struct smtp_mail_params *p)
{
	struct smtp_dnswait *w = xcalloc(1, sizeof(*w));

	w->kind = DNSWAIT_SENDER;
	w->a = *a;
	w->p = *p;
	dnswait_start(s, w);
}

void
smtp_dnscheck_rcpt(struct smtp_session *s, const struct addr *a)
{
	struct smtp_dnswait *w = xcalloc(1, sizeof(*w));

	w->kind = DNSWAIT_RCPT;
	w->a = *a;
	dnswait_start(s, w);
}

/* The session is going away: drop the pending query. */
void
smtp_dnscheck_cancel(struct smtp_session *s)
{
	if (s->dnswait == NULL)
		return;
	dns_cancel(s->dnswait->q);
	free(s->dnswait);
	s->dnswait = NULL;
}
