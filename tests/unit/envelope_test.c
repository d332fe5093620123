/* The queue file header: formatting, parsing, and every refusal. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "queue/envelope.h"

#define ID "0TPAKQT2C570012C000"

static void
test_format_exact(void **state)
{
	char *rcpts[] = { "bob@example.test", "\"a b\"@example.org" };
	struct envelope env;
	char buf[1024];
	int n;

	memset(&env, 0, sizeof(env));
	memcpy(env.id, ID, sizeof(ID));
	env.created = 1700000000;
	env.sender = "alice@example.test";
	env.auth_user = "alice@example.test";
	env.client = "127.0.0.1";
	env.helo = "client.example";
	env.body_8bit = 1;
	env.smtputf8 = 0;
	env.rcpts = rcpts;
	env.nrcpts = 2;
	n = envelope_format(&env, buf, sizeof(buf));
	assert_string_equal(buf,
	    "POSTERN-QUEUE 1\n"
	    "id " ID "\n"
	    "time 1700000000\n"
	    "from alice@example.test\n"
	    "auth alice@example.test\n"
	    "client 127.0.0.1\n"
	    "helo client.example\n"
	    "body 8BITMIME\n"
	    "smtputf8 0\n"
	    "rcpt bob@example.test\n"
	    "rcpt \"a b\"@example.org\n"
	    "\n");
	assert_int_equal(n, (int)strlen(buf));
}

static void
test_roundtrip(void **state)
{
	char *rcpts[] = { "x@y.z" };
	struct envelope env, back;
	char buf[1024], file[1100], why[128];
	int n;

	memset(&env, 0, sizeof(env));
	memcpy(env.id, ID, sizeof(ID));
	env.created = 42;
	env.sender = "";		/* the null sender */
	env.smtputf8 = 1;
	env.rcpts = rcpts;
	env.nrcpts = 1;
	n = envelope_format(&env, buf, sizeof(buf));
	assert_true(n > 0);
	(void)snprintf(file, sizeof(file), "%sSubject: x\r\n\r\nbody\r\n",
	    buf);
	assert_int_equal(envelope_parse(&back, file, strlen(file), why,
	    sizeof(why)), 0);
	assert_string_equal(back.id, ID);
	assert_int_equal((long long)back.created, 42);
	assert_string_equal(back.sender, "");
	assert_null(back.auth_user);
	assert_null(back.client);
	assert_null(back.helo);
	assert_int_equal(back.body_8bit, 0);
	assert_int_equal(back.smtputf8, 1);
	assert_int_equal(back.nrcpts, 1);
	assert_string_equal(back.rcpts[0], "x@y.z");
	assert_int_equal(back.body_offset, (size_t)n);
	assert_memory_equal(file + back.body_offset, "Subject: x\r\n", 12);
	envelope_clear(&back);
	assert_null(back.rcpts);
	envelope_clear(NULL);
}

static void
test_format_refusals(void **state)
{
	char *bad_rcpt[] = { "a@b\r\nrcpt evil@x" };
	char *ok_rcpt[] = { "a@b.c" };
	struct envelope env;
	char buf[1024];

	memset(&env, 0, sizeof(env));
	memcpy(env.id, ID, sizeof(ID));
	env.sender = "s@t.u";
	env.rcpts = bad_rcpt;
	env.nrcpts = 1;
	assert_int_equal(envelope_format(&env, buf, sizeof(buf)), -1);
	env.rcpts = ok_rcpt;
	env.sender = "s@t.u\nrcpt x@y";
	assert_int_equal(envelope_format(&env, buf, sizeof(buf)), -1);
	env.sender = "s@t.u";
	env.helo = "evil\r";
	assert_int_equal(envelope_format(&env, buf, sizeof(buf)), -1);
	env.helo = NULL;
	assert_int_equal(envelope_format(&env, buf, 40), -1);	/* too small */
	env.nrcpts = 0;
	assert_int_equal(envelope_format(&env, buf, sizeof(buf)), -1);
	env.nrcpts = 1;
	memcpy(env.id, "lower", 6);
	assert_int_equal(envelope_format(&env, buf, sizeof(buf)), -1);
}

static void
test_parse_refusals(void **state)
{
	static const struct {
		const char	*in;
		const char	*why;
	} cases[] = {
		{ "", "not a queue file" },
		{ "POSTERN-QUEUE 2\n", "not a queue file" },
		{ "POSTERN-QUEUE 1\nid " ID "\n", "truncated header" },
		{ "POSTERN-QUEUE 1\ntime 1\nfrom \nbody 7BIT\nsmtputf8 0\n"
		    "rcpt a@b\n\n", "missing field: id" },
		{ "POSTERN-QUEUE 1\nid " ID "\nfrom \nbody 7BIT\nsmtputf8 0\n"
		    "rcpt a@b\n\n", "missing field: time" },
		{ "POSTERN-QUEUE 1\nid " ID "\ntime 1\nbody 7BIT\nsmtputf8 0\n"
		    "rcpt a@b\n\n", "missing field: from" },
		{ "POSTERN-QUEUE 1\nid " ID "\ntime 1\nfrom \nbody 7BIT\n"
		    "smtputf8 0\n\n", "missing field: rcpt" },
		{ "POSTERN-QUEUE 1\nid " ID "\nid " ID "\n\n",
		    "duplicate field: id" },
		{ "POSTERN-QUEUE 1\nid abc\n\n", "invalid queue id" },
		{ "POSTERN-QUEUE 1\ntime 12x\n\n", "invalid time" },
		{ "POSTERN-QUEUE 1\ntime \n\n", "invalid time" },
		{ "POSTERN-QUEUE 1\nbody BINARYMIME\n\n",
		    "invalid body type" },
		{ "POSTERN-QUEUE 1\nsmtputf8 2\n\n", "invalid smtputf8 flag" },
		{ "POSTERN-QUEUE 1\nrcpt \n\n", "empty recipient" },
		{ "POSTERN-QUEUE 1\nfrom a@b\r\n\n", "control character" },
		{ "POSTERN-QUEUE 1\nsize 12\n\n", "unknown field" },
		{ "POSTERN-QUEUE 1\nnospace\n\n", "malformed line" },
	};
	struct envelope env;
	char why[128];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		why[0] = '\0';
		if (envelope_parse(&env, cases[i].in, strlen(cases[i].in), why,
		    sizeof(why)) != -1)
			fail_msg("case %zu parsed", i);
		if (strcmp(why, cases[i].why) != 0)
			fail_msg("case %zu: why \"%s\", want \"%s\"", i, why,
			    cases[i].why);
		assert_null(env.sender);
		assert_int_equal(env.nrcpts, 0);
	}
}

static void
test_parse_long_value(void **state)
{
	char *buf = malloc(4096);
	struct envelope env;
	char why[128];
	int n;

	n = snprintf(buf, 4096, "POSTERN-QUEUE 1\nfrom ");
	memset(buf + n, 'a', 2000);
	memcpy(buf + n + 2000, "\n\n", 3);
	assert_int_equal(envelope_parse(&env, buf, strlen(buf), why,
	    sizeof(why)), -1);
	assert_string_equal(why, "value too long");
	free(buf);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_format_exact),
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_format_refusals),
		cmocka_unit_test(test_parse_refusals),
		cmocka_unit_test(test_parse_long_value),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
