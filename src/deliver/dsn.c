/*
 * Bounces: RFC 3464 delivery status notifications (see deliver/dsn.h).
 *
 *   multipart/report; report-type=delivery-status
 *     1. text/plain: what failed and why, with the catalogue's title of
 *        each status code
 *     2. message/delivery-status: Reporting-MTA, Arrival-Date, then per
 *        recipient Final-Recipient, Action: failed, Status,
 *        Diagnostic-Code, Last-Attempt-Date
 *     3. text/rfc822-headers: the original message's headers
 *
 * With SMTPUTF8 (RFC 6533) parts 2 and 3 become message/global-delivery-
 * status and message/global-headers and non-ASCII addresses use the
 * "utf-8" address type. Owns only the buffers of one call. Pure except
 * dsn_queue(), which writes the spool (pool threads of the delivery
 * process, or any process that may block).
 */
#include "deliver/dsn.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/conf.h"
#include "queue/qfile.h"
#include "queue/spool.h"
#include "replies/catalogue.h"
#include "util/log.h"

static const char *const dsn_days[] = { "Sun", "Mon", "Tue", "Wed", "Thu",
    "Fri", "Sat" };
static const char *const dsn_months[] = { "Jan", "Feb", "Mar", "Apr", "May",
    "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };

int
dsn_date(time_t t, char *buf, size_t bufsz)
{
	struct tm tm;
	long off;
	int n;

	if (localtime_r(&t, &tm) == NULL)
		return -1;
	off = tm.tm_gmtoff / 60;
	n = snprintf(buf, bufsz, "%s, %d %s %d %02d:%02d:%02d %c%02ld%02ld",
	    dsn_days[tm.tm_wday], tm.tm_mday, dsn_months[tm.tm_mon],
	    tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec,
	    off < 0 ? '-' : '+', labs(off) / 60, labs(off) % 60);
	return (n < 0 || (size_t)n >= bufsz) ? -1 : 0;
}

void
dsn_status_of(const char *reply, char *buf, size_t bufsz)
{
	struct cat_reply r;

	if (cat_parse_reply(reply, strlen(reply), &r) == 0 &&
	    r.enh_cls != 0) {
		(void)snprintf(buf, bufsz, "%d.%d.%d", r.enh_cls,
		    r.enh_subject, r.enh_detail);
		return;
	}
	(void)snprintf(buf, bufsz, "%c.0.0", reply[0] == '4' ? '4' : '5');
}

/* Writes a line ending in CRLF. */
static void dsn_line(FILE *fp, const char *fmt, ...) PRINTFLIKE(2, 3);

static void
dsn_line(FILE *fp, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfprintf(fp, fmt, ap);
	va_end(ap);
	fputs("\r\n", fp);
}

static int
dsn_is_ascii(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s >= 0x80)
			return 0;
	return 1;
}

/* The catalogue's title for an enhanced status "C.S.D", or NULL. */
static const char *
dsn_status_title(const char *status)
{
	const struct cat_entry *e;
	struct cat_code c;

	if (cat_parse_code(status, strlen(status), &c) == -1 ||
	    c.type != CAT_CODE_ENHANCED)
		return NULL;
	if ((e = cat_enhanced(c.subject, c.detail)) == NULL)
		return NULL;
	return e->text[CAT_LANG_EN].title;
}

static void
dsn_write_headers(FILE *fp, const struct conf *conf,
    const struct envelope *env, const char *dsn_id, const char *boundary,
    const char *date)
{
	dsn_line(fp, "Received: by %s (Postern) with local id %s;",
	    conf->hostname, dsn_id);
	dsn_line(fp, "\t%s", date);
	dsn_line(fp, "Date: %s", date);
	dsn_line(fp, "From: Mail Delivery System <MAILER-DAEMON@%s>",
	    conf->hostname);
	dsn_line(fp, "To: <%s>", env->sender);
	dsn_line(fp, "Subject: Undelivered Mail Returned to Sender");
	dsn_line(fp, "Message-ID: <%s@%s>", dsn_id, conf->hostname);
	dsn_line(fp, "Auto-Submitted: auto-replied");
	dsn_line(fp, "MIME-Version: 1.0");
	dsn_line(fp, "Content-Type: multipart/report; "
	    "report-type=delivery-status;");
	dsn_line(fp, "\tboundary=\"%s\"", boundary);
	dsn_line(fp, "%s", "");
	dsn_line(fp, "This is a MIME-encapsulated message.");
	dsn_line(fp, "%s", "");
}

