/*
 * Unit tests for src/auth/sasl*.c: full AUTH exchanges for every mechanism
 * against a temporary user store. PLAIN and LOGIN with and without an
 * initial response, CRAM-MD5 answered with OpenSSL's HMAC-MD5, and
 * SCRAM-SHA-256 / -PLUS driven by a client written here from RFC 5802 and
 * RFC 7677 that checks the server's signature. Also: wrong passwords,
 * unknown users (stable fake SCRAM salts), "*", bad base64, over-long
 * lines, the base64 codec, logs (mechanism and user, never the secret)
 * and exchanges on several threads at once.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <pthread.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include "auth/password.h"
#include "auth/sasl.h"
#include "auth/userdb.h"
#include "conf/conf.h"

#define ALICE "alice@example.test"
#define ALICE_PW "correct horse battery"
#define BOB "bob@example.test"
#define BOB_PW "tr0ub4dor&3"

static char tmpdir[] = "/tmp/sasl_test.XXXXXX";
static char dbpath[256];
static struct userdb *db;
static struct conf conf_all, conf_default;
static struct sasl_server *srv_all, *srv_default;

/* Base64 through OpenSSL, independent of the code under test. */
static void
b64(const void *in, size_t len, char *out, size_t outsz)
{
	assert_true(outsz >= (len + 2) / 3 * 4 + 1);
	EVP_EncodeBlock((unsigned char *)out, in, (int)len);
}

static size_t
unb64(const char *in, unsigned char *out, size_t outsz)
{
	size_t len = strlen(in), n, pad = 0;

	assert_true(len % 4 == 0 && len / 4 * 3 <= outsz);
	if (len == 0)
		return 0;
	assert_int_not_equal(EVP_DecodeBlock(out, (const unsigned char *)in,
	    (int)len), -1);
	pad = (in[len - 1] == '=') + (in[len - 2] == '=');
	n = len / 4 * 3 - pad;
	out[n] = '\0';
	return n;
}

static void
add_user(const char *addr, const char *pw, int cram)
{
	struct userdb_secrets s;
	char why[256];

	assert_int_equal(password_make_secrets(pw, strlen(pw), cram, &s, why,
	    sizeof(why)), 0);
	assert_int_equal(userdb_user_add(db, addr, &s, why, sizeof(why)), 0);
	userdb_secrets_clear(&s);
}

static void
set_mechs(struct conf *c, const char *const *mechs)
{
	c->auth_mechanisms.n = 0;
	while (*mechs != NULL)
		c->auth_mechanisms.v[c->auth_mechanisms.n++] = (char *)*mechs++;
	c->auth_database = dbpath;
	c->hostname = (char *)"mx.example.test";
}

static int
setup(void **state)
{
	static const char *const all[] = { "SCRAM-SHA-256-PLUS",
	    "SCRAM-SHA-256", "PLAIN", "LOGIN", "CRAM-MD5", NULL };
	static const char *const dflt[] = { "SCRAM-SHA-256", "PLAIN", "LOGIN",
	    NULL };
	char why[256];

	(void)state;
	assert_non_null(mkdtemp(tmpdir));
	(void)snprintf(dbpath, sizeof(dbpath), "%s/users.db", tmpdir);
	db = userdb_open(dbpath, 1, why, sizeof(why));
	assert_non_null(db);
	add_user(ALICE, ALICE_PW, 1);
	add_user(BOB, BOB_PW, 0);
	set_mechs(&conf_all, all);
	set_mechs(&conf_default, dflt);
	srv_all = sasl_server_new(&conf_all, db);
	srv_default = sasl_server_new(&conf_default, db);
	assert_non_null(srv_all);
	assert_non_null(srv_default);
	return 0;
}

static int
teardown(void **state)
{
	char cmd[512];

	(void)state;
	sasl_server_free(srv_all);
	sasl_server_free(srv_default);
	userdb_close(db);
	(void)snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	assert_int_equal(system(cmd), 0);
	return 0;
}

/* --- stderr capture, to assert on log lines --- */

static int saved_stderr = -1;
static char logpath[300];

static void
capture_start(void)
{
	FILE *fp;

	(void)snprintf(logpath, sizeof(logpath), "%s/log", tmpdir);
	fp = fopen(logpath, "w");
	assert_non_null(fp);
	fflush(stderr);
	saved_stderr = dup(STDERR_FILENO);
	assert_int_not_equal(dup2(fileno(fp), STDERR_FILENO), -1);
	fclose(fp);
}

static void
capture_end(char *buf, size_t bufsz)
{
	FILE *fp;
	size_t n;

	fflush(stderr);
	assert_int_not_equal(dup2(saved_stderr, STDERR_FILENO), -1);
	close(saved_stderr);
	fp = fopen(logpath, "r");
	assert_non_null(fp);
	n = fread(buf, 1, bufsz - 1, fp);
	buf[n] = '\0';
	fclose(fp);
}

