/*
 * Helpers shared by the commands that drive the SMTP client (postern send,
 * postern check): printing peer text safely, explaining a reply from the
 * catalogue, and the -v transcript (C:, S: and * lines, every complete
 * reply that is not 2xx followed by its explanation).
 */
#ifndef POSTERN_CLI_CLIENT_COMMON_H
#define POSTERN_CLI_CLIENT_COMMON_H

#include <stddef.h>
#include <stdio.h>

#include "replies/catalogue.h"
#include "smtp/client.h"

#define CLI_TRANSCRIPT_REPLY_MAX 4096	/* reply lines kept to explain */

/* The transcript printer; embedded in the caller's state. */
struct cli_transcript {
	FILE		*out;
	enum cat_lang	 lang;
	char		 reply[CLI_TRANSCRIPT_REPLY_MAX];	/* lines of the
							   reply being read */
	size_t		 replylen;
};

void cli_transcript_init(struct cli_transcript *t, FILE *out,
    enum cat_lang lang);

/*
 * Prints one transcript line as "C: line", "S: line" or "* line", escaped.
 * After the last line of a reply that is not 2xx, prints its explanation
 * (see cli_print_explained()).
 */
void cli_transcript_line(struct cli_transcript *t, enum smtp_client_dir dir,
    const char *line, size_t len);

/* Writes s[0..len) with control characters as \xNN (hostile peers). */
void cli_print_safe(FILE *out, const char *s, size_t len);

/*
 * Explains reply (one or more lines "CODE text", LF-separated, len bytes)
 * from the catalogue as "   = paragraph", wrapped to the output's width
 * with continuation lines indented by 5. Prints nothing for a 2xx reply
 * or one the catalogue cannot explain. Returns 1 if it printed, else 0.
 */
int cli_print_explained(FILE *out, const char *reply, size_t len,
    enum cat_lang lang);

#endif
