/*
 * Inside the SMTP client: the session struct and the functions its files
 * (client.c: connection and dialogue, client_tx.c: transactions,
 * client_auth.c: SASL, client_tls.c: OpenSSL) share. Not for other
 * modules: they use smtp/client.h.
 */
#ifndef POSTERN_SMTP_CLIENT_INT_H
#define POSTERN_SMTP_CLIENT_INT_H

#include <netinet/in.h>

#include <openssl/ssl.h>

#include "smtp/client.h"

#define CLIENT_BODY_CHUNK 16384		/* read from the message file */
#define CLIENT_OUT_HIGH 65536		/* stop filling the output here */
#define CLIENT_PEER_MAX 128		/* "[v6]:port" or "unix:PATH" */

enum client_state {
	STATE_INIT,
	STATE_CONNECTING,
	STATE_TLS_HANDSHAKE,
	STATE_GREETING,
	STATE_EHLO,
	STATE_HELO,
	STATE_STARTTLS,
	STATE_AUTH,
	STATE_READY,
	STATE_RSET,
	STATE_TX,		/* MAIL, RCPT..., DATA replies awaited */
	STATE_BODY,		/* streaming the message */
	STATE_DOT,		/* awaiting the reply to the end of data */
	STATE_QUIT,
	STATE_CLOSED,
	STATE_FAILED
};

struct client_sasl;
struct bufferevent;
struct event;

/*
 * One session. Owns its bufferevents (plain, and the TLS filter over it),
 * the socket, its timers, the SASL state and the body buffers. Borrows
 * params, the message and the caller's results array.
 */
struct smtp_client {
	struct event_base	*base;
	const struct smtp_client_params *p;
	enum client_state	 state;
	int			 fd;
	struct bufferevent	*plain;		/* on fd */
	struct bufferevent	*bev;		/* plain, or TLS over it */
	SSL			*ssl;		/* owned by the TLS bev */
	struct event		*timer;
	struct event		*done_ev;

	/* the operation in progress: connect, send or quit */
	smtp_client_cb		 cb;
	void			*cbarg;
	int			 op_pending;
	int			 op_status;

	/* connecting */
	struct sockaddr_storage	*addrs;
	size_t			 naddrs, addr_i;
	char			 peer[CLIENT_PEER_MAX];

	/* dialogue */
	struct smtp_reply_parser parser;
	struct smtp_reply	 greeting;
	struct smtp_ehlo	 ehlo;
	struct smtp_client_tls_info tls;
	struct smtp_client_error err;
	int			 in_tls;

	/* AUTH */
	struct client_sasl	*sasl;
	char			 mech[32];
	char			 auth_fail[SMTP_CLIENT_WHY_MAX];

	/* the transaction */
	struct smtp_client_msg	 msg;
	int			 have_msg;
	struct smtp_reply	*results;
	unsigned char		*accepted;	/* per recipient */
	unsigned char		*final;		/* result is final */
	size_t			 naccepted;
	size_t			 ncmds, nsent, nreplied;
	int			 mail_ok;
	int			 discard_dot;	/* "." sent only to end DATA */
	int			 need_rset;
	struct smtp_dotstuff	 ds;
	off_t			 body_off;
	char			*inbuf;		/* CLIENT_BODY_CHUNK */
	char			*outbuf;	/* 2 * CLIENT_BODY_CHUNK + 8 */
};

/* client.c */
void client_send_line(struct smtp_client *c, const char *shown,
    const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void client_info(struct smtp_client *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void client_arm(struct smtp_client *c, unsigned seconds);
void client_complete(struct smtp_client *c, int status);
void client_fail(struct smtp_client *c, enum smtp_client_errkind kind,
    const struct smtp_reply *reply, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void client_ready(struct smtp_client *c);
unsigned client_cmd_timeout(const struct smtp_client *c);

/* client_tx.c */
void client_tx_reply(struct smtp_client *c, const struct smtp_reply *r);
void client_tx_pump(struct smtp_client *c);
void client_tx_abort(struct smtp_client *c);
void client_tx_free(struct smtp_client *c);

/* client_auth.c */
void client_auth_start(struct smtp_client *c);
void client_auth_reply(struct smtp_client *c, const struct smtp_reply *r);
void client_auth_free(struct smtp_client *c);

/* client_tls.c */
SSL *client_tls_ssl_new(struct smtp_client_tls_ctx *t,
    const char *server_name, char *why, size_t whysz);
void client_tls_describe(SSL *ssl, struct smtp_client_tls_info *info);
void client_tls_handshake_error(unsigned long err, char *why, size_t whysz);

#endif