/* --- exchange helpers --- */

static struct sasl_exchange *
start(struct sasl_server *srv, const char *mech)
{
	struct sasl_exchange *ex;
	int err = -1;

	ex = sasl_exchange_new(srv, mech, strlen(mech), &err);
	assert_non_null(ex);
	return ex;
}

/* One step with a raw (already base64) line; NULL: no initial response. */
static int
step(struct sasl_exchange *ex, const char *line, char *out)
{
	return sasl_exchange_step(ex, line, line != NULL ? strlen(line) : 0,
	    out, SASL_CHALLENGE_MAX);
}

/* One step with the base64 of msg[0..len). */
static int
step_bin(struct sasl_exchange *ex, const void *msg, size_t len, char *out)
{
	char line[SASL_RESPONSE_MAX + 4];

	b64(msg, len, line, sizeof(line));
	return step(ex, line, out);
}

static size_t
plain_msg(char *buf, const char *authzid, const char *user, const char *pw)
{
	size_t a = strlen(authzid), u = strlen(user), p = strlen(pw);

	memcpy(buf, authzid, a);
	buf[a] = '\0';
	memcpy(buf + a + 1, user, u);
	buf[a + 1 + u] = '\0';
	memcpy(buf + a + u + 2, pw, p);
	return a + u + p + 2;
}

/* --- mechanism list and exchange creation --- */

static void
test_mechs(void **state)
{
	(void)state;
	assert_string_equal(sasl_server_mechs(srv_default, 0),
	    "SCRAM-SHA-256 PLAIN LOGIN");
	assert_string_equal(sasl_server_mechs(srv_default, 1),
	    "SCRAM-SHA-256 PLAIN LOGIN");
	assert_string_equal(sasl_server_mechs(srv_all, 0),
	    "SCRAM-SHA-256 PLAIN LOGIN CRAM-MD5");
	assert_string_equal(sasl_server_mechs(srv_all, 1),
	    "SCRAM-SHA-256-PLUS SCRAM-SHA-256 PLAIN LOGIN CRAM-MD5");
}

static void
test_exchange_new(void **state)
{
	static const struct {
		int		 all;
		const char	*mech;
		int		 want;	/* -1: created */
	} cases[] = {
		{ 1, "PLAIN", -1 }, { 1, "plain", -1 },
		{ 1, "Scram-Sha-256", -1 },
		{ 1, "CRAM-MD5", -1 }, { 0, "CRAM-MD5", SASL_BAD_MECH },
		{ 1, "FOO", SASL_BAD_MECH }, { 1, "DIGEST-MD5", SASL_BAD_MECH },
		{ 1, "SCRAM-SHA-1", SASL_BAD_MECH },
		{ 1, "PLAI", SASL_BAD_MECH },
		{ 1, "", SASL_BAD_MECH },
		{ 1, "SCRAM-SHA-256-PLUS", SASL_NEED_TLS },
		{ 0, "SCRAM-SHA-256-PLUS", SASL_BAD_MECH },
	};
	struct sasl_exchange *ex;
	size_t i;
	int err;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		err = -1;
		ex = sasl_exchange_new(cases[i].all ? srv_all : srv_default,
		    cases[i].mech, strlen(cases[i].mech), &err);
		if (cases[i].want == -1) {
			assert_non_null(ex);
			assert_int_equal(err, -1);
		} else {
			assert_null(ex);
			assert_int_equal(err, cases[i].want);
		}
		sasl_exchange_free(ex);
	}
	/* The length counts, not a NUL: "PLAINX" with len 5 is PLAIN. */
	ex = sasl_exchange_new(srv_all, "PLAINX", 5, &err);
	assert_non_null(ex);
	assert_string_equal(sasl_exchange_mech(ex), "PLAIN");
	sasl_exchange_free(ex);
}

/* --- PLAIN --- */

