/*
 * Password secrets: argon2id hashes (libsodium) for PLAIN and LOGIN, the
 * SCRAM-SHA-256 keys of RFC 5802/7677 (OpenSSL) so that SCRAM needs no
 * plaintext, and the check that AUTH runs against the user store.
 * Passwords travel as (ptr, len); every buffer that held one is zeroed
 * with sodium_memzero before it is released.
 */
#ifndef POSTERN_PASSWORD_H
#define POSTERN_PASSWORD_H

#include <stddef.h>

#include <sodium.h>

#define PASSWORD_MAX 1024		/* longest password accepted, bytes */
#define PASSWORD_CRAM_MAX 255		/* longest one with a CRAM-MD5 secret */
#define PASSWORD_SCRAM_ITER 4096	/* RFC 7677 §4: at least 4096 */
#define PASSWORD_SCRAM_SALT_LEN 16	/* random bytes per user */
#define PASSWORD_SCRAM_KEY_LEN 32	/* SHA-256 output */
#define PASSWORD_ARGON2_LEN crypto_pwhash_STRBYTES

struct userdb;
struct userdb_secrets;

/*
 * Hashes pw[0..len) with argon2id (OPSLIMIT/MEMLIMIT_INTERACTIVE) into out,
 * a NUL-terminated "$argon2id$..." string. 0 on success, -1 on failure
 * (out of memory; errno set).
 */
int password_argon2_hash(const char *pw, size_t len,
    char out[PASSWORD_ARGON2_LEN]);

/*
 * Checks pw[0..len) against an argon2 string in constant time.
 * 1 if it matches, 0 if not (or the hash is malformed).
 */
int password_argon2_verify(const char *hash, const char *pw, size_t len);

/*
 * The RFC 5802 §3 derivation, for SHA-256:
 *   SaltedPassword = PBKDF2-HMAC-SHA-256(pw, salt, iter)
 *   ClientKey = HMAC(SaltedPassword, "Client Key")
 *   StoredKey = SHA-256(ClientKey)
 *   ServerKey = HMAC(SaltedPassword, "Server Key")
 * pw must already be SASLprep'ed (see password_make_secrets). Writes
 * PASSWORD_SCRAM_KEY_LEN bytes to stored_key and server_key. 0 on success,
 * -1 on a library failure or iter == 0.
 */
int password_scram_derive(const char *pw, size_t len,
    const unsigned char *salt, size_t saltlen, unsigned iter,
    unsigned char *stored_key, unsigned char *server_key);

/*
 * Builds every stored secret for a new password: argon2id, SCRAM-SHA-256
 * with a fresh random salt and PASSWORD_SCRAM_ITER iterations over the
 * SASLprep (RFC 4013) form of the password, and, if with_cram, the
 * CRAM-MD5 secret (the password itself: CRAM-MD5 is plaintext-equivalent).
 * Refuses empty passwords, NUL, CR or LF in them, lengths over
 * PASSWORD_MAX (PASSWORD_CRAM_MAX with CRAM-MD5) and passwords SASLprep
 * prohibits. 0 on success; -1 with a message in why (errno EINVAL for a
 * refused password, else the failure's).
 */
int password_make_secrets(const char *pw, size_t len, int with_cram,
    struct userdb_secrets *out, char *why, size_t whysz);

/*
 * For PLAIN and LOGIN: checks a password for the user with lookup key
 * `key` against its argon2id hash. An unknown user costs the same argon2
 * verification (against a dummy hash) so that timing does not tell which
 * users exist. 1 accepted, 0 bad password or unknown user, -1 store error.
 * Takes tens of milliseconds: call it from the thread pool.
 */
int password_verify_user(struct userdb *db, const char *key, const char *pw,
    size_t len);

#endif
