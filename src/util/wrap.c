/*
 * Terminal text layout: UTF-8 decoding, display widths (a compact table
 * of East Asian Wide/Fullwidth ranges, independent of the locale), line
 * breaking for English and Japanese, output width and bold detection.
 * Owns nothing; pure except for wrap_print/wrap_pad (write to a FILE) and
 * wrap_width/wrap_use_bold (read the environment and the tty). CLI only.
 */
#include "util/wrap.h"

#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

struct wrap_range {
	unsigned	lo;
	unsigned	hi;
};

/* East Asian Width W and F (Unicode 15), merged where adjacent. */
static const struct wrap_range wrap_wide[] = {
	{ 0x1100, 0x115F }, { 0x231A, 0x231B }, { 0x2329, 0x232A },
	{ 0x23E9, 0x23EC }, { 0x23F0, 0x23F0 }, { 0x23F3, 0x23F3 },
	{ 0x25FD, 0x25FE }, { 0x2614, 0x2615 }, { 0x2648, 0x2653 },
	{ 0x267F, 0x267F }, { 0x2693, 0x2693 }, { 0x26A1, 0x26A1 },
	{ 0x26AA, 0x26AB }, { 0x26BD, 0x26BE }, { 0x26C4, 0x26C5 },
	{ 0x26CE, 0x26CE }, { 0x26D4, 0x26D4 }, { 0x26EA, 0x26EA },
	{ 0x26F2, 0x26F3 }, { 0x26F5, 0x26F5 }, { 0x26FA, 0x26FA },
	{ 0x26FD, 0x26FD }, { 0x2705, 0x2705 }, { 0x270A, 0x270B },
	{ 0x2728, 0x2728 }, { 0x274C, 0x274C }, { 0x274E, 0x274E },
	{ 0x2753, 0x2755 }, { 0x2757, 0x2757 }, { 0x2795, 0x2797 },
	{ 0x27B0, 0x27B0 }, { 0x27BF, 0x27BF }, { 0x2B1B, 0x2B1C },
	{ 0x2B50, 0x2B50 }, { 0x2B55, 0x2B55 }, { 0x2E80, 0x303E },
	{ 0x3041, 0x3247 }, { 0x3250, 0x4DBF }, { 0x4E00, 0xA4CF },
	{ 0xA960, 0xA97F }, { 0xAC00, 0xD7A3 }, { 0xF900, 0xFAFF },
	{ 0xFE10, 0xFE19 }, { 0xFE30, 0xFE6F }, { 0xFF00, 0xFF60 },
	{ 0xFFE0, 0xFFE6 }, { 0x16FE0, 0x16FE4 }, { 0x17000, 0x18CFF },
	{ 0x1B000, 0x1B2FF }, { 0x1F004, 0x1F004 }, { 0x1F0CF, 0x1F0CF },
	{ 0x1F18E, 0x1F18E }, { 0x1F191, 0x1F19A }, { 0x1F200, 0x1F251 },
	{ 0x1F300, 0x1F64F }, { 0x1F680, 0x1F6FF }, { 0x1F7E0, 0x1F7EB },
	{ 0x1F90C, 0x1F9FF }, { 0x1FA70, 0x1FAFF }, { 0x20000, 0x2FFFD },
	{ 0x30000, 0x3FFFD },
};

/* Zero-width: combining marks, joiners, variation selectors. */
static const struct wrap_range wrap_zero[] = {
	{ 0x0300, 0x036F }, { 0x0483, 0x0489 }, { 0x0591, 0x05BD },
	{ 0x200B, 0x200F }, { 0x202A, 0x202E }, { 0x2060, 0x2064 },
	{ 0x20D0, 0x20FF }, { 0x3099, 0x309A }, { 0xFE00, 0xFE0F },
	{ 0xFE20, 0xFE2F }, { 0xFEFF, 0xFEFF }, { 0xE0100, 0xE01EF },
};

/* Japanese characters that may not start a line (kinsoku). */
static const char wrap_no_start[] =
    "、。，．・：；？！ー」』）］｝〕〉》】ぁぃぅぇぉっゃゅょゎ"
    "ァィゥェォッャュョヮヵヶ々〜…‥％";
/* ... and those that may not end one. */
static const char wrap_no_end[] = "「『（［｛〔〈《【";

static int
wrap_in(const struct wrap_range *r, size_t n, unsigned cp)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (cp < r[mid].lo)
			hi = mid;
		else if (cp > r[mid].hi)
			lo = mid + 1;
		else
			return 1;
	}
	return 0;
}

size_t
wrap_decode(const char *s, size_t len, unsigned *cp)
{
	const unsigned char *u = (const unsigned char *)s;
	unsigned c, min;
	size_t n, i;

	if (u[0] < 0x80) {
		*cp = u[0];
		return 1;
	}
	if ((u[0] & 0xE0) == 0xC0)
		n = 2, c = u[0] & 0x1F, min = 0x80;
	else if ((u[0] & 0xF0) == 0xE0)
		n = 3, c = u[0] & 0x0F, min = 0x800;
	else if ((u[0] & 0xF8) == 0xF0)
		n = 4, c = u[0] & 0x07, min = 0x10000;
	else
		goto bad;
	if (n > len)
		goto bad;
	for (i = 1; i < n; i++) {
		if ((u[i] & 0xC0) != 0x80)
			goto bad;
		c = (c << 6) | (u[i] & 0x3F);
	}
	if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
		goto bad;
	*cp = c;
	return n;
bad:
	*cp = 0xFFFD;
	return 1;
}

