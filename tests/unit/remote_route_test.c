/* Remote delivery's pure logic: routes from MX results (null MX,
 * NXDOMAIN, NODATA, no address, DNS failure, our own MX, ports, order),
 * the smarthost route, address literals, relay parsing, the relay and
 * TLS strings of the log, reply classes, and the 8BITMIME / SMTPUTF8
 * content checks. Table-driven; no network, no DNS. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "deliver/remote_int.h"

#define MYNAME "mx.example.test"

/* One MX host of a test result: name, preference, IPv4/IPv6 texts. */
struct host {
	const char	*name;
	unsigned	 pref;
	const char	*addrs[3];
};

static void
make_mx(struct dns_mx_result *res, const char *domain, enum dns_status st,
    const struct host *hosts, size_t n)
{
	struct dns_mx_host *h;
	size_t i, k;

	memset(res, 0, sizeof(*res));
	(void)snprintf(res->domain, sizeof(res->domain), "%s", domain);
	res->status = st;
	for (i = 0; i < n; i++) {
		h = &res->hosts[res->nhosts++];
		(void)snprintf(h->name, sizeof(h->name), "%s", hosts[i].name);
		h->pref = hosts[i].pref;
		h->status = DNS_NODATA;
		for (k = 0; k < 3 && hosts[i].addrs[k] != NULL; k++) {
			if (inet_pton(AF_INET, hosts[i].addrs[k],
			    &h->addrs[h->naddrs].u.v4) == 1)
				h->addrs[h->naddrs++].af = AF_INET;
			else if (inet_pton(AF_INET6, hosts[i].addrs[k],
			    &h->addrs[h->naddrs].u.v6) == 1)
				h->addrs[h->naddrs++].af = AF_INET6;
			h->status = DNS_OK;
		}
	}
}

/* "ip:port" or "[ip6]:port" of a target address. */
static void
addr_text(const struct sockaddr_storage *ss, char *buf, size_t bufsz)
{
	const struct sockaddr_in *sin = (const struct sockaddr_in *)ss;
	const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)ss;
	char ip[INET6_ADDRSTRLEN];

	if (ss->ss_family == AF_INET6) {
		inet_ntop(AF_INET6, &sin6->sin6_addr, ip, sizeof(ip));
		(void)snprintf(buf, bufsz, "[%s]:%u", ip,
		    ntohs(sin6->sin6_port));
	} else {
		inet_ntop(AF_INET, &sin->sin_addr, ip, sizeof(ip));
		(void)snprintf(buf, bufsz, "%s:%u", ip, ntohs(sin->sin_port));
	}
}

/* The route as one line: "host=a,b host=c" or "reply". */
static void
route_text(const struct remote_route *rt, char *buf, size_t bufsz)
{
	char a[64];
	size_t i, k, len = 0;

	buf[0] = '\0';
	if (!rt->usable) {
		(void)snprintf(buf, bufsz, "%s", rt->reply);
		return;
	}
	for (i = 0; i < rt->ntargets; i++) {
		len += (size_t)snprintf(buf + len, bufsz - len, "%s%s=",
		    i > 0 ? " " : "", rt->targets[i].host);
		for (k = 0; k < rt->targets[i].naddrs; k++) {
			addr_text(&rt->targets[i].addrs[k], a, sizeof(a));
			len += (size_t)snprintf(buf + len, bufsz - len, "%s%s",
			    k > 0 ? "," : "", a);
		}
	}
}

static const struct host multi[] = {
	{ "mx1.multi.test", 10, { "::1", "127.0.0.1", NULL } },
	{ "mx2.multi.test", 20, { "127.0.0.2", NULL } },
	{ "ghost.multi.test", 25, { NULL } },
	{ "mx4.multi.test", 30, { "127.0.0.4", NULL } },
};
static const struct host self[] = {
	{ "mx0.self.test", 5, { "127.0.0.5", NULL } },
	{ "mx.example.test", 10, { "127.0.0.1", NULL } },
	{ "peer.self.test", 10, { "127.0.0.6", NULL } },
	{ "backup.self.test", 20, { "127.0.0.7", NULL } },
};
static const struct host selfonly[] = {
	{ "mx.example.test", 10, { "127.0.0.1", NULL } },
	{ "backup.test", 20, { "127.0.0.7", NULL } },
};
static const struct host implicit[] = {
	{ "aonly.test", 0, { "127.0.0.1", NULL } },
};

