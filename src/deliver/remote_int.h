/*
 * Inside remote delivery: the objects that remote.c (messages and their
 * transactions, the pure result and content helpers), remote_dest.c
 * (destinations: route, queue, connections) and remote_route.c (DNS
 * answers -> connection targets, pure) share. Other modules use
 * deliver/remote.h; the unit and fuzz tests use this header too.
 *
 * Ownership: struct remote owns the destinations and the messages; a
 * message owns its transactions; a destination owns its connections and
 * borrows the transactions queued on it (and the one each connection is
 * sending). Everything runs on the delivery process's event loop.
 */
#ifndef POSTERN_REMOTE_INT_H
#define POSTERN_REMOTE_INT_H

#include <sys/queue.h>
#include <sys/socket.h>

#include <stdarg.h>
#include <time.h>

#include "deliver/remote.h"
#include "dns/dns.h"
#include "queue/envelope.h"
#include "smtp/client.h"
#include "util/log.h"

#define REMOTE_DEST_CONNS	2	/* connections per destination */
#define REMOTE_CONNS		20	/* connections in all */
#define REMOTE_IDLE		5	/* seconds an idle connection is kept */
#define REMOTE_CONN_TXS		100	/* transactions per connection */
#define REMOTE_TX_RCPTS		100	/* RCPTs per transaction (RFC 5321
					   §4.5.3.1.8: servers take 100) */
#define REMOTE_ROUTE_TTL	60	/* seconds a route (or its failure)
					   is reused before a new lookup */
#define REMOTE_CONNECT_TIMEOUT	30	/* seconds per address */
#define REMOTE_KEY_MAX		DNS_NAME_BUFSZ

/* One MX host (or the smarthost, or an address literal) to try. */
struct remote_target {
	char			 host[DNS_NAME_BUFSZ];	/* name or "[ip]" */
	int			 literal;	/* host is an address */
	struct sockaddr_storage	 addrs[DNS_HOST_ADDR_MAX];	/* port set */
	size_t			 naddrs;
};

/*
 * Where a destination's mail goes: targets in the order to try (RFC 5321
 * §5.1), or, when none is usable, the reply every recipient gets (its
 * first digit says deferred or failed).
 */
struct remote_route {
	int			 usable;
	char			 reply[QSTATE_REPLY_MAX];
	struct remote_target	 targets[DNS_MX_MAX];
	size_t			 ntargets;
};

struct remote_dest;

/* The message being delivered: one remote_deliver() call. */
struct remote_msg {
	TAILQ_ENTRY(remote_msg)	 entry;		/* in remote.msgs */
	struct remote		*r;
	const struct qfile	*qf;		/* borrowed */
	struct remote_rcpt	*rcpts;		/* borrowed; results go here */
	size_t			 n;
	remote_done_fn		 done;
	void			*arg;
	int			 fd;		/* queue file, for the body */
	int			 eightbit;	/* an octet > 127 in it */
	TAILQ_HEAD(, remote_tx)	 txs;		/* unfinished, owned */
	struct event		*done_ev;
};

/* One SMTP transaction: recipients of one message for one destination. */
struct remote_tx {
	TAILQ_ENTRY(remote_tx)	 mentry;	/* in its message */
	TAILQ_ENTRY(remote_tx)	 qentry;	/* in its destination's queue */
	struct remote_msg	*msg;
	size_t			*idx;		/* into msg->rcpts */
	const char		**addrs;	/* msg->rcpts[idx[i]].addr */
	struct smtp_reply	*results;
	size_t			 n;
	int			 smtputf8;	/* needs SMTPUTF8 */
	int			 retried;	/* requeued after a lost reused
						   connection */
};

/* Where a transaction went, for the results and the log. */
struct remote_where {
	const char	*mta;		/* host name, "" if none */
	const char	*relay;		/* "host[ip]:port", "none" */
	const char	*tls;		/* "TLSv1.3/verified", "none", "" */
};

/* Owns the resolver, the TLS context, destinations and messages. */
struct remote {
	struct event_base	*base;
	const struct conf	*conf;
	struct dns		*dns;		/* NULL: could not start */
	char			 dns_why[DNS_WHY_MAX];
	struct smtp_client_tls_ctx *tls;	/* NULL: no STARTTLS */
	int			 relay;		/* [delivery] relay is set */
	char			 relay_host[DNS_NAME_BUFSZ];
	unsigned		 relay_port;
	TAILQ_HEAD(, remote_dest) dests;
	TAILQ_HEAD(, remote_msg) msgs;
	unsigned		 nconns;
	int			 stopping;	/* remote_stop() was called */
	int			 starved;	/* a destination waits for a
						   connection slot */
	struct event		*pump_ev;	/* serves the starved */
};

/* remote.c: a transaction ends; results go to the message. */
void remote_tx_done(struct remote_tx *tx, const struct remote_where *w);
void remote_tx_fail(struct remote_tx *tx, const struct remote_where *w,
    const char *reply);

/* remote_dest.c */
void remote_dest_queue(struct remote *r, const char *key, int relay,
    struct remote_tx *tx);
void remote_dest_pump_all(struct remote *r);
void remote_dest_free_all(struct remote *r);

/* remote_route.c: pure, see there. Failures: rt->reply, usable 0. */
void remote_route_fail(struct remote_route *rt, const char *fmt, ...)
    PRINTFLIKE(2, 3);
void remote_route_from_mx(struct remote_route *rt,
    const struct dns_mx_result *res, unsigned port, const char *myname);
void remote_route_relay(struct remote_route *rt,
    const struct dns_mx_result *res, unsigned port);
int remote_route_literal(struct remote_route *rt, const char *domain,
    unsigned port);
int remote_route_relay_literal(struct remote_route *rt, const char *host,
    unsigned port);
int remote_relay_split(const char *relay, char *host, size_t hostsz,
    unsigned *port);

/* remote.c: pure helpers. */
void remote_relay_str(char *buf, size_t bufsz, const char *host,
    const char *peer);
void remote_tls_str(char *buf, size_t bufsz,
    const struct smtp_client_tls_info *t);
enum qstate_status remote_reply_status(const char *reply);
int remote_has_8bit(const char *p, size_t len);
int remote_needs_smtputf8(const struct envelope *env, const char *msg,
    size_t msglen, const char *const *rcpts, size_t n);

#endif
