/* util/fileio: the complete write (1 MiB through a pipe to a concurrent
 * reader, byte for byte) and the rename that never replaces. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "util/fileio.h"

#define BIG (1024 * 1024)	/* more than a pipe holds at once */

static char dir[64];

static int
setup(void **state)
{
	(void)snprintf(dir, sizeof(dir), "/tmp/postern-fileio-XXXXXX");
	return mkdtemp(dir) == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
	char path[128];

	(void)snprintf(path, sizeof(path), "%s/a", dir);
	(void)unlink(path);
	(void)snprintf(path, sizeof(path), "%s/b", dir);
	(void)unlink(path);
	return rmdir(dir);
}

/* Writes path with s; the test fails if it cannot. */
static void
put_file(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);

	assert_int_not_equal(fd, -1);
	assert_int_equal(fileio_write_all(fd, s, strlen(s)), 0);
	assert_int_equal(close(fd), 0);
}

/* The whole content of path, NUL-terminated, in buf. */
static void
get_file(const char *path, char *buf, size_t bufsz)
{
	ssize_t n;
	int fd = open(path, O_RDONLY);

	assert_int_not_equal(fd, -1);
	n = read(fd, buf, bufsz - 1);
	assert_true(n >= 0);
	buf[n] = '\0';
	(void)close(fd);
}

struct reader {
	int	 fd;
	size_t	 got;
	int	 ok;		/* every byte was the expected one */
};

static void *
drain(void *arg)
{
	struct reader *r = arg;
	unsigned char buf[4096];
	ssize_t n, i;

	r->ok = 1;
	while ((n = read(r->fd, buf, sizeof(buf))) > 0) {
		for (i = 0; i < n; i++)
			if (buf[i] != (unsigned char)((r->got + i) % 251))
				r->ok = 0;
		r->got += (size_t)n;
	}
	return NULL;
}

static void
test_write_all_pipe(void **state)
{
	unsigned char *data = malloc(BIG);
	struct reader r = { -1, 0, 0 };
	pthread_t t;
	int p[2];
	size_t i;

	assert_non_null(data);
	for (i = 0; i < BIG; i++)
		data[i] = (unsigned char)(i % 251);
	assert_int_equal(pipe(p), 0);
	r.fd = p[0];
	assert_int_equal(pthread_create(&t, NULL, drain, &r), 0);
	assert_int_equal(fileio_write_all(p[1], data, BIG), 0);
	(void)close(p[1]);
	assert_int_equal(pthread_join(t, NULL), 0);
	(void)close(p[0]);
	assert_int_equal(r.got, BIG);
	assert_int_equal(r.ok, 1);
	free(data);
}

static void
test_write_all_error(void **state)
{
	int p[2];

	assert_int_equal(pipe(p), 0);
	/* A read end cannot be written: write(2) gives EBADF. */
	assert_int_equal(fileio_write_all(p[0], "x", 1), -1);
	assert_int_equal(errno, EBADF);
	(void)close(p[0]);
	(void)close(p[1]);
	/* Nothing to write is no write at all, even on a bad descriptor. */
	assert_int_equal(fileio_write_all(-1, "", 0), 0);
}

static void
test_rename_noreplace(void **state)
{
	char a[128], b[128], buf[64];

	(void)snprintf(a, sizeof(a), "%s/a", dir);
	(void)snprintf(b, sizeof(b), "%s/b", dir);
	put_file(a, "first");
	assert_int_equal(fileio_rename_noreplace(a, b), 0);
	assert_int_equal(access(a, F_OK), -1);
	get_file(b, buf, sizeof(buf));
	assert_string_equal(buf, "first");

	/* The target exists: EEXIST, and neither file is touched. */
	put_file(a, "second");
	assert_int_equal(fileio_rename_noreplace(a, b), -1);
	assert_int_equal(errno, EEXIST);
	get_file(a, buf, sizeof(buf));
	assert_string_equal(buf, "second");
	get_file(b, buf, sizeof(buf));
	assert_string_equal(buf, "first");
}

static void
test_rename_missing_source(void **state)
{
	char a[128], b[128];

	(void)snprintf(a, sizeof(a), "%s/a", dir);
	(void)snprintf(b, sizeof(b), "%s/b", dir);
	assert_int_equal(fileio_rename_noreplace(a, b), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(access(b, F_OK), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_write_all_pipe),
		cmocka_unit_test(test_write_all_error),
		cmocka_unit_test_setup_teardown(test_rename_noreplace, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_rename_missing_source,
		    setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
