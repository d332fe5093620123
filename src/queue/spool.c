/*
 * Writing messages into the spool (see queue/spool.h and docs/queue.md).
 *
 * A message goes to spool/tmp/ID (O_EXCL, buffered writes), is fsync'ed and
 * closed, renamed to spool/queue/ID without replacing anything, and the
 * queue directory is fsync'ed through the group commit of queue/dirsync.c.
 * Only then does spool_commit() return 0 and the caller may answer 250.
 *
 * Owns: struct spool_file (its descriptor, buffer and a reference on the
 * queue directory's dirsync object). Runs in pool threads of the SMTP
 * workers, in `postern sendmail` and in the delivery process (bounces).
 */
#include "queue/spool.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "queue/dirsync.h"
#include "queue/queue_id.h"
#include "util/fileio.h"
#include "util/xmalloc.h"

#define SPOOL_BUFSZ (64 * 1024)
#define SPOOL_CREATE_TRIES 16

/* Owned by the caller between spool_create() and commit/abort. */
struct spool_file {
	char		 id[QUEUE_ID_MAX];
	int		 fd;
	struct dirsync	*queue_dir;	/* reference on spool/queue */
	char		 tmp_path[PATH_MAX];
	char		 queue_path[PATH_MAX];
	size_t		 len;		/* bytes in buf */
	char		 buf[SPOOL_BUFSZ];
};

static const char *const spool_subdirs[] = { "tmp", "queue", "state" };

