/*
 * postern compare CODE CODE: two reply codes (basic or enhanced) side by
 * side, as someone asking "what is the difference between 334 and 556?"
 * wants it: the class of each and what it tells the client to do, the
 * meaning, when each is seen, what to do, and the key differences as a
 * short list; in English or Japanese, as text or JSON (docs/explain.md).
 * Owns nothing beyond its stack; CLI process. Exit: 0; 64 usage; 65
 * unknown code.
 */
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sysexits.h>

#include "cli/cli.h"
#include "cli/cli_common.h"
#include "replies/cat_out.h"
#include "util/wrap.h"

#define CMP_MAXDIFF	8
#define CMP_DIFFSZ	1024

/* One side of the comparison. */
struct cmp_side {
	struct cat_code		 c;
	const struct cat_entry	*e;
	char			 code[24];	/* canonical */
};

struct cmp_diffs {
	int	n;
	char	text[CMP_MAXDIFF][CMP_DIFFSZ];
};

/* The sentences of the key differences, per language (printf formats). */
struct cmp_say {
	const char	*should[6];	/* by class: what the client does */
	const char	*basic_cls;	/* code, cls, class title, should */
	const char	*enh_cls;	/* code, cls, class title, should */
	const char	*no_cls;	/* code */
	const char	*same_cls;	/* cls phrase, should */
	const char	*same_digit;	/* cls, basic title, enh title, should */
	const char	*kinds;		/* basic, enhanced */
	const char	*paired;	/* enhanced, basic, basic, enhanced */
	const char	*meaning;	/* a, title a, b, title b */
	const char	*after;		/* a, list a, b, list b */
	const char	*same_after;	/* list */
	const char	*subject;	/* a, subj a, b, subj b */
	const char	*same_subject;	/* subj */
	const char	*group;		/* a, digit, title, b, digit, title */
	const char	*todo;		/* a, first sentence, b, first */
	const char	*rfc;		/* a, rfc a, b, rfc b */
	const char	*same_rfc;	/* rfc */
	const char	*same_code;
	const char	*vs;		/* "%s vs %s" */
};

static const struct cmp_say cmp_say_tab[CAT_NLANG] = {
	[CAT_LANG_EN] = {
		{ NULL, NULL, "simply go on, as the command succeeded",
		  "continue the exchange", "retry later",
		  "give up and not retry it unchanged" },
		"%s is a %dxx reply (%s): the client should %s.",
		"%s has class %d (%s): the client should %s.",
		"%s names no class of its own: it takes the class of the "
		"reply it comes with (2 success, 4 temporary failure, 5 "
		"permanent failure).",
		"Both are %s: the client should %s.",
		"Both belong to class %d (%s; %s): the client should %s.",
		"%s is a basic reply code, which decides what the client "
		"does; %s is an enhanced status code (RFC 3463), which only "
		"adds the reason.",
		"The IANA registry lists %s with basic code %s, so they often "
		"come together, as in \"%s %s\".",
		"%s means \"%s\", while %s means \"%s\".",
		"%s answers %s; %s answers %s.",
		"Both answer %s.",
		"%s concerns %s; %s concerns %s.",
		"Both concern %s.",
		"By the second digit, %s is in the x%dz group (%s) and %s in "
		"the x%dz group (%s).",
		"First step for %s: %s First step for %s: %s",
		"%s is defined in %s; %s in %s.",
		"Both are defined in %s.",
		"Both arguments are the same code.",
		"%s vs %s",
	},
	[CAT_LANG_JA] = {
		{ NULL, NULL, "そのまま次へ進みます（コマンドは成功しています）",
		  "やり取りを続けます", "時間をおいて再試行します",
		  "あきらめ、同じ内容では再試行しません" },
		"%s は %dxx（%s）の応答で、クライアントは%s。",
		"%s はクラス %d（%s）のコードで、クライアントは%s。",
		"%s 自体はクラスを持たず、一緒に返される応答のクラス（2 成功、"
		"4 一時的な失敗、5 恒久的な失敗）に従います。",
		"どちらも %sで、クライアントは%s。",
		"どちらもクラス %d（%s／%s）で、クライアントは%s。",
		"%s は基本の応答コードで、クライアントの動作を決めます。%s は"
		"拡張ステータスコード（RFC 3463）で、理由を補足するだけです。",
		"IANA レジストリでは %s は基本コード %s と組み合わせるものと"
		"されており、「%s %s」のように一緒に返されることがよくあります。",
		"%s は「%s」、%s は「%s」を意味します。",
		"%s は %s への応答として、%s は %s への応答として返されます。",
		"どちらも %s への応答として返されます。",
		"%s は「%s」、%s は「%s」に関するコードです。",
		"どちらも「%s」に関するコードです。",
		"2 桁目で見ると、%s は x%dz（%s）、%s は x%dz（%s）の分類です。",
		"%s の最初の対処：%s%s の最初の対処：%s",
		"%s は %s、%s は %s で定義されています。",
		"どちらも %s で定義されています。",
		"2 つの引数は同じコードです。",
		"%s と %s の比較",
	},
};

