/*
 * The command tokenizer and the MAIL/RCPT parsers: tables of
 * {input, want} with the exact reply chosen for each refusal.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "smtp/cmd.h"

static void
test_tokenizer(void **state)
{
	static const struct {
		const char	*line;
		enum smtp_cmd_id id;
		const char	*args;
	} cases[] = {
		{ "EHLO client.example", CMD_EHLO, "client.example" },
		{ "ehlo x", CMD_EHLO, "x" },
		{ "MAIL FROM:<a@b>", CMD_MAIL, "FROM:<a@b>" },
		{ "QUIT", CMD_QUIT, "" },
		{ "quit   ", CMD_QUIT, "" },
		{ "DATA", CMD_DATA, "" },
		{ "STARTTLS", CMD_STARTTLS, "" },
		{ "AUTH PLAIN AGJvYgBwdw==", CMD_AUTH, "PLAIN AGJvYgBwdw==" },
		{ "MAILX FROM:<a@b>", CMD_UNKNOWN, "FROM:<a@b>" },
		{ "", CMD_UNKNOWN, "" },
		{ "GET / HTTP/1.1", CMD_UNKNOWN, "/ HTTP/1.1" },
		{ "BDAT 10 LAST", CMD_BDAT, "10 LAST" },
	};
	struct smtp_cmd cmd;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		smtp_cmd_parse(cases[i].line, strlen(cases[i].line), &cmd);
		assert_int_equal(cmd.id, cases[i].id);
		assert_int_equal(cmd.argslen, strlen(cases[i].args));
		assert_memory_equal(cmd.args, cases[i].args, cmd.argslen);
	}
}

struct mail_case {
	const char	*args;
	int		 ok;
	enum reply_id	 err;
	const char	*local;
	uint64_t	 size;
	int		 body8, utf8;
};

static const struct mail_case mail_cases[] = {
	{ "FROM:<a@example.test>", 1, 0, "a", 0, 0, 0 },
	{ "from:<A.B@Example.Test>", 1, 0, "A.B", 0, 0, 0 },
	{ "FROM: <a@example.test>", 1, 0, "a", 0, 0, 0 },
	{ "FROM:<>", 1, 0, "", 0, 0, 0 },
	{ "FROM:<a@b.c> SIZE=1000", 1, 0, "a", 1000, 0, 0 },
	{ "FROM:<a@b.c> BODY=8BITMIME", 1, 0, "a", 0, 1, 0 },
	{ "FROM:<a@b.c> body=7bit", 1, 0, "a", 0, 0, 0 },
	{ "FROM:<a@b.c> SMTPUTF8", 1, 0, "a", 0, 0, 1 },
	{ "FROM:<\xc3\xa9@b.c> SMTPUTF8", 1, 0, "\xc3\xa9", 0, 0, 1 },
	{ "FROM:<\xc3\xa9@b.c>", 0, R_NEED_SMTPUTF8, NULL, 0, 0, 0 },
	{ "FROM:<@r1,@r2:a@b.c>", 1, 0, "a", 0, 0, 0 },
	{ "FROM:<\"x y\"@b.c>", 1, 0, "\"x y\"", 0, 0, 0 },
	{ "FROM:<a@b.c> AUTH=<>", 1, 0, "a", 0, 0, 0 },
	{ "FROM:<a@b.c> AUTH=u+2Bv@b.c", 1, 0, "a", 0, 0, 0 },
	{ "FROM:<a@b.c> AUTH=u+2", 0, R_SYNTAX, NULL, 0, 0, 0 },
	{ "FROM:<a@b.c> AUTH=u+0Ax", 0, R_SYNTAX, NULL, 0, 0, 0 },
	{ "FROM:<a@b.c> AUTH=u+0D+0Ax", 0, R_SYNTAX, NULL, 0, 0, 0 },
	{ "FROM:<a@b.c> BODY=FOO", 0, R_BAD_BODY, NULL, 0, 0, 0 },
	{ "FROM:<a@b.c> SIZE=abc", 0, R_SYNTAX, NULL, 0, 0, 0 },
	{ "FROM:<a@b.c> SIZE=99999999999999999999", 0, R_SYNTAX, NULL, 0,
	    0, 0 },
	{ "FROM:<a@b.c> RET=HDRS", 0, R_UNKNOWN_PARAMETER, NULL, 0, 0, 0 },
	{ "FROM:<a@b.c>x", 0, R_SYNTAX, NULL, 0, 0, 0 },
	{ "FROM:a@b.c", 0, R_SYNTAX_MAIL, NULL, 0, 0, 0 },
	{ "TO:<a@b.c>", 0, R_SYNTAX_MAIL, NULL, 0, 0, 0 },
	{ "FROM:<a@b..c>", 0, R_BAD_SENDER, NULL, 0, 0, 0 },
	{ "FROM:<a@-b.c>", 0, R_BAD_SENDER, NULL, 0, 0, 0 },
	{ "FROM:<a.@b.c>", 0, R_BAD_SENDER, NULL, 0, 0, 0 },
	{ "FROM:<a@b.c", 0, R_BAD_SENDER, NULL, 0, 0, 0 },
	{ "FROM:<a b@c.d>", 0, R_BAD_SENDER, NULL, 0, 0, 0 },
	{ "FROM:<a@[127.0.0.1]>", 1, 0, "a", 0, 0, 0 },
};

static void
test_mail(void **state)
{
	struct smtp_mail_params p;
	struct addr a;
	enum reply_id err;
	size_t i;
	int r;

	for (i = 0; i < sizeof(mail_cases) / sizeof(mail_cases[0]); i++) {
		const struct mail_case *c = &mail_cases[i];
		err = R__COUNT;
		r = smtp_parse_mail(c->args, strlen(c->args), &a, &p, &err);
		if ((r == 0) != c->ok || (!c->ok && err != c->err))
			fail_msg("%s: r=%d err=%d", c->args, r, (int)err);
		if (!c->ok)
			continue;
		assert_string_equal(a.local, c->local);
		assert_int_equal(p.size, c->size);
		assert_int_equal(p.body_8bit, c->body8);
		assert_int_equal(p.smtputf8, c->utf8);
	}
}

static void
test_rcpt(void **state)
{
	static const struct {
		const char	*args;
		int		 utf8;
		int		 ok;
		enum reply_id	 err;
	} cases[] = {
		{ "TO:<u@example.test>", 0, 1, 0 },
		{ "to: <u+tag@example.test>", 0, 1, 0 },
		{ "TO:<postmaster>", 0, 1, 0 },
		{ "TO:<PostMaster>", 0, 1, 0 },
		{ "TO:<postmasterx>", 0, 0, R_BAD_RECIPIENT },
		{ "TO:<nobody>", 0, 0, R_BAD_RECIPIENT },
		{ "TO:<>", 0, 0, R_BAD_RECIPIENT },
		{ "TO:<u@example.test> NOTIFY=NEVER", 0, 0,
		    R_UNKNOWN_PARAMETER },
		{ "TO:u@example.test", 0, 0, R_SYNTAX_RCPT },
		{ "TO:<\xe7\x94\xb0@example.test>", 0, 0, R_NEED_SMTPUTF8 },
		{ "TO:<\xe7\x94\xb0@example.test>", 1, 1, 0 },
		{ "TO:<\xff@example.test>", 1, 0, R_BAD_RECIPIENT },
	};
	struct addr a;
	enum reply_id err;
	size_t i;
	int r;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		err = R__COUNT;
		r = smtp_parse_rcpt(cases[i].args, strlen(cases[i].args),
		    cases[i].utf8, &a, &err);
		if ((r == 0) != cases[i].ok || (!cases[i].ok &&
		    err != cases[i].err))
			fail_msg("%s: r=%d err=%d", cases[i].args, r, (int)err);
	}
}

static void
test_helo(void **state)
{
	assert_true(smtp_valid_helo("client.example", 14));
	assert_true(smtp_valid_helo("[127.0.0.1]", 11));
	assert_false(smtp_valid_helo("", 0));
	assert_false(smtp_valid_helo("a b", 3));
	assert_false(smtp_valid_helo("a\x01", 2));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tokenizer),
		cmocka_unit_test(test_mail),
		cmocka_unit_test(test_rcpt),
		cmocka_unit_test(test_helo),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
