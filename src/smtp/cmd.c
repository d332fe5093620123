/*
 * SMTP command tokenizer and MAIL/RCPT parameter parsing (RFC 5321 §4.1,
 * RFC 1870 SIZE, RFC 6152 8BITMIME, RFC 6531 SMTPUTF8, RFC 4954 §5 AUTH=).
 * Pure; runs in the smtp workers.
 */
#include "smtp/cmd.h"

#include <string.h>
#include <strings.h>

static const struct smtp_cmd_def {
	const char	*name;
	enum smtp_cmd_id id;
	unsigned	 flags;
} cmd_table[] = {
	{ "EHLO", CMD_EHLO, CMD_F_ARGS | CMD_F_LAST | CMD_F_PRETLS },
	{ "HELO", CMD_HELO, CMD_F_ARGS | CMD_F_LAST | CMD_F_PRETLS },
	{ "MAIL", CMD_MAIL, CMD_F_ARGS },
	{ "RCPT", CMD_RCPT, CMD_F_ARGS },
	{ "DATA", CMD_DATA, CMD_F_NOARGS | CMD_F_LAST },
	{ "RSET", CMD_RSET, CMD_F_NOARGS | CMD_F_PRETLS },
	{ "NOOP", CMD_NOOP, CMD_F_PRETLS },
	{ "QUIT", CMD_QUIT, CMD_F_NOARGS | CMD_F_LAST | CMD_F_PRETLS },
	{ "VRFY", CMD_VRFY, CMD_F_ARGS },
	{ "EXPN", CMD_EXPN, CMD_F_ARGS },
	{ "HELP", CMD_HELP, CMD_F_PRETLS },
	{ "STARTTLS", CMD_STARTTLS, CMD_F_NOARGS | CMD_F_LAST |
	    CMD_F_PRETLS },
	{ "AUTH", CMD_AUTH, CMD_F_ARGS | CMD_F_LAST },
	{ "BDAT", CMD_BDAT, 0 },
	{ "ETRN", CMD_ETRN, 0 },
	{ "TURN", CMD_TURN, 0 },
};

void
smtp_cmd_parse(const char *line, size_t len, struct smtp_cmd *cmd)
{
	size_t verb = 0, i;

	while (verb < len && line[verb] != ' ')
		verb++;
	memset(cmd, 0, sizeof(*cmd));
	cmd->id = CMD_UNKNOWN;
	cmd->name = "";
	cmd->args = "";
	for (i = 0; i < sizeof(cmd_table) / sizeof(cmd_table[0]); i++) {
		if (strlen(cmd_table[i].name) == verb &&
		    strncasecmp(line, cmd_table[i].name, verb) == 0) {
			cmd->id = cmd_table[i].id;
			cmd->flags = cmd_table[i].flags;
			cmd->name = cmd_table[i].name;
			break;
		}
	}
	/* Arguments: after the single space; trailing spaces ignored. */
	if (verb < len) {
		cmd->args = line + verb + 1;
		cmd->argslen = len - verb - 1;
		while (cmd->argslen > 0 && (cmd->args[cmd->argslen - 1] == ' '
		    || cmd->args[cmd->argslen - 1] == '\t'))
			cmd->argslen--;
	}
}

/* Matches a case-insensitive prefix like "FROM:"; returns its length. */
static size_t
match_prefix(const char *s, size_t len, const char *prefix)
{
	size_t n = strlen(prefix), i = n;

	if (len < n || strncasecmp(s, prefix, n) != 0)
		return 0;
	/* Tolerated: "MAIL FROM: <a@b>" (a space after the colon). */
	while (i < len && s[i] == ' ')
		i++;
	return i;
}

static int
parse_u64(const char *s, size_t len, uint64_t *out)
{
	uint64_t v = 0;
	size_t i;

	if (len == 0 || len > 19)
		return -1;
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	*out = v;
	return 0;
}

/* RFC 3461 xtext ("+XX" hex escapes) into out; -1 if malformed. */
static int
xtext_decode(const char *s, size_t len, char *out, size_t outsz)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t i, o = 0;
	const char *h, *l;

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (o + 1 >= outsz || c < 33 || c > 126 || c == '=')
			return -1;
		if (c == '+') {
			if (i + 2 >= len || s[i + 1] == '\0' ||
			    s[i + 2] == '\0' ||
			    (h = strchr(hex, s[i + 1])) == NULL ||
			    (l = strchr(hex, s[i + 2])) == NULL)
				return -1;
			c = (unsigned char)(((h - hex) << 4) | (l - hex));
			i += 2;
			/* An addr-spec never holds controls (RFC 4954 §5). */
			if (c < 32 || c == 127)
				return -1;
		}
		out[o++] = (char)c;
	}
	out[o] = '\0';
	return 0;
}

