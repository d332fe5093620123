/*
 * A small pthread pool for blocking work (fsync, password hashing, SQLite
 * writes) so that the libevent loop never blocks. work() runs on a pool
 * thread; done() runs afterwards on the loop thread, in the loop's turn.
 * Jobs are started in submission order; nothing else is promised.
 */
#ifndef POSTERN_POOL_H
#define POSTERN_POOL_H

struct event_base;
struct pool;

typedef void (*pool_work_fn)(void *arg);
typedef void (*pool_done_fn)(void *arg);

/* Starts nthreads threads. Fatal on failure (called at startup only). */
struct pool *pool_new(struct event_base *base, unsigned nthreads);

/* Queues a job. Never fails; arg is owned by the caller throughout. */
void pool_submit(struct pool *pool, pool_work_fn work, pool_done_fn done,
    void *arg);

/*
 * Waits for queued and running jobs to finish (their done() callbacks run
 * inside this call), stops the threads and frees the pool. NULL: no-op.
 */
void pool_free(struct pool *pool);

#endif
