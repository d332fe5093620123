/* DSN bounces: the multipart/report structure taken apart again, each
 * field checked exactly; status extraction; dates; queueing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "conf/conf.h"
#include "deliver/dsn.h"
#include "queue/qfile.h"
#include "queue/spool.h"

#define ORIG_ID "0TPAKQVDV8A0017L000"
#define DSN_ID "0TPAKQVE6LJ000U4000"
#define MSG "Received: from local (uid 0)\r\n\tby mx.example.test; x\r\n" \
	"Subject: two\r\nFrom: alice@example.test\r\n\r\nsecret body\r\n"
#define NOW 1700000000

static struct conf conf;
static struct envelope env;
static char *rcpts[] = { "nobody@example.test", "bob@remote.test" };

static int
setup(void **state)
{
	setenv("TZ", "UTC", 1);
	tzset();
	memset(&conf, 0, sizeof(conf));
	conf.hostname = "mx.example.test";
	conf.max_queue_time = 432000;
	memset(&env, 0, sizeof(env));
	memcpy(env.id, ORIG_ID, sizeof(ORIG_ID));
	env.created = NOW - 3600;
	env.sender = "alice@example.test";
	env.rcpts = rcpts;
	env.nrcpts = 2;
	return 0;
}

/* Splits text at "--boundary" lines; parts[i] point into text (NUL-cut). */
static size_t
split_parts(char *text, const char *boundary, char **parts, size_t max,
    int *closed)
{
	char delim[256], end[256], *p, *next;
	size_t n = 0;

	(void)snprintf(delim, sizeof(delim), "\r\n--%s\r\n", boundary);
	(void)snprintf(end, sizeof(end), "\r\n--%s--\r\n", boundary);
	*closed = 0;
	p = strstr(text, delim);
	while (p != NULL && n < max) {
		p += strlen(delim);
		parts[n++] = p;
		if ((next = strstr(p, delim)) == NULL) {
			if ((next = strstr(p, end)) != NULL) {
				*closed = strcmp(next + strlen(end), "") == 0;
				*next = '\0';
			}
			break;
		}
		*next = '\0';
		p = next;
	}
	return n;
}

static void
test_structure(void **state)
{
	struct dsn_rcpt r[2] = {
		{ "nobody@example.test", "5.1.1", "550 5.1.1 Recipient address "
		    "rejected: user unknown", NULL, 0 },
		{ "bob@remote.test", "4.4.7", "451 4.4.0 remote delivery not "
		    "yet available", NULL, 1 },
	};
	char *text, *parts[8], *b, boundary[128];
	size_t len, n;
	int closed;

	assert_int_equal(dsn_build(&conf, &env, MSG, sizeof(MSG) - 1, r, 2,
	    DSN_ID, NOW, &text, &len), 0);
	assert_int_equal(strlen(text), len);
	/* Top-level header. */
	assert_non_null(strstr(text, "\r\nFrom: Mail Delivery System "
	    "<MAILER-DAEMON@mx.example.test>\r\n"));
	assert_non_null(strstr(text, "\r\nTo: <alice@example.test>\r\n"));
	assert_non_null(strstr(text, "\r\nDate: Tue, 14 Nov 2023 22:13:20 "
	    "+0000\r\n"));
	assert_non_null(strstr(text, "\r\nMessage-ID: <" DSN_ID
	    "@mx.example.test>\r\n"));
	assert_non_null(strstr(text, "\r\nAuto-Submitted: auto-replied\r\n"));
	assert_non_null(strstr(text, "\r\nMIME-Version: 1.0\r\n"));
	assert_memory_equal(text, "Received: by mx.example.test (Postern) "
	    "with local id " DSN_ID ";\r\n\t", 70);
	b = strstr(text, "Content-Type: multipart/report; "
	    "report-type=delivery-status;\r\n\tboundary=\"");
	assert_non_null(b);
	b = strchr(b, '"') + 1;
	(void)snprintf(boundary, sizeof(boundary), "%.*s",
	    (int)(strchr(b, '"') - b), b);
	assert_string_equal(boundary, DSN_ID ".0/mx.example.test");
	n = split_parts(text, boundary, parts, 8, &closed);
	assert_int_equal(n, 3);
	assert_true(closed);
	/* 1: the human-readable notice. */
	assert_memory_equal(parts[0], "Content-Description: Notification\r\n"
	    "Content-Type: text/plain; charset=utf-8\r\n\r\n", 78);
	assert_non_null(strstr(parts[0], "<nobody@example.test>:\r\n"
	    "    550 5.1.1 Recipient address rejected: user unknown\r\n"));
	assert_non_null(strstr(parts[0], "<bob@remote.test>:\r\n"
	    "    delivery time expired: still undeliverable after 432000 "
	    "seconds in the queue;\r\n"
	    "    last error: 451 4.4.0 remote delivery not yet available\r\n"));
	/* 2: the machine-readable report, field by field. */
	assert_string_equal(parts[1],
	    "Content-Description: Delivery report\r\n"
	    "Content-Type: message/delivery-status\r\n"
	    "\r\n"
	    "Reporting-MTA: dns; mx.example.test\r\n"
	    "X-Postern-Queue-ID: " ORIG_ID "\r\n"
	    "Arrival-Date: Tue, 14 Nov 2023 21:13:20 +0000\r\n"
	    "\r\n"
	    "Final-Recipient: rfc822; nobody@example.test\r\n"
	    "Action: failed\r\n"
	    "Status: 5.1.1\r\n"
	    "Diagnostic-Code: smtp; 550 5.1.1 Recipient address rejected: "
	    "user unknown\r\n"
	    "Last-Attempt-Date: Tue, 14 Nov 2023 22:13:20 +0000\r\n"
	    "\r\n"
	    "Final-Recipient: rfc822; bob@remote.test\r\n"
	    "Action: failed\r\n"
	    "Status: 4.4.7\r\n"
	    "Diagnostic-Code: smtp; 451 4.4.0 remote delivery not yet "
	    "available\r\n"
	    "Last-Attempt-Date: Tue, 14 Nov 2023 22:13:20 +0000\r\n");
	/* 3: the original headers, and nothing of the body. */
	assert_string_equal(parts[2],
	    "Content-Description: Undelivered Message Headers\r\n"
	    "Content-Type: text/rfc822-headers\r\n"
	    "\r\n"
	    "Received: from local (uid 0)\r\n\tby mx.example.test; x\r\n"
	    "Subject: two\r\nFrom: alice@example.test\r\n");
	assert_null(strstr(text, "secret body"));
	free(text);
}

