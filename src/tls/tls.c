/*
 * Server-side TLS context: policy (TLS 1.2/1.3, ECDHE AEAD suites, server
 * preference, no compression or renegotiation), loading and reloading the
 * certificate chain and key, per-connection SSL objects, and the strings the
 * session logs and writes into Received headers.
 *
 * Owns: struct tls_server and its current SSL_CTX (each SSL holds its own
 * reference, so a reload never disturbs sessions in progress).
 * Process: created in the parent before fork; used by each smtp worker on
 * its event-loop thread (not thread-safe, needs no locking there).
 */
#include "tls/tls.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "auth/sasl.h"
#include "conf/conf.h"
#include "util/log.h"
#include "util/xmalloc.h"

#define TLS_CIPHERS_12 \
	"ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:" \
	"ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:" \
	"ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256"
#define TLS_SUITES_13 \
	"TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:" \
	"TLS_AES_128_GCM_SHA256"
#define TLS_GROUPS "X25519:P-256:P-384"
#define TLS_SID_CONTEXT "postern"
#define TLS_EXPIRY_WARN_DAYS 14

struct tls_server {
	SSL_CTX		*ctx;		/* owned; current context */
	char		 cert[PATH_MAX];
	char		 key[PATH_MAX];
};

/*
 * The certificate and key paths: the configured ones, or the defaults
 * under the spool directory.
 */
static int
tls_paths(const struct conf *conf, char *cert, char *key, size_t sz,
    char *why, size_t whysz)
{
	const char *spool = conf->spool != NULL ? conf->spool : ".";
	int n;

	if (conf->tls_certificate != NULL && conf->tls_certificate[0] != '\0')
		n = snprintf(cert, sz, "%s", conf->tls_certificate);
	else
		n = snprintf(cert, sz, "%s/tls/cert.pem", spool);
	if (n < 0 || (size_t)n >= sz)
		goto toolong;
	if (conf->tls_key != NULL && conf->tls_key[0] != '\0')
		n = snprintf(key, sz, "%s", conf->tls_key);
	else
		n = snprintf(key, sz, "%s/tls/key.pem", spool);
	if (n < 0 || (size_t)n >= sz)
		goto toolong;
	return 0;
toolong:
	(void)snprintf(why, whysz, "tls: certificate or key path too long");
	return -1;
}

/* Refuses a key file that group or others may access (style §10). */
static int
tls_check_key_secrecy(const char *path, char *why, size_t whysz)
{
	struct stat st;

	if (stat(path, &st) == -1) {
		(void)snprintf(why, whysz, "tls: key %s: %s", path,
		    strerror(errno));
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		(void)snprintf(why, whysz, "tls: key %s: not a regular file",
		    path);
		return -1;
	}
	if (st.st_mode & (S_IRWXG | S_IRWXO)) {
		(void)snprintf(why, whysz, "tls: key %s is accessible by group "
		    "or others (mode %03o); chmod 600 it", path,
		    (unsigned)(st.st_mode & 0777));
		return -1;
	}
	return 0;
}

/* Logs a warning when the leaf certificate has expired or soon will. */
static void
tls_check_expiry(SSL_CTX *ctx, const char *path)
{
	X509 *leaf = SSL_CTX_get0_certificate(ctx);
	int days, secs;

	if (leaf == NULL)
		return;
	if (ASN1_TIME_diff(&days, &secs, NULL, X509_get0_notAfter(leaf)) != 1)
		return;
	if (days < 0 || (days == 0 && secs <= 0))
		log_warnx("event=tls-certificate-expired path=%s", path);
	else if (days < TLS_EXPIRY_WARN_DAYS)
		log_warnx("event=tls-certificate-expires-soon path=%s days=%d",
		    path, days);
}

/* The protocol policy of every context. */
static int
tls_ctx_policy(SSL_CTX *ctx)
{
	if (!SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) ||
	    !SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION))
		return -1;
	SSL_CTX_set_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE |
	    SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
	    SSL_OP_IGNORE_UNEXPECTED_EOF);
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS |
	    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	if (!SSL_CTX_set_cipher_list(ctx, TLS_CIPHERS_12) ||
	    !SSL_CTX_set_ciphersuites(ctx, TLS_SUITES_13) ||
	    !SSL_CTX_set1_groups_list(ctx, TLS_GROUPS))
		return -1;
	if (!SSL_CTX_set_session_id_context(ctx,
	    (const unsigned char *)TLS_SID_CONTEXT,
	    sizeof(TLS_SID_CONTEXT) - 1))
		return -1;
	return 0;
}

