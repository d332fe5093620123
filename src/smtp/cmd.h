/*
 * The SMTP command tokenizer and the MAIL/RCPT argument parsers: pure
 * functions over one command line (CRLF already removed), no allocation.
 */
#ifndef POSTERN_SMTP_CMD_H
#define POSTERN_SMTP_CMD_H

#include <stddef.h>
#include <stdint.h>

#include "replies/replies.h"
#include "util/addr.h"

/* RFC 5321 allows 512; extension parameters need more (SPEC §5). */
#define SMTP_LINE_MAX 2048	/* a command line, CRLF included */
#define SMTP_AUTH_LINE_MAX 12288	/* an AUTH response without its CRLF,
					   RFC 4954 §4 */

enum smtp_cmd_id {
	CMD_UNKNOWN, CMD_HELO, CMD_EHLO, CMD_MAIL, CMD_RCPT, CMD_DATA,
	CMD_RSET, CMD_NOOP, CMD_QUIT, CMD_VRFY, CMD_EXPN, CMD_HELP,
	CMD_STARTTLS, CMD_AUTH, CMD_BDAT, CMD_ETRN, CMD_TURN,
};

/* Command flags (STYLE §5: a table with flags). */
#define CMD_F_NOARGS	0x01	/* arguments are a syntax error */
#define CMD_F_ARGS	0x02	/* arguments are required */
#define CMD_F_LAST	0x04	/* must be last in a pipelined group */
#define CMD_F_PRETLS	0x08	/* allowed before STARTTLS where TLS is required */

struct smtp_cmd {
	enum smtp_cmd_id id;
	unsigned	 flags;
	const char	*name;		/* canonical upper-case verb */
	const char	*args;		/* borrowed from the line; "" if none */
	size_t		 argslen;
};

/* Splits a line into verb and arguments. Never fails: unknown verbs give
 * CMD_UNKNOWN. */
void smtp_cmd_parse(const char *line, size_t len, struct smtp_cmd *cmd);

struct smtp_mail_params {
	uint64_t	size;		/* SIZE=, 0 if absent */
	int		body_8bit;	/* BODY=8BITMIME */
	int		smtputf8;	/* SMTPUTF8 */
	char		auth[ADDR_BUFSZ];	/* AUTH= (decoded xtext), "" if absent */
	int		has_auth;
};

/*
 * Parses "FROM:<path> [params]". Returns 0 with a and p filled, or -1 with
 * the reply to send in *err.
 */
int smtp_parse_mail(const char *args, size_t len, struct addr *a,
    struct smtp_mail_params *p, enum reply_id *err);

/*
 * Parses "TO:<path>" (no RCPT parameters are offered). "<Postmaster>"
 * gives local part "postmaster" and an empty domain. smtputf8: the
 * transaction's SMTPUTF8 flag. 0 or -1 with *err.
 */
int smtp_parse_rcpt(const char *args, size_t len, int smtputf8,
    struct addr *a, enum reply_id *err);

/* "HELO"/"EHLO" argument: one token of printable ASCII, <= 255 octets. */
int smtp_valid_helo(const char *args, size_t len);

#endif
