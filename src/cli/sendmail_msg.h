/*
 * Reading and taking apart a message given to `postern sendmail` on
 * standard input: line endings to CRLF, the sendmail "." rule, the header
 * section as a list of fields, and the addresses of To/Cc/Bcc style
 * fields (RFC 5322 §3.4 address lists, groups and comments included).
 */
#ifndef POSTERN_SENDMAIL_MSG_H
#define POSTERN_SENDMAIL_MSG_H

#include <stddef.h>

/* One header field: its bytes, continuation lines and final CRLF included. */
struct sendmail_field {
	size_t	off;
	size_t	len;
	size_t	name_len;	/* bytes before the ':' */
};

/* Owns buf and fields. */
struct sendmail_msg {
	char			*buf;		/* the message, CRLF endings */
	size_t			 len;
	size_t			 cap;
	struct sendmail_field	*fields;
	size_t			 nfields;
	size_t			 body_off;	/* first byte of the body */
	int			 line_start;	/* reader state */
	int			 cr;		/* reader state: CR pending */
	size_t			 line_off;	/* reader state */
	int			 ended;		/* a lone "." was read */
};

/*
 * Reads fd to EOF (or, unless ignore_dots, to a line holding only "."),
 * storing every line with CRLF whatever it ended with. -1 with errno EFBIG
 * when the message grows past max bytes, or the read error.
 */
int sendmail_read(struct sendmail_msg *m, int fd, int ignore_dots,
    size_t max);

/* Appends bytes as sendmail_read does (for tests); -1 EFBIG past max. */
int sendmail_feed(struct sendmail_msg *m, const char *p, size_t n,
    int ignore_dots, size_t max);
/* Ends the input: a last line without a line ending gets one. */
int sendmail_feed_end(struct sendmail_msg *m, size_t max);

/*
 * Splits the header section into fields. It ends at the first empty line
 * (the body follows it) or at the first line that is not a field, which
 * then starts the body (the caller adds the blank line).
 */
void sendmail_parse_headers(struct sendmail_msg *m);

/* 1 if field i is named name (any case). */
int sendmail_field_is(const struct sendmail_msg *m, size_t i,
    const char *name);
/* 1 if some field is named name. */
int sendmail_has_field(const struct sendmail_msg *m, const char *name);

/*
 * Adds the addresses of an address-list field value (p[0..len), folded or
 * not) to *list (n entries, each malloc'ed). Display names, comments and
 * group names are dropped; an empty group is fine. -1 with the offending
 * text in why if an address is not a valid mailbox.
 */
int sendmail_addresses(const char *p, size_t len, char ***list, size_t *n,
    char *why, size_t whysz);

void sendmail_msg_clear(struct sendmail_msg *m);

#endif
