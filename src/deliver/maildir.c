/*
 * Maildir delivery (see deliver/maildir.h): path building from the
 * [delivery] maildir pattern with refusal of unsafe parts, unique names,
 * directory creation, and the durable write (tmp/ -> fsync -> new/ ->
 * fsync new/ through the shared group commit of queue/dirsync.c).
 * Owns nothing beyond one call. Runs in the delivery process, in pool
 * threads, several deliveries at once.
 */
#include "deliver/maildir.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "queue/dirsync.h"
#include "util/addr.h"
#include "util/fileio.h"

#define MAILDIR_WBUF (32 * 1024)

static atomic_ulong maildir_counter;

int
maildir_safe_part(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	if (s == NULL || *p == '\0' || *p == '.')
		return 0;
	for (; *p != '\0'; p++)
		if (*p == '/' || *p < 0x20 || *p == 0x7f)
			return 0;
	return 1;
}

/* Appends s to out at *off; -1 if it does not fit. */
static int
maildir_append(char *out, size_t outsz, size_t *off, const char *s,
    size_t n)
{
	if (n >= outsz - *off)
		return -1;
	memcpy(out + *off, s, n);
	*off += n;
	out[*off] = '\0';
	return 0;
}

int
maildir_path(const char *pattern, const char *user, const char *domain,
    char *out, size_t outsz, char *why, size_t whysz)
{
	const char *p, *v;
	size_t off = 0;

	if (outsz == 0)
		goto toolong;
	out[0] = '\0';
	for (p = pattern; *p != '\0'; p++) {
		v = NULL;
		if (*p != '%') {
			if (maildir_append(out, outsz, &off, p, 1) == -1)
				goto toolong;
			continue;
		}
		switch (*++p) {
		case 'u': v = user; break;
		case 'd': v = domain; break;
		case '%': v = "%"; break;
		default:
			(void)snprintf(why, whysz, "maildir pattern: unknown "
			    "sequence %%%.1s", p);
			errno = EINVAL;
			return -1;
		}
		if (*p != '%' && !maildir_safe_part(v)) {
			(void)snprintf(why, whysz, "unsafe %s for a maildir "
			    "path", *p == 'u' ? "local part" : "domain");
			errno = EINVAL;
			return -1;
		}
		if (maildir_append(out, outsz, &off, v, strlen(v)) == -1)
			goto toolong;
	}
	return 0;
toolong:
	(void)snprintf(why, whysz, "maildir path too long");
	errno = ENAMETOOLONG;
	return -1;
}

int
maildir_filename(char *buf, size_t bufsz, const struct timespec *ts,
    pid_t pid, unsigned long n, const char *host, size_t size)
{
	char safe[256 * 4 + 1];
	size_t off = 0;
	int len;

	for (; *host != '\0' && off + 5 < sizeof(safe); host++) {
		if (*host == '/' || *host == ':') {
			(void)snprintf(safe + off, sizeof(safe) - off, "\\%03o",
			    (unsigned char)*host);
			off += 4;
		} else
			safe[off++] = *host;
	}
	safe[off] = '\0';
	len = snprintf(buf, bufsz, "%lld.M%06ldP%ldQ%lu.%s,S=%zu",
	    (long long)ts->tv_sec, ts->tv_nsec / 1000, (long)pid, n, safe,
	    size);
	return (len < 0 || (size_t)len >= bufsz) ? -1 : 0;
}

size_t
maildir_lf_size(const char *msg, size_t len)
{
	const char *p = msg, *end = msg + len, *cr;
	size_t size = len;

	while (p < end && (cr = memchr(p, '\r', (size_t)(end - p))) != NULL) {
		if (cr + 1 < end && cr[1] == '\n')
			size--;
		p = cr + 1;
	}
	return size;
}

/* fsyncs the directory that contains path. */
static int
maildir_sync_parent(const char *path)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(path, '/');
	int fd, rc;

	if (slash == NULL)
		(void)snprintf(dir, sizeof(dir), ".");
	else if (slash == path)
		(void)snprintf(dir, sizeof(dir), "/");
	else
		(void)snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path),
		    path);
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return -1;
	rc = fsync(fd);
	(void)close(fd);
	return rc;
}

/* mkdir 0700; an existing directory is fine; a new one is made durable. */
static int
maildir_mkdir(const char *path)
{
	struct stat sb;

	if (mkdir(path, 0700) == 0)
		return maildir_sync_parent(path);
	if (errno != EEXIST)
		return -1;
	if (stat(path, &sb) == -1)
		return -1;
	if (!S_ISDIR(sb.st_mode)) {
		errno = ENOTDIR;
		return -1;
	}
	return 0;
}

