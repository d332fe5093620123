/*
 * SMTP AUTH (RFC 4954) on the client side, through GNU SASL's client
 * mechanisms: PLAIN, LOGIN, CRAM-MD5, SCRAM-SHA-1 and SCRAM-SHA-256. Picks
 * the mechanism (the caller's, or the strongest the server offers: SCRAM
 * first; without TLS CRAM-MD5 before the cleartext ones), sends the
 * initial response where the mechanism speaks first, answers each 334
 * challenge, cancels with "*" when GNU SASL refuses a challenge (a SCRAM
 * server signature that does not verify, for one), and reports the
 * outcome. Credentials never reach the transcript.
 *
 * Owns struct client_sasl (the GNU SASL context and session). Runs in
 * the delivery process and the command line.
 */
#include "smtp/client.h"
#include "smtp/client_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <gsasl.h>

#include "util/xmalloc.h"

struct client_sasl {
	Gsasl		*ctx;
	Gsasl_session	*s;
};

/* Mechanisms we try, best first, with and without TLS. */
static const char *const mechs_tls[] = { "SCRAM-SHA-256", "SCRAM-SHA-1",
    "PLAIN", "LOGIN", "CRAM-MD5", NULL };
static const char *const mechs_plain[] = { "SCRAM-SHA-256", "SCRAM-SHA-1",
    "CRAM-MD5", "PLAIN", "LOGIN", NULL };

/* Mechanisms whose client sends the first message (an initial response). */
static int
client_first(const char *mech)
{
	return strcasecmp(mech, "PLAIN") == 0 ||
	    strncasecmp(mech, "SCRAM-", 6) == 0;
}

void
client_auth_free(struct smtp_client *c)
{
	if (c->sasl == NULL)
		return;
	if (c->sasl->s != NULL)
		gsasl_finish(c->sasl->s);
	if (c->sasl->ctx != NULL)
		gsasl_done(c->sasl->ctx);
	free(c->sasl);
	c->sasl = NULL;
}

/* The mechanism to use, or NULL with the reason in why. */
static const char *
auth_pick(struct smtp_client *c, Gsasl *ctx, char *why, size_t whysz)
{
	const char *const *list = c->in_tls ? mechs_tls : mechs_plain;
	const char *want = c->p->mech;
	size_t i;

	if (want != NULL) {
		if (!gsasl_client_support_p(ctx, want))
			(void)snprintf(why, whysz, "AUTH %s is not supported "
			    "here", want);
		else if (!smtp_ehlo_has_mech(&c->ehlo, want))
			(void)snprintf(why, whysz, "the server does not offer "
			    "AUTH %s (it offers:%.160s)", want, c->ehlo.auth);
		else
			return want;
		return NULL;
	}
	for (i = 0; list[i] != NULL; i++)
		if (smtp_ehlo_has_mech(&c->ehlo, list[i]) &&
		    gsasl_client_support_p(ctx, list[i]))
			return list[i];
	(void)snprintf(why, whysz, "no AUTH mechanism in common (the server "
	    "offers:%.160s)", c->ehlo.auth);
	return NULL;
}

/* A SASL session for mech with our credentials; 0 or -1 with why. */
static int
auth_session(struct smtp_client *c, const char *mech, char *why,
    size_t whysz)
{
	int rc;

	if ((rc = gsasl_client_start(c->sasl->ctx, mech, &c->sasl->s)) !=
	    GSASL_OK ||
	    (rc = gsasl_property_set(c->sasl->s, GSASL_AUTHID,
	    c->p->user)) != GSASL_OK ||
	    (rc = gsasl_property_set(c->sasl->s, GSASL_PASSWORD,
	    c->p->password != NULL ? c->p->password : "")) != GSASL_OK) {
		(void)snprintf(why, whysz, "SASL %s: %s", mech,
		    gsasl_strerror(rc));
		return -1;
	}
	return 0;
}

