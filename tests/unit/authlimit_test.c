/*
 * Unit tests for src/auth/authlimit.c with an injected clock: the delay
 * sequence and its cap, the 421 threshold, ageing out after the window,
 * clearing on success, address keys (IPv4, IPv6 /64, v4-mapped), bounded
 * memory under a flood of addresses, and sharing across fork and threads.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "auth/authlimit.h"

static uint64_t fake_ms = 1000000;

static uint64_t
fake_clock(void)
{
	return fake_ms;
}

static struct sockaddr_storage
sa_of(const char *ip)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, ip, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(12345);
	} else {
		assert_int_equal(inet_pton(AF_INET6, ip, &sin6->sin6_addr), 1);
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(54321);
	}
	return ss;
}

#define SA(ss) ((const struct sockaddr *)&(ss))

static struct authlimit *
new_table(unsigned max, unsigned window)
{
	struct authlimit *t = authlimit_new(max, window);

	assert_non_null(t);
	authlimit_set_clock(t, fake_clock);
	return t;
}

static void
test_sequence(void **state)
{
	static const struct {
		int		over;		/* authlimit_failure() */
		unsigned	delay;		/* then authlimit_delay() */
		int		blocked;
	} want[] = {
		{ 0, 1000, 0 }, { 0, 2000, 0 }, { 0, 4000, 0 }, { 0, 8000, 0 },
		{ 1, 16000, 1 }, { 1, 30000, 1 }, { 1, 30000, 1 },
	};
	struct authlimit *t = new_table(5, 600);
	struct sockaddr_storage a = sa_of("192.0.2.1");
	size_t i;

	(void)state;
	assert_int_equal(authlimit_delay(t, SA(a)), 0);
	assert_int_equal(authlimit_blocked(t, SA(a)), 0);
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		assert_int_equal(authlimit_failure(t, SA(a)), want[i].over);
		assert_int_equal(authlimit_delay(t, SA(a)), want[i].delay);
		assert_int_equal(authlimit_blocked(t, SA(a)), want[i].blocked);
		assert_int_equal(authlimit_failures(t, SA(a)), i + 1);
		fake_ms += 1000;
	}
	authlimit_free(t);
}

static void
test_no_lockout(void **state)
{
	struct authlimit *t = new_table(0, 60);
	struct sockaddr_storage a = sa_of("192.0.2.2");
	int i;

	(void)state;
	for (i = 0; i < 100; i++)
		assert_int_equal(authlimit_failure(t, SA(a)), 0);
	assert_int_equal(authlimit_delay(t, SA(a)), AUTHLIMIT_DELAY_MAX_MS);
	assert_int_equal(authlimit_blocked(t, SA(a)), 0);
	authlimit_free(t);
}

static void
test_window(void **state)
{
	struct authlimit *t = new_table(3, 60);
	struct sockaddr_storage a = sa_of("192.0.2.3");

	(void)state;
	assert_int_equal(authlimit_failure(t, SA(a)), 0);
	fake_ms += 59999;
	assert_int_equal(authlimit_failures(t, SA(a)), 1);
	/* A failure within the window keeps the count alive ... */
	assert_int_equal(authlimit_failure(t, SA(a)), 0);
	fake_ms += 59999;
	assert_int_equal(authlimit_failures(t, SA(a)), 2);
	assert_int_equal(authlimit_delay(t, SA(a)), 2000);
	/* ... and a full window without one forgets it. */
	fake_ms += 1;
	assert_int_equal(authlimit_failures(t, SA(a)), 0);
	assert_int_equal(authlimit_delay(t, SA(a)), 0);
	assert_int_equal(authlimit_failure(t, SA(a)), 0);
	assert_int_equal(authlimit_failures(t, SA(a)), 1);

	/* Blocked clients are released by the window too. */
	assert_int_equal(authlimit_failure(t, SA(a)), 0);
	assert_int_equal(authlimit_failure(t, SA(a)), 1);
	assert_int_equal(authlimit_blocked(t, SA(a)), 1);
	fake_ms += 60000;
	assert_int_equal(authlimit_blocked(t, SA(a)), 0);
	authlimit_free(t);
}

static void
test_success_clears(void **state)
{
	struct authlimit *t = new_table(3, 60);
	struct sockaddr_storage a = sa_of("192.0.2.4"), b = sa_of("192.0.2.5");

	(void)state;
	assert_int_equal(authlimit_failure(t, SA(a)), 0);
	assert_int_equal(authlimit_failure(t, SA(a)), 0);
	assert_int_equal(authlimit_failure(t, SA(b)), 0);
	authlimit_success(t, SA(a));
	assert_int_equal(authlimit_failures(t, SA(a)), 0);
	assert_int_equal(authlimit_delay(t, SA(a)), 0);
	assert_int_equal(authlimit_failures(t, SA(b)), 1);
	/* Clearing an unknown client is harmless. */
	authlimit_success(t, SA(a));
	assert_int_equal(authlimit_failure(t, SA(a)), 0);
	assert_int_equal(authlimit_failures(t, SA(a)), 1);
	authlimit_free(t);
}

