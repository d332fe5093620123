/*
 * Unit tests for the user store (src/auth/userdb*.c) and
 * password_verify_user(): schema and file mode, user and alias CRUD,
 * alias expansion (recursion, loops, de-duplication, depth limit), a
 * second handle writing while the first reads, and threads sharing a
 * handle. Each test works in its own temporary directory.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "auth/password.h"
#include "auth/userdb.h"
#include "auth/userdb_priv.h"

struct fixture {
	char		 dir[64];
	char		 path[128];
	struct userdb	*db;
	char		 why[512];
	int		 saved_stderr;
};

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	(void)snprintf(f->dir, sizeof(f->dir), "/tmp/userdb_test.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	(void)snprintf(f->path, sizeof(f->path), "%s/sub/dir/users.db",
	    f->dir);
	f->db = userdb_open(f->path, 1, f->why, sizeof(f->why));
	if (f->db == NULL)
		fail_msg("open: %s", f->why);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];

	userdb_close(f->db);
	(void)snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

/* A user with cheap-to-make secrets (the argon2 string is real). */
static void
add_user(struct fixture *f, const char *key, const char *pw, int cram)
{
	struct userdb_secrets s;

	assert_int_equal(password_make_secrets(pw, strlen(pw), cram, &s,
	    f->why, sizeof(f->why)), 0);
	if (userdb_user_add(f->db, key, &s, f->why, sizeof(f->why)) != 0)
		fail_msg("add %s: %s", key, f->why);
	userdb_secrets_clear(&s);
}

static void
add_alias(struct fixture *f, const char *key, const char *t1,
    const char *t2, const char *t3)
{
	const char *v[3] = { t1, t2, t3 };
	size_t n = t3 ? 3 : t2 ? 2 : 1;

	if (userdb_alias_add(f->db, key, v, n, f->why, sizeof(f->why)) < 0)
		fail_msg("alias %s: %s", key, f->why);
}

