/*
 * File I/O helpers (see util/fileio.h): the complete write and the
 * rename without replacing that the spool, the delivery state files and
 * Maildir delivery all need for their durable commits. Owns nothing;
 * callers keep their descriptors and paths. Any process, any thread
 * (blocking calls: the event-loop processes use them from pool threads).
 */
#include "util/fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

int
fileio_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	ssize_t n;

	while (len > 0) {
		if ((n = write(fd, p, len)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int
fileio_rename_noreplace(const char *from, const char *to)
{
	if (renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno != EINVAL && errno != ENOSYS)
		return -1;
	/* A file system without RENAME_NOREPLACE: link fails on EEXIST. */
	if (link(from, to) == -1)
		return -1;
	(void)unlink(from);
	return 0;
}
