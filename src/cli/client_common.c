/*
 * Output helpers for the commands that drive the SMTP client (postern
 * send, postern check): the -v transcript with explanations of every
 * reply that is not 2xx, and escaping of peer text. Owns nothing; the
 * transcript state is embedded in the caller's. Runs in the CLI process.
 */
#include <stdio.h>
#include <string.h>

#include "cli/client_common.h"
#include "replies/catalogue.h"
#include "util/wrap.h"

void
cli_transcript_init(struct cli_transcript *t, FILE *out, enum cat_lang lang)
{
	memset(t, 0, sizeof(*t));
	t->out = out;
	t->lang = lang;
}

void
cli_print_safe(FILE *out, const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch < 0x20 || ch == 0x7f)
			fprintf(out, "\\x%02x", ch);
		else
			putc(ch, out);
	}
}

int
cli_print_explained(FILE *out, const char *reply, size_t len,
    enum cat_lang lang)
{
	char buf[4096];

	if (len < 3 || reply[0] == '2')
		return 0;
	if (cat_explain_reply(buf, sizeof(buf), reply, len, lang) < 0 &&
	    buf[0] == '\0')
		return 0;
	fprintf(out, "   = ");
	(void)wrap_print(out, buf, wrap_width(fileno(out)), 5, "     ");
	return 1;
}

void
cli_transcript_line(struct cli_transcript *t, enum smtp_client_dir dir,
    const char *line, size_t len)
{
	fprintf(t->out, "%c%s", (char)dir, dir == SMTP_CLIENT_INFO ? " " :
	    ": ");
	cli_print_safe(t->out, line, len);
	fprintf(t->out, "\n");
	if (dir != SMTP_CLIENT_RECEIVED)
		return;
	if (t->replylen + len + 1 < sizeof(t->reply)) {
		memcpy(t->reply + t->replylen, line, len);
		t->replylen += len;
		t->reply[t->replylen++] = '\n';
	}
	if (len == 3 || (len > 3 && line[3] != '-')) {
		(void)cli_print_explained(t->out, t->reply, t->replylen,
		    t->lang);
		t->replylen = 0;
	}
}
