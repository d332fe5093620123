/* The spool writer: layout, commit, abort, group commit under threads,
 * the wakeup FIFO; and the per-message state file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "queue/dirsync.h"
#include "queue/qfile.h"
#include "queue/qstate.h"
#include "queue/queue_id.h"
#include "queue/spool.h"

#define THREADS 8
#define PER_THREAD 40

static char spool[64];

static int
rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	return remove(path);
}

static int
setup(void **state)
{
	char why[256];

	(void)snprintf(spool, sizeof(spool), "/tmp/postern-spool-XXXXXX");
	if (mkdtemp(spool) == NULL)
		return -1;
	return spool_init(spool, why, sizeof(why));
}

static int
teardown(void **state)
{
	return nftw(spool, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* Number of entries (not . and ..) in spool/sub. */
static int
count_dir(const char *sub)
{
	char path[128];
	struct dirent *de;
	DIR *d;
	int n = 0;

	(void)snprintf(path, sizeof(path), "%s/%s", spool, sub);
	assert_non_null(d = opendir(path));
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

static void
test_layout(void **state)
{
	static const char *const dirs[] = { "", "/tmp", "/queue", "/state" };
	char path[128], why[256];
	struct stat sb;
	size_t i;

	for (i = 0; i < 4; i++) {
		(void)snprintf(path, sizeof(path), "%s%s", spool, dirs[i]);
		assert_int_equal(stat(path, &sb), 0);
		assert_true(S_ISDIR(sb.st_mode));
		assert_int_equal(sb.st_mode & 0777, 0700);
	}
	(void)snprintf(path, sizeof(path), "%s/wakeup", spool);
	assert_int_equal(stat(path, &sb), 0);
	assert_true(S_ISFIFO(sb.st_mode));
	/* Idempotent. */
	assert_int_equal(spool_init(spool, why, sizeof(why)), 0);
	/* A regular file where the FIFO belongs is refused. */
	assert_int_equal(unlink(path), 0);
	assert_int_equal(close(open(path, O_CREAT | O_WRONLY, 0600)), 0);
	assert_int_equal(spool_init(spool, why, sizeof(why)), -1);
	assert_non_null(strstr(why, "not a FIFO"));
	assert_int_equal(unlink(path), 0);
	assert_int_equal(spool_init(spool, why, sizeof(why)), 0);
}

static void
test_commit(void **state)
{
	struct spool_file *f;
	char id[QUEUE_ID_MAX], path[128], *big, *back;
	size_t bigsz = 200000, i;
	struct stat sb;
	int fd;

	big = malloc(bigsz);
	for (i = 0; i < bigsz; i++)
		big[i] = (char)('a' + i % 26);
	assert_int_equal(spool_create(spool, &f), 0);
	(void)snprintf(id, sizeof(id), "%s", spool_file_id(f));
	assert_true(queue_id_valid(id));
	assert_int_equal(count_dir("tmp"), 1);
	assert_int_equal(spool_write(f, "head\n", 5), 0);
	assert_int_equal(spool_write(f, big, bigsz), 0);	/* > buffer */
	assert_int_equal(spool_write(f, "tail", 4), 0);
	assert_int_equal(spool_commit(f), 0);
	assert_int_equal(count_dir("tmp"), 0);
	assert_int_equal(count_dir("queue"), 1);
	(void)snprintf(path, sizeof(path), "%s/queue/%s", spool, id);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal((size_t)sb.st_size, 5 + bigsz + 4);
	assert_int_equal(sb.st_mode & 0777, 0600);
	back = malloc(sb.st_size);
	assert_true((fd = open(path, O_RDONLY)) >= 0);
	assert_int_equal(read(fd, back, sb.st_size), sb.st_size);
	close(fd);
	assert_memory_equal(back, "head\n", 5);
	assert_memory_equal(back + 5, big, bigsz);
	assert_memory_equal(back + 5 + bigsz, "tail", 4);
	free(back);
	free(big);
	assert_int_equal(unlink(path), 0);
}

static void
test_abort(void **state)
{
	struct spool_file *f;

	assert_int_equal(spool_create(spool, &f), 0);
	assert_int_equal(spool_write(f, "x", 1), 0);
	spool_abort(f);
	spool_abort(NULL);
	assert_int_equal(count_dir("tmp"), 0);
	assert_int_equal(count_dir("queue"), 0);
}

static void
test_create_fails(void **state)
{
	struct spool_file *f = (void *)1;

	assert_int_equal(spool_create("/nonexistent/spool", &f), -1);
	assert_int_equal(errno, ENOENT);
	assert_null(f);
}

static void *
committer(void *arg)
{
	struct spool_file *f;
	char line[64];
	int i, n;

	for (i = 0; i < PER_THREAD; i++) {
		if (spool_create(spool, &f) == -1)
			return (void *)1;
		n = snprintf(line, sizeof(line), "thread %p msg %d\r\n", arg,
		    i);
		if (spool_write(f, line, (size_t)n) == -1 ||
		    spool_commit(f) == -1)
			return (void *)1;
	}
	return NULL;
}

static void
test_concurrent_commits(void **state)
{
	pthread_t t[THREADS];
	struct dirsync *ds;
	uint64_t commits, syncs;
	char path[128];
	void *rv;
	int k;

	(void)snprintf(path, sizeof(path), "%s/queue", spool);
	/* Holding a reference keeps the counters across the whole run. */
	assert_non_null(ds = dirsync_open(path));
	for (k = 0; k < THREADS; k++)
		assert_int_equal(pthread_create(&t[k], NULL, committer,
		    (void *)(intptr_t)k), 0);
	for (k = 0; k < THREADS; k++) {
		pthread_join(t[k], &rv);
		assert_null(rv);
	}
	assert_int_equal(count_dir("queue"), THREADS * PER_THREAD);
	assert_int_equal(count_dir("tmp"), 0);
	dirsync_stats(ds, &commits, &syncs);
	assert_int_equal(commits, THREADS * PER_THREAD);
	assert_true(syncs >= 1 && syncs <= commits);
	print_message("group commit: %llu commits, %llu directory fsyncs\n",
	    (unsigned long long)commits, (unsigned long long)syncs);
	dirsync_close(ds);
}

static void
test_notify(void **state)
{
	char path[128], buf[64];
	int fd;

	/* Nobody reads: ENXIO, and spool_wakeup stays quiet. */
	assert_int_equal(spool_notify(spool, "\n"), -1);
	assert_int_equal(errno, ENXIO);
	spool_wakeup(spool);
	(void)snprintf(path, sizeof(path), "%s/wakeup", spool);
	assert_true((fd = open(path, O_RDWR | O_NONBLOCK)) >= 0);
	spool_wakeup(spool);
	assert_int_equal(spool_notify(spool, "F 0TPAKQT2C570012C000\n"), 0);
	assert_int_equal(read(fd, buf, sizeof(buf)), 23);
	assert_memory_equal(buf, "\nF 0TPAKQT2C570012C000\n", 23);
	/* Not a command line. */
	assert_int_equal(spool_notify(spool, "no newline"), -1);
	assert_int_equal(errno, EINVAL);
	close(fd);
}

static void
test_state_roundtrip(void **state)
{
	char *rcpts[] = { "a@example.test", "list@example.test" };
	struct envelope env;
	struct qstate st, back;
	char why[128], *text;
	size_t len;

	memset(&env, 0, sizeof(env));
	memcpy(env.id, "0TPAKQT2C570012C000", QUEUE_ID_LEN + 1);
	env.rcpts = rcpts;
	env.nrcpts = 2;
	assert_int_equal(qstate_load(spool, &env, &st, why, sizeof(why)), 0);
	assert_int_equal(st.r[0].status, QSTATE_PENDING);
	st.r[0].status = QSTATE_DONE;
	st.r[0].attempts = 1;
	st.r[1].status = QSTATE_DEFERRED;
	st.r[1].attempts = 2;
	st.r[1].next_attempt = 1700000300;
	st.r[1].last_attempt = 1700000000;
	(void)snprintf(st.r[1].reply, sizeof(st.r[1].reply),
	    "451 4.4.0 remote delivery not yet available");
	qstate_add_delivered(&st.r[1], "x@example.test");
	qstate_add_delivered(&st.r[1], "x@example.test");	/* once */
	assert_int_equal(qstate_format(&st, &env, &text, &len), 0);
	assert_string_equal(text, "POSTERN-STATE 1\n"
	    "rcpt 0 done 1 0 0 a@example.test\n"
	    "rcpt 1 deferred 2 1700000300 1700000000 list@example.test\n"
	    "reply 451 4.4.0 remote delivery not yet available\n"
	    "delivered x@example.test\n");
	free(text);
	assert_int_equal(qstate_next_attempt(&st), 1700000300);
	assert_false(qstate_finished(&st));
	assert_int_equal(qstate_save(spool, &env, &st), 0);
	assert_int_equal(count_dir("state"), 1);
	assert_int_equal(qstate_load(spool, &env, &back, why, sizeof(why)),
	    1);
	assert_int_equal(back.r[1].status, QSTATE_DEFERRED);
	assert_int_equal(back.r[1].attempts, 2);
	assert_int_equal((long long)back.r[1].next_attempt, 1700000300);
	assert_string_equal(back.r[1].reply,
	    "451 4.4.0 remote delivery not yet available");
	assert_int_equal(back.r[1].ndelivered, 1);
	assert_true(qstate_is_delivered(&back.r[1], "x@example.test"));
	qstate_clear(&back);
	qstate_clear(&st);
	assert_int_equal(qstate_remove(spool, env.id), 0);
	assert_int_equal(qstate_remove(spool, env.id), 0);
	assert_int_equal(count_dir("state"), 0);
}

static void
test_state_damaged(void **state)
{
	static const char *const bad[] = {
		"",
		"POSTERN-STATE 1\nrcpt 0 done 1 0 0 a@example.test\n",
		"POSTERN-STATE 1\nrcpt 0 done 1 0 0 a@example.test\n"
		    "rcpt 1 done 1 0 0 other@example.test\n",
		"POSTERN-STATE 1\nrcpt 1 done 1 0 0 b@example.test\n"
		    "rcpt 0 done 1 0 0 a@example.test\n",
		"POSTERN-STATE 1\nrcpt 0 lost 1 0 0 a@example.test\n"
		    "rcpt 1 done 1 0 0 b@example.test\n",
		"POSTERN-STATE 1\nreply 250 early\n",
		"POSTERN-STATE 1\nrcpt 0 done x 0 0 a@example.test\n",
		"POSTERN-STATE 1\nrcpt 0 done 1 0 0 a@example.test",
	};
	char *rcpts[] = { "a@example.test", "b@example.test" };
	struct envelope env;
	struct qstate st;
	char why[128];
	size_t i;

	memset(&env, 0, sizeof(env));
	env.rcpts = rcpts;
	env.nrcpts = 2;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (qstate_parse(&st, &env, bad[i], strlen(bad[i]), why,
		    sizeof(why)) != -1)
			fail_msg("case %zu parsed", i);
		/* A fresh state is left behind. */
		assert_int_equal(st.n, 2);
		assert_int_equal(st.r[0].status, QSTATE_PENDING);
		qstate_clear(&st);
	}
}

