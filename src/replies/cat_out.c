/*
 * Text and JSON rendering of catalogue entries for the explainer commands:
 * headings (bold only on a tty without NO_COLOR), labelled fields and
 * paragraphs wrapped to the terminal width, one code's full explanation,
 * and the report of an unknown code. Writes to stdout/stderr; owns
 * nothing. CLI process.
 */
#include "replies/cat_out.h"

#include <string.h>
#include <unistd.h>

#include "util/wrap.h"

#define BOLD_ON		"\033[1m"
#define BOLD_OFF	"\033[0m"

void
cat_out_init(struct cat_out *o, const char *cmd)
{
	memset(o, 0, sizeof(*o));
	o->fp = stdout;
	o->cmd = cmd;
	o->lang = cat_lang_env();
	o->width = wrap_width(STDOUT_FILENO);
	o->bold = wrap_use_bold(STDOUT_FILENO);
}

void
cat_out_heading(struct cat_out *o, const char *s)
{
	if (o->bold)
		fputs(BOLD_ON, o->fp);
	(void)wrap_print(o->fp, s, o->width, 0, "");
	if (o->bold)
		fputs(BOLD_OFF, o->fp);
}

void
cat_out_field(struct cat_out *o, const char *label, const char *value)
{
	const struct cat_ui *ui = cat_ui(o->lang);
	size_t col;

	fprintf(o->fp, "%s%s%s%s", o->bold ? BOLD_ON : "", label,
	    ui->colon, o->bold ? BOLD_OFF : "");
	col = wrap_strwidth(label, strlen(label)) +
	    wrap_strwidth(ui->colon, strlen(ui->colon));
	(void)wrap_print(o->fp, value, o->width, col, "    ");
}

void
cat_out_para(struct cat_out *o, const char *heading, const char *text)
{
	cat_out_heading(o, heading);
	fputs("  ", o->fp);
	(void)wrap_print(o->fp, text, o->width, 2, "  ");
}

void
cat_out_class(const struct cat_code *c, enum cat_lang lang, char *buf,
    size_t bufsz)
{
	const struct cat_entry *ce;
	const char *sep = lang == CAT_LANG_JA ? "（" : " — ";
	const char *end = lang == CAT_LANG_JA ? "）" : "";

	buf[0] = '\0';
	if (c->cls < 2 || c->cls > 5)
		return;
	if (c->type == CAT_CODE_BASIC) {
		if ((ce = cat_basic_class(c->cls)) != NULL)
			(void)snprintf(buf, bufsz, "%dxx %s%s%s%s", c->cls,
			    ce->text[lang].title, sep,
			    cat_ui(lang)->action[c->cls], end);
	} else if ((ce = cat_enh_class(c->cls)) != NULL)
		(void)snprintf(buf, bufsz, "%d.x.x %s%s%s%s", c->cls,
		    ce->text[lang].title, sep, cat_ui(lang)->action[c->cls],
		    end);
}

void
cat_out_after(const char *after, enum cat_lang lang, char *buf,
    size_t bufsz)
{
	static const struct {
		const char	*en;
		const char	*ja;
	} words[] = {
		{ "connect", "接続時" },
		{ "end of DATA", "DATA の終了" },
		{ "any", "すべてのコマンド" },
	};
	const char *p = after, *end;
	size_t n, i, len = 0;
	char item[64];

	buf[0] = '\0';
	while (*p != '\0') {
		while (*p == ' ' || *p == ',')
			p++;
		end = p + strcspn(p, ",");
		n = (size_t)(end - p) < sizeof(item) ? (size_t)(end - p) :
		    sizeof(item) - 1;
		memcpy(item, p, n);
		item[n] = '\0';
		for (i = 0; lang == CAT_LANG_JA && i < 3; i++)
			if (strcmp(item, words[i].en) == 0)
				(void)snprintf(item, sizeof(item), "%s",
				    words[i].ja);
		if (n > 0 && len < bufsz)
			len += (size_t)snprintf(buf + len, bufsz - len, "%s%s",
			    len > 0 ? (lang == CAT_LANG_JA ? "、" : ", ") : "",
			    item);
		p = end;
	}
}

