/*
 * Formats the server's SMTP replies ("CODE ENH TEXT\r\n") from the table
 * compiled from data/replies/server.tsv, the only source of reply text.
 * Writes into caller buffers; owns nothing. Pure; any process, any
 * thread.
 */
#include "replies/replies.h"

#include <stdio.h>

int
reply_vformat(char *buf, size_t bufsz, enum reply_id id, int more,
    va_list ap)
{
	const struct server_reply *r = &server_replies[id];
	int n, m;

	if (r->enhanced[0] != '\0')
		n = snprintf(buf, bufsz, "%d%c%s ", r->code, more ? '-' : ' ',
		    r->enhanced);
	else
		n = snprintf(buf, bufsz, "%d%c", r->code, more ? '-' : ' ');
	if (n < 0 || (size_t)n >= bufsz)
		return -1;
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
	m = vsnprintf(buf + n, bufsz - n, r->text, ap);
#pragma GCC diagnostic pop
	if (m < 0 || (size_t)(n + m + 2) >= bufsz)
		return -1;
	n += m;
	buf[n++] = '\r';
	buf[n++] = '\n';
	buf[n] = '\0';
	return n;
}

int
reply_format(char *buf, size_t bufsz, enum reply_id id, int more, ...)
{
	va_list ap;
	int n;

	va_start(ap, more);
	n = reply_vformat(buf, bufsz, id, more, ap);
	va_end(ap);
	return n;
}
