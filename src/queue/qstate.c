/*
 * Per-message delivery state (see queue/qstate.h for the format and
 * docs/queue.md for how it fits the durability argument). Formatting and
 * parsing are pure; load/save do file I/O and may block, so the delivery
 * process calls them from pool threads. Owns struct qstate and its
 * strings. Runs in the delivery process and in `postern queue`.
 */
#include "queue/qstate.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "queue/dirsync.h"
#include "util/fileio.h"
#include "util/xmalloc.h"

#define QSTATE_FILE_MAX (16 * 1024 * 1024)
#define QSTATE_DELIVERED_MAX 10000	/* per recipient */

static const char *const qstate_names[] = { "pending", "deferred", "done",
    "failed" };

const char *
qstate_status_str(enum qstate_status s)
{
	if ((unsigned)s < sizeof(qstate_names) / sizeof(qstate_names[0]))
		return qstate_names[s];
	return "?";
}

void
qstate_init(struct qstate *st, size_t nrcpts)
{
	st->n = nrcpts;
	st->r = xcalloc(nrcpts, sizeof(*st->r));
}

void
qstate_clear(struct qstate *st)
{
	size_t i, j;

	if (st == NULL || st->r == NULL)
		return;
	for (i = 0; i < st->n; i++) {
		for (j = 0; j < st->r[i].ndelivered; j++)
			free(st->r[i].delivered[j]);
		free(st->r[i].delivered);
	}
	free(st->r);
	st->r = NULL;
	st->n = 0;
}

void
qstate_add_delivered(struct qstate_rcpt *r, const char *addr)
{
	if (qstate_is_delivered(r, addr))
		return;
	r->delivered = xreallocarray(r->delivered, r->ndelivered + 1,
	    sizeof(*r->delivered));
	r->delivered[r->ndelivered++] = xstrdup(addr);
}

int
qstate_is_delivered(const struct qstate_rcpt *r, const char *addr)
{
	size_t i;

	for (i = 0; i < r->ndelivered; i++)
		if (strcmp(r->delivered[i], addr) == 0)
			return 1;
	return 0;
}

int
qstate_finished(const struct qstate *st)
{
	size_t i;

	for (i = 0; i < st->n; i++)
		if (st->r[i].status != QSTATE_DONE &&
		    st->r[i].status != QSTATE_FAILED)
			return 0;
	return 1;
}

time_t
qstate_next_attempt(const struct qstate *st)
{
	time_t next = -1;
	size_t i;

	for (i = 0; i < st->n; i++) {
		if (st->r[i].status == QSTATE_DONE ||
		    st->r[i].status == QSTATE_FAILED)
			continue;
		if (next == -1 || st->r[i].next_attempt < next)
			next = st->r[i].next_attempt;
	}
	return next;
}

int
qstate_format(const struct qstate *st, const struct envelope *env,
    char **out, size_t *outlen)
{
	const struct qstate_rcpt *r;
	FILE *fp;
	size_t i, j;

	if (st->n != env->nrcpts)
		return -1;
	if ((fp = open_memstream(out, outlen)) == NULL)
		return -1;
	fputs(QSTATE_MAGIC, fp);
	for (i = 0; i < st->n; i++) {
		r = &st->r[i];
		fprintf(fp, "rcpt %zu %s %u %lld %lld %s\n", i,
		    qstate_status_str(r->status), r->attempts,
		    (long long)r->next_attempt, (long long)r->last_attempt,
		    env->rcpts[i]);
		if (r->reply[0] != '\0' && strpbrk(r->reply, "\r\n") == NULL)
			fprintf(fp, "reply %s\n", r->reply);
		for (j = 0; j < r->ndelivered; j++)
			if (strpbrk(r->delivered[j], "\r\n") == NULL)
				fprintf(fp, "delivered %s\n", r->delivered[j]);
	}
	if (ferror(fp)) {
		fclose(fp);
		free(*out);
		*out = NULL;
		return -1;
	}
	return fclose(fp) == 0 ? 0 : -1;
}

