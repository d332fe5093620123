/*
 * The DATA automaton (see data.h). Pure; runs in the smtp workers, once
 * per received chunk, so the common case (inside a line) copies spans.
 */
#include "smtp/data.h"

#include <string.h>

void
data_parser_init(struct data_parser *p)
{
	p->state = DATA_BOL;
	p->bare_lf = 0;
}

/* Copies from in while inside a line; stops at CR or LF. */
static size_t
copy_span(const char *in, size_t inlen, char *out, size_t *o)
{
	size_t i = 0;

	while (i < inlen && in[i] != '\r' && in[i] != '\n')
		i++;
	memcpy(out + *o, in, i);
	*o += i;
	return i;
}

/* One byte in a line-ending or dot state; returns the next state. */
static enum data_state
data_step(struct data_parser *p, enum data_state st, char c, char *out,
    size_t *o)
{
	switch (st) {
	case DATA_BOL:
		if (c == '.')
			return DATA_DOT;
		/* FALLTHROUGH */
	case DATA_MID:
		if (c == '\r')
			return DATA_CR;
		if (c == '\n') {
			/* Bare LF: stored as CRLF, but never a line start
			 * for the end marker or unstuffing. */
			p->bare_lf++;
			out[(*o)++] = '\r';
			out[(*o)++] = '\n';
			return DATA_MID;
		}
		out[(*o)++] = c;
		return DATA_MID;
	case DATA_CR:
		if (c == '\n') {
			out[(*o)++] = '\r';
			out[(*o)++] = '\n';
			return DATA_BOL;
		}
		/* A bare CR is kept as data. */
		out[(*o)++] = '\r';
		return data_step(p, DATA_MID, c, out, o);
	case DATA_DOT:
		if (c == '\r')
			return DATA_DOT_CR;
		/* "<CRLF>.<LF>" is not an end marker: keep the dot. */
		if (c == '\n')
			out[(*o)++] = '.';
		/* RFC 5321 §4.5.2: drop the leading dot of the line. */
		return data_step(p, DATA_MID, c, out, o);
	case DATA_DOT_CR:
		if (c == '\n')
			return DATA_DONE;
		/* ".\r" + other: the dot is dropped, the CR is data. */
		return data_step(p, DATA_CR, c, out, o);
	case DATA_DONE:
		break;
	}
	return st;
}

size_t
data_feed(struct data_parser *p, const char *in, size_t inlen, char *out,
    size_t *outlen)
{
	size_t i = 0, o = 0;

	while (i < inlen && p->state != DATA_DONE) {
		if (p->state == DATA_MID)
			i += copy_span(in + i, inlen - i, out, &o);
		if (i < inlen)
			p->state = data_step(p, p->state, in[i++], out, &o);
	}
	*outlen = o;
	return i;
}

const char *
data_state_str(enum data_state s)
{
	switch (s) {
	case DATA_BOL: return "bol";
	case DATA_MID: return "mid";
	case DATA_CR: return "cr";
	case DATA_DOT: return "dot";
	case DATA_DOT_CR: return "dot_cr";
	case DATA_DONE: return "done";
	}
	return "?";
}
