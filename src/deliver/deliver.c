/*
 * The delivery process (see deliver/deliver.h and docs/queue.md): a
 * libevent loop that keeps an in-memory index of the queue (deliver/
 * sched.c), learns of new messages from the spool/wakeup FIFO (and a
 * periodic rescan, in case a wakeup was lost), starts delivery jobs on a
 * thread pool (deliver/djob.c) up to DLV_MAX_INFLIGHT at once, hands remote
 * addresses to deliver/remote.c, and re-arms one timer for the earliest
 * retry. FIFO protocol: "\n" new mail, "F\n" flush all, "F ID\n" flush one.
 *
 * Owns the event base, the pool, the index, the FIFO descriptor and the
 * jobs in flight. Runs in the forked delivery child of `postern serve`,
 * after the privilege drop.
 */
#include "deliver/deliver.h"

#include <event2/event.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth/userdb.h"
#include "conf/conf.h"
#include "deliver/djob.h"
#include "deliver/remote.h"
#include "deliver/sched.h"
#include "queue/qfile.h"
#include "queue/queue_id.h"
#include "queue/spool.h"
#include "util/log.h"
#include "util/pool.h"
#include "util/xmalloc.h"

/*
 * Local delivery is disk-bound: a few threads keep fsyncs merging without
 * starving the SMTP workers' own commits (at c=50, 16 threads cut the
 * accept rate by a quarter against 4). Messages in flight are many more,
 * since a remote one mostly waits on the network: a slow destination must
 * not take every slot from local delivery.
 */
#define DLV_THREADS 4		/* Maildir writes and fsyncs in parallel */
#define DLV_MAX_INFLIGHT 32	/* messages being delivered at once */
#define DLV_RESCAN 60		/* seconds between safety rescans */
#define DLV_CLEANUP 3600	/* seconds between housekeeping runs */
#define DLV_LINE_MAX 64		/* one FIFO command line */

/* The process's state; one per delivery process. */
struct dlv {
	const struct conf	*conf;
	struct event_base	*base;
	struct pool		*pool;
	struct remote		*remote;
	struct sched		*sched;
	struct djob_ctx		 ctx;
	int			 fifo_fd;
	struct event		*fifo_ev;
	struct event		*timer_ev;	/* the earliest retry */
	struct event		*scan_ev;	/* coalesced rescans */
	struct event		*tick_ev;	/* periodic rescan, cleanup */
	struct event		*sig_ev[3];
	char			 line[DLV_LINE_MAX];
	size_t			 linelen;
	int			 line_skip;	/* in an overlong line */
	unsigned		 inflight;
	int			 stopping;
	time_t			 last_cleanup;
};

static void dlv_kick(struct dlv *d);

static void
dlv_job_end(void *arg)
{
	struct djob *j = arg;
	struct dlv *d = j->owner;
	struct sched_msg *m = sched_find(d->sched, j->id);
	time_t next = j->next;

	d->inflight--;
	if (m != NULL) {
		switch (j->outcome) {
		case DJOB_GONE:
		case DJOB_CORRUPT:
		case DJOB_FINISHED:
			sched_remove(d->sched, m);
			break;
		case DJOB_NOT_DUE:
		case DJOB_DEFERRED:
		case DJOB_REMOTE:
			if (next < 0)
				next = time(NULL) + DLV_RESCAN;
			sched_requeue(d->sched, m, next);
			break;
		}
	}
	djob_free(j);
	if (d->stopping && d->inflight == 0)
		event_base_loopbreak(d->base);
	else
		dlv_kick(d);
}

static void
dlv_remote_done(void *arg)
{
	struct djob *j = arg;
	struct dlv *d = j->owner;

	pool_submit(d->pool, djob_finish, dlv_job_end, j);
}

static void
dlv_job_ran(void *arg)
{
	struct djob *j = arg;
	struct dlv *d = j->owner;

	if (j->outcome == DJOB_REMOTE)
		remote_deliver(d->remote, &j->qf, j->remote, j->nremote,
		    dlv_remote_done, j);
	else
		dlv_job_end(j);
}

static void
dlv_start(struct dlv *d, struct sched_msg *m)
{
	struct djob *j = djob_new(&d->ctx, m->id, m->force);

	m->force = 0;
	j->owner = d;
	d->inflight++;
	pool_submit(d->pool, djob_run, dlv_job_ran, j);
}

