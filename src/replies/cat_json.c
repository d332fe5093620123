/*
 * JSON output of catalogue entries for `postern explain --json` and
 * `postern compare --json`. The field names are a stable interface,
 * documented in docs/explain.md. Writes to a caller's FILE; owns nothing.
 * CLI process.
 */
#include "replies/catalogue.h"

#include <string.h>

void
cat_json_str(FILE *fp, const char *s)
{
	const unsigned char *p;

	if (s == NULL) {
		fputs("null", fp);
		return;
	}
	fputc('"', fp);
	for (p = (const unsigned char *)s; *p != '\0'; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(fp, "\\%c", *p);
		else if (*p == '\n')
			fputs("\\n", fp);
		else if (*p == '\r')
			fputs("\\r", fp);
		else if (*p == '\t')
			fputs("\\t", fp);
		else if (*p < 0x20 || *p == 0x7F)
			fprintf(fp, "\\u%04x", *p);
		else
			fputc(*p, fp);
	}
	fputc('"', fp);
}

/* A comma-separated catalogue field ("RFC 5321, RFC 3030") as an array. */
static void
cat_json_list(FILE *fp, const char *list)
{
	const char *p = list, *end;
	size_t n;
	int first = 1;
	char item[128];

	fputc('[', fp);
	while (p != NULL && *p != '\0') {
		while (*p == ' ' || *p == ',')
			p++;
		if (*p == '\0')
			break;
		end = strchr(p, ',');
		n = end != NULL ? (size_t)(end - p) : strlen(p);
		while (n > 0 && p[n - 1] == ' ')
			n--;
		if (n >= sizeof(item))
			n = sizeof(item) - 1;
		memcpy(item, p, n);
		item[n] = '\0';
		fputs(first ? "" : ", ", fp);
		cat_json_str(fp, item);
		first = 0;
		p = end != NULL ? end : p + strlen(p);
	}
	fputc(']', fp);
}

static void
cat_json_field(FILE *fp, const char *name, const char *value)
{
	fprintf(fp, ", \"%s\": ", name);
	cat_json_str(fp, value);
}

/* "class", "class_title", "class_meaning", "action", "action_text" */
static void
cat_json_class(FILE *fp, int cls, int basic, enum cat_lang lang)
{
	const struct cat_entry *ce;

	ce = basic ? cat_basic_class(cls) : cat_enh_class(cls);
	if (cls == 0 || ce == NULL) {
		fputs(", \"class\": null, \"class_title\": null, "
		    "\"class_meaning\": null, \"action\": \"unknown\", "
		    "\"action_text\": null", fp);
		return;
	}
	fprintf(fp, ", \"class\": %d", cls);
	cat_json_field(fp, "class_title", ce->text[lang].title);
	cat_json_field(fp, "class_meaning", ce->text[lang].description);
	cat_json_field(fp, "action", cat_action(cls));
	cat_json_field(fp, "action_text", cat_ui(lang)->action[cls]);
}

/* "category" (basic: second digit) or "subject" (enhanced). */
static void
cat_json_group(FILE *fp, const struct cat_code *c, enum cat_lang lang)
{
	const struct cat_entry *g;

	if (c->type == CAT_CODE_BASIC) {
		g = cat_basic_group(c->basic / 10 % 10);
		fputs(", \"category\": ", fp);
	} else {
		g = cat_enh_subject(c->subject);
		fputs(", \"subject\": ", fp);
	}
	if (g == NULL) {
		fputs("null", fp);
		return;
	}
	fputs("{\"code\": ", fp);
	cat_json_str(fp, g->code);
	cat_json_field(fp, "title", g->text[lang].title);
	cat_json_field(fp, "description", g->text[lang].description);
	fputc('}', fp);
}

void
cat_json_code(FILE *fp, const struct cat_code *c, const struct cat_entry *e,
    enum cat_lang lang)
{
	char code[24];

	cat_code_str(c, code, sizeof(code));
	fputs("{\"code\": ", fp);
	cat_json_str(fp, code);
	cat_json_field(fp, "kind", c->type == CAT_CODE_BASIC ? "basic" :
	    "enhanced");
	cat_json_field(fp, "registry_code", e != NULL ? e->code : NULL);
	cat_json_class(fp, c->cls, c->type == CAT_CODE_BASIC, lang);
	cat_json_group(fp, c, lang);
	cat_json_field(fp, "title", e != NULL ? e->text[lang].title : NULL);
	cat_json_field(fp, "description", e != NULL ?
	    e->text[lang].description : NULL);
	cat_json_field(fp, "when", e != NULL ? e->text[lang].when : NULL);
	cat_json_field(fp, "resolve", e != NULL ? e->text[lang].resolve :
	    NULL);
	fputs(", \"rfc\": ", fp);
	cat_json_list(fp, e != NULL ? e->rfc : "");
	if (c->type == CAT_CODE_BASIC) {
		fputs(", \"after\": ", fp);
		cat_json_list(fp, e != NULL ? e->after : "");
	} else {
		fputs(", \"used_with\": ", fp);
		cat_json_list(fp, e != NULL ? e->basic : "");
	}
	fputc('}', fp);
}
