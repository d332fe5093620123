/*
 * Server side of SASL for SMTP AUTH (RFC 4954): a transport-independent
 * state machine that the SMTP session drives one base64 line at a time.
 * Mechanisms: PLAIN (RFC 4616) and LOGIN, decoded here into bounded
 * buffers and checked against the argon2id hash; SCRAM-SHA-256 (RFC 5802,
 * RFC 7677), SCRAM-SHA-256-PLUS (channel binding tls-exporter, RFC 9266,
 * or tls-unique, RFC 5929) and CRAM-MD5 (RFC 2195) through GNU SASL from
 * the stored SCRAM keys and CRAM secret. Offered in [auth] mechanisms
 * order; CRAM-MD5 and SCRAM-SHA-256-PLUS only when listed there.
 *
 * The session maps results to replies:
 *   SASL_CONTINUE    "334 " + b64_out (b64_out may be empty: "334 ")
 *   SASL_OK          235 2.7.0 Authentication successful
 *   SASL_BAD         535 5.7.8 Authentication credentials invalid
 *   SASL_CANCELLED   501 5.7.0 Authentication cancelled
 *   SASL_BAD_BASE64  501 5.5.2 Cannot decode response
 *   SASL_TOO_LONG    500 5.5.6 Authentication exchange line is too long
 *   SASL_TEMPFAIL    454 4.7.0 Temporary authentication failure
 *   SASL_BAD_MECH    504 5.5.4 Unrecognized authentication type
 *   SASL_NEED_TLS    538 5.7.11 Encryption required for requested
 *                    authentication mechanism
 * Only SASL_BAD counts as a failed attempt for the rate limit
 * (auth/authlimit.h). Every result other than SASL_CONTINUE ends the
 * exchange; further steps return SASL_BAD.
 */
#ifndef POSTERN_SASL_H
#define POSTERN_SASL_H

#include <stddef.h>

struct conf;
struct userdb;
struct sasl_server;
struct sasl_exchange;

enum sasl_result {
	SASL_OK,
	SASL_CONTINUE,
	SASL_BAD,
	SASL_CANCELLED,
	SASL_BAD_BASE64,
	SASL_TOO_LONG,
	SASL_TEMPFAIL,
	SASL_BAD_MECH,
	SASL_NEED_TLS,
};

#define SASL_RESPONSE_MAX 12288	/* RFC 4954 §4: one AUTH response line */
#define SASL_CHALLENGE_MAX 1024	/* b64_out: every challenge fits */
#define SASL_USER_MAX 320	/* authcid/authzid octets (ADDR_BUFSZ) */
#define SASL_MECHS_MAX 128	/* the EHLO AUTH parameter */
#define SASL_CONTEXT_MAX 160	/* sasl_exchange_set_context() */
#define SASL_CB_EXPORTER_LEN 32	/* RFC 9266 §2 */
#define SASL_CB_UNIQUE_MAX 64

/* TLS channel-binding data for SCRAM-*-PLUS (see tls_channel_binding()). */
struct sasl_cbind {
	unsigned char	exporter[SASL_CB_EXPORTER_LEN];
	size_t		exporter_len;	/* 0: not available */
	unsigned char	unique[SASL_CB_UNIQUE_MAX];
	size_t		unique_len;	/* 0: not available (TLS 1.3) */
};

/*
 * One per worker process, after fork. db is borrowed and must outlive the
 * server (userdb handles are thread-safe). Reads, or on first use creates,
 * the secret from which fake SCRAM salts and keys for unknown users are
 * derived: "<[auth] database>.sasl-secret" (mode 0600), shared by all
 * workers and restarts so that those fakes stay stable. NULL on failure
 * (logged): the worker offers no AUTH.
 */
struct sasl_server *sasl_server_new(const struct conf *conf,
    struct userdb *db);
void sasl_server_free(struct sasl_server *srv);	/* NULL ok */

