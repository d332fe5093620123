/*
 * The message side of `postern sendmail` (see cli/sendmail_msg.h): a
 * bounded reader that normalises line endings and applies the sendmail
 * "." rule, a header splitter, and an RFC 5322 address-list scanner for
 * -t. Owns the message buffer and field list of a struct sendmail_msg.
 * Runs in the CLI process.
 */
#include "cli/sendmail_msg.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "util/addr.h"
#include "util/xmalloc.h"

#define SENDMAIL_READ_CHUNK (64 * 1024)
#define SENDMAIL_ADDR_MAX 1024		/* one address while scanning */
#define SENDMAIL_RCPTS_MAX 10000

/* Makes room for n more bytes, never past max (+2 for a CRLF). */
static int
sendmail_reserve(struct sendmail_msg *m, size_t n, size_t max)
{
	size_t cap;
	char *p;

	if (n > max + 2 || m->len > max + 2 - n) {
		errno = EFBIG;
		return -1;
	}
	if (m->len + n <= m->cap)
		return 0;
	cap = m->cap ? m->cap : 4096;
	while (cap < m->len + n)
		cap *= 2;
	if ((p = realloc(m->buf, cap)) == NULL)
		return -1;
	m->buf = p;
	m->cap = cap;
	return 0;
}

/* A line ended at m->len: drops its CR, applies the "." rule, adds CRLF. */
static int
sendmail_end_line(struct sendmail_msg *m, int ignore_dots, size_t max)
{
	if (m->len > m->line_off && m->buf[m->len - 1] == '\r')
		m->len--;
	if (!ignore_dots && m->len - m->line_off == 1 &&
	    m->buf[m->line_off] == '.') {
		m->len = m->line_off;
		m->ended = 1;
		return 0;
	}
	if (m->len + 2 > max) {
		errno = EFBIG;
		return -1;
	}
	if (sendmail_reserve(m, 2, max) == -1)
		return -1;
	m->buf[m->len++] = '\r';
	m->buf[m->len++] = '\n';
	m->line_off = m->len;
	return 0;
}

int
sendmail_feed(struct sendmail_msg *m, const char *p, size_t n,
    int ignore_dots, size_t max)
{
	const char *nl;
	size_t k;

	while (n > 0 && !m->ended) {
		nl = memchr(p, '\n', n);
		k = nl != NULL ? (size_t)(nl - p) : n;
		if (sendmail_reserve(m, k, max) == -1)
			return -1;
		memcpy(m->buf + m->len, p, k);
		m->len += k;
		if (m->len > max) {
			errno = EFBIG;
			return -1;
		}
		if (nl == NULL)
			break;
		if (sendmail_end_line(m, ignore_dots, max) == -1)
			return -1;
		p += k + 1;
		n -= k + 1;
	}
	return 0;
}

int
sendmail_feed_end(struct sendmail_msg *m, size_t max)
{
	if (m->ended || m->len == m->line_off)
		return 0;
	/* A last line without its line ending: "." alone still ends. */
	return sendmail_end_line(m, 0, max);
}

int
sendmail_read(struct sendmail_msg *m, int fd, int ignore_dots, size_t max)
{
	char *chunk = xmalloc(SENDMAIL_READ_CHUNK);
	ssize_t n;
	int rc = 0;

	while (rc == 0 && !m->ended) {
		n = read(fd, chunk, SENDMAIL_READ_CHUNK);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			rc = n == 0 ? sendmail_feed_end(m, max) : -1;
			break;
		}
		rc = sendmail_feed(m, chunk, (size_t)n, ignore_dots, max);
	}
	free(chunk);
	return rc;
}

/* Length of a field name at p (ftext up to ':'), 0 if not a field. */
static size_t
sendmail_field_name(const char *p, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		if (p[i] == ':')
			return i;
		if ((unsigned char)p[i] < 33 || (unsigned char)p[i] > 126)
			return 0;
	}
	return 0;
}

void
sendmail_parse_headers(struct sendmail_msg *m)
{
	struct sendmail_field *f;
	size_t off = 0, eol, name;
	const char *nl;

	while (off < m->len) {
		nl = memchr(m->buf + off, '\n', m->len - off);
		eol = nl != NULL ? (size_t)(nl - m->buf) + 1 : m->len;
		if (eol - off <= 2 && m->buf[off] == '\r') {
			m->body_off = eol;	/* the empty line */
			return;
		}
		if ((m->buf[off] == ' ' || m->buf[off] == '\t') &&
		    m->nfields > 0) {
			m->fields[m->nfields - 1].len = eol -
			    m->fields[m->nfields - 1].off;
			off = eol;
			continue;
		}
		if ((name = sendmail_field_name(m->buf + off, eol - off)) == 0)
			break;
		m->fields = xreallocarray(m->fields, m->nfields + 1,
		    sizeof(*m->fields));
		f = &m->fields[m->nfields++];
		f->off = off;
		f->len = eol - off;
		f->name_len = name;
		off = eol;
	}
	m->body_off = off;
}

