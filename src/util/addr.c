/*
 * The RFC 5321 path parser (§4.1.2), with RFC 6531 UTF-8 where allowed.
 * Pure functions over caller memory; owns nothing. Used by every process.
 */
#include "util/addr.h"

#include <stdio.h>
#include <string.h>

static int
is_alpha(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int
is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

/* RFC 5322 atext. */
static int
is_atext(unsigned char c)
{
	return is_alpha(c) || is_digit(c) || (c != '\0' &&
	    strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL);
}

/*
 * Length of the valid UTF-8 sequence (2..4 bytes, no overlongs or
 * surrogates) at s, or 0.
 */
static size_t
utf8_seq(const unsigned char *s, size_t len)
{
	size_t n, i;
	unsigned cp;

	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		n = 2; cp = s[0] & 0x1f;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		n = 3; cp = s[0] & 0x0f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		n = 4; cp = s[0] & 0x07;
	} else
		return 0;
	if (len < n)
		return 0;
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 ||
	    cp > 0x10ffff)) || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

/* Quoted-string at s (s[0] is '"'); returns bytes consumed or -1. */
static int
parse_quoted(struct addr *a, const unsigned char *s, size_t len,
    int allow_utf8)
{
	size_t i, n;

	for (i = 1; i < len && s[i] != '"'; i++) {
		if (s[i] == '\\') {
			if (++i >= len || s[i] < 32 || s[i] > 126)
				return -1;
		} else if (s[i] >= 0x80 && allow_utf8 &&
		    (n = utf8_seq(s + i, len - i)) > 0) {
			a->utf8 = 1;
			i += n - 1;
		} else if (s[i] < 32 || s[i] > 126)
			return -1;
	}
	if (i >= len)
		return -1;
	return (int)i + 1;
}

/* Dot-string or Quoted-string; returns bytes consumed or -1. */
static int
parse_local(struct addr *a, const unsigned char *s, size_t len,
    int allow_utf8)
{
	size_t i = 0, n;
	int need_atom = 1;

	if (len > 0 && s[0] == '"')
		return parse_quoted(a, s, len, allow_utf8);
	for (i = 0; i < len; ) {
		if (s[i] == '.') {
			if (need_atom)
				return -1;
			need_atom = 1;
			i++;
		} else if (is_atext(s[i])) {
			need_atom = 0;
			i++;
		} else if (s[i] >= 0x80 && allow_utf8 &&
		    (n = utf8_seq(s + i, len - i)) > 0) {
			a->utf8 = 1;
			need_atom = 0;
			i += n;
		} else
			break;
	}
	if (i == 0 || need_atom)
		return -1;
	return (int)i;
}

/* Domain or address-literal; returns bytes consumed or -1. */
static int
parse_domain(struct addr *a, const unsigned char *s, size_t len,
    int allow_utf8)
{
	size_t i, n;

	if (len > 0 && s[0] == '[') {
		for (i = 1; i < len && s[i] != ']'; i++)
			if (s[i] < 33 || s[i] > 126 || s[i] == '[' ||
			    s[i] == '\\')
				return -1;
		if (i >= len || i == 1)
			return -1;
		return (int)i + 1;
	}
	for (i = 0; i < len; ) {
		if (is_alpha(s[i]) || is_digit(s[i]) || s[i] == '-' ||
		    s[i] == '.')
			i++;
		else if (s[i] >= 0x80 && allow_utf8 &&
		    (n = utf8_seq(s + i, len - i)) > 0) {
			a->utf8 = 1;
			i += n;
		} else
			break;
	}
	if (i == 0 || !addr_valid_domain((const char *)s, i))
		return -1;
	return (int)i;
}