static void
test_plain_table(void **state)
{
	static const struct {
		const char	*name;
		int		 ir;	/* response as initial response */
		const char	*authzid, *user, *pw;
		int		 want;
		const char	*key;
	} cases[] = {
		{ "ir", 1, "", ALICE, ALICE_PW, SASL_OK, ALICE },
		{ "no ir", 0, "", ALICE, ALICE_PW, SASL_OK, ALICE },
		{ "authzid self", 1, ALICE, ALICE, ALICE_PW, SASL_OK, ALICE },
		{ "case and tag", 1, "", "Alice+lists@EXAMPLE.test", ALICE_PW,
		    SASL_OK, ALICE },
		{ "bob", 1, "", BOB, BOB_PW, SASL_OK, BOB },
		{ "authzid other", 1, BOB, ALICE, ALICE_PW, SASL_BAD, NULL },
		{ "wrong password", 1, "", ALICE, BOB_PW, SASL_BAD, NULL },
		{ "password prefix", 1, "", ALICE, "correct horse", SASL_BAD,
		    NULL },
		{ "unknown user", 1, "", "carol@example.test", ALICE_PW,
		    SASL_BAD, NULL },
		{ "not an address", 1, "", "alice", ALICE_PW, SASL_BAD, NULL },
		{ "empty user", 0, "", "", ALICE_PW, SASL_BAD, NULL },
		{ "empty password", 1, "", ALICE, "", SASL_BAD, NULL },
		{ "cr in user", 1, "", ALICE "\r", ALICE_PW, SASL_BAD, NULL },
		{ "lf in pw", 1, "", ALICE, ALICE_PW "\n", SASL_BAD, NULL },
	};
	char msg[2048], out[SASL_CHALLENGE_MAX];
	struct sasl_exchange *ex;
	size_t i, len;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		print_message("plain: %s\n", cases[i].name);
		ex = start(srv_all, "PLAIN");
		if (!cases[i].ir) {
			assert_int_equal(step(ex, NULL, out), SASL_CONTINUE);
			assert_string_equal(out, "");	/* "334 " */
		}
		len = plain_msg(msg, cases[i].authzid, cases[i].user,
		    cases[i].pw);
		assert_int_equal(step_bin(ex, msg, len, out), cases[i].want);
		if (cases[i].key != NULL)
			assert_string_equal(sasl_exchange_user(ex),
			    cases[i].key);
		else
			assert_null(sasl_exchange_user(ex));
		/* Finished: any further step is refused. */
		assert_int_equal(step(ex, "", out), SASL_BAD);
		sasl_exchange_free(ex);
	}
}

static void
test_plain_malformed(void **state)
{
	static const struct {
		const char	*name;
		const char	*line;	/* raw line, NULL: see code */
		int		 want;
	} cases[] = {
		{ "empty = initial response", "=", SASL_BAD },
		{ "one NUL", "AGFsaWNl", SASL_BAD },		/* \0alice */
		{ "three NULs", "AGEAYgBj", SASL_BAD },		/* \0a\0b\0c */
		{ "bad base64 length", "AGFsaWN", SASL_BAD_BASE64 },
		{ "bad base64 char", "AGFs!WNl", SASL_BAD_BASE64 },
		{ "base64 with space", "AGFs aWNl", SASL_BAD_BASE64 },
		{ "non-canonical pad", "Zh==", SASL_BAD_BASE64 },
		{ "cancel", "*", SASL_CANCELLED },
	};
	char out[SASL_CHALLENGE_MAX];
	struct sasl_exchange *ex;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		print_message("plain: %s\n", cases[i].name);
		ex = start(srv_all, "PLAIN");
		assert_int_equal(step(ex, cases[i].line, out), cases[i].want);
		assert_null(sasl_exchange_user(ex));
		sasl_exchange_free(ex);
	}
	/* "=" after a 334 is not special: it is bad base64. */
	ex = start(srv_all, "PLAIN");
	assert_int_equal(step(ex, NULL, out), SASL_CONTINUE);
	assert_int_equal(step(ex, "=", out), SASL_BAD_BASE64);
	sasl_exchange_free(ex);
	/* "*" after a 334 cancels. */
	ex = start(srv_all, "PLAIN");
	assert_int_equal(step(ex, NULL, out), SASL_CONTINUE);
	assert_int_equal(step(ex, "*", out), SASL_CANCELLED);
	sasl_exchange_free(ex);
}

static void
test_too_long(void **state)
{
	char *line, out[SASL_CHALLENGE_MAX];
	struct sasl_exchange *ex;

	(void)state;
	line = malloc(SASL_RESPONSE_MAX + 8);
	assert_non_null(line);
	memset(line, 'A', SASL_RESPONSE_MAX + 4);
	line[SASL_RESPONSE_MAX + 4] = '\0';
	ex = start(srv_all, "PLAIN");
	assert_int_equal(step(ex, line, out), SASL_TOO_LONG);
	sasl_exchange_free(ex);
	/* Exactly the limit is decoded (all NULs: not a PLAIN message). */
	line[SASL_RESPONSE_MAX] = '\0';
	ex = start(srv_all, "PLAIN");
	assert_int_equal(step(ex, line, out), SASL_BAD);
	sasl_exchange_free(ex);
	/* LOGIN: an over-long password line. */
	ex = start(srv_all, "LOGIN");
	assert_int_equal(step(ex, NULL, out), SASL_CONTINUE);
	assert_int_equal(step_bin(ex, ALICE, strlen(ALICE), out),
	    SASL_CONTINUE);
	line[SASL_RESPONSE_MAX] = 'A';
	assert_int_equal(step(ex, line, out), SASL_TOO_LONG);
	sasl_exchange_free(ex);
	free(line);
}

/* --- LOGIN --- */