int
maildir_create(const char *dir)
{
	static const char *const subdirs[] = { "tmp", "new", "cur" };
	char buf[PATH_MAX];
	size_t i, n = strlen(dir);

	if (n == 0 || n + 5 >= sizeof(buf)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(buf, dir, n + 1);
	for (i = 1; i < n; i++) {
		if (buf[i] != '/' || buf[i - 1] == '/')
			continue;
		buf[i] = '\0';
		if (maildir_mkdir(buf) == -1)
			return -1;
		buf[i] = '/';
	}
	if (maildir_mkdir(buf) == -1)
		return -1;
	for (i = 0; i < sizeof(subdirs) / sizeof(subdirs[0]); i++) {
		(void)snprintf(buf, sizeof(buf), "%s/%s", dir, subdirs[i]);
		if (maildir_mkdir(buf) == -1)
			return -1;
	}
	return 0;
}

/* Writes hdr, then msg with every CRLF turned into LF. */
static int
maildir_write_lf(int fd, const char *hdr, size_t hlen, const char *msg,
    size_t len)
{
	char out[MAILDIR_WBUF];
	size_t o = 0, i;

	if (fileio_write_all(fd, hdr, hlen) == -1)
		return -1;
	for (i = 0; i < len; i++) {
		if (msg[i] == '\r' && i + 1 < len && msg[i + 1] == '\n')
			continue;
		out[o++] = msg[i];
		if (o == sizeof(out)) {
			if (fileio_write_all(fd, out, o) == -1)
				return -1;
			o = 0;
		}
	}
	return fileio_write_all(fd, out, o);
}

/* Opens DIR/tmp/NAME exclusively, creating the Maildir if needed. */
static int
maildir_open_tmp(const char *dir, const char *name, char *tmp, size_t tmpsz)
{
	int fd;

	if ((size_t)snprintf(tmp, tmpsz, "%s/tmp/%s", dir, name) >= tmpsz) {
		errno = ENAMETOOLONG;
		return -1;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd == -1 && errno == ENOENT) {
		if (maildir_create(dir) == -1)
			return -1;
		fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	}
	return fd;
}

/*
 * tmp -> new/NAME without replacing, then the group-committed fsync.
 * 1 if new/NAME was there already (tmp removed), 0, or -1.
 */
static int
maildir_commit(const char *dir, const char *name, const char *tmp)
{
	char newdir[PATH_MAX], dst[PATH_MAX + NAME_MAX + 2];
	struct dirsync *ds;
	int rc, exists = 0;

	(void)snprintf(newdir, sizeof(newdir), "%s/new", dir);
	(void)snprintf(dst, sizeof(dst), "%s/%s", newdir, name);
	if ((ds = dirsync_open(newdir)) == NULL)
		return -1;
	if (fileio_rename_noreplace(tmp, dst) == -1) {
		if (errno != EEXIST) {
			dirsync_close(ds);
			return -1;
		}
		exists = 1;
		(void)unlink(tmp);
	}
	/* Also when it existed: that entry may not be on disk yet. */
	rc = dirsync_commit(ds);
	dirsync_close(ds);
	return rc == -1 ? -1 : exists;
}

/* The names: new/ from u (or fresh), tmp/ always fresh. */
static int
maildir_names(const struct maildir_uniq *u, const char *host, size_t size,
    char *name, size_t namesz, char *tmpname, size_t tmpsz)
{
	struct maildir_uniq fresh;

	clock_gettime(CLOCK_REALTIME, &fresh.ts);
	fresh.pid = (long)getpid();
	fresh.q = atomic_fetch_add(&maildir_counter, 1);
	if (u == NULL)
		u = &fresh;
	if (maildir_filename(name, namesz, &u->ts, (pid_t)u->pid, u->q, host,
	    size) == -1 || maildir_filename(tmpname, tmpsz, &fresh.ts,
	    (pid_t)fresh.pid, fresh.q, host, size) == -1) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

int
maildir_deliver(const char *dir, const char *host,
    const struct maildir_uniq *u, const char *return_path,
    const char *delivered_to, const char *msg, size_t len, char *name,
    size_t namesz, char *why, size_t whysz)
{
	char hdr[2 * ADDR_BUFSZ + 64], tmp[PATH_MAX + NAME_MAX + 8];
	char tmpname[NAME_MAX + 1];
	int fd = -1, hlen, saved, rc;
	const char *step = "open";

	tmp[0] = '\0';
	hlen = snprintf(hdr, sizeof(hdr), "Return-Path: <%s>\nDelivered-To: "
	    "%s\n", return_path, delivered_to);
	if (hlen < 0 || (size_t)hlen >= sizeof(hdr)) {
		errno = ENAMETOOLONG;
		goto fail;
	}
	if (maildir_names(u, host, (size_t)hlen + maildir_lf_size(msg, len),
	    name, namesz, tmpname, sizeof(tmpname)) == -1)
		goto fail;
	if ((fd = maildir_open_tmp(dir, tmpname, tmp, sizeof(tmp))) == -1)
		goto fail;
	step = "write";
	if (maildir_write_lf(fd, hdr, (size_t)hlen, msg, len) == -1)
		goto fail;
	step = "fsync";
	if (fsync(fd) == -1)
		goto fail;
	step = "close";
	saved = close(fd);
	fd = -1;
	if (saved == -1)
		goto fail;
	step = "commit";
	if ((rc = maildir_commit(dir, name, tmp)) == -1)
		goto fail;
	return rc;
fail:
	saved = errno;
	if (fd != -1)
		(void)close(fd);
	if (tmp[0] != '\0' && step[0] != 'o')
		(void)unlink(tmp);
	(void)snprintf(why, whysz, "maildir %s: %s: %s", dir, step,
	    strerror(saved));
	errno = saved;
	return -1;
}
