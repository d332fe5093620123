/* `postern sendmail` message handling: line endings, the "." rule, the
 * header splitter and the address-list scanner used by -t. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cli/sendmail_msg.h"

static void
test_reader(void **state)
{
	static const struct {
		const char	*in;
		int		 ignore_dots;
		const char	*want;
	} cases[] = {
		{ "a\nb\n", 0, "a\r\nb\r\n" },
		{ "a\r\nb\r\n", 0, "a\r\nb\r\n" },
		{ "a\nno newline", 0, "a\r\nno newline\r\n" },
		{ "a\n.\nb\n", 0, "a\r\n" },
		{ "a\r\n.\r\nb\r\n", 0, "a\r\n" },
		{ "a\n.\nb\n", 1, "a\r\n.\r\nb\r\n" },
		/* No dot-unstuffing. */
		{ "a\n..\nb\n", 0, "a\r\n..\r\nb\r\n" },
		{ "a\n.x\n", 0, "a\r\n.x\r\n" },
		{ "a\n.", 0, "a\r\n" },				/* at EOF too */
		{ "bare\rcr\n", 0, "bare\rcr\r\n" },
		{ "", 0, "" },
	};
	struct sendmail_msg m;
	size_t i, k, len;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		/* Byte by byte: line ends may straddle reads. */
		memset(&m, 0, sizeof(m));
		len = strlen(cases[i].in);
		for (k = 0; k < len; k++)
			assert_int_equal(sendmail_feed(&m, cases[i].in + k, 1,
			    cases[i].ignore_dots, 1000), 0);
		assert_int_equal(sendmail_feed_end(&m, 1000), 0);
		if (m.len != strlen(cases[i].want) || (m.len > 0 &&
		    memcmp(m.buf, cases[i].want, m.len) != 0))
			fail_msg("case %zu: got \"%.*s\"", i, (int)m.len,
			    m.buf ? m.buf : "");
		sendmail_msg_clear(&m);
	}
}

static void
test_reader_limit(void **state)
{
	struct sendmail_msg m;

	memset(&m, 0, sizeof(m));
	assert_int_equal(sendmail_feed(&m, "12345678\n", 9, 0, 10), 0);
	assert_int_equal(m.len, 10);
	assert_int_equal(sendmail_feed(&m, "x", 1, 0, 10), -1);
	assert_int_equal(errno, EFBIG);
	sendmail_msg_clear(&m);
	memset(&m, 0, sizeof(m));
	/* A line without LF is bounded too. */
	assert_int_equal(sendmail_feed(&m, "12345678901", 11, 0, 10), -1);
	assert_int_equal(errno, EFBIG);
	sendmail_msg_clear(&m);
}

static void
test_headers(void **state)
{
	static const char in[] = "From: a@b.c\nTo: x@y.z,\n\tw@v.u\n"
	    "bcc: hidden@h.i\nSubject: s\n\nbody: not a header\n";
	struct sendmail_msg m;

	memset(&m, 0, sizeof(m));
	assert_int_equal(sendmail_feed(&m, in, sizeof(in) - 1, 0, 1000), 0);
	sendmail_parse_headers(&m);
	assert_int_equal(m.nfields, 4);
	assert_true(sendmail_field_is(&m, 1, "TO"));
	assert_int_equal(m.fields[1].len, strlen("To: x@y.z,\r\n\tw@v.u\r\n"));
	assert_true(sendmail_field_is(&m, 2, "Bcc"));
	assert_true(sendmail_has_field(&m, "subject"));
	assert_false(sendmail_has_field(&m, "Date"));
	assert_int_equal(m.len - m.body_off, 20);
	assert_memory_equal(m.buf + m.body_off, "body: not a header\r\n", 20);
	sendmail_msg_clear(&m);

	/* No blank line: the first non-field line starts the body. */
	memset(&m, 0, sizeof(m));
	assert_int_equal(sendmail_feed(&m, "Subject: s\nHello there\n", 23,
	    0, 1000), 0);
	sendmail_parse_headers(&m);
	assert_int_equal(m.nfields, 1);
	assert_int_equal(m.body_off, strlen("Subject: s\r\n"));
	sendmail_msg_clear(&m);
}

static void
test_addresses(void **state)
{
	static const struct {
		const char	*in;
		int		 rc;
		const char	*want;	/* joined by '|', or the why text */
	} cases[] = {
		{ "a@b.c", 0, "a@b.c" },
		{ " a@b.c , d@e.f ", 0, "a@b.c|d@e.f" },
		{ "Alice <a@b.c>", 0, "a@b.c" },
		{ "\"Doe, John\" <j@d.e>, k@l.m", 0, "j@d.e|k@l.m" },
		{ "a@b.c (comment, with comma)", 0, "a@b.c" },
		{ "(lead) a@b.c", 0, "a@b.c" },
		{ "undisclosed-recipients:;", 0, "" },
		{ "team: a@b.c, d@e.f;, g@h.i", 0, "a@b.c|d@e.f|g@h.i" },
		{ "x@y.z,\r\n\tw@v.u", 0, "x@y.z|w@v.u" },
		{ "<@route.example:a@b.c>", 0, "a@b.c" },
		{ "\"quoted local\"@b.c", 0, "\"quoted local\"@b.c" },
		{ "Name <a@b.c> (and (nested) comment)", 0, "a@b.c" },
		{ "", 0, "" },
		{ "<>", 0, "" },
		{ "a@b.c, broken@", -1, "broken@" },
		{ "no-at-sign", -1, "no-at-sign" },
		{ "Bad <a@@b>", -1, "a@@b" },
	};
	char why[256], joined[512], **list;
	size_t i, k, n;
	int rc;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		list = NULL;
		n = 0;
		why[0] = '\0';
		rc = sendmail_addresses(cases[i].in, strlen(cases[i].in),
		    &list, &n, why, sizeof(why));
		joined[0] = '\0';
		for (k = 0; k < n; k++) {
			if (k > 0)
				strcat(joined, "|");
			strcat(joined, list[k]);
			free(list[k]);
		}
		free(list);
		if (rc != cases[i].rc)
			fail_msg("case %zu (%s): rc %d", i, cases[i].in, rc);
		if (strcmp(rc == 0 ? joined : why, cases[i].want) != 0)
			fail_msg("case %zu (%s): \"%s\" want \"%s\"", i,
			    cases[i].in, rc == 0 ? joined : why,
			    cases[i].want);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reader),
		cmocka_unit_test(test_reader_limit),
		cmocka_unit_test(test_headers),
		cmocka_unit_test(test_addresses),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