static void
test_login(void **state)
{
	char out[SASL_CHALLENGE_MAX];
	struct sasl_exchange *ex;

	(void)state;
	/* Without an initial response: Username:, Password:. */
	ex = start(srv_all, "LOGIN");
	assert_int_equal(step(ex, NULL, out), SASL_CONTINUE);
	assert_string_equal(out, "VXNlcm5hbWU6");
	assert_int_equal(step_bin(ex, ALICE, strlen(ALICE), out),
	    SASL_CONTINUE);
	assert_string_equal(out, "UGFzc3dvcmQ6");
	assert_int_equal(step_bin(ex, ALICE_PW, strlen(ALICE_PW), out),
	    SASL_OK);
	assert_string_equal(sasl_exchange_user(ex), ALICE);
	sasl_exchange_free(ex);

	/* The user name as initial response. */
	ex = start(srv_all, "LOGIN");
	assert_int_equal(step_bin(ex, BOB, strlen(BOB), out), SASL_CONTINUE);
	assert_string_equal(out, "UGFzc3dvcmQ6");
	assert_int_equal(step_bin(ex, BOB_PW, strlen(BOB_PW), out), SASL_OK);
	assert_string_equal(sasl_exchange_user(ex), BOB);
	sasl_exchange_free(ex);

	/* Wrong password, unknown user, empty password, cancel. */
	ex = start(srv_all, "LOGIN");
	assert_int_equal(step_bin(ex, BOB, strlen(BOB), out), SASL_CONTINUE);
	assert_int_equal(step_bin(ex, ALICE_PW, strlen(ALICE_PW), out),
	    SASL_BAD);
	assert_null(sasl_exchange_user(ex));
	sasl_exchange_free(ex);

	ex = start(srv_all, "LOGIN");
	assert_int_equal(step_bin(ex, "eve@example.test", 16, out),
	    SASL_CONTINUE);
	assert_int_equal(step_bin(ex, ALICE_PW, strlen(ALICE_PW), out),
	    SASL_BAD);
	sasl_exchange_free(ex);

	ex = start(srv_all, "LOGIN");
	assert_int_equal(step_bin(ex, ALICE, strlen(ALICE), out),
	    SASL_CONTINUE);
	assert_int_equal(step(ex, "", out), SASL_BAD);
	sasl_exchange_free(ex);

	ex = start(srv_all, "LOGIN");
	assert_int_equal(step(ex, NULL, out), SASL_CONTINUE);
	assert_int_equal(step(ex, "*", out), SASL_CANCELLED);
	sasl_exchange_free(ex);

	/* A NUL in the user name. */
	ex = start(srv_all, "LOGIN");
	assert_int_equal(step_bin(ex, "a\0b@example.test", 16, out), SASL_BAD);
	sasl_exchange_free(ex);
}

/* --- CRAM-MD5 --- */

static int
cram_exchange(const char *user, const char *pw, const char *ir)
{
	unsigned char chal[SASL_CHALLENGE_MAX], mac[EVP_MAX_MD_SIZE];
	char out[SASL_CHALLENGE_MAX], resp[512];
	struct sasl_exchange *ex;
	unsigned int maclen = 0, i;
	size_t clen;
	int n, rc;

	ex = start(srv_all, "CRAM-MD5");
	if (ir != NULL) {
		rc = step(ex, ir, out);
		sasl_exchange_free(ex);
		return rc;
	}
	assert_int_equal(step(ex, NULL, out), SASL_CONTINUE);
	clen = unb64(out, chal, sizeof(chal));
	assert_true(clen > 2 && chal[0] == '<' && chal[clen - 1] == '>');
	assert_non_null(HMAC(EVP_md5(), pw, (int)strlen(pw), chal, clen, mac,
	    &maclen));
	assert_int_equal(maclen, 16);
	n = snprintf(resp, sizeof(resp), "%s ", user);
	for (i = 0; i < maclen; i++)
		n += snprintf(resp + n, sizeof(resp) - n, "%02x", mac[i]);
	rc = step_bin(ex, resp, (size_t)n, out);
	if (rc == SASL_OK)
		assert_string_equal(sasl_exchange_user(ex), ALICE);
	sasl_exchange_free(ex);
	return rc;
}

static void
test_cram_md5(void **state)
{
	(void)state;
	assert_int_equal(cram_exchange(ALICE, ALICE_PW, NULL), SASL_OK);
	assert_int_equal(cram_exchange("ALICE@example.test", ALICE_PW, NULL),
	    SASL_OK);
	assert_int_equal(cram_exchange(ALICE, BOB_PW, NULL), SASL_BAD);
	/* Bob has no CRAM-MD5 secret. */
	assert_int_equal(cram_exchange(BOB, BOB_PW, NULL), SASL_BAD);
	assert_int_equal(cram_exchange("nobody@example.test", "x", NULL),
	    SASL_BAD);
	/* A server-first mechanism takes no initial response. */
	assert_int_equal(cram_exchange(ALICE, ALICE_PW, "YWxpY2U="), SASL_BAD);
}

