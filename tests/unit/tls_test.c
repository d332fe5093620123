/*
 * Unit tests for src/tls/: the self-signed default (files, modes, names,
 * validity), loading rules (only one file, loose key mode, mismatched
 * pair), reloading without disturbing sessions in progress, and real
 * in-memory handshakes over a BIO pair: the negotiated version and cipher
 * (server preference), TLS 1.1 and CBC suites refused, the description
 * strings, and channel-binding data equal on both ends.
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

#include <cmocka.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "auth/sasl.h"
#include "conf/conf.h"
#include "tls/tls.h"

#define HOST "mx.example.test"

static char tmpdir[] = "/tmp/tls_test.XXXXXX";
static char certpath[300], keypath[300];
static struct conf conf;

static int
setup(void **state)
{
	(void)state;
	assert_non_null(mkdtemp(tmpdir));
	(void)snprintf(certpath, sizeof(certpath), "%s/etc/ssl/cert.pem",
	    tmpdir);
	(void)snprintf(keypath, sizeof(keypath), "%s/etc/ssl/key.pem",
	    tmpdir);
	conf.hostname = (char *)HOST;
	conf.spool = tmpdir;
	conf.tls_certificate = certpath;
	conf.tls_key = keypath;
	return 0;
}

static int
teardown(void **state)
{
	char cmd[400];

	(void)state;
	(void)snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	assert_int_equal(system(cmd), 0);
	return 0;
}

/* --- stderr capture --- */

static int saved_stderr = -1;
static char logpath[300];

static void
capture_start(void)
{
	FILE *fp;

	(void)snprintf(logpath, sizeof(logpath), "%s/log", tmpdir);
	assert_non_null(fp = fopen(logpath, "w"));
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
	assert_non_null(fp = fopen(logpath, "r"));
	n = fread(buf, 1, bufsz - 1, fp);
	buf[n] = '\0';
	fclose(fp);
}

/* --- helpers --- */

static X509 *
read_cert(const char *path)
{
	FILE *fp = fopen(path, "r");
	X509 *x;

	assert_non_null(fp);
	x = PEM_read_X509(fp, NULL, NULL, NULL);
	fclose(fp);
	assert_non_null(x);
	return x;
}

static SSL_CTX *
client_ctx(int min, int max, const char *ciphers)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

	assert_non_null(ctx);
	assert_int_equal(SSL_CTX_set_min_proto_version(ctx, min), 1);
	assert_int_equal(SSL_CTX_set_max_proto_version(ctx, max), 1);
	if (ciphers != NULL)
		assert_int_equal(SSL_CTX_set_cipher_list(ctx, ciphers), 1);
	/* Trust the generated certificate and check the host name. */
	assert_int_equal(SSL_CTX_load_verify_locations(ctx, certpath, NULL),
	    1);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	return ctx;
}

/*
 * Runs a handshake between srv and cli over a BIO pair. 0 when both
 * finish; -1 when one fails, with the server's error reason (if it was
 * the server that failed) in reason.
 */
static int
handshake(SSL *srv, SSL *cli, char *reason, size_t reasonsz)
{
	BIO *sb, *cb;
	int i, rs = 0, rc = 0, e;

	reason[0] = '\0';
	assert_int_equal(BIO_new_bio_pair(&sb, 0, &cb, 0), 1);
	SSL_set_bio(srv, sb, sb);
	SSL_set_bio(cli, cb, cb);
	SSL_set_accept_state(srv);
	SSL_set_connect_state(cli);
	assert_int_equal(SSL_set1_host(cli, HOST), 1);
	for (i = 0; i < 50; i++) {
		if (rc != 1 && (rc = SSL_do_handshake(cli)) <= 0) {
			e = SSL_get_error(cli, rc);
			if (e != SSL_ERROR_WANT_READ &&
			    e != SSL_ERROR_WANT_WRITE) {
				ERR_clear_error();
				return -1;
			}
		}
		if (rs != 1 && (rs = SSL_do_handshake(srv)) <= 0) {
			e = SSL_get_error(srv, rs);
			if (e != SSL_ERROR_WANT_READ &&
			    e != SSL_ERROR_WANT_WRITE) {
				(void)tls_error_reason(reason, reasonsz);
				return -1;
			}
		}
		if (rc == 1 && rs == 1)
			return 0;
	}
	fail_msg("handshake did not finish");
	return -1;
}

