/*
 * The SMTP client's reading of server replies: a bounded line-by-line
 * parser for (multi-line) replies with RFC 2034 enhanced status codes,
 * locally made replies, one-line formatting, and the EHLO keyword list.
 * Pure: no I/O, no allocation; owns nothing. Runs wherever the client
 * runs (delivery process, command line). Fuzzed by
 * tests/fuzz/client_reply_fuzz.c.
 */
#include "smtp/client.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void
smtp_reply_parser_init(struct smtp_reply_parser *p)
{
	memset(p, 0, sizeof(*p));
}

static int
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/*
 * Length of an enhanced code "c.sss.ddd" at s[0..len) of class cls,
 * followed by a space or the end; 0 if there is none.
 */
static size_t
enh_len(const char *s, size_t len, int cls)
{
	size_t i = 2, n;
	int part;

	if (len < 5 || s[0] != '0' + cls || s[1] != '.')
		return 0;
	for (part = 0; part < 2; part++) {
		for (n = 0; i < len && is_digit(s[i]) && n < 4; i++)
			n++;
		if (n == 0 || n > 3)
			return 0;
		if (part == 0) {
			if (i >= len || s[i] != '.')
				return 0;
			i++;
		}
	}
	return (i == len || s[i] == ' ') ? i : 0;
}

/* Appends text to the reply, '\n' between lines, control chars as '?'. */
static void
append_text(struct smtp_reply_parser *p, const char *s, size_t len)
{
	struct smtp_reply *r = &p->reply;
	size_t i;

	if (r->nlines > 1) {
		if (p->textlen + 1 >= sizeof(r->text)) {
			r->truncated = 1;
			return;
		}
		r->text[p->textlen++] = '\n';
	}
	for (i = 0; i < len; i++) {
		if (p->textlen + 1 >= sizeof(r->text)) {
			r->truncated = 1;
			break;
		}
		r->text[p->textlen++] = ((unsigned char)s[i] < 0x20 &&
		    s[i] != '\t') || s[i] == 0x7f ? '?' : s[i];
	}
	r->text[p->textlen] = '\0';
}

static enum smtp_reply_state
reply_error(char *why, size_t whysz, const char *msg)
{
	(void)snprintf(why, whysz, "malformed reply: %s", msg);
	return SMTP_REPLY_ERROR;
}

enum smtp_reply_state
smtp_reply_parse_line(struct smtp_reply_parser *p, const char *line,
    size_t len, char *why, size_t whysz)
{
	struct smtp_reply *r = &p->reply;
	int code, last;
	size_t off = 4, e;

	if (len > SMTP_CLIENT_LINE_MAX)
		return reply_error(why, whysz, "line too long");
	if (r->nlines >= SMTP_CLIENT_REPLY_LINES)
		return reply_error(why, whysz, "too many lines");
	if (len < 3 || line[0] < '2' || line[0] > '5' || !is_digit(line[1]) ||
	    !is_digit(line[2]))
		return reply_error(why, whysz, "no reply code");
	code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + line[2] - '0';
	if (len > 3 && line[3] != ' ' && line[3] != '-')
		return reply_error(why, whysz, "bad separator after the code");
	if (r->nlines > 0 && code != r->code)
		return reply_error(why, whysz, "code differs between lines");
	last = len == 3 || line[3] == ' ';
	r->code = code;
	r->nlines++;
	if (len <= 3)
		off = len;
	e = enh_len(line + off, len - off, code / 100);
	if (e > 0) {
		if (r->enh[0] == '\0')
			(void)snprintf(r->enh, sizeof(r->enh), "%.*s", (int)e,
			    line + off);
		off += e;
		if (off < len)
			off++;	/* the space after it */
	}
	append_text(p, line + off, len - off);
	return last ? SMTP_REPLY_DONE : SMTP_REPLY_MORE;
}

void
smtp_reply_local(struct smtp_reply *r, int code, const char *enh,
    const char *fmt, ...)
{
	va_list ap;

	memset(r, 0, sizeof(*r));
	r->code = code;
	r->local = 1;
	r->nlines = 1;
	(void)snprintf(r->enh, sizeof(r->enh), "%s", enh);
	va_start(ap, fmt);
	if (vsnprintf(r->text, sizeof(r->text), fmt, ap) >=
	    (int)sizeof(r->text))
		r->truncated = 1;
	va_end(ap);
}

