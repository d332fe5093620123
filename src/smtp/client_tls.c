/*
 * TLS for the SMTP client, kept apart from the server's src/tls/: the
 * client context (TLS 1.2+, trust store from a CA file or the system's),
 * one SSL object per connection with SNI and the name to verify (host name
 * or IP address), and the outcome of the handshake as plain data
 * (version, cipher, verified or why not, peer subject). Verification is
 * never enforced inside the handshake: the session decides afterwards,
 * so opportunistic delivery can record an unverified peer and carry on
 * while `postern send` refuses it. Owns struct smtp_client_tls_ctx (one
 * SSL_CTX). Runs in the delivery process and the command line.
 */
#include "smtp/client.h"
#include "smtp/client_int.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "util/xmalloc.h"

struct smtp_client_tls_ctx {
	SSL_CTX	*ctx;
};

static void
tls_error(char *why, size_t whysz, const char *what)
{
	unsigned long e = ERR_get_error();
	char buf[200];

	if (e != 0) {
		ERR_error_string_n(e, buf, sizeof(buf));
		(void)snprintf(why, whysz, "%s: %s", what, buf);
	} else
		(void)snprintf(why, whysz, "%s", what);
	ERR_clear_error();
}

struct smtp_client_tls_ctx *
smtp_client_tls_ctx_new(const char *cafile, char *why, size_t whysz)
{
	struct smtp_client_tls_ctx *t;

	t = xcalloc(1, sizeof(*t));
	if ((t->ctx = SSL_CTX_new(TLS_client_method())) == NULL) {
		tls_error(why, whysz, "cannot create a TLS context");
		goto fail;
	}
	if (!SSL_CTX_set_min_proto_version(t->ctx, TLS1_2_VERSION)) {
		tls_error(why, whysz, "cannot require TLS 1.2");
		goto fail;
	}
	SSL_CTX_set_verify(t->ctx, SSL_VERIFY_NONE, NULL);
	if (cafile != NULL) {
		if (!SSL_CTX_load_verify_locations(t->ctx, cafile, NULL)) {
			tls_error(why, whysz, "cannot load the CA file");
			goto fail;
		}
	} else if (!SSL_CTX_set_default_verify_paths(t->ctx)) {
		tls_error(why, whysz, "cannot load the system trust store");
		goto fail;
	}
	return t;
fail:
	smtp_client_tls_ctx_free(t);
	return NULL;
}

void
smtp_client_tls_ctx_free(struct smtp_client_tls_ctx *t)
{
	if (t == NULL)
		return;
	SSL_CTX_free(t->ctx);
	free(t);
}

static int
is_ip_literal(const char *name)
{
	unsigned char buf[sizeof(struct in6_addr)];

	return inet_pton(AF_INET, name, buf) == 1 ||
	    inet_pton(AF_INET6, name, buf) == 1;
}

SSL *
client_tls_ssl_new(struct smtp_client_tls_ctx *t, const char *server_name,
    char *why, size_t whysz)
{
	X509_VERIFY_PARAM *param;
	SSL *ssl;

	if ((ssl = SSL_new(t->ctx)) == NULL) {
		tls_error(why, whysz, "cannot create a TLS session");
		return NULL;
	}
	if (server_name == NULL || server_name[0] == '\0')
		return ssl;
	param = SSL_get0_param(ssl);
	if (is_ip_literal(server_name)) {
		if (!X509_VERIFY_PARAM_set1_ip_asc(param, server_name))
			goto fail;
		return ssl;
	}
	X509_VERIFY_PARAM_set_hostflags(param,
	    X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
	if (!SSL_set_tlsext_host_name(ssl, server_name) ||
	    !SSL_set1_host(ssl, server_name))
		goto fail;
	return ssl;
fail:
	tls_error(why, whysz, "cannot set the server name");
	SSL_free(ssl);
	return NULL;
}

void
client_tls_describe(SSL *ssl, struct smtp_client_tls_info *info)
{
	X509 *peer;
	long res;

	memset(info, 0, sizeof(*info));
	info->active = 1;
	(void)snprintf(info->version, sizeof(info->version), "%s",
	    SSL_get_version(ssl));
	(void)snprintf(info->cipher, sizeof(info->cipher), "%s",
	    SSL_get_cipher_name(ssl));
	if ((peer = SSL_get1_peer_certificate(ssl)) == NULL) {
		(void)snprintf(info->verify_error, sizeof(info->verify_error),
		    "the server sent no certificate");
		return;
	}
	X509_NAME_oneline(X509_get_subject_name(peer), info->peer,
	    sizeof(info->peer));
	X509_free(peer);
	res = SSL_get_verify_result(ssl);
	if (res == X509_V_OK)
		info->verified = 1;
	else
		(void)snprintf(info->verify_error, sizeof(info->verify_error),
		    "%s", X509_verify_cert_error_string(res));
}

void
client_tls_handshake_error(unsigned long err, char *why, size_t whysz)
{
	char buf[200];

	if (err == 0) {
		(void)snprintf(why, whysz, "TLS handshake failed (connection "
		    "closed)");
		return;
	}
	ERR_error_string_n(err, buf, sizeof(buf));
	(void)snprintf(why, whysz, "TLS handshake failed: %s", buf);
}
