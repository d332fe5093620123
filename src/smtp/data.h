/*
 * The DATA automaton: turns the bytes a client sends after "354" into the
 * message to store. Only <CRLF>.<CRLF> ends the message (the smuggling
 * sequences <LF>.<LF>, <LF>.<CRLF>, <CRLF>.<LF> and <CR>.<CR> never do);
 * a bare LF is stored as CRLF; dot-stuffing is undone at the start of a
 * line that began after a CRLF. Long lines pass through whole.
 */
#ifndef POSTERN_SMTP_DATA_H
#define POSTERN_SMTP_DATA_H

#include <stddef.h>

enum data_state {
	DATA_BOL,	/* at the start of a line (after CRLF) */
	DATA_MID,	/* inside a line */
	DATA_CR,	/* after a CR inside a line, not yet emitted */
	DATA_DOT,	/* after "." at BOL, not yet emitted */
	DATA_DOT_CR,	/* after ".\r" at BOL */
	DATA_DONE,	/* <CRLF>.<CRLF> seen */
};

struct data_parser {
	enum data_state	state;
	unsigned	bare_lf;	/* bare LFs seen (for the log) */
};

void data_parser_init(struct data_parser *p);

/*
 * Consumes input from in[0..inlen) and writes the message bytes to out,
 * which must hold DATA_OUT_MAX(inlen) bytes; *outlen gets their number.
 * Returns the number of input bytes consumed: all of them, or fewer when
 * the end marker was reached (then p->state == DATA_DONE and the rest
 * belongs to the next command).
 */
#define DATA_OUT_MAX(inlen) (2 * (inlen) + 2)
size_t data_feed(struct data_parser *p, const char *in, size_t inlen,
    char *out, size_t *outlen);

const char *data_state_str(enum data_state s);

#endif