/* A new context with the policy, the chain in cert and the key. */
static SSL_CTX *
tls_ctx_load(const char *cert, const char *key, char *why, size_t whysz)
{
	char reason[TLS_REASON_MAX];
	const char *what = "policy";
	SSL_CTX *ctx;

	ERR_clear_error();
	if (tls_check_key_secrecy(key, why, whysz) == -1)
		return NULL;
	if ((ctx = SSL_CTX_new(TLS_server_method())) == NULL)
		goto fail;
	if (tls_ctx_policy(ctx) == -1)
		goto fail;
	what = cert;
	if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1)
		goto fail;
	what = key;
	if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1)
		goto fail;
	what = "key does not match certificate";
	if (SSL_CTX_check_private_key(ctx) != 1)
		goto fail;
	tls_check_expiry(ctx, cert);
	return ctx;
fail:
	(void)snprintf(why, whysz, "tls: %s: %s", what,
	    tls_error_reason(reason, sizeof(reason)));
	SSL_CTX_free(ctx);
	return NULL;
}

/* 1 if path exists, 0 if it does not, -1 on another error. */
static int
tls_exists(const char *path, char *why, size_t whysz)
{
	struct stat st;

	if (stat(path, &st) == 0)
		return 1;
	if (errno == ENOENT)
		return 0;
	(void)snprintf(why, whysz, "tls: %s: %s", path, strerror(errno));
	return -1;
}

/* Generates the self-signed default when both files are missing. */
static int
tls_ensure_files(const struct conf *conf, const char *cert, const char *key,
    char *why, size_t whysz)
{
	int have_cert, have_key;

	if ((have_cert = tls_exists(cert, why, whysz)) == -1 ||
	    (have_key = tls_exists(key, why, whysz)) == -1)
		return -1;
	if (have_cert && have_key)
		return 0;
	if (have_cert != have_key) {
		(void)snprintf(why, whysz, "tls: %s exists but %s does not; "
		    "provide both or remove the other to get a self-signed "
		    "certificate", have_cert ? cert : key,
		    have_cert ? key : cert);
		return -1;
	}
	if (strcmp(cert, key) == 0) {
		(void)snprintf(why, whysz, "tls: %s does not exist (a "
		    "self-signed pair needs two different paths)", cert);
		return -1;
	}
	if (tls_selfsigned_create(conf->hostname, cert, key, why,
	    whysz) == -1)
		return -1;
	log_info("event=tls-selfsigned-created hostname=%s cert=%s key=%s "
	    "days=%d", conf->hostname, cert, key, TLS_SELFSIGNED_DAYS);
	return 0;
}

struct tls_server *
tls_server_new(const struct conf *conf, char *why, size_t whysz)
{
	struct tls_server *tls;

	tls = xcalloc(1, sizeof(*tls));
	if (tls_paths(conf, tls->cert, tls->key, sizeof(tls->cert), why,
	    whysz) == -1)
		goto fail;
	if (tls_ensure_files(conf, tls->cert, tls->key, why, whysz) == -1)
		goto fail;
	if ((tls->ctx = tls_ctx_load(tls->cert, tls->key, why, whysz)) == NULL)
		goto fail;
	log_info("event=tls-loaded cert=%s", tls->cert);
	return tls;
fail:
	free(tls);
	return NULL;
}

int
tls_server_reload(struct tls_server *tls, const struct conf *conf,
    char *why, size_t whysz)
{
	char cert[PATH_MAX], key[PATH_MAX];
	SSL_CTX *ctx;

	if (tls_paths(conf, cert, key, sizeof(cert), why, whysz) == -1)
		return -1;
	if ((ctx = tls_ctx_load(cert, key, why, whysz)) == NULL)
		return -1;
	SSL_CTX_free(tls->ctx);
	tls->ctx = ctx;
	(void)snprintf(tls->cert, sizeof(tls->cert), "%s", cert);
	(void)snprintf(tls->key, sizeof(tls->key), "%s", key);
	log_info("event=tls-reloaded cert=%s", tls->cert);
	return 0;
}

SSL *
tls_server_ssl_new(struct tls_server *tls)
{
	SSL *ssl;

	if ((ssl = SSL_new(tls->ctx)) == NULL)
		ERR_clear_error();
	return ssl;
}

void
tls_server_free(struct tls_server *tls)
{
	if (tls == NULL)
		return;
	SSL_CTX_free(tls->ctx);
	free(tls);
}

/* Version, cipher name and bits of an established session. */
static int
tls_session_params(SSL *ssl, const char **version, const char **cipher,
    int *bits, int *alg_bits)
{
	const SSL_CIPHER *c;

	if (ssl == NULL || !SSL_is_init_finished(ssl))
		return -1;
	if ((c = SSL_get_current_cipher(ssl)) == NULL)
		return -1;
	*version = SSL_get_version(ssl);
	*cipher = SSL_CIPHER_get_name(c);
	*bits = SSL_CIPHER_get_bits(c, alg_bits);
	return 0;
}