/* --- SCRAM-SHA-256 client (RFC 5802 §3, §7; RFC 7677) --- */

struct scram_client {
	const char	*user, *pw;
	char		 gs2[128];
	char		 cfb[512];	/* client-first-message-bare */
	char		 salt_b64[64];
	unsigned	 iter;
	unsigned char	 cb[64];
	size_t		 cblen;
	unsigned char	 server_sig[32];
};

static void
scram_first(struct scram_client *c, const char *gs2, const char *user,
    char *msg, size_t msgsz)
{
	unsigned char rnd[18];
	char nonce[32];
	size_t i;

	for (i = 0; i < sizeof(rnd); i++)
		rnd[i] = (unsigned char)rand();
	b64(rnd, sizeof(rnd), nonce, sizeof(nonce));
	(void)snprintf(c->gs2, sizeof(c->gs2), "%s", gs2);
	(void)snprintf(c->cfb, sizeof(c->cfb), "n=%s,r=%s", user, nonce);
	(void)snprintf(msg, msgsz, "%s%s", c->gs2, c->cfb);
}

static void
hmac256(const unsigned char *key, size_t keylen, const char *msg,
    unsigned char *out)
{
	unsigned int len = 32;

	assert_non_null(HMAC(EVP_sha256(), key, (int)keylen,
	    (const unsigned char *)msg, strlen(msg), out, &len));
}

/* Parses server-first, builds client-final (with the proof) into msg. */
static void
scram_final(struct scram_client *c, const char *sf, char *msg, size_t msgsz)
{
	unsigned char salt[64], sp[32], ck[32], sk[32], stk[32], cs[32];
	unsigned char cbin[256], proof[32];
	char am[2048], cfwp[1024], cbind[400], proof_b64[64];
	const char *r, *s, *i;
	size_t saltlen, n;

	r = strstr(sf, "r=");
	s = strstr(sf, ",s=");
	i = strstr(sf, ",i=");
	assert_true(r == sf && s != NULL && i != NULL);
	assert_memory_equal(r + 2, strstr(c->cfb, "r=") + 2,
	    strlen(strstr(c->cfb, "r=") + 2));
	n = (size_t)(i - (s + 3));
	assert_true(n < sizeof(c->salt_b64));
	memcpy(c->salt_b64, s + 3, n);
	c->salt_b64[n] = '\0';
	c->iter = (unsigned)strtoul(i + 3, NULL, 10);
	saltlen = unb64(c->salt_b64, salt, sizeof(salt));
	assert_int_equal(PKCS5_PBKDF2_HMAC(c->pw, (int)strlen(c->pw), salt,
	    (int)saltlen, (int)c->iter, EVP_sha256(), 32, sp), 1);
	hmac256(sp, 32, "Client Key", ck);
	SHA256(ck, 32, stk);
	hmac256(sp, 32, "Server Key", sk);
	n = strlen(c->gs2);
	memcpy(cbin, c->gs2, n);
	memcpy(cbin + n, c->cb, c->cblen);
	b64(cbin, n + c->cblen, cbind, sizeof(cbind));
	(void)snprintf(cfwp, sizeof(cfwp), "c=%s,r=%.*s", cbind,
	    (int)(s - (r + 2)), r + 2);
	(void)snprintf(am, sizeof(am), "%s,%s,%s", c->cfb, sf, cfwp);
	hmac256(stk, 32, am, cs);
	for (n = 0; n < 32; n++)
		proof[n] = ck[n] ^ cs[n];
	hmac256(sk, 32, am, c->server_sig);
	b64(proof, 32, proof_b64, sizeof(proof_b64));
	(void)snprintf(msg, msgsz, "%s,p=%s", cfwp, proof_b64);
}

/*
 * A whole SCRAM exchange. mech: "SCRAM-SHA-256" or "-PLUS"; cb: the
 * server's channel binding (NULL: not in TLS); client_cb: what the client
 * binds to. Returns the final result; salt_out gets the salt offered.
 */
