/*
 * The outbound SMTP client: one asynchronous session (libevent
 * bufferevents) used by remote delivery and by `postern send`. It
 * connects to the first reachable address of a list, reads the greeting,
 * says EHLO (HELO if refused), does STARTTLS or implicit TLS, AUTH through
 * GNU SASL's client side, and then sends messages: MAIL FROM with SIZE=,
 * BODY=8BITMIME and SMTPUTF8 as the peer allows, one RCPT per recipient
 * with a result for each, DATA with dot-stuffing and CRLF-clean output,
 * pipelined when the peer offers PIPELINING, RSET before reusing the
 * connection after a failed transaction, and QUIT.
 *
 * Calling pattern:
 *   tls = smtp_client_tls_ctx_new(cafile, why, sizeof(why));  (once)
 *   c = smtp_client_new(base, &params);
 *   smtp_client_connect(c, addrs, naddrs, on_ready, arg);
 *     on_ready(c, 0, arg): smtp_client_send(c, &msg, results, on_sent, arg)
 *     on_sent(c, 0, arg): results[i] holds each recipient's outcome;
 *       send another message, or smtp_client_quit(c, on_quit, arg)
 *   smtp_client_free(c);
 * Callbacks run from the event loop, never from inside the call that
 * started the operation; a callback may free the client. status is 0
 * when the operation completed (a transaction whose recipients were all
 * refused is still completed), -1 when the session failed:
 * smtp_client_error() says why and the session can only be freed.
 */
#ifndef POSTERN_SMTP_CLIENT_H
#define POSTERN_SMTP_CLIENT_H

#include <sys/socket.h>
#include <sys/types.h>

#include <stddef.h>
#include <stdint.h>

#define SMTP_CLIENT_LINE_MAX 4096	/* longest reply line accepted */
#define SMTP_CLIENT_REPLY_LINES 100	/* most lines in one reply */
#define SMTP_REPLY_TEXT_MAX 1024	/* reply text kept (truncated) */
#define SMTP_CLIENT_WHY_MAX 256
#define SMTP_EHLO_AUTH_MAX 256

/* ---- replies (client_reply.c): pure, bounded ---- */

struct smtp_reply {
	int	 code;			/* 200..599; 0: no reply */
	char	 enh[16];		/* "5.1.1", or "" */
	char	 text[SMTP_REPLY_TEXT_MAX];	/* line texts without codes,
						   joined by "\n" */
	int	 nlines;
	int	 truncated;		/* text did not fit */
	int	 local;			/* made up here: no server reply */
};

enum smtp_reply_state { SMTP_REPLY_MORE, SMTP_REPLY_DONE, SMTP_REPLY_ERROR };

struct smtp_reply_parser {
	struct smtp_reply	reply;
	size_t			textlen;
};

void smtp_reply_parser_init(struct smtp_reply_parser *p);

/*
 * Feeds one reply line (without its CRLF, at most SMTP_CLIENT_LINE_MAX
 * bytes). Returns SMTP_REPLY_MORE after a continuation line ("250-"),
 * SMTP_REPLY_DONE when p->reply is complete, SMTP_REPLY_ERROR (reason in
 * why) for a malformed line: no 3-digit code in 200..599, a code that
 * differs from the first line's, a separator other than ' ' or '-',
 * a line too long, or more than SMTP_CLIENT_REPLY_LINES lines. Control
 * characters in the text are stored as '?'.
 */
enum smtp_reply_state smtp_reply_parse_line(struct smtp_reply_parser *p,
    const char *line, size_t len, char *why, size_t whysz);