int
tls_describe(SSL *ssl, char *buf, size_t bufsz)
{
	const char *version, *cipher;
	int bits, alg_bits, n;

	if (tls_session_params(ssl, &version, &cipher, &bits, &alg_bits) == -1)
		return -1;
	n = snprintf(buf, bufsz, "version=%s cipher=%s bits=%d", version,
	    cipher, bits);
	if (n < 0 || (size_t)n >= bufsz)
		return -1;
	return 0;
}

int
tls_received(SSL *ssl, char *buf, size_t bufsz)
{
	const char *version, *cipher;
	int bits, alg_bits, n;

	if (tls_session_params(ssl, &version, &cipher, &bits, &alg_bits) == -1)
		return -1;
	n = snprintf(buf, bufsz, "using %s with cipher %s (%d/%d bits)",
	    version, cipher, bits, alg_bits);
	if (n < 0 || (size_t)n >= bufsz)
		return -1;
	return 0;
}

int
tls_channel_binding(SSL *ssl, struct sasl_cbind *cb)
{
	static const char label[] = "EXPORTER-Channel-Binding";
	size_t n;

	memset(cb, 0, sizeof(*cb));
	if (ssl == NULL || !SSL_is_init_finished(ssl))
		return -1;
	/* RFC 9266 §2: TLS 1.3, or TLS 1.2 with extended master secret. */
	if (SSL_version(ssl) >= TLS1_3_VERSION ||
	    SSL_get_extms_support(ssl) == 1) {
		if (SSL_export_keying_material(ssl, cb->exporter,
		    SASL_CB_EXPORTER_LEN, label, sizeof(label) - 1, NULL, 0,
		    0) == 1)
			cb->exporter_len = SASL_CB_EXPORTER_LEN;
		else
			ERR_clear_error();
	}
	/* RFC 5929 §3.1: the first Finished message of the last handshake. */
	if (SSL_version(ssl) == TLS1_2_VERSION) {
		if (SSL_session_reused(ssl))
			n = SSL_get_finished(ssl, cb->unique,
			    sizeof(cb->unique));
		else
			n = SSL_get_peer_finished(ssl, cb->unique,
			    sizeof(cb->unique));
		if (n > 0 && n <= sizeof(cb->unique))
			cb->unique_len = n;
	}
	return cb->exporter_len > 0 || cb->unique_len > 0 ? 0 : -1;
}

/* Copies src into buf with anything unprintable replaced by '?'. */
static char *
tls_printable(char *buf, size_t bufsz, const char *src)
{
	size_t i;

	if (bufsz == 0)
		return buf;
	for (i = 0; i + 1 < bufsz && src[i] != '\0'; i++)
		buf[i] = src[i] >= 0x20 && src[i] < 0x7f ? src[i] : '?';
	buf[i] = '\0';
	return buf;
}

char *
tls_error_string(unsigned long err, char *buf, size_t bufsz)
{
	char line[TLS_REASON_MAX];

	ERR_error_string_n(err, line, sizeof(line));
	return tls_printable(buf, bufsz, line);
}

char *
tls_error_reason(char *buf, size_t bufsz)
{
	const char *data;
	char one[TLS_REASON_MAX], all[TLS_REASON_MAX];
	unsigned long err;
	size_t used = 0;
	int flags, n;

	all[0] = '\0';
	while ((err = ERR_get_error_all(NULL, NULL, NULL, &data,
	    &flags)) != 0) {
		if (used + 1 >= sizeof(all))
			continue;	/* drain the rest */
		ERR_error_string_n(err, one, sizeof(one));
		if (!(flags & ERR_TXT_STRING) || data == NULL)
			data = "";
		n = snprintf(all + used, sizeof(all) - used, "%s%s%s%s",
		    used > 0 ? "; " : "", one, data[0] != '\0' ? ": " : "",
		    data);
		if (n < 0 || (size_t)n >= sizeof(all) - used)
			used = sizeof(all) - 1;
		else
			used += n;
	}
	if (used == 0)
		(void)snprintf(all, sizeof(all), "unknown");
	return tls_printable(buf, bufsz, all);
}

void
tls_close_notify(SSL *ssl)
{
	if (ssl == NULL || !SSL_is_init_finished(ssl))
		return;
	/* One call sends our alert; we do not wait for the peer's. */
	(void)SSL_shutdown(ssl);
	ERR_clear_error();
}
