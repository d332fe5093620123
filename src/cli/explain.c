/*
 * postern explain CODE|REPLY...: explains basic reply codes ("334"),
 * enhanced status codes ("5.1.10", "X.1.10") and whole replies as a
 * server sent them ("556 5.1.10 Recipient address has null MX", also
 * multi-line "250-..." replies) from the compiled catalogue, in English or
 * Japanese, as text wrapped to the terminal or as JSON (docs/explain.md).
 * Owns nothing beyond its stack; CLI process. Exit: 0; 64 usage; 65 an
 * unknown code or a malformed reply.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/cli_common.h"
#include "replies/cat_out.h"
#include "replies/catalogue.h"

static void
explain_usage(FILE *fp)
{
	fprintf(fp,
	    "usage: postern explain [--lang en|ja] [--json] CODE|REPLY...\n"
	    "\n"
	    "Explains SMTP replies: basic reply codes (334, 556), enhanced\n"
	    "status codes (5.1.10, X.1.10) and whole reply lines, quoted\n"
	    "(\"556 5.1.10 Recipient address has null MX\"; multi-line\n"
	    "replies with one line per line).\n"
	    "\n"
	    CLI_CAT_OPTIONS_HELP
	    "\n"
	    "Exit status: 0; 64 usage error; 65 unknown code or malformed "
	    "reply.\n");
}

/* Explains one code given alone; returns 0 or EX_DATAERR. */
static int
explain_code(struct cat_out *o, const char *arg, const struct cat_code *c)
{
	const struct cat_entry *e = cat_code_entry(c);

	if (e == NULL) {
		cat_out_unknown(o, arg, c);
		return EX_DATAERR;
	}
	if (o->json) {
		cat_out_json_begin(o, arg, "code", 1);
		fputs(c->type == CAT_CODE_BASIC ? ", \"basic\": " :
		    ", \"enhanced\": ", stdout);
		cat_json_code(stdout, c, e, o->lang);
		fputs(c->type == CAT_CODE_BASIC ? ", \"enhanced\": null" :
		    ", \"basic\": null", stdout);
		fputs(", \"reply\": null, \"together\": null, "
		    "\"malformed\": false, \"problems\": [], \"error\": null}",
		    stdout);
		return 0;
	}
	cat_out_block(o, c, e);
	return 0;
}

static void
explain_problems(FILE *fp, unsigned p)
{
	static const struct {
		unsigned	 bit;
		const char	*name;
	} names[] = {
		{ CAT_P_CLASS_MISMATCH, "class_mismatch" },
		{ CAT_P_CODE_MISMATCH, "code_mismatch" },
		{ CAT_P_ENH_MISMATCH, "enhanced_mismatch" },
		{ CAT_P_CONTINUATION, "continuation" },
		{ CAT_P_BAD_ENHANCED, "bad_enhanced" },
		{ CAT_P_TRUNCATED, "truncated" },
	};
	size_t i;
	int n = 0;

	fputc('[', fp);
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (p & names[i].bit)
			fprintf(fp, "%s\"%s\"", n++ ? ", " : "", names[i].name);
	fputc(']', fp);
}

static void
explain_json_reply(struct cat_out *o, const char *arg,
    const struct cat_reply *r, const struct cat_code *bc,
    const struct cat_entry *b, const struct cat_code *ec,
    const struct cat_entry *e, const char *together)
{
	FILE *fp = o->fp;
	char enh[24];

	cat_out_json_begin(o, arg, "reply", ec == NULL || e != NULL);
	fputs(", \"basic\": ", fp);
	cat_json_code(fp, bc, b, o->lang);
	fputs(", \"enhanced\": ", fp);
	if (ec != NULL)
		cat_json_code(fp, ec, e, o->lang);
	else
		fputs("null", fp);
	fprintf(fp, ", \"reply\": {\"code\": %d, \"enhanced\": ", r->basic);
	if (ec != NULL) {
		cat_code_str(ec, enh, sizeof(enh));
		cat_json_str(fp, enh);
	} else
		fputs("null", fp);
	fputs(", \"text\": ", fp);
	cat_json_str(fp, r->text);
	fprintf(fp, ", \"lines\": %d}, \"together\": ", r->lines);
	cat_json_str(fp, together[0] != '\0' ? together : NULL);
	fprintf(fp, ", \"malformed\": %s, \"problems\": ",
	    (r->problems & CAT_P_MALFORMED) ? "true" : "false");
	explain_problems(fp, r->problems);
	fputs(", \"error\": null}", fp);
}