int
sendmail_field_is(const struct sendmail_msg *m, size_t i, const char *name)
{
	const struct sendmail_field *f = &m->fields[i];

	return strlen(name) == f->name_len &&
	    strncasecmp(m->buf + f->off, name, f->name_len) == 0;
}

int
sendmail_has_field(const struct sendmail_msg *m, const char *name)
{
	size_t i;

	for (i = 0; i < m->nfields; i++)
		if (sendmail_field_is(m, i, name))
			return 1;
	return 0;
}

void
sendmail_msg_clear(struct sendmail_msg *m)
{
	free(m->buf);
	free(m->fields);
	memset(m, 0, sizeof(*m));
}

/* The scanner's state over one address list. */
struct sendmail_scan {
	char	 text[SENDMAIL_ADDR_MAX];	/* outside <>: a bare address */
	size_t	 ntext;
	char	 angle[SENDMAIL_ADDR_MAX];	/* inside <> */
	size_t	 nangle;
	int	 in_angle;
	int	 have_angle;
	int	 in_quote;
	int	 comment;			/* nesting depth */
	int	 escape;
	int	 overflow_text;
	int	 overflow_angle;
};

static void
sendmail_scan_put(struct sendmail_scan *s, char c)
{
	if (s->in_angle) {
		if (s->nangle + 1 < sizeof(s->angle))
			s->angle[s->nangle++] = c;
		else
			s->overflow_angle = 1;
	} else if (s->ntext + 1 < sizeof(s->text))
		s->text[s->ntext++] = c;
	else
		s->overflow_text = 1;
}

/* The item ends: validates and stores its address, if it has one. */
static int
sendmail_scan_flush(struct sendmail_scan *s, char ***list, size_t *n,
    char *why, size_t whysz)
{
	char *a = s->have_angle ? s->angle : s->text, *colon;
	int overflow = s->have_angle ? s->overflow_angle : s->overflow_text;
	struct addr parsed;

	a[s->have_angle ? s->nangle : s->ntext] = '\0';
	/* An obsolete source route "@a,@b:" before the mailbox. */
	if (a[0] == '@' && (colon = strchr(a, ':')) != NULL)
		a = colon + 1;
	if (a[0] != '\0' || overflow) {
		if (overflow || addr_parse_mailbox(&parsed, a, 1) == -1) {
			(void)snprintf(why, whysz, "%.200s", a);
			return -1;
		}
		if (*n >= SENDMAIL_RCPTS_MAX) {
			(void)snprintf(why, whysz, "too many recipients");
			return -1;
		}
		*list = xreallocarray(*list, *n + 1, sizeof(**list));
		(*list)[(*n)++] = xstrdup(a);
	}
	s->ntext = s->nangle = 0;
	s->have_angle = s->overflow_text = s->overflow_angle = 0;
	return 0;
}

/* One character outside quotes and comments. -1 on a bad address. */
static int
sendmail_scan_plain(struct sendmail_scan *s, char c, char ***list,
    size_t *n, char *why, size_t whysz)
{
	if (s->in_angle) {
		if (c == '>') {
			s->in_angle = 0;
			s->have_angle = 1;
		} else if (c != ' ' && c != '\t' && c != '\r' && c != '\n')
			sendmail_scan_put(s, c);
		return 0;
	}
	switch (c) {
	case '<':
		s->in_angle = 1;
		s->nangle = 0;
		break;
	case ':':			/* a group's display name ends */
		s->ntext = 0;
		s->overflow_text = 0;
		break;
	case ',':
	case ';':
		return sendmail_scan_flush(s, list, n, why, whysz);
	case ' ': case '\t': case '\r': case '\n':
		break;
	default:
		sendmail_scan_put(s, c);
	}
	return 0;
}

int
sendmail_addresses(const char *p, size_t len, char ***list, size_t *n,
    char *why, size_t whysz)
{
	struct sendmail_scan s;
	size_t i;
	char c;

	memset(&s, 0, sizeof(s));
	for (i = 0; i < len; i++) {
		c = p[i];
		if (s.escape) {
			s.escape = 0;
			if (s.in_quote)
				sendmail_scan_put(&s, c);
		} else if (c == '\\' && (s.in_quote || s.comment)) {
			s.escape = 1;
			if (s.in_quote)
				sendmail_scan_put(&s, c);
		} else if (s.comment > 0) {
			s.comment += c == '(' ? 1 : c == ')' ? -1 : 0;
		} else if (s.in_quote) {
			sendmail_scan_put(&s, c);
			s.in_quote = c != '"';
		} else if (c == '"') {
			s.in_quote = 1;
			sendmail_scan_put(&s, c);
		} else if (c == '(') {
			s.comment = 1;
		} else if (sendmail_scan_plain(&s, c, list, n, why, whysz) ==
		    -1)
			return -1;
	}
	return sendmail_scan_flush(&s, list, n, why, whysz);
}
