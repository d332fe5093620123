/* The Received: trace header (RFC 5321 §4.4, RFC 3848 protocol types). */
#ifndef POSTERN_SMTP_RECEIVED_H
#define POSTERN_SMTP_RECEIVED_H

#include <stddef.h>
#include <time.h>

struct received_info {
	const char	*helo;		/* as the client gave it */
	const char	*client;	/* IP address text */
	int		 ipv6;
	const char	*hostname;	/* ours */
	int		 esmtp;
	int		 tls;
	int		 authenticated;
	int		 utf8;		/* the message came with SMTPUTF8 */
	const char	*tls_desc;	/* "TLSv1.3 with cipher ..." or NULL */
	const char	*id;		/* queue id */
	const char	*rcpt;		/* the recipient when there is one, else NULL */
	time_t		 when;
};

/* "with" keyword: SMTP, ESMTP[S][A] or UTF8SMTP[S][A]. */
const char *received_protocol(int esmtp, int tls, int authenticated,
    int utf8);

/* Formats the header, folded, CRLF-terminated. Length, or -1. */
int received_format(const struct received_info *ri, char *buf, size_t bufsz);

/* RFC 5322 date-time in UTC, e.g. "Mon, 30 Nov 2026 01:23:45 +0000". */
int received_date(time_t when, char *buf, size_t bufsz);

#endif
