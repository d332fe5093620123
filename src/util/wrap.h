/*
 * Terminal text: display width of UTF-8 (East Asian wide and fullwidth
 * characters count 2 columns, combining marks 0), line breaking that
 * works for languages without spaces (Japanese breaks between characters,
 * with the usual kinsoku rules), the output width and whether to use bold.
 */
#ifndef POSTERN_WRAP_H
#define POSTERN_WRAP_H

#include <stddef.h>
#include <stdio.h>

/*
 * Decodes one UTF-8 character at s (len > 0 bytes) into *cp and returns
 * its length in bytes (1..4). Invalid or truncated sequences decode as
 * U+FFFD with length 1, so a caller always advances.
 */
size_t wrap_decode(const char *s, size_t len, unsigned *cp);

/* Columns one code point takes: 0, 1 or 2. */
int wrap_cpwidth(unsigned cp);

/* Columns the UTF-8 string s (len bytes) takes. */
size_t wrap_strwidth(const char *s, size_t len);

/*
 * Finds the next line of s (len bytes) that fits in width columns. Sets
 * *linelen to the bytes of that line (trailing blanks excluded) and
 * returns the bytes consumed (the line, the blanks after it and one
 * newline), at least 1 while len > 0. A newline in s always ends a line;
 * a word longer than width is cut.
 */
size_t wrap_next(const char *s, size_t len, size_t width, size_t *linelen);

/*
 * Writes text wrapped to width columns. The first line continues a line
 * on which col columns are already used; each further line starts with
 * indent (counted in the width). Every line ends with a newline. Returns
 * 0, or -1 on a write error.
 */
int wrap_print(FILE *fp, const char *text, size_t width, size_t col,
    const char *indent);

/*
 * Writes s padded with spaces to width columns (s must fit). Returns 0 or
 * -1 on a write error.
 */
int wrap_pad(FILE *fp, const char *s, size_t len, size_t width);

/*
 * The width to wrap output for fd: $COLUMNS if set to a number, else the
 * terminal's width if fd is a tty, else 80. Clamped to 20..500.
 */
size_t wrap_width(int fd);

/* 1 if output to fd may use bold: a tty and NO_COLOR unset or empty. */
int wrap_use_bold(int fd);

#endif