static struct tls_server *
server_or_fail(void)
{
	char why[512];
	struct tls_server *tls = tls_server_new(&conf, why, sizeof(why));

	if (tls == NULL)
		fail_msg("tls_server_new: %s", why);
	return tls;
}

/* --- the self-signed default --- */

static void
test_generate(void **state)
{
	char log[4096], dir[300];
	struct tls_server *tls;
	struct stat st;
	X509 *x;
	EVP_PKEY *pub;
	int days, secs;

	(void)state;
	capture_start();
	tls = tls_server_new(&conf, log, sizeof(log));
	capture_end(log, sizeof(log));
	assert_non_null(tls);
	assert_non_null(strstr(log, "event=tls-selfsigned-created hostname="
	    HOST " cert="));
	assert_int_equal(stat(keypath, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(stat(certpath, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0644);
	(void)snprintf(dir, sizeof(dir), "%s/etc/ssl", tmpdir);
	assert_int_equal(stat(dir, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);

	x = read_cert(certpath);
	assert_int_equal(X509_check_host(x, HOST, 0, 0, NULL), 1);
	assert_int_equal(X509_check_host(x, "other.example.test", 0, 0, NULL),
	    0);
	assert_int_equal(X509_check_purpose(x, X509_PURPOSE_SSL_SERVER, 0), 1);
	assert_int_equal(X509_NAME_cmp(X509_get_subject_name(x),
	    X509_get_issuer_name(x)), 0);
	assert_non_null(pub = X509_get0_pubkey(x));
	assert_int_equal(EVP_PKEY_get_base_id(pub), EVP_PKEY_EC);
	assert_int_equal(X509_verify(x, pub), 1);
	assert_int_equal(ASN1_TIME_diff(&days, &secs, NULL,
	    X509_get0_notAfter(x)), 1);
	assert_true(days == TLS_SELFSIGNED_DAYS - 1 ||
	    days == TLS_SELFSIGNED_DAYS);
	X509_free(x);
	tls_server_free(tls);
}

static void
test_second_start_keeps_files(void **state)
{
	char log[4096];
	struct tls_server *tls;
	X509 *before, *after;

	(void)state;
	before = read_cert(certpath);
	capture_start();
	tls = tls_server_new(&conf, log, sizeof(log));
	capture_end(log, sizeof(log));
	assert_non_null(tls);
	assert_null(strstr(log, "tls-selfsigned-created"));
	assert_non_null(strstr(log, "event=tls-loaded cert="));
	after = read_cert(certpath);
	assert_int_equal(X509_cmp(before, after), 0);
	X509_free(before);
	X509_free(after);
	tls_server_free(tls);
}

static void
test_load_errors(void **state)
{
	char why[512], other_cert[300], other_key[300], saved[320];

	(void)state;
	/* A key readable by others is refused. */
	assert_int_equal(chmod(keypath, 0640), 0);
	assert_null(tls_server_new(&conf, why, sizeof(why)));
	assert_non_null(strstr(why, "accessible by group or others"));
	assert_int_equal(chmod(keypath, 0600), 0);

	/* A key of another pair. */
	(void)snprintf(other_cert, sizeof(other_cert), "%s/o/cert.pem",
	    tmpdir);
	(void)snprintf(other_key, sizeof(other_key), "%s/o/key.pem", tmpdir);
	assert_int_equal(tls_selfsigned_create(HOST, other_cert, other_key,
	    why, sizeof(why)), 0);
	conf.tls_key = other_key;
	assert_null(tls_server_new(&conf, why, sizeof(why)));
	assert_memory_equal(why, "tls: ", 5);
	conf.tls_key = keypath;

	/* Only one of the two: no silent regeneration. */
	(void)snprintf(saved, sizeof(saved), "%s.saved", certpath);
	assert_int_equal(rename(certpath, saved), 0);
	assert_null(tls_server_new(&conf, why, sizeof(why)));
	assert_non_null(strstr(why, "exists but"));
	assert_int_equal(access(certpath, F_OK), -1);
	assert_int_equal(rename(saved, certpath), 0);

	/* Not PEM at all. */
	conf.tls_certificate = keypath;
	assert_null(tls_server_new(&conf, why, sizeof(why)));
	conf.tls_certificate = certpath;

	/* One missing path for both: nothing is generated over itself. */
	(void)snprintf(saved, sizeof(saved), "%s/combined.pem", tmpdir);
	conf.tls_certificate = conf.tls_key = saved;
	assert_null(tls_server_new(&conf, why, sizeof(why)));
	assert_non_null(strstr(why, "two different paths"));
	assert_int_equal(access(saved, F_OK), -1);
	conf.tls_certificate = certpath;
	conf.tls_key = keypath;
}

static void
test_default_paths(void **state)
{
	char why[512], path[400];
	struct conf c = conf;
	struct tls_server *tls;
	struct stat st;

	(void)state;
	c.tls_certificate = NULL;
	c.tls_key = (char *)"";
	tls = tls_server_new(&c, why, sizeof(why));
	assert_non_null(tls);
	(void)snprintf(path, sizeof(path), "%s/tls/key.pem", tmpdir);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	(void)snprintf(path, sizeof(path), "%s/tls/cert.pem", tmpdir);
	assert_int_equal(stat(path, &st), 0);
	tls_server_free(tls);
}

static void
test_selfsigned_names(void **state)
{
	char why[512], c[300], k[300], longname[128];
	X509 *x;

	(void)state;
	(void)snprintf(c, sizeof(c), "%s/ip/cert.pem", tmpdir);
	(void)snprintf(k, sizeof(k), "%s/ip/key.pem", tmpdir);
	assert_int_equal(tls_selfsigned_create("127.0.0.1", c, k, why,
	    sizeof(why)), 0);
	x = read_cert(c);
	assert_int_equal(X509_check_ip_asc(x, "127.0.0.1", 0), 1);
	X509_free(x);
	/* Longer than a CN may be: the name is in subjectAltName. */
	memset(longname, 'a', 70);
	(void)snprintf(longname + 70, sizeof(longname) - 70, ".example.test");
	assert_int_equal(tls_selfsigned_create(longname, c, k, why,
	    sizeof(why)), 0);
	x = read_cert(c);
	assert_int_equal(X509_check_host(x, longname, 0, 0, NULL), 1);
	X509_free(x);
}

/* --- handshakes --- */

static void
test_handshake_tls13(void **state)
{
	unsigned char cli_exp[32];
	char buf[TLS_DESCRIBE_MAX], reason[TLS_REASON_MAX];
	struct tls_server *tls = server_or_fail();
	SSL_CTX *cctx = client_ctx(TLS1_2_VERSION, TLS1_3_VERSION, NULL);
	SSL *srv, *cli;
	struct sasl_cbind cb;

	(void)state;
	assert_non_null(srv = tls_server_ssl_new(tls));
	assert_non_null(cli = SSL_new(cctx));
	assert_int_equal(tls_describe(srv, buf, sizeof(buf)), -1);
	assert_int_equal(handshake(srv, cli, reason, sizeof(reason)), 0);
	assert_int_equal(SSL_get_verify_result(cli), X509_V_OK);
	assert_true(SSL_version(srv) >= TLS1_2_VERSION);
	assert_int_equal(SSL_version(srv), TLS1_3_VERSION);
	assert_int_equal(tls_describe(srv, buf, sizeof(buf)), 0);
	assert_string_equal(buf,
	    "version=TLSv1.3 cipher=TLS_AES_256_GCM_SHA384 bits=256");
	assert_int_equal(tls_received(srv, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "using TLSv1.3 with cipher "
	    "TLS_AES_256_GCM_SHA384 (256/256 bits)");
	assert_int_equal(tls_describe(srv, buf, 20), -1);

	/* tls-exporter equal on both ends; no tls-unique in TLS 1.3. */
	assert_int_equal(tls_channel_binding(srv, &cb), 0);
	assert_int_equal(cb.exporter_len, 32);
	assert_int_equal(cb.unique_len, 0);
	assert_int_equal(SSL_export_keying_material(cli, cli_exp, 32,
	    "EXPORTER-Channel-Binding", 24, NULL, 0, 0), 1);
	assert_memory_equal(cb.exporter, cli_exp, 32);

	SSL_free(srv);
	SSL_free(cli);
	SSL_CTX_free(cctx);
	tls_server_free(tls);
}

static void
test_handshake_tls12(void **state)
{
	unsigned char fin[64], exp[32];
	char buf[TLS_DESCRIBE_MAX], reason[TLS_REASON_MAX];
	struct tls_server *tls = server_or_fail();
	SSL_CTX *cctx;
	SSL *srv, *cli;
	struct sasl_cbind cb;
	size_t n;

	(void)state;
	/* Client prefers AES-128; the server's preference (AES-256) wins. */
	cctx = client_ctx(TLS1_2_VERSION, TLS1_2_VERSION,
	    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-CHACHA20-POLY1305:"
	    "ECDHE-ECDSA-AES256-GCM-SHA384");
	assert_non_null(srv = tls_server_ssl_new(tls));
	assert_non_null(cli = SSL_new(cctx));
	assert_int_equal(handshake(srv, cli, reason, sizeof(reason)), 0);
	assert_int_equal(SSL_version(srv), TLS1_2_VERSION);
	assert_int_equal(tls_describe(srv, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "version=TLSv1.2 "
	    "cipher=ECDHE-ECDSA-AES256-GCM-SHA384 bits=256");

	/* tls-unique: the client's Finished (full handshake). */
	assert_int_equal(tls_channel_binding(srv, &cb), 0);
	n = SSL_get_finished(cli, fin, sizeof(fin));
	assert_int_equal(cb.unique_len, n);
	assert_memory_equal(cb.unique, fin, n);
	/* Extended master secret is on: tls-exporter is there too. */
	assert_int_equal(cb.exporter_len, 32);
	assert_int_equal(SSL_export_keying_material(cli, exp, 32,
	    "EXPORTER-Channel-Binding", 24, NULL, 0, 0), 1);
	assert_memory_equal(cb.exporter, exp, 32);
	SSL_free(srv);
	SSL_free(cli);
	SSL_CTX_free(cctx);
	tls_server_free(tls);
}

static void
test_refused(void **state)
{
	static const struct {
		const char	*name;
		int		 min, max;
		const char	*ciphers;
		const char	*reason;	/* in the server's error */
	} cases[] = {
		{ "TLS 1.1", TLS1_1_VERSION, TLS1_1_VERSION,
		    "DEFAULT:@SECLEVEL=0", "unsupported protocol" },
		{ "TLS 1.0", TLS1_VERSION, TLS1_VERSION,
		    "DEFAULT:@SECLEVEL=0", "unsupported protocol" },
		{ "CBC suite", TLS1_2_VERSION, TLS1_2_VERSION,
		    "ECDHE-ECDSA-AES256-SHA384:ECDHE-ECDSA-AES128-SHA",
		    "no shared cipher" },
		{ "static RSA", TLS1_2_VERSION, TLS1_2_VERSION,
		    "AES256-GCM-SHA384", "no shared cipher" },
	};
	char reason[TLS_REASON_MAX];
	struct tls_server *tls = server_or_fail();
	SSL_CTX *cctx;
	SSL *srv, *cli;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		print_message("refused: %s\n", cases[i].name);
		cctx = client_ctx(cases[i].min, cases[i].max,
		    cases[i].ciphers);
		srv = tls_server_ssl_new(tls);
		cli = SSL_new(cctx);
		assert_int_equal(handshake(srv, cli, reason, sizeof(reason)),
		    -1);
		print_message("server: %s\n", reason);
		if (strstr(reason, cases[i].reason) == NULL)
			fail_msg("%s: reason \"%s\"", cases[i].name, reason);
		assert_int_equal(tls_describe(srv, reason, sizeof(reason)), -1);
		SSL_free(srv);
		SSL_free(cli);
		SSL_CTX_free(cctx);
	}
	tls_server_free(tls);
}

/* The server certificate a client sees on srv. */
static X509 *
peer_cert_of(SSL *srv)
{
	char reason[TLS_REASON_MAX];
	SSL_CTX *cctx = SSL_CTX_new(TLS_client_method());
	SSL *cli;
	X509 *x;

	assert_non_null(cctx);		/* no verification: either pair */
	assert_non_null(cli = SSL_new(cctx));
	assert_int_equal(handshake(srv, cli, reason, sizeof(reason)), 0);
	x = SSL_get1_peer_certificate(cli);
	assert_non_null(x);
	SSL_free(cli);
	SSL_CTX_free(cctx);
	return x;
}

static void
test_reload(void **state)
{
	char why[512];
	struct tls_server *tls = server_or_fail();
	X509 *old, *new, *seen;
	SSL *before, *after, *later;
	FILE *fp;

	(void)state;
	old = read_cert(certpath);
	before = tls_server_ssl_new(tls);	/* a session already accepted */
	assert_int_equal(tls_selfsigned_create(HOST, certpath, keypath, why,
	    sizeof(why)), 0);
	new = read_cert(certpath);
	assert_int_not_equal(X509_cmp(old, new), 0);
	assert_int_equal(tls_server_reload(tls, &conf, why, sizeof(why)), 0);
	after = tls_server_ssl_new(tls);

	seen = peer_cert_of(before);		/* keeps the old context */
	assert_int_equal(X509_cmp(seen, old), 0);
	X509_free(seen);
	seen = peer_cert_of(after);
	assert_int_equal(X509_cmp(seen, new), 0);
	X509_free(seen);

	/* A broken file: reload fails, the current context stays. */
	assert_non_null(fp = fopen(certpath, "w"));
	fputs("-----BEGIN CERTIFICATE-----\nnot base64\n", fp);
	fclose(fp);
	assert_int_equal(tls_server_reload(tls, &conf, why, sizeof(why)), -1);
	assert_memory_equal(why, "tls: ", 5);
	later = tls_server_ssl_new(tls);
	seen = peer_cert_of(later);
	assert_int_equal(X509_cmp(seen, new), 0);
	X509_free(seen);

	SSL_free(before);
	SSL_free(after);
	SSL_free(later);
	X509_free(old);
	X509_free(new);
	tls_server_free(tls);
	/* Leave a valid pair for the tests that follow. */
	assert_int_equal(tls_selfsigned_create(HOST, certpath, keypath, why,
	    sizeof(why)), 0);
}

static void
test_error_strings(void **state)
{
	char buf[TLS_REASON_MAX];
	SSL_CTX *ctx;

	(void)state;
	ERR_clear_error();
	assert_string_equal(tls_error_reason(buf, sizeof(buf)), "unknown");
	ctx = SSL_CTX_new(TLS_server_method());
	assert_int_equal(SSL_CTX_use_certificate_chain_file(ctx,
	    "/nonexistent/cert.pem"), 0);
	tls_error_reason(buf, sizeof(buf));
	assert_non_null(strstr(buf, "error:"));
	assert_null(strchr(buf, '\n'));
	/* The queue is drained. */
	assert_int_equal(ERR_peek_error(), 0);
	SSL_CTX_free(ctx);
	/* Small buffers are filled, not overrun. */
	tls_error_string(ERR_PACK(ERR_LIB_SSL, 0, SSL_R_UNSUPPORTED_PROTOCOL),
	    buf, 12);
	assert_int_equal(strlen(buf), 11);
	tls_error_string(ERR_PACK(ERR_LIB_SSL, 0, SSL_R_UNSUPPORTED_PROTOCOL),
	    buf, sizeof(buf));
	assert_non_null(strstr(buf, "unsupported protocol"));
	assert_int_equal(tls_channel_binding(NULL, &(struct sasl_cbind){ 0 }),
	    -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_generate),
		cmocka_unit_test(test_second_start_keeps_files),
		cmocka_unit_test(test_load_errors),
		cmocka_unit_test(test_default_paths),
		cmocka_unit_test(test_selfsigned_names),
		cmocka_unit_test(test_handshake_tls13),
		cmocka_unit_test(test_handshake_tls12),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_reload),
		cmocka_unit_test(test_error_strings),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
