/*
 * Group commit of directory fsyncs. After renaming a file into a directory,
 * the entry is durable only once the directory is fsync'ed. When several
 * threads do that at once, one fsync covers every rename that finished
 * before it started: dirsync_commit() waits for such a covering fsync (or
 * runs it itself) instead of issuing one per file.
 *
 * Objects are shared by path within the process and reference counted;
 * every function is thread-safe and may block (pool threads only).
 */
#ifndef POSTERN_DIRSYNC_H
#define POSTERN_DIRSYNC_H

#include <stdint.h>

struct dirsync;

/*
 * Returns the shared object for directory `path` (opened on first use),
 * taking a reference; NULL with errno set if the directory cannot be opened.
 */
struct dirsync *dirsync_open(const char *path);

/* Drops a reference; the last one closes the directory. NULL: no-op. */
void dirsync_close(struct dirsync *ds);

/*
 * Call after a rename/link/unlink in the directory has returned. Returns 0
 * once an fsync of the directory that started after this call began has
 * succeeded; -1 with errno set if that fsync failed.
 */
int dirsync_commit(struct dirsync *ds);

/* Counters since the object was opened: commits and fsyncs issued. */
void dirsync_stats(struct dirsync *ds, uint64_t *commits, uint64_t *syncs);

#endif
