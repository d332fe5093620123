/*
 * Thread pool for blocking work. Owns its threads, the job queue and the
 * completion pipe watched by the owning process's event loop. Runs in
 * any process that has an event loop (smtp workers, delivery).
 */
#include "util/pool.h"

#include <event2/event.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include "util/log.h"
#include "util/xmalloc.h"

struct pool_job {
	struct pool_job	*next;
	pool_work_fn	 work;
	pool_done_fn	 done;
	void		*arg;
};

struct job_list {
	struct pool_job	*head;
	struct pool_job	*tail;
};

struct pool {
	pthread_mutex_t	 lock;
	pthread_cond_t	 wake;		/* work queued or stopping */
	struct job_list	 todo;		/* guarded by lock */
	struct job_list	 finished;	/* guarded by lock */
	int		 stopping;
	pthread_t	*threads;
	unsigned	 nthreads;
	int		 notify[2];	/* finished jobs: a byte per wakeup */
	struct event	*notify_ev;
};

static void
list_push(struct job_list *l, struct pool_job *j)
{
	j->next = NULL;
	if (l->tail)
		l->tail->next = j;
	else
		l->head = j;
	l->tail = j;
}

static struct pool_job *
list_take_all(struct job_list *l)
{
	struct pool_job *j = l->head;

	l->head = l->tail = NULL;
	return j;
}

static void *
pool_thread(void *arg)
{
	struct pool *pool = arg;
	struct pool_job *job;
	int was_empty;

	pthread_mutex_lock(&pool->lock);
	for (;;) {
		while (pool->todo.head == NULL && !pool->stopping)
			pthread_cond_wait(&pool->wake, &pool->lock);
		if ((job = pool->todo.head) == NULL)
			break;
		if ((pool->todo.head = job->next) == NULL)
			pool->todo.tail = NULL;
		pthread_mutex_unlock(&pool->lock);

		job->work(job->arg);

		pthread_mutex_lock(&pool->lock);
		was_empty = pool->finished.head == NULL;
		list_push(&pool->finished, job);
		/* One byte per batch: the loop drains the whole list. */
		if (was_empty)
			(void)!write(pool->notify[1], "", 1);
	}
	pthread_mutex_unlock(&pool->lock);
	return NULL;
}

/* Runs done() of every finished job; on the loop thread. */
static void
pool_reap(struct pool *pool)
{
	struct pool_job *job, *next;
	char drain[64];

	while (read(pool->notify[0], drain, sizeof(drain)) > 0)
		;
	pthread_mutex_lock(&pool->lock);
	job = list_take_all(&pool->finished);
	pthread_mutex_unlock(&pool->lock);
	for (; job; job = next) {
		next = job->next;
		if (job->done)
			job->done(job->arg);
		free(job);
	}
}

static void
pool_notify_cb(evutil_socket_t fd, short what, void *arg)
{
	pool_reap(arg);
}

struct pool *
pool_new(struct event_base *base, unsigned nthreads)
{
	struct pool *pool = xcalloc(1, sizeof(*pool));
	unsigned i;

	pthread_mutex_init(&pool->lock, NULL);
	pthread_cond_init(&pool->wake, NULL);
	if (pipe2(pool->notify, O_NONBLOCK | O_CLOEXEC) == -1)
		fatal("pool pipe");
	pool->notify_ev = event_new(base, pool->notify[0], EV_READ | EV_PERSIST,
	    pool_notify_cb, pool);
	if (pool->notify_ev == NULL || event_add(pool->notify_ev, NULL) == -1)
		fatalx("pool event");
	pool->nthreads = nthreads ? nthreads : 1;
	pool->threads = xcalloc(pool->nthreads, sizeof(*pool->threads));
	for (i = 0; i < pool->nthreads; i++)
		if ((errno = pthread_create(&pool->threads[i], NULL,
		    pool_thread, pool)) != 0)
			fatal("pthread_create");
	return pool;
}

void
pool_submit(struct pool *pool, pool_work_fn work, pool_done_fn done,
    void *arg)
{
	struct pool_job *job = xmalloc(sizeof(*job));

	job->work = work;
	job->done = done;
	job->arg = arg;
	pthread_mutex_lock(&pool->lock);
	list_push(&pool->todo, job);
	pthread_cond_signal(&pool->wake);
	pthread_mutex_unlock(&pool->lock);
}

void
pool_free(struct pool *pool)
{
	unsigned i;

	if (pool == NULL)
		return;
	pthread_mutex_lock(&pool->lock);
	pool->stopping = 1;
	pthread_cond_broadcast(&pool->wake);
	pthread_mutex_unlock(&pool->lock);
	for (i = 0; i < pool->nthreads; i++)
		pthread_join(pool->threads[i], NULL);
	pool_reap(pool);
	event_free(pool->notify_ev);
	close(pool->notify[0]);
	close(pool->notify[1]);
	pthread_cond_destroy(&pool->wake);
	pthread_mutex_destroy(&pool->lock);
	free(pool->threads);
	free(pool);
}
