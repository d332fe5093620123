/*
 * SCRAM-SHA-256, SCRAM-SHA-256-PLUS and CRAM-MD5 through GNU SASL's server
 * side. The property callback supplies, for the user GNU SASL parsed out
 * of the client's message, the stored SCRAM iteration count, salt,
 * StoredKey and ServerKey (base64, as GNU SASL 2.2 reads them), so no
 * plaintext is needed; for CRAM-MD5 it supplies the stored CRAM secret.
 * Unknown users get a salt and keys derived from the server's secret with
 * HMAC-SHA-256: stable across attempts, processes and restarts, so neither
 * the reply nor the salt tells that the user does not exist.
 *
 * Owns: the Gsasl context (per server) and Gsasl_session (per exchange).
 * Process: smtp workers; steps and callbacks run on pool threads. Each
 * callback touches only its own exchange and the thread-safe userdb.
 */
#include "auth/sasl_int.h"

#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "auth/password.h"
#include "util/log.h"

#define SASL_SERVICE "smtp"

/* Derives one fake value: HMAC-SHA-256(secret, label NUL key). */
static void
sasl_fake(const struct sasl_exchange *ex, const char *label,
    unsigned char *out, size_t outlen)
{
	unsigned char mac[crypto_auth_hmacsha256_BYTES];
	crypto_auth_hmacsha256_state st;
	const char *who = ex->key_valid ? ex->key : ex->user;

	crypto_auth_hmacsha256_init(&st, ex->srv->secret,
	    sizeof(ex->srv->secret));
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)label,
	    strlen(label) + 1);
	/* The lookup key, so that every spelling of a name gets one salt. */
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)who,
	    strlen(who));
	crypto_auth_hmacsha256_final(&st, mac);
	memcpy(out, mac, outlen < sizeof(mac) ? outlen : sizeof(mac));
	sodium_memzero(mac, sizeof(mac));
	sodium_memzero(&st, sizeof(st));
}

/* Fills ex->secrets with the unknown-user fakes. */
static void
sasl_fake_secrets(struct sasl_exchange *ex)
{
	struct userdb_secrets *s = &ex->secrets;

	userdb_secrets_clear(s);
	s->scram_iter = PASSWORD_SCRAM_ITER;
	s->scram_salt_len = PASSWORD_SCRAM_SALT_LEN;
	sasl_fake(ex, "salt", s->scram_salt, s->scram_salt_len);
	sasl_fake(ex, "stored-key", s->scram_stored_key,
	    sizeof(s->scram_stored_key));
	sasl_fake(ex, "server-key", s->scram_server_key,
	    sizeof(s->scram_server_key));
	ex->secrets_state = 2;
}

/*
 * Looks up the secrets of the user GNU SASL has put in GSASL_AUTHID, once
 * per exchange. 0, or -1 on a store error.
 */
static int
sasl_load_secrets(struct sasl_exchange *ex)
{
	const char *authid;
	int found = 0;

	if (ex->secrets_state != 0)
		return 0;
	if ((authid = gsasl_property_fast(ex->gs, GSASL_AUTHID)) == NULL)
		authid = "";
	sasl_set_user(ex, authid);
	if (ex->key_valid)
		found = userdb_get_secrets(ex->srv->db, ex->key, &ex->secrets);
	if (found == -1) {
		ex->store_error = 1;
		return -1;
	}
	if (found == 1 && (ex->mech == MECH_CRAM_MD5 ||
	    ex->secrets.scram_salt_len > 0)) {
		ex->secrets_state = 1;
		return 0;
	}
	sasl_fake_secrets(ex);
	return 0;
}

/* Sets a property from binary data as base64. */
static int
sasl_set_b64(Gsasl_session *gs, Gsasl_property prop,
    const unsigned char *data, size_t len)
{
	char b64[128];

	if (sasl_b64_encode(data, len, b64, sizeof(b64)) == -1)
		return GSASL_MALLOC_ERROR;
	gsasl_property_set(gs, prop, b64);
	sodium_memzero(b64, sizeof(b64));
	return GSASL_OK;
}

