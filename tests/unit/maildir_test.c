/* Maildir delivery: safe parts, path building, names, CRLF -> LF writing
 * with Return-Path and Delivered-To, directory creation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "deliver/local.h"
#include "deliver/maildir.h"

static char root[64];

static int
rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	return remove(path);
}

static int
setup(void **state)
{
	(void)snprintf(root, sizeof(root), "/tmp/postern-maildir-XXXXXX");
	return mkdtemp(root) == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
	return nftw(root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void
test_safe_part(void **state)
{
	static const struct {
		const char	*in;
		int		 want;
	} cases[] = {
		{ "alice", 1 },
		{ "a.b", 1 },
		{ "\"a b\"", 1 },
		{ "example.test", 1 },
		{ "\xc3\xa9t\xc3\xa9", 1 },	/* UTF-8 is fine */
		{ "", 0 },
		{ ".", 0 },
		{ "..", 0 },
		{ ".hidden", 0 },
		{ "a/b", 0 },
		{ "/etc", 0 },
		{ "../x", 0 },
		{ "a\nb", 0 },
		{ "a\tb", 0 },
		{ "a\x7f", 0 },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (maildir_safe_part(cases[i].in) != cases[i].want)
			fail_msg("\"%s\": want %d", cases[i].in, cases[i].want);
	assert_false(maildir_safe_part(NULL));
}

static void
test_path(void **state)
{
	static const struct {
		const char	*pattern, *user, *domain;
		int		 rc;
		const char	*want;		/* path, or the why text */
	} cases[] = {
		{ "/var/mail/%d/%u", "alice", "example.test", 0,
		    "/var/mail/example.test/alice" },
		{ "/home/%u/Maildir", "bob", "x.y", 0, "/home/bob/Maildir" },
		{ "/m/%d-%u/100%%", "c", "d.e", 0, "/m/d.e-c/100%" },
		{ "./var/mail/%d/%u", "a", "b.c", 0, "./var/mail/b.c/a" },
		{ "/var/mail/%d/%u", "../root", "example.test", -1,
		    "unsafe local part for a maildir path" },
		{ "/var/mail/%d/%u", ".ssh", "example.test", -1,
		    "unsafe local part for a maildir path" },
		{ "/var/mail/%d/%u", "a/b", "example.test", -1,
		    "unsafe local part for a maildir path" },
		{ "/var/mail/%d/%u", "alice", "..", -1,
		    "unsafe domain for a maildir path" },
		{ "/var/mail/%d/%u", "alice", "a/b", -1,
		    "unsafe domain for a maildir path" },
		{ "/var/mail/%x", "alice", "b", -1,
		    "maildir pattern: unknown sequence %x" },
	};
	char out[256], why[128];
	size_t i;
	int rc;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		why[0] = '\0';
		rc = maildir_path(cases[i].pattern, cases[i].user,
		    cases[i].domain, out, sizeof(out), why, sizeof(why));
		if (rc != cases[i].rc)
			fail_msg("case %zu: rc %d", i, rc);
		if (strcmp(rc == 0 ? out : why, cases[i].want) != 0)
			fail_msg("case %zu: \"%s\" want \"%s\"", i,
			    rc == 0 ? out : why, cases[i].want);
		if (rc == -1)
			assert_int_equal(errno, EINVAL);
	}
	assert_int_equal(maildir_path("/a/%u", "bbbbbbbbbb", "c", out, 8, why,
	    sizeof(why)), -1);
	assert_int_equal(errno, ENAMETOOLONG);
}

static void
test_filename(void **state)
{
	struct timespec ts = { 1700000000, 123456789 };
	char buf[256];

	assert_int_equal(maildir_filename(buf, sizeof(buf), &ts, 4242, 7,
	    "mx.example.test", 1234), 0);
	assert_string_equal(buf,
	    "1700000000.M123456P4242Q7.mx.example.test,S=1234");
	/* '/' and ':' would break the name and the info suffix. */
	assert_int_equal(maildir_filename(buf, sizeof(buf), &ts, 1, 0,
	    "a/b:c", 0), 0);
	assert_string_equal(buf, "1700000000.M123456P1Q0.a\\057b\\072c,S=0");
	assert_int_equal(maildir_filename(buf, 10, &ts, 1, 0, "h", 0), -1);
}

static void
test_lf_size(void **state)
{
	assert_int_equal(maildir_lf_size("a\r\nb\r\n", 6), 4);
	assert_int_equal(maildir_lf_size("a\rb\n", 4), 4);	/* bare CR */
	assert_int_equal(maildir_lf_size("\r\n\r\n\r", 5), 3);
	assert_int_equal(maildir_lf_size("", 0), 0);
}

/* The only file in dir/sub, read whole; its name in name. */
static char *
only_file(const char *dir, const char *sub, char *name, size_t namesz,
    size_t *len)
{
	char path[512];
	struct dirent *de;
	struct stat sb;
	char *buf = NULL;
	int n = 0, fd;
	DIR *d;

	(void)snprintf(path, sizeof(path), "%s/%s", dir, sub);
	assert_non_null(d = opendir(path));
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.') {
			(void)snprintf(name, namesz, "%s", de->d_name);
			n++;
		}
	closedir(d);
	assert_int_equal(n, 1);
	(void)snprintf(path, sizeof(path), "%s/%s/%s", dir, sub, name);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	buf = malloc((size_t)sb.st_size + 1);
	assert_true((fd = open(path, O_RDONLY)) >= 0);
	assert_int_equal(read(fd, buf, sb.st_size), sb.st_size);
	close(fd);
	buf[sb.st_size] = '\0';
	*len = (size_t)sb.st_size;
	return buf;
}