static const struct cmp_say *
cmp_say(enum cat_lang lang)
{
	return &cmp_say_tab[lang == CAT_LANG_JA ? CAT_LANG_JA : CAT_LANG_EN];
}

static void cmp_add(struct cmp_diffs *, const char *, ...)
    __attribute__((format(printf, 2, 3)));

static void
cmp_add(struct cmp_diffs *d, const char *fmt, ...)
{
	va_list ap;

	if (d->n >= CMP_MAXDIFF)
		return;
	va_start(ap, fmt);
	(void)vsnprintf(d->text[d->n], CMP_DIFFSZ, fmt, ap);
	va_end(ap);
	d->n++;
}

/* Copies the first sentence of s into buf (Japanese: up to "。"). */
static void
cmp_first_sentence(const char *s, enum cat_lang lang, char *buf,
    size_t bufsz)
{
	const char *end;
	size_t n;

	if (lang == CAT_LANG_JA) {
		end = strstr(s, "。");
		n = end != NULL ? (size_t)(end - s) + strlen("。") : strlen(s);
	} else {
		end = strstr(s, ". ");
		n = end != NULL ? (size_t)(end - s) + 1 : strlen(s);
	}
	if (n >= bufsz)
		n = bufsz - 1;
	memcpy(buf, s, n);
	buf[n] = '\0';
}

/* "5xx replies (Permanent Negative Completion)" for the same-class case. */
static void
cmp_cls_phrase(const struct cmp_side *s, enum cat_lang lang, char *buf,
    size_t bufsz)
{
	const struct cat_entry *ce;
	int ja = lang == CAT_LANG_JA, basic = s->c.type == CAT_CODE_BASIC;

	ce = basic ? cat_basic_class(s->c.cls) : cat_enh_class(s->c.cls);
	if (basic)
		(void)snprintf(buf, bufsz, ja ? "%dxx（%s）の応答" :
		    "%dxx replies (%s)", s->c.cls, ce->text[lang].title);
	else
		(void)snprintf(buf, bufsz, ja ? "クラス %d（%s）のコード" :
		    "class %d codes (%s)", s->c.cls, ce->text[lang].title);
}

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
static void
cmp_diff_one_class(struct cmp_diffs *d, const struct cmp_side *s,
    enum cat_lang lang)
{
	const struct cmp_say *say = cmp_say(lang);
	const struct cat_entry *ce;

	if (s->c.cls == 0) {
		cmp_add(d, say->no_cls, s->code);
		return;
	}
	if (s->c.type == CAT_CODE_BASIC) {
		ce = cat_basic_class(s->c.cls);
		cmp_add(d, say->basic_cls, s->code, s->c.cls,
		    ce->text[lang].title, say->should[s->c.cls]);
	} else {
		ce = cat_enh_class(s->c.cls);
		cmp_add(d, say->enh_cls, s->code, s->c.cls,
		    ce->text[lang].title, say->should[s->c.cls]);
	}
}

