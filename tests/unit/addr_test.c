/* The shared RFC 5321 address parser: paths, mailboxes, lookup keys. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "util/addr.h"

static void
test_paths(void **state)
{
	static const struct {
		const char	*in;
		int		 null_ok, utf8_ok;
		int		 want;	/* bytes consumed, -1 */
		const char	*formatted;
	} cases[] = {
		{ "<a@b.c>", 0, 0, 7, "a@b.c" },
		{ "<a@b.c> SIZE=1", 0, 0, 7, "a@b.c" },
		{ "<>", 1, 0, 2, "" },
		{ "<>", 0, 0, -1, NULL },
		{ "<@x.y,@z:a@b.c>", 0, 0, 15, "a@b.c" },
		{ "<\"a\\\"b\"@b.c>", 0, 0, 12, "\"a\\\"b\"@b.c" },
		{ "<a@[IPv6:::1]>", 0, 0, 14, "a@[IPv6:::1]" },
		{ "<a@b_c.d>", 0, 0, -1, NULL },
		{ "<a@b.c", 0, 0, -1, NULL },
		{ "a@b.c", 0, 0, -1, NULL },
		{ "<a@>", 0, 0, -1, NULL },
		{ "<@b.c>", 0, 0, -1, NULL },
		{ "<a..b@c.d>", 0, 0, -1, NULL },
		{ "<\xc3\xa9t\xc3\xa9@\xc3\xa9.fr>", 0, 1, 13, NULL },
		{ "<\xc3\xa9@b.c>", 0, 0, -1, NULL },
		{ "<\xc0\xaf@b.c>", 0, 1, -1, NULL },	/* overlong */
		{ "<\xed\xa0\x80@b.c>", 0, 1, -1, NULL },	/* surrogate */
	};
	struct addr a;
	char buf[ADDR_BUFSZ];
	size_t i;
	int n;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		n = addr_parse_path(&a, cases[i].in, strlen(cases[i].in),
		    cases[i].null_ok, cases[i].utf8_ok);
		if (n != cases[i].want)
			fail_msg("%s: got %d want %d", cases[i].in, n,
			    cases[i].want);
		if (n > 0 && cases[i].formatted) {
			assert_int_not_equal(addr_format(&a, buf, sizeof(buf)),
			    -1);
			assert_string_equal(buf, cases[i].formatted);
		}
	}
}

static void
test_limits(void **state)
{
	char in[600], local[80];
	struct addr a;

	memset(local, 'x', 65);
	local[65] = '\0';
	snprintf(in, sizeof(in), "<%s@b.c>", local);
	assert_int_equal(addr_parse_path(&a, in, strlen(in), 0, 0), -1);
	local[64] = '\0';
	snprintf(in, sizeof(in), "<%s@b.c>", local);
	assert_int_equal(addr_parse_path(&a, in, strlen(in), 0, 0),
	    (int)strlen(in));
	/* A 64-character label is too long. */
	assert_false(addr_valid_domain(
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.b",
	    66));
	assert_true(addr_valid_domain("a-b.example", 11));
	assert_false(addr_valid_domain("a-.example", 10));
	assert_false(addr_valid_domain(".example", 8));
	assert_false(addr_valid_domain("example.", 8));
}

static void
test_lookup_key(void **state)
{
	static const struct {
		const char *in, *key;
	} cases[] = {
		{ "User@Example.Test", "user@example.test" },
		{ "user+tag@example.test", "user@example.test" },
		{ "USER+a+b@EXAMPLE.TEST", "user@example.test" },
		{ "+tag@example.test", NULL },
	};
	char key[ADDR_BUFSZ];
	struct addr a;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(addr_parse_mailbox(&a, cases[i].in, 0), 0);
		if (cases[i].key == NULL) {
			assert_int_equal(addr_lookup_key(&a, key, sizeof(key)),
			    -1);
			continue;
		}
		assert_int_not_equal(addr_lookup_key(&a, key, sizeof(key)), -1);
		assert_string_equal(key, cases[i].key);
	}
	assert_int_equal(addr_parse_mailbox(&a, "a@b.c ", 0), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_paths),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_lookup_key),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
