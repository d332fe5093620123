/* Queue IDs: shape, validation, time order, uniqueness across processes
 * and threads. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <pthread.h>

#include <cmocka.h>

#include "queue/queue_id.h"

#define FORKS 4
#define PER_PROC 3000
#define THREADS 4

static void
test_shape(void **state)
{
	char id[QUEUE_ID_MAX];
	time_t before = time(NULL), t;
	size_t i;

	queue_id_new(id);
	assert_int_equal(strlen(id), QUEUE_ID_LEN);
	for (i = 0; i < QUEUE_ID_LEN; i++)
		assert_true((id[i] >= '0' && id[i] <= '9') ||
		    (id[i] >= 'A' && id[i] <= 'Z'));
	assert_true(queue_id_valid(id));
	t = queue_id_time(id);
	assert_true(t >= before && t <= time(NULL));
}

static void
test_valid(void **state)
{
	static const struct {
		const char	*in;
		int		 want;
	} cases[] = {
		{ "0TPAKQT2C570012C000", 1 },
		{ "ZZZZZZZZZZZZZZZZZZZ", 1 },
		{ "0TPAKQT2C570012C00", 0 },		/* short */
		{ "0TPAKQT2C570012C0000", 0 },		/* long */
		{ "0tpakqt2c570012c000", 0 },		/* lower case */
		{ "../../etc/passwd0000", 0 },
		{ "0TPAKQT2C570012C00/", 0 },
		{ "0TPAKQT2C570012C00.", 0 },
		{ "", 0 },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (queue_id_valid(cases[i].in) != cases[i].want)
			fail_msg("%s: want %d", cases[i].in, cases[i].want);
	assert_false(queue_id_valid(NULL));
	assert_int_equal((long long)queue_id_time("bad"), -1);
	/* "1" then six zeros: 36^6 seconds. */
	assert_int_equal((long long)queue_id_time("1000000000000000000"),
	    2176782336LL);
}

static void
test_parts(void **state)
{
	struct queue_id_parts p;
	char id[QUEUE_ID_MAX];
	time_t before = time(NULL);

	/* 1 s, 36 us, pid 36^2 + 1, counter 35. */
	assert_int_equal(queue_id_parts("0000001000100101000Z", &p), -1);
	assert_int_equal(queue_id_parts("000000100100010100Z", &p), 0);
	assert_int_equal((long long)p.sec, 1);
	assert_int_equal(p.usec, 36);
	assert_int_equal(p.pid, 36 * 36 + 1);
	assert_int_equal(p.counter, 35);
	queue_id_new(id);
	assert_int_equal(queue_id_parts(id, &p), 0);
	assert_int_equal(p.pid, (long)getpid());
	assert_true(p.sec >= before && p.usec < 1000000);
}

static void
test_time_order(void **state)
{
	char a[QUEUE_ID_MAX], b[QUEUE_ID_MAX];
	struct timespec pause = { 0, 2000000 };	/* 2 ms */

	queue_id_new(a);
	nanosleep(&pause, NULL);
	queue_id_new(b);
	assert_true(strcmp(a, b) < 0);
}

static int
cmp_id(const void *x, const void *y)
{
	return strcmp(x, y);
}

static void
assert_unique(char (*ids)[QUEUE_ID_MAX], size_t n)
{
	size_t i;

	qsort(ids, n, QUEUE_ID_MAX, cmp_id);
	for (i = 0; i < n; i++) {
		if (!queue_id_valid(ids[i]))
			fail_msg("invalid id %s", ids[i]);
		if (i > 0 && strcmp(ids[i - 1], ids[i]) == 0)
			fail_msg("duplicate id %s", ids[i]);
	}
}

/* Children generate IDs as fast as they can and send them back. */
static void
test_unique_across_forks(void **state)
{
	char (*ids)[QUEUE_ID_MAX] = calloc(FORKS * PER_PROC, QUEUE_ID_MAX);
	int fds[FORKS][2], status, k, i;
	pid_t pids[FORKS];
	size_t got;
	ssize_t n;

	for (k = 0; k < FORKS; k++) {
		assert_int_equal(pipe(fds[k]), 0);
		if ((pids[k] = fork()) == 0) {
			char id[QUEUE_ID_MAX];

			close(fds[k][0]);
			for (i = 0; i < PER_PROC; i++) {
				queue_id_new(id);
				if (write(fds[k][1], id, QUEUE_ID_MAX) !=
				    QUEUE_ID_MAX)
					_exit(1);
			}
			_exit(0);
		}
		assert_true(pids[k] > 0);
		close(fds[k][1]);
	}
	for (k = 0; k < FORKS; k++) {
		got = 0;
		while (got < (size_t)PER_PROC * QUEUE_ID_MAX &&
		    (n = read(fds[k][0], (char *)ids[k * PER_PROC] + got,
		    (size_t)PER_PROC * QUEUE_ID_MAX - got)) > 0)
			got += (size_t)n;
		assert_int_equal(got, (size_t)PER_PROC * QUEUE_ID_MAX);
		close(fds[k][0]);
		assert_int_equal(waitpid(pids[k], &status, 0), pids[k]);
		assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	assert_unique(ids, FORKS * PER_PROC);
	free(ids);
}

static void *
thread_ids(void *arg)
{
	char (*ids)[QUEUE_ID_MAX] = arg;
	int i;

	for (i = 0; i < PER_PROC; i++)
		queue_id_new(ids[i]);
	return NULL;
}

static void
test_unique_across_threads(void **state)
{
	char (*ids)[QUEUE_ID_MAX] = calloc(THREADS * PER_PROC, QUEUE_ID_MAX);
	pthread_t t[THREADS];
	int k;

	for (k = 0; k < THREADS; k++)
		assert_int_equal(pthread_create(&t[k], NULL, thread_ids,
		    ids[k * PER_PROC]), 0);
	for (k = 0; k < THREADS; k++)
		pthread_join(t[k], NULL);
	assert_unique(ids, THREADS * PER_PROC);
	free(ids);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_shape),
		cmocka_unit_test(test_valid),
		cmocka_unit_test(test_parts),
		cmocka_unit_test(test_time_order),
		cmocka_unit_test(test_unique_across_forks),
		cmocka_unit_test(test_unique_across_threads),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