static void
test_keys(void **state)
{
	static const struct {
		const char	*first, *second;
		int		 same;
	} cases[] = {
		{ "198.51.100.1", "198.51.100.2", 0 },
		{ "198.51.100.7", "::ffff:198.51.100.7", 1 },
		{ "2001:db8:1:2::1", "2001:db8:1:2:ffff::99", 1 },
		{ "2001:db8:1:2::1", "2001:db8:1:3::1", 0 },
		{ "2001:db8::c633:6401", "198.51.100.1", 0 },
	};
	struct sockaddr_storage a, b;
	struct sockaddr_un un;
	struct authlimit *t;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		t = new_table(10, 60);
		a = sa_of(cases[i].first);
		b = sa_of(cases[i].second);
		assert_int_equal(authlimit_failure(t, SA(a)), 0);
		assert_int_equal(authlimit_failures(t, SA(b)),
		    cases[i].same ? 1 : 0);
		authlimit_free(t);
	}
	/* Local sockets and NULL are never limited. */
	t = new_table(1, 60);
	memset(&un, 0, sizeof(un));
	un.sun_family = AF_UNIX;
	assert_int_equal(authlimit_failure(t, (struct sockaddr *)&un), 0);
	assert_int_equal(authlimit_failure(t, (struct sockaddr *)&un), 0);
	assert_int_equal(authlimit_blocked(t, (struct sockaddr *)&un), 0);
	assert_int_equal(authlimit_delay(t, NULL), 0);
	authlimit_free(t);
}

static void
test_flood_is_bounded(void **state)
{
	struct authlimit *t = new_table(3, 3600);
	struct sockaddr_storage a;
	struct sockaddr_in *sin = (struct sockaddr_in *)&a;
	unsigned i, tracked = 0, n = AUTHLIMIT_SLOTS * 3;

	(void)state;
	a = sa_of("10.0.0.0");
	for (i = 0; i < n; i++) {
		sin->sin_addr.s_addr = htonl(0x0a000000u + i);
		assert_int_equal(authlimit_failure(t, SA(a)), 0);
		fake_ms += 1;
		/* The newest client is always tracked. */
		assert_int_equal(authlimit_failures(t, SA(a)), 1);
	}
	for (i = 0; i < n; i++) {
		sin->sin_addr.s_addr = htonl(0x0a000000u + i);
		tracked += authlimit_failures(t, SA(a));
	}
	assert_true(tracked <= AUTHLIMIT_SLOTS);
	assert_true(tracked >= AUTHLIMIT_SLOTS / 2);
	/* The oldest were the ones evicted. */
	sin->sin_addr.s_addr = htonl(0x0a000000u);
	assert_int_equal(authlimit_failures(t, SA(a)), 0);
	authlimit_free(t);
}

static void
test_shared_across_fork(void **state)
{
	struct authlimit *t = new_table(4, 60);
	struct sockaddr_storage a = sa_of("203.0.113.9");
	pid_t pid;
	int status;

	(void)state;
	assert_int_equal(authlimit_failure(t, SA(a)), 0);
	pid = fork();
	assert_true(pid != -1);
	if (pid == 0) {
		/* A worker: two more failures, then the fourth closes. */
		int rc = authlimit_failure(t, SA(a)) == 0 &&
		    authlimit_failure(t, SA(a)) == 0 &&
		    authlimit_failure(t, SA(a)) == 1;
		_exit(rc ? 0 : 1);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_int_equal(authlimit_failures(t, SA(a)), 4);
	assert_int_equal(authlimit_blocked(t, SA(a)), 1);
	authlimit_free(t);
}

static struct authlimit *shared_table;

static void *
hammer(void *arg)
{
	struct sockaddr_storage a = sa_of("203.0.113.10");
	int i;

	(void)arg;
	for (i = 0; i < 1000; i++)
		(void)authlimit_failure(shared_table, SA(a));
	return NULL;
}

static void
test_threads(void **state)
{
	struct sockaddr_storage a = sa_of("203.0.113.10");
	pthread_t th[4];
	int i;

	(void)state;
	shared_table = new_table(0, 60);
	for (i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&th[i], NULL, hammer, NULL), 0);
	for (i = 0; i < 4; i++)
		assert_int_equal(pthread_join(th[i], NULL), 0);
	assert_int_equal(authlimit_failures(shared_table, SA(a)), 4000);
	authlimit_free(shared_table);
}

static void
test_real_clock(void **state)
{
	struct authlimit *t = authlimit_new(2, 60);
	struct sockaddr_storage a = sa_of("192.0.2.99");

	(void)state;
	assert_non_null(t);
	assert_int_equal(authlimit_failure(t, SA(a)), 0);
	assert_int_equal(authlimit_delay(t, SA(a)), 1000);
	assert_int_equal(authlimit_failure(t, SA(a)), 1);
	authlimit_set_clock(t, NULL);
	assert_int_equal(authlimit_blocked(t, SA(a)), 1);
	authlimit_free(t);
	authlimit_free(NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sequence),
		cmocka_unit_test(test_no_lockout),
		cmocka_unit_test(test_window),
		cmocka_unit_test(test_success_clears),
		cmocka_unit_test(test_keys),
		cmocka_unit_test(test_flood_is_bounded),
		cmocka_unit_test(test_shared_across_fork),
		cmocka_unit_test(test_threads),
		cmocka_unit_test(test_real_clock),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
