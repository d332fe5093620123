/*
 * libFuzzer target for the AUTH input paths: the strict base64 decoder
 * (and its round trip with the encoder), the PLAIN message and LOGIN field
 * decoders, and whole SCRAM-SHA-256 and CRAM-MD5 exchanges through GNU
 * SASL against an empty user store (so every user is unknown and gets the
 * fake salt and keys). PLAIN and LOGIN exchanges are left to the decoders:
 * each well-formed one costs an argon2id verification.
 *
 * The first input byte picks the mode; the rest is the payload.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth/sasl.h"
#include "auth/userdb.h"
#include "conf/conf.h"
#include "util/log.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char fuzz_dir[] = "/tmp/sasl_fuzz.XXXXXX";
static char fuzz_db[256];
static struct userdb *fuzz_userdb;
static struct sasl_server *fuzz_srv;

static void
fuzz_cleanup(void)
{
	char path[300];

	sasl_server_free(fuzz_srv);
	userdb_close(fuzz_userdb);
	(void)snprintf(path, sizeof(path), "%s.sasl-secret", fuzz_db);
	(void)unlink(path);
	(void)snprintf(path, sizeof(path), "%s-wal", fuzz_db);
	(void)unlink(path);
	(void)snprintf(path, sizeof(path), "%s-shm", fuzz_db);
	(void)unlink(path);
	(void)unlink(fuzz_db);
	(void)rmdir(fuzz_dir);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static struct conf conf;
	char why[256];

	(void)argc;
	(void)argv;
	log_init("sasl_fuzz", LOG_LEVEL_ERR);
	if (mkdtemp(fuzz_dir) == NULL)
		abort();
	(void)snprintf(fuzz_db, sizeof(fuzz_db), "%s/users.db", fuzz_dir);
	if ((fuzz_userdb = userdb_open(fuzz_db, 1, why, sizeof(why))) == NULL)
		abort();
	conf.auth_database = fuzz_db;
	conf.auth_mechanisms.v[0] = (char *)"SCRAM-SHA-256";
	conf.auth_mechanisms.v[1] = (char *)"CRAM-MD5";
	conf.auth_mechanisms.v[2] = (char *)"SCRAM-SHA-256-PLUS";
	conf.auth_mechanisms.n = 3;
	if ((fuzz_srv = sasl_server_new(&conf, fuzz_userdb)) == NULL)
		abort();
	atexit(fuzz_cleanup);
	return 0;
}

/* Decoding, then re-encoding what decoded, must give the input back. */
static void
fuzz_base64(const uint8_t *p, size_t n)
{
	unsigned char dec[SASL_RESPONSE_MAX];
	char enc[SASL_RESPONSE_MAX + 8];
	int len, elen;

	len = sasl_b64_decode((const char *)p, n, dec, sizeof(dec));
	if (len < 0)
		return;
	elen = sasl_b64_encode(dec, (size_t)len, enc, sizeof(enc));
	if (elen < 0 || (size_t)elen != n || memcmp(enc, p, n) != 0)
		abort();
}

/* Any bytes survive an encode/decode round trip. */
static void
fuzz_roundtrip(const uint8_t *p, size_t n)
{
	char enc[SASL_RESPONSE_MAX + 8];
	unsigned char dec[SASL_RESPONSE_MAX];
	int elen, len;

	if (n > SASL_RESPONSE_MAX / 4 * 3)
		return;
	if ((elen = sasl_b64_encode(p, n, enc, sizeof(enc))) < 0)
		abort();
	len = sasl_b64_decode(enc, (size_t)elen, dec, sizeof(dec));
	if (len < 0 || (size_t)len != n || memcmp(dec, p, n) != 0)
		abort();
}

static int
fuzz_clean(const char *s)
{
	return strpbrk(s, "\r\n") == NULL;
}

static void
fuzz_plain(const uint8_t *p, size_t n)
{
	struct sasl_plain m;
	char field[SASL_USER_MAX];

	if (sasl_plain_parse(p, n, &m) == 0) {
		size_t total = strlen(m.authzid) + strlen(m.authcid) +
		    m.passwdlen + 2;

		if (m.authcid[0] == '\0' || m.passwdlen == 0 ||
		    strlen(m.passwd) != m.passwdlen || !fuzz_clean(m.authzid) ||
		    !fuzz_clean(m.authcid) || !fuzz_clean(m.passwd) ||
		    total != n)
			abort();
	}
	if (sasl_login_field(p, n, field, sizeof(field)) >= 0 &&
	    (strlen(field) != n || !fuzz_clean(field)))
		abort();
}

/*
 * A whole exchange: each '\n'-separated piece of the payload is sent
 * base64-encoded as one response line; a leading '!' sends it raw.
 */
static void
fuzz_exchange(const char *mech, const uint8_t *p, size_t n, int tls)
{
	static const struct sasl_cbind cb = { .exporter = { 1, 2, 3 },
	    .exporter_len = SASL_CB_EXPORTER_LEN };
	char line[SASL_RESPONSE_MAX + 8], out[SASL_CHALLENGE_MAX];
	struct sasl_exchange *ex;
	const uint8_t *end = p + n, *nl;
	size_t len;
	int err, rc = SASL_CONTINUE, first = 1;

	ex = sasl_exchange_new_tls(fuzz_srv, mech, strlen(mech),
	    tls ? &cb : NULL, &err);
	if (ex == NULL)
		return;
	while (rc == SASL_CONTINUE && p <= end) {
		nl = memchr(p, '\n', (size_t)(end - p));
		len = (size_t)((nl != NULL ? nl : end) - p);
		if (first && len == 0) {
			rc = sasl_exchange_step(ex, NULL, 0, out, sizeof(out));
		} else if (len > 0 && p[0] == '!') {
			rc = sasl_exchange_step(ex, (const char *)p + 1,
			    len - 1, out, sizeof(out));
		} else if (len <= SASL_RESPONSE_MAX / 4 * 3) {
			if (sasl_b64_encode(p, len, line, sizeof(line)) < 0)
				abort();
			rc = sasl_exchange_step(ex, line, strlen(line), out,
			    sizeof(out));
		}
		if (rc == SASL_OK)
			abort();	/* no user exists */
		first = 0;
		if (nl == NULL)
			break;
		p = nl + 1;
	}
	sasl_exchange_free(ex);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	switch (data[0] % 6) {
	case 0:
		fuzz_base64(data + 1, size - 1);
		break;
	case 1:
		fuzz_roundtrip(data + 1, size - 1);
		break;
	case 2:
		fuzz_plain(data + 1, size - 1);
		break;
	case 3:
		fuzz_exchange("SCRAM-SHA-256", data + 1, size - 1, 0);
		break;
	case 4:
		fuzz_exchange("SCRAM-SHA-256-PLUS", data + 1, size - 1, 1);
		break;
	case 5:
		fuzz_exchange("CRAM-MD5", data + 1, size - 1, 0);
		break;
	}
	return 0;
}