static int
collect(const char *id, void *arg)
{
	(*(int *)arg)++;
	return 0;
}

static void
test_scan_and_cleanup(void **state)
{
	char path[128], (*ids)[QUEUE_ID_MAX] = NULL;
	struct spool_file *f;
	struct timespec old[2] = { { 1000, 0 }, { 1000, 0 } };
	int n = 0, fd;

	assert_int_equal(spool_create(spool, &f), 0);
	assert_int_equal(spool_commit(f), 0);
	assert_int_equal(spool_create(spool, &f), 0);
	assert_int_equal(spool_commit(f), 0);
	(void)snprintf(path, sizeof(path), "%s/queue/not-an-id", spool);
	assert_true((fd = open(path, O_CREAT | O_WRONLY, 0600)) >= 0);
	close(fd);
	assert_int_equal(qfile_scan(spool, "queue", collect, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(qfile_list(spool, &ids), 2);
	assert_true(strcmp(ids[0], ids[1]) < 0);
	free(ids);
	unlink(path);
	/* An orphan state file, an old tmp file, a fresh tmp file. */
	(void)snprintf(path, sizeof(path), "%s/state/0TPAKQT2C570012C000",
	    spool);
	close(open(path, O_CREAT | O_WRONLY, 0600));
	(void)snprintf(path, sizeof(path), "%s/tmp/0TPAKQT2C570012C001",
	    spool);
	close(open(path, O_CREAT | O_WRONLY, 0600));
	assert_int_equal(utimensat(AT_FDCWD, path, old, 0), 0);
	(void)snprintf(path, sizeof(path), "%s/tmp/0TPAKQT2C570012C002",
	    spool);
	close(open(path, O_CREAT | O_WRONLY, 0600));
	assert_int_equal(qfile_cleanup(spool, time(NULL)), 2);
	assert_int_equal(count_dir("state"), 0);
	assert_int_equal(count_dir("tmp"), 1);
}

/* Commits a queue file (one recipient) holding body; its ID into id. */
static void
commit_message(const char *body, char *id)
{
	char *rcpts[] = { "a@example.test" };
	struct spool_file *f;
	struct envelope env;
	char buf[512];
	int n;

	assert_int_equal(spool_create(spool, &f), 0);
	memset(&env, 0, sizeof(env));
	(void)snprintf(env.id, sizeof(env.id), "%s", spool_file_id(f));
	(void)snprintf(id, QUEUE_ID_MAX, "%s", env.id);
	env.created = 1700000000;
	env.sender = "s@example.test";
	env.rcpts = rcpts;
	env.nrcpts = 1;
	assert_true((n = envelope_format(&env, buf, sizeof(buf))) > 0);
	assert_int_equal(spool_write(f, buf, (size_t)n), 0);
	assert_int_equal(spool_write(f, body, strlen(body)), 0);
	assert_int_equal(spool_commit(f), 0);
}

static void
test_qfile_open(void **state)
{
	static const char body[] = "Subject: x\r\n\r\nhello\r\n";
	static const char other[] = "0TPAKQT2C570012C009";
	char id[QUEUE_ID_MAX], path[128], why[256], want[256];
	struct qfile qf;
	int fd;

	commit_message(body, id);
	assert_int_equal(qfile_open(spool, id, &qf, why, sizeof(why)), 0);
	assert_string_equal(qf.env.id, id);
	assert_string_equal(qf.env.sender, "s@example.test");
	assert_int_equal(qf.msglen, sizeof(body) - 1);
	assert_memory_equal(qf.msg, body, qf.msglen);
	qfile_close(&qf);

	assert_int_equal(qfile_open(spool, "nope", &qf, why, sizeof(why)), -1);
	assert_int_equal(errno, EINVAL);
	assert_string_equal(why, "invalid queue id");

	(void)snprintf(path, sizeof(path), "%s/queue/%s", spool, other);
	assert_int_equal(qfile_open(spool, other, &qf, why, sizeof(why)), -1);
	assert_int_equal(errno, ENOENT);
	(void)snprintf(want, sizeof(want), "%s: %s", path, strerror(ENOENT));
	assert_string_equal(why, want);

	assert_true((fd = open(path, O_CREAT | O_WRONLY, 0600)) >= 0);
	(void)close(fd);
	assert_int_equal(qfile_open(spool, other, &qf, why, sizeof(why)), -1);
	assert_int_equal(errno, EINVAL);
	(void)snprintf(want, sizeof(want), "%s: empty file", path);
	assert_string_equal(why, want);

	/* A file whose envelope names another ID. */
	assert_int_equal(unlink(path), 0);
	(void)snprintf(want, sizeof(want), "%s/queue/%s", spool, id);
	assert_int_equal(link(want, path), 0);
	assert_int_equal(qfile_open(spool, other, &qf, why, sizeof(why)), -1);
	assert_int_equal(errno, EINVAL);
	(void)snprintf(want, sizeof(want), "id %s in file %s", id, other);
	assert_string_equal(why, want);
	assert_int_equal(unlink(path), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_layout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_commit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_abort, setup, teardown),
		cmocka_unit_test(test_create_fails),
		cmocka_unit_test_setup_teardown(test_concurrent_commits, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_notify, setup, teardown),
		cmocka_unit_test_setup_teardown(test_state_roundtrip, setup,
		    teardown),
		cmocka_unit_test(test_state_damaged),
		cmocka_unit_test_setup_teardown(test_qfile_open, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_scan_and_cleanup, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
