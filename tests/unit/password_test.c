/*
 * Unit tests for src/auth/password.c: the SCRAM-SHA-256 derivation against
 * the RFC 7677 §3 exchange, argon2id hash/verify, and the input rules of
 * password_make_secrets().
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include "auth/password.h"
#include "auth/userdb.h"

/* RFC 7677 §3: user "user", password "pencil". */
#define RFC_SALT_B64 "W22ZaJ0SNY7soEsUEjb6gQ=="
#define RFC_CLIENT_FIRST_BARE "n=user,r=rOprNGfwEbeRWgbNEkqO"
#define RFC_SERVER_FIRST "r=rOprNGfwEbeRWgbNEkqO" \
	"%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
#define RFC_CLIENT_FINAL_NO_PROOF "c=biws,r=rOprNGfwEbeRWgbNEkqO" \
	"%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
#define RFC_PROOF_B64 "dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
#define RFC_SERVER_SIG_B64 "6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="

static size_t
b64dec(const char *b64, unsigned char *out, size_t outsz)
{
	size_t len = 0;

	assert_int_equal(sodium_base642bin(out, outsz, b64, strlen(b64), NULL,
	    &len, NULL, sodium_base64_VARIANT_ORIGINAL), 0);
	return len;
}

static void
hmac256(const unsigned char *key, const char *msg, unsigned char *out)
{
	unsigned int len = 32;

	assert_non_null(HMAC(EVP_sha256(), key, 32,
	    (const unsigned char *)msg, strlen(msg), out, &len));
	assert_int_equal(len, 32);
}

/*
 * The keys we derive must let the server produce the RFC's
 * ServerSignature and accept the RFC's ClientProof.
 */
static void
test_scram_rfc7677(void **state)
{
	const char *auth_message = RFC_CLIENT_FIRST_BARE "," RFC_SERVER_FIRST
	    "," RFC_CLIENT_FINAL_NO_PROOF;
	unsigned char salt[16], stored[32], server[32], sig[32], want_sig[32];
	unsigned char proof[32], client_key[32], check[32];
	size_t i;

	(void)state;
	assert_int_equal(b64dec(RFC_SALT_B64, salt, sizeof(salt)), 16);
	assert_int_equal(password_scram_derive("pencil", 6, salt, 16, 4096,
	    stored, server), 0);

	hmac256(server, auth_message, sig);
	assert_int_equal(b64dec(RFC_SERVER_SIG_B64, want_sig,
	    sizeof(want_sig)), 32);
	assert_memory_equal(sig, want_sig, 32);

	/* ClientKey = ClientProof XOR HMAC(StoredKey, AuthMessage) */
	assert_int_equal(b64dec(RFC_PROOF_B64, proof, sizeof(proof)), 32);
	hmac256(stored, auth_message, sig);
	for (i = 0; i < 32; i++)
		client_key[i] = proof[i] ^ sig[i];
	SHA256(client_key, 32, check);
	assert_memory_equal(check, stored, 32);
}

/* The same keys, as hex, from an independent Python hashlib run. */
static void
test_scram_known_keys(void **state)
{
	static const char want_stored[] = "586e5df283e6dceb5c3e791d8b8528ec"
	    "191e664045ce971792e2e6b5bb13e2a6";
	static const char want_server[] = "c1f3cbc1c13a9d35a14c0990eed97629"
	    "ea225863e566a4314ab99f3f00e5d9d5";
	unsigned char salt[16], stored[32], server[32];
	char hex[65];

	(void)state;
	(void)b64dec(RFC_SALT_B64, salt, sizeof(salt));
	assert_int_equal(password_scram_derive("pencil", 6, salt, 16, 4096,
	    stored, server), 0);
	assert_string_equal(sodium_bin2hex(hex, sizeof(hex), stored, 32),
	    want_stored);
	assert_string_equal(sodium_bin2hex(hex, sizeof(hex), server, 32),
	    want_server);
	/* One iteration less gives other keys; zero iterations is refused. */
	assert_int_equal(password_scram_derive("pencil", 6, salt, 16, 4095,
	    stored, server), 0);
	assert_string_not_equal(sodium_bin2hex(hex, sizeof(hex), stored, 32),
	    want_stored);
	assert_int_equal(password_scram_derive("pencil", 6, salt, 16, 0,
	    stored, server), -1);
}

static void
test_argon2(void **state)
{
	char hash[PASSWORD_ARGON2_LEN], hash2[PASSWORD_ARGON2_LEN];

	(void)state;
	assert_int_equal(password_argon2_hash("correct horse", 13, hash), 0);
	assert_true(strncmp(hash, "$argon2id$", 10) == 0);
	assert_int_equal(password_argon2_verify(hash, "correct horse", 13), 1);
	assert_int_equal(password_argon2_verify(hash, "correct horsE", 13), 0);
	assert_int_equal(password_argon2_verify(hash, "correct hors", 12), 0);
	assert_int_equal(password_argon2_verify(hash, "", 0), 0);
	assert_int_equal(password_argon2_verify("$argon2id$junk", "x", 1), 0);
	/* Salted: the same password hashes differently each time. */
	assert_int_equal(password_argon2_hash("correct horse", 13, hash2), 0);
	assert_string_not_equal(hash, hash2);
	/* Binary-safe: (ptr, len), not NUL-terminated strings. */
	assert_int_equal(password_argon2_hash("a\0b", 3, hash), 0);
	assert_int_equal(password_argon2_verify(hash, "a\0b", 3), 1);
	assert_int_equal(password_argon2_verify(hash, "a", 1), 0);
}