static void
cmp_diff_class(struct cmp_diffs *d, const struct cmp_side *a,
    const struct cmp_side *b, enum cat_lang lang)
{
	char phrase[256];

	if (a->c.cls != 0 && a->c.cls == b->c.cls &&
	    a->c.type == b->c.type) {
		cmp_cls_phrase(a, lang, phrase, sizeof(phrase));
		cmp_add(d, cmp_say(lang)->same_cls, phrase,
		    cmp_say(lang)->should[a->c.cls]);
		return;
	}
	if (a->c.cls != 0 && a->c.cls == b->c.cls) {
		cmp_add(d, cmp_say(lang)->same_digit, a->c.cls,
		    cat_basic_class(a->c.cls)->text[lang].title,
		    cat_enh_class(a->c.cls)->text[lang].title,
		    cmp_say(lang)->should[a->c.cls]);
		return;
	}
	cmp_diff_one_class(d, a, lang);
	if (d->n > 0 && d->n < CMP_MAXDIFF) {
		/* the two classes make one item */
		struct cmp_diffs tmp = { 0 };

		cmp_diff_one_class(&tmp, b, lang);
		(void)snprintf(d->text[d->n - 1] + strlen(d->text[d->n - 1]),
		    CMP_DIFFSZ - strlen(d->text[d->n - 1]), "%s%s",
		    lang == CAT_LANG_JA ? "" : " ", tmp.text[0]);
	}
}

/* One basic and one enhanced code: what each kind does, and pairing. */
static void
cmp_diff_kinds(struct cmp_diffs *d, const struct cmp_side *a,
    const struct cmp_side *b, enum cat_lang lang)
{
	const struct cmp_say *say = cmp_say(lang);
	const struct cmp_side *bs = a->c.type == CAT_CODE_BASIC ? a : b;
	const struct cmp_side *es = bs == a ? b : a;
	char enh[24];

	cmp_add(d, say->kinds, bs->code, es->code);
	if (strcasecmp(es->e->basic, "any") == 0 ||
	    !cat_pairs_with(es->e, bs->c.basic))
		return;
	(void)snprintf(enh, sizeof(enh), "%d.%d.%d", bs->c.cls,
	    es->c.subject, es->c.detail);
	cmp_add(d, say->paired, es->code, bs->code, bs->code, enh);
}

static void
cmp_diff_after(struct cmp_diffs *d, const struct cmp_side *a,
    const struct cmp_side *b, enum cat_lang lang)
{
	const struct cmp_say *say = cmp_say(lang);
	const struct cat_entry *ga, *gb;
	char la[256], lb[256];
	int da = a->c.basic / 10 % 10, db = b->c.basic / 10 % 10;

	cat_out_after(a->e->after, lang, la, sizeof(la));
	cat_out_after(b->e->after, lang, lb, sizeof(lb));
	if (strcmp(la, lb) == 0)
		cmp_add(d, say->same_after, la);
	else
		cmp_add(d, say->after, a->code, la, b->code, lb);
	ga = cat_basic_group(da);
	gb = cat_basic_group(db);
	if (da != db && ga != NULL && gb != NULL)
		cmp_add(d, say->group, a->code, da, ga->text[lang].title,
		    b->code, db, gb->text[lang].title);
}

static void
cmp_diff_subject(struct cmp_diffs *d, const struct cmp_side *a,
    const struct cmp_side *b, enum cat_lang lang)
{
	const struct cmp_say *say = cmp_say(lang);
	const struct cat_entry *sa = cat_enh_subject(a->c.subject);
	const struct cat_entry *sb = cat_enh_subject(b->c.subject);

	if (sa == NULL || sb == NULL)
		return;
	if (sa == sb)
		cmp_add(d, say->same_subject, sa->text[lang].title);
	else
		cmp_add(d, say->subject, a->code, sa->text[lang].title,
		    b->code, sb->text[lang].title);
}

