/*
 * libFuzzer: what the SMTP client reads and writes (src/smtp/client_reply.c,
 * client_data.c). The input is cut into lines at LF (a CR before it is
 * dropped) and fed to the reply parser as a server would send them; each
 * complete reply goes through the EHLO keyword reader and the one-line
 * formatter. The same bytes also go through the dot-stuffing encoder in
 * chunks, whose output must be CRLF-clean, never hold an end-of-data
 * before the real one, and stay within the documented bound.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smtp/client.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
replies(const char *s, size_t size)
{
	struct smtp_reply_parser p;
	struct smtp_ehlo e;
	char why[128], line[SMTP_REPLY_TEXT_MAX + 32], *copy;
	size_t pos = 0, len;
	const char *nl;

	smtp_reply_parser_init(&p);
	while (pos < size) {
		nl = memchr(s + pos, '\n', size - pos);
		len = nl != NULL ? (size_t)(nl - (s + pos)) : size - pos;
		if (len > 0 && s[pos + len - 1] == '\r')
			len--;
		/* an exact-size copy, so that overreads are caught */
		if ((copy = malloc(len > 0 ? len : 1)) == NULL)
			return;
		memcpy(copy, s + pos, len);
		switch (smtp_reply_parse_line(&p, copy, len, why,
		    sizeof(why))) {
		case SMTP_REPLY_DONE:
			if (p.reply.code < 200 || p.reply.code > 599 ||
			    strlen(p.reply.text) >= SMTP_REPLY_TEXT_MAX)
				abort();
			smtp_ehlo_parse(&p.reply, &e);
			(void)smtp_ehlo_has_mech(&e, "PLAIN");
			(void)smtp_reply_format(&p.reply, line, sizeof(line));
			smtp_reply_parser_init(&p);
			break;
		case SMTP_REPLY_ERROR:
			smtp_reply_parser_init(&p);
			break;
		case SMTP_REPLY_MORE:
			break;
		}
		free(copy);
		pos += (nl != NULL ? (size_t)(nl - (s + pos)) + 1 : size - pos);
	}
}

/* Every CR is followed by LF, every LF preceded by CR. */
static void
check_crlf(const char *out, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		if (out[i] == '\r' && (i + 1 == len || out[i + 1] != '\n'))
			abort();
		if (out[i] == '\n' && (i == 0 || out[i - 1] != '\r'))
			abort();
	}
}

static void
body(const char *s, size_t size)
{
	struct smtp_dotstuff d;
	size_t chunk = size > 0 ? (unsigned char)s[0] % 17 + 1 : 1;
	size_t pos, n, o = 0;
	char *out;

	if ((out = malloc(2 * size + 16)) == NULL)
		return;
	smtp_dotstuff_init(&d, 1);
	for (pos = 0; pos < size; pos += n) {
		n = size - pos < chunk ? size - pos : chunk;
		o += smtp_dotstuff_encode(&d, s + pos, n, out + o);
		if (o > 2 * (pos + n) + 2)
			abort();
	}
	o += smtp_dotstuff_end(&d, out + o);
	check_crlf(out, o);
	/* the only end of data is the last five octets (or all three) */
	if (o < 3 || memcmp(out + o - 3, ".\r\n", 3) != 0)
		abort();
	if (o >= 5 && memcmp(out + o - 5, "\r\n.\r\n", 5) != 0)
		abort();
	if (o > 5 && memmem(out, o - 3, "\r\n.\r\n", 5) != NULL)
		abort();
	if (o > 3 && memcmp(out, ".\r\n", 3) == 0)
		abort();
	free(out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	replies((const char *)data, size);
	body((const char *)data, size);
	return 0;
}