/*
 * The EHLO AUTH parameter, e.g. "SCRAM-SHA-256 PLAIN LOGIN", in config
 * order; SCRAM-SHA-256-PLUS (when configured) only when tls_active. ""
 * when nothing is offered. Valid until sasl_server_free().
 */
const char *sasl_server_mechs(const struct sasl_server *srv, int tls_active);

/*
 * Starts an exchange for the mechanism named mech[0..mechlen) (any case).
 * cb: the session's channel-binding data when it is in TLS (NULL when
 * not); it is copied. On failure returns NULL and sets *err to
 * SASL_BAD_MECH (unknown or not offered), SASL_NEED_TLS (a -PLUS
 * mechanism without TLS) or SASL_TEMPFAIL.
 */
struct sasl_exchange *sasl_exchange_new(struct sasl_server *srv,
    const char *mech, size_t mechlen, int *err);
struct sasl_exchange *sasl_exchange_new_tls(struct sasl_server *srv,
    const char *mech, size_t mechlen, const struct sasl_cbind *cb, int *err);

/*
 * Text put at the start of this exchange's log lines, e.g.
 * "session=0123abcd client=192.0.2.1" (copied, truncated to fit).
 */
void sasl_exchange_set_context(struct sasl_exchange *ex, const char *ctx);

/*
 * One step. b64_in[0..len) is the client's response line without CRLF:
 * base64, "" for an empty response or the "=" initial response, "*" to
 * cancel. b64_in NULL means "AUTH MECH" came without an initial response
 * (first step only). Writes the next challenge, NUL-terminated base64,
 * to b64_out (outsz >= SASL_CHALLENGE_MAX) on SASL_CONTINUE. Returns an
 * enum sasl_result.
 * May block (argon2id, SQLite): call it from the thread pool. Exchanges
 * may run on several threads at once; one exchange on one thread at a time.
 */
int sasl_exchange_step(struct sasl_exchange *ex, const char *b64_in,
    size_t len, char *b64_out, size_t outsz);

/* The authenticated user (lookup-key form) after SASL_OK, else NULL. */
const char *sasl_exchange_user(const struct sasl_exchange *ex);

/* The mechanism's canonical name, e.g. "SCRAM-SHA-256". */
const char *sasl_exchange_mech(const struct sasl_exchange *ex);

/* Zeroes and frees everything the exchange held. NULL ok. */
void sasl_exchange_free(struct sasl_exchange *ex);

/* The sasl_result name, e.g. "SASL_BAD", for logs and tests. */
const char *sasl_result_str(int result);

/*
 * Codec pieces, exported for the fuzz target and tests.
 * sasl_b64_decode: strict RFC 4648 base64 (padding required, no spaces)
 * into out; returns the decoded length or -1 if malformed or too long.
 * sasl_b64_encode: returns the encoded length (NUL-terminated) or -1 if
 * outsz is too small.
 */
int sasl_b64_decode(const char *in, size_t len, unsigned char *out,
    size_t outsz);
int sasl_b64_encode(const unsigned char *in, size_t len, char *out,
    size_t outsz);

/*
 * RFC 4616 PLAIN message msg[0..len) split into NUL-terminated parts.
 * Refuses: not exactly two NULs, empty authcid or password, CR or LF
 * anywhere, authzid/authcid over SASL_USER_MAX - 1 or password over
 * PASSWORD_MAX octets. Returns 0 or -1.
 */
struct sasl_plain {
	char	authzid[SASL_USER_MAX];
	char	authcid[SASL_USER_MAX];
	char	passwd[1025];		/* PASSWORD_MAX + 1 */
	size_t	passwdlen;
};
int sasl_plain_parse(const unsigned char *msg, size_t len,
    struct sasl_plain *out);

/*
 * A LOGIN username or password: no NUL, CR or LF, at most max - 1 octets;
 * copied NUL-terminated into out[max]. Returns the length or -1.
 */
int sasl_login_field(const unsigned char *in, size_t len, char *out,
    size_t max);

#endif
