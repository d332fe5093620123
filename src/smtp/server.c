/*
 * The smtp worker process: accepts on the parent's listening sockets,
 * enforces max_connections across workers, runs sessions, and drains on
 * SIGTERM. Owns the event base, the thread pool and the user store handle
 * of this process.
 */
#include "smtp/server.h"

#include <errno.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth/sasl.h"
#include "auth/userdb.h"
#include "conf/conf.h"
#include "dns/dns.h"
#include "proc/shared.h"
#include "queue/spool.h"
#include "replies/replies.h"
#include "smtp/session.h"
#include "smtp/session_int.h"
#include "util/log.h"
#include "util/pool.h"

/*
 * Spool jobs wait on the disk, not the CPU: many threads let concurrent
 * fsyncs merge (measured at c=50: 8 threads ~760 msg/s, 32 ~940).
 * Password checks are CPU and memory bound (argon2id takes 64 MiB each),
 * so they get their own small pool: no flood of AUTH attempts can make a
 * worker hold 32 hashes at once or delay the spool.
 */
#define SMTP_POOL_THREADS 32
#define SMTP_AUTH_THREADS 2
#define SMTP_DRAIN_SECONDS 10	/* sessions get this long to finish */

/* Refuses a connection over the limit without making a session. */
static void
smtp_refuse_busy(struct smtp_server *srv, int fd)
{
	char line[256];
	int n;

	n = reply_format(line, sizeof(line), R_TOO_MANY_CONNECTIONS, 0,
	    srv->conf->hostname);
	if (n > 0)
		(void)!write(fd, line, n);	/* best effort, non-blocking */
	close(fd);
}

static void
smtp_accept_cb(struct evconnlistener *evl, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	struct smtp_listener *l = arg;
	struct smtp_server *srv = l->srv;

	if (srv->draining) {
		close(fd);
		return;
	}
	if (proc_shared_total(srv->shared) >= srv->conf->max_connections) {
		log_info("event=refused reason=max_connections listener=%s",
		    l->cl->name);
		smtp_refuse_busy(srv, fd);
		return;
	}
	atomic_fetch_add(&srv->shared->conns[srv->worker], 1);
	smtp_session_start(srv, l, fd, sa, (socklen_t)salen);
}

static void
smtp_accept_error_cb(struct evconnlistener *evl, void *arg)
{
	/* EMFILE and the like: log, keep listening. */
	log_warn("event=accept-failed");
}

static void
smtp_wakeup_cb(evutil_socket_t fd, short what, void *arg)
{
	struct smtp_server *srv = arg;

	srv->wakeup_pending = 0;
	spool_wakeup(srv->conf->spool);	/* a non-blocking FIFO write */
}

void
smtp_server_wakeup(struct smtp_server *srv)
{
	if (srv->wakeup_pending)
		return;
	srv->wakeup_pending = 1;
	event_active(srv->wakeup_ev, EV_TIMEOUT, 0);
}

void
smtp_server_session_gone(struct smtp_server *srv)
{
	atomic_fetch_sub(&srv->shared->conns[srv->worker], 1);
	srv->nsessions--;
	if (srv->draining && srv->nsessions == 0)
		event_base_loopexit(srv->base, NULL);
}

static void
smtp_drain_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct smtp_server *srv = arg;
	struct smtp_session *s, *next;

	log_info("event=drain-deadline sessions=%u", srv->nsessions);
	for (s = TAILQ_FIRST(&srv->sessions); s; s = next) {
		next = TAILQ_NEXT(s, entry);
		if (!s->gone)
			smtp_session_abort(s);
	}
}

static void
smtp_stop_accepting(struct smtp_server *srv)
{
	size_t i;

	for (i = 0; i < srv->nlisteners; i++) {
		evconnlistener_free(srv->listeners[i].evl);
		srv->listeners[i].evl = NULL;
	}
}

/*
 * SIGUSR1 (the supervisor reloaded and started new workers): stop
 * accepting and let every session run to its end. SIGTERM/SIGINT (stop):
 * each session ends with 421 at its next transaction boundary, and what
 * is left after SMTP_DRAIN_SECONDS is cut.
 */
static void
smtp_signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct smtp_server *srv = arg;
	struct timeval tv = { SMTP_DRAIN_SECONDS, 0 };
	enum smtp_drain level = sig == SIGUSR1 ? DRAIN_GRACEFUL : DRAIN_STOP;
	struct smtp_session *s, *next;

	if (srv->draining >= level)
		return;
	if (srv->draining == DRAIN_NONE)
		smtp_stop_accepting(srv);
	srv->draining = level;
	log_info("event=draining mode=%s sessions=%u",
	    level == DRAIN_STOP ? "stop" : "reload", srv->nsessions);
	if (srv->nsessions == 0) {
		event_base_loopexit(srv->base, NULL);
		return;
	}
	if (level != DRAIN_STOP)
		return;
	for (s = TAILQ_FIRST(&srv->sessions); s; s = next) {
		next = TAILQ_NEXT(s, entry);
		if (!s->gone)
			smtp_session_drain(s);
	}
	srv->drain_deadline = evtimer_new(srv->base, smtp_drain_deadline, srv);
	evtimer_add(srv->drain_deadline, &tv);
}