static void
test_deliver(void **state)
{
	static const char msg[] = "Subject: hi\r\nTo: a@b\r\n\r\nline 1\r\n"
	    "bare\rcr\r\n.dot\r\n";
	static const char want[] = "Return-Path: <s@example.org>\n"
	    "Delivered-To: alice+x@example.test\n"
	    "Subject: hi\nTo: a@b\n\nline 1\nbare\rcr\n.dot\n";
	char dir[128], name[256], got_name[256], why[256], *text, sz[32];
	struct stat sb;
	size_t len;

	(void)snprintf(dir, sizeof(dir), "%s/mail/example.test/alice", root);
	assert_int_equal(maildir_deliver(dir, "mx.example.test", NULL,
	    "s@example.org", "alice+x@example.test", msg, sizeof(msg) - 1,
	    name, sizeof(name), why, sizeof(why)), 0);
	text = only_file(dir, "new", got_name, sizeof(got_name), &len);
	assert_string_equal(got_name, name);
	assert_string_equal(text, want);
	assert_int_equal(len, sizeof(want) - 1);
	(void)snprintf(sz, sizeof(sz), ",S=%zu", len);
	assert_non_null(strstr(name, sz));
	assert_non_null(strstr(name, ".mx.example.test,S="));
	free(text);
	/* tmp/ is left empty, cur/ exists, all made 0700. */
	assert_int_equal(rmdir(strcat(strcpy(why, dir), "/tmp")), 0);
	assert_int_equal(stat(strcat(strcpy(why, dir), "/cur"), &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0700);
	assert_int_equal(stat(dir, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0700);
	/* tmp/ removed: it is made again. The null sender is <>. */
	assert_int_equal(maildir_deliver(dir, "h", NULL, "",
	    "alice@example.test", "x\r\n", 3, name, sizeof(name), why,
	    sizeof(why)), 0);
}

static void
test_deliver_null_sender(void **state)
{
	char dir[128], name[256], got[256], why[256], *text;
	size_t len;

	(void)snprintf(dir, sizeof(dir), "%s/m", root);
	assert_int_equal(maildir_deliver(dir, "h", NULL, "", "pm@example.test",
	    "A: b\r\n\r\n", 8, name, sizeof(name), why, sizeof(why)), 0);
	text = only_file(dir, "new", got, sizeof(got), &len);
	assert_string_equal(text, "Return-Path: <>\nDelivered-To: "
	    "pm@example.test\nA: b\n\n");
	free(text);
}

/* The same unique part twice: the second delivery finds the first. */
static void
test_deliver_again(void **state)
{
	struct maildir_uniq u = { { 1700000000, 5000 }, 77, 12 };
	char dir[128], name[256], name2[256], got[256], why[256], *text;
	size_t len;

	(void)snprintf(dir, sizeof(dir), "%s/again", root);
	assert_int_equal(maildir_deliver(dir, "h", &u, "", "a@b", "x\r\n", 3,
	    name, sizeof(name), why, sizeof(why)), 0);
	assert_string_equal(name, "1700000000.M000005P77Q12.h,S=36");
	assert_int_equal(maildir_deliver(dir, "h", &u, "", "a@b", "x\r\n", 3,
	    name2, sizeof(name2), why, sizeof(why)), 1);
	assert_string_equal(name2, name);
	text = only_file(dir, "new", got, sizeof(got), &len);
	assert_string_equal(got, name);
	assert_int_equal(len, 36);
	free(text);
	/* The second attempt's tmp file is gone too. */
	(void)snprintf(why, sizeof(why), "%s/tmp", dir);
	assert_int_equal(rmdir(why), 0);
}

static void
test_deliver_fails(void **state)
{
	char dir[128], name[256], why[256];
	int fd;

	/* A file where the Maildir should be: a temporary failure. */
	(void)snprintf(dir, sizeof(dir), "%s/file", root);
	assert_true((fd = open(dir, O_CREAT | O_WRONLY, 0600)) >= 0);
	close(fd);
	assert_int_equal(maildir_deliver(dir, "h", NULL, "", "a@b", "x\r\n", 3,
	    name, sizeof(name), why, sizeof(why)), -1);
	assert_int_equal(errno, ENOTDIR);
	assert_non_null(strstr(why, "maildir"));
}

static void
test_loop_detect(void **state)
{
	static const char hdr[] = "Received: x\r\nDelivered-To: "
	    "Alice@Example.test\r\nSubject: y\r\n\r\n";

	assert_true(local_is_loop(hdr, sizeof(hdr) - 1, "alice@example.test"));
	assert_false(local_is_loop(hdr, sizeof(hdr) - 1, "alice@example.tes"));
	assert_false(local_is_loop(hdr, sizeof(hdr) - 1, "bob@example.test"));
	assert_false(local_is_loop("X-Delivered-To: a@b\r\n\r\n", 22, "a@b"));
}

/* The RCPT-time reply from the table, without CRLF; cut to the buffer. */
static void
test_unknown_reply(void **state)
{
	char big[128], small[20];

	local_unknown_reply(big, sizeof(big));
	assert_string_equal(big, "550 5.1.1 Recipient address rejected: user "
	    "unknown");
	local_unknown_reply(small, sizeof(small));
	assert_string_equal(small, "550 5.1.1 Recipient");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_safe_part),
		cmocka_unit_test(test_path),
		cmocka_unit_test(test_filename),
		cmocka_unit_test(test_lf_size),
		cmocka_unit_test_setup_teardown(test_deliver, setup, teardown),
		cmocka_unit_test_setup_teardown(test_deliver_null_sender, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_deliver_again, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_deliver_fails, setup,
		    teardown),
		cmocka_unit_test(test_loop_detect),
		cmocka_unit_test(test_unknown_reply),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
