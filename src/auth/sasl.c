/*
 * SASL server for SMTP AUTH: the per-worker server (offered mechanisms,
 * GNU SASL context, the fake-user secret) and the exchange state machine
 * that turns base64 response lines into results (see sasl.h). Mechanism
 * work lives in sasl_plain.c and sasl_gsasl.c; decoders in sasl_codec.c.
 *
 * Owns: struct sasl_server (per worker) and struct sasl_exchange (per AUTH
 * command, owned by the session). Logs every outcome with mechanism and
 * claimed user, never a secret.
 * Process: smtp workers; exchange steps run on pool threads.
 */
#include "auth/sasl_int.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <sodium.h>

#include "conf/conf.h"
#include "util/log.h"
#include "util/xmalloc.h"

static const char *const sasl_mech_names[MECH_COUNT] = {
	[MECH_PLAIN] = "PLAIN",
	[MECH_LOGIN] = "LOGIN",
	[MECH_CRAM_MD5] = "CRAM-MD5",
	[MECH_SCRAM_SHA_256] = "SCRAM-SHA-256",
	[MECH_SCRAM_SHA_256_PLUS] = "SCRAM-SHA-256-PLUS",
};

const char *
sasl_mech_name(enum sasl_mech mech)
{
	return mech < MECH_COUNT ? sasl_mech_names[mech] : "?";
}

const char *
sasl_result_str(int result)
{
	static const char *const names[] = {
		[SASL_OK] = "SASL_OK", [SASL_CONTINUE] = "SASL_CONTINUE",
		[SASL_BAD] = "SASL_BAD", [SASL_CANCELLED] = "SASL_CANCELLED",
		[SASL_BAD_BASE64] = "SASL_BAD_BASE64",
		[SASL_TOO_LONG] = "SASL_TOO_LONG",
		[SASL_TEMPFAIL] = "SASL_TEMPFAIL",
		[SASL_BAD_MECH] = "SASL_BAD_MECH",
		[SASL_NEED_TLS] = "SASL_NEED_TLS",
	};

	if (result < 0 || (size_t)result >= sizeof(names) / sizeof(names[0]))
		return "SASL_?";
	return names[result];
}

/* The mechanism named s[0..len), any case, or -1. */
static int
sasl_mech_lookup(const char *s, size_t len)
{
	int m;

	for (m = 0; m < MECH_COUNT; m++)
		if (strlen(sasl_mech_names[m]) == len &&
		    strncasecmp(sasl_mech_names[m], s, len) == 0)
			return m;
	return -1;
}

/* Reads exactly SASL_SECRET_LEN bytes from path. 0, or -1 with errno. */
static int
sasl_secret_read(const char *path, unsigned char *secret)
{
	ssize_t n;
	int fd;

	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) == -1)
		return -1;
	n = read(fd, secret, SASL_SECRET_LEN);
	(void)close(fd);
	if (n != SASL_SECRET_LEN) {
		errno = n < 0 ? errno : EINVAL;
		return -1;
	}
	return 0;
}

/*
 * Creates path with a random secret without ever exposing a partial file:
 * written to a temporary name, fsync'ed, then link(2)ed; if another worker
 * won the race its secret is read instead.
 */