static void
explain_text_reply(struct cat_out *o, const struct cat_reply *r,
    const struct cat_code *bc, const struct cat_entry *b,
    const struct cat_code *ec, const struct cat_entry *e,
    const char *together)
{
	const struct cat_ui *ui = cat_ui(o->lang);
	char line[CAT_TEXT_MAX + 64], enh[24] = "";
	size_t n;

	if (ec != NULL)
		cat_code_str(ec, enh, sizeof(enh));
	n = strcspn(r->text, "\n");
	(void)snprintf(line, sizeof(line), "%d%s%s%s%.*s", r->basic,
	    enh[0] != '\0' ? " " : "", enh, n > 0 ? " " : "", (int)n,
	    r->text);
	cat_out_heading(o, line);
	if (r->problems & CAT_P_MALFORMED)
		cat_out_para(o, ui->malformed, together);
	if (r->text[0] != '\0')
		cat_out_field(o, ui->text, r->text);
	fputc('\n', o->fp);
	cat_out_block(o, bc, b);
	if (e != NULL && !(r->problems & CAT_P_BAD_ENHANCED)) {
		fputc('\n', o->fp);
		cat_out_block(o, ec, e);
	}
	if (!(r->problems & CAT_P_MALFORMED) && together[0] != '\0') {
		fputc('\n', o->fp);
		cat_out_para(o, ui->together, together);
	}
}

/* Explains a whole reply; returns 0 or EX_DATAERR. */
static int
explain_reply(struct cat_out *o, const char *arg, const struct cat_reply *r)
{
	struct cat_code bc, ec;
	const struct cat_code *ecp = NULL;	/* &ec if the reply has one */
	const struct cat_entry *b, *e = NULL;
	char together[2048];

	memset(&bc, 0, sizeof(bc));
	bc.type = CAT_CODE_BASIC;
	bc.basic = r->basic;
	bc.cls = r->basic / 100;
	b = cat_basic(r->basic);
	memset(&ec, 0, sizeof(ec));
	ec.type = CAT_CODE_ENHANCED;
	ec.cls = r->enh_cls;
	ec.subject = r->enh_subject;
	ec.detail = r->enh_detail;
	if (r->enh_cls != 0) {
		ecp = &ec;
		e = cat_enhanced(r->enh_subject, r->enh_detail);
	}
	(void)cat_combine(together, sizeof(together), r, o->lang);
	if (b == NULL) {
		cat_out_unknown(o, arg, &bc);
		return EX_DATAERR;
	}
	if (o->json)
		explain_json_reply(o, arg, r, &bc, b, ecp, e, together);
	else
		explain_text_reply(o, r, &bc, b, ecp, e, together);
	if (r->enh_cls != 0 && e == NULL)
		return EX_DATAERR;
	return (r->problems & CAT_P_MALFORMED) ? EX_DATAERR : 0;
}

static int
explain_one(struct cat_out *o, const char *arg)
{
	struct cat_code c;
	struct cat_reply r;
	size_t len = strlen(arg);

	if (cat_parse_code(arg, len, &c) == 0)
		return explain_code(o, arg, &c);
	if (cat_parse_reply(arg, len, &r) == 0)
		return explain_reply(o, arg, &r);
	cat_out_unknown(o, arg, NULL);
	return EX_DATAERR;
}

int
cli_explain(int argc, char **argv)
{
	struct cat_out o;
	int i, rc;

	cat_out_init(&o, "explain");
	if ((rc = cli_cat_options(argc, argv, explain_usage, &o)) != 0)
		return rc == -1 ? 0 : rc;
	if (optind >= argc) {
		explain_usage(stderr);
		return EX_USAGE;
	}
	if (o.json)
		printf("{\"lang\": \"%s\", \"results\": [",
		    cat_lang_name(o.lang));
	for (i = optind; i < argc; i++) {
		if (!o.json && i > optind)
			fputs("\n\n", stdout);
		if (explain_one(&o, argv[i]) != 0)
			rc = EX_DATAERR;
	}
	if (o.json)
		printf("]}\n");
	if (fflush(stdout) == EOF)
		return EX_IOERR;
	return rc;
}
