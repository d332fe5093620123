/*
 * An smtp worker process: one libevent loop accepting on the listening
 * sockets the parent bound, running sessions, with a thread pool for the
 * blocking spool work. Objects here live as long as the worker.
 */
#ifndef POSTERN_SMTP_SERVER_H
#define POSTERN_SMTP_SERVER_H

#include <sys/queue.h>

#include "policy/policy.h"

struct authlimit;
struct conf;
struct conf_listener;
struct dns;
struct event_base;
struct evconnlistener;
struct pool;
struct proc_shared;
struct sasl_server;
struct smtp_session;
struct tls_server;
struct userdb;

/* What the parent prepared before fork and every worker shares. */
struct smtp_worker_env {
	struct proc_shared	*shared;	/* connection counters */
	struct tls_server	*tls;		/* NULL: no TLS listener */
	struct authlimit	*authlimit;	/* failed-AUTH rate limit */
};

struct smtp_listener {
	const struct conf_listener *cl;		/* in srv->conf */
	int			 fd;		/* bound by the parent */
	struct evconnlistener	*evl;
	struct smtp_server	*srv;
};

TAILQ_HEAD(smtp_session_list, smtp_session);

enum smtp_drain {
	DRAIN_NONE,
	DRAIN_GRACEFUL,		/* reload: no new sessions, old ones run on */
	DRAIN_STOP,		/* stop: 421 at each transaction boundary */
};

struct smtp_server {
	struct conf		*conf;		/* borrowed from the parent */
	struct event_base	*base;
	struct pool		*pool;		/* spool jobs */
	struct pool		*auth_pool;	/* SASL steps (argon2id) */
	struct userdb		*userdb;
	struct policy		 policy;
	struct proc_shared	*shared;	/* connection counters */
	struct tls_server	*tls;		/* NULL: no TLS */
	struct authlimit	*authlimit;
	struct sasl_server	*sasl;		/* NULL: AUTH unavailable */
	struct dns		*dns;		/* NULL: DNS checks tempfail */
	unsigned		 worker;	/* index in shared->conns */
	struct smtp_listener	 listeners[16];
	size_t			 nlisteners;
	struct smtp_session_list sessions;
	unsigned		 nsessions;
	enum smtp_drain		 draining;
	struct event		*drain_deadline;
	struct event		*wakeup_ev;	/* pokes the delivery process */
	int			 wakeup_pending;
};

/*
 * Runs a worker until SIGTERM (drain: finish sessions, at most a deadline)
 * and returns its exit code. fds[i] is the socket of conf->listeners[i].
 */
int smtp_worker_run(struct conf *conf, const int *fds, unsigned worker,
    const struct smtp_worker_env *env);

/*
 * A message was queued: tell the delivery process, once per loop turn
 * however many commits finished in it.
 */
void smtp_server_wakeup(struct smtp_server *srv);

/* Called by a session when it is freed, to let a drain finish. */
void smtp_server_session_gone(struct smtp_server *srv);

#endif