/* Answers one SCRAM property from ex->secrets. */
static int
sasl_scram_property(struct sasl_exchange *ex, Gsasl_property prop)
{
	struct userdb_secrets *s = &ex->secrets;
	char iter[16];

	switch (prop) {
	case GSASL_SCRAM_ITER:
		(void)snprintf(iter, sizeof(iter), "%u", s->scram_iter);
		gsasl_property_set(ex->gs, prop, iter);
		return GSASL_OK;
	case GSASL_SCRAM_SALT:
		return sasl_set_b64(ex->gs, prop, s->scram_salt,
		    s->scram_salt_len);
	case GSASL_SCRAM_STOREDKEY:
		return sasl_set_b64(ex->gs, prop, s->scram_stored_key,
		    sizeof(s->scram_stored_key));
	case GSASL_SCRAM_SERVERKEY:
		return sasl_set_b64(ex->gs, prop, s->scram_server_key,
		    sizeof(s->scram_server_key));
	default:
		return GSASL_NO_CALLBACK;
	}
}

/* The CRAM-MD5 secret, or none (GNU SASL then fails the exchange). */
static int
sasl_cram_password(struct sasl_exchange *ex)
{
	if (ex->mech != MECH_CRAM_MD5 || ex->secrets_state != 1 ||
	    !ex->secrets.has_cram)
		return GSASL_NO_CALLBACK;
	gsasl_property_set(ex->gs, GSASL_PASSWORD, ex->secrets.cram_secret);
	return GSASL_OK;
}

static int
sasl_gsasl_callback(Gsasl *ctx, Gsasl_session *gs, Gsasl_property prop)
{
	struct sasl_exchange *ex = gsasl_session_hook_get(gs);

	(void)ctx;
	if (ex == NULL)
		return GSASL_NO_CALLBACK;
	switch (prop) {
	case GSASL_SCRAM_ITER:
	case GSASL_SCRAM_SALT:
	case GSASL_SCRAM_STOREDKEY:
	case GSASL_SCRAM_SERVERKEY:
		if (ex->mech == MECH_CRAM_MD5 || sasl_load_secrets(ex) == -1)
			return GSASL_AUTHENTICATION_ERROR;
		return sasl_scram_property(ex, prop);
	case GSASL_PASSWORD:
		if (sasl_load_secrets(ex) == -1)
			return GSASL_AUTHENTICATION_ERROR;
		return sasl_cram_password(ex);
	default:
		/* Channel bindings are set up front; nothing else is served. */
		return GSASL_NO_CALLBACK;
	}
}

int
sasl_gsasl_init(struct sasl_server *srv)
{
	int rc;

	if ((rc = gsasl_init(&srv->gsasl)) != GSASL_OK) {
		srv->gsasl = NULL;
		log_warnx("event=sasl-init-failed reason=\"%s\"",
		    gsasl_strerror(rc));
		return -1;
	}
	gsasl_callback_set(srv->gsasl, sasl_gsasl_callback);
	return 0;
}

int
sasl_gsasl_supported(struct sasl_server *srv, enum sasl_mech mech)
{
	if (mech == MECH_PLAIN || mech == MECH_LOGIN)
		return 1;
	return gsasl_server_support_p(srv->gsasl, sasl_mech_name(mech));
}

/* Hands the session's channel-binding data to GNU SASL, base64-encoded. */
static int
sasl_gsasl_cbind(struct sasl_exchange *ex)
{
	if (ex->cb.exporter_len > 0 && sasl_set_b64(ex->gs,
	    GSASL_CB_TLS_EXPORTER, ex->cb.exporter,
	    ex->cb.exporter_len) != GSASL_OK)
		return -1;
	if (ex->cb.unique_len > 0 && sasl_set_b64(ex->gs,
	    GSASL_CB_TLS_UNIQUE, ex->cb.unique, ex->cb.unique_len) != GSASL_OK)
		return -1;
	return 0;
}

int
sasl_gsasl_start(struct sasl_exchange *ex)
{
	int rc;

	rc = gsasl_server_start(ex->srv->gsasl, sasl_mech_name(ex->mech),
	    &ex->gs);
	if (rc != GSASL_OK) {
		ex->gs = NULL;
		log_warnx("event=sasl-start-failed mech=%s reason=\"%s\"",
		    sasl_mech_name(ex->mech), gsasl_strerror(rc));
		return -1;
	}
	gsasl_session_hook_set(ex->gs, ex);
	gsasl_property_set(ex->gs, GSASL_SERVICE, SASL_SERVICE);
	/*
	 * Only when -PLUS is on offer: GNU SASL then also refuses a client
	 * that says "y" (it supports binding but thinks we do not), which is
	 * a downgrade (RFC 5802 §6).
	 */
	if (ex->plus_offered && sasl_gsasl_cbind(ex) == -1)
		return -1;
	return 0;
}

