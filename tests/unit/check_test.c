/*
 * Unit tests of `postern check`'s pure parts (src/cli/check*.c) and of
 * the shared MX printer (src/cli/mx_print.c): the English and Japanese
 * message tables take the same printf conversions in the same order, the
 * verdict of a session, the replies taken from a transcript, the EHLO
 * keyword descriptions, the reason tokens and exit codes, and the MX
 * failure sentences in both languages. No network.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include <cmocka.h>

#include "cli/check_int.h"
#include "cli/mx_print.h"

/* The conversions of a printf format ("s", "u", "zu"...), "%%" skipped. */
static void
conversions(const char *fmt, char *out, size_t outsz)
{
	size_t n = 0;
	const char *p;

	out[0] = '\0';
	for (p = fmt; *p != '\0'; p++) {
		if (*p != '%')
			continue;
		p++;
		if (*p == '%')
			continue;
		while (*p != '\0' && strchr("-+ #0123456789.*", *p) != NULL)
			p++;
		while (*p != '\0' && strchr("hlqjzt", *p) != NULL &&
		    n + 2 < outsz)
			out[n++] = *p++;
		if (*p == '\0' || n + 3 >= outsz)
			break;
		out[n++] = *p;
		out[n++] = ',';
		out[n] = '\0';
	}
}

static void
test_msg_tables_agree(void **state)
{
	char en[128], ja[128];
	unsigned m;

	(void)state;
	assert_true(check_msg_count() > 40);
	for (m = 0; m < check_msg_count(); m++) {
		const char *e = check_msg_fmt(m, CAT_LANG_EN);
		const char *j = check_msg_fmt(m, CAT_LANG_JA);

		assert_non_null(e);
		assert_non_null(j);
		assert_true(e[0] != '\0');
		assert_true(j[0] != '\0');
		conversions(e, en, sizeof(en));
		conversions(j, ja, sizeof(ja));
		if (strcmp(en, ja) != 0)
			fail_msg("message %u: en \"%s\" takes %s, ja \"%s\" "
			    "takes %s", m, e, en, j, ja);
	}
	assert_string_equal(check_msg_fmt(check_msg_count(), CAT_LANG_EN),
	    "");
	conversions("a %s b %5.2f %zu %% %llu %d", en, sizeof(en));
	assert_string_equal(en, "s,f,zu,llu,d,");
}

struct reason_case {
	int			 greeting;
	int			 ready;
	enum smtp_client_errkind kind;
	int			 err_code;
	unsigned		 ext;
	int			 need_utf8;
	enum check_reason	 want;
};

static const struct reason_case reason_cases[] = {
	{ 220, 1, SMTP_CLIENT_E_NONE, 0, 0, 0, CHECK_R_DELIVERABLE },
	{ 220, 1, SMTP_CLIENT_E_NONE, 0, 0, 1, CHECK_R_NO_SMTPUTF8 },
	{ 220, 1, SMTP_CLIENT_E_NONE, 0, SMTP_EXT_SMTPUTF8, 1,
	    CHECK_R_DELIVERABLE },
	{ 554, 0, SMTP_CLIENT_E_REFUSED, 554, 0, 0, CHECK_R_GREETING_PERM },
	{ 521, 0, SMTP_CLIENT_E_REFUSED, 521, 0, 0, CHECK_R_GREETING_PERM },
	{ 421, 0, SMTP_CLIENT_E_REFUSED, 421, 0, 0, CHECK_R_GREETING_TEMP },
	{ 250, 0, SMTP_CLIENT_E_REFUSED, 250, 0, 0, CHECK_R_SESSION_FAILED },
	{ 220, 0, SMTP_CLIENT_E_REFUSED, 550, 0, 0, CHECK_R_EHLO_PERM },
	{ 220, 0, SMTP_CLIENT_E_REFUSED, 421, 0, 0, CHECK_R_EHLO_TEMP },
	{ 220, 0, SMTP_CLIENT_E_TIMEOUT, 0, 0, 0, CHECK_R_SESSION_FAILED },
	{ 220, 0, SMTP_CLIENT_E_LOST, 0, 0, 0, CHECK_R_SESSION_FAILED },
	{ 220, 0, SMTP_CLIENT_E_PROTOCOL, 0, 0, 0, CHECK_R_SESSION_FAILED },
	{ 220, 0, SMTP_CLIENT_E_TLS, 0, 0, 0, CHECK_R_SESSION_FAILED },
};

static void
test_session_reason(void **state)
{
	struct check_session s;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(reason_cases) / sizeof(reason_cases[0]); i++) {
		const struct reason_case *c = &reason_cases[i];

		memset(&s, 0, sizeof(s));
		s.greeting.code = c->greeting;
		s.ready = c->ready;
		s.err.kind = c->kind;
		s.err.reply.code = c->err_code;
		s.ext.ext = c->ext;
		if (check_session_reason(&s, c->need_utf8) != c->want)
			fail_msg("case %zu: got %s, want %s", i,
			    check_reason_str(check_session_reason(&s,
			    c->need_utf8)), check_reason_str(c->want));
	}
}