int
smtp_reply_format(const struct smtp_reply *r, char *buf, size_t bufsz)
{
	size_t o, i;
	int n;

	if (bufsz == 0)
		return -1;
	n = snprintf(buf, bufsz, "%d%s%s%s", r->code, r->enh[0] ? " " : "",
	    r->enh, r->text[0] ? " " : "");
	if (n < 0 || (size_t)n >= bufsz)
		return -1;
	o = (size_t)n;
	for (i = 0; r->text[i] != '\0'; i++) {
		if (o + 1 >= bufsz) {
			buf[o] = '\0';
			return -1;
		}
		buf[o++] = r->text[i] == '\n' ? ' ' : r->text[i];
	}
	buf[o] = '\0';
	return (int)o;
}

int
smtp_reply_ok(const struct smtp_reply *r)
{
	return r->code >= 200 && r->code <= 299;
}

/* The AUTH mechanisms of one "AUTH a b c" line, as " A B C ". */
static void
ehlo_auth(struct smtp_ehlo *e, const char *s, size_t len)
{
	size_t i, o = strlen(e->auth);

	if (o == 0)
		e->auth[o++] = ' ';
	for (i = 0; i < len && o + 2 < sizeof(e->auth); i++) {
		if (s[i] == ' ' || s[i] == '\t') {
			if (e->auth[o - 1] != ' ')
				e->auth[o++] = ' ';
			continue;
		}
		e->auth[o++] = (char)toupper((unsigned char)s[i]);
	}
	if (e->auth[o - 1] != ' ')
		e->auth[o++] = ' ';
	e->auth[o] = '\0';
}

static const struct {
	const char	*kw;
	unsigned	 bit;
} ehlo_keywords[] = {
	{ "PIPELINING", SMTP_EXT_PIPELINING },
	{ "SIZE", SMTP_EXT_SIZE },
	{ "8BITMIME", SMTP_EXT_8BITMIME },
	{ "SMTPUTF8", SMTP_EXT_SMTPUTF8 },
	{ "STARTTLS", SMTP_EXT_STARTTLS },
	{ "AUTH", SMTP_EXT_AUTH },
	{ "ENHANCEDSTATUSCODES", SMTP_EXT_ENHANCEDSTATUSCODES },
	{ "DSN", SMTP_EXT_DSN },
	{ "CHUNKING", SMTP_EXT_CHUNKING },
};

/* One keyword line "KW params". */
static void
ehlo_line(struct smtp_ehlo *e, const char *s, size_t len)
{
	size_t kwlen, i;
	const char *params;
	char num[24];

	for (kwlen = 0; kwlen < len && s[kwlen] != ' '; kwlen++)
		continue;
	params = s + kwlen + (kwlen < len);
	for (i = 0; i < sizeof(ehlo_keywords) / sizeof(ehlo_keywords[0]);
	    i++) {
		if (strlen(ehlo_keywords[i].kw) != kwlen ||
		    strncasecmp(s, ehlo_keywords[i].kw, kwlen) != 0)
			continue;
		e->ext |= ehlo_keywords[i].bit;
		if (ehlo_keywords[i].bit == SMTP_EXT_AUTH)
			ehlo_auth(e, params, len - (size_t)(params - s));
		if (ehlo_keywords[i].bit == SMTP_EXT_SIZE &&
		    len - (size_t)(params - s) < sizeof(num)) {
			memcpy(num, params, len - (size_t)(params - s));
			num[len - (size_t)(params - s)] = '\0';
			if (num[0] != '\0' && strspn(num, "0123456789") ==
			    strlen(num))
				e->size = strtoull(num, NULL, 10);
		}
	}
}

void
smtp_ehlo_parse(const struct smtp_reply *r, struct smtp_ehlo *e)
{
	const char *s = r->text, *nl;
	size_t len;
	int first = 1;

	memset(e, 0, sizeof(*e));
	for (; *s != '\0'; s = nl + 1, first = 0) {
		nl = strchr(s, '\n');
		len = nl != NULL ? (size_t)(nl - s) : strlen(s);
		if (!first)
			ehlo_line(e, s, len);
		if (nl == NULL)
			break;
	}
}

int
smtp_ehlo_has_mech(const struct smtp_ehlo *e, const char *mech)
{
	char want[64];
	size_t i, n = strlen(mech);

	if (!(e->ext & SMTP_EXT_AUTH) || n == 0 || n + 3 > sizeof(want))
		return 0;
	want[0] = ' ';
	for (i = 0; i < n; i++)
		want[i + 1] = (char)toupper((unsigned char)mech[i]);
	want[n + 1] = ' ';
	want[n + 2] = '\0';
	return strstr(e->auth, want) != NULL;
}