static int
scram_run(const char *mech, const struct sasl_cbind *cb, const char *gs2,
    const char *user, const char *pw, const unsigned char *client_cb,
    size_t client_cblen, int use_ir, char *salt_out)
{
	char out[SASL_CHALLENGE_MAX], msg[2048], sf[SASL_CHALLENGE_MAX];
	unsigned char sfinal[256], want[256];
	struct scram_client c = { .user = user, .pw = pw };
	struct sasl_exchange *ex;
	int err, rc;

	if (client_cblen > 0)
		memcpy(c.cb, client_cb, client_cblen);
	c.cblen = client_cblen;
	ex = sasl_exchange_new_tls(srv_all, mech, strlen(mech), cb, &err);
	assert_non_null(ex);
	scram_first(&c, gs2, user, msg, sizeof(msg));
	if (!use_ir) {
		assert_int_equal(step(ex, NULL, out), SASL_CONTINUE);
		assert_string_equal(out, "");
	}
	rc = step_bin(ex, msg, strlen(msg), out);
	if (rc != SASL_CONTINUE)
		goto done;
	unb64(out, (unsigned char *)sf, sizeof(sf));
	scram_final(&c, sf, msg, sizeof(msg));
	if (salt_out != NULL)
		strcpy(salt_out, c.salt_b64);
	assert_int_equal(c.iter, PASSWORD_SCRAM_ITER);
	rc = step_bin(ex, msg, strlen(msg), out);
	if (rc != SASL_CONTINUE)
		goto done;
	/* server-final "v=ServerSignature", acknowledged with "". */
	unb64(out, sfinal, sizeof(sfinal));
	assert_memory_equal(sfinal, "v=", 2);
	assert_int_equal(unb64((char *)sfinal + 2, want, sizeof(want)), 32);
	assert_memory_equal(want, c.server_sig, 32);
	rc = step(ex, "", out);
	if (rc == SASL_OK)
		assert_string_equal(sasl_exchange_user(ex), ALICE);
done:
	sasl_exchange_free(ex);
	return rc;
}

static void
test_scram(void **state)
{
	struct userdb_secrets s;
	char salt[64], want[64];

	(void)state;
	assert_int_equal(scram_run("SCRAM-SHA-256", NULL, "n,,", ALICE,
	    ALICE_PW, NULL, 0, 1, salt), SASL_OK);
	/* The salt offered is the stored one. */
	assert_int_equal(userdb_get_secrets(db, ALICE, &s), 1);
	b64(s.scram_salt, s.scram_salt_len, want, sizeof(want));
	userdb_secrets_clear(&s);
	assert_string_equal(salt, want);
	/* Without an initial response: "334 " first. */
	assert_int_equal(scram_run("SCRAM-SHA-256", NULL, "n,,", ALICE,
	    ALICE_PW, NULL, 0, 0, NULL), SASL_OK);
	/* authzid naming the same user is fine; another user is not. */
	assert_int_equal(scram_run("SCRAM-SHA-256", NULL,
	    "n,a=" ALICE ",", ALICE, ALICE_PW, NULL, 0, 1, NULL), SASL_OK);
	assert_int_equal(scram_run("SCRAM-SHA-256", NULL, "n,a=" BOB ",",
	    ALICE, ALICE_PW, NULL, 0, 1, NULL), SASL_BAD);
	assert_int_equal(scram_run("SCRAM-SHA-256", NULL, "n,,", ALICE,
	    BOB_PW, NULL, 0, 1, NULL), SASL_BAD);
	/* "y": client could bind but we offer no -PLUS here: fine. */
	assert_int_equal(scram_run("SCRAM-SHA-256", NULL, "y,,", ALICE,
	    ALICE_PW, NULL, 0, 1, NULL), SASL_OK);
}

static void
test_scram_unknown_user(void **state)
{
	char salt1[64], salt2[64], salt3[64], salt4[64];
	unsigned char raw[64];
	struct sasl_server *again;
	char path[300];
	struct stat st;

	(void)state;
	assert_int_equal(scram_run("SCRAM-SHA-256", NULL, "n,,",
	    "nobody@example.test", "guess", NULL, 0, 1, salt1), SASL_BAD);
	assert_int_equal(scram_run("SCRAM-SHA-256", NULL, "n,,",
	    "nobody@example.test", "guess", NULL, 0, 1, salt2), SASL_BAD);
	/* Stable, and shaped like a real one (16 bytes, 4096 rounds). */
	assert_string_equal(salt1, salt2);
	assert_int_equal(unb64(salt1, raw, sizeof(raw)),
	    PASSWORD_SCRAM_SALT_LEN);
	/* Other spellings of the same key give the same salt. */
	assert_int_equal(scram_run("SCRAM-SHA-256", NULL, "n,,",
	    "NoBody+x@Example.TEST", "guess", NULL, 0, 1, salt3), SASL_BAD);
	assert_string_equal(salt1, salt3);
	assert_int_equal(scram_run("SCRAM-SHA-256", NULL, "n,,",
	    "somebody@example.test", "guess", NULL, 0, 1, salt3), SASL_BAD);
	assert_string_not_equal(salt1, salt3);
	/* A new server (another worker, a restart) reads the same secret. */
	again = sasl_server_new(&conf_all, db);
	assert_non_null(again);
	sasl_server_free(srv_all);
	srv_all = again;
	assert_int_equal(scram_run("SCRAM-SHA-256", NULL, "n,,",
	    "nobody@example.test", "guess", NULL, 0, 1, salt4), SASL_BAD);
	assert_string_equal(salt1, salt4);
	(void)snprintf(path, sizeof(path), "%s.sasl-secret", dbpath);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(st.st_size, 32);
}