static int
smtp_server_listen(struct smtp_server *srv, const int *fds)
{
	size_t i;

	for (i = 0; i < srv->conf->nlisteners; i++) {
		struct smtp_listener *l = &srv->listeners[i];
		l->cl = &srv->conf->listeners[i];
		l->fd = fds[i];
		l->srv = srv;
		l->evl = evconnlistener_new(srv->base, smtp_accept_cb, l,
		    LEV_OPT_CLOSE_ON_FREE, 0, fds[i]);	/* 0: already listening */
		if (l->evl == NULL) {
			log_warn("event=listen-failed listener=%s",
			    l->cl->name);
			return -1;
		}
		evconnlistener_set_error_cb(l->evl, smtp_accept_error_cb);
		srv->nlisteners++;
	}
	return 0;
}

/*
 * The epoll changelist folds the enable/disable pairs a bufferevent makes
 * around each reply into one epoll_ctl per loop turn. It is safe because
 * no descriptor here is ever dup()ed.
 */
static struct event_base *
smtp_event_base_new(void)
{
	struct event_config *cfg = event_config_new();
	struct event_base *base;

	if (cfg == NULL)
		return NULL;
	event_config_set_flag(cfg, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
	base = event_base_new_with_config(cfg);
	event_config_free(cfg);
	return base;
}

/* 1 if some listener offers AUTH. */
static int
smtp_server_has_auth(const struct conf *conf)
{
	size_t i;

	for (i = 0; i < conf->nlisteners; i++)
		if (conf->listeners[i].auth != LISTENER_AUTH_OFF)
			return 1;
	return 0;
}

int
smtp_worker_run(struct conf *conf, const int *fds, unsigned worker,
    const struct smtp_worker_env *env)
{
	struct smtp_server srv;
	struct event *sigterm, *sigint, *sigusr1;
	char why[256];
	int rc = 0;

	memset(&srv, 0, sizeof(srv));
	TAILQ_INIT(&srv.sessions);
	srv.conf = conf;
	srv.shared = env->shared;
	srv.tls = env->tls;
	srv.authlimit = env->authlimit;
	srv.worker = worker;
	signal(SIGPIPE, SIG_IGN);
	if ((srv.base = smtp_event_base_new()) == NULL)
		fatalx("event_base_new");
	srv.userdb = userdb_open(conf->auth_database, 0, why, sizeof(why));
	if (srv.userdb == NULL)
		log_warnx("event=userdb-unavailable reason=\"%s\"", why);
	srv.policy.conf = conf;
	srv.policy.db = srv.userdb;
	if (srv.userdb != NULL && smtp_server_has_auth(conf))
		srv.sasl = sasl_server_new(conf, srv.userdb);
	srv.pool = pool_new(srv.base, SMTP_POOL_THREADS);
	srv.auth_pool = pool_new(srv.base, SMTP_AUTH_THREADS);
	srv.wakeup_ev = event_new(srv.base, -1, 0, smtp_wakeup_cb, &srv);
	if ((srv.dns = dns_new(srv.base, conf, why, sizeof(why))) == NULL)
		log_warnx("event=dns-unavailable reason=\"%s\"", why);
	sigterm = evsignal_new(srv.base, SIGTERM, smtp_signal_cb, &srv);
	sigint = evsignal_new(srv.base, SIGINT, smtp_signal_cb, &srv);
	sigusr1 = evsignal_new(srv.base, SIGUSR1, smtp_signal_cb, &srv);
	evsignal_add(sigterm, NULL);
	evsignal_add(sigint, NULL);
	evsignal_add(sigusr1, NULL);
	if (smtp_server_listen(&srv, fds) == -1)
		rc = 1;
	else
		event_base_dispatch(srv.base);
	pool_free(srv.pool);	/* finishes running spool jobs */
	pool_free(srv.auth_pool);
	if (srv.wakeup_pending)
		spool_wakeup(conf->spool);
	event_free(srv.wakeup_ev);
	dns_free(srv.dns);
	event_free(sigterm);
	event_free(sigint);
	event_free(sigusr1);
	if (srv.drain_deadline)
		event_free(srv.drain_deadline);
	sasl_server_free(srv.sasl);
	userdb_close(srv.userdb);
	event_base_free(srv.base);
	return rc;
}
