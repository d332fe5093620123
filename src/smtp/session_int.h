/*
 * Session internals shared by session.c (I/O, framing, command dispatch)
 * and tx.c (MAIL, RCPT, DATA and the spool). Not for other modules.
 */
#ifndef POSTERN_SMTP_SESSION_INT_H
#define POSTERN_SMTP_SESSION_INT_H

#include <netinet/in.h>
#include <stdint.h>
#include <sys/queue.h>

#include "queue/envelope.h"
#include "replies/replies.h"
#include "smtp/cmd.h"
#include "smtp/data.h"

struct bufferevent;
struct event;
struct evbuffer;
struct spool_file;

enum smtp_state {
	STATE_CMD,	/* reading command lines */
	STATE_DATA,	/* reading the message after 354 */
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
	int			 too_big;
	int			 eom;		/* <CRLF>.<CRLF> seen */
	int			 created;	/* spool file exists */
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
	enum smtp_state		 state;
	char			 helo[256];
	int			 helo_seen;
	int			 esmtp;
	int			 tls;		/* TLS is active */
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
	int			 draining;	/* 421 at the next command */
	struct event		*pause_ev;	/* error-budget delay */
	struct smtp_tx		*tx;		/* NULL outside a transaction */
};

/* session.c */
void smtp_reply(struct smtp_session *s, enum reply_id id, ...);
void smtp_reply_more(struct smtp_session *s, enum reply_id id, ...);
void smtp_close_after_reply(struct smtp_session *s);
void smtp_resume(struct smtp_session *s);	/* after an async step */
void smtp_pause_reading(struct smtp_session *s, int pause);
void smtp_job_done(struct smtp_session *s);	/* may free s */

/* tx.c */
void smtp_proceed_mail(struct smtp_session *s, const struct smtp_cmd *cmd);
void smtp_proceed_rcpt(struct smtp_session *s, const struct smtp_cmd *cmd);
void smtp_proceed_data(struct smtp_session *s);
void smtp_data_input(struct smtp_session *s);
void smtp_tx_free(struct smtp_tx *tx);

#endif