static void
dsn_write_text(FILE *fp, const struct conf *conf, const struct dsn_rcpt *r,
    size_t n, const char *boundary)
{
	const char *title;
	size_t i;

	dsn_line(fp, "--%s", boundary);
	dsn_line(fp, "Content-Description: Notification");
	dsn_line(fp, "Content-Type: text/plain; charset=utf-8");
	dsn_line(fp, "%s", "");
	dsn_line(fp, "This is the mail system at host %s.", conf->hostname);
	dsn_line(fp, "%s", "");
	dsn_line(fp, "Your message could not be delivered to the recipients "
	    "below; no further");
	dsn_line(fp, "attempts will be made. The delivery report and the "
	    "headers of your");
	dsn_line(fp, "message are attached.");
	for (i = 0; i < n; i++) {
		dsn_line(fp, "%s", "");
		dsn_line(fp, "<%s>:", r[i].addr);
		if (r[i].expired)
			dsn_line(fp, "    delivery time expired: still "
			    "undeliverable after %u seconds in the queue;",
			    conf->max_queue_time);
		dsn_line(fp, "    %s%s", r[i].expired ? "last error: " : "",
		    r[i].diag);
		if ((title = dsn_status_title(r[i].status)) != NULL)
			dsn_line(fp, "    (%s: %s)", r[i].status, title);
	}
	dsn_line(fp, "%s", "");
}

static void
dsn_write_status(FILE *fp, const struct conf *conf,
    const struct envelope *env, const struct dsn_rcpt *r, size_t n,
    const char *boundary, time_t now)
{
	char date[64];
	size_t i;

	dsn_line(fp, "--%s", boundary);
	dsn_line(fp, "Content-Description: Delivery report");
	dsn_line(fp, "Content-Type: message/%sdelivery-status",
	    env->smtputf8 ? "global-" : "");
	dsn_line(fp, "%s", "");
	dsn_line(fp, "Reporting-MTA: dns; %s", conf->hostname);
	dsn_line(fp, "X-Postern-Queue-ID: %s", env->id);
	if (dsn_date(env->created, date, sizeof(date)) == 0)
		dsn_line(fp, "Arrival-Date: %s", date);
	(void)dsn_date(now, date, sizeof(date));
	for (i = 0; i < n; i++) {
		dsn_line(fp, "%s", "");
		dsn_line(fp, "Final-Recipient: %s; %s",
		    dsn_is_ascii(r[i].addr) ? "rfc822" : "utf-8", r[i].addr);
		dsn_line(fp, "Action: failed");
		dsn_line(fp, "Status: %s", r[i].status);
		if (r[i].remote_mta != NULL)
			dsn_line(fp, "Remote-MTA: dns; %s", r[i].remote_mta);
		dsn_line(fp, "Diagnostic-Code: smtp; %s", r[i].diag);
		dsn_line(fp, "Last-Attempt-Date: %s", date);
	}
	dsn_line(fp, "%s", "");
}

/* The original header section, without its blank line, at most
 * DSN_HEADERS_MAX bytes cut at a line end. */
static size_t
dsn_headers_len(const char *msg, size_t msglen)
{
	size_t len = qfile_header_len(msg, msglen);

	if (len >= 2 && msg[len - 1] == '\n' && msg[len - 2] == '\n')
		len--;
	else if (len >= 4 && memcmp(msg + len - 4, "\r\n\r\n", 4) == 0)
		len -= 2;
	while (len > DSN_HEADERS_MAX)
		for (len = DSN_HEADERS_MAX; len > 0 && msg[len - 1] != '\n';
		    len--)
			;
	return len;
}

