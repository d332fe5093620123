/*
 * The PLAIN (RFC 4616) and LOGIN (draft-murchison-sasl-login) mechanisms:
 * decoded by sasl_codec.c into bounded buffers, then checked against the
 * user's argon2id hash with password_verify_user(), which costs the same
 * for unknown users. The authorization identity must be empty or name the
 * authenticating user: Postern has no proxy authorization.
 *
 * Owns: nothing; passwords live on the stack for one call and are zeroed.
 * Process: smtp workers, on pool threads (argon2id takes tens of ms).
 */
#include "auth/sasl_int.h"

#include <string.h>

#include <sodium.h>

#include "auth/password.h"

#define LOGIN_PROMPT_USER "Username:"
#define LOGIN_PROMPT_PASS "Password:"

/*
 * Verifies passwd for the user named authcid (the claimed identity is
 * already recorded by sasl_set_user). An identity that is not an address
 * still costs one argon2id verification, against the dummy hash.
 */
static int
sasl_verify(struct sasl_exchange *ex, const char *authzid,
    const char *passwd, size_t passwdlen)
{
	int ok;

	ok = password_verify_user(ex->srv->db, ex->key_valid ? ex->key : "",
	    passwd, passwdlen);
	if (ok == -1) {
		ex->reason = "user-store";
		return SASL_TEMPFAIL;
	}
	if (ok == 0 || !ex->key_valid) {
		ex->reason = "invalid-credentials";
		return SASL_BAD;
	}
	if (authzid[0] != '\0' && !sasl_same_user(authzid, ex->user)) {
		ex->reason = "authzid-not-allowed";
		return SASL_BAD;
	}
	return SASL_OK;
}

int
sasl_plain_step(struct sasl_exchange *ex, int have, const unsigned char *in,
    size_t len, char *out, size_t outsz)
{
	struct sasl_plain msg;
	int rc;

	if (!have) {
		/* "AUTH PLAIN" alone: the empty challenge, "334 ". */
		ex->state = STATE_WAIT;
		out[0] = '\0';
		return SASL_CONTINUE;
	}
	if (sasl_plain_parse(in, len, &msg) == -1) {
		ex->reason = "malformed";
		return SASL_BAD;
	}
	sasl_set_user(ex, msg.authcid);
	rc = sasl_verify(ex, msg.authzid, msg.passwd, msg.passwdlen);
	sodium_memzero(&msg, sizeof(msg));
	return rc;
}

/* Sends a LOGIN prompt and moves to state next. */
static int
sasl_login_prompt(struct sasl_exchange *ex, enum sasl_state next,
    const char *prompt, char *out, size_t outsz)
{
	ex->state = next;
	return sasl_challenge(prompt, strlen(prompt), out, outsz);
}

int
sasl_login_step(struct sasl_exchange *ex, int have, const unsigned char *in,
    size_t len, char *out, size_t outsz)
{
	char passwd[PASSWORD_MAX + 1];
	int n, rc;

	switch (ex->state) {
	case STATE_START:
		if (!have)
			return sasl_login_prompt(ex, STATE_LOGIN_USER,
			    LOGIN_PROMPT_USER, out, outsz);
		/* An initial response is the user name. */
		/* FALLTHROUGH */
	case STATE_LOGIN_USER:
		if (sasl_login_field(in, len, ex->login_user,
		    sizeof(ex->login_user)) == -1) {
			ex->reason = "malformed";
			return SASL_BAD;
		}
		sasl_set_user(ex, ex->login_user);
		return sasl_login_prompt(ex, STATE_LOGIN_PASS,
		    LOGIN_PROMPT_PASS, out, outsz);
	case STATE_LOGIN_PASS:
		if ((n = sasl_login_field(in, len, passwd,
		    sizeof(passwd))) <= 0) {
			ex->reason = "malformed";
			return SASL_BAD;
		}
		rc = sasl_verify(ex, "", passwd, (size_t)n);
		sodium_memzero(passwd, sizeof(passwd));
		return rc;
	default:
		ex->reason = "protocol";
		return SASL_BAD;
	}
}
