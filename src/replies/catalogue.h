/*
 * The reply catalogue: every basic SMTP reply code (RFC 5321, RFC 4954,
 * RFC 7504, RFC 1870, RFC 3030) and every enhanced status code of the IANA
 * registry (RFC 3463, RFC 5248 and later), each with a title, description,
 * when it is seen and how to resolve it, in English and Japanese.
 *
 * The entries are compiled from the .txt files in data/replies/ by
 * scripts/gen_replies.awk into build/gen/replies_gen.c; nothing is read at
 * run time. Everything here is pure and reentrant: any process may call it
 * (the CLI's explain/compare, send -v, the queue listing, DSN bounces).
 */
#ifndef POSTERN_CATALOGUE_H
#define POSTERN_CATALOGUE_H

#include <stddef.h>
#include <stdio.h>

enum cat_lang {
	CAT_LANG_EN,
	CAT_LANG_JA,
	CAT_NLANG
};

enum cat_kind {
	CAT_BASIC,		/* "556" */
	CAT_BASIC_CLASS,	/* "5yz": meaning of a reply's first digit */
	CAT_BASIC_GROUP,	/* "x5z": meaning of a reply's second digit */
	CAT_ENHANCED,		/* "X.1.10": a registered enhanced code */
	CAT_ENH_CLASS,		/* "5.XXX.YYY": enhanced class sub-code */
	CAT_ENH_SUBJECT		/* "X.1.YYY": enhanced subject sub-code */
};

/* The texts of one entry in one language; never NULL, never empty. */
struct cat_text {
	const char	*title;
	const char	*description;
	const char	*when;		/* when you see it */
	const char	*resolve;	/* how to resolve it */
};

struct cat_entry {
	const char	*code;		/* as in the source: "556", "X.1.10" */
	enum cat_kind	 kind;
	int		 cls;		/* first digit: basic and class kinds;
					   0 for X.* entries */
	const char	*after;		/* CAT_BASIC: commands it answers,
					   e.g. "connect, MAIL, RCPT" */
	const char	*rfc;		/* "RFC 7504, RFC 7505" */
	const char	*basic;		/* CAT_ENHANCED: basic codes the
					   registry associates, "" if none */
	struct cat_text	 text[CAT_NLANG];
};

extern const struct cat_entry cat_entries[];
extern const size_t cat_nentries;

/*
 * Lookups; each returns the entry or NULL. cat_enhanced() takes the
 * subject and detail of X.SUBJECT.DETAIL (the class does not select an
 * entry: 4.2.2 and 5.2.2 share X.2.2).
 */
const struct cat_entry *cat_basic(int code);
const struct cat_entry *cat_basic_class(int digit);
const struct cat_entry *cat_basic_group(int digit);
const struct cat_entry *cat_enhanced(int subject, int detail);
const struct cat_entry *cat_enh_class(int cls);
const struct cat_entry *cat_enh_subject(int subject);

/* A code as typed: "334", "5.1.10", "X.1.10" (x in any case). */
enum cat_code_type {
	CAT_CODE_BASIC,
	CAT_CODE_ENHANCED
};

struct cat_code {
	enum cat_code_type type;
	int		 cls;		/* first digit; 0 for "X." */
	int		 basic;		/* CAT_CODE_BASIC: 100..999 */
	int		 subject;	/* CAT_CODE_ENHANCED */
	int		 detail;
};

/*
 * Parses exactly one code from s (len bytes, surrounding blanks allowed).
 * Returns 0, or -1 if s is not one code. Enhanced codes follow RFC 3463:
 * 1-3 digit subject and detail.
 */
int cat_parse_code(const char *s, size_t len, struct cat_code *c);

/* Formats c canonically ("556", "5.1.10", "X.1.10") into buf. */
void cat_code_str(const struct cat_code *c, char *buf, size_t bufsz);

/*
 * Looks up the entry a parsed code names; NULL if not in the catalogue,
 * and for an enhanced code whose class is not 2, 4, 5 or X ("3.1.1").
 */
const struct cat_entry *cat_code_entry(const struct cat_code *c);

/* Problems found in a reply (bits of cat_reply.problems). */
#define CAT_P_CLASS_MISMATCH	0x01	/* basic and enhanced classes differ */
#define CAT_P_CODE_MISMATCH	0x02	/* lines carry different basic codes */
#define CAT_P_ENH_MISMATCH	0x04	/* lines carry different enhanced
					   codes */
#define CAT_P_CONTINUATION	0x08	/* "-" on the last line, or " " on
					   one before it */