int
wrap_cpwidth(unsigned cp)
{
	if (cp < 0x20 || (cp >= 0x7F && cp < 0xA0))
		return 0;
	if (cp < 0x300)
		return 1;
	if (wrap_in(wrap_zero, sizeof(wrap_zero) / sizeof(wrap_zero[0]), cp))
		return 0;
	if (wrap_in(wrap_wide, sizeof(wrap_wide) / sizeof(wrap_wide[0]), cp))
		return 2;
	return 1;
}

size_t
wrap_strwidth(const char *s, size_t len)
{
	size_t pos = 0, w = 0;
	unsigned cp;

	while (pos < len) {
		pos += wrap_decode(s + pos, len - pos, &cp);
		w += (size_t)wrap_cpwidth(cp);
	}
	return w;
}

/* 1 if the UTF-8 of cp occurs in set (a string of whole characters). */
static int
wrap_in_set(const char *set, unsigned cp)
{
	size_t pos = 0, len = strlen(set);
	unsigned c;

	while (pos < len) {
		pos += wrap_decode(set + pos, len - pos, &c);
		if (c == cp)
			return 1;
	}
	return 0;
}

static int
wrap_blank(unsigned cp)
{
	return cp == ' ' || cp == '\t';
}

/* May a line break fall between prev and cp (neither blank)? */
static int
wrap_can_break(unsigned prev, unsigned cp)
{
	if (wrap_cpwidth(prev) != 2 && wrap_cpwidth(cp) != 2)
		return 0;
	if (wrap_in_set(wrap_no_start, cp) || wrap_in_set(wrap_no_end, prev))
		return 0;
	return cp != ')' && cp != ',' && cp != '.' && cp != ':' &&
	    cp != ';' && prev != '(';
}

/* Length of s[0..end) without trailing blanks. */
static size_t
wrap_rtrim(const char *s, size_t end)
{
	while (end > 0 && (s[end - 1] == ' ' || s[end - 1] == '\t' ||
	    s[end - 1] == '\r'))
		end--;
	return end;
}

/* Index after the blanks at pos and at most one newline after them. */
static size_t
wrap_skip(const char *s, size_t len, size_t pos)
{
	while (pos < len && (s[pos] == ' ' || s[pos] == '\t' ||
	    s[pos] == '\r'))
		pos++;
	if (pos < len && s[pos] == '\n')
		pos++;
	return pos;
}

size_t
wrap_next(const char *s, size_t len, size_t width, size_t *linelen)
{
	size_t pos = 0, col = 0, brk = 0, n;
	unsigned cp, prev = 0;
	int w;

	while (pos < len) {
		if (s[pos] == '\n') {
			*linelen = wrap_rtrim(s, pos);
			return pos + 1;
		}
		n = wrap_decode(s + pos, len - pos, &cp);
		w = wrap_cpwidth(cp);
		if (wrap_blank(cp)) {
			if (pos > 0 && !wrap_blank(prev))
				brk = pos;
		} else if (pos > 0 && !wrap_blank(prev) &&
		    wrap_can_break(prev, cp))
			brk = pos;
		if (col + (size_t)w > width && pos > 0) {
			if (wrap_blank(cp))
				brk = pos;
			if (brk == 0)
				brk = pos;
			*linelen = wrap_rtrim(s, brk);
			return wrap_skip(s, len, brk);
		}
		col += (size_t)w;
		pos += n;
		prev = cp;
	}
	*linelen = wrap_rtrim(s, len);
	return len;
}

/* Columns left for text after used columns, at least 10. */
static size_t
wrap_avail(size_t width, size_t used)
{
	return width > used + 10 ? width - used : 10;
}

int
wrap_print(FILE *fp, const char *text, size_t width, size_t col,
    const char *indent)
{
	size_t len = strlen(text), pos = 0, used, line, avail;
	size_t iw = wrap_strwidth(indent, strlen(indent));

	avail = wrap_avail(width, col);
	do {
		used = wrap_next(text + pos, len - pos, avail, &line);
		if (pos > 0 && fputs(indent, fp) == EOF)
			return -1;
		if (fprintf(fp, "%.*s\n", (int)line, text + pos) < 0)
			return -1;
		pos += used;
		avail = wrap_avail(width, iw);
	} while (pos < len);
	return 0;
}

int
wrap_pad(FILE *fp, const char *s, size_t len, size_t width)
{
	size_t w = wrap_strwidth(s, len);

	if (fwrite(s, 1, len, fp) != len)
		return -1;
	for (; w < width; w++)
		if (fputc(' ', fp) == EOF)
			return -1;
	return 0;
}

size_t
wrap_width(int fd)
{
	struct winsize ws;
	const char *v = getenv("COLUMNS");
	char *end;
	long n = 0;

	if (v != NULL && *v != '\0') {
		n = strtol(v, &end, 10);
		if (*end != '\0')
			n = 0;
	}
	if (n <= 0 && isatty(fd) && ioctl(fd, TIOCGWINSZ, &ws) == 0)
		n = ws.ws_col;
	if (n <= 0)
		n = 80;
	if (n < 20)
		n = 20;
	if (n > 500)
		n = 500;
	return (size_t)n;
}

int
wrap_use_bold(int fd)
{
	const char *nc = getenv("NO_COLOR"), *term = getenv("TERM");

	if (!isatty(fd))
		return 0;
	if (nc != NULL && *nc != '\0')
		return 0;
	return term == NULL || strcmp(term, "dumb") != 0;
}