static void
test_reasons(void **state)
{
	unsigned r;

	(void)state;
	for (r = 0; r < CHECK_NREASONS; r++)
		assert_string_not_equal(check_reason_str(r), "?");
	assert_int_equal(check_reason_exit(CHECK_R_DELIVERABLE), 0);
	assert_int_equal(check_reason_exit(CHECK_R_NULL_MX), EX_UNAVAILABLE);
	assert_int_equal(check_reason_exit(CHECK_R_NO_DOMAIN), EX_UNAVAILABLE);
	assert_int_equal(check_reason_exit(CHECK_R_GREETING_PERM), 69);
	assert_int_equal(check_reason_exit(CHECK_R_NO_SMTPUTF8), 69);
	assert_int_equal(check_reason_exit(CHECK_R_DNS_FAILURE), EX_TEMPFAIL);
	assert_int_equal(check_reason_exit(CHECK_R_UNREACHABLE), 75);
	assert_int_equal(check_reason_exit(CHECK_R_GREETING_TEMP), 75);
	assert_int_equal(check_reason_exit(CHECK_R_SESSION_FAILED), 75);
	assert_string_equal(check_reason_str(CHECK_R_NULL_MX), "null_mx");
	assert_string_equal(check_result_str(CHECK_PERMANENT), "permanent");
	assert_string_equal(check_conn_str(CHECK_CONN_SILENT), "no_greeting");
	assert_int_equal(check_dns_reason(DNS_NULL_MX), CHECK_R_NULL_MX);
	assert_int_equal(check_dns_reason(DNS_NXDOMAIN), CHECK_R_NO_DOMAIN);
	assert_int_equal(check_dns_reason(DNS_NODATA), CHECK_R_NO_MAIL_HOST);
	assert_int_equal(check_dns_reason(DNS_NO_ADDRESS), CHECK_R_NO_ADDRESS);
	assert_int_equal(check_dns_reason(DNS_TIMEOUT), CHECK_R_DNS_TIMEOUT);
	assert_int_equal(check_dns_reason(DNS_SERVFAIL), CHECK_R_DNS_FAILURE);
}

struct tline {
	char		 dir;
	const char	*line;
};

static void
feed(struct check_session *s, const struct tline *t, size_t n)
{
	size_t i;

	memset(s, 0, sizeof(*s));
	smtp_reply_parser_init(&s->parser);
	for (i = 0; i < n; i++)
		check_capture(s, (enum smtp_client_dir)t[i].dir, t[i].line,
		    strlen(t[i].line));
}

static void
test_capture_starttls(void **state)
{
	static const struct tline t[] = {
		{ '*', "connected to 127.0.0.1:25" },
		{ 'S', "220-mx.test ESMTP" }, { 'S', "220 welcome" },
		{ 'C', "EHLO me.test" },
		{ 'S', "250-mx.test" }, { 'S', "250-SIZE 1000" },
		{ 'S', "250 STARTTLS" },
		{ 'C', "STARTTLS" }, { 'S', "220 2.0.0 go" },
		{ '*', "TLS TLSv1.3 ..." },
		{ 'C', "EHLO me.test" }, { 'S', "250-mx.test" },
		{ 'S', "250 8BITMIME" },
		{ 'C', "QUIT" }, { 'S', "221 2.0.0 bye" },
	};
	struct check_session s;

	(void)state;
	feed(&s, t, sizeof(t) / sizeof(t[0]));
	assert_int_equal(s.greeting.code, 220);
	assert_string_equal(s.greeting.text, "mx.test ESMTP\nwelcome");
	assert_int_equal(s.ehlo.code, 250);
	assert_string_equal(s.ehlo.text, "mx.test\nSIZE 1000\nSTARTTLS");
	assert_int_equal(s.starttls.code, 220);
	assert_string_equal(s.starttls.enh, "2.0.0");
	assert_int_equal(s.ehlo_tls.code, 250);
	assert_string_equal(s.ehlo_tls.text, "mx.test\n8BITMIME");
	assert_int_equal(s.helo.code, 0);
}

static void
test_capture_helo(void **state)
{
	static const struct tline t[] = {
		{ 'S', "220 old.test SMTP" },
		{ 'C', "EHLO me.test" }, { 'S', "502 5.5.1 no EHLO" },
		{ 'C', "HELO me.test" }, { 'S', "250 old.test" },
		{ 'C', "QUIT" }, { 'S', "garbage that is no reply" },
	};
	struct check_session s;

	(void)state;
	feed(&s, t, sizeof(t) / sizeof(t[0]));
	assert_int_equal(s.greeting.code, 220);
	assert_int_equal(s.ehlo.code, 502);
	assert_string_equal(s.ehlo.enh, "5.5.1");
	assert_int_equal(s.helo.code, 250);
	assert_int_equal(s.starttls.code, 0);
	assert_int_equal(s.ehlo_tls.code, 0);
}