/* Sends "AUTH MECH [initial-response]". */
static int
auth_send_first(struct smtp_client *c, char *why, size_t whysz)
{
	char *out = NULL, shown[64];
	int rc;

	if (!client_first(c->mech)) {
		client_send_line(c, NULL, "AUTH %s", c->mech);
		return 0;
	}
	rc = gsasl_step64(c->sasl->s, "", &out);
	if (rc != GSASL_OK && rc != GSASL_NEEDS_MORE) {
		(void)snprintf(why, whysz, "SASL %s: %s", c->mech,
		    gsasl_strerror(rc));
		return -1;
	}
	(void)snprintf(shown, sizeof(shown), "AUTH %s ****", c->mech);
	client_send_line(c, shown, "AUTH %s %s", c->mech,
	    out != NULL && out[0] != '\0' ? out : "=");
	gsasl_free(out);
	return 0;
}

void
client_auth_start(struct smtp_client *c)
{
	char why[SMTP_CLIENT_WHY_MAX];
	const char *mech;
	int rc;

	if (!(c->ehlo.ext & SMTP_EXT_AUTH)) {
		client_fail(c, SMTP_CLIENT_E_AUTH_UNAVAILABLE, NULL, "%s: the "
		    "server does not offer AUTH%s", c->peer, !c->in_tls &&
		    (c->ehlo.ext & SMTP_EXT_STARTTLS) ? " before STARTTLS" :
		    "");
		return;
	}
	c->sasl = xcalloc(1, sizeof(*c->sasl));
	if ((rc = gsasl_init(&c->sasl->ctx)) != GSASL_OK) {
		client_fail(c, SMTP_CLIENT_E_INTERNAL, NULL, "SASL: %s",
		    gsasl_strerror(rc));
		return;
	}
	if ((mech = auth_pick(c, c->sasl->ctx, why, sizeof(why))) == NULL) {
		client_fail(c, SMTP_CLIENT_E_AUTH_UNAVAILABLE, NULL, "%s: %s",
		    c->peer, why);
		return;
	}
	(void)snprintf(c->mech, sizeof(c->mech), "%s", mech);
	c->auth_fail[0] = '\0';
	c->state = STATE_AUTH;
	if (auth_session(c, c->mech, why, sizeof(why)) == -1 ||
	    auth_send_first(c, why, sizeof(why)) == -1)
		client_fail(c, SMTP_CLIENT_E_INTERNAL, NULL, "%s", why);
}

/* A 334 challenge: the next response, or "*" to cancel. */
static void
auth_challenge(struct smtp_client *c, const struct smtp_reply *r)
{
	char *out = NULL;
	int rc;

	if (c->auth_fail[0] != '\0') {
		client_fail(c, SMTP_CLIENT_E_PROTOCOL, r, "%s: challenge after "
		    "the cancelled AUTH", c->peer);
		return;
	}
	rc = gsasl_step64(c->sasl->s, r->text, &out);
	if (rc == GSASL_OK || rc == GSASL_NEEDS_MORE)
		client_send_line(c, "****", "%s", out != NULL ? out : "");
	else {
		(void)snprintf(c->auth_fail, sizeof(c->auth_fail), "%s: AUTH "
		    "%s: %s", c->peer, c->mech, gsasl_strerror(rc));
		client_send_line(c, NULL, "*");
	}
	gsasl_free(out);
}

void
client_auth_reply(struct smtp_client *c, const struct smtp_reply *r)
{
	if (r->code == 334) {
		auth_challenge(c, r);
		return;
	}
	if (c->auth_fail[0] != '\0') {
		client_fail(c, SMTP_CLIENT_E_AUTH, NULL, "%s", c->auth_fail);
		return;
	}
	if (r->code == 235) {
		client_info(c, "authenticated as %s with %s", c->p->user,
		    c->mech);
		client_auth_free(c);
		client_ready(c);
		return;
	}
	client_fail(c, SMTP_CLIENT_E_AUTH, r, "%s: AUTH %s refused", c->peer,
	    c->mech);
}