static int
pragma_int(const char *path, const char *sql)
{
	sqlite3 *h;
	sqlite3_stmt *st;
	int v;

	assert_int_equal(sqlite3_open(path, &h), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(h, sql, -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	v = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(h);
	return v;
}

static void
exec_sql(const char *path, const char *sql)
{
	sqlite3 *h;

	assert_int_equal(sqlite3_open(path, &h), SQLITE_OK);
	assert_int_equal(sqlite3_exec(h, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(h);
}

static void
test_open_schema_mode(void **state)
{
	struct fixture *f = *state;
	struct stat sb;
	struct userdb *db2;
	char path[192];

	assert_int_equal(stat(f->path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	(void)snprintf(path, sizeof(path), "%s/sub/dir", f->dir);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0700);
	assert_int_equal(pragma_int(f->path, "PRAGMA user_version"),
	    USERDB_SCHEMA_VERSION);
	assert_int_equal(pragma_int(f->path, "SELECT count(*) FROM "
	    "sqlite_master WHERE name IN ('users', 'aliases')"), 2);
	/* Reopening, with or without create, keeps the store. */
	add_user(f, "a@example.test", "pw", 0);
	db2 = userdb_open(f->path, 0, f->why, sizeof(f->why));
	assert_non_null(db2);
	assert_int_equal(userdb_user_exists(db2, "a@example.test"), 1);
	userdb_close(db2);
	userdb_close(NULL);
}

static void
test_open_errors(void **state)
{
	struct fixture *f = *state;
	char path[192];
	FILE *fp;

	/* No file and no create. */
	(void)snprintf(path, sizeof(path), "%s/missing.db", f->dir);
	assert_null(userdb_open(path, 0, f->why, sizeof(f->why)));
	assert_int_equal(errno, ENOENT);
	assert_int_equal(access(path, F_OK), -1);

	/* An empty file has no schema: refused without create. */
	fp = fopen(path, "w");
	assert_non_null(fp);
	fclose(fp);
	assert_null(userdb_open(path, 0, f->why, sizeof(f->why)));
	assert_int_equal(errno, ENOENT);
	assert_non_null(strstr(f->why, "no schema"));

	/* Not a database. */
	fp = fopen(path, "w");
	assert_non_null(fp);
	fputs("this is not an SQLite database, just some text ...........\n"
	    "......................................................\n", fp);
	fclose(fp);
	assert_null(userdb_open(path, 1, f->why, sizeof(f->why)));

	/* A schema from a newer postern. */
	userdb_close(f->db);
	f->db = NULL;
	exec_sql(f->path, "PRAGMA user_version = 99");
	assert_int_equal(pragma_int(f->path, "PRAGMA user_version"), 99);
	assert_null(userdb_open(f->path, 1, f->why, sizeof(f->why)));
	assert_non_null(strstr(f->why, "newer"));
}

static void
test_user_crud(void **state)
{
	struct fixture *f = *state;
	struct userdb_secrets s, got;
	unsigned char salt_before[16];

	add_user(f, "alice@example.test", "alice pw", 1);
	assert_int_equal(userdb_user_exists(f->db, "alice@example.test"), 1);
	assert_int_equal(userdb_user_exists(f->db, "bob@example.test"), 0);
	assert_int_equal(userdb_recipient_exists(f->db, "alice@example.test"),
	    1);
	assert_int_equal(userdb_recipient_exists(f->db, "alice@example.org"),
	    0);

	assert_int_equal(userdb_get_secrets(f->db, "alice@example.test", &got),
	    1);
	assert_int_equal(password_argon2_verify(got.argon2, "alice pw", 8), 1);
	assert_int_equal(got.scram_salt_len, 16);
	assert_int_equal(got.scram_iter, PASSWORD_SCRAM_ITER);
	assert_int_equal(got.has_cram, 1);
	assert_string_equal(got.cram_secret, "alice pw");
	memcpy(salt_before, got.scram_salt, 16);
	userdb_secrets_clear(&got);
	assert_int_equal(userdb_get_secrets(f->db, "nobody@example.test",
	    &got), 0);

	/* Adding again: EEXIST, and the old secrets stay. */
	assert_int_equal(password_make_secrets("other", 5, 0, &s, f->why,
	    sizeof(f->why)), 0);
	assert_int_equal(userdb_user_add(f->db, "alice@example.test", &s,
	    f->why, sizeof(f->why)), -1);
	assert_int_equal(errno, EEXIST);
	assert_non_null(strstr(f->why, "passwd"));

	/* passwd rewrites every secret; without CRAM the secret goes. */
	assert_int_equal(userdb_user_passwd(f->db, "alice@example.test", &s,
	    f->why, sizeof(f->why)), 0);
	assert_int_equal(userdb_get_secrets(f->db, "alice@example.test", &got),
	    1);
	assert_int_equal(password_argon2_verify(got.argon2, "other", 5), 1);
	assert_int_equal(password_argon2_verify(got.argon2, "alice pw", 8), 0);
	assert_memory_not_equal(got.scram_salt, salt_before, 16);
	assert_int_equal(got.has_cram, 0);
	userdb_secrets_clear(&got);
	assert_int_equal(userdb_user_passwd(f->db, "bob@example.test", &s,
	    f->why, sizeof(f->why)), -1);
	assert_int_equal(errno, ENOENT);
	userdb_secrets_clear(&s);

	assert_int_equal(userdb_user_del(f->db, "alice@example.test", f->why,
	    sizeof(f->why)), 0);
	assert_int_equal(userdb_user_exists(f->db, "alice@example.test"), 0);
	assert_int_equal(userdb_user_del(f->db, "alice@example.test", f->why,
	    sizeof(f->why)), -1);
	assert_int_equal(errno, ENOENT);
	assert_non_null(strstr(f->why, "no such user"));
}

struct listing {
	char	buf[1024];
};

static int
list_user(const char *address, int has_cram, void *arg)
{
	struct listing *l = arg;
	size_t n = strlen(l->buf);

	(void)snprintf(l->buf + n, sizeof(l->buf) - n, "%s%s;", address,
	    has_cram ? " cram" : "");
	return 0;
}

static int
list_alias(const char *address, const char *const *t, size_t n, void *arg)
{
	struct listing *l = arg;
	size_t i, len = strlen(l->buf);

	len += snprintf(l->buf + len, sizeof(l->buf) - len, "%s ->", address);
	for (i = 0; i < n; i++)
		len += snprintf(l->buf + len, sizeof(l->buf) - len, " %s",
		    t[i]);
	(void)snprintf(l->buf + len, sizeof(l->buf) - len, ";");
	return 0;
}

static int
list_stop(const char *address, int has_cram, void *arg)
{
	(*(int *)arg)++;
	return 7;
}

static void
test_lists(void **state)
{
	struct fixture *f = *state;
	struct listing l;
	int calls = 0;

	memset(&l, 0, sizeof(l));
	assert_int_equal(userdb_user_list(f->db, list_user, &l), 0);
	assert_string_equal(l.buf, "");
	assert_int_equal(userdb_alias_list(f->db, list_alias, &l), 0);
	assert_string_equal(l.buf, "");

	add_user(f, "zed@example.test", "pw", 0);
	add_user(f, "amy@example.test", "pw", 1);
	add_alias(f, "team@example.test", "zed@example.test",
	    "amy@example.test", NULL);
	add_alias(f, "abuse@example.test", "amy@example.test", NULL, NULL);
	add_alias(f, "team@example.test", "Ext@remote.test", NULL, NULL);
	assert_int_equal(userdb_user_list(f->db, list_user, &l), 0);
	assert_string_equal(l.buf, "amy@example.test cram;zed@example.test;");
	memset(&l, 0, sizeof(l));
	assert_int_equal(userdb_alias_list(f->db, list_alias, &l), 0);
	assert_string_equal(l.buf, "abuse@example.test -> amy@example.test;"
	    "team@example.test -> zed@example.test amy@example.test "
	    "Ext@remote.test;");
	/* A nonzero return from the callback stops the walk. */
	assert_int_equal(userdb_user_list(f->db, list_stop, &calls), 7);
	assert_int_equal(calls, 1);
}

static void
test_alias_crud(void **state)
{
	struct fixture *f = *state;
	const char *two[] = { "a@example.test", "b@remote.test" };
	const char *dup[] = { "b@remote.test", "c@remote.test" };
	const char *self[] = { "Team+x@Example.TEST" };
	const char *bad[] = { "not an address" };
	const char *gone[] = { "zz@remote.test" };
	struct userdb_secrets s;

	assert_int_equal(userdb_alias_add(f->db, "team@example.test", two, 2,
	    f->why, sizeof(f->why)), 2);
	assert_int_equal(userdb_recipient_exists(f->db, "team@example.test"),
	    1);
	assert_int_equal(userdb_user_exists(f->db, "team@example.test"), 0);
	/* Appending skips targets already there. */
	assert_int_equal(userdb_alias_add(f->db, "team@example.test", dup, 2,
	    f->why, sizeof(f->why)), 1);
	assert_int_equal(userdb_alias_add(f->db, "team@example.test", self, 1,
	    f->why, sizeof(f->why)), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(userdb_alias_add(f->db, "team@example.test", bad, 1,
	    f->why, sizeof(f->why)), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(userdb_alias_add(f->db, "team@example.test", two, 0,
	    f->why, sizeof(f->why)), -1);
	assert_int_equal(errno, EINVAL);

	/* Users and aliases never share an address. */
	assert_int_equal(password_make_secrets("pw", 2, 0, &s, f->why,
	    sizeof(f->why)), 0);
	assert_int_equal(userdb_user_add(f->db, "team@example.test", &s,
	    f->why, sizeof(f->why)), -1);
	assert_int_equal(errno, EEXIST);
	assert_non_null(strstr(f->why, "alias"));
	assert_int_equal(userdb_user_add(f->db, "u@example.test", &s, f->why,
	    sizeof(f->why)), 0);
	userdb_secrets_clear(&s);
	assert_int_equal(userdb_alias_add(f->db, "u@example.test", two, 1,
	    f->why, sizeof(f->why)), -1);
	assert_int_equal(errno, EEXIST);

	/* Deleting one target, a missing one (nothing changes), then all. */
	assert_int_equal(userdb_alias_del(f->db, "team@example.test", dup, 1,
	    f->why, sizeof(f->why)), 0);
	assert_int_equal(userdb_alias_del(f->db, "team@example.test", gone, 1,
	    f->why, sizeof(f->why)), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(userdb_alias_del(f->db, "team@example.test", dup, 1,
	    f->why, sizeof(f->why)), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(userdb_alias_del(f->db, "team@example.test", NULL, 0,
	    f->why, sizeof(f->why)), 0);
	assert_int_equal(userdb_recipient_exists(f->db, "team@example.test"),
	    0);
	assert_int_equal(userdb_alias_del(f->db, "team@example.test", NULL, 0,
	    f->why, sizeof(f->why)), -1);
	assert_int_equal(errno, ENOENT);
}

struct expand_case {
	const char	*key;
	const char	*want;		/* targets joined by ' ', in order */
};

static void
check_expand(struct fixture *f, const struct expand_case *c)
{
	char **t = NULL, got[1024] = "";
	int n, i;
	size_t len = 0;

	n = userdb_expand(f->db, c->key, &t);
	assert_true(n >= 0);
	for (i = 0; i < n; i++)
		len += snprintf(got + len, sizeof(got) - len, "%s%s",
		    i ? " " : "", t[i]);
	if (strcmp(got, c->want) != 0)
		fail_msg("expand %s: got \"%s\", want \"%s\"", c->key, got,
		    c->want);
	if (n == 0)
		assert_null(t);
	userdb_targets_free(t, n);
}

/* Sends stderr (the log) to a file until capture_end() reads it back. */
static void
capture_start(struct fixture *f)
{
	char path[192];
	int fd;

	(void)snprintf(path, sizeof(path), "%s/stderr.log", f->dir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	f->saved_stderr = dup(2);
	assert_true(f->saved_stderr >= 0);
	assert_int_equal(dup2(fd, 2), 2);
	close(fd);
}

static void
capture_end(struct fixture *f, char *buf, size_t bufsz)
{
	char path[192];
	FILE *fp;
	size_t n;

	assert_int_equal(dup2(f->saved_stderr, 2), 2);
	close(f->saved_stderr);
	(void)snprintf(path, sizeof(path), "%s/stderr.log", f->dir);
	fp = fopen(path, "r");
	assert_non_null(fp);
	n = fread(buf, 1, bufsz - 1, fp);
	buf[n] = '\0';
	fclose(fp);
}

static void
test_expand(void **state)
{
	struct fixture *f = *state;
	const struct expand_case cases[] = {
		{ "alice@example.test", "alice@example.test" },
		{ "team@example.test", "alice@example.test bob@example.test" },
		{ "all@example.test", "alice@example.test bob@example.test "
		    "carol@example.test ext@remote.test" },
		{ "loop1@example.test", "alice@example.test" },
		{ "self2@example.test", "" },
		{ "lost@example.test", "nobody@example.test" },
		{ "d0@example.test", "alice@example.test" },
		{ "nosuch@example.test", "" },
		{ "Alice@example.test", "" },	/* keys are lower-case */
	};
	char a[64], b[64], log[1024];
	size_t i;
	int k;

	add_user(f, "alice@example.test", "pw", 0);
	add_user(f, "bob@example.test", "pw", 0);
	add_user(f, "carol@example.test", "pw", 0);
	add_alias(f, "team@example.test", "alice@example.test",
	    "Bob@Example.test", NULL);
	/* Nested, with duplicates via +tag and via the nested alias. */
	add_alias(f, "all@example.test", "team@example.test",
	    "bob+news@example.test", "carol@example.test");
	add_alias(f, "all@example.test", "ext@remote.test",
	    "alice@example.test", "ext@remote.test");
	/* Loops: through each other, and a pure one with no mailbox. */
	add_alias(f, "loop1@example.test", "loop2@example.test", NULL, NULL);
	add_alias(f, "loop2@example.test", "loop1@example.test",
	    "alice@example.test", NULL);
	add_alias(f, "self1@example.test", "self2@example.test", NULL, NULL);
	add_alias(f, "self2@example.test", "self1@example.test", NULL, NULL);
	add_alias(f, "lost@example.test", "nobody@example.test", NULL, NULL);
	/* d0 -> ... -> d9 -> alice: 10 aliases deep, the most allowed. */
	for (k = 0; k <= 10; k++) {
		(void)snprintf(a, sizeof(a), "d%d@example.test", k);
		(void)snprintf(b, sizeof(b), "d%d@example.test", k + 1);
		if (k < 9)
			add_alias(f, a, b, NULL, NULL);
		else if (k == 9)
			add_alias(f, a, "alice@example.test", NULL, NULL);
		(void)snprintf(a, sizeof(a), "e%d@example.test", k);
		(void)snprintf(b, sizeof(b), "e%d@example.test", k + 1);
		add_alias(f, a, k < 10 ? b : "alice@example.test", NULL, NULL);
	}
	/* Loops end by themselves, not at the depth limit: no warning. */
	capture_start(f);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		check_expand(f, &cases[i]);
	capture_end(f, log, sizeof(log));
	assert_string_equal(log, "");
	/* e0 -> ... -> e10 -> alice: one too deep, nothing, and a warning. */
	capture_start(f);
	check_expand(f, &(struct expand_case){ "e0@example.test", "" });
	capture_end(f, log, sizeof(log));
	assert_non_null(strstr(log, "warn: event=alias-too-deep "
	    "alias=e10@example.test max_depth=10"));
}

static double
elapsed_ms(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (t1.tv_sec - t0->tv_sec) * 1e3 +
	    (t1.tv_nsec - t0->tv_nsec) / 1e6;
}

static void
test_verify_user(void **state)
{
	struct fixture *f = *state;
	struct timespec t0;
	double known = 1e9, unknown = 1e9, ms;
	int i;

	add_user(f, "alice@example.test", "open sesame", 0);
	assert_int_equal(password_verify_user(f->db, "alice@example.test",
	    "open sesame", 11), 1);
	assert_int_equal(password_verify_user(f->db, "alice@example.test",
	    "", 0), 0);
	/* Best of three, interleaved, so that load on the machine cancels. */
	for (i = 0; i < 3; i++) {
		clock_gettime(CLOCK_MONOTONIC, &t0);
		assert_int_equal(password_verify_user(f->db,
		    "alice@example.test", "open sesamE", 11), 0);
		if ((ms = elapsed_ms(&t0)) < known)
			known = ms;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		assert_int_equal(password_verify_user(f->db,
		    "bob@example.test", "open sesame", 11), 0);
		if ((ms = elapsed_ms(&t0)) < unknown)
			unknown = ms;
	}
	/* The unknown user pays for an argon2 verification too. */
	print_message("# verify: known user %.1f ms, unknown %.1f ms\n",
	    known, unknown);
	assert_true(unknown > known * 0.3);
}

struct writer {
	char		 path[128];
	pthread_mutex_t	 mu;
	pthread_cond_t	 cv;
	int		 locked;	/* holds the write lock */
	int		 committing;	/* set just before COMMIT */
	int		 hold_ms;
};

static int
writer_committing(struct writer *w)
{
	int v;

	pthread_mutex_lock(&w->mu);
	v = w->committing;
	pthread_mutex_unlock(&w->mu);
	return v;
}

/* Holds the write lock on a second handle for a while, then commits. */
static void *
writer_main(void *arg)
{
	struct writer *w = arg;
	struct userdb *db2;
	char why[512];
	struct timespec ts = { 0, 0 };

	db2 = userdb_open(w->path, 0, why, sizeof(why));
	assert_non_null(db2);
	assert_int_equal(userdb_begin(db2, why, sizeof(why)), 0);
	assert_int_equal(sqlite3_exec(db2->h, "INSERT INTO aliases VALUES "
	    "('held@example.test', 'x@remote.test', 0)", NULL, NULL, NULL),
	    SQLITE_OK);
	pthread_mutex_lock(&w->mu);
	w->locked = 1;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
	ts.tv_nsec = w->hold_ms * 1000000L;
	nanosleep(&ts, NULL);
	pthread_mutex_lock(&w->mu);
	w->committing = 1;
	pthread_mutex_unlock(&w->mu);
	assert_int_equal(userdb_commit(db2, why, sizeof(why)), 0);
	userdb_close(db2);
	return NULL;
}

static void
test_concurrent_writer(void **state)
{
	struct fixture *f = *state;
	struct writer w;
	struct userdb_secrets s;
	struct timespec t0;
	pthread_t th;
	double ms;

	add_user(f, "alice@example.test", "pw", 0);
	assert_int_equal(password_make_secrets("pw", 2, 0, &s, f->why,
	    sizeof(f->why)), 0);
	memset(&w, 0, sizeof(w));
	(void)snprintf(w.path, sizeof(w.path), "%s", f->path);
	pthread_mutex_init(&w.mu, NULL);
	pthread_cond_init(&w.cv, NULL);
	w.hold_ms = 800;
	assert_int_equal(pthread_create(&th, NULL, writer_main, &w), 0);
	pthread_mutex_lock(&w.mu);
	while (!w.locked)
		pthread_cond_wait(&w.cv, &w.mu);
	pthread_mutex_unlock(&w.mu);

	/* WAL: reads go on while the other handle holds the write lock. */
	assert_int_equal(userdb_recipient_exists(f->db, "alice@example.test"),
	    1);
	assert_int_equal(userdb_recipient_exists(f->db, "held@example.test"),
	    0);
	assert_int_equal(writer_committing(&w), 0);

	/* A write waits (busy timeout) and then succeeds. */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (userdb_user_add(f->db, "bob@example.test", &s, f->why,
	    sizeof(f->why)) != 0)
		fail_msg("add while locked: %s", f->why);
	ms = elapsed_ms(&t0);
	/* It could only get the lock once the other handle committed. */
	assert_int_equal(writer_committing(&w), 1);
	userdb_secrets_clear(&s);
	assert_int_equal(pthread_join(th, NULL), 0);
	print_message("# write waited %.0f ms for the other handle\n", ms);
	/* Both writes are there, seen from this handle. */
	assert_int_equal(userdb_recipient_exists(f->db, "held@example.test"),
	    1);
	assert_int_equal(userdb_user_exists(f->db, "bob@example.test"), 1);
	pthread_mutex_destroy(&w.mu);
	pthread_cond_destroy(&w.cv);
}

/* Several threads on one handle: the mutex keeps statements whole. */
static void *
reader_main(void *arg)
{
	struct userdb *db = arg;
	char **t;
	int i, n;

	for (i = 0; i < 300; i++) {
		assert_int_equal(userdb_recipient_exists(db,
		    "alice@example.test"), 1);
		n = userdb_expand(db, "team@example.test", &t);
		assert_int_equal(n, 2);
		userdb_targets_free(t, n);
	}
	return NULL;
}

static void
test_shared_handle_threads(void **state)
{
	struct fixture *f = *state;
	pthread_t th[4];
	int i;

	add_user(f, "alice@example.test", "pw", 0);
	add_alias(f, "team@example.test", "alice@example.test",
	    "x@remote.test", NULL);
	for (i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&th[i], NULL, reader_main,
		    f->db), 0);
	for (i = 0; i < 4; i++)
		assert_int_equal(pthread_join(th[i], NULL), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_open_schema_mode, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_open_errors, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_user_crud, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_lists, setup, teardown),
		cmocka_unit_test_setup_teardown(test_alias_crud, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_expand, setup, teardown),
		cmocka_unit_test_setup_teardown(test_verify_user, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_concurrent_writer, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_shared_handle_threads,
		    setup, teardown),
	};

	umask(022);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