/* Reads a decimal number (at most 18 digits) ending at a space. */
static const char *
qstate_number(const char *p, const char *end, long long *v)
{
	int digits = 0;

	*v = 0;
	while (p < end && *p >= '0' && *p <= '9' && digits < 18) {
		*v = *v * 10 + (*p++ - '0');
		digits++;
	}
	if (digits == 0 || p >= end || *p != ' ')
		return NULL;
	return p + 1;
}

/* "rcpt INDEX STATUS ATTEMPTS NEXT LAST ADDRESS" (after "rcpt "). */
static int
qstate_rcpt_line(struct qstate *st, size_t idx, const struct envelope *env,
    const char *p, const char *end)
{
	struct qstate_rcpt *r = &st->r[idx];
	long long v[4];
	const char *sp;
	size_t k, alen;

	if ((p = qstate_number(p, end, &v[0])) == NULL ||
	    (unsigned long long)v[0] != idx)
		return -1;
	if ((sp = memchr(p, ' ', (size_t)(end - p))) == NULL)
		return -1;
	for (k = 0; k < sizeof(qstate_names) / sizeof(qstate_names[0]); k++)
		if (strlen(qstate_names[k]) == (size_t)(sp - p) &&
		    memcmp(qstate_names[k], p, (size_t)(sp - p)) == 0)
			break;
	if (k == sizeof(qstate_names) / sizeof(qstate_names[0]))
		return -1;
	r->status = (enum qstate_status)k;
	p = sp + 1;
	if ((p = qstate_number(p, end, &v[1])) == NULL || v[1] > UINT_MAX ||
	    (p = qstate_number(p, end, &v[2])) == NULL ||
	    (p = qstate_number(p, end, &v[3])) == NULL)
		return -1;
	r->attempts = (unsigned)v[1];
	r->next_attempt = (time_t)v[2];
	r->last_attempt = (time_t)v[3];
	alen = (size_t)(end - p);
	if (strlen(env->rcpts[idx]) != alen ||
	    memcmp(env->rcpts[idx], p, alen) != 0)
		return -1;
	return 0;
}

/* Applies one line; *nr counts the rcpt lines seen. -1 if invalid. */
static int
qstate_line(struct qstate *st, size_t *nr, const struct envelope *env,
    const char *p, const char *end)
{
	struct qstate_rcpt *r = *nr > 0 ? &st->r[*nr - 1] : NULL;
	size_t len = (size_t)(end - p);
	char *s;

	if (memchr(p, '\0', len) != NULL || memchr(p, '\r', len) != NULL)
		return -1;
	if (len > 5 && memcmp(p, "rcpt ", 5) == 0) {
		if (*nr >= st->n)
			return -1;
		return qstate_rcpt_line(st, (*nr)++, env, p + 5, end);
	}
	if (r != NULL && len > 6 && memcmp(p, "reply ", 6) == 0) {
		if (len - 6 >= sizeof(r->reply))
			return -1;
		memcpy(r->reply, p + 6, len - 6);
		r->reply[len - 6] = '\0';
		return 0;
	}
	if (r != NULL && len > 10 && memcmp(p, "delivered ", 10) == 0 &&
	    len - 10 < 1024 && r->ndelivered < QSTATE_DELIVERED_MAX) {
		s = xstrndup(p + 10, len - 10);
		qstate_add_delivered(r, s);
		free(s);
		return 0;
	}
	return -1;
}

int
qstate_parse(struct qstate *st, const struct envelope *env,
    const char *data, size_t len, char *why, size_t whysz)
{
	size_t off = sizeof(QSTATE_MAGIC) - 1, nr = 0;
	const char *nl;

	qstate_init(st, env->nrcpts);
	if (len < off || memcmp(data, QSTATE_MAGIC, off) != 0) {
		(void)snprintf(why, whysz, "not a state file");
		goto fail;
	}
	while (off < len) {
		if ((nl = memchr(data + off, '\n', len - off)) == NULL ||
		    qstate_line(st, &nr, env, data + off, nl) == -1) {
			(void)snprintf(why, whysz, "damaged at offset %zu",
			    off);
			goto fail;
		}
		off = (size_t)(nl - data) + 1;
	}
	if (nr != env->nrcpts) {
		(void)snprintf(why, whysz, "%zu recipients, queue file has "
		    "%zu", nr, env->nrcpts);
		goto fail;
	}
	return 0;
fail:
	qstate_clear(st);
	qstate_init(st, env->nrcpts);
	errno = EINVAL;
	return -1;
}

