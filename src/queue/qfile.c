/*
 * Reading committed queue files and listing the queue (see queue/qfile.h).
 * A queue file never changes after its rename into queue/, so a read-only
 * mapping stays valid even if `postern queue delete` unlinks it meanwhile.
 * Owns the mapping of an open struct qfile. Runs in the delivery process
 * (pool threads) and in `postern queue`.
 */
#include "queue/qfile.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "queue/queue_id.h"
#include "util/xmalloc.h"

/* Maps path read-only; an empty file is EINVAL. 0, or -1 (why, errno). */
static int
qfile_map(const char *path, const char **data, size_t *len, char *why,
    size_t whysz)
{
	struct stat sb;
	void *map;
	int fd, saved;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		(void)snprintf(why, whysz, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &sb) == -1) {
		saved = errno;
		goto fail;
	}
	if (sb.st_size == 0) {
		saved = EINVAL;
		goto fail;
	}
	map = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	saved = errno;
	(void)close(fd);
	if (map == MAP_FAILED) {
		(void)snprintf(why, whysz, "mmap %s: %s", path,
		    strerror(saved));
		errno = saved;
		return -1;
	}
	*data = map;
	*len = (size_t)sb.st_size;
	return 0;
fail:
	(void)snprintf(why, whysz, "%s: %s", path,
	    saved == EINVAL ? "empty file" : strerror(saved));
	(void)close(fd);
	errno = saved;
	return -1;
}

int
qfile_open(const char *spool, const char *id, struct qfile *qf,
    char *why, size_t whysz)
{
	char path[PATH_MAX];

	memset(qf, 0, sizeof(*qf));
	if (!queue_id_valid(id) || (size_t)snprintf(path, sizeof(path),
	    "%s/queue/%s", spool, id) >= sizeof(path)) {
		(void)snprintf(why, whysz, "invalid queue id");
		errno = EINVAL;
		return -1;
	}
	if (qfile_map(path, &qf->data, &qf->len, why, whysz) == -1)
		return -1;
	if (envelope_parse(&qf->env, qf->data, qf->len, why, whysz) == -1 ||
	    strcmp(qf->env.id, id) != 0) {
		if (qf->env.id[0] != '\0')
			(void)snprintf(why, whysz, "id %s in file %s",
			    qf->env.id, id);
		qfile_close(qf);
		errno = EINVAL;
		return -1;
	}
	qf->msg = qf->data + qf->env.body_offset;
	qf->msglen = qf->len - qf->env.body_offset;
	return 0;
}

void
qfile_close(struct qfile *qf)
{
	if (qf == NULL)
		return;
	if (qf->data != NULL)
		(void)munmap((void *)qf->data, qf->len);
	envelope_clear(&qf->env);
	memset(qf, 0, sizeof(*qf));
}

size_t
qfile_header_len(const char *msg, size_t len)
{
	size_t i;

	if (len > 0 && msg[0] == '\n')
		return 1;
	if (len > 1 && msg[0] == '\r' && msg[1] == '\n')
		return 2;
	for (i = 0; i + 1 < len; i++) {
		if (msg[i] != '\n')
			continue;
		if (msg[i + 1] == '\n')
			return i + 2;
		if (i + 2 < len && msg[i + 1] == '\r' && msg[i + 2] == '\n')
			return i + 3;
	}
	return len;
}

int
qfile_scan(const char *spool, const char *dir, qfile_id_fn fn, void *arg)
{
	char path[PATH_MAX];
	struct dirent *de;
	DIR *d;
	int rc = 0;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", spool, dir) >=
	    sizeof(path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if ((d = opendir(path)) == NULL)
		return -1;
	while (rc == 0 && (de = readdir(d)) != NULL)
		if (queue_id_valid(de->d_name))
			rc = fn(de->d_name, arg);
	(void)closedir(d);
	return rc;
}

struct qfile_listing {
	char	(*ids)[QUEUE_ID_MAX];
	size_t	  n;
};

static int
qfile_list_add(const char *id, void *arg)
{
	struct qfile_listing *l = arg;

	if ((l->n & (l->n - 1)) == 0)
		l->ids = xreallocarray(l->ids, l->n ? l->n * 2 : 1,
		    sizeof(*l->ids));
	memcpy(l->ids[l->n++], id, QUEUE_ID_LEN + 1);
	return 0;
}

static int
qfile_id_cmp(const void *a, const void *b)
{
	return strcmp(a, b);
}

ssize_t
qfile_list(const char *spool, char (**ids)[QUEUE_ID_MAX])
{
	struct qfile_listing l = { NULL, 0 };

	if (qfile_scan(spool, "queue", qfile_list_add, &l) == -1) {
		free(l.ids);
		return -1;
	}
	if (l.n > 0)
		qsort(l.ids, l.n, sizeof(*l.ids), qfile_id_cmp);
	*ids = l.ids;
	return (ssize_t)l.n;
}

/* Unlinks dir/name if it is older than max_age seconds; 1 if removed. */
static int
qfile_unlink_old(int dfd, const char *name, time_t now, time_t max_age)
{
	struct stat sb;

	if (fstatat(dfd, name, &sb, AT_SYMLINK_NOFOLLOW) == -1 ||
	    !S_ISREG(sb.st_mode) || now - sb.st_mtime < max_age)
		return 0;
	return unlinkat(dfd, name, 0) == 0;
}

/* Whether the state file `name` belongs to no queued message. */
static int
qfile_state_orphan(const char *spool, const char *name)
{
	char path[PATH_MAX];

	if (!queue_id_valid(name))
		return 0;
	(void)snprintf(path, sizeof(path), "%s/queue/%s", spool, name);
	return access(path, F_OK) == -1 && errno == ENOENT;
}

static size_t
qfile_clean_dir(const char *spool, const char *sub, time_t now)
{
	char path[PATH_MAX];
	struct dirent *de;
	size_t removed = 0, n;
	DIR *d;

	(void)snprintf(path, sizeof(path), "%s/%s", spool, sub);
	if ((d = opendir(path)) == NULL)
		return 0;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		n = strlen(de->d_name);
		if (strcmp(sub, "tmp") == 0)
			removed += qfile_unlink_old(dirfd(d), de->d_name, now,
			    QFILE_TMP_MAX_AGE);
		else if (n > 4 && strcmp(de->d_name + n - 4, ".tmp") == 0)
			removed += qfile_unlink_old(dirfd(d), de->d_name, now,
			    3600);
		else if (qfile_state_orphan(spool, de->d_name))
			removed += unlinkat(dirfd(d), de->d_name, 0) == 0;
	}
	(void)closedir(d);
	return removed;
}

size_t
qfile_cleanup(const char *spool, time_t now)
{
	return qfile_clean_dir(spool, "tmp", now) +
	    qfile_clean_dir(spool, "state", now);
}
