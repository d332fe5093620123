/*
 * Parses SMTP replies as a server sent them (one or more lines) into the
 * basic code, the enhanced status code and the text, noting what makes a
 * reply malformed. A bounded scanner over (ptr, len): never reads past
 * the input, never allocates. Pure; any process (the CLI, the SMTP
 * client, DSN parsing).
 */
#include "replies/catalogue.h"

#include <string.h>
#include <strings.h>

struct rp_line {
	const char	*p;		/* the line without CR/LF */
	size_t		 len;
};

static int
rp_digit(char ch)
{
	return ch >= '0' && ch <= '9';
}

static void
rp_trim(struct rp_line *l)
{
	while (l->len > 0 && (l->p[0] == ' ' || l->p[0] == '\t')) {
		l->p++;
		l->len--;
	}
	while (l->len > 0 && (l->p[l->len - 1] == '\r' ||
	    l->p[l->len - 1] == ' ' || l->p[l->len - 1] == '\t'))
		l->len--;
}

/* Skips "smtp;" as in a DSN Diagnostic-Code field. */
static void
rp_skip_type(struct rp_line *l)
{
	if (l->len >= 5 && strncasecmp(l->p, "smtp;", 5) == 0) {
		l->p += 5;
		l->len -= 5;
		rp_trim(l);
	}
}

static void
rp_append(struct cat_reply *r, size_t *tl, const char *p, size_t len)
{
	size_t need;

	if (len == 0 || (r->problems & CAT_P_TRUNCATED))
		return;
	need = len + (*tl > 0 ? 1 : 0);
	if (need >= sizeof(r->text) - *tl) {
		r->problems |= CAT_P_TRUNCATED;
		return;
	}
	if (*tl > 0)
		r->text[(*tl)++] = '\n';
	memcpy(r->text + *tl, p, len);
	*tl += len;
	r->text[*tl] = '\0';
}

/* Notes the enhanced code at the start of l, if any, and skips it. */
static void
rp_enhanced(struct cat_reply *r, struct rp_line *l)
{
	size_t i = 0;
	int v[3], k;

	for (k = 0; k < 3; k++) {
		v[k] = 0;
		if (i >= l->len || !rp_digit(l->p[i]))
			return;
		while (i < l->len && rp_digit(l->p[i]) && v[k] < 1000)
			v[k] = v[k] * 10 + (l->p[i++] - '0');
		if ((k == 0 && v[k] > 9) || v[k] > 999)
			return;
		if (k < 2 && (i >= l->len || l->p[i++] != '.'))
			return;
	}
	if ((i < l->len && l->p[i] != ' ' && l->p[i] != '\t') || v[0] == 0)
		return;
	if (r->enh_cls == 0) {
		r->enh_cls = v[0];
		r->enh_subject = v[1];
		r->enh_detail = v[2];
	} else if (v[0] != r->enh_cls || v[1] != r->enh_subject ||
	    v[2] != r->enh_detail)
		r->problems |= CAT_P_ENH_MISMATCH;
	l->p += i;
	l->len -= i;
	rp_trim(l);
}

/*
 * One line with a code: returns its separator (' ' or '-'), or 0 if the
 * line does not start with a three-digit code.
 */
static int
rp_coded(struct cat_reply *r, struct rp_line *l, size_t *tl)
{
	int code;
	char sep;

	if (l->len < 3 || !rp_digit(l->p[0]) || !rp_digit(l->p[1]) ||
	    !rp_digit(l->p[2]) || l->p[0] == '0')
		return 0;
	sep = l->len > 3 ? l->p[3] : ' ';
	if (sep != ' ' && sep != '-' && sep != '\t')
		return 0;
	code = (l->p[0] - '0') * 100 + (l->p[1] - '0') * 10 + (l->p[2] - '0');
	if (r->lines == 0)
		r->basic = code;
	else if (code != r->basic)
		r->problems |= CAT_P_CODE_MISMATCH;
	l->p += l->len > 3 ? 4 : 3;
	l->len -= l->len > 3 ? 4 : 3;
	rp_trim(l);
	rp_enhanced(r, l);
	rp_append(r, tl, l->p, l->len);
	r->lines++;
	return sep == '-' ? '-' : ' ';
}

static void
rp_classes(struct cat_reply *r)
{
	if (r->enh_cls == 0)
		return;
	if (r->enh_cls != 2 && r->enh_cls != 4 && r->enh_cls != 5)
		r->problems |= CAT_P_BAD_ENHANCED;
	if (r->enh_cls != r->basic / 100)
		r->problems |= CAT_P_CLASS_MISMATCH;
}

int
cat_parse_reply(const char *s, size_t len, struct cat_reply *r)
{
	struct rp_line l;
	const char *nl;
	size_t pos = 0, tl = 0;
	int sep, last = 0;

	memset(r, 0, sizeof(*r));
	while (pos < len) {
		nl = memchr(s + pos, '\n', len - pos);
		l.p = s + pos;
		l.len = nl != NULL ? (size_t)(nl - (s + pos)) : len - pos;
		pos += l.len + (nl != NULL ? 1 : 0);
		rp_trim(&l);
		if (l.len == 0)
			continue;
		if (r->lines == 0)
			rp_skip_type(&l);
		if (r->lines > 0 && last == ' ' && rp_digit(l.p[0]))
			r->problems |= CAT_P_CONTINUATION;
		if ((sep = rp_coded(r, &l, &tl)) != 0)
			last = sep;
		else if (r->lines == 0)
			return -1;
		else
			rp_append(r, &tl, l.p, l.len);
	}
	if (r->lines == 0)
		return -1;
	if (last == '-')
		r->problems |= CAT_P_CONTINUATION;
	rp_classes(r);
	return 0;
}
