/*
 * Writing messages into the spool: spool/tmp/ID -> fsync -> rename to
 * spool/queue/ID -> fsync spool/queue. Every function here may block: call
 * them from a pool thread (src/util/pool.h), never on an event loop.
 * Safe to call from several threads at once; directory fsyncs are shared
 * between concurrent commits (group commit).
 *
 * Spool layout (spool_init creates it, mode 0700):
 *   tmp/    messages being written       queue/  committed messages
 *   state/  per-message delivery state   wakeup  FIFO the delivery process reads
 */
#ifndef POSTERN_SPOOL_H
#define POSTERN_SPOOL_H

#include <stddef.h>
#include <sys/types.h>

#include "queue/envelope.h"

struct spool_file;

/* Creates the spool directories and FIFO if missing. 0 or -1 with why. */
int spool_init(const char *spool_dir, char *why, size_t whysz);

/* Picks a new queue ID and opens tmp/ID. 0, or -1 with errno set. */
int spool_create(const char *spool_dir, struct spool_file **out);
const char *spool_file_id(const struct spool_file *f);

/*
 * As spool_create, with an ID the caller made with queue_id_new() (so the
 * Received: header can name it before the file exists). EEXIST if taken.
 */
int spool_create_id(const char *spool_dir, const char *id,
    struct spool_file **out);

/* Appends bytes (buffered in the file object). 0, or -1 with errno set. */
int spool_write(struct spool_file *f, const void *buf, size_t len);

/*
 * Flushes, fsyncs, closes, renames into queue/, fsyncs queue/ and frees f.
 * Returns 0 only when the message is durable; on -1 (errno set) the tmp
 * file is removed and f is freed too.
 */
int spool_commit(struct spool_file *f);

/* Closes and removes the tmp file, frees f. NULL: no-op. */
void spool_abort(struct spool_file *f);

/* Tells the delivery process new mail is queued (non-blocking, best effort). */
void spool_wakeup(const char *spool_dir);

/* Additions beyond the first interface. */

/* Sets the owner of the file being written (sendmail run as root). */
int spool_set_owner(struct spool_file *f, uid_t uid, gid_t gid);

/*
 * Sends one command line (ending in "\n", shorter than PIPE_BUF) to the
 * delivery process through the FIFO: "\n" new mail, "F\n" flush the whole
 * queue, "F ID\n" flush one message. 0, or -1 with errno: ENXIO when the
 * delivery process is not running, EAGAIN when its FIFO is full.
 */
int spool_notify(const char *spool_dir, const char *msg);

#endif