/* Reads the whole file at path (bounded) into a malloc'ed buffer. */
static int
qstate_read_file(const char *path, char **out, size_t *outlen)
{
	struct stat sb;
	ssize_t n = 0;
	size_t off = 0;
	char *buf = NULL;
	int fd, saved;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	if (fstat(fd, &sb) == -1)
		goto fail;
	if (sb.st_size > QSTATE_FILE_MAX) {
		errno = EFBIG;
		goto fail;
	}
	buf = xmalloc((size_t)sb.st_size + 1);
	while (off < (size_t)sb.st_size) {
		n = read(fd, buf + off, (size_t)sb.st_size - off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		off += (size_t)n;
	}
	if (n == -1)
		goto fail;
	(void)close(fd);
	*out = buf;
	*outlen = off;
	return 0;
fail:
	saved = errno;
	free(buf);
	(void)close(fd);
	errno = saved;
	return -1;
}

int
qstate_load(const char *spool, const struct envelope *env,
    struct qstate *st, char *why, size_t whysz)
{
	char path[PATH_MAX], *data;
	size_t len;
	int rc;

	if ((size_t)snprintf(path, sizeof(path), "%s/state/%s", spool,
	    env->id) >= sizeof(path) ||
	    qstate_read_file(path, &data, &len) == -1) {
		qstate_init(st, env->nrcpts);
		if (errno == ENOENT)
			return 0;
		(void)snprintf(why, whysz, "%s: %s", path, strerror(errno));
		return -1;
	}
	rc = qstate_parse(st, env, data, len, why, whysz);
	free(data);
	return rc == 0 ? 1 : -1;
}

/* Writes, fsyncs and closes path; 0 or -1 (errno). */
static int
qstate_write_file(const char *path, const char *buf, size_t len)
{
	int fd, saved;

	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0600)) == -1)
		return -1;
	if (fileio_write_all(fd, buf, len) == -1 || fsync(fd) == -1)
		goto fail;
	return close(fd);
fail:
	saved = errno;
	(void)close(fd);
	errno = saved;
	return -1;
}

int
qstate_save(const char *spool, const struct envelope *env,
    const struct qstate *st)
{
	char path[PATH_MAX], tmp[PATH_MAX + 8], dir[PATH_MAX], *buf = NULL;
	struct dirsync *ds = NULL;
	size_t len;
	int saved;

	if ((size_t)snprintf(dir, sizeof(dir), "%s/state", spool) >=
	    sizeof(dir) ||
	    (size_t)snprintf(path, sizeof(path), "%s/%s", dir, env->id) >=
	    sizeof(path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	(void)snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	if (qstate_format(st, env, &buf, &len) == -1)
		return -1;
	if ((ds = dirsync_open(dir)) == NULL)
		goto fail;
	if (qstate_write_file(tmp, buf, len) == -1)
		goto fail;
	if (rename(tmp, path) == -1 || dirsync_commit(ds) == -1)
		goto fail;
	dirsync_close(ds);
	free(buf);
	return 0;
fail:
	saved = errno;
	(void)unlink(tmp);
	dirsync_close(ds);
	free(buf);
	errno = saved;
	return -1;
}

int
qstate_remove(const char *spool, const char *id)
{
	char path[PATH_MAX];

	if ((size_t)snprintf(path, sizeof(path), "%s/state/%s", spool, id) >=
	    sizeof(path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if (unlink(path) == -1 && errno != ENOENT)
		return -1;
	return 0;
}
