/*
 * Session internals shared by session.c (I/O, framing, command dispatch)
 * and tx.c (MAIL, RCPT, DATA and the spool). Not for other modules.
 */
#ifndef POSTERN_SMTP_SESSION_INT_H
#define POSTERN_SMTP_SESSION_INT_H

#include <netinet/in.h>
#include <stdint.h>
#include <sys/queue.h>
#include <time.h>

#include "queue/envelope.h"
#include "replies/replies.h"
#include "smtp/cmd.h"
#include "smtp/data.h"

struct bufferevent;
struct event;
struct evbuffer;
struct evbuffer_cb_entry;
struct sasl_exchange;
struct smtp_dnswait;
struct spool_file;

enum smtp_state {
	STATE_CMD,	/* reading command lines */
	STATE_DATA,	/* reading the message after 354 */
	STATE_AUTH,	/* reading AUTH responses after 334 */
	STATE_CLOSING,	/* reply queued, close once it is written */
};

/* One mail transaction, MAIL to end of DATA; owned by its session. */
struct smtp_tx {
	struct smtp_session	*s;		/* owner */
	char			 sender[ADDR_BUFSZ];	/* "" for <> */
	struct smtp_mail_params	 params;
	char			**rcpts;	/* accepted recipients */
	size_t			 nrcpts;
	size_t			 rcptcap;
	unsigned		 rcpt_tries;	/* RCPT commands, accepted or not */
	/* DATA */
	struct data_parser	 dp;
	struct evbuffer		*buf;		/* message bytes not yet written */
	struct spool_file	*spool;		/* owned while no job runs */
	char			 id[QUEUE_ID_MAX];
	uint64_t		 size;		/* message bytes received */
	time_t			 data_start;	/* when DATA began */
	int			 too_big;
	int			 eom;		/* <CRLF>.<CRLF> seen */
	int			 job_busy;	/* a spool job runs */
	int			 failed;	/* a spool step failed */
	int			 paused;	/* reading paused for backpressure */
};

/* Owned by the worker's session list; see session.h. */
struct smtp_session {
	TAILQ_ENTRY(smtp_session) entry;
	struct smtp_server	*srv;
	struct smtp_listener	*listener;
	struct bufferevent	*bev;
	uint64_t		 id;
	char			 client[INET6_ADDRSTRLEN + 8];	/* IP text */
	struct sockaddr_storage	 sa;		/* client address */
	enum smtp_state		 state;
	char			 helo[256];
	int			 helo_seen;
	int			 esmtp;
	int			 tls;		/* TLS is active */
	int			 handshaking;	/* TLS handshake running */
	int			 close_notified;	/* TLS close_notify queued */
	int			 authenticated;
	char			 auth_user[ADDR_BUFSZ];
	unsigned		 errors;	/* command errors, for the budget */
	unsigned		 ntx;		/* messages queued */
	int			 blocked;	/* a job decides the next reply */
	unsigned		 jobs;		/* pool jobs referring to us */
	int			 discarding;	/* skipping an over-long line */
	size_t			 discarded;
	int			 gone;		/* connection closed/failed */
	int			 reap_scheduled;	/* free at next loop turn */
	int			 draining;	/* 421 once no transaction runs */
	struct event		*pause_ev;	/* error-budget delay */
	struct evbuffer_cb_entry *flush_cb;	/* waiting for TLS to flush */
	struct smtp_tx		*tx;		/* NULL outside a transaction */
	struct sasl_exchange	*sasl;		/* AUTH in progress, or NULL */
	struct smtp_dnswait	*dnswait;	/* MAIL/RCPT DNS check, or NULL */
};

/* session.c */
void smtp_reply(struct smtp_session *s, enum reply_id id, ...);
void smtp_reply_more(struct smtp_session *s, enum reply_id id, ...);
void smtp_close_after_reply(struct smtp_session *s);
void smtp_resume(struct smtp_session *s);	/* after an async step */
void smtp_pause_reading(struct smtp_session *s, int pause);
void smtp_job_done(struct smtp_session *s);	/* may free s */

/* starttls.c */
void smtp_proceed_starttls(struct smtp_session *s);
int smtp_tls_accept(struct smtp_session *s, int fd);
void smtp_tls_connected(struct smtp_session *s);
void smtp_tls_failed(struct smtp_session *s);
void smtp_tls_close_notify(struct smtp_session *s);
int smtp_tls_received(struct smtp_session *s, char *buf, size_t bufsz);
void smtp_set_callbacks(struct smtp_session *s);

/* auth.c */
int smtp_auth_offered(const struct smtp_session *s);
const char *smtp_auth_mechs(const struct smtp_session *s);
void smtp_proceed_auth(struct smtp_session *s, const struct smtp_cmd *cmd);
void smtp_auth_response(struct smtp_session *s, const char *line, size_t len);
void smtp_auth_too_long(struct smtp_session *s);
void smtp_auth_end(struct smtp_session *s);

/* tx.c */
void smtp_proceed_mail(struct smtp_session *s, const struct smtp_cmd *cmd);
void smtp_proceed_rcpt(struct smtp_session *s, const struct smtp_cmd *cmd);
void smtp_proceed_data(struct smtp_session *s);
void smtp_data_input(struct smtp_session *s);
void smtp_tx_free(struct smtp_tx *tx);
void smtp_tx_begin(struct smtp_session *s, const struct addr *a,
    const struct smtp_mail_params *p);
void smtp_tx_add_rcpt(struct smtp_tx *tx, const struct addr *a);

/* dnscheck.c */
void smtp_dnscheck_sender(struct smtp_session *s, const struct addr *a,
    const struct smtp_mail_params *p);
void smtp_dnscheck_rcpt(struct smtp_session *s, const struct addr *a);
void smtp_dnscheck_cancel(struct smtp_session *s);

#endif
