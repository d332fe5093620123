/*
 * Delivery status notifications (RFC 3464 multipart/report bounces) for
 * permanently failed recipients, from MAILER-DAEMON@hostname with the null
 * sender, to the original sender, injected into the spool like any
 * message. Used by local delivery and by the outbound SMTP client.
 */
#ifndef POSTERN_DSN_H
#define POSTERN_DSN_H

#include <stddef.h>
#include <time.h>

#include "queue/envelope.h"

struct conf;

/* One failed recipient. */
struct dsn_rcpt {
	const char	*addr;		/* Final-Recipient */
	const char	*status;	/* "5.1.1"; "4.4.7" when expired */
	const char	*diag;		/* the reply: "550 5.1.1 ..." */
	const char	*remote_mta;	/* host that answered, or NULL */
	int		 expired;	/* given up after max_queue_time */
};

#define DSN_HEADERS_MAX (64 * 1024)	/* original headers included */

/* RFC 5322 date-time of t in local time, C locale. 0 or -1. */
int dsn_date(time_t t, char *buf, size_t bufsz);

/*
 * The DSN Status of a reply: its enhanced code ("550 5.1.1 ..." -> 5.1.1)
 * or, without one, the class from the basic code (5.0.0 / 4.0.0).
 */
void dsn_status_of(const char *reply, char *buf, size_t bufsz);

/*
 * Builds the DSN for message msg[0..msglen) (as spooled, CRLF) of env,
 * reporting rcpts[0..n), with dsn_id as its queue ID (Message-ID,
 * Received) and now as the attempt time. *out is a malloc'ed CRLF text
 * (free it). 0, or -1 with errno.
 */
int dsn_build(const struct conf *conf, const struct envelope *env,
    const char *msg, size_t msglen, const struct dsn_rcpt *rcpts, size_t n,
    const char *dsn_id, time_t now, char **out, size_t *outlen);

/*
 * Builds the DSN and queues it in conf->spool (spool_create/write/commit)
 * with sender <> to env->sender, then wakes the delivery process. The
 * caller must not call it for a null-sender message. The new queue ID goes
 * to id. 0 once durable, -1 with errno.
 */
int dsn_queue(const struct conf *conf, const struct envelope *env,
    const char *msg, size_t msglen, const struct dsn_rcpt *rcpts, size_t n,
    char id[QUEUE_ID_MAX]);

#endif
