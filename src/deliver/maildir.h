/*
 * Maildir delivery (https://cr.yp.to/proto/maildir.html): the message is
 * written to DIR/tmp/NAME with LF line endings and `Return-Path:` and
 * `Delivered-To:` prepended, fsync'ed, renamed to DIR/new/NAME, and DIR/new
 * is fsync'ed (group commit, shared by concurrent deliveries). Blocking:
 * pool threads only. Thread-safe.
 */
#ifndef POSTERN_MAILDIR_H
#define POSTERN_MAILDIR_H

#include <stddef.h>
#include <sys/types.h>
#include <time.h>

/*
 * 1 if s may replace %u or %d in the maildir pattern: not empty, no '/',
 * no control character, not starting with '.' (so "..", ".x" and absolute
 * paths are impossible and no value escapes its directory).
 */
int maildir_safe_part(const char *s);

/*
 * Expands pattern (%u user, %d domain, %% a percent sign) into out.
 * 0, or -1 with errno EINVAL (unsafe value or unknown %-sequence, reason
 * in why) or ENAMETOOLONG.
 */
int maildir_path(const char *pattern, const char *user, const char *domain,
    char *out, size_t outsz, char *why, size_t whysz);

/*
 * A unique file name per the Maildir convention:
 * SECONDS.M<usec>P<pid>Q<n>.<host>,S=<size>, where '/' and ':' in host are
 * written \057 and \072. 0, or -1 if it does not fit.
 */
int maildir_filename(char *buf, size_t bufsz, const struct timespec *ts,
    pid_t pid, unsigned long n, const char *host, size_t size);

/* Size of msg once every CRLF becomes LF. */
size_t maildir_lf_size(const char *msg, size_t len);

/*
 * Creates dir and its tmp/, new/ and cur/ (mode 0700) as needed, fsyncing
 * the parent of every directory it creates. 0 or -1 with errno.
 */
int maildir_create(const char *dir);

/* The unique part of a file name: SECONDS.M<usec>P<pid>Q<n>. */
struct maildir_uniq {
	struct timespec	ts;
	long		pid;
	unsigned long	q;
};

/*
 * Delivers msg (CRLF line endings, as spooled) into Maildir dir; the
 * prepended headers are "Return-Path: <return_path>" and
 * "Delivered-To: delivered_to". The name in new/ is built from u; NULL
 * means this process, now, and its own counter. The delivery process
 * passes the parts of the queue ID, so the same message gets the same
 * name in a mailbox and a redelivery after a crash finds it there instead
 * of making a second copy. The name (in new/) goes to name. Returns 0
 * when delivered, 1 when new/NAME already existed (nothing written, the
 * directory fsync'ed), -1 with errno (every failure is an environment
 * error: retry later) and a reason in why.
 */
int maildir_deliver(const char *dir, const char *host,
    const struct maildir_uniq *u, const char *return_path,
    const char *delivered_to, const char *msg, size_t len, char *name,
    size_t namesz, char *why, size_t whysz);

#endif