/* mkdir -p: parents 0755, the last component `mode`. 0 or -1 (errno). */
static int
spool_mkdirs(const char *path, mode_t mode)
{
	char buf[PATH_MAX];
	size_t i, n = strlen(path);

	if (n == 0 || n >= sizeof(buf)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(buf, path, n + 1);
	for (i = 1; i < n; i++) {
		if (buf[i] != '/')
			continue;
		buf[i] = '\0';
		if (mkdir(buf, 0755) == -1 && errno != EEXIST)
			return -1;
		buf[i] = '/';
	}
	if (mkdir(buf, mode) == -1 && errno != EEXIST)
		return -1;
	return 0;
}

static int
spool_init_fifo(const char *spool_dir, char *why, size_t whysz)
{
	char path[PATH_MAX];
	struct stat st;

	if ((size_t)snprintf(path, sizeof(path), "%s/wakeup", spool_dir) >=
	    sizeof(path)) {
		(void)snprintf(why, whysz, "%s: path too long", spool_dir);
		return -1;
	}
	if (mkfifo(path, 0600) == -1 && errno != EEXIST) {
		(void)snprintf(why, whysz, "mkfifo %s: %s", path,
		    strerror(errno));
		return -1;
	}
	if (stat(path, &st) == -1 || !S_ISFIFO(st.st_mode)) {
		(void)snprintf(why, whysz, "%s: exists and is not a FIFO",
		    path);
		return -1;
	}
	return 0;
}

int
spool_init(const char *spool_dir, char *why, size_t whysz)
{
	char path[PATH_MAX];
	size_t i;

	if (spool_mkdirs(spool_dir, 0700) == -1) {
		(void)snprintf(why, whysz, "mkdir %s: %s", spool_dir,
		    strerror(errno));
		return -1;
	}
	for (i = 0; i < sizeof(spool_subdirs) / sizeof(spool_subdirs[0]);
	    i++) {
		if ((size_t)snprintf(path, sizeof(path), "%s/%s", spool_dir,
		    spool_subdirs[i]) >= sizeof(path) ||
		    (mkdir(path, 0700) == -1 && errno != EEXIST)) {
			(void)snprintf(why, whysz, "mkdir %s: %s", path,
			    strerror(errno));
			return -1;
		}
	}
	return spool_init_fifo(spool_dir, why, whysz);
}

/* Opens tmp/ID for the ID in f->id; EEXIST if it is taken. */
static int
spool_open_tmp_id(const char *spool_dir, struct spool_file *f)
{
	if ((size_t)snprintf(f->tmp_path, sizeof(f->tmp_path), "%s/tmp/%s",
	    spool_dir, f->id) >= sizeof(f->tmp_path) ||
	    (size_t)snprintf(f->queue_path, sizeof(f->queue_path),
	    "%s/queue/%s", spool_dir, f->id) >= sizeof(f->queue_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if (access(f->queue_path, F_OK) == 0) {
		errno = EEXIST;
		return -1;
	}
	f->fd = open(f->tmp_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
	    0600);
	return f->fd == -1 ? -1 : 0;
}

/* Opens tmp/ID for a fresh ID that is free in tmp/ and queue/. */
static int
spool_open_tmp(const char *spool_dir, struct spool_file *f, const char *id)
{
	int i;

	if (id != NULL) {
		(void)snprintf(f->id, sizeof(f->id), "%s", id);
		return spool_open_tmp_id(spool_dir, f);
	}
	for (i = 0; i < SPOOL_CREATE_TRIES; i++) {
		queue_id_new(f->id);
		if (spool_open_tmp_id(spool_dir, f) == 0)
			return 0;
		if (errno != EEXIST)
			return -1;
	}
	errno = EEXIST;
	return -1;
}

int
spool_create(const char *spool_dir, struct spool_file **out)
{
	return spool_create_id(spool_dir, NULL, out);
}

int
spool_create_id(const char *spool_dir, const char *id,
    struct spool_file **out)
{
	char path[PATH_MAX];
	struct spool_file *f;
	int saved;

	*out = NULL;
	if ((size_t)snprintf(path, sizeof(path), "%s/queue", spool_dir) >=
	    sizeof(path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if ((f = malloc(sizeof(*f))) == NULL)
		return -1;
	f->len = 0;
	f->fd = -1;
	if ((f->queue_dir = dirsync_open(path)) == NULL)
		goto fail;
	if (spool_open_tmp(spool_dir, f, id) == -1)
		goto fail;
	*out = f;
	return 0;
fail:
	saved = errno;
	dirsync_close(f->queue_dir);
	free(f);
	errno = saved;
	return -1;
}

const char *
spool_file_id(const struct spool_file *f)
{
	return f->id;
}

int
spool_set_owner(struct spool_file *f, uid_t uid, gid_t gid)
{
	return fchown(f->fd, uid, gid);
}

int
spool_write(struct spool_file *f, const void *buf, size_t len)
{
	const char *p = buf;
	size_t room;

	while (len > 0) {
		if (f->len == SPOOL_BUFSZ) {
			if (fileio_write_all(f->fd, f->buf, f->len) == -1)
				return -1;
			f->len = 0;
		}
		if (f->len == 0 && len >= SPOOL_BUFSZ)
			return fileio_write_all(f->fd, p, len);
		room = SPOOL_BUFSZ - f->len;
		if (room > len)
			room = len;
		memcpy(f->buf + f->len, p, room);
		f->len += room;
		p += room;
		len -= room;
	}
	return 0;
}

int
spool_commit(struct spool_file *f)
{
	int saved, renamed = 0;

	if (fileio_write_all(f->fd, f->buf, f->len) == -1)
		goto fail;
	f->len = 0;
	/* A new file: its data and size are what must reach the disk. */
	if (fdatasync(f->fd) == -1)
		goto fail;
	if (close(f->fd) == -1) {
		f->fd = -1;
		goto fail;
	}
	f->fd = -1;
	/* Never replaces an existing queue file. */
	if (fileio_rename_noreplace(f->tmp_path, f->queue_path) == -1)
		goto fail;
	renamed = 1;
	if (dirsync_commit(f->queue_dir) == -1)
		goto fail;
	dirsync_close(f->queue_dir);
	free(f);
	return 0;
fail:
	saved = errno;
	/* Not durable: the message must not stay queued (no 250 was sent). */
	if (renamed)
		(void)unlink(f->queue_path);
	errno = saved;
	spool_abort(f);
	errno = saved;
	return -1;
}

void
spool_abort(struct spool_file *f)
{
	if (f == NULL)
		return;
	if (f->fd != -1)
		(void)close(f->fd);
	(void)unlink(f->tmp_path);
	dirsync_close(f->queue_dir);
	free(f);
}

/*
 * Writes msg to the FIFO in one write (atomic below PIPE_BUF). A reader
 * that goes away between open and write would raise SIGPIPE: it is
 * blocked for this thread and a pending one consumed.
 */
static int
spool_fifo_write(int fd, const char *msg, size_t len)
{
	sigset_t pipe_set, old, pending;
	struct timespec zero = { 0, 0 };
	int rc, saved, was_pending;

	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
	sigpending(&pending);
	was_pending = sigismember(&pending, SIGPIPE);
	rc = write(fd, msg, len) == (ssize_t)len ? 0 : -1;
	saved = errno;
	if (rc == -1 && saved == EPIPE && !was_pending)
		(void)sigtimedwait(&pipe_set, NULL, &zero);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	errno = saved;
	return rc;
}

int
spool_notify(const char *spool_dir, const char *msg)
{
	char path[PATH_MAX];
	size_t len = strlen(msg);
	int fd, rc, saved;

	if (len == 0 || len >= PIPE_BUF || msg[len - 1] != '\n') {
		errno = EINVAL;
		return -1;
	}
	if ((size_t)snprintf(path, sizeof(path), "%s/wakeup", spool_dir) >=
	    sizeof(path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	/* ENXIO: nobody has the FIFO open for reading. */
	if ((fd = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC)) == -1)
		return -1;
	rc = spool_fifo_write(fd, msg, len);
	saved = errno;
	(void)close(fd);
	errno = saved;
	return rc;
}

void
spool_wakeup(const char *spool_dir)
{
	/* Errors are fine: EAGAIN means wakeups are pending already, ENXIO
	 * that the delivery process is down (it scans the queue at start). */
	(void)spool_notify(spool_dir, "\n");
}
