/*
 * Unit tests of src/util/wrap.c: UTF-8 decoding, display widths of
 * English and Japanese, line breaking at spaces and between Japanese
 * characters with kinsoku, and the output width from COLUMNS.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "util/wrap.h"

static void
test_decode(void **state)
{
	unsigned cp;

	(void)state;
	assert_int_equal(wrap_decode("A", 1, &cp), 1);
	assert_int_equal(cp, 'A');
	assert_int_equal(wrap_decode("\xc3\xa9", 2, &cp), 2);
	assert_int_equal(cp, 0xE9);
	assert_int_equal(wrap_decode("\xe8\xaa\xac", 3, &cp), 3);
	assert_int_equal(cp, 0x8AAC);			/* 説 */
	assert_int_equal(wrap_decode("\xf0\x9f\x98\x80", 4, &cp), 4);
	assert_int_equal(cp, 0x1F600);
	/* truncated, overlong, surrogate, stray continuation */
	assert_int_equal(wrap_decode("\xe8\xaa", 2, &cp), 1);
	assert_int_equal(cp, 0xFFFD);
	assert_int_equal(wrap_decode("\xc0\xaf", 2, &cp), 1);
	assert_int_equal(cp, 0xFFFD);
	assert_int_equal(wrap_decode("\xed\xa0\x80", 3, &cp), 1);
	assert_int_equal(cp, 0xFFFD);
	assert_int_equal(wrap_decode("\x80", 1, &cp), 1);
	assert_int_equal(cp, 0xFFFD);
}

struct width_case {
	const char	*s;
	size_t		 w;
};

static const struct width_case width_cases[] = {
	{ "", 0 }, { "abc", 3 }, { "説明", 4 }, { "RFC 5321で", 10 },
	{ "（）", 4 }, { "ｱｲ", 2 }, { "e\xcc\x81", 1 }, { "한국", 4 },
	{ "\xf0\x9f\x98\x80", 2 }, { "caf\xc3\xa9", 4 },
};

static void
test_width(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(width_cases) / sizeof(width_cases[0]); i++)
		assert_int_equal(wrap_strwidth(width_cases[i].s,
		    strlen(width_cases[i].s)), width_cases[i].w);
}

/* Splits s into lines of at most width; joins them with "|". */
static void
split(const char *s, size_t width, char *out, size_t outsz)
{
	size_t len = strlen(s), pos = 0, n, line, o = 0;

	out[0] = '\0';
	while (pos < len) {
		n = wrap_next(s + pos, len - pos, width, &line);
		assert_true(n > 0);
		assert_true(wrap_strwidth(s + pos, line) <= width ||
		    line == 0 || n == line);
		o += (size_t)snprintf(out + o, outsz - o, "%s%.*s",
		    o > 0 ? "|" : "", (int)line, s + pos);
		assert_true(o < outsz);
		pos += n;
	}
}

struct wrap_case {
	const char	*in;
	size_t		 width;
	const char	*want;
};

static const struct wrap_case wrap_cases[] = {
	{ "the quick brown fox", 10, "the quick|brown fox" },
	{ "the quick brown fox", 9, "the quick|brown fox" },
	{ "the quick brown fox", 8, "the|quick|brown|fox" },
	{ "abcdefghij", 4, "abcd|efgh|ij" },
	{ "one\ntwo three", 20, "one|two three" },
	{ "a  b", 1, "a|b" },
	{ "説明します", 4, "説明|しま|す" },
	/* 。 may not start a line: "す。" moves down together */
	{ "確認します。次へ", 10, "確認しま|す。次へ" },
	/* 「 may not end a line */
	{ "あ「い」", 4, "あ|「い|」" },
	{ "はい「問題」です", 8, "はい「問|題」です" },
	{ "RFC 5321で定義", 8, "RFC 5321|で定義" },
	{ "RFC 5321で定義", 7, "RFC|5321で|定義" },
	{ "ab", 80, "ab" },
};

static void
test_wrap_next(void **state)
{
	char out[512];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(wrap_cases) / sizeof(wrap_cases[0]); i++) {
		split(wrap_cases[i].in, wrap_cases[i].width, out,
		    sizeof(out));
		if (strcmp(out, wrap_cases[i].want) != 0)
			fail_msg("'%s' at %zu: got '%s', want '%s'",
			    wrap_cases[i].in, wrap_cases[i].width, out,
			    wrap_cases[i].want);
	}
}

static void
test_print(void **state)
{
	char *buf = NULL;
	size_t sz = 0;
	FILE *fp;

	(void)state;
	fp = open_memstream(&buf, &sz);
	assert_non_null(fp);
	assert_int_equal(wrap_print(fp, "aaa bbb ccc ddd eee", 20, 5, "  "),
	    0);
	fclose(fp);
	assert_string_equal(buf, "aaa bbb ccc ddd\n  eee\n");
	free(buf);
}

static void
test_width_env(void **state)
{
	(void)state;
	setenv("COLUMNS", "60", 1);
	assert_int_equal(wrap_width(-1), 60);
	setenv("COLUMNS", "5", 1);
	assert_int_equal(wrap_width(-1), 20);
	setenv("COLUMNS", "junk", 1);
	assert_int_equal(wrap_width(-1), 80);
	unsetenv("COLUMNS");
	assert_int_equal(wrap_width(-1), 80);
	assert_int_equal(wrap_use_bold(-1), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_decode),
		cmocka_unit_test(test_width),
		cmocka_unit_test(test_wrap_next),
		cmocka_unit_test(test_print),
		cmocka_unit_test(test_width_env),
	};

	return cmocka_run_group_tests_name("wrap", tests, NULL, NULL);
}
