/*
 * Message bodies on their way out: a streaming encoder that makes any
 * line ending (CRLF, bare LF, bare CR) a CRLF and, for DATA, doubles a
 * '.' at the start of a line (RFC 5321 §4.5.2) and appends the <CRLF>.<CRLF>
 * terminator. So a relayed copy is dot-stuffed and CRLF-clean whatever
 * the source (SPEC §5), and no bare CR or LF can reach a peer to smuggle
 * an end of data. Pure: no I/O, no allocation; owns nothing. Used by the
 * SMTP client (delivery process, `postern send`).
 */
#include "smtp/client.h"

#include <string.h>

void
smtp_dotstuff_init(struct smtp_dotstuff *d, int stuff)
{
	memset(d, 0, sizeof(*d));
	d->stuff = stuff;
	d->bol = 1;
}

/* A line break; returns the bytes written. */
static size_t
put_crlf(struct smtp_dotstuff *d, char *out)
{
	out[0] = '\r';
	out[1] = '\n';
	d->bol = 1;
	return 2;
}

size_t
smtp_dotstuff_encode(struct smtp_dotstuff *d, const char *in, size_t len,
    char *out)
{
	size_t i, o = 0;
	char ch;

	for (i = 0; i < len; i++) {
		ch = in[i];
		if (d->cr) {
			d->cr = 0;
			o += put_crlf(d, out + o);
			if (ch == '\n')
				continue;	/* CRLF */
		}
		if (ch == '\r') {
			d->cr = 1;
			continue;
		}
		if (ch == '\n') {
			o += put_crlf(d, out + o);
			continue;
		}
		if (d->bol && ch == '.' && d->stuff)
			out[o++] = '.';
		if ((unsigned char)ch > 127)
			d->eightbit = 1;
		d->bol = 0;
		out[o++] = ch;
	}
	d->in += len;
	d->out += o;
	return o;
}

size_t
smtp_dotstuff_end(struct smtp_dotstuff *d, char *out)
{
	size_t o = 0;

	if (d->cr) {
		d->cr = 0;
		o += put_crlf(d, out);
	}
	if (!d->bol && d->out + o > 0)
		o += put_crlf(d, out + o);
	if (d->stuff) {
		memcpy(out + o, ".\r\n", 3);
		o += 3;
	}
	d->out += o;
	return o;
}