static const struct {
	const char		*name;
	const char		*domain;
	enum dns_status		 status;
	const struct host	*hosts;
	size_t			 nhosts;
	const char		*want;
} mx_cases[] = {
	{ "multi", "multi.test", DNS_OK, multi, 4,
	    "mx1.multi.test=[::1]:2525,127.0.0.1:2525 "
	    "mx2.multi.test=127.0.0.2:2525 mx4.multi.test=127.0.0.4:2525" },
	{ "implicit", "aonly.test", DNS_OK, implicit, 1,
	    "aonly.test=127.0.0.1:2525" },
	{ "self: better hosts kept", "self.test", DNS_OK, self, 4,
	    "mx0.self.test=127.0.0.5:2525" },
	{ "self: best MX is us", "selfonly.test", DNS_OK, selfonly, 2,
	    "554 5.4.6 Mail for selfonly.test loops back to myself: "
	    "mx.example.test is its best MX host" },
	{ "null MX", "nullmx.test", DNS_NULL_MX, NULL, 0,
	    "556 5.1.10 Recipient address has null MX" },
	{ "nxdomain", "missing.test", DNS_NXDOMAIN, NULL, 0,
	    "550 5.1.2 Recipient domain missing.test does not exist" },
	{ "nodata", "nodata.test", DNS_NODATA, NULL, 0,
	    "550 5.1.2 Recipient domain nodata.test has no MX, A or AAAA "
	    "records" },
	{ "no address", "noaddr.test", DNS_NO_ADDRESS, NULL, 0,
	    "554 5.4.4 No MX host of noaddr.test has an address" },
	{ "servfail", "servfail.test", DNS_SERVFAIL, NULL, 0,
	    "451 4.4.3 DNS lookup for servfail.test failed temporarily: "
	    "SERVFAIL" },
	{ "timeout", "slow.test", DNS_TIMEOUT, NULL, 0,
	    "451 4.4.3 DNS lookup for slow.test failed temporarily: "
	    "TIMEOUT" },
};

static void
test_route_from_mx(void **state)
{
	struct dns_mx_result res;
	struct remote_route rt;
	char got[1024];
	size_t i;

	for (i = 0; i < sizeof(mx_cases) / sizeof(mx_cases[0]); i++) {
		make_mx(&res, mx_cases[i].domain, mx_cases[i].status,
		    mx_cases[i].hosts, mx_cases[i].nhosts);
		remote_route_from_mx(&rt, &res, 2525, MYNAME);
		route_text(&rt, got, sizeof(got));
		if (strcmp(got, mx_cases[i].want) != 0)
			fail_msg("%s: got \"%s\"", mx_cases[i].name, got);
	}
}

static void
test_route_dns_why(void **state)
{
	struct dns_mx_result res;
	struct remote_route rt;

	make_mx(&res, "servfail.test", DNS_SERVFAIL, NULL, 0);
	(void)snprintf(res.why, sizeof(res.why), "the resolver answered "
	    "SERVFAIL");
	remote_route_from_mx(&rt, &res, 25, MYNAME);
	assert_false(rt.usable);
	assert_string_equal(rt.reply, "451 4.4.3 DNS lookup for "
	    "servfail.test failed temporarily: the resolver answered "
	    "SERVFAIL");
	assert_int_equal(remote_reply_status(rt.reply), QSTATE_DEFERRED);
}

