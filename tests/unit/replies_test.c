/*
 * Unit tests of the reply catalogue (src/replies/): completeness of every
 * entry in both languages, agreement of classes and codes, coverage of
 * every server reply and of the IANA registry (fixture), the code and
 * reply parsers, and the explanation paragraph.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cmocka.h>

#include "replies/catalogue.h"
#include "replies/replies.h"

#define IANA_FIXTURE "tests/fixtures/iana-enhanced-status-codes.tsv"

static int
has_non_ascii(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s >= 0x80)
			return 1;
	return 0;
}

static void
test_every_field_both_languages(void **state)
{
	size_t i;
	int l;

	(void)state;
	assert_true(cat_nentries > 100);
	for (i = 0; i < cat_nentries; i++) {
		const struct cat_entry *e = &cat_entries[i];

		for (l = 0; l < CAT_NLANG; l++) {
			const struct cat_text *t = &e->text[l];

			assert_non_null(t->title);
			assert_true(t->title[0] != '\0');
			assert_true(t->description[0] != '\0');
			assert_true(t->when[0] != '\0');
			assert_true(t->resolve[0] != '\0');
		}
		/* Japanese is written, not copied from English */
		assert_true(has_non_ascii(e->text[CAT_LANG_JA].description));
		assert_true(has_non_ascii(e->text[CAT_LANG_JA].when));
		assert_true(has_non_ascii(e->text[CAT_LANG_JA].resolve));
		assert_string_not_equal(e->text[CAT_LANG_EN].description,
		    e->text[CAT_LANG_JA].description);
		if (e->kind == CAT_BASIC || e->kind == CAT_ENHANCED)
			assert_true(strncmp(e->rfc, "RFC ", 4) == 0 ||
			    strcmp(e->rfc, "IANA registry") == 0);
		if (e->kind == CAT_BASIC)
			assert_true(e->after[0] != '\0');
	}
}

static void
test_class_agrees_with_code(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < cat_nentries; i++) {
		const struct cat_entry *e = &cat_entries[i];

		switch (e->kind) {
		case CAT_BASIC:
			assert_int_equal(strlen(e->code), 3);
			assert_int_equal(e->cls, e->code[0] - '0');
			assert_in_range(e->cls, 2, 5);
			break;
		case CAT_BASIC_CLASS:
		case CAT_ENH_CLASS:
			assert_int_equal(e->cls, e->code[0] - '0');
			break;
		default:
			assert_int_equal(e->cls, 0);
			assert_true(e->code[0] == 'X' || e->code[0] == 'x');
		}
	}
	assert_null(cat_basic(299));
	assert_string_equal(cat_basic(556)->code, "556");
	assert_int_equal(cat_basic(334)->cls, 3);
	assert_string_equal(cat_enhanced(1, 10)->code, "X.1.10");
	assert_string_equal(cat_basic_class(4)->code, "4yz");
	assert_string_equal(cat_basic_group(5)->code, "x5z");
	assert_string_equal(cat_enh_class(5)->code, "5.XXX.YYY");
	assert_string_equal(cat_enh_subject(7)->code, "X.7.YYY");
	assert_null(cat_enh_class(3));
}

static void
test_required_basic_codes(void **state)
{
	static const int want[] = {
		211, 214, 220, 221, 235, 250, 251, 252, 334, 354, 421, 432,
		450, 451, 452, 454, 455, 500, 501, 502, 503, 504, 521, 530,
		534, 535, 538, 550, 551, 552, 553, 554, 555, 556,
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		const struct cat_entry *e = cat_basic(want[i]);

		if (e == NULL)
			fail_msg("basic code %d missing", want[i]);
	}
	assert_non_null(strstr(cat_basic(552)->rfc, "RFC 1870"));
	assert_non_null(strstr(cat_basic(554)->rfc, "RFC 3030"));
	assert_non_null(strstr(cat_basic(556)->rfc, "RFC 7504"));
	assert_non_null(strstr(cat_basic(538)->rfc, "RFC 4954"));
}

static void
test_every_server_reply_in_catalogue(void **state)
{
	struct cat_code c;
	int i;

	(void)state;
	for (i = 0; i < R__COUNT; i++) {
		const struct server_reply *r = &server_replies[i];

		if (cat_basic(r->code) == NULL)
			fail_msg("R_%s: %d not in catalogue", r->name,
			    r->code);
		if (r->enhanced[0] == '\0')
			continue;
		assert_int_equal(cat_parse_code(r->enhanced,
		    strlen(r->enhanced), &c), 0);
		if (cat_code_entry(&c) == NULL)
			fail_msg("R_%s: %s not in catalogue", r->name,
			    r->enhanced);
		assert_int_equal(c.cls, r->code / 100);
	}
}

