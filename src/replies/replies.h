/*
 * Server replies: every reply text the server sends comes from this table,
 * compiled from data/replies/server.tsv (see scripts/gen_replies.awk).
 */
#ifndef POSTERN_REPLIES_H
#define POSTERN_REPLIES_H

#include <stddef.h>

#include "replies_gen.h"

struct server_reply {
	const char	*name;		/* the id without R_, for logs */
	int		 code;		/* basic code, 200..599 */
	const char	*enhanced;	/* "2.0.0", or "" where none is sent */
	const char	*text;		/* printf format */
};

extern const struct server_reply server_replies[R__COUNT];

/*
 * Formats reply `id` into buf as "CODE ENH TEXT\r\n" (or "CODE-..." when
 * more is nonzero), with the format's arguments from ap. Returns the
 * length, or -1 if it does not fit.
 */
#include <stdarg.h>
int reply_vformat(char *buf, size_t bufsz, enum reply_id id, int more,
    va_list ap);
int reply_format(char *buf, size_t bufsz, enum reply_id id, int more, ...);

#endif
