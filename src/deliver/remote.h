/*
 * Delivery to non-local addresses: the boundary the outbound SMTP client
 * replaces. The delivery process hands over one message and the remote
 * addresses due for it; the implementation fills in each address's result
 * and calls done() from the event loop. This build has no SMTP client yet:
 * every address is deferred with REMOTE_REPLY_UNAVAILABLE, so such
 * messages stay queued and `postern queue list` shows why.
 */
#ifndef POSTERN_REMOTE_H
#define POSTERN_REMOTE_H

#include <stddef.h>

#include "queue/qfile.h"
#include "queue/qstate.h"

/*
 * 451: the action was aborted by a local condition the sender cannot
 * change; 4.4.0: "other or undefined network or routing status": we have
 * no route out of this host. Both transient, so the recipient is retried
 * on the [delivery] retry schedule until max_queue_time, then bounced
 * with Status 4.4.7.
 */
#define REMOTE_REPLY_UNAVAILABLE "451 4.4.0 remote delivery not yet available"

struct event_base;
struct conf;
struct remote;

/* One address to deliver; the result fields are filled in by remote. */
struct remote_rcpt {
	size_t			 index;		/* recipient in the envelope */
	char			*addr;		/* final address (owned) */
	enum qstate_status	 status;	/* DONE, DEFERRED or FAILED */
	char			 reply[QSTATE_REPLY_MAX];
	char			 relay[256];	/* host it went to, for logs */
};

typedef void (*remote_done_fn)(void *arg);

/* Per delivery process; conf is borrowed for the object's life. */
struct remote *remote_new(struct event_base *base, const struct conf *conf);

/* Aborts whatever is in progress (done() is not called). NULL: no-op. */
void remote_free(struct remote *r);

/*
 * Starts delivering message qf to rcpts[0..n) (both stay valid until done
 * runs). done(arg) runs on the event loop, never inside this call.
 */
void remote_deliver(struct remote *r, const struct qfile *qf,
    struct remote_rcpt *rcpts, size_t n, remote_done_fn done, void *arg);

#endif
