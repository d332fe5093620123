/*
 * Reply catalogue lookups and the parsers of codes and reply lines.
 * Owns nothing: the entries are the generated constant table
 * (build/gen/replies_gen.c). Pure; any process, any thread.
 */
#include "replies/catalogue.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"

/* The entry of a kind whose code is the formatted string, or NULL. */
static const struct cat_entry *cat_findf(enum cat_kind, const char *, ...)
    PRINTFLIKE(2, 3);

static const struct cat_entry *
cat_findf(enum cat_kind kind, const char *fmt, ...)
{
	char code[16];
	va_list ap;
	size_t i;

	va_start(ap, fmt);
	(void)vsnprintf(code, sizeof(code), fmt, ap);
	va_end(ap);
	for (i = 0; i < cat_nentries; i++)
		if (cat_entries[i].kind == kind &&
		    strcmp(cat_entries[i].code, code) == 0)
			return &cat_entries[i];
	return NULL;
}

const struct cat_entry *
cat_basic(int code)
{
	if (code < 100 || code > 999)
		return NULL;
	return cat_findf(CAT_BASIC, "%d", code);
}

const struct cat_entry *
cat_basic_class(int digit)
{
	if (digit < 0 || digit > 9)
		return NULL;
	return cat_findf(CAT_BASIC_CLASS, "%dyz", digit);
}

const struct cat_entry *
cat_basic_group(int digit)
{
	if (digit < 0 || digit > 9)
		return NULL;
	return cat_findf(CAT_BASIC_GROUP, "x%dz", digit);
}

const struct cat_entry *
cat_enhanced(int subject, int detail)
{
	if (subject < 0 || subject > 999 || detail < 0 || detail > 999)
		return NULL;
	return cat_findf(CAT_ENHANCED, "X.%d.%d", subject, detail);
}

const struct cat_entry *
cat_enh_class(int cls)
{
	if (cls < 0 || cls > 9)
		return NULL;
	return cat_findf(CAT_ENH_CLASS, "%d.XXX.YYY", cls);
}

const struct cat_entry *
cat_enh_subject(int subject)
{
	if (subject < 0 || subject > 999)
		return NULL;
	return cat_findf(CAT_ENH_SUBJECT, "X.%d.YYY", subject);
}

/* Reads 1..max digits at s[*i]; returns the number or -1. */
static int
cat_digits(const char *s, size_t len, size_t *i, int max)
{
	int v = 0, n = 0;

	while (*i < len && s[*i] >= '0' && s[*i] <= '9' && n < max) {
		v = v * 10 + (s[*i] - '0');
		(*i)++;
		n++;
	}
	if (n == 0 || (*i < len && s[*i] >= '0' && s[*i] <= '9'))
		return -1;
	return v;
}

/*
 * Parses an enhanced code "C.S.D" at s[*i] (C a digit, or X when allow_x)
 * and advances *i past it. Returns 0 or -1.
 */
static int
cat_scan_enhanced(const char *s, size_t len, size_t *i, int allow_x,
    struct cat_code *c)
{
	size_t j = *i;

	if (j >= len)
		return -1;
	if (allow_x && (s[j] == 'X' || s[j] == 'x'))
		c->cls = 0;
	else if (s[j] >= '0' && s[j] <= '9')
		c->cls = s[j] - '0';
	else
		return -1;
	j++;
	if (j >= len || s[j++] != '.')
		return -1;
	if ((c->subject = cat_digits(s, len, &j, 3)) < 0)
		return -1;
	if (j >= len || s[j++] != '.')
		return -1;
	if ((c->detail = cat_digits(s, len, &j, 3)) < 0)
		return -1;
	c->type = CAT_CODE_ENHANCED;
	c->basic = 0;
	*i = j;
	return 0;
}

static int
is_blank(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n';
}

int
cat_parse_code(const char *s, size_t len, struct cat_code *c)
{
	size_t i = 0, j;

	memset(c, 0, sizeof(*c));
	while (i < len && is_blank(s[i]))
		i++;
	while (len > i && is_blank(s[len - 1]))
		len--;
	if (i >= len)
		return -1;
	j = i;
	if (cat_scan_enhanced(s, len, &j, 1, c) == 0)
		return j == len ? 0 : -1;
	j = i;
	if (len - i != 3 || s[i] == '0' ||
	    (c->basic = cat_digits(s, len, &j, 3)) < 0 || j != len)
		return -1;
	c->type = CAT_CODE_BASIC;
	c->cls = c->basic / 100;
	return 0;
}

void
cat_code_str(const struct cat_code *c, char *buf, size_t bufsz)
{
	if (c->type == CAT_CODE_BASIC)
		(void)snprintf(buf, bufsz, "%d", c->basic);
	else if (c->cls == 0)
		(void)snprintf(buf, bufsz, "X.%d.%d", c->subject, c->detail);
	else
		(void)snprintf(buf, bufsz, "%d.%d.%d", c->cls, c->subject,
		    c->detail);
}

const struct cat_entry *
cat_code_entry(const struct cat_code *c)
{
	if (c->type == CAT_CODE_BASIC)
		return cat_basic(c->basic);
	/* RFC 3463: an enhanced code's class is 2, 4 or 5 ("X.": any). */
	if (c->cls != 0 && c->cls != 2 && c->cls != 4 && c->cls != 5)
		return NULL;
	return cat_enhanced(c->subject, c->detail);
}

const char *
cat_action(int cls)
{
	switch (cls) {
	case 2:
		return "done";
	case 3:
		return "continue";
	case 4:
		return "retry_later";
	case 5:
		return "do_not_retry";
	default:
		return "unknown";
	}
}