/* Looks up a fixture code: "5.XXX.YYY", "X.1.YYY" or "X.1.10". */
static const struct cat_entry *
fixture_entry(const char *code)
{
	struct cat_code c;
	int s;

	if (strstr(code, ".XXX.YYY") != NULL)
		return cat_enh_class(code[0] - '0');
	if (sscanf(code, "X.%d.YYY", &s) == 1 && strstr(code, "YYY"))
		return cat_enh_subject(s);
	if (cat_parse_code(code, strlen(code), &c) == -1)
		return NULL;
	return cat_code_entry(&c);
}

static void
test_iana_registry_covered(void **state)
{
	char line[512], *tab, *nl;
	FILE *fp;
	int n = 0;

	(void)state;
	fp = fopen(IANA_FIXTURE, "r");
	if (fp == NULL)
		fail_msg("cannot open %s (run from the top directory)",
		    IANA_FIXTURE);
	while (fgets(line, sizeof(line), fp) != NULL) {
		const struct cat_entry *e;

		if (line[0] == '#' || line[0] == '\n')
			continue;
		if ((nl = strchr(line, '\n')) != NULL)
			*nl = '\0';
		if ((tab = strchr(line, '\t')) == NULL)
			fail_msg("fixture line without tab: %s", line);
		*tab++ = '\0';
		if ((e = fixture_entry(line)) == NULL)
			fail_msg("registry code %s missing", line);
		if (*tab != '\0' && strcasecmp(tab,
		    e->text[CAT_LANG_EN].title) != 0)
			fail_msg("%s: title '%s', registry '%s'", line,
			    e->text[CAT_LANG_EN].title, tab);
		n++;
	}
	fclose(fp);
	assert_int_equal(n, 92);
}

struct parse_case {
	const char	*in;
	int		 ret;
	int		 basic;
	const char	*enh;		/* "" none */
	unsigned	 problems;
	const char	*text;
	int		 lines;
};

static const struct parse_case parse_cases[] = {
	{ "556 5.1.10 Recipient address has null MX", 0, 556, "5.1.10", 0,
	  "Recipient address has null MX", 1 },
	{ "334 ", 0, 334, "", 0, "", 1 },
	{ "334 VXNlcm5hbWU6", 0, 334, "", 0, "VXNlcm5hbWU6", 1 },
	{ "250", 0, 250, "", 0, "", 1 },
	{ "250-mx.example.test\r\n250-PIPELINING\r\n250 SIZE 1000\r\n", 0,
	  250, "", 0, "mx.example.test\nPIPELINING\nSIZE 1000", 3 },
	{ "550-5.1.1 The email account\n550-5.1.1 does not\n550 5.1.1 exist",
	  0, 550, "5.1.1", 0, "The email account\ndoes not\nexist", 3 },
	{ "250 5.1.1 odd", 0, 250, "5.1.1", CAT_P_CLASS_MISMATCH, "odd", 1 },
	{ "334 3.0.0 x", 0, 334, "3.0.0", CAT_P_BAD_ENHANCED, "x", 1 },
	{ "550-5.1.1 a\n450 4.2.2 b", 0, 550, "5.1.1",
	  CAT_P_CODE_MISMATCH | CAT_P_ENH_MISMATCH, "a\nb", 2 },
	{ "550-first\n550-second", 0, 550, "", CAT_P_CONTINUATION,
	  "first\nsecond", 2 },
	{ "550 done\n550 again", 0, 550, "", CAT_P_CONTINUATION,
	  "done\nagain", 2 },
	{ "smtp; 550 5.7.27 Sender address has null MX", 0, 550, "5.7.27", 0,
	  "Sender address has null MX", 1 },
	{ "  421 4.4.2 mx Error: timeout exceeded  ", 0, 421, "4.4.2", 0,
	  "mx Error: timeout exceeded", 1 },
	{ "550 5.1.1bad", 0, 550, "", 0, "5.1.1bad", 1 },
	{ "Recipient address has null MX", -1, 0, "", 0, "", 0 },
	{ "55 short", -1, 0, "", 0, "", 0 },
	{ "5500 long", -1, 0, "", 0, "", 0 },
	{ "", -1, 0, "", 0, "", 0 },
	{ "\n\n", -1, 0, "", 0, "", 0 },
};