static void
test_strip_peer(void **state)
{
	(void)state;
	assert_string_equal(check_strip_peer("127.0.0.1:25: Connection "
	    "refused", "127.0.0.1:25"), "Connection refused");
	assert_string_equal(check_strip_peer("[::1]:25: x", "[::1]:25"), "x");
	assert_string_equal(check_strip_peer("other: x", "[::1]:25"),
	    "other: x");
	assert_string_equal(check_strip_peer("127.0.0.1:250: x",
	    "127.0.0.1:25"), "127.0.0.1:250: x");
	assert_string_equal(check_strip_peer("x", ""), "x");
}

struct ext_case {
	const char	*line;
	enum cat_lang	 lang;
	int		 known;
	const char	*want;
};

static const struct ext_case ext_cases[] = {
	{ "SIZE 36700160", CAT_LANG_EN, 1,
	    "messages up to 35.0 MiB (RFC 1870)" },
	{ "SIZE 2048", CAT_LANG_EN, 1, "messages up to 2.0 KiB (RFC 1870)" },
	{ "SIZE 900", CAT_LANG_EN, 1, "messages up to 900 B (RFC 1870)" },
	{ "SIZE", CAT_LANG_EN, 1, "no size limit announced (RFC 1870)" },
	{ "SIZE 0", CAT_LANG_EN, 1, "no size limit announced (RFC 1870)" },
	{ "SIZE 36700160", CAT_LANG_JA, 1,
	    "35.0 MiB までのメッセージを受け付けます（RFC 1870）" },
	{ "pipelining", CAT_LANG_EN, 1,
	    "several commands per round trip (RFC 2920)" },
	{ "STARTTLS", CAT_LANG_JA, 1, "TLS で暗号化できます（RFC 3207）" },
	{ "AUTH PLAIN LOGIN", CAT_LANG_EN, 1, "authentication for "
	    "submission (RFC 4954); not used between MX hosts" },
	{ "SIZER 10", CAT_LANG_EN, 0, "" },
	{ "X-FOO bar", CAT_LANG_EN, 0, "" },
	{ "HELP", CAT_LANG_JA, 0, "" },
};

static void
test_ext_describe(void **state)
{
	char buf[256];
	size_t i, kwlen;

	(void)state;
	for (i = 0; i < sizeof(ext_cases) / sizeof(ext_cases[0]); i++) {
		const struct ext_case *c = &ext_cases[i];

		kwlen = strcspn(c->line, " ");
		assert_int_equal(check_ext_describe(c->line, kwlen, c->line,
		    c->lang, buf, sizeof(buf)), c->known);
		assert_string_equal(buf, c->want);
	}
}

/* What fn printed into a memory stream, as a string (caller frees). */
static char *
say_failure(enum dns_status st, enum cat_lang lang, int *rc)
{
	char *text = NULL;
	size_t len = 0;
	FILE *fp = open_memstream(&text, &len);

	assert_non_null(fp);
	*rc = cli_mx_say_failure(fp, "d.test", st, "", 1, lang);
	fclose(fp);
	return text;
}

static void
test_mx_failure_sentences(void **state)
{
	char *t;
	int rc;

	(void)state;
	t = say_failure(DNS_NULL_MX, CAT_LANG_EN, &rc);
	assert_int_equal(rc, EX_UNAVAILABLE);
	assert_string_equal(t, "d.test has a null MX (RFC 7505): it accepts "
	    "no mail\n");
	free(t);
	t = say_failure(DNS_NULL_MX, CAT_LANG_JA, &rc);
	assert_int_equal(rc, EX_UNAVAILABLE);
	assert_string_equal(t, "d.test はヌル MX（RFC 7505）を公開しています。"
	    "メールを一切受け付けません\n");
	free(t);
	t = say_failure(DNS_TIMEOUT, CAT_LANG_EN, &rc);
	assert_int_equal(rc, EX_TEMPFAIL);
	assert_string_equal(t, "d.test: temporary DNS failure: no answer "
	    "within 1 second; try again later\n");
	free(t);
	t = say_failure(DNS_SERVFAIL, CAT_LANG_JA, &rc);
	assert_int_equal(rc, EX_TEMPFAIL);
	assert_string_equal(t, "d.test：DNS の一時的な障害です（SERVFAIL）。"
	    "しばらくしてから再試行してください\n");
	free(t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_msg_tables_agree),
		cmocka_unit_test(test_session_reason),
		cmocka_unit_test(test_reasons),
		cmocka_unit_test(test_capture_starttls),
		cmocka_unit_test(test_capture_helo),
		cmocka_unit_test(test_strip_peer),
		cmocka_unit_test(test_ext_describe),
		cmocka_unit_test(test_mx_failure_sentences),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