/* One "KEYWORD[=VALUE]" MAIL parameter; 0 or -1 with *err. */
static int
mail_param(const char *kw, size_t kwlen, const char *val, size_t vallen,
    int hasval, struct smtp_mail_params *p, enum reply_id *err)
{
	if (kwlen == 4 && strncasecmp(kw, "SIZE", 4) == 0) {
		if (!hasval || parse_u64(val, vallen, &p->size) == -1)
			goto syntax;
		return 0;
	}
	if (kwlen == 4 && strncasecmp(kw, "BODY", 4) == 0) {
		if (hasval && vallen == 4 && strncasecmp(val, "7BIT", 4) == 0)
			p->body_8bit = 0;
		else if (hasval && vallen == 8 &&
		    strncasecmp(val, "8BITMIME", 8) == 0)
			p->body_8bit = 1;
		else {
			*err = R_BAD_BODY;
			return -1;
		}
		return 0;
	}
	if (kwlen == 8 && strncasecmp(kw, "SMTPUTF8", 8) == 0) {
		if (hasval)
			goto syntax;
		p->smtputf8 = 1;
		return 0;
	}
	if (kwlen == 4 && strncasecmp(kw, "AUTH", 4) == 0) {
		if (!hasval || xtext_decode(val, vallen, p->auth,
		    sizeof(p->auth)) == -1)
			goto syntax;
		p->has_auth = 1;
		return 0;
	}
	*err = R_UNKNOWN_PARAMETER;
	return -1;
syntax:
	*err = R_SYNTAX;
	return -1;
}

/* Walks " KW[=VAL]" parameters after a path. */
static int
mail_params(const char *s, size_t len, struct smtp_mail_params *p,
    enum reply_id *err)
{
	size_t i = 0, start, eq;

	while (i < len) {
		if (s[i++] != ' ') {
			*err = R_SYNTAX;
			return -1;
		}
		while (i < len && s[i] == ' ')
			i++;
		start = i;
		eq = 0;
		while (i < len && s[i] != ' ') {
			if (s[i] == '=' && eq == 0)
				eq = i;
			i++;
		}
		if (i == start)
			continue;
		if (mail_param(s + start, (eq ? eq : i) - start,
		    eq ? s + eq + 1 : "", eq ? i - eq - 1 : 0, eq != 0, p,
		    err) == -1)
			return -1;
	}
	return 0;
}

int
smtp_parse_mail(const char *args, size_t len, struct addr *a,
    struct smtp_mail_params *p, enum reply_id *err)
{
	size_t skip = match_prefix(args, len, "FROM:");
	int n;

	memset(p, 0, sizeof(*p));
	if (skip == 0 || skip >= len || args[skip] != '<') {
		*err = R_SYNTAX_MAIL;
		return -1;
	}
	/* Parameters first: SMTPUTF8 decides whether UTF-8 is allowed. */
	if ((n = addr_parse_path(a, args + skip, len - skip, 1, 1)) < 0) {
		*err = R_BAD_SENDER;
		return -1;
	}
	if (mail_params(args + skip + n, len - skip - n, p, err) == -1)
		return -1;
	if (a->utf8 && !p->smtputf8) {
		*err = R_NEED_SMTPUTF8;
		return -1;
	}
	return 0;
}

int
smtp_parse_rcpt(const char *args, size_t len, int smtputf8, struct addr *a,
    enum reply_id *err)
{
	size_t skip = match_prefix(args, len, "TO:");
	int n;

	if (skip == 0 || skip >= len || args[skip] != '<') {
		*err = R_SYNTAX_RCPT;
		return -1;
	}
	/* RFC 5321 §4.1.1.3: "<Postmaster>" with no domain is allowed. */
	if (len - skip >= 12 && strncasecmp(args + skip, "<postmaster>", 12)
	    == 0) {
		memset(a, 0, sizeof(*a));
		memcpy(a->local, "postmaster", 11);
		n = 12;
	} else if ((n = addr_parse_path(a, args + skip, len - skip, 0, 1)) <
	    0) {
		*err = R_BAD_RECIPIENT;
		return -1;
	}
	if ((size_t)(skip + n) != len) {
		*err = (args[skip + n] == ' ') ? R_UNKNOWN_PARAMETER :
		    R_BAD_RECIPIENT;
		return -1;
	}
	if (a->utf8 && !smtputf8) {
		*err = R_NEED_SMTPUTF8;
		return -1;
	}
	return 0;
}

int
smtp_valid_helo(const char *args, size_t len)
{
	size_t i;

	if (len == 0 || len > 255)
		return 0;
	for (i = 0; i < len; i++)
		if ((unsigned char)args[i] <= ' ' ||
		    (unsigned char)args[i] >= 0x7f)
			return 0;
	return 1;
}