static void
test_route_relay(void **state)
{
	static const struct host smart[] = {
		{ "smart.test", 0, { "127.0.0.5", "::1", NULL } },
	};
	struct dns_mx_result res;
	struct remote_route rt;
	char got[512];

	make_mx(&res, "smart.test", DNS_OK, smart, 1);
	remote_route_relay(&rt, &res, 587);
	route_text(&rt, got, sizeof(got));
	assert_string_equal(got, "smart.test=127.0.0.5:587,[::1]:587");

	/* every failure to find the smarthost is temporary */
	make_mx(&res, "gone.test", DNS_NODATA, NULL, 0);
	res.nhosts = 1;
	res.hosts[0].status = DNS_NXDOMAIN;
	remote_route_relay(&rt, &res, 25);
	assert_string_equal(rt.reply, "451 4.4.3 Relay host gone.test does "
	    "not exist");
	res.hosts[0].status = DNS_NODATA;
	remote_route_relay(&rt, &res, 25);
	assert_string_equal(rt.reply, "451 4.4.3 Relay host gone.test has "
	    "no A or AAAA record");
	make_mx(&res, "slow.test", DNS_TIMEOUT, NULL, 0);
	remote_route_relay(&rt, &res, 25);
	assert_string_equal(rt.reply, "451 4.4.3 DNS lookup for relay host "
	    "slow.test failed temporarily: TIMEOUT");

	assert_int_equal(remote_route_relay_literal(&rt, "::1", 2525), 1);
	route_text(&rt, got, sizeof(got));
	assert_string_equal(got, "[::1]=[::1]:2525");
	assert_true(rt.targets[0].literal);
	assert_int_equal(remote_route_relay_literal(&rt, "smart.test", 25), 0);
}

static const struct {
	const char	*domain;
	int		 rc;
	const char	*want;
} literal_cases[] = {
	{ "example.test", 0, "" },
	{ "[127.0.0.1]", 1, "[127.0.0.1]=127.0.0.1:25" },
	{ "[IPv6:::1]", 1, "[IPv6:::1]=[::1]:25" },
	{ "[ipv6:2001:db8::7]", 1, "[ipv6:2001:db8::7]=[2001:db8::7]:25" },
	{ "[::1]", 1, "550 5.1.2 Address literal [::1] is not an address "
	    "this server can deliver to" },
	{ "[IPv6:127.0.0.1]", 1, "550 5.1.2 Address literal "
	    "[IPv6:127.0.0.1] is not an address this server can deliver "
	    "to" },
	{ "[300.1.1.1]", 1, "550 5.1.2 Address literal [300.1.1.1] is not "
	    "an address this server can deliver to" },
	{ "[]", 0, "" },
};

static void
test_route_literal(void **state)
{
	struct remote_route rt;
	char got[512];
	size_t i;
	int rc;

	for (i = 0; i < sizeof(literal_cases) / sizeof(literal_cases[0]);
	    i++) {
		memset(&rt, 0, sizeof(rt));
		rc = remote_route_literal(&rt, literal_cases[i].domain, 25);
		route_text(&rt, got, sizeof(got));
		if (rc != literal_cases[i].rc ||
		    strcmp(got, literal_cases[i].want) != 0)
			fail_msg("%s: rc %d \"%s\"", literal_cases[i].domain,
			    rc, got);
	}
}

static const struct {
	const char	*in;
	int		 rc;
	const char	*host;
	unsigned	 port;
} split_cases[] = {
	{ "smtp.example.net:587", 0, "smtp.example.net", 587 },
	{ "smtp.example.net", 0, "smtp.example.net", 25 },
	{ "[2001:db8::1]:2525", 0, "2001:db8::1", 2525 },
	{ "[2001:db8::1]", 0, "2001:db8::1", 25 },
	{ "192.0.2.1:26", 0, "192.0.2.1", 26 },
	{ "2001:db8::1", 0, "2001:db8::1", 25 },
	{ "host:0", -1, NULL, 0 },
	{ "host:65536", -1, NULL, 0 },
	{ "host:", -1, NULL, 0 },
	{ "host:2x", -1, NULL, 0 },
	{ ":25", -1, NULL, 0 },
	{ "[::1", -1, NULL, 0 },
	{ "[::1]x", -1, NULL, 0 },
};

static void
test_relay_split(void **state)
{
	char host[64];
	unsigned port;
	size_t i;
	int rc;

	for (i = 0; i < sizeof(split_cases) / sizeof(split_cases[0]); i++) {
		port = 0;
		rc = remote_relay_split(split_cases[i].in, host, sizeof(host),
		    &port);
		if (rc != split_cases[i].rc)
			fail_msg("%s: rc %d", split_cases[i].in, rc);
		if (rc == 0 && (strcmp(host, split_cases[i].host) != 0 ||
		    port != split_cases[i].port))
			fail_msg("%s: %s %u", split_cases[i].in, host, port);
	}
}