static void
dsn_write_original(FILE *fp, const struct envelope *env, const char *msg,
    size_t msglen, const char *boundary)
{
	size_t hlen = dsn_headers_len(msg, msglen);

	dsn_line(fp, "--%s", boundary);
	dsn_line(fp, "Content-Description: Undelivered Message Headers");
	dsn_line(fp, "Content-Type: %s", env->smtputf8 ?
	    "message/global-headers" : "text/rfc822-headers");
	dsn_line(fp, "%s", "");
	fwrite(msg, 1, hlen, fp);
	if (hlen > 0 && msg[hlen - 1] != '\n')
		fputs("\r\n", fp);
	dsn_line(fp, "%s", "");
	dsn_line(fp, "--%s--", boundary);
}

/* A boundary that the included headers do not contain. */
static void
dsn_boundary(char *buf, size_t bufsz, const char *dsn_id, const char *host,
    const char *msg, size_t msglen)
{
	size_t hlen = dsn_headers_len(msg, msglen);
	unsigned k = 0;

	do {
		(void)snprintf(buf, bufsz, "%s.%u/%s", dsn_id, k++, host);
	} while (memmem(msg, hlen, buf, strlen(buf)) != NULL && k < 1000);
}

int
dsn_build(const struct conf *conf, const struct envelope *env,
    const char *msg, size_t msglen, const struct dsn_rcpt *rcpts, size_t n,
    const char *dsn_id, time_t now, char **out, size_t *outlen)
{
	char boundary[384], date[64];
	FILE *fp;

	*out = NULL;
	if (n == 0 || dsn_date(now, date, sizeof(date)) == -1) {
		errno = EINVAL;
		return -1;
	}
	dsn_boundary(boundary, sizeof(boundary), dsn_id, conf->hostname, msg,
	    msglen);
	if ((fp = open_memstream(out, outlen)) == NULL)
		return -1;
	dsn_write_headers(fp, conf, env, dsn_id, boundary, date);
	dsn_write_text(fp, conf, rcpts, n, boundary);
	dsn_write_status(fp, conf, env, rcpts, n, boundary, now);
	dsn_write_original(fp, env, msg, msglen, boundary);
	if (ferror(fp)) {
		(void)fclose(fp);
		free(*out);
		*out = NULL;
		errno = ENOMEM;
		return -1;
	}
	return fclose(fp) == 0 ? 0 : -1;
}

/* Writes the envelope of the bounce and the text into f. */
static int
dsn_spool(struct spool_file *f, const struct envelope *orig,
    const char *text, size_t len, time_t now)
{
	struct envelope env;
	char hdr[2048], *rcpt = (char *)orig->sender;
	int hlen;

	memset(&env, 0, sizeof(env));
	memcpy(env.id, spool_file_id(f), QUEUE_ID_MAX);
	env.created = now;
	env.sender = "";
	env.client = "local";
	env.body_8bit = orig->smtputf8;
	env.smtputf8 = orig->smtputf8;
	env.rcpts = &rcpt;
	env.nrcpts = 1;
	if ((hlen = envelope_format(&env, hdr, sizeof(hdr))) == -1) {
		errno = EINVAL;
		return -1;
	}
	if (spool_write(f, hdr, (size_t)hlen) == -1 ||
	    spool_write(f, text, len) == -1)
		return -1;
	return 0;
}

int
dsn_queue(const struct conf *conf, const struct envelope *env,
    const char *msg, size_t msglen, const struct dsn_rcpt *rcpts, size_t n,
    char id[QUEUE_ID_MAX])
{
	struct spool_file *f = NULL;
	char *text = NULL;
	size_t len;
	time_t now = time(NULL);
	int saved;

	if (env->sender[0] == '\0') {
		errno = EINVAL;
		return -1;
	}
	if (spool_create(conf->spool, &f) == -1)
		return -1;
	memcpy(id, spool_file_id(f), QUEUE_ID_MAX);
	if (dsn_build(conf, env, msg, msglen, rcpts, n, id, now, &text,
	    &len) == -1 || dsn_spool(f, env, text, len, now) == -1)
		goto fail;
	free(text);
	text = NULL;
	if (spool_commit(f) == -1) {
		f = NULL;
		goto fail;
	}
	spool_wakeup(conf->spool);
	return 0;
fail:
	saved = errno;
	spool_abort(f);
	free(text);
	errno = saved;
	return -1;
}
