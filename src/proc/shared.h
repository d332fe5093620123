/*
 * State shared by the parent and all smtp workers: per-worker connection
 * counts in one anonymous MAP_SHARED page, created before fork. Each worker
 * writes only its own slot; the parent zeroes a dead worker's slot.
 */
#ifndef POSTERN_PROC_SHARED_H
#define POSTERN_PROC_SHARED_H

#include <stdatomic.h>

#define PROC_MAX_WORKERS 64

struct proc_shared {
	atomic_uint	conns[PROC_MAX_WORKERS];
};

/* Maps the shared page. Fatal on failure (startup only). */
struct proc_shared *proc_shared_new(void);

/* Connections open across all workers. */
unsigned proc_shared_total(struct proc_shared *sh);

#endif
