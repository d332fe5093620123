/*
 * File I/O helpers shared by the spool, the delivery state files and
 * Maildir delivery: a write that finishes or fails, and a rename that
 * never replaces its target. No SMTP knowledge; any process, any thread.
 */
#ifndef POSTERN_FILEIO_H
#define POSTERN_FILEIO_H

#include <stddef.h>

/*
 * Writes all len bytes of buf to fd, retrying short writes and EINTR.
 * Returns 0, or -1 with errno from write(2).
 */
int fileio_write_all(int fd, const void *buf, size_t len);

/*
 * Renames from to to unless to exists. On a file system without
 * RENAME_NOREPLACE it falls back to link(2) and unlink(2), which never
 * replace either. Returns 0, or -1 with errno (EEXIST: to exists and from
 * is left in place).
 */
int fileio_rename_noreplace(const char *from, const char *to);

#endif
