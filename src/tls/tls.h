/*
 * Server-side TLS: the SSL_CTX behind `tls = starttls` (RFC 3207) and
 * `tls = implicit` (RFC 8314) listeners, the self-signed default
 * certificate, SIGHUP reloads, and the strings the session needs for its
 * logs and the Received header (RFC 3848). This module and the SMTP client
 * are the only places that include OpenSSL's TLS headers; callers see the
 * opaque SSL type only, for bufferevent_openssl_socket_new/_filter_new.
 *
 * Policy: TLS 1.2 and 1.3 only; TLS 1.2 cipher suites are ECDHE with
 * AES-GCM or ChaCha20-Poly1305 only; the server's preference wins; no
 * compression, no renegotiation; session tickets are allowed.
 */
#ifndef POSTERN_TLS_H
#define POSTERN_TLS_H

#include <stddef.h>

struct conf;
struct tls_server;
struct sasl_cbind;
typedef struct ssl_st SSL;

/* Size of a buffer that always holds tls_describe()/tls_received(). */
#define TLS_DESCRIBE_MAX 160
/* Size of a buffer for one-line error reasons. */
#define TLS_REASON_MAX 256

/*
 * Loads [tls] certificate (a PEM chain, leaf first) and key. Paths unset in
 * the config default to SPOOL/tls/cert.pem and SPOOL/tls/key.pem. When both
 * files are missing, a self-signed certificate is generated (ECDSA P-256,
 * CN and subjectAltName = conf->hostname, valid one year), the key written
 * with mode 0600, the certificate 0644, creating the directory (0700), and
 * the event is logged. Only one of the two missing, a key file readable by
 * group or others, a key not matching the certificate: error.
 * Returns NULL on error with the reason in why. Call before fork/chroot.
 */
struct tls_server *tls_server_new(const struct conf *conf, char *why,
    size_t whysz);

/*
 * Re-reads the certificate and key (SIGHUP). On success new sessions use
 * the new context; sessions in progress keep the one they started with
 * (SSL_CTX is reference-counted). On error the old context stays in use,
 * nothing is generated, and -1 is returned with the reason in why.
 */
int tls_server_reload(struct tls_server *tls, const struct conf *conf,
    char *why, size_t whysz);

/*
 * A new server-side SSL for one connection, owned by the caller (pass it to
 * bufferevent_openssl_*_new with BEV_OPT_CLOSE_ON_FREE, which frees it).
 * NULL on allocation failure (answer 454 4.7.0 / close).
 */
SSL *tls_server_ssl_new(struct tls_server *tls);

/*
 * Generates a self-signed certificate for hostname (ECDSA P-256, SHA-256,
 * CN and subjectAltName = hostname, serverAuth, valid TLS_SELFSIGNED_DAYS
 * from now) and writes the key (mode 0600) and the certificate (0644)
 * atomically (temporary file, fsync, rename, fsync of the directory),
 * creating missing directories with mode 0700. Existing files are
 * replaced. Returns 0, or -1 with the reason in why.
 */
#define TLS_SELFSIGNED_DAYS 365
int tls_selfsigned_create(const char *hostname, const char *cert_path,
    const char *key_path, char *why, size_t whysz);

/* Frees the server and its current context. NULL: no-op. */
void tls_server_free(struct tls_server *tls);

/*
 * Queues a close_notify alert (RFC 8446 §6.1) on an established session
 * before the connection is closed, so the peer can tell the end from a
 * cut. Never blocks; the alert goes out with the bufferevent's pending
 * output. NULL or a session that never completed its handshake: no-op.
 */
void tls_close_notify(SSL *ssl);

/*
 * "version=TLSv1.3 cipher=TLS_AES_256_GCM_SHA384 bits=256" for logs.
 * Returns 0, or -1 if no session is established or buf is too small.
 */
int tls_describe(SSL *ssl, char *buf, size_t bufsz);

/*
 * The Received-header clause, Postfix style:
 * "using TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)".
 * Returns 0, or -1 as tls_describe().
 */
int tls_received(SSL *ssl, char *buf, size_t bufsz);

/*
 * Channel-binding data of an established session for SCRAM-*-PLUS:
 * tls-exporter (RFC 9266; TLS 1.3, or TLS 1.2 with extended master secret)
 * and tls-unique (RFC 5929; TLS 1.2 only). Fills cb (see auth/sasl.h);
 * returns 0, or -1 if the session offers neither.
 */
int tls_channel_binding(SSL *ssl, struct sasl_cbind *cb);

/*
 * Drains this thread's OpenSSL error queue into one printable line for the
 * logs, e.g. "error:0A000102:SSL routines::unsupported protocol"; several
 * errors are joined with "; ". Writes "unknown" when the queue is empty.
 * Returns buf.
 */
char *tls_error_reason(char *buf, size_t bufsz);

/*
 * One OpenSSL error code (as from bufferevent_get_openssl_error()) as a
 * printable line. Returns buf.
 */
char *tls_error_string(unsigned long err, char *buf, size_t bufsz);

#endif
