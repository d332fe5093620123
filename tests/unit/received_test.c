/* The Received: header: protocol types (RFC 3848, RFC 6531) and layout. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "smtp/received.h"

static void
test_protocols(void **state)
{
	static const struct {
		int		 esmtp, tls, auth, utf8;
		const char	*want;
	} cases[] = {
		{ 0, 0, 0, 0, "SMTP" }, { 0, 1, 0, 0, "SMTP" },
		{ 1, 0, 0, 0, "ESMTP" }, { 1, 1, 0, 0, "ESMTPS" },
		{ 1, 0, 1, 0, "ESMTPA" }, { 1, 1, 1, 0, "ESMTPSA" },
		{ 1, 0, 0, 1, "UTF8SMTP" }, { 1, 1, 0, 1, "UTF8SMTPS" },
		{ 1, 0, 1, 1, "UTF8SMTPA" }, { 1, 1, 1, 1, "UTF8SMTPSA" },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_string_equal(received_protocol(cases[i].esmtp,
		    cases[i].tls, cases[i].auth, cases[i].utf8), cases[i].want);
}

static void
test_format(void **state)
{
	struct received_info ri;
	char buf[1024];
	int n;

	memset(&ri, 0, sizeof(ri));
	ri.helo = "client.example";
	ri.client = "::1";
	ri.ipv6 = 1;
	ri.hostname = "mx.example.test";
	ri.esmtp = 1;
	ri.tls = 1;
	ri.tls_desc = "using TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 "
	    "(256/256 bits)";
	ri.id = "0TPAKGYHVY200AVE000";
	ri.rcpt = "u@example.test";
	ri.when = 1796002594;	/* 2026-11-30 01:36:34 UTC */
	n = received_format(&ri, buf, sizeof(buf));
	assert_int_equal(n, (int)strlen(buf));
	assert_string_equal(buf,
	    "Received: from client.example ([IPv6:::1])\r\n"
	    "\tby mx.example.test (Postern) with ESMTPS id "
	    "0TPAKGYHVY200AVE000\r\n"
	    "\t(using TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 "
	    "(256/256 bits))\r\n"
	    "\tfor <u@example.test>;\r\n"
	    "\tMon, 30 Nov 2026 01:36:34 +0000\r\n");
	/* Several recipients: no "for" clause; too small a buffer: -1. */
	ri.rcpt = NULL;
	ri.tls = 0;
	ri.tls_desc = NULL;
	assert_int_not_equal(received_format(&ri, buf, sizeof(buf)), -1);
	assert_null(strstr(buf, "for <"));
	assert_int_equal(received_format(&ri, buf, 40), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_protocols),
		cmocka_unit_test(test_format),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