static void
test_null_mx_and_utf8(void **state)
{
	struct dsn_rcpt r = { "us\xc3\xa9r@null.test", "5.1.10",
	    "556 5.1.10 Recipient address has null MX", "mx.null.test", 0 };
	char *text;
	size_t len;

	env.smtputf8 = 1;
	assert_int_equal(dsn_build(&conf, &env, MSG, sizeof(MSG) - 1, &r, 1,
	    DSN_ID, NOW, &text, &len), 0);
	assert_non_null(strstr(text, "\r\nContent-Type: message/global-"
	    "delivery-status\r\n"));
	assert_non_null(strstr(text, "\r\nContent-Type: message/global-"
	    "headers\r\n"));
	assert_non_null(strstr(text, "\r\nFinal-Recipient: utf-8; "
	    "us\xc3\xa9r@null.test\r\nAction: failed\r\nStatus: 5.1.10\r\n"
	    "Remote-MTA: dns; mx.null.test\r\nDiagnostic-Code: smtp; 556 "
	    "5.1.10 Recipient address has null MX\r\n"));
	free(text);
	env.smtputf8 = 0;
}

static void
test_boundary_collision(void **state)
{
	static const char msg[] = "X-Trap: " DSN_ID ".0/mx.example.test\r\n"
	    "\r\nbody\r\n";
	struct dsn_rcpt r = { "a@b.c", "5.0.0", "550 no", NULL, 0 };
	char *text;
	size_t len;

	assert_int_equal(dsn_build(&conf, &env, msg, sizeof(msg) - 1, &r, 1,
	    DSN_ID, NOW, &text, &len), 0);
	assert_non_null(strstr(text, "boundary=\"" DSN_ID
	    ".1/mx.example.test\""));
	free(text);
}

static void
test_status_of(void **state)
{
	static const struct {
		const char	*reply, *want;
	} cases[] = {
		{ "550 5.1.1 user unknown", "5.1.1" },
		{ "556 5.1.10 Recipient address has null MX", "5.1.10" },
		{ "451 4.4.0 remote delivery not yet available", "4.4.0" },
		{ "550 no enhanced code", "5.0.0" },
		{ "421 closing", "4.0.0" },
		{ "garbage", "5.0.0" },
	};
	char buf[16];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		dsn_status_of(cases[i].reply, buf, sizeof(buf));
		if (strcmp(buf, cases[i].want) != 0)
			fail_msg("%s: %s, want %s", cases[i].reply, buf,
			    cases[i].want);
	}
}

static int
rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	return remove(path);
}

static void
test_queue(void **state)
{
	struct dsn_rcpt r = { "nobody@example.test", "5.1.1",
	    "550 5.1.1 user unknown", NULL, 0 };
	char dir[64] = "/tmp/postern-dsn-XXXXXX", why[256], id[QUEUE_ID_MAX];
	struct qfile qf;

	assert_non_null(mkdtemp(dir));
	assert_int_equal(spool_init(dir, why, sizeof(why)), 0);
	conf.spool = dir;
	assert_int_equal(dsn_queue(&conf, &env, MSG, sizeof(MSG) - 1, &r, 1,
	    id), 0);
	assert_int_equal(qfile_open(dir, id, &qf, why, sizeof(why)), 0);
	assert_string_equal(qf.env.sender, "");
	assert_int_equal(qf.env.nrcpts, 1);
	assert_string_equal(qf.env.rcpts[0], "alice@example.test");
	assert_memory_equal(qf.msg, "Received: by mx.example.test (Postern) "
	    "with local id ", 53);
	assert_memory_equal(qf.msg + 53, id, strlen(id));
	qfile_close(&qf);
	/* Never for the null sender. */
	env.sender = "";
	assert_int_equal(dsn_queue(&conf, &env, MSG, sizeof(MSG) - 1, &r, 1,
	    id), -1);
	assert_int_equal(errno, EINVAL);
	env.sender = "alice@example.test";
	assert_int_equal(nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_structure, setup),
		cmocka_unit_test_setup(test_null_mx_and_utf8, setup),
		cmocka_unit_test_setup(test_boundary_collision, setup),
		cmocka_unit_test(test_status_of),
		cmocka_unit_test_setup(test_queue, setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