/* Mailbox at s; fills a->local/domain. Returns bytes consumed or -1. */
static int
parse_mailbox(struct addr *a, const unsigned char *s, size_t len,
    int allow_utf8)
{
	int l, d;

	if ((l = parse_local(a, s, len, allow_utf8)) < 0 ||
	    (size_t)l > ADDR_LOCAL_MAX * 4 || (size_t)l >= len ||
	    s[l] != '@')
		return -1;
	if ((d = parse_domain(a, s + l + 1, len - l - 1, allow_utf8)) < 0 ||
	    d > ADDR_DOMAIN_MAX)
		return -1;
	/* RFC 5321 §4.5.3.1.1: 64 octets; UTF-8 local parts by characters. */
	if (!a->utf8 && l > ADDR_LOCAL_MAX)
		return -1;
	memcpy(a->local, s, l);
	a->local[l] = '\0';
	memcpy(a->domain, s + l + 1, d);
	a->domain[d] = '\0';
	return l + 1 + d;
}

/* Source route "@a,@b:" (obsolete, RFC 5321 §4.1.2 A-d-l): skipped. */
static size_t
skip_route(const unsigned char *s, size_t len)
{
	size_t i = 0;

	if (len == 0 || s[0] != '@')
		return 0;
	while (i < len && s[i] != ':') {
		if (s[i] != '@' && s[i] != ',' && s[i] != '.' &&
		    s[i] != '-' && !is_alpha(s[i]) && !is_digit(s[i]))
			return 0;
		i++;
	}
	return i < len ? i + 1 : 0;
}

int
addr_parse_path(struct addr *a, const char *str, size_t len, int allow_null,
    int allow_utf8)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 1;
	int m;

	memset(a, 0, sizeof(*a));
	if (len < 2 || s[0] != '<')
		return -1;
	if (s[1] == '>') {
		if (!allow_null)
			return -1;
		a->null = 1;
		return 2;
	}
	i += skip_route(s + 1, len - 1);
	if ((m = parse_mailbox(a, s + i, len - i, allow_utf8)) < 0)
		return -1;
	i += m;
	if (i >= len || s[i] != '>' || i - 1 > ADDR_MAX)
		return -1;
	return (int)i + 1;
}

int
addr_parse_mailbox(struct addr *a, const char *str, int allow_utf8)
{
	size_t len = strlen(str);
	int m;

	memset(a, 0, sizeof(*a));
	m = parse_mailbox(a, (const unsigned char *)str, len, allow_utf8);
	return (m < 0 || (size_t)m != len) ? -1 : 0;
}

int
addr_format(const struct addr *a, char *buf, size_t bufsz)
{
	int n;

	if (a->null)
		n = snprintf(buf, bufsz, "%s", "");
	else
		n = snprintf(buf, bufsz, "%s@%s", a->local, a->domain);
	return (n < 0 || (size_t)n >= bufsz) ? -1 : n;
}

static void
ascii_lower(char *s)
{
	for (; *s; s++)
		if (*s >= 'A' && *s <= 'Z')
			*s = (char)(*s - 'A' + 'a');
}

int
addr_lookup_key(const struct addr *a, char *buf, size_t bufsz)
{
	size_t l = strcspn(a->local, "+");
	int n;

	if (a->null || l == 0)
		return -1;
	n = snprintf(buf, bufsz, "%.*s@%s", (int)l, a->local, a->domain);
	if (n < 0 || (size_t)n >= bufsz)
		return -1;
	ascii_lower(buf);
	return n;
}

int
addr_valid_domain(const char *str, size_t len)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i, label = 0;

	if (len == 0 || len > ADDR_DOMAIN_MAX)
		return 0;
	if (s[0] == '[')
		return len > 2 && s[len - 1] == ']';
	for (i = 0; i < len; i++) {
		if (s[i] == '.') {
			if (label == 0 || s[i - 1] == '-')
				return 0;
			label = 0;
			continue;
		}
		if (s[i] == '-' && label == 0)
			return 0;
		if (!is_alpha(s[i]) && !is_digit(s[i]) && s[i] != '-' &&
		    s[i] < 0x80)
			return 0;
		if (++label > 63)
			return 0;
	}
	return label > 0 && s[len - 1] != '-';
}