/* Starts what is due, then sets the timer for the next retry. */
static void
dlv_kick(struct dlv *d)
{
	struct sched_msg *m;
	struct timeval tv = { 0, 0 };
	time_t now = time(NULL);

	if (d->stopping)
		return;
	while (d->inflight < DLV_MAX_INFLIGHT &&
	    (m = sched_take_due(d->sched, now)) != NULL)
		dlv_start(d, m);
	evtimer_del(d->timer_ev);
	if ((m = sched_peek(d->sched)) == NULL ||
	    d->inflight >= DLV_MAX_INFLIGHT)
		return;
	tv.tv_sec = m->next > now ? m->next - now : 0;
	evtimer_add(d->timer_ev, &tv);
}

static int
dlv_scan_one(const char *id, void *arg)
{
	return sched_scan_seen(arg, id);
}

static void
dlv_scan(struct dlv *d)
{
	size_t added;

	sched_scan_begin(d->sched);
	if (qfile_scan(d->conf->spool, "queue", dlv_scan_one, d->sched) ==
	    -1) {
		log_warn("deliver event=scan-failed spool=%s", d->conf->spool);
		return;
	}
	added = sched_scan_end(d->sched);
	if (added > 0)
		log_debug("deliver event=scan new=%zu queued=%zu", added,
		    sched_count(d->sched));
}

static void
dlv_scan_cb(evutil_socket_t fd, short what, void *arg)
{
	struct dlv *d = arg;

	dlv_scan(d);
	dlv_kick(d);
}

static void
dlv_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	dlv_kick(arg);
}

static void
dlv_cleanup_work(void *arg)
{
	struct dlv *d = arg;
	size_t n = qfile_cleanup(d->conf->spool, time(NULL));

	if (n > 0)
		log_info("deliver event=cleanup removed=%zu", n);
}

static void
dlv_tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct dlv *d = arg;
	time_t now = time(NULL);

	if (now - d->last_cleanup >= DLV_CLEANUP) {
		d->last_cleanup = now;
		pool_submit(d->pool, dlv_cleanup_work, NULL, d);
	}
	dlv_scan(d);
	dlv_kick(d);
}

/* One FIFO command; *scan is set when a rescan is wanted. */
static void
dlv_command(struct dlv *d, const char *line, int *scan)
{
	struct sched_msg *m;

	if (line[0] == '\0') {
		*scan = 1;
	} else if (strcmp(line, "F") == 0) {
		log_info("deliver event=flush scope=all");
		dlv_scan(d);
		sched_flush_all(d->sched);
		*scan = 1;
	} else if (line[0] == 'F' && line[1] == ' ' &&
	    queue_id_valid(line + 2)) {
		if ((m = sched_find(d->sched, line + 2)) == NULL) {
			dlv_scan(d);
			m = sched_find(d->sched, line + 2);
		}
		log_info("deliver event=flush id=%s%s", line + 2,
		    m == NULL ? " result=not-queued" : "");
		if (m != NULL)
			sched_flush(d->sched, m);
		*scan = 1;
	} else
		log_warnx("deliver event=fifo-unknown-command");
}

static void
dlv_fifo_bytes(struct dlv *d, const char *buf, size_t n, int *scan)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (buf[i] != '\n') {
			if (d->linelen + 1 >= sizeof(d->line))
				d->line_skip = 1;
			else
				d->line[d->linelen++] = buf[i];
			continue;
		}
		d->line[d->linelen] = '\0';
		if (!d->line_skip)
			dlv_command(d, d->line, scan);
		d->linelen = 0;
		d->line_skip = 0;
	}
}

static void
dlv_fifo_cb(evutil_socket_t fd, short what, void *arg)
{
	struct dlv *d = arg;
	char buf[4096];
	ssize_t n;
	int scan = 0;

	while ((n = read(fd, buf, sizeof(buf))) > 0)
		dlv_fifo_bytes(d, buf, (size_t)n, &scan);
	if (n == -1 && errno != EAGAIN && errno != EINTR)
		log_warn("deliver event=fifo-read-failed");
	/* Many wakeups in one read: one rescan, on the next loop turn. */
	if (scan)
		event_active(d->scan_ev, EV_TIMEOUT, 0);
}

