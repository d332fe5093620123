/*
 * Logging to stderr with a UTC timestamp, process name and pid, and the
 * escaping of peer text for log lines (log_safe). Owns the process-wide
 * log settings: the process name and the minimum level. Runs in every
 * process; the process name is set after fork.
 */
#include "util/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static char log_proc[32] = "postern";
static enum log_level log_min = LOG_LEVEL_INFO;

void
log_init(const char *proc_name, enum log_level min_level)
{
	log_set_proc(proc_name);
	log_min = min_level;
}

void
log_set_proc(const char *proc_name)
{
	(void)snprintf(log_proc, sizeof(log_proc), "%s", proc_name);
}

static const char *
log_level_str(enum log_level level)
{
	switch (level) {
	case LOG_LEVEL_DEBUG: return "debug";
	case LOG_LEVEL_INFO: return "info";
	case LOG_LEVEL_WARN: return "warn";
	case LOG_LEVEL_ERR: return "err";
	}
	return "?";
}

static void log_vwrite(enum log_level, int, const char *, va_list)
    __attribute__((format(printf, 3, 0)));

static void
log_vwrite(enum log_level level, int errnum, const char *fmt, va_list ap)
{
	char line[2048], stamp[32];
	struct timespec ts;
	struct tm tm;
	int n, m;

	if (level < log_min)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
	n = snprintf(line, sizeof(line), "%s.%03ldZ %s[%d]: %s: ", stamp,
	    ts.tv_nsec / 1000000, log_proc, (int)getpid(),
	    log_level_str(level));
	if (n < 0 || (size_t)n >= sizeof(line))
		return;
	m = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
	if (m < 0)
		return;
	n = (size_t)(n + m) >= sizeof(line) - 64 ? (int)sizeof(line) - 64
	    : n + m;
	if (errnum)
		n += snprintf(line + n, sizeof(line) - n, " error=\"%s\"",
		    strerror(errnum));
	line[n++] = '\n';
	/* One write(2) per line keeps lines from several processes whole. */
	(void)!write(STDERR_FILENO, line, n);
}

#define LOG_FN(name, level, with_errno)                                   \
	void name(const char *fmt, ...)                                   \
	{                                                                 \
		int saved = errno;                                        \
		va_list ap;                                               \
		va_start(ap, fmt);                                        \
		log_vwrite(level, with_errno ? saved : 0, fmt, ap);       \
		va_end(ap);                                               \
		errno = saved;                                            \
	}

LOG_FN(log_debug, LOG_LEVEL_DEBUG, 0)
LOG_FN(log_info, LOG_LEVEL_INFO, 0)
LOG_FN(log_warn, LOG_LEVEL_WARN, 1)
LOG_FN(log_warnx, LOG_LEVEL_WARN, 0)
LOG_FN(log_err, LOG_LEVEL_ERR, 1)

void
fatal(const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	va_start(ap, fmt);
	log_vwrite(LOG_LEVEL_ERR, saved, fmt, ap);
	va_end(ap);
	abort();
}

void
fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vwrite(LOG_LEVEL_ERR, 0, fmt, ap);
	va_end(ap);
	abort();
}

static char *
log_escape(char *dst, size_t dstsz, const char *src, size_t srclen,
    int word)
{
	static const char hex[] = "0123456789abcdef";
	size_t i, o = 0;

	if (dstsz == 0)
		return dst;
	if (srclen > LOG_SAFE_MAX)
		srclen = LOG_SAFE_MAX;
	for (i = 0; i < srclen && o + 5 < dstsz; i++) {
		unsigned char c = (unsigned char)src[i];
		if (c > (word ? 0x20 : 0x1f) && c < 0x7f && c != '\\' &&
		    c != '"') {
			dst[o++] = (char)c;
		} else {
			dst[o++] = '\\';
			dst[o++] = 'x';
			dst[o++] = hex[c >> 4];
			dst[o++] = hex[c & 15];
		}
	}
	dst[o] = '\0';
	return dst;
}

char *
log_safe(char *dst, size_t dstsz, const char *src, size_t srclen)
{
	return log_escape(dst, dstsz, src, srclen, 0);
}

char *
log_safe_word(char *dst, size_t dstsz, const char *src, size_t srclen)
{
	return log_escape(dst, dstsz, src, srclen, 1);
}
