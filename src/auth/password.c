/*
 * Password hashing and SCRAM key derivation. Owns nothing long-lived but
 * the dummy argon2 hash used to make unknown users cost the same as known
 * ones. Runs in the CLI (to make secrets) and wherever AUTH checks a
 * password (the SMTP workers' thread pool). Thread-safe.
 */
#include "auth/password.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <gsasl.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include "auth/userdb.h"
#include "util/log.h"

static char password_dummy[PASSWORD_ARGON2_LEN];
static int password_dummy_ok;
static pthread_once_t password_dummy_once = PTHREAD_ONCE_INIT;

static int
password_sodium_init(void)
{
	return sodium_init() < 0 ? -1 : 0;
}

int
password_argon2_hash(const char *pw, size_t len,
    char out[PASSWORD_ARGON2_LEN])
{
	if (password_sodium_init() == -1) {
		errno = EIO;
		return -1;
	}
	if (crypto_pwhash_str(out, pw, len,
	    crypto_pwhash_OPSLIMIT_INTERACTIVE,
	    crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0) {
		errno = ENOMEM;
		return -1;
	}
	return 0;
}

int
password_argon2_verify(const char *hash, const char *pw, size_t len)
{
	if (password_sodium_init() == -1)
		return 0;
	return crypto_pwhash_str_verify(hash, pw, len) == 0;
}

int
password_scram_derive(const char *pw, size_t len, const unsigned char *salt,
    size_t saltlen, unsigned iter, unsigned char *stored_key,
    unsigned char *server_key)
{
	unsigned char salted[PASSWORD_SCRAM_KEY_LEN];
	unsigned char client_key[PASSWORD_SCRAM_KEY_LEN];
	unsigned int outlen;
	int rc = -1;

	if (iter == 0 || iter > INT32_MAX || len > INT32_MAX ||
	    saltlen > INT32_MAX)
		return -1;
	if (PKCS5_PBKDF2_HMAC(pw, (int)len, salt, (int)saltlen, (int)iter,
	    EVP_sha256(), sizeof(salted), salted) != 1)
		goto fail;
	outlen = sizeof(client_key);
	if (HMAC(EVP_sha256(), salted, sizeof(salted),
	    (const unsigned char *)"Client Key", 10, client_key,
	    &outlen) == NULL || outlen != sizeof(client_key))
		goto fail;
	if (SHA256(client_key, sizeof(client_key), stored_key) == NULL)
		goto fail;
	outlen = PASSWORD_SCRAM_KEY_LEN;
	if (HMAC(EVP_sha256(), salted, sizeof(salted),
	    (const unsigned char *)"Server Key", 10, server_key,
	    &outlen) == NULL || outlen != PASSWORD_SCRAM_KEY_LEN)
		goto fail;
	rc = 0;
fail:
	sodium_memzero(salted, sizeof(salted));
	sodium_memzero(client_key, sizeof(client_key));
	return rc;
}

/* Refuses what no stored form can hold; 0 if pw may be used. */
static int
password_check_input(const char *pw, size_t len, int with_cram, char *why,
    size_t whysz)
{
	size_t max = with_cram ? PASSWORD_CRAM_MAX : PASSWORD_MAX;

	if (len == 0) {
		(void)snprintf(why, whysz, "empty password");
		return -1;
	}
	if (len > max) {
		(void)snprintf(why, whysz, "password longer than %zu bytes%s",
		    max, with_cram ? " (the CRAM-MD5 limit)" : "");
		return -1;
	}
	if (memchr(pw, '\0', len) != NULL || memchr(pw, '\r', len) != NULL ||
	    memchr(pw, '\n', len) != NULL) {
		(void)snprintf(why, whysz, "password contains NUL, CR or LF");
		return -1;
	}
	return 0;
}

/*
 * SCRAM-SHA-256 secrets with a fresh salt, over the SASLprep form of pw
 * (what SCRAM clients hash, RFC 5802 §2.2).
 */
static int
password_make_scram(const char *pw, size_t len, struct userdb_secrets *out,
    char *why, size_t whysz)
{
	char *copy = NULL, *prep = NULL;
	int rc = -1, grc;

	copy = sodium_malloc(len + 1);
	if (copy == NULL) {
		(void)snprintf(why, whysz, "out of memory");
		return -1;
	}
	memcpy(copy, pw, len);
	copy[len] = '\0';
	grc = gsasl_saslprep(copy, GSASL_ALLOW_UNASSIGNED, &prep, NULL);
	if (grc != GSASL_OK || prep == NULL || *prep == '\0') {
		(void)snprintf(why, whysz, "password is not UTF-8 or has "
		    "characters SASLprep (RFC 4013) prohibits");
		errno = EINVAL;
		goto fail;
	}
	randombytes_buf(out->scram_salt, PASSWORD_SCRAM_SALT_LEN);
	out->scram_salt_len = PASSWORD_SCRAM_SALT_LEN;
	out->scram_iter = PASSWORD_SCRAM_ITER;
	if (password_scram_derive(prep, strlen(prep), out->scram_salt,
	    out->scram_salt_len, out->scram_iter, out->scram_stored_key,
	    out->scram_server_key) == -1) {
		(void)snprintf(why, whysz, "SCRAM key derivation failed");
		errno = EIO;
		goto fail;
	}
	rc = 0;
fail:
	if (prep != NULL) {
		sodium_memzero(prep, strlen(prep));
		gsasl_free(prep);
	}
	sodium_free(copy);
	return rc;
}

int
password_make_secrets(const char *pw, size_t len, int with_cram,
    struct userdb_secrets *out, char *why, size_t whysz)
{
	memset(out, 0, sizeof(*out));
	if (password_check_input(pw, len, with_cram, why, whysz) == -1) {
		errno = EINVAL;
		return -1;
	}
	if (password_argon2_hash(pw, len, out->argon2) == -1) {
		(void)snprintf(why, whysz, "argon2id hashing failed: %s",
		    strerror(errno));
		goto fail;
	}
	if (password_make_scram(pw, len, out, why, whysz) == -1)
		goto fail;
	if (with_cram) {
		memcpy(out->cram_secret, pw, len);
		out->cram_secret[len] = '\0';
		out->has_cram = 1;
	}
	return 0;
fail:
	userdb_secrets_clear(out);
	return -1;
}

/* A hash of a random password nobody knows, with the same cost. */
static void
password_dummy_make(void)
{
	unsigned char junk[32];

	randombytes_buf(junk, sizeof(junk));
	password_dummy_ok = password_argon2_hash((const char *)junk,
	    sizeof(junk), password_dummy) == 0;
	sodium_memzero(junk, sizeof(junk));
}

int
password_verify_user(struct userdb *db, const char *key, const char *pw,
    size_t len)
{
	struct userdb_secrets s;
	int found, ok;

	if (password_sodium_init() == -1)
		return -1;
	(void)pthread_once(&password_dummy_once, password_dummy_make);
	found = userdb_get_secrets(db, key, &s);
	if (found == -1)
		return -1;
	if (found == 0) {
		if (password_dummy_ok)
			(void)password_argon2_verify(password_dummy, pw, len);
		return 0;
	}
	ok = password_argon2_verify(s.argon2, pw, len);
	userdb_secrets_clear(&s);
	return ok;
}