static void
test_parse_reply(void **state)
{
	struct cat_reply r;
	char enh[16];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(parse_cases) / sizeof(parse_cases[0]); i++) {
		const struct parse_case *pc = &parse_cases[i];
		int ret = cat_parse_reply(pc->in, strlen(pc->in), &r);

		if (ret != pc->ret)
			fail_msg("case %zu '%s': ret %d", i, pc->in, ret);
		if (ret == -1)
			continue;
		assert_int_equal(r.basic, pc->basic);
		enh[0] = '\0';
		if (r.enh_cls != 0)
			snprintf(enh, sizeof(enh), "%d.%d.%d", r.enh_cls,
			    r.enh_subject, r.enh_detail);
		assert_string_equal(enh, pc->enh);
		if (r.problems != pc->problems)
			fail_msg("case %zu '%s': problems %#x, want %#x", i,
			    pc->in, r.problems, pc->problems);
		assert_string_equal(r.text, pc->text);
		assert_int_equal(r.lines, pc->lines);
	}
}

static void
test_parse_reply_truncates(void **state)
{
	struct cat_reply r;
	char big[3 * CAT_TEXT_MAX];

	(void)state;
	memset(big, 'a', sizeof(big));
	memcpy(big, "550 ", 4);
	assert_int_equal(cat_parse_reply(big, sizeof(big), &r), 0);
	assert_true(r.problems & CAT_P_TRUNCATED);
	assert_true(strlen(r.text) < sizeof(r.text));
	assert_false(r.problems & CAT_P_MALFORMED);
}

struct code_case {
	const char	*in;
	int		 ret;
	const char	*canon;
	int		 cls;
};

static const struct code_case code_cases[] = {
	{ "334", 0, "334", 3 }, { " 556 ", 0, "556", 5 },
	{ "5.1.10", 0, "5.1.10", 5 }, { "X.1.10", 0, "X.1.10", 0 },
	{ "x.7.27", 0, "X.7.27", 0 }, { "4.2.2", 0, "4.2.2", 4 },
	{ "5.1.1000", -1, NULL, 0 }, { "5.1", -1, NULL, 0 },
	{ "55", -1, NULL, 0 }, { "5555", -1, NULL, 0 },
	{ "056", -1, NULL, 0 }, { "5.1.1 x", -1, NULL, 0 },
	{ "abc", -1, NULL, 0 }, { "", -1, NULL, 0 }, { "Y.1.1", -1, NULL, 0 },
};

static void
test_parse_code(void **state)
{
	struct cat_code c;
	char buf[24];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(code_cases) / sizeof(code_cases[0]); i++) {
		const struct code_case *cc = &code_cases[i];
		int ret = cat_parse_code(cc->in, strlen(cc->in), &c);

		if (ret != cc->ret)
			fail_msg("'%s': ret %d", cc->in, ret);
		if (ret == -1)
			continue;
		cat_code_str(&c, buf, sizeof(buf));
		assert_string_equal(buf, cc->canon);
		assert_int_equal(c.cls, cc->cls);
	}
}

/* An enhanced code's class must be 2, 4, 5 or X to name an entry. */
static void
test_code_entry_class(void **state)
{
	static const struct {
		const char	*in;
		const char	*entry;	/* NULL: none */
	} cases[] = {
		{ "5.1.1", "X.1.1" }, { "4.1.1", "X.1.1" },
		{ "2.0.0", "X.0.0" }, { "X.1.1", "X.1.1" },
		{ "3.1.1", NULL }, { "1.1.1", NULL }, { "6.1.1", NULL },
		{ "9.0.0", NULL }, { "550", "550" },
	};
	const struct cat_entry *e;
	struct cat_code c;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(cat_parse_code(cases[i].in,
		    strlen(cases[i].in), &c), 0);
		e = cat_code_entry(&c);
		if (cases[i].entry == NULL && e != NULL)
			fail_msg("%s: entry %s, want none", cases[i].in,
			    e->code);
		if (cases[i].entry == NULL)
			continue;
		if (e == NULL)
			fail_msg("%s: no entry, want %s", cases[i].in,
			    cases[i].entry);
		assert_string_equal(e->code, cases[i].entry);
	}
}

