/*
 * Output of the explainer commands (postern explain, postern compare):
 * entries rendered as text wrapped to the terminal, with bold headings
 * only on a tty without NO_COLOR, or as JSON results. Part of the replies
 * module; used by src/cli/explain.c and src/cli/compare.c.
 */
#ifndef POSTERN_CAT_OUT_H
#define POSTERN_CAT_OUT_H

#include <stdio.h>

#include "replies/catalogue.h"

struct cat_out {
	FILE		*fp;		/* stdout */
	const char	*cmd;		/* "explain", for messages */
	enum cat_lang	 lang;
	int		 json;
	int		 bold;		/* may use bold */
	size_t		 width;		/* columns */
	int		 nres;		/* JSON results written so far */
};

/* Language from the environment, width and bold from stdout. */
void cat_out_init(struct cat_out *o, const char *cmd);

/* A heading line (bold where allowed). */
void cat_out_heading(struct cat_out *o, const char *s);

/* "label: value", wrapped with a hanging indent. */
void cat_out_field(struct cat_out *o, const char *label, const char *value);

/* A heading, then text as an indented paragraph. */
void cat_out_para(struct cat_out *o, const char *heading, const char *text);

/*
 * The class phrase of code c: "5xx Permanent Negative Completion — give up
 * and do not retry unchanged" (for an enhanced code "5.x.x Permanent
 * Failure — ..."). Writes "" for an X.* code.
 */
void cat_out_class(const struct cat_code *c, enum cat_lang lang, char *buf,
    size_t bufsz);

/*
 * The commands of an entry's "after" list for display: "connect, MAIL" in
 * English, "接続時、MAIL" in Japanese.
 */
void cat_out_after(const char *after, enum cat_lang lang, char *buf,
    size_t bufsz);

/* The full text explanation of code c whose entry is e. */
void cat_out_block(struct cat_out *o, const struct cat_code *c,
    const struct cat_entry *e);

/*
 * Reports an argument that is not a known code (c NULL: not a code at
 * all) on stderr, and in JSON mode as a result with "found": false.
 */
void cat_out_unknown(struct cat_out *o, const char *arg,
    const struct cat_code *c);

/*
 * Starts a JSON result object: {"input": ..., "type": ..., "found": ...
 * (the caller writes the rest and the closing brace).
 */
void cat_out_json_begin(struct cat_out *o, const char *input,
    const char *type, int found);

#endif
