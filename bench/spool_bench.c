/*
 * spool_bench: durable commits per second of the spool writer (queue/
 * spool.c) with THREADS threads, each committing messages of SIZE bytes
 * (create, write, fsync, rename, group-committed directory fsync), the
 * way the SMTP workers' pool threads do. Also prints how many directory
 * fsyncs the group commit issued. Build and run: bench/spool_bench.sh.
 *
 * usage: spool_bench SPOOL_DIR [THREADS [MESSAGES_PER_THREAD [SIZE]]]
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "queue/dirsync.h"
#include "queue/spool.h"

struct bench_arg {
	const char	*spool;
	int		 count;
	size_t		 size;
	int		 failed;
};

static void *
bench_thread(void *p)
{
	struct bench_arg *a = p;
	struct spool_file *f;
	char *msg = malloc(a->size);
	int i;

	memset(msg, 'x', a->size);
	for (i = 0; i < a->count; i++) {
		if (spool_create(a->spool, &f) == -1 ||
		    spool_write(f, msg, a->size) == -1 ||
		    spool_commit(f) == -1) {
			a->failed = 1;
			break;
		}
	}
	free(msg);
	return NULL;
}

int
main(int argc, char **argv)
{
	struct bench_arg args[64];
	pthread_t t[64];
	struct timespec t0, t1;
	struct dirsync *ds;
	uint64_t commits, syncs;
	char why[256], qdir[4096];
	int threads, per, i;
	size_t size;
	double secs;

	if (argc < 2) {
		fprintf(stderr, "usage: spool_bench SPOOL_DIR [THREADS "
		    "[MESSAGES_PER_THREAD [SIZE]]]\n");
		return 64;
	}
	threads = argc > 2 ? atoi(argv[2]) : 4;
	per = argc > 3 ? atoi(argv[3]) : 500;
	size = argc > 4 ? (size_t)atol(argv[4]) : 1024;
	if (threads < 1 || threads > 64 || per < 1) {
		fprintf(stderr, "spool_bench: 1..64 threads\n");
		return 64;
	}
	if (spool_init(argv[1], why, sizeof(why)) == -1) {
		fprintf(stderr, "spool_bench: %s\n", why);
		return 1;
	}
	(void)snprintf(qdir, sizeof(qdir), "%s/queue", argv[1]);
	ds = dirsync_open(qdir);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i < threads; i++) {
		args[i] = (struct bench_arg){ argv[1], per, size, 0 };
		pthread_create(&t[i], NULL, bench_thread, &args[i]);
	}
	for (i = 0; i < threads; i++)
		pthread_join(t[i], NULL);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	for (i = 0; i < threads; i++)
		if (args[i].failed) {
			fprintf(stderr, "spool_bench: a commit failed\n");
			return 1;
		}
	secs = (double)(t1.tv_sec - t0.tv_sec) +
	    (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	dirsync_stats(ds, &commits, &syncs);
	printf("threads=%d messages=%d size=%zu seconds=%.3f "
	    "commits_per_second=%.0f dir_fsyncs=%llu\n", threads,
	    threads * per, size, secs, (double)threads * per / secs,
	    (unsigned long long)syncs);
	dirsync_close(ds);
	return 0;
}
