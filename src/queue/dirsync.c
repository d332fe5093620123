/*
 * Group commit of directory fsyncs (see queue/dirsync.h).
 *
 * Each directory has a sequence counter. A committer takes the next number
 * after its rename and parks a waiter (on its own stack) on the object's
 * list. Whoever finds no fsync running becomes the syncer: it reads the
 * current sequence as its target, drops the lock, fsyncs, and then marks
 * every waiter with a number <= target as done, with the fsync's result.
 * A rename that got its number before the target was read is on disk once
 * that fsync returns, so one fsync serves a whole batch. Waiters beyond the
 * target wait for the next round, which one of them starts.
 *
 * Owns: the registry of open directories (struct dirsync, by path) and
 * their descriptors. Any process that renames into a directory: the SMTP
 * workers (spool), `postern sendmail`, the delivery process (Maildir new/,
 * spool/state).
 */
#include "queue/dirsync.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/xmalloc.h"

struct dirsync_waiter {
	uint64_t		 seq;
	int			 done;
	int			 err;		/* errno of the fsync, or 0 */
	struct dirsync_waiter	*next;
};

/* Owned by the registry list; refs counts dirsync_open() callers. */
struct dirsync {
	char			*path;
	int			 fd;
	unsigned		 refs;
	pthread_mutex_t		 mu;
	pthread_cond_t		 cv;
	uint64_t		 seq;		/* renames registered so far */
	int			 syncing;	/* an fsync is running */
	struct dirsync_waiter	*waiters;
	uint64_t		 ncommits;
	uint64_t		 nsyncs;
	struct dirsync		*next;
};

static pthread_mutex_t dirsync_registry_mu = PTHREAD_MUTEX_INITIALIZER;
static struct dirsync *dirsync_registry;

struct dirsync *
dirsync_open(const char *path)
{
	struct dirsync *ds;
	int fd;

	pthread_mutex_lock(&dirsync_registry_mu);
	for (ds = dirsync_registry; ds != NULL; ds = ds->next)
		if (strcmp(ds->path, path) == 0) {
			ds->refs++;
			pthread_mutex_unlock(&dirsync_registry_mu);
			return ds;
		}
	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd == -1) {
		pthread_mutex_unlock(&dirsync_registry_mu);
		return NULL;
	}
	ds = xcalloc(1, sizeof(*ds));
	ds->path = xstrdup(path);
	ds->fd = fd;
	ds->refs = 1;
	pthread_mutex_init(&ds->mu, NULL);
	pthread_cond_init(&ds->cv, NULL);
	ds->next = dirsync_registry;
	dirsync_registry = ds;
	pthread_mutex_unlock(&dirsync_registry_mu);
	return ds;
}

void
dirsync_close(struct dirsync *ds)
{
	struct dirsync **pp;

	if (ds == NULL)
		return;
	pthread_mutex_lock(&dirsync_registry_mu);
	if (--ds->refs > 0) {
		pthread_mutex_unlock(&dirsync_registry_mu);
		return;
	}
	for (pp = &dirsync_registry; *pp != NULL; pp = &(*pp)->next)
		if (*pp == ds) {
			*pp = ds->next;
			break;
		}
	pthread_mutex_unlock(&dirsync_registry_mu);
	(void)close(ds->fd);
	pthread_mutex_destroy(&ds->mu);
	pthread_cond_destroy(&ds->cv);
	free(ds->path);
	free(ds);
}

/* With ds->mu held: marks the waiters covered by `target` as finished. */
static void
dirsync_finish(struct dirsync *ds, uint64_t target, int err)
{
	struct dirsync_waiter **pp = &ds->waiters, *w;

	while ((w = *pp) != NULL) {
		if (w->seq <= target) {
			w->done = 1;
			w->err = err;
			*pp = w->next;
		} else
			pp = &w->next;
	}
	pthread_cond_broadcast(&ds->cv);
}

int
dirsync_commit(struct dirsync *ds)
{
	struct dirsync_waiter me;
	uint64_t target;
	int rc, err;

	pthread_mutex_lock(&ds->mu);
	me.seq = ++ds->seq;
	me.done = 0;
	me.err = 0;
	me.next = ds->waiters;
	ds->waiters = &me;
	ds->ncommits++;
	while (!me.done) {
		if (ds->syncing) {
			pthread_cond_wait(&ds->cv, &ds->mu);
			continue;
		}
		ds->syncing = 1;
		target = ds->seq;
		pthread_mutex_unlock(&ds->mu);
		do {
			rc = fsync(ds->fd);
		} while (rc == -1 && errno == EINTR);
		err = rc == -1 ? errno : 0;
		pthread_mutex_lock(&ds->mu);
		ds->syncing = 0;
		ds->nsyncs++;
		dirsync_finish(ds, target, err);
	}
	pthread_mutex_unlock(&ds->mu);
	if (me.err != 0) {
		errno = me.err;
		return -1;
	}
	return 0;
}

void
dirsync_stats(struct dirsync *ds, uint64_t *commits, uint64_t *syncs)
{
	pthread_mutex_lock(&ds->mu);
	*commits = ds->ncommits;
	*syncs = ds->nsyncs;
	pthread_mutex_unlock(&ds->mu);
}
