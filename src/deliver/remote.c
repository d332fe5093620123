/*
 * Remote delivery, this build: no SMTP client yet (see deliver/remote.h).
 * Every remote address is deferred with REMOTE_REPLY_UNAVAILABLE; the
 * result is reported on the next loop turn, as a real client would report
 * it later. Owns struct remote and its pending completions. Runs in the
 * delivery process, on its event loop.
 */
#include "deliver/remote.h"

#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>

#include "util/log.h"
#include "util/xmalloc.h"

struct remote_pending {
	struct remote		*owner;
	struct event		*ev;
	remote_done_fn		 done;
	void			*arg;
	struct remote_pending	*next;
};

/* Owns the pending completions (one event each). */
struct remote {
	struct event_base	*base;
	const struct conf	*conf;
	struct remote_pending	*pending;
};

struct remote *
remote_new(struct event_base *base, const struct conf *conf)
{
	struct remote *r = xcalloc(1, sizeof(*r));

	r->base = base;
	r->conf = conf;
	return r;
}

static void
remote_unlink(struct remote *r, struct remote_pending *p)
{
	struct remote_pending **pp;

	for (pp = &r->pending; *pp != NULL; pp = &(*pp)->next)
		if (*pp == p) {
			*pp = p->next;
			break;
		}
}

static void
remote_complete(evutil_socket_t fd, short what, void *arg)
{
	struct remote_pending *p = arg;
	remote_done_fn done = p->done;
	void *done_arg = p->arg;

	remote_unlink(p->owner, p);
	event_free(p->ev);
	free(p);
	done(done_arg);
}

void
remote_free(struct remote *r)
{
	struct remote_pending *p, *next;

	if (r == NULL)
		return;
	for (p = r->pending; p != NULL; p = next) {
		next = p->next;
		event_free(p->ev);
		free(p);
	}
	free(r);
}

void
remote_deliver(struct remote *r, const struct qfile *qf,
    struct remote_rcpt *rcpts, size_t n, remote_done_fn done, void *arg)
{
	struct remote_pending *p = xcalloc(1, sizeof(*p));
	struct timeval now = { 0, 0 };
	size_t i;

	for (i = 0; i < n; i++) {
		rcpts[i].status = QSTATE_DEFERRED;
		(void)snprintf(rcpts[i].reply, sizeof(rcpts[i].reply), "%s",
		    REMOTE_REPLY_UNAVAILABLE);
		(void)snprintf(rcpts[i].relay, sizeof(rcpts[i].relay), "none");
	}
	p->owner = r;
	p->done = done;
	p->arg = arg;
	p->ev = evtimer_new(r->base, remote_complete, p);
	if (p->ev == NULL || evtimer_add(p->ev, &now) == -1)
		fatalx("remote: cannot schedule a completion");
	p->next = r->pending;
	r->pending = p;
}
