/*
 * The DATA automaton: a table of {name, input, want stored, want consumed}
 * run whole and also fed one byte at a time (every split point must give
 * the same result).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "smtp/data.h"

struct data_case {
	const char	*name;
	const char	*in;
	const char	*want;		/* stored bytes */
	int		 done;		/* end marker reached */
	size_t		 rest;		/* input bytes left after the marker */
};

static const struct data_case cases[] = {
	{ "empty message", ".\r\n", "", 1, 0 },
	{ "one line", "hello\r\n.\r\n", "hello\r\n", 1, 0 },
	{ "pipelined after", "a\r\n.\r\nQUIT\r\n", "a\r\n", 1, 6 },
	{ "unstuff", "..x\r\n.\r\n", ".x\r\n", 1, 0 },
	{ "unstuff lone dots", "..\r\n.\r\n", ".\r\n", 1, 0 },
	{ "leading dot dropped", ".x\r\n.\r\n", "x\r\n", 1, 0 },
	{ "bare lf stored as crlf", "a\nb\r\n.\r\n", "a\r\nb\r\n", 1, 0 },
	{ "LF.LF never ends", "a\n.\nMAIL FROM:<x@y>\r\n.\r\n",
	    "a\r\n.\r\nMAIL FROM:<x@y>\r\n", 1, 0 },
	{ "LF.CRLF never ends", "a\n.\r\nRCPT TO:<x@y>\r\n.\r\n",
	    "a\r\n.\r\nRCPT TO:<x@y>\r\n", 1, 0 },
	{ "CRLF.LF never ends", "a\r\n.\nDATA\r\n.\r\n",
	    "a\r\n.\r\nDATA\r\n", 1, 0 },
	{ "CR.CR never ends", "a\r.\rQUIT\r\n.\r\n", "a\r.\rQUIT\r\n", 1, 0 },
	{ "CR.CRLF is data", "a\r.\r\n.\r\n", "a\r.\r\n", 1, 0 },
	{ "dot CR other", "x\r\n.\rY\r\n.\r\n", "x\r\n\rY\r\n", 1, 0 },
	{ "not finished", "abc\r\n.", "abc\r\n", 0, 0 },
	{ "bare cr kept", "a\rb\r\n.\r\n", "a\rb\r\n", 1, 0 },
	{ "crcrlf", "a\r\r\n.\r\n", "a\r\r\n", 1, 0 },
	{ "8bit passes", "\xe6\x97\xa5\r\n.\r\n", "\xe6\x97\xa5\r\n", 1, 0 },
	{ "nul passes", "a\0b\r\n.\r\n", NULL, 1, 0 },
};

/* Stored bytes and done flag for in, fed in pieces of `step` bytes. */
static size_t
run(const char *in, size_t inlen, size_t step, char *out, int *done,
    size_t *rest)
{
	struct data_parser p;
	char buf[DATA_OUT_MAX(64)];
	size_t i = 0, o = 0, n, used, outlen;

	data_parser_init(&p);
	*rest = 0;
	while (i < inlen) {
		n = inlen - i < step ? inlen - i : step;
		used = data_feed(&p, in + i, n, buf, &outlen);
		memcpy(out + o, buf, outlen);
		o += outlen;
		i += used;
		if (p.state == DATA_DONE) {
			*rest = inlen - i;
			break;
		}
		assert_int_equal(used, n);
	}
	*done = p.state == DATA_DONE;
	return o;
}

static void
test_table(void **state)
{
	size_t i, step, len, inlen, rest;
	char out[512];
	int done;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct data_case *c = &cases[i];
		inlen = c->want ? strlen(c->in) : 8;
		for (step = 1; step <= 64; step = step * 2 + 1) {
			len = run(c->in, inlen, step, out, &done, &rest);
			if (c->want) {
				if (len != strlen(c->want) ||
				    memcmp(out, c->want, len) != 0)
					fail_msg("%s (step %zu): got %.*s", c->name,
					    step, (int)len, out);
			} else
				assert_memory_equal(out, "a\0b\r\n", 5);
			if (done != c->done || rest != c->rest)
				fail_msg("%s (step %zu): done %d rest %zu",
				    c->name, step, done, rest);
		}
	}
}

/* A long line with no newline passes through whole. */
static void
test_long_line(void **state)
{
	static char in[200005], out[DATA_OUT_MAX(sizeof(in))];
	struct data_parser p;
	size_t outlen, used;

	memset(in, 'x', 200000);
	memcpy(in + 200000, "\r\n.\r\n", 5);
	data_parser_init(&p);
	used = data_feed(&p, in, sizeof(in), out, &outlen);
	assert_int_equal(used, sizeof(in));
	assert_int_equal(outlen, 200002);
	assert_int_equal(p.state, DATA_DONE);
}

static void
test_bare_lf_counted(void **state)
{
	struct data_parser p;
	char out[64];
	size_t outlen;

	data_parser_init(&p);
	data_feed(&p, "a\nb\nc\r\n", 7, out, &outlen);
	assert_int_equal(p.bare_lf, 2);
	assert_string_equal(data_state_str(p.state), "bol");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_long_line),
		cmocka_unit_test(test_bare_lf_counted),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