/* Sets a locally made reply (code, enhanced code, printf text). */
void smtp_reply_local(struct smtp_reply *r, int code, const char *enh,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/*
 * "CODE ENH text" on one line (continuation texts joined by a space),
 * as for logs and DSN Diagnostic-Code. Returns the length, or -1 if
 * truncated (buf still NUL-terminated).
 */
int smtp_reply_format(const struct smtp_reply *r, char *buf, size_t bufsz);

/* 1 if the reply is 2xx, 0 otherwise. */
int smtp_reply_ok(const struct smtp_reply *r);

/* EHLO keywords (RFC 5321 §4.1.1.1 and the extensions we use). */
#define SMTP_EXT_PIPELINING	0x0001
#define SMTP_EXT_SIZE		0x0002
#define SMTP_EXT_8BITMIME	0x0004
#define SMTP_EXT_SMTPUTF8	0x0008
#define SMTP_EXT_STARTTLS	0x0010
#define SMTP_EXT_AUTH		0x0020
#define SMTP_EXT_ENHANCEDSTATUSCODES 0x0040
#define SMTP_EXT_DSN		0x0080
#define SMTP_EXT_CHUNKING	0x0100

struct smtp_ehlo {
	unsigned	ext;		/* SMTP_EXT_* */
	uint64_t	size;		/* SIZE limit; 0: none given */
	char		auth[SMTP_EHLO_AUTH_MAX];	/* " PLAIN LOGIN ",
						   upper case, space
						   around each */
};

/* Reads the keywords of an EHLO reply (the first line is the greeting). */
void smtp_ehlo_parse(const struct smtp_reply *r, struct smtp_ehlo *e);

/* 1 if the EHLO reply offered AUTH mechanism mech (any case). */
int smtp_ehlo_has_mech(const struct smtp_ehlo *e, const char *mech);

/* ---- message bodies (client_data.c): pure ---- */

/*
 * Streaming body encoder: CRLF, bare LF and bare CR all become CRLF; with
 * stuff set, a '.' that starts a line is doubled (RFC 5321 §4.5.2).
 */
struct smtp_dotstuff {
	int		stuff;
	int		bol;		/* at the beginning of a line */
	int		cr;		/* a CR is pending */
	uint64_t	in, out;	/* octets consumed and produced */
	int		eightbit;	/* saw an octet > 127 */
};

void smtp_dotstuff_init(struct smtp_dotstuff *d, int stuff);

/*
 * Encodes in[0..len) into out, which must hold 2 * len + 2 bytes.
 * Returns the number of bytes written.
 */
size_t smtp_dotstuff_encode(struct smtp_dotstuff *d, const char *in,
    size_t len, char *out);

/*
 * Ends the body into out (at least 8 bytes): the pending CR, a final CRLF
 * if the last line had none, and with stuff set the ".\r\n" terminator.
 * Returns the number of bytes written.
 */
size_t smtp_dotstuff_end(struct smtp_dotstuff *d, char *out);

/* ---- TLS (client_tls.c) ---- */

struct smtp_client_tls_ctx;

/*
 * A client TLS context (TLS 1.2 or later) trusting cafile, or when NULL
 * the system store (SSL_CERT_FILE / SSL_CERT_DIR are honoured). Share
 * one between sessions. NULL with why on error.
 */
struct smtp_client_tls_ctx *smtp_client_tls_ctx_new(const char *cafile,
    char *why, size_t whysz);
void smtp_client_tls_ctx_free(struct smtp_client_tls_ctx *t);

struct smtp_client_tls_info {
	int	active;			/* the session is in TLS */
	char	version[16];		/* "TLSv1.3" */
	char	cipher[64];
	int	verified;		/* chain and name verified */
	char	verify_error[128];	/* why not, or "" */
	char	peer[256];		/* certificate subject */
};

/* ---- sessions (client.c, client_auth.c, client_tls.c) ---- */

enum smtp_client_tls {
	SMTP_CLIENT_TLS_NONE,
	SMTP_CLIENT_TLS_OPPORTUNISTIC,	/* STARTTLS if offered (delivery) */
	SMTP_CLIENT_TLS_STARTTLS,	/* STARTTLS or fail */
	SMTP_CLIENT_TLS_IMPLICIT	/* TLS from the first byte */
};

/* What the transcript callback is told about. */
enum smtp_client_dir {
	SMTP_CLIENT_SENT = 'C',		/* a command (AUTH data masked) */
	SMTP_CLIENT_RECEIVED = 'S',	/* a reply line */
	SMTP_CLIENT_INFO = '*'		/* connection and TLS events */
};

struct smtp_client_params {
	const char	*helo;		/* our name for EHLO/HELO */
	const char	*server_name;	/* for SNI and the certificate name
					   check; NULL: no name check */
	enum smtp_client_tls tls;
	int		 tls_verify;	/* 1: refuse an unverified peer */
	struct smtp_client_tls_ctx *tls_ctx;	/* needed unless TLS_NONE */
	const char	*user;		/* AUTH when set */
	const char	*password;
	const char	*mech;		/* NULL: the best the server offers */
	unsigned	 connect_timeout;	/* seconds; 0: 30 */
	unsigned	 cmd_timeout;	/* per reply; 0: 300 (RFC 5321) */
	unsigned	 data_timeout;	/* final reply after DATA; 0: 600 */
	/* Called synchronously for each line; must not free the client. */
	void		(*transcript)(void *arg, enum smtp_client_dir dir,
			    const char *line, size_t len);
	void		*transcript_arg;
};

enum smtp_client_errkind {
	SMTP_CLIENT_E_NONE,
	SMTP_CLIENT_E_CONNECT,		/* no address accepted a connection */
	SMTP_CLIENT_E_TIMEOUT,
	SMTP_CLIENT_E_LOST,		/* the peer closed the connection */
	SMTP_CLIENT_E_PROTOCOL,		/* malformed or unexpected reply */
	SMTP_CLIENT_E_REFUSED,		/* greeting, EHLO/HELO, RSET refused */
	SMTP_CLIENT_E_TLS,		/* handshake failed */
	SMTP_CLIENT_E_TLS_VERIFY,	/* certificate not verified */
	SMTP_CLIENT_E_TLS_UNAVAILABLE,	/* STARTTLS not offered or refused */
	SMTP_CLIENT_E_AUTH,		/* AUTH refused (reply tells why) */
	SMTP_CLIENT_E_AUTH_UNAVAILABLE,	/* AUTH or the mechanism not offered */
	SMTP_CLIENT_E_INTERNAL		/* out of memory, file read error */
};

struct smtp_client_error {
	enum smtp_client_errkind kind;
	struct smtp_reply	 reply;	/* the server's reply, code 0 if none */
	char			 why[SMTP_CLIENT_WHY_MAX];
};

/* 1 if retrying later may succeed (a 4xx, time-out, lost connection...). */
int smtp_client_error_temporary(const struct smtp_client_error *e);
const char *smtp_client_errkind_str(enum smtp_client_errkind kind);

/* A message to send. The body is read with pread() from fd at offset. */
struct smtp_client_msg {
	const char		*from;	/* "" for the null sender <> */
	const char *const	*rcpts;
	size_t			 nrcpts;
	int			 fd;	/* a regular file, CRLF or LF lines */
	off_t			 offset;
	uint64_t		 size;	/* for SIZE=; 0: unknown */
	int			 eightbit;	/* BODY=8BITMIME */
	int			 smtputf8;	/* needs SMTPUTF8 */
};

struct smtp_client;
struct event_base;

typedef void (*smtp_client_cb)(struct smtp_client *c, int status,
    void *arg);

/* params (and the strings in it) must outlive the session. */
struct smtp_client *smtp_client_new(struct event_base *base,
    const struct smtp_client_params *params);

/*
 * Closes the connection at once (no QUIT) and frees the session; no
 * callback runs afterwards. Safe inside the session's callbacks. NULL:
 * no-op.
 */
void smtp_client_free(struct smtp_client *c);

/*
 * Connects to addrs[0], then the next address if that fails, up to a
 * greeting; says EHLO, does TLS and AUTH as params ask. cb(c, 0) when the
 * session is ready for smtp_client_send(). The port is in each address;
 * AF_INET, AF_INET6 and AF_UNIX (a socket path) are understood.
 * Returns 0, or -1 (errno EINVAL) when called twice or with no address.
 */
int smtp_client_connect(struct smtp_client *c,
    const struct sockaddr_storage *addrs, size_t naddrs, smtp_client_cb cb,
    void *arg);

/*
 * One transaction. results[] (msg->nrcpts entries, owned by the caller,
 * valid until cb runs) receives each recipient's outcome: the RCPT reply
 * if it was refused, else the reply to DATA or to the end of data, or a
 * local reply (local = 1) when the session failed first or the server
 * cannot take the message (SMTPUTF8 not offered: 553 5.6.7; over its SIZE:
 * 552 5.3.4). cb(c, 0) when the transaction ended and the session can be
 * reused; cb(c, -1) if the session failed. Returns -1 (errno EINVAL) when
 * the session is not ready or msg has no recipient.
 */
int smtp_client_send(struct smtp_client *c, const struct smtp_client_msg *msg,
    struct smtp_reply *results, smtp_client_cb cb, void *arg);

/*
 * As smtp_client_connect(), on a socket that is already connected (an
 * inherited descriptor, a proxy, a test's socketpair). Takes ownership of
 * fd whatever the outcome; name is what messages call the peer.
 */
int smtp_client_attach(struct smtp_client *c, int fd, const char *name,
    smtp_client_cb cb, void *arg);

/* QUIT, then cb(c, 0) when the server answered or closed. */
int smtp_client_quit(struct smtp_client *c, smtp_client_cb cb, void *arg);

const struct smtp_client_error *smtp_client_error(const struct smtp_client *c);
const struct smtp_ehlo *smtp_client_ehlo(const struct smtp_client *c);
const struct smtp_reply *smtp_client_greeting(const struct smtp_client *c);
const struct smtp_client_tls_info *smtp_client_tls(
    const struct smtp_client *c);
/* The peer: "127.0.0.1:25", "[::1]:25", "unix:/path", or "". */
const char *smtp_client_peer(const struct smtp_client *c);
/* The mechanism AUTH used, or NULL. */
const char *smtp_client_auth_mech(const struct smtp_client *c);

#endif