static void
cmp_differences(struct cmp_diffs *d, const struct cmp_side *a,
    const struct cmp_side *b, enum cat_lang lang)
{
	const struct cmp_say *say = cmp_say(lang);
	char fa[512], fb[512];

	memset(d, 0, sizeof(*d));
	if (strcmp(a->code, b->code) == 0) {
		cmp_add(d, "%s", say->same_code);
		return;
	}
	cmp_diff_class(d, a, b, lang);
	if (a->c.type != b->c.type)
		cmp_diff_kinds(d, a, b, lang);
	if (a->e != b->e)
		cmp_add(d, say->meaning, a->code, a->e->text[lang].title,
		    b->code, b->e->text[lang].title);
	if (a->c.type == CAT_CODE_BASIC && b->c.type == CAT_CODE_BASIC)
		cmp_diff_after(d, a, b, lang);
	if (a->c.type == CAT_CODE_ENHANCED && b->c.type == CAT_CODE_ENHANCED)
		cmp_diff_subject(d, a, b, lang);
	if (a->e != b->e) {
		cmp_first_sentence(a->e->text[lang].resolve, lang, fa,
		    sizeof(fa));
		cmp_first_sentence(b->e->text[lang].resolve, lang, fb,
		    sizeof(fb));
		cmp_add(d, say->todo, a->code, fa, b->code, fb);
	}
	if (strcmp(a->e->rfc, b->e->rfc) == 0)
		cmp_add(d, say->same_rfc, a->e->rfc);
	else
		cmp_add(d, say->rfc, a->code, a->e->rfc, b->code, b->e->rfc);
}
#pragma GCC diagnostic pop

/* Two texts in columns of colw, after a two-space indent. */
static void
cmp_columns(struct cat_out *o, const char *a, const char *b, size_t colw,
    int bold)
{
	size_t la = strlen(a), lb = strlen(b), pa = 0, pb = 0, n, line;

	while (pa < la || pb < lb) {
		fputs(bold ? "  \033[1m" : "  ", o->fp);
		line = 0;
		n = pa < la ? wrap_next(a + pa, la - pa, colw, &line) : 0;
		if (pb < lb)
			(void)wrap_pad(o->fp, a + pa, line, colw);
		else
			(void)fwrite(a + pa, 1, line, o->fp);
		pa += n;
		line = 0;
		n = pb < lb ? wrap_next(b + pb, lb - pb, colw, &line) : 0;
		if (line > 0)
			fputs("   ", o->fp);
		fprintf(o->fp, "%.*s%s\n", (int)line, b + pb,
		    bold ? "\033[0m" : "");
		pb += n;
	}
}

/* The texts of one side, by section. */
static void
cmp_section_texts(const struct cmp_side *s, enum cat_lang lang, int sec,
    char *buf, size_t bufsz)
{
	const struct cat_text *t = &s->e->text[lang];
	const struct cat_entry *ce;
	char cls[512];

	switch (sec) {
	case 0:
		cat_out_class(&s->c, lang, cls, sizeof(cls));
		ce = s->c.type == CAT_CODE_BASIC ? cat_basic_class(s->c.cls) :
		    cat_enh_class(s->c.cls);
		if (ce == NULL || s->c.cls == 0) {
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
			(void)snprintf(buf, bufsz, cmp_say(lang)->no_cls,
			    s->code);
#pragma GCC diagnostic pop
		} else
			(void)snprintf(buf, bufsz, "%s%s%s", cls,
			    lang == CAT_LANG_JA ? "。" : ". ",
			    ce->text[lang].description);
		break;
	case 1:
		(void)snprintf(buf, bufsz, "%s", t->description);
		break;
	case 2:
		(void)snprintf(buf, bufsz, "%s", t->when);
		break;
	case 3:
		(void)snprintf(buf, bufsz, "%s", t->resolve);
		break;
	default:
		(void)snprintf(buf, bufsz, "%s", s->e->rfc);
		break;
	}
}

static void
cmp_text(struct cat_out *o, const struct cmp_side *s,
    const struct cmp_diffs *d)
{
	const struct cat_ui *ui = cat_ui(o->lang);
	const char *heads[5] = { ui->cls, ui->description, ui->when,
	    ui->resolve, ui->rfc };
	char title[2][512], buf[2][2048];
	size_t colw = (o->width - 5) / 2;
	int sec, i;

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
	(void)snprintf(buf[0], sizeof(buf[0]), cmp_say(o->lang)->vs,
	    s[0].code, s[1].code);
#pragma GCC diagnostic pop
	cat_out_heading(o, buf[0]);
	fputc('\n', o->fp);
	for (i = 0; i < 2; i++)
		(void)snprintf(title[i], sizeof(title[i]), "%s  %s", s[i].code,
		    s[i].e->text[o->lang].title);
	if (o->width >= 60)
		cmp_columns(o, title[0], title[1], colw, o->bold);
	for (i = 0; i < 2 && o->width < 60; i++) {
		cat_out_heading(o, title[i]);
		for (sec = 0; sec < 5; sec++) {
			cmp_section_texts(&s[i], o->lang, sec, buf[0],
			    sizeof(buf[0]));
			cat_out_para(o, heads[sec], buf[0]);
		}
		fputc('\n', o->fp);
	}
	for (sec = 0; sec < 5 && o->width >= 60; sec++) {
		cat_out_heading(o, heads[sec]);
		for (i = 0; i < 2; i++)
			cmp_section_texts(&s[i], o->lang, sec, buf[i],
			    sizeof(buf[i]));
		cmp_columns(o, buf[0], buf[1], colw, 0);
	}
	if (o->width >= 60)
		fputc('\n', o->fp);
	cat_out_heading(o, ui->differences);
	for (i = 0; i < d->n; i++) {
		fprintf(o->fp, "  %d. ", i + 1);
		(void)wrap_print(o->fp, d->text[i], o->width, 5, "     ");
	}
}

