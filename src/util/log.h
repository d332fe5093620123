/*
 * Logging: one line per event on stderr, "TIME PROC[PID]: LEVEL message".
 * Messages are key=value pairs by convention ("session=... event=...").
 * log_warn()/log_err() append strerror(errno); the *x variants do not.
 * fatal() logs and aborts (internal bugs only: nothing a peer sends may
 * reach it).
 */
#ifndef POSTERN_LOG_H
#define POSTERN_LOG_H

#include <stddef.h>

#define PRINTFLIKE(f, a) __attribute__((format(printf, f, a)))

enum log_level { LOG_LEVEL_DEBUG, LOG_LEVEL_INFO, LOG_LEVEL_WARN,
    LOG_LEVEL_ERR };

void log_init(const char *proc_name, enum log_level min_level);
void log_set_proc(const char *proc_name);
void log_debug(const char *fmt, ...) PRINTFLIKE(1, 2);
void log_info(const char *fmt, ...) PRINTFLIKE(1, 2);
void log_warn(const char *fmt, ...) PRINTFLIKE(1, 2);
void log_warnx(const char *fmt, ...) PRINTFLIKE(1, 2);
void log_err(const char *fmt, ...) PRINTFLIKE(1, 2);
void fatal(const char *fmt, ...) PRINTFLIKE(1, 2) __attribute__((noreturn));
void fatalx(const char *fmt, ...) PRINTFLIKE(1, 2) __attribute__((noreturn));

/*
 * Copies peer-supplied bytes into dst as printable ASCII (others as \xNN),
 * at most 100 input bytes, for logging. Always NUL-terminates; returns dst.
 */
#define LOG_SAFE_MAX 100
#define LOG_SAFE_BUFSZ (LOG_SAFE_MAX * 4 + 4)
char *log_safe(char *dst, size_t dstsz, const char *src, size_t srclen);

/*
 * As log_safe(), and a space becomes \x20 too: for a value written
 * without quotes (user=..., to=<...>), so that peer text cannot add
 * key=value fields of its own.
 */
char *log_safe_word(char *dst, size_t dstsz, const char *src, size_t srclen);

#endif