static int
sasl_secret_create(const char *path, unsigned char *secret)
{
	char tmp[PATH_MAX];
	int fd, rc = -1;

	if (snprintf(tmp, sizeof(tmp), "%s.%ld", path,
	    (long)getpid()) >= (int)sizeof(tmp)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	randombytes_buf(secret, SASL_SECRET_LEN);
	(void)unlink(tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	    0600);
	if (fd == -1)
		return -1;
	if (write(fd, secret, SASL_SECRET_LEN) == SASL_SECRET_LEN &&
	    fsync(fd) == 0)
		rc = 0;
	(void)close(fd);
	if (rc == 0 && link(tmp, path) == -1) {
		rc = errno == EEXIST ? sasl_secret_read(path, secret) : -1;
	}
	(void)unlink(tmp);
	return rc;
}

/*
 * The secret behind fake SCRAM salts and keys: stable across workers and
 * restarts so that an unknown user's salt never changes (which would
 * reveal that it is fake). Falls back to a per-process random secret.
 */
static void
sasl_secret_load(struct sasl_server *srv, const struct conf *conf)
{
	char path[PATH_MAX];

	if (conf->auth_database == NULL || conf->auth_database[0] == '\0' ||
	    snprintf(path, sizeof(path), "%s.sasl-secret",
	    conf->auth_database) >= (int)sizeof(path))
		goto fallback;
	if (sasl_secret_read(path, srv->secret) == 0)
		return;
	if (errno == ENOENT && sasl_secret_create(path, srv->secret) == 0)
		return;
	log_warn("event=sasl-secret-unavailable path=%s", path);
fallback:
	randombytes_buf(srv->secret, sizeof(srv->secret));
}

/* Appends name to a space-separated list. */
static void
sasl_mechs_append(char *list, size_t sz, const char *name)
{
	size_t used = strlen(list);

	(void)snprintf(list + used, sz - used, "%s%s", used ? " " : "", name);
}

/* The offered mechanisms, in config order, and the two EHLO strings. */
static void
sasl_mechs_build(struct sasl_server *srv, const struct conf *conf)
{
	size_t i, j;
	int m;

	for (i = 0; i < conf->auth_mechanisms.n; i++) {
		const char *name = conf->auth_mechanisms.v[i];

		m = sasl_mech_lookup(name, strlen(name));
		if (m == -1 || !sasl_gsasl_supported(srv, m)) {
			log_warnx("event=sasl-mechanism-unsupported mech=%s",
			    name);
			continue;
		}
		for (j = 0; j < srv->noffered; j++)
			if (srv->offered[j] == m)
				break;
		if (j < srv->noffered)
			continue;
		srv->offered[srv->noffered++] = m;
		if (m == MECH_SCRAM_SHA_256_PLUS)
			srv->plus_configured = 1;
		else
			sasl_mechs_append(srv->mechs_plain,
			    sizeof(srv->mechs_plain), sasl_mech_names[m]);
		sasl_mechs_append(srv->mechs_tls, sizeof(srv->mechs_tls),
		    sasl_mech_names[m]);
	}
}

struct sasl_server *
sasl_server_new(const struct conf *conf, struct userdb *db)
{
	struct sasl_server *srv;

	if (sodium_init() == -1) {
		log_warnx("event=sasl-init-failed reason=sodium_init");
		return NULL;
	}
	srv = xcalloc(1, sizeof(*srv));
	srv->db = db;
	if (sasl_gsasl_init(srv) == -1)
		goto fail;
	sasl_secret_load(srv, conf);
	sasl_mechs_build(srv, conf);
	return srv;
fail:
	sasl_server_free(srv);
	return NULL;
}

void
sasl_server_free(struct sasl_server *srv)
{
	if (srv == NULL)
		return;
	if (srv->gsasl != NULL)
		gsasl_done(srv->gsasl);
	sodium_memzero(srv->secret, sizeof(srv->secret));
	free(srv);
}

const char *
sasl_server_mechs(const struct sasl_server *srv, int tls_active)
{
	return tls_active ? srv->mechs_tls : srv->mechs_plain;
}

/* *err = code; NULL. */
static struct sasl_exchange *
sasl_refuse(int *err, int code)
{
	if (err != NULL)
		*err = code;
	return NULL;
}

struct sasl_exchange *
sasl_exchange_new_tls(struct sasl_server *srv, const char *mech,
    size_t mechlen, const struct sasl_cbind *cb, int *err)
{
	struct sasl_exchange *ex;
	size_t i;
	int m;

	if ((m = sasl_mech_lookup(mech, mechlen)) == -1)
		return sasl_refuse(err, SASL_BAD_MECH);
	for (i = 0; i < srv->noffered; i++)
		if (srv->offered[i] == m)
			break;
	if (i == srv->noffered)
		return sasl_refuse(err, SASL_BAD_MECH);
	if (m == MECH_SCRAM_SHA_256_PLUS && cb == NULL)
		return sasl_refuse(err, SASL_NEED_TLS);
	if (m == MECH_SCRAM_SHA_256_PLUS && cb->exporter_len == 0 &&
	    cb->unique_len == 0)
		return sasl_refuse(err, SASL_BAD_MECH);
	ex = xcalloc(1, sizeof(*ex));
	ex->srv = srv;
	ex->mech = m;
	ex->state = STATE_START;
	if (cb != NULL && srv->plus_configured) {
		ex->cb = *cb;
		ex->plus_offered = 1;
	}
	if ((m == MECH_CRAM_MD5 || m == MECH_SCRAM_SHA_256 ||
	    m == MECH_SCRAM_SHA_256_PLUS) && sasl_gsasl_start(ex) == -1) {
		sasl_exchange_free(ex);
		return sasl_refuse(err, SASL_TEMPFAIL);
	}
	return ex;
}

struct sasl_exchange *
sasl_exchange_new(struct sasl_server *srv, const char *mech, size_t mechlen,
    int *err)
{
	return sasl_exchange_new_tls(srv, mech, mechlen, NULL, err);
}

void
sasl_exchange_set_context(struct sasl_exchange *ex, const char *ctx)
{
	(void)snprintf(ex->context, sizeof(ex->context), "%s%s", ctx,
	    ctx[0] != '\0' ? " " : "");
}

void
sasl_exchange_free(struct sasl_exchange *ex)
{
	if (ex == NULL)
		return;
	sasl_gsasl_finish(ex);
	sodium_memzero(ex, sizeof(*ex));
	free(ex);
}

const char *
sasl_exchange_user(const struct sasl_exchange *ex)
{
	return ex->authenticated ? ex->key : NULL;
}

const char *
sasl_exchange_mech(const struct sasl_exchange *ex)
{
	return sasl_mech_name(ex->mech);
}

/* Records the claimed user (for logs) and its lookup key. */
void
sasl_set_user(struct sasl_exchange *ex, const char *user)
{
	struct addr a;

	(void)snprintf(ex->user, sizeof(ex->user), "%s", user);
	ex->key[0] = '\0';
	ex->key_valid = addr_parse_mailbox(&a, user, 1) == 0 &&
	    addr_lookup_key(&a, ex->key, sizeof(ex->key)) >= 0;
	if (!ex->key_valid)
		ex->key[0] = '\0';
}

/* 1 if two identities name the same user (same lookup key). */
int
sasl_same_user(const char *a, const char *b)
{
	char ka[ADDR_BUFSZ], kb[ADDR_BUFSZ];
	struct addr x, y;

	if (strcmp(a, b) == 0)
		return 1;
	if (addr_parse_mailbox(&x, a, 1) != 0 ||
	    addr_parse_mailbox(&y, b, 1) != 0)
		return 0;
	if (addr_lookup_key(&x, ka, sizeof(ka)) < 0 ||
	    addr_lookup_key(&y, kb, sizeof(kb)) < 0)
		return 0;
	return strcmp(ka, kb) == 0;
}

/* Encodes a challenge into out: SASL_CONTINUE, or SASL_TEMPFAIL. */
int
sasl_challenge(const void *data, size_t len, char *out, size_t outsz)
{
	if (sasl_b64_encode(data, len, out, outsz) == -1)
		return SASL_TEMPFAIL;
	return SASL_CONTINUE;
}

/* Logs the outcome of a finished exchange. */
static void
sasl_log_result(const struct sasl_exchange *ex, int rc)
{
	char user[LOG_SAFE_BUFSZ];
	const char *mech = sasl_mech_name(ex->mech);

	/* A name the client chose: no spaces, or it could add fields. */
	(void)log_safe_word(user, sizeof(user), ex->user, strlen(ex->user));
	switch (rc) {
	case SASL_OK:
		log_info("%sevent=auth-success mech=%s user=%s", ex->context,
		    mech, user);
		break;
	case SASL_CANCELLED:
		log_info("%sevent=auth-cancelled mech=%s user=%s",
		    ex->context, mech, user);
		break;
	case SASL_TEMPFAIL:
		log_warnx("%sevent=auth-tempfail mech=%s user=%s reason=%s",
		    ex->context, mech, user,
		    ex->reason != NULL ? ex->reason : "internal");
		break;
	default:
		log_info("%sevent=auth-failure mech=%s user=%s reason=%s",
		    ex->context, mech, user, ex->reason != NULL ? ex->reason :
		    rc == SASL_BAD_BASE64 ? "bad-base64" :
		    rc == SASL_TOO_LONG ? "too-long" : "invalid-credentials");
		break;
	}
}

/* Ends the exchange with result rc. */
static int
sasl_finish(struct sasl_exchange *ex, int rc)
{
	ex->state = STATE_DONE;
	ex->authenticated = rc == SASL_OK;
	sasl_log_result(ex, rc);
	return rc;
}

/* Runs the mechanism on a decoded response. */
static int
sasl_dispatch(struct sasl_exchange *ex, int have, const unsigned char *in,
    size_t len, char *out, size_t outsz)
{
	switch (ex->mech) {
	case MECH_PLAIN:
		return sasl_plain_step(ex, have, in, len, out, outsz);
	case MECH_LOGIN:
		return sasl_login_step(ex, have, in, len, out, outsz);
	default:
		return sasl_gsasl_step(ex, have, in, len, out, outsz);
	}
}

int
sasl_exchange_step(struct sasl_exchange *ex, const char *b64_in, size_t len,
    char *b64_out, size_t outsz)
{
	unsigned char dec[SASL_DECODED_MAX];
	int n, rc, have = 1, first = ex->steps++ == 0;

	if (outsz > 0)
		b64_out[0] = '\0';
	if (ex->state == STATE_DONE)
		return SASL_BAD;
	if (outsz < SASL_CHALLENGE_MAX) {
		ex->reason = "output-buffer";
		return sasl_finish(ex, SASL_TEMPFAIL);
	}
	if (b64_in == NULL) {
		have = !first;		/* no initial response */
		b64_in = "";
		len = 0;
	}
	if (len > SASL_RESPONSE_MAX)
		return sasl_finish(ex, SASL_TOO_LONG);
	if (len == 1 && b64_in[0] == '*')
		return sasl_finish(ex, SASL_CANCELLED);
	if (first && len == 1 && b64_in[0] == '=')
		len = 0;	/* RFC 4954 §4: empty initial response */
	if ((n = sasl_b64_decode(b64_in, len, dec, sizeof(dec))) == -1)
		return sasl_finish(ex, SASL_BAD_BASE64);
	rc = sasl_dispatch(ex, have, dec, (size_t)n, b64_out, outsz);
	sodium_memzero(dec, (size_t)n);
	if (rc == SASL_CONTINUE)
		return rc;
	b64_out[0] = '\0';
	return sasl_finish(ex, rc);
}