#define CAT_P_BAD_ENHANCED	0x10	/* enhanced class not 2, 4 or 5 */
#define CAT_P_TRUNCATED		0x20	/* text did not fit in text[] */
/* The problems that make a reply malformed (the others are notes). */
#define CAT_P_MALFORMED		(CAT_P_CLASS_MISMATCH | CAT_P_CODE_MISMATCH | \
				 CAT_P_CONTINUATION | CAT_P_BAD_ENHANCED)

#define CAT_TEXT_MAX	1024

struct cat_reply {
	int		 basic;		/* 100..999 */
	int		 enh_cls;	/* 0: no enhanced code */
	int		 enh_subject;
	int		 enh_detail;
	int		 lines;		/* reply lines seen */
	unsigned	 problems;	/* CAT_P_* */
	char		 text[CAT_TEXT_MAX];	/* the lines' texts after the
						   codes, joined by "\n" */
};

/*
 * Parses a reply as a server sends it, one line or several ("250-...",
 * lines separated by LF or CRLF, blank lines and leading blanks
 * tolerated, a leading "smtp;" as in a DSN Diagnostic-Code skipped).
 * The basic code is the first line's; the enhanced code is taken from the
 * first line that carries one. Returns 0, or -1 if s does not start with
 * a three-digit code. Never reads past s + len.
 */
int cat_parse_reply(const char *s, size_t len, struct cat_reply *r);

/*
 * What a class means for the client, as a stable token: "done" (2),
 * "continue" (3), "retry_later" (4), "do_not_retry" (5), "unknown".
 */
const char *cat_action(int cls);

/*
 * Writes one plain-text paragraph explaining reply r in lang: what it
 * means and what to do, from the catalogue. Always NUL-terminates when
 * bufsz > 0. Returns the length, or -1 if it did not fit (buf then holds
 * as much as fitted) or the reply's basic code is not in the catalogue.
 */
int cat_explain(char *buf, size_t bufsz, const struct cat_reply *r,
    enum cat_lang lang);

/*
 * Writes how r's basic and enhanced codes combine: which decides what,
 * and any problem (malformed reply, unusual pairing) as sentences. Writes
 * "" when r has no enhanced code and no problem. Returns the length, or
 * -1 if it did not fit (buf then holds as much as fitted).
 */
int cat_combine(char *buf, size_t bufsz, const struct cat_reply *r,
    enum cat_lang lang);

/* Returns 1 if the enhanced entry e lists basic code b (or "Any"). */
int cat_pairs_with(const struct cat_entry *e, int b);

/* The same for a reply given as text (see cat_parse_reply). */
int cat_explain_reply(char *buf, size_t bufsz, const char *reply,
    size_t len, enum cat_lang lang);

/*
 * Headings and labels of the explainer's output, per language. cat_ui()
 * never returns NULL.
 */
struct cat_ui {
	const char	*description;	/* "Description" / "説明" */
	const char	*when;		/* "When you see it" */
	const char	*resolve;	/* "How to resolve" */
	const char	*rfc;		/* "Defined in" */
	const char	*cls;		/* "Class" */
	const char	*subject;	/* "Subject" (enhanced codes) */
	const char	*group;		/* "Category" (second digit) */
	const char	*after;		/* "Sent in reply to" */
	const char	*assoc;		/* "Used with basic codes" */
	const char	*together;	/* "Together" */
	const char	*malformed;	/* "Malformed reply" */
	const char	*note;		/* "Note" */
	const char	*text;		/* "Server text" */
	const char	*differences;	/* "Key differences" */
	const char	*meaning;	/* "Meaning" */
	const char	*todo;		/* "What to do" */
	const char	*colon;		/* ": " or "：" */
	const char	*unknown;	/* "not a known reply code" */
	const char	*not_given;	/* "none registered" */
	const char	*action[6];	/* by class 2..5: what the client
					   does, a short phrase */
};

const struct cat_ui *cat_ui(enum cat_lang lang);

/*
 * JSON output of the explainer (field names documented in
 * docs/explain.md). cat_json_str() writes s as a JSON string literal
 * (UTF-8 passed through, control characters escaped); cat_json_code()
 * writes the object describing code c, whose entry is e, in lang.
 */
void cat_json_str(FILE *fp, const char *s);
void cat_json_code(FILE *fp, const struct cat_code *c,
    const struct cat_entry *e, enum cat_lang lang);

/*
 * Language: cat_lang_parse() accepts "en", "ja" and locale names such as
 * "ja_JP.UTF-8" (0, or -1 if unknown); cat_lang_env() picks it from
 * LC_ALL, LC_MESSAGES, LANG in that order (default English).
 */
int cat_lang_parse(const char *s, enum cat_lang *lang);
enum cat_lang cat_lang_env(void);
const char *cat_lang_name(enum cat_lang lang);

#endif
