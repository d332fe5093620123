/*
 * Delivery to non-local addresses: the boundary between the delivery
 * process (deliver.c, djob*.c) and the outbound SMTP delivery
 * (remote*.c). The delivery process hands over one message and the
 * remote addresses due for it; remote groups them by destination (the
 * recipient domain's MX hosts, or the [delivery] relay smarthost),
 * resolves the route, delivers over reused SMTP connections with
 * opportunistic STARTTLS and fills in each address's result: DONE (2xx),
 * DEFERRED (4xx, connection failure, time-out, DNS failure) or FAILED
 * (5xx, null MX, no such domain...). The delivery process records the
 * results, schedules retries and bounces (docs/queue.md).
 */
#ifndef POSTERN_REMOTE_H
#define POSTERN_REMOTE_H

#include <stddef.h>

#include "queue/qfile.h"
#include "queue/qstate.h"

struct event_base;
struct conf;
struct remote;

/* One address to deliver; the result fields are filled in by remote. */
struct remote_rcpt {
	size_t			 index;		/* recipient in the envelope */
	char			*addr;		/* final address (owned) */
	enum qstate_status	 status;	/* DONE, DEFERRED or FAILED */
	char			 reply[QSTATE_REPLY_MAX];
	char			 relay[256];	/* "host[ip]:port", or "none" */
	char			 mta[256];	/* host that answered, or "" */
	char			 tls[32];	/* "TLSv1.3/verified", "TLSv1.2/
						   unverified", "none"; "" if
						   no connection was made */
};

typedef void (*remote_done_fn)(void *arg);

/*
 * Per delivery process; conf is borrowed for the object's life. Starts
 * the resolver ([delivery] dns, trust_anchor) and the client TLS context;
 * if either fails it is logged and remote mail is deferred (no resolver)
 * or sent without STARTTLS (no TLS).
 */
struct remote *remote_new(struct event_base *base, const struct conf *conf);

/*
 * Aborts whatever is in progress (done() is not called), closes every
 * connection without QUIT. NULL: no-op.
 */
void remote_free(struct remote *r);

/*
 * Stopping (SIGTERM): closes every connection without QUIT and cancels
 * the lookups; every address still in progress, and every one handed
 * over afterwards, is deferred with REMOTE_REPLY_STOPPING, and done()
 * runs as usual, on a later loop turn.
 */
#define REMOTE_REPLY_STOPPING "451 4.3.2 Delivery interrupted: the " \
	"server is shutting down"
void remote_stop(struct remote *r);

/*
 * Starts delivering message qf to rcpts[0..n) (both stay valid until done
 * runs; rcpts[i].addr is a mailbox "local@domain"). When done(arg) runs,
 * on the event loop and never inside this call, every rcpts[i] has its
 * status, reply ("250 2.0.0 Ok ...", "451 4.4.1 ...", "556 5.1.10 ..."),
 * relay, mta and tls.
 */
void remote_deliver(struct remote *r, const struct qfile *qf,
    struct remote_rcpt *rcpts, size_t n, remote_done_fn done, void *arg);

#endif