/* Prints the cost of one verification (reported, not asserted). */
static void
test_argon2_timing(void **state)
{
	char hash[PASSWORD_ARGON2_LEN];
	struct timespec t0, t1;
	double ms;
	int i, n = 5;

	(void)state;
	assert_int_equal(password_argon2_hash("timing", 6, hash), 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i < n; i++)
		assert_int_equal(password_argon2_verify(hash, "timing", 6), 1);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = ((t1.tv_sec - t0.tv_sec) * 1e3 +
	    (t1.tv_nsec - t0.tv_nsec) / 1e6) / n;
	printf("# argon2id verify (INTERACTIVE): %.1f ms per call\n", ms);
	assert_true(ms > 0.0);
}

struct input_case {
	const char	*name;
	const char	*pw;
	size_t		 len;
	int		 cram;
	int		 want;		/* 0 accepted, -1 refused */
	const char	*why;		/* substring of the refusal */
};

static char long_pw[PASSWORD_MAX + 2];

static void
test_make_secrets_inputs(void **state)
{
	const struct input_case cases[] = {
		{ "empty", "", 0, 0, -1, "empty" },
		{ "nul", "ab\0cd", 5, 0, -1, "NUL" },
		{ "cr", "ab\rcd", 5, 0, -1, "CR" },
		{ "lf", "ab\ncd", 5, 0, -1, "LF" },
		{ "control", "ab\001cd", 5, 0, -1, "SASLprep" },
		{ "latin1", "caf\xe9", 4, 0, -1, "UTF-8" },
		{ "max", long_pw, PASSWORD_MAX, 0, 0, NULL },
		{ "over max", long_pw, PASSWORD_MAX + 1, 0, -1, "longer" },
		{ "cram max", long_pw, PASSWORD_CRAM_MAX, 1, 0, NULL },
		{ "cram over", long_pw, PASSWORD_CRAM_MAX + 1, 1, -1,
		    "CRAM-MD5" },
		{ "utf8", "p\xc3\xa4ss w\xc3\xb6rd", 11, 1, 0, NULL },
	};
	struct userdb_secrets s;
	char why[256];
	size_t i;

	(void)state;
	memset(long_pw, 'x', sizeof(long_pw));
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		why[0] = '\0';
		print_message("# case %s\n", cases[i].name);
		assert_int_equal(password_make_secrets(cases[i].pw,
		    cases[i].len, cases[i].cram, &s, why, sizeof(why)),
		    cases[i].want);
		if (cases[i].why != NULL)
			assert_non_null(strstr(why, cases[i].why));
		if (cases[i].want == -1) {
			assert_int_equal(s.has_cram, 0);
			assert_int_equal(s.argon2[0], '\0');
		}
		userdb_secrets_clear(&s);
	}
}

static void
test_make_secrets_fields(void **state)
{
	struct userdb_secrets s, s2;
	unsigned char stored[32], server[32];
	char why[256];

	(void)state;
	assert_int_equal(password_make_secrets("s3cret", 6, 0, &s, why,
	    sizeof(why)), 0);
	assert_int_equal(password_argon2_verify(s.argon2, "s3cret", 6), 1);
	assert_int_equal(s.scram_salt_len, PASSWORD_SCRAM_SALT_LEN);
	assert_int_equal(s.scram_iter, PASSWORD_SCRAM_ITER);
	assert_int_equal(password_scram_derive("s3cret", 6, s.scram_salt,
	    s.scram_salt_len, s.scram_iter, stored, server), 0);
	assert_memory_equal(stored, s.scram_stored_key, 32);
	assert_memory_equal(server, s.scram_server_key, 32);
	assert_int_equal(s.has_cram, 0);
	assert_string_equal(s.cram_secret, "");

	/* A fresh salt every time; CRAM-MD5 keeps the password itself. */
	assert_int_equal(password_make_secrets("s3cret", 6, 1, &s2, why,
	    sizeof(why)), 0);
	assert_memory_not_equal(s.scram_salt, s2.scram_salt, 16);
	assert_memory_not_equal(s.scram_stored_key, s2.scram_stored_key, 32);
	assert_int_equal(s2.has_cram, 1);
	assert_string_equal(s2.cram_secret, "s3cret");
	userdb_secrets_clear(&s2);
	assert_int_equal(s2.has_cram, 0);
	assert_int_equal(s2.cram_secret[0], '\0');
	userdb_secrets_clear(&s);
}

/* SCRAM hashes the SASLprep form: U+00A0 NO-BREAK SPACE maps to a space. */
static void
test_make_secrets_saslprep(void **state)
{
	struct userdb_secrets s;
	unsigned char stored[32], server[32];
	char why[256];

	(void)state;
	assert_int_equal(password_make_secrets("pass\xc2\xa0word", 10, 0, &s,
	    why, sizeof(why)), 0);
	assert_int_equal(password_scram_derive("pass word", 9, s.scram_salt,
	    s.scram_salt_len, s.scram_iter, stored, server), 0);
	assert_memory_equal(stored, s.scram_stored_key, 32);
	/* argon2 (PLAIN/LOGIN) keeps the bytes as given. */
	assert_int_equal(password_argon2_verify(s.argon2, "pass\xc2\xa0word",
	    10), 1);
	assert_int_equal(password_argon2_verify(s.argon2, "pass word", 9), 0);
	userdb_secrets_clear(&s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_scram_rfc7677),
		cmocka_unit_test(test_scram_known_keys),
		cmocka_unit_test(test_argon2),
		cmocka_unit_test(test_argon2_timing),
		cmocka_unit_test(test_make_secrets_inputs),
		cmocka_unit_test(test_make_secrets_fields),
		cmocka_unit_test(test_make_secrets_saslprep),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