/* "Category: x5z Mail system" or "Subject: X.1.YYY Addressing Status" */
static void
cat_out_group(struct cat_out *o, const struct cat_code *c)
{
	const struct cat_ui *ui = cat_ui(o->lang);
	const struct cat_entry *g;
	char buf[256];

	if (c->type == CAT_CODE_BASIC)
		g = cat_basic_group(c->basic / 10 % 10);
	else
		g = cat_enh_subject(c->subject);
	if (g == NULL)
		return;
	(void)snprintf(buf, sizeof(buf), "%s %s", g->code,
	    g->text[o->lang].title);
	cat_out_field(o, c->type == CAT_CODE_BASIC ? ui->group : ui->subject,
	    buf);
}

void
cat_out_block(struct cat_out *o, const struct cat_code *c,
    const struct cat_entry *e)
{
	const struct cat_ui *ui = cat_ui(o->lang);
	const struct cat_text *t = &e->text[o->lang];
	char code[24], line[512];

	cat_code_str(c, code, sizeof(code));
	(void)snprintf(line, sizeof(line), "%s  %s", code, t->title);
	cat_out_heading(o, line);
	cat_out_class(c, o->lang, line, sizeof(line));
	if (line[0] != '\0')
		cat_out_field(o, ui->cls, line);
	cat_out_group(o, c);
	if (c->type == CAT_CODE_BASIC) {
		cat_out_after(e->after, o->lang, line, sizeof(line));
		cat_out_field(o, ui->after, line);
	} else
		cat_out_field(o, ui->assoc, e->basic[0] != '\0' ? e->basic :
		    ui->not_given);
	cat_out_field(o, ui->rfc, e->rfc);
	fputc('\n', o->fp);
	cat_out_para(o, ui->description, t->description);
	cat_out_para(o, ui->when, t->when);
	cat_out_para(o, ui->resolve, t->resolve);
}

void
cat_out_json_begin(struct cat_out *o, const char *input, const char *type,
    int found)
{
	fputs(o->nres++ > 0 ? ", {\"input\": " : "{\"input\": ", o->fp);
	cat_json_str(o->fp, input);
	fprintf(o->fp, ", \"type\": \"%s\", \"found\": %s", type,
	    found ? "true" : "false");
}

void
cat_out_unknown(struct cat_out *o, const char *arg, const struct cat_code *c)
{
	const struct cat_ui *ui = cat_ui(o->lang);
	const struct cat_entry *cl = NULL;
	char msg[512], code[24];

	if (c == NULL)
		(void)snprintf(msg, sizeof(msg), o->lang == CAT_LANG_JA ?
		    "'%s' は応答コードでも応答行でもありません" :
		    "'%s' is neither a reply code nor a reply line", arg);
	else {
		cat_code_str(c, code, sizeof(code));
		cl = c->type == CAT_CODE_BASIC ? cat_basic_class(c->cls) :
		    cat_enh_class(c->cls);
		(void)snprintf(msg, sizeof(msg), "%s%s%s", code, ui->colon,
		    ui->unknown);
		if (cl != NULL)
			(void)snprintf(msg + strlen(msg), sizeof(msg) -
			    strlen(msg), o->lang == CAT_LANG_JA ?
			    "（クラス %d は「%s」を表します）" :
			    " (class %d means %s)", c->cls,
			    cl->text[o->lang].title);
	}
	fprintf(stderr, "postern %s: %s\n", o->cmd, msg);
	if (!o->json)
		return;
	cat_out_json_begin(o, arg, c == NULL ? "unknown" : "code", 0);
	fputs(", \"basic\": null, \"enhanced\": null, \"reply\": null, "
	    "\"together\": null, \"malformed\": false, \"problems\": [], "
	    "\"error\": ", o->fp);
	cat_json_str(o->fp, msg);
	fputc('}', o->fp);
}