/* Zeroes a secret property GNU SASL holds before it is freed. */
static void
sasl_gsasl_scrub(Gsasl_session *gs, Gsasl_property prop)
{
	const char *p = gsasl_property_fast(gs, prop);

	if (p != NULL)
		sodium_memzero((char *)p, strlen(p));
	gsasl_property_free(gs, prop);
}

void
sasl_gsasl_finish(struct sasl_exchange *ex)
{
	if (ex->gs != NULL) {
		sasl_gsasl_scrub(ex->gs, GSASL_PASSWORD);
		sasl_gsasl_scrub(ex->gs, GSASL_SCRAM_SALTED_PASSWORD);
		sasl_gsasl_scrub(ex->gs, GSASL_SCRAM_STOREDKEY);
		sasl_gsasl_scrub(ex->gs, GSASL_SCRAM_SERVERKEY);
		gsasl_finish(ex->gs);
		ex->gs = NULL;
	}
	userdb_secrets_clear(&ex->secrets);
}

/* GNU SASL reported success: check the authorization identity. */
static int
sasl_gsasl_success(struct sasl_exchange *ex)
{
	const char *authzid = gsasl_property_fast(ex->gs, GSASL_AUTHZID);

	if (ex->secrets_state != 1 || !ex->key_valid) {
		ex->reason = "invalid-credentials";	/* cannot happen */
		return SASL_BAD;
	}
	if (authzid != NULL && authzid[0] != '\0' &&
	    !sasl_same_user(authzid, ex->user)) {
		ex->reason = "authzid-not-allowed";
		return SASL_BAD;
	}
	return SASL_OK;
}

/* Maps a GNU SASL failure to a result. */
static int
sasl_gsasl_failure(struct sasl_exchange *ex, int rc)
{
	if (ex->store_error) {
		ex->reason = "user-store";
		return SASL_TEMPFAIL;
	}
	if (rc == GSASL_MALLOC_ERROR) {
		ex->reason = "out-of-memory";
		return SASL_TEMPFAIL;
	}
	if (ex->user[0] == '\0') {
		const char *authid = gsasl_property_fast(ex->gs, GSASL_AUTHID);

		if (authid != NULL)
			sasl_set_user(ex, authid);
	}
	if (rc == GSASL_AUTHENTICATION_ERROR || rc == GSASL_NO_PASSWORD)
		ex->reason = "invalid-credentials";
	else if (rc == GSASL_NO_CB_TLS_UNIQUE || rc == GSASL_NO_CB_TLS_EXPORTER)
		ex->reason = "channel-binding";
	else
		ex->reason = "malformed";
	return SASL_BAD;
}

int
sasl_gsasl_step(struct sasl_exchange *ex, int have, const unsigned char *in,
    size_t len, char *out, size_t outsz)
{
	char *gout = NULL;
	size_t goutlen = 0;
	int rc, res;

	if (ex->state == STATE_FINAL_ACK) {
		/* RFC 4954 §4: success data went out as a 334 challenge. */
		if (len == 0)
			return SASL_OK;
		ex->reason = "protocol";
		return SASL_BAD;
	}
	if (ex->state == STATE_START && have && len > 0 &&
	    ex->mech == MECH_CRAM_MD5) {
		/* A server-first mechanism takes no initial response. */
		ex->reason = "initial-response-not-allowed";
		return SASL_BAD;
	}
	rc = gsasl_step(ex->gs, (const char *)in, len, &gout, &goutlen);
	if (rc != GSASL_OK && rc != GSASL_NEEDS_MORE) {
		gsasl_free(gout);
		return sasl_gsasl_failure(ex, rc);
	}
	res = rc == GSASL_OK ? sasl_gsasl_success(ex) : SASL_CONTINUE;
	if (res == SASL_CONTINUE || (res == SASL_OK && goutlen > 0)) {
		ex->state = res == SASL_OK ? STATE_FINAL_ACK : STATE_WAIT;
		res = sasl_challenge(gout, goutlen, out, outsz);
	}
	gsasl_free(gout);
	return res;
}