static void
test_explain_paragraph(void **state)
{
	const char *nullmx = "556 5.1.10 Recipient address has null MX";
	char buf[2048], small[40];
	int n;

	(void)state;
	n = cat_explain_reply(buf, sizeof(buf), nullmx, strlen(nullmx),
	    CAT_LANG_EN);
	assert_int_equal(n, (int)strlen(buf));
	assert_non_null(strstr(buf, "556 5.1.10 (Permanent Negative "
	    "Completion: give up and do not retry unchanged): Domain does not "
	    "accept mail / Recipient address has null MX. "));
	assert_non_null(strstr(buf, "What to do: Do not retry."));
	assert_null(strchr(buf, '\n'));
	n = cat_explain_reply(buf, sizeof(buf), nullmx, strlen(nullmx),
	    CAT_LANG_JA);
	assert_true(n > 0);
	assert_non_null(strstr(buf, "永続的否定完了応答"));
	assert_non_null(strstr(buf, "対処：再試行しないでください。"));
	/* malformed: the basic code's text, and the reason */
	n = cat_explain_reply(buf, sizeof(buf), "250 5.1.1 x", 11,
	    CAT_LANG_EN);
	assert_true(n > 0);
	assert_non_null(strstr(buf, "Malformed: 250 is a 2xx reply"));
	/* too small: -1, but NUL-terminated */
	assert_int_equal(cat_explain_reply(small, sizeof(small), nullmx,
	    strlen(nullmx), CAT_LANG_EN), -1);
	assert_true(strlen(small) < sizeof(small));
	assert_int_equal(cat_explain_reply(buf, sizeof(buf), "299 x", 5,
	    CAT_LANG_EN), -1);
	assert_int_equal(cat_explain_reply(buf, sizeof(buf), "hello", 5,
	    CAT_LANG_EN), -1);
}

static void
test_combine(void **state)
{
	struct cat_reply r;
	char buf[1024];

	(void)state;
	assert_int_equal(cat_parse_reply("554 5.1.1 x", 11, &r), 0);
	assert_true(cat_combine(buf, sizeof(buf), &r, CAT_LANG_EN) > 0);
	assert_non_null(strstr(buf, "The IANA registry lists 5.1.1 with "
	    "basic code 451, 550, so 554 with it is unusual"));
	assert_int_equal(cat_parse_reply("334 VXNlcg==", 12, &r), 0);
	assert_int_equal(cat_combine(buf, sizeof(buf), &r, CAT_LANG_EN), 0);
	assert_string_equal(buf, "");
	assert_int_equal(cat_parse_reply("550 5.9.99 x", 12, &r), 0);
	assert_true(cat_combine(buf, sizeof(buf), &r, CAT_LANG_EN) > 0);
	assert_string_equal(buf, "5.9.99 is not in the IANA registry of "
	    "enhanced status codes.");
	assert_true(cat_pairs_with(cat_enhanced(0, 0), 221));
	assert_true(cat_pairs_with(cat_enhanced(1, 10), 556));
	assert_false(cat_pairs_with(cat_enhanced(1, 10), 550));
	assert_false(cat_pairs_with(cat_enhanced(1, 2), 550));
}

static void
test_language(void **state)
{
	enum cat_lang l = CAT_LANG_EN;

	(void)state;
	assert_int_equal(cat_lang_parse("ja_JP.UTF-8", &l), 0);
	assert_int_equal(l, CAT_LANG_JA);
	assert_int_equal(cat_lang_parse("en", &l), 0);
	assert_int_equal(l, CAT_LANG_EN);
	assert_int_equal(cat_lang_parse("fr_FR", &l), -1);
	assert_int_equal(cat_lang_parse("jam", &l), -1);
	setenv("LC_ALL", "", 1);
	setenv("LC_MESSAGES", "ja_JP.UTF-8", 1);
	setenv("LANG", "en_US.UTF-8", 1);
	assert_int_equal(cat_lang_env(), CAT_LANG_JA);
	setenv("LC_ALL", "C", 1);
	assert_int_equal(cat_lang_env(), CAT_LANG_EN);
	unsetenv("LC_ALL");
	unsetenv("LC_MESSAGES");
	unsetenv("LANG");
	assert_int_equal(cat_lang_env(), CAT_LANG_EN);
	assert_string_equal(cat_ui(CAT_LANG_JA)->description, "説明");
	assert_string_equal(cat_ui(CAT_LANG_JA)->when,
	    "このコードが表示される場合");
	assert_string_equal(cat_ui(CAT_LANG_JA)->resolve, "解決方法");
	assert_string_equal(cat_action(3), "continue");
	assert_string_equal(cat_action(5), "do_not_retry");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_field_both_languages),
		cmocka_unit_test(test_class_agrees_with_code),
		cmocka_unit_test(test_required_basic_codes),
		cmocka_unit_test(test_every_server_reply_in_catalogue),
		cmocka_unit_test(test_iana_registry_covered),
		cmocka_unit_test(test_parse_reply),
		cmocka_unit_test(test_parse_reply_truncates),
		cmocka_unit_test(test_parse_code),
		cmocka_unit_test(test_code_entry_class),
		cmocka_unit_test(test_explain_paragraph),
		cmocka_unit_test(test_combine),
		cmocka_unit_test(test_language),
	};

	return cmocka_run_group_tests_name("replies", tests, NULL, NULL);
}