static void
test_scram_plus(void **state)
{
	struct sasl_cbind cb;
	unsigned char other[32];

	(void)state;
	memset(&cb, 0, sizeof(cb));
	memset(cb.exporter, 0x5a, sizeof(cb.exporter));
	cb.exporter_len = sizeof(cb.exporter);
	memset(other, 0xa5, sizeof(other));
	assert_int_equal(scram_run("SCRAM-SHA-256-PLUS", &cb,
	    "p=tls-exporter,,", ALICE, ALICE_PW, cb.exporter, 32, 1, NULL),
	    SASL_OK);
	/* Bound to a different channel (a man in the middle). */
	assert_int_equal(scram_run("SCRAM-SHA-256-PLUS", &cb,
	    "p=tls-exporter,,", ALICE, ALICE_PW, other, 32, 1, NULL),
	    SASL_BAD);
	/* tls-unique is not available (TLS 1.3). */
	assert_int_equal(scram_run("SCRAM-SHA-256-PLUS", &cb,
	    "p=tls-unique,,", ALICE, ALICE_PW, cb.exporter, 32, 1, NULL),
	    SASL_BAD);
	/* -PLUS offered, client says "y": a downgrade, refused. */
	assert_int_equal(scram_run("SCRAM-SHA-256", &cb, "y,,", ALICE,
	    ALICE_PW, NULL, 0, 1, NULL), SASL_BAD);
	/* -PLUS offered, plain SCRAM with "n" is still fine. */
	assert_int_equal(scram_run("SCRAM-SHA-256", &cb, "n,,", ALICE,
	    ALICE_PW, NULL, 0, 1, NULL), SASL_OK);
	/* -PLUS without any binding data. */
	memset(&cb, 0, sizeof(cb));
	assert_null(sasl_exchange_new_tls(srv_all, "SCRAM-SHA-256-PLUS", 18,
	    &cb, &(int){ 0 }));
}

static void
test_scram_final_ack(void **state)
{
	char out[SASL_CHALLENGE_MAX], msg[2048], sf[SASL_CHALLENGE_MAX];
	struct scram_client c = { .user = ALICE, .pw = ALICE_PW };
	struct sasl_exchange *ex;

	(void)state;
	ex = start(srv_all, "SCRAM-SHA-256");
	scram_first(&c, "n,,", ALICE, msg, sizeof(msg));
	assert_int_equal(step_bin(ex, msg, strlen(msg), out), SASL_CONTINUE);
	unb64(out, (unsigned char *)sf, sizeof(sf));
	scram_final(&c, sf, msg, sizeof(msg));
	assert_int_equal(step_bin(ex, msg, strlen(msg), out), SASL_CONTINUE);
	/* Anything but an empty acknowledgement fails. */
	assert_int_equal(step(ex, "eA==", out), SASL_BAD);
	assert_null(sasl_exchange_user(ex));
	sasl_exchange_free(ex);

	/* Garbage as client-first. */
	ex = start(srv_all, "SCRAM-SHA-256");
	assert_int_equal(step_bin(ex, "hello", 5, out), SASL_BAD);
	sasl_exchange_free(ex);
}

/* --- logs --- */

static void
test_logging(void **state)
{
	char msg[512], out[SASL_CHALLENGE_MAX], log[8192];
	struct sasl_exchange *ex;
	size_t len;

	(void)state;
	capture_start();
	ex = start(srv_all, "PLAIN");
	sasl_exchange_set_context(ex, "session=00ab client=192.0.2.1");
	len = plain_msg(msg, "", ALICE, ALICE_PW);
	assert_int_equal(step_bin(ex, msg, len, out), SASL_OK);
	sasl_exchange_free(ex);
	ex = start(srv_all, "LOGIN");
	assert_int_equal(step_bin(ex, BOB, strlen(BOB), out), SASL_CONTINUE);
	assert_int_equal(step_bin(ex, ALICE_PW, strlen(ALICE_PW), out),
	    SASL_BAD);
	sasl_exchange_free(ex);
	ex = start(srv_all, "PLAIN");
	assert_int_equal(step(ex, "!!!!", out), SASL_BAD_BASE64);
	sasl_exchange_free(ex);
	capture_end(log, sizeof(log));

	assert_non_null(strstr(log, "session=00ab client=192.0.2.1 "
	    "event=auth-success mech=PLAIN user=" ALICE "\n"));
	assert_non_null(strstr(log, "event=auth-failure mech=LOGIN user="
	    BOB " reason=invalid-credentials\n"));
	assert_non_null(strstr(log, "event=auth-failure mech=PLAIN user= "
	    "reason=bad-base64\n"));
	assert_null(strstr(log, ALICE_PW));
	assert_null(strstr(log, "correct"));
}

/* --- threads --- */