static void
cmp_json(struct cat_out *o, const struct cmp_side *s,
    const struct cmp_diffs *d)
{
	int i;

	fprintf(o->fp, "{\"lang\": \"%s\", \"codes\": [",
	    cat_lang_name(o->lang));
	for (i = 0; i < 2; i++) {
		fputs(i > 0 ? ", " : "", o->fp);
		cat_json_code(o->fp, &s[i].c, s[i].e, o->lang);
	}
	fprintf(o->fp, "], \"same_class\": %s, \"differences\": [",
	    s[0].c.cls != 0 && s[0].c.cls == s[1].c.cls ? "true" : "false");
	for (i = 0; i < d->n; i++) {
		fputs(i > 0 ? ", " : "", o->fp);
		cat_json_str(o->fp, d->text[i]);
	}
	fputs("], \"error\": null}\n", o->fp);
}

/* Parses and looks up one operand; returns 0 or -1 (reported). */
static int
cmp_side_init(struct cat_out *o, const char *arg, struct cmp_side *s)
{
	int json = o->json;

	memset(s, 0, sizeof(*s));
	if (cat_parse_code(arg, strlen(arg), &s->c) == 0) {
		cat_code_str(&s->c, s->code, sizeof(s->code));
		if ((s->e = cat_code_entry(&s->c)) != NULL)
			return 0;
	}
	o->json = 0;
	cat_out_unknown(o, arg, s->code[0] != '\0' ? &s->c : NULL);
	o->json = json;
	if (json) {
		fprintf(o->fp, "{\"lang\": \"%s\", \"codes\": null, "
		    "\"same_class\": null, \"differences\": null, "
		    "\"error\": ", cat_lang_name(o->lang));
		cat_json_str(o->fp, arg);
		fputs("}\n", o->fp);
	}
	return -1;
}

static void
cmp_usage(FILE *fp)
{
	fprintf(fp,
	    "usage: postern compare [--lang en|ja] [--json] CODE CODE\n"
	    "\n"
	    "Shows two SMTP reply codes side by side: the class of each and\n"
	    "what it tells the client, the meaning, when each is seen, what\n"
	    "to do, and the key differences. Codes are basic (334, 556) or\n"
	    "enhanced (5.1.10, X.7.27), in any mix.\n"
	    "\n"
	    CLI_CAT_OPTIONS_HELP
	    "\n"
	    "Exit status: 0; 64 usage error; 65 unknown code.\n");
}

int
cli_compare(int argc, char **argv)
{
	struct cat_out o;
	struct cmp_side s[2];
	struct cmp_diffs d;
	int rc;

	cat_out_init(&o, "compare");
	if ((rc = cli_cat_options(argc, argv, cmp_usage, &o)) != 0)
		return rc == -1 ? 0 : rc;
	if (argc - optind != 2) {
		cmp_usage(stderr);
		return EX_USAGE;
	}
	if (cmp_side_init(&o, argv[optind], &s[0]) == -1 ||
	    cmp_side_init(&o, argv[optind + 1], &s[1]) == -1)
		return EX_DATAERR;
	cmp_differences(&d, &s[0], &s[1], o.lang);
	if (o.json)
		cmp_json(&o, s, &d);
	else
		cmp_text(&o, s, &d);
	return fflush(stdout) == EOF ? EX_IOERR : 0;
}