static void
test_log_strings(void **state)
{
	struct smtp_client_tls_info t;
	char buf[256];

	remote_relay_str(buf, sizeof(buf), "mx.relay.test", "127.0.0.2:25");
	assert_string_equal(buf, "mx.relay.test[127.0.0.2]:25");
	remote_relay_str(buf, sizeof(buf), "mx.v6.test", "[::1]:2525");
	assert_string_equal(buf, "mx.v6.test[::1]:2525");
	remote_relay_str(buf, sizeof(buf), "[127.0.0.1]", "127.0.0.1:25");
	assert_string_equal(buf, "[127.0.0.1]:25");
	remote_relay_str(buf, sizeof(buf), "mx.test", "");
	assert_string_equal(buf, "mx.test");

	memset(&t, 0, sizeof(t));
	remote_tls_str(buf, sizeof(buf), &t);
	assert_string_equal(buf, "none");
	t.active = 1;
	(void)snprintf(t.version, sizeof(t.version), "TLSv1.3");
	remote_tls_str(buf, sizeof(buf), &t);
	assert_string_equal(buf, "TLSv1.3/unverified");
	t.verified = 1;
	(void)snprintf(t.version, sizeof(t.version), "TLSv1.2");
	remote_tls_str(buf, sizeof(buf), &t);
	assert_string_equal(buf, "TLSv1.2/verified");
}

static void
test_reply_status(void **state)
{
	assert_int_equal(remote_reply_status("250 2.0.0 Ok"), QSTATE_DONE);
	assert_int_equal(remote_reply_status("451 4.4.1 down"),
	    QSTATE_DEFERRED);
	assert_int_equal(remote_reply_status("421 4.4.2 lost"),
	    QSTATE_DEFERRED);
	assert_int_equal(remote_reply_status("556 5.1.10 Recipient address "
	    "has null MX"), QSTATE_FAILED);
	assert_int_equal(remote_reply_status(""), QSTATE_DEFERRED);
}

#define HDR_ASCII "Subject: hi\r\n\r\n"
#define HDR_UTF8 "Subject: gr\xc3\xbc\xc3\x9f\x65\r\n\r\n"

static const struct {
	const char	*name;
	const char	*sender;
	int		 flagged;	/* received with SMTPUTF8 */
	const char	*msg;
	const char	*rcpt;
	int		 want;
} utf8_cases[] = {
	{ "ascii", "a@example.test", 1, HDR_ASCII "caf\xc3\xa9\r\n",
	    "b@relay.test", 0 },
	{ "utf8 recipient", "a@example.test", 1, HDR_ASCII,
	    "j\xc3\xbcrgen@relay.test", 1 },
	{ "utf8 sender", "j\xc3\xbcrgen@example.test", 1, HDR_ASCII,
	    "b@relay.test", 1 },
	{ "utf8 header, flagged", "a@example.test", 1, HDR_UTF8,
	    "b@relay.test", 1 },
	{ "utf8 header, not flagged", "a@example.test", 0, HDR_UTF8,
	    "b@relay.test", 0 },
};

static void
test_content_checks(void **state)
{
	struct envelope env;
	const char *rcpts[1];
	size_t i;
	int got;

	assert_int_equal(remote_has_8bit("plain\r\n", 7), 0);
	assert_int_equal(remote_has_8bit("caf\xe9", 4), 1);
	assert_int_equal(remote_has_8bit("\x80", 1), 1);
	assert_int_equal(remote_has_8bit("x\x7f", 2), 0);
	for (i = 0; i < sizeof(utf8_cases) / sizeof(utf8_cases[0]); i++) {
		memset(&env, 0, sizeof(env));
		env.sender = (char *)utf8_cases[i].sender;
		env.smtputf8 = utf8_cases[i].flagged;
		rcpts[0] = utf8_cases[i].rcpt;
		got = remote_needs_smtputf8(&env, utf8_cases[i].msg,
		    strlen(utf8_cases[i].msg), rcpts, 1);
		if (got != utf8_cases[i].want)
			fail_msg("%s: got %d", utf8_cases[i].name, got);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_route_from_mx),
		cmocka_unit_test(test_route_dns_why),
		cmocka_unit_test(test_route_relay),
		cmocka_unit_test(test_route_literal),
		cmocka_unit_test(test_relay_split),
		cmocka_unit_test(test_log_strings),
		cmocka_unit_test(test_reply_status),
		cmocka_unit_test(test_content_checks),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