static void *
thread_main(void *arg)
{
	char msg[512], line[1024], out[SASL_CHALLENGE_MAX];
	struct sasl_exchange *ex;
	intptr_t id = (intptr_t)arg, fails = 0;
	size_t len;
	int i, err;

	for (i = 0; i < 3; i++) {
		if ((id + i) % 2 == 0) {
			if (scram_run("SCRAM-SHA-256", NULL, "n,,", ALICE,
			    ALICE_PW, NULL, 0, 1, NULL) != SASL_OK)
				fails++;
			continue;
		}
		ex = sasl_exchange_new(srv_all, "PLAIN", 5, &err);
		len = plain_msg(msg, "", BOB, BOB_PW);
		b64(msg, len, line, sizeof(line));
		if (sasl_exchange_step(ex, line, strlen(line), out,
		    sizeof(out)) != SASL_OK)
			fails++;
		sasl_exchange_free(ex);
	}
	return (void *)fails;
}

static void
test_threads(void **state)
{
	pthread_t t[4];
	void *ret;
	intptr_t i;

	(void)state;
	for (i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&t[i], NULL, thread_main,
		    (void *)i), 0);
	for (i = 0; i < 4; i++) {
		assert_int_equal(pthread_join(t[i], &ret), 0);
		assert_int_equal((intptr_t)ret, 0);
	}
}

/* --- codec --- */

static void
test_base64(void **state)
{
	static const struct {
		const char *raw, *enc;
	} ok[] = {	/* RFC 4648 §10 */
		{ "", "" }, { "f", "Zg==" }, { "fo", "Zm8=" },
		{ "foo", "Zm9v" },
		{ "foob", "Zm9vYg==" }, { "fooba", "Zm9vYmE=" },
		{ "foobar", "Zm9vYmFy" },
	};
	static const char *const bad[] = { "Zg=", "Zg", "Z===", "Zh==",
	    "Zm9=", "Zm9v YmFy", "Zm=v", "====", "Zg==Zg==", "Zm9v\r\n",
	    "Zm9-", "Zm9_", "=Zm9" };
	unsigned char dec[64];
	char enc[64];
	size_t i;
	int n;

	(void)state;
	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		n = sasl_b64_decode(ok[i].enc, strlen(ok[i].enc), dec,
		    sizeof(dec));
		assert_int_equal(n, (int)strlen(ok[i].raw));
		assert_memory_equal(dec, ok[i].raw, (size_t)n);
		n = sasl_b64_encode((const unsigned char *)ok[i].raw,
		    strlen(ok[i].raw), enc, sizeof(enc));
		assert_int_equal(n, (int)strlen(ok[i].enc));
		assert_string_equal(enc, ok[i].enc);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(sasl_b64_decode(bad[i], strlen(bad[i]), dec,
		    sizeof(dec)), -1);
	/* Output bounds. */
	assert_int_equal(sasl_b64_decode("Zm9vYmFy", 8, dec, 5), -1);
	assert_int_equal(sasl_b64_decode("Zm9vYmFy", 8, dec, 6), 6);
	assert_int_equal(sasl_b64_encode((const unsigned char *)"foo", 3,
	    enc, 4), -1);
	assert_int_equal(sasl_b64_encode((const unsigned char *)"foo", 3,
	    enc, 5), 4);
}

static void
test_plain_parse(void **state)
{
	struct sasl_plain p;
	unsigned char big[1100];

	(void)state;
	assert_int_equal(sasl_plain_parse((const unsigned char *)"z\0u\0p", 5,
	    &p), 0);
	assert_string_equal(p.authzid, "z");
	assert_string_equal(p.authcid, "u");
	assert_string_equal(p.passwd, "p");
	assert_int_equal(p.passwdlen, 1);
	assert_int_equal(sasl_plain_parse((const unsigned char *)"\0u\0", 3,
	    &p), -1);
	assert_int_equal(sasl_plain_parse((const unsigned char *)"\0\0p", 3,
	    &p), -1);
	assert_int_equal(sasl_plain_parse((const unsigned char *)"", 0, &p),
	    -1);
	/* Longest password accepted, and one more. */
	memset(big, 'x', sizeof(big));
	big[0] = '\0';
	big[2] = '\0';
	assert_int_equal(sasl_plain_parse(big, 3 + PASSWORD_MAX, &p), 0);
	assert_int_equal(p.passwdlen, PASSWORD_MAX);
	assert_int_equal(sasl_plain_parse(big, 4 + PASSWORD_MAX, &p), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_base64),
		cmocka_unit_test(test_plain_parse),
		cmocka_unit_test(test_mechs),
		cmocka_unit_test(test_exchange_new),
		cmocka_unit_test(test_plain_table),
		cmocka_unit_test(test_plain_malformed),
		cmocka_unit_test(test_too_long),
		cmocka_unit_test(test_login),
		cmocka_unit_test(test_cram_md5),
		cmocka_unit_test(test_scram),
		cmocka_unit_test(test_scram_unknown_user),
		cmocka_unit_test(test_scram_plus),
		cmocka_unit_test(test_scram_final_ack),
		cmocka_unit_test(test_logging),
		cmocka_unit_test(test_threads),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