static void
dlv_signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct dlv *d = arg;

	if (sig == SIGHUP) {
		log_info("deliver event=sighup action=ignored (the parent "
		    "restarts this process to reload)");
		return;
	}
	if (d->stopping)
		return;
	log_info("deliver event=stopping signal=%d in_flight=%u", (int)sig,
	    d->inflight);
	d->stopping = 1;
	remote_stop(d->remote);		/* remote work in flight: deferred */
	event_del(d->fifo_ev);
	evtimer_del(d->timer_ev);
	evtimer_del(d->tick_ev);
	if (d->inflight == 0)
		event_base_loopbreak(d->base);
}

/* Opens the FIFO read-write so that it never reports EOF. */
static int
dlv_open_fifo(struct dlv *d)
{
	char path[PATH_MAX];

	(void)snprintf(path, sizeof(path), "%s/wakeup", d->conf->spool);
	d->fifo_fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (d->fifo_fd == -1) {
		log_warn("deliver event=fifo-open-failed path=%s", path);
		return -1;
	}
	return 0;
}

static int
dlv_setup(struct dlv *d)
{
	static const int sigs[3] = { SIGTERM, SIGINT, SIGHUP };
	struct timeval tick = { DLV_RESCAN, 0 };
	char why[512];
	size_t i;

	if (spool_init(d->conf->spool, why, sizeof(why)) == -1) {
		log_warnx("deliver event=spool-init-failed reason=\"%s\"", why);
		return -1;
	}
	if ((d->base = event_base_new()) == NULL || dlv_open_fifo(d) == -1)
		return -1;
	d->fifo_ev = event_new(d->base, d->fifo_fd, EV_READ | EV_PERSIST,
	    dlv_fifo_cb, d);
	d->timer_ev = evtimer_new(d->base, dlv_timer_cb, d);
	d->scan_ev = evtimer_new(d->base, dlv_scan_cb, d);
	d->tick_ev = event_new(d->base, -1, EV_PERSIST, dlv_tick_cb, d);
	for (i = 0; i < 3; i++)
		d->sig_ev[i] = evsignal_new(d->base, sigs[i], dlv_signal_cb,
		    d);
	if (d->fifo_ev == NULL || d->timer_ev == NULL || d->scan_ev == NULL ||
	    d->tick_ev == NULL || d->sig_ev[0] == NULL || d->sig_ev[1] ==
	    NULL || d->sig_ev[2] == NULL)
		return -1;
	for (i = 0; i < 3; i++)
		event_add(d->sig_ev[i], NULL);
	event_add(d->fifo_ev, NULL);
	event_add(d->tick_ev, &tick);
	d->pool = pool_new(d->base, DLV_THREADS);
	d->remote = remote_new(d->base, d->conf);
	d->sched = sched_new();
	return 0;
}

static void
dlv_teardown(struct dlv *d)
{
	size_t i;

	pool_free(d->pool);
	remote_free(d->remote);
	sched_free(d->sched);
	for (i = 0; i < 3; i++)
		if (d->sig_ev[i] != NULL)
			event_free(d->sig_ev[i]);
	if (d->fifo_ev != NULL)
		event_free(d->fifo_ev);
	if (d->timer_ev != NULL)
		event_free(d->timer_ev);
	if (d->scan_ev != NULL)
		event_free(d->scan_ev);
	if (d->tick_ev != NULL)
		event_free(d->tick_ev);
	if (d->fifo_fd != -1)
		(void)close(d->fifo_fd);
	if (d->base != NULL)
		event_base_free(d->base);
	userdb_close(d->ctx.db);
	pthread_mutex_destroy(&d->ctx.db_mu);
}

int
deliver_process_run(struct conf *conf)
{
	struct dlv d;
	size_t removed;
	int rc = 1;

	memset(&d, 0, sizeof(d));
	d.conf = conf;
	d.fifo_fd = -1;
	d.ctx.conf = conf;
	pthread_mutex_init(&d.ctx.db_mu, NULL);
	signal(SIGPIPE, SIG_IGN);
	log_set_proc("deliver");
	if (dlv_setup(&d) == 0) {
		d.last_cleanup = time(NULL);
		if ((removed = qfile_cleanup(conf->spool, d.last_cleanup)) > 0)
			log_info("deliver event=cleanup removed=%zu", removed);
		dlv_scan(&d);
		log_info("deliver event=started queued=%zu spool=%s",
		    sched_count(d.sched), conf->spool);
		dlv_kick(&d);
		event_base_dispatch(d.base);
		log_info("deliver event=stopped");
		rc = 0;
	} else
		log_warnx("deliver event=setup-failed");
	dlv_teardown(&d);
	return rc;
}
