/*
 * Unit tests for src/dns/mx.c, the pure MX logic: name syntax, MX rdata
 * parsing, null MX (RFC 7505), sorting and the shuffle of equal
 * preferences with an injected RNG, the implicit MX, A/AAAA merging, the
 * overall status and the cheap domain check. No network, no clock.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "dns/dns.h"

#define MAXREC 40

/* An answer under construction: records as rdata buffers. */
struct answer_buf {
	unsigned char	 rd[MAXREC][300];
	const unsigned char *ptr[MAXREC];
	int		 len[MAXREC];
	struct dns_answer a;
};

/* Appends "pref name" (name "." is the root) as MX rdata. */
static void
add_mx(struct answer_buf *b, unsigned pref, const char *name)
{
	size_t n = b->a.n, o = 2, l;
	const char *p = name, *dot;
	unsigned char *rd = b->rd[n];

	rd[0] = (unsigned char)(pref >> 8);
	rd[1] = (unsigned char)pref;
	while (strcmp(p, ".") != 0 && *p != '\0') {
		dot = strchr(p, '.');
		l = dot != NULL ? (size_t)(dot - p) : strlen(p);
		rd[o++] = (unsigned char)l;
		memcpy(rd + o, p, l);
		o += l;
		p += l + (dot != NULL);
	}
	rd[o++] = 0;
	b->ptr[n] = rd;
	b->len[n] = (int)o;
	b->a.n = n + 1;
	b->a.data = b->ptr;
	b->a.len = b->len;
}

static void
add_raw(struct answer_buf *b, const void *rd, size_t len)
{
	size_t n = b->a.n;

	memcpy(b->rd[n], rd, len);
	b->ptr[n] = b->rd[n];
	b->len[n] = (int)len;
	b->a.n = n + 1;
	b->a.data = b->ptr;
	b->a.len = b->len;
}

static void
add_addr(struct answer_buf *b, int af, const char *text)
{
	unsigned char buf[16];

	assert_int_equal(inet_pton(af, text, buf), 1);
	add_raw(b, buf, af == AF_INET ? 4 : 16);
}

/* Scripted RNG: returns the values in order, then 0. */
struct script {
	const unsigned	*v;
	size_t		 n, i;
};

static unsigned
script_rng(unsigned n, void *arg)
{
	struct script *s = arg;
	unsigned x = s->i < s->n ? s->v[s->i++] : 0;

	assert_true(x < n);
	return x;
}

static struct dns_mx_result *
result_new(const char *domain)
{
	struct dns_mx_result *r = calloc(1, sizeof(*r));

	assert_non_null(r);
	(void)snprintf(r->domain, sizeof(r->domain), "%s", domain);
	return r;
}

/* "name/pref name/pref ..." of the hosts, for one-line comparisons. */
static const char *
hosts_str(const struct dns_mx_result *r)
{
	static char buf[2048];
	size_t i, o = 0;

	buf[0] = '\0';
	for (i = 0; i < r->nhosts; i++)
		o += (size_t)snprintf(buf + o, sizeof(buf) - o, "%s%s/%u",
		    i ? " " : "", r->hosts[i].name, r->hosts[i].pref);
	return buf;
}

static void
test_name_normalize(void **state)
{
	static const struct { const char *in, *want; } cases[] = {
		{ "Example.COM", "example.com" },
		{ "example.com.", "example.com" },
		{ "a", "a" },
		{ "_dmarc.x-y.test", "_dmarc.x-y.test" },
		{ "", NULL },
		{ ".", NULL },
		{ "a..b", NULL },
		{ ".a", NULL },
		{ "a.b..", NULL },
		{ "[127.0.0.1]", NULL },
		{ "a b.test", NULL },
		{ "caf\xc3\xa9.test", NULL },
	};
	char out[DNS_NAME_BUFSZ], longlab[80], longname[300];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc = dns_name_normalize(cases[i].in, out, sizeof(out));

		if (cases[i].want == NULL) {
			assert_int_equal(rc, -1);
			continue;
		}
		assert_int_equal(rc, 0);
		assert_string_equal(out, cases[i].want);
	}
	memset(longlab, 'a', 64);
	longlab[64] = '\0';
	assert_int_equal(dns_name_normalize(longlab, out, sizeof(out)), -1);
	longlab[63] = '\0';
	assert_int_equal(dns_name_normalize(longlab, out, sizeof(out)), 0);
	/* 253 characters is the most a name can have; 254 is too many. */
	memset(longname, 'b', 253);
	for (i = 63; i < 253; i += 64)
		longname[i] = '.';
	longname[253] = '\0';
	assert_int_equal(dns_name_normalize(longname, out, sizeof(out)), 0);
	longname[253] = 'c';
	longname[254] = '\0';
	assert_int_equal(dns_name_normalize(longname, out, sizeof(out)), -1);
	assert_int_equal(dns_name_normalize("abc", out, 3), -1);
}

static void
test_name_from_wire(void **state)
{
	static const struct {
		const char	*wire;
		size_t		 len;
		const char	*want;	/* NULL: refused */
		size_t		 used;
	} cases[] = {
		{ "\0", 1, "", 1 },
		{ "\2MX\4Test\0", 9, "mx.test", 9 },
		{ "\2mx\4test\0trailing", 17, "mx.test", 9 },
		{ "\2mx\4test", 8, NULL, 0 },		/* no root label */
		{ "\xc0\x0c", 2, NULL, 0 },		/* compression */
		{ "\x40", 1, NULL, 0 },			/* label type 01 */
		{ "\3a b\0", 5, NULL, 0 },		/* space */
		{ "\3a.b\0", 5, NULL, 0 },		/* dot in a label */
		{ "\5ab\0", 4, NULL, 0 },		/* label past the end */
		{ "", 0, NULL, 0 },
	};
	char out[DNS_NAME_BUFSZ];
	size_t i, used;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc = dns_name_from_wire((const unsigned char *)
		    cases[i].wire, cases[i].len, &used, out, sizeof(out));

		if (cases[i].want == NULL) {
			assert_int_equal(rc, -1);
			continue;
		}
		assert_int_equal(rc, 0);
		assert_string_equal(out, cases[i].want);
		assert_int_equal(used, cases[i].used);
	}
}

static void
test_name_from_wire_limits(void **state)
{
	unsigned char w[400];
	char out[DNS_NAME_BUFSZ], small[8];
	size_t i, o = 0, used;

	/* four 63-octet labels: 4 * 64 + 1 = 257 octets, over 255 */
	for (i = 0; i < 4; i++) {
		w[o++] = 63;
		memset(w + o, 'x', 63);
		o += 63;
	}
	w[o++] = 0;
	assert_int_equal(dns_name_from_wire(w, o, &used, out, sizeof(out)),
	    -1);
	/* three labels of 63 and one of 61: exactly 255 octets */
	w[3 * 64] = 61;
	w[3 * 64 + 62] = 0;
	assert_int_equal(dns_name_from_wire(w, 255, &used, out, sizeof(out)),
	    0);
	assert_int_equal(used, 255);
	assert_int_equal(strlen(out), 253);
	/* the output buffer bounds the name too */
	assert_int_equal(dns_name_from_wire((const unsigned char *)
	    "\4abcd\4efgh\0", 11, &used, small, sizeof(small)), -1);
}

static void
test_mx_rdata(void **state)
{
	unsigned pref;
	char name[DNS_NAME_BUFSZ];

	assert_int_equal(dns_mx_rdata_parse((const unsigned char *)
	    "\x01\x02\2mx\0", 6, &pref, name, sizeof(name)), 0);
	assert_int_equal(pref, 258);
	assert_string_equal(name, "mx");
	assert_int_equal(dns_mx_rdata_parse((const unsigned char *)
	    "\0\0\0", 3, &pref, name, sizeof(name)), 0);
	assert_int_equal(pref, 0);
	assert_string_equal(name, "");
	/* too short, trailing bytes, truncated name */
	assert_int_equal(dns_mx_rdata_parse((const unsigned char *)"\0\0", 2,
	    &pref, name, sizeof(name)), -1);
	assert_int_equal(dns_mx_rdata_parse((const unsigned char *)
	    "\0\0\0x", 4, &pref, name, sizeof(name)), -1);
	assert_int_equal(dns_mx_rdata_parse((const unsigned char *)
	    "\0\0\2m", 4, &pref, name, sizeof(name)), -1);
	assert_int_equal(dns_mx_rdata_parse(NULL, 0, &pref, name,
	    sizeof(name)), -1);
}

/* The MX answer cases, one table. */
struct mx_case {
	const char	*name;
	const char	*records;	/* "pref name;pref name" */
	int		 rcode, nxdomain, secure, bogus, timeout;
	enum dns_status	 status;
	const char	*hosts;		/* hosts_str() */
	unsigned	 dots, ignored, truncated;
	int		 implicit;
	enum dns_sec	 sec;
};

static const struct mx_case mx_cases[] = {
	{ "null MX", "0 .", 0, 0, 0, 0, 0, DNS_NULL_MX, "", 0, 0, 0, 0,
	    DNS_SEC_INSECURE },
	{ "null MX, signed", "0 .", 0, 0, 1, 0, 0, DNS_NULL_MX, "", 0, 0, 0,
	    0, DNS_SEC_SECURE },
	{ "lone dot, not preference 0", "10 .", 0, 0, 0, 0, 0,
	    DNS_NO_ADDRESS, "", 1, 0, 0, 0, DNS_SEC_INSECURE },
	{ "dot among others is ignored", "0 .;10 mx.a.test", 0, 0, 0, 0, 0,
	    DNS_PENDING, "mx.a.test/10", 1, 0, 0, 0, DNS_SEC_INSECURE },
	{ "sorted by preference", "30 c.test;10 a.test;20 b.test", 0, 0, 0,
	    0, 0, DNS_PENDING, "a.test/10 b.test/20 c.test/30", 0, 0, 0, 0,
	    DNS_SEC_INSECURE },
	{ "lower-cased", "5 MX.Example.TEST", 0, 0, 0, 0, 0, DNS_PENDING,
	    "mx.example.test/5", 0, 0, 0, 0, DNS_SEC_INSECURE },
	{ "duplicate host keeps its best preference",
	    "20 a.test;10 a.test;15 b.test", 0, 0, 0, 0, 0, DNS_PENDING,
	    "a.test/10 b.test/15", 0, 1, 0, 0, DNS_SEC_INSECURE },
	{ "no MX: implicit MX", "", 0, 0, 0, 0, 0, DNS_PENDING,
	    "dom.test/0", 0, 0, 0, 1, DNS_SEC_INSECURE },
	{ "NXDOMAIN", "", 3, 1, 0, 0, 0, DNS_NXDOMAIN, "", 0, 0, 0, 0,
	    DNS_SEC_INSECURE },
	{ "NXDOMAIN flag only", "", 0, 1, 0, 0, 0, DNS_NXDOMAIN, "", 0, 0, 0,
	    0, DNS_SEC_INSECURE },
	{ "SERVFAIL", "", 2, 0, 0, 0, 0, DNS_SERVFAIL, "", 0, 0, 0, 0,
	    DNS_SEC_INSECURE },
	{ "REFUSED is a server failure", "", 5, 0, 0, 0, 0, DNS_SERVFAIL, "",
	    0, 0, 0, 0, DNS_SEC_INSECURE },
	{ "bogus", "10 a.test", 2, 0, 0, 1, 0, DNS_SERVFAIL, "", 0, 0, 0, 0,
	    DNS_SEC_BOGUS },
	{ "time-out", "", 0, 0, 0, 0, 1, DNS_TIMEOUT, "", 0, 0, 0, 0,
	    DNS_SEC_INSECURE },
};

static void
fill_records(struct answer_buf *b, const char *spec)
{
	char copy[512], *rec, *save = NULL, name[300];
	unsigned pref;

	(void)snprintf(copy, sizeof(copy), "%s", spec);
	for (rec = strtok_r(copy, ";", &save); rec != NULL;
	    rec = strtok_r(NULL, ";", &save)) {
		assert_int_equal(sscanf(rec, "%u %299s", &pref, name), 2);
		add_mx(b, pref, name);
	}
}

static void
test_mx_table(void **state)
{
	size_t i;

	for (i = 0; i < sizeof(mx_cases) / sizeof(mx_cases[0]); i++) {
		const struct mx_case *c = &mx_cases[i];
		struct answer_buf *b = calloc(1, sizeof(*b));
		struct dns_mx_result *r = result_new("dom.test");

		assert_non_null(b);
		fill_records(b, c->records);
		b->a.rcode = c->rcode;
		b->a.nxdomain = c->nxdomain;
		b->a.secure = c->secure;
		b->a.bogus = c->bogus;
		b->a.timeout = c->timeout;
		dns_mx_from_answer(r, &b->a, NULL, NULL);
		print_message("case: %s\n", c->name);
		assert_int_equal(r->status, c->status);
		assert_string_equal(hosts_str(r), c->hosts);
		assert_int_equal(r->dots, c->dots);
		assert_int_equal(r->ignored, c->ignored);
		assert_int_equal(r->truncated, c->truncated);
		assert_int_equal(r->implicit, c->implicit);
		assert_int_equal(r->sec, c->sec);
		free(b);
		free(r);
	}
}

static void
test_mx_malformed_ignored(void **state)
{
	struct answer_buf *b = calloc(1, sizeof(*b));
	struct dns_mx_result *r = result_new("dom.test");

	add_raw(b, "\0\x0a", 2);			/* no name */
	add_raw(b, "\0\x0a\xc0\x0c", 4);		/* compressed */
	add_raw(b, "\0\x0a\2m x\0", 7);		/* label overruns */
	add_mx(b, 20, "good.test");
	dns_mx_from_answer(r, &b->a, NULL, NULL);
	assert_int_equal(r->status, DNS_PENDING);
	assert_int_equal(r->ignored, 3);
	assert_string_equal(hosts_str(r), "good.test/20");
	/* nothing but malformed records: no usable host */
	b->a.n = 3;
	dns_mx_from_answer(r, &b->a, NULL, NULL);
	assert_int_equal(r->status, DNS_NO_ADDRESS);
	assert_int_equal(r->nhosts, 0);
	free(b);
	free(r);
}

/*
 * Equal preferences are shuffled with the RNG (Fisher-Yates within the
 * run) and unequal ones never move across each other.
 */
static void
test_mx_shuffle(void **state)
{
	static const struct {
		unsigned	 v[4];
		size_t		 n;
		const char	*want;
	} cases[] = {
		/* no RNG calls needed for the lone 5 */
		{ { 0, 0 }, 2, "z/5 b/10 c/10 a/10 y/20" },
		{ { 2, 1 }, 2, "z/5 a/10 b/10 c/10 y/20" },
		{ { 1, 0 }, 2, "z/5 c/10 a/10 b/10 y/20" },
		{ { 0, 1, 0 }, 3, "z/5 c/10 b/10 a/10 y/20" },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct answer_buf *b = calloc(1, sizeof(*b));
		struct dns_mx_result *r = result_new("dom.test");
		struct script s = { cases[i].v, cases[i].n, 0 };

		add_mx(b, 10, "a");
		add_mx(b, 20, "y");
		add_mx(b, 10, "b");
		add_mx(b, 5, "z");
		add_mx(b, 10, "c");
		dns_mx_from_answer(r, &b->a, script_rng, &s);
		assert_string_equal(hosts_str(r), cases[i].want);
		free(b);
		free(r);
	}
}

/* Every order of three equal hosts is reachable through the RNG. */
static void
test_mx_shuffle_covers_all(void **state)
{
	static const char *orders[] = { "a/1 b/1 c/1", "a/1 c/1 b/1",
	    "b/1 a/1 c/1", "b/1 c/1 a/1", "c/1 a/1 b/1", "c/1 b/1 a/1" };
	int seen[6] = { 0 };
	unsigned x, y, v[2];
	size_t k;

	for (x = 0; x < 3; x++)
		for (y = 0; y < 2; y++) {
			struct answer_buf *b = calloc(1, sizeof(*b));
			struct dns_mx_result *r = result_new("dom.test");
			struct script s = { v, 2, 0 };

			v[0] = x;
			v[1] = y;
			add_mx(b, 1, "a");
			add_mx(b, 1, "b");
			add_mx(b, 1, "c");
			dns_mx_from_answer(r, &b->a, script_rng, &s);
			for (k = 0; k < 6; k++)
				if (strcmp(hosts_str(r), orders[k]) == 0)
					seen[k]++;
			free(b);
			free(r);
		}
	for (k = 0; k < 6; k++)
		assert_int_equal(seen[k], 1);
}

static void
test_mx_truncated(void **state)
{
	struct answer_buf *b = calloc(1, sizeof(*b));
	struct dns_mx_result *r = result_new("dom.test");
	char name[32];
	size_t i;

	for (i = 0; i < DNS_MX_MAX + 3; i++) {
		(void)snprintf(name, sizeof(name), "mx%zu.test", i);
		add_mx(b, (unsigned)(100 - i), name);
	}
	dns_mx_from_answer(r, &b->a, NULL, NULL);
	assert_int_equal(r->nhosts, DNS_MX_MAX);
	assert_int_equal(r->truncated, 3);
	/* the lowest preferences are the ones kept */
	assert_string_equal(r->hosts[0].name, "mx34.test");
	assert_int_equal(r->hosts[0].pref, 66);
	assert_int_equal(r->hosts[DNS_MX_MAX - 1].pref, 97);
	free(b);
	free(r);
}

static void
test_mx_canon(void **state)
{
	struct answer_buf *b = calloc(1, sizeof(*b));
	struct dns_mx_result *r = result_new("alias.test");

	add_mx(b, 10, "mx.target.test");
	b->a.canon = "Target.TEST.";
	dns_mx_from_answer(r, &b->a, NULL, NULL);
	assert_string_equal(r->canon, "target.test");
	/* a canonical name equal to the question is no alias */
	b->a.canon = "alias.test.";
	dns_mx_from_answer(r, &b->a, NULL, NULL);
	assert_string_equal(r->canon, "");
	free(b);
	free(r);
}

/* MX hosts a (AAAA+A), b (nothing) after "10 a; 20 b". */
static struct dns_mx_result *
two_hosts(void)
{
	struct answer_buf *b = calloc(1, sizeof(*b));
	struct dns_mx_result *r = result_new("dom.test");

	add_mx(b, 10, "a.test");
	add_mx(b, 20, "b.test");
	dns_mx_from_answer(r, &b->a, NULL, NULL);
	assert_int_equal(r->status, DNS_PENDING);
	free(b);
	return r;
}

static void
test_addresses(void **state)
{
	struct dns_mx_result *r = two_hosts();
	struct answer_buf *a4 = calloc(1, sizeof(*a4));
	struct answer_buf *a6 = calloc(1, sizeof(*a6));
	struct dns_answer nx = { .rcode = 3, .nxdomain = 1 };
	char buf[64];

	add_addr(a4, AF_INET, "127.0.0.1");
	add_addr(a4, AF_INET, "192.0.2.7");
	add_raw(a4, "\1\2\3", 3);		/* wrong length: skipped */
	add_addr(a6, AF_INET6, "::1");
	dns_mx_host_answer(&r->hosts[0], AF_INET, &a4->a);
	assert_int_equal(dns_mx_finish(r), 0);
	dns_mx_host_answer(&r->hosts[0], AF_INET6, &a6->a);
	dns_mx_host_answer(&r->hosts[1], AF_INET, &nx);
	assert_int_equal(dns_mx_finish(r), 0);
	dns_mx_host_answer(&r->hosts[1], AF_INET6, &nx);
	assert_int_equal(dns_mx_finish(r), 1);
	assert_int_equal(r->status, DNS_OK);
	assert_int_equal(r->hosts[0].status, DNS_OK);
	assert_int_equal(r->hosts[0].naddrs, 3);
	/* AAAA first, then A, in answer order */
	assert_string_equal(dns_addr_str(&r->hosts[0].addrs[0], buf,
	    sizeof(buf)), "::1");
	assert_string_equal(dns_addr_str(&r->hosts[0].addrs[1], buf,
	    sizeof(buf)), "127.0.0.1");
	assert_string_equal(dns_addr_str(&r->hosts[0].addrs[2], buf,
	    sizeof(buf)), "192.0.2.7");
	assert_int_equal(r->hosts[1].status, DNS_NXDOMAIN);
	assert_int_equal(r->hosts[1].naddrs, 0);
	free(a4);
	free(a6);
	free(r);
}

/* Overall status when no host has an address. */
static void
test_overall_status(void **state)
{
	static const struct {
		struct dns_answer	a4, a6, b4, b6;
		enum dns_status		want;
	} cases[] = {
		{ { .rcode = 3 }, { .rcode = 3 }, { .rcode = 0 },
		    { .rcode = 0 }, DNS_NO_ADDRESS },
		{ { .rcode = 3 }, { .rcode = 3 }, { .rcode = 2 },
		    { .rcode = 0 }, DNS_SERVFAIL },
		{ { .rcode = 2 }, { .timeout = 1 }, { .rcode = 3 },
		    { .rcode = 3 }, DNS_TIMEOUT },
		{ { .rcode = 0 }, { .bogus = 1 }, { .rcode = 0 },
		    { .rcode = 0 }, DNS_SERVFAIL },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct dns_mx_result *r = two_hosts();

		dns_mx_host_answer(&r->hosts[0], AF_INET, &cases[i].a4);
		dns_mx_host_answer(&r->hosts[0], AF_INET6, &cases[i].a6);
		dns_mx_host_answer(&r->hosts[1], AF_INET, &cases[i].b4);
		dns_mx_host_answer(&r->hosts[1], AF_INET6, &cases[i].b6);
		assert_int_equal(dns_mx_finish(r), 1);
		assert_int_equal(r->status, cases[i].want);
		free(r);
	}
}

static void
test_implicit_mx(void **state)
{
	struct dns_mx_result *r = result_new("aonly.test");
	struct dns_answer nodata = { .rcode = 0 };
	struct answer_buf *a4 = calloc(1, sizeof(*a4));

	dns_mx_from_answer(r, &nodata, NULL, NULL);
	assert_int_equal(r->implicit, 1);
	assert_string_equal(hosts_str(r), "aonly.test/0");
	add_addr(a4, AF_INET, "127.0.0.1");
	dns_mx_host_answer(&r->hosts[0], AF_INET, &a4->a);
	dns_mx_host_answer(&r->hosts[0], AF_INET6, &nodata);
	assert_int_equal(dns_mx_finish(r), 1);
	assert_int_equal(r->status, DNS_OK);
	assert_int_equal(r->hosts[0].naddrs, 1);
	/* neither MX nor A nor AAAA: NODATA */
	dns_mx_from_answer(r, &nodata, NULL, NULL);
	dns_mx_host_answer(&r->hosts[0], AF_INET, &nodata);
	dns_mx_host_answer(&r->hosts[0], AF_INET6, &nodata);
	assert_int_equal(dns_mx_finish(r), 1);
	assert_int_equal(r->status, DNS_NODATA);
	free(a4);
	free(r);
}

static void
test_expire(void **state)
{
	struct dns_mx_result *r = two_hosts();
	struct answer_buf *a4 = calloc(1, sizeof(*a4));

	add_addr(a4, AF_INET, "127.0.0.1");
	dns_mx_host_answer(&r->hosts[1], AF_INET, &a4->a);
	dns_mx_expire(r);
	assert_int_equal(dns_mx_finish(r), 1);
	assert_int_equal(r->status, DNS_OK);
	assert_int_equal(r->hosts[0].status, DNS_TIMEOUT);
	assert_int_equal(r->hosts[1].status, DNS_OK);
	free(a4);
	free(r);
}

static void
test_host_sec(void **state)
{
	static const struct {
		int		s4, b4, s6, b6;
		enum dns_sec	want;
	} cases[] = {
		{ 1, 0, 1, 0, DNS_SEC_SECURE },
		{ 1, 0, 0, 0, DNS_SEC_INSECURE },
		{ 0, 0, 1, 0, DNS_SEC_INSECURE },
		{ 1, 0, 0, 1, DNS_SEC_BOGUS },
	};
	struct dns_mx_host h;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct dns_answer a4 = { .secure = cases[i].s4,
		    .bogus = cases[i].b4 };
		struct dns_answer a6 = { .secure = cases[i].s6,
		    .bogus = cases[i].b6 };

		dns_mx_host_init(&h, "h.test", 0);
		dns_mx_host_answer(&h, AF_INET, &a4);
		dns_mx_host_answer(&h, AF_INET6, &a6);
		assert_int_equal(h.sec, cases[i].want);
	}
}

static void
test_trim_self(void **state)
{
	struct answer_buf *b = calloc(1, sizeof(*b));
	struct dns_mx_result *r = result_new("dom.test");

	add_mx(b, 10, "a.test");
	add_mx(b, 20, "me.test");
	add_mx(b, 20, "b.test");
	add_mx(b, 30, "c.test");
	dns_mx_from_answer(r, &b->a, NULL, NULL);
	assert_int_equal(dns_mx_trim_self(r, "other.test"), 0);
	assert_int_equal(r->nhosts, 4);
	assert_int_equal(dns_mx_trim_self(r, "ME.test."), 3);
	assert_string_equal(hosts_str(r), "a.test/10");
	/* we are the best MX: nothing is left */
	assert_int_equal(dns_mx_trim_self(r, "a.test"), 1);
	assert_int_equal(r->nhosts, 0);
	free(b);
	free(r);
}

static void
test_check(void **state)
{
	static const struct {
		const char		*records;
		int			 rcode, timeout, bogus;
		int			 known;
		enum dns_verdict	 verdict;
		enum dns_status		 status;
	} cases[] = {
		{ "0 .", 0, 0, 0, 1, DNS_CHECK_NULL_MX, DNS_NULL_MX },
		{ "10 mx.test", 0, 0, 0, 1, DNS_CHECK_OK, DNS_OK },
		{ "0 .;10 mx.test", 0, 0, 0, 1, DNS_CHECK_OK, DNS_OK },
		{ "10 .", 0, 0, 0, 1, DNS_CHECK_NO_DOMAIN, DNS_NO_ADDRESS },
		{ "", 3, 0, 0, 1, DNS_CHECK_NO_DOMAIN, DNS_NXDOMAIN },
		{ "", 2, 0, 0, 1, DNS_CHECK_TEMPFAIL, DNS_SERVFAIL },
		{ "", 0, 1, 0, 1, DNS_CHECK_TEMPFAIL, DNS_TIMEOUT },
		{ "", 2, 0, 1, 1, DNS_CHECK_TEMPFAIL, DNS_SERVFAIL },
		{ "", 0, 0, 0, 0, 0, 0 },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct answer_buf *b = calloc(1, sizeof(*b));
		struct dns_check_result res;

		memset(&res, 0, sizeof(res));
		fill_records(b, cases[i].records);
		b->a.rcode = cases[i].rcode;
		b->a.timeout = cases[i].timeout;
		b->a.bogus = cases[i].bogus;
		assert_int_equal(dns_check_from_mx(&res, &b->a),
		    cases[i].known);
		if (cases[i].known) {
			assert_int_equal(res.verdict, cases[i].verdict);
			assert_int_equal(res.status, cases[i].status);
		}
		free(b);
	}
}

static void
test_check_addresses(void **state)
{
	struct dns_check_result res;
	struct dns_mx_host h;
	struct dns_answer nodata = { .rcode = 0 }, sf = { .rcode = 2 };
	struct answer_buf *a6 = calloc(1, sizeof(*a6));

	add_addr(a6, AF_INET6, "::1");
	memset(&res, 0, sizeof(res));
	dns_mx_host_init(&h, "d.test", 0);
	dns_mx_host_answer(&h, AF_INET, &nodata);
	dns_mx_host_answer(&h, AF_INET6, &a6->a);
	dns_check_from_host(&res, &h);
	assert_int_equal(res.verdict, DNS_CHECK_OK);

	dns_mx_host_init(&h, "d.test", 0);
	dns_mx_host_answer(&h, AF_INET, &nodata);
	dns_mx_host_answer(&h, AF_INET6, &nodata);
	dns_check_from_host(&res, &h);
	assert_int_equal(res.verdict, DNS_CHECK_NO_DOMAIN);
	assert_int_equal(res.status, DNS_NODATA);

	dns_mx_host_init(&h, "d.test", 0);
	dns_mx_host_answer(&h, AF_INET, &nodata);
	dns_mx_host_answer(&h, AF_INET6, &sf);
	dns_check_from_host(&res, &h);
	assert_int_equal(res.verdict, DNS_CHECK_TEMPFAIL);

	/* an answer still missing at the deadline is a time-out */
	dns_mx_host_init(&h, "d.test", 0);
	dns_mx_host_answer(&h, AF_INET, &nodata);
	dns_check_from_host(&res, &h);
	assert_int_equal(res.verdict, DNS_CHECK_TEMPFAIL);
	assert_int_equal(res.status, DNS_TIMEOUT);
	free(a6);
}

static void
test_strings(void **state)
{
	assert_string_equal(dns_status_str(DNS_NULL_MX), "NULL_MX");
	assert_string_equal(dns_status_str(DNS_NXDOMAIN), "NXDOMAIN");
	assert_string_equal(dns_sec_str(DNS_SEC_BOGUS), "bogus");
	assert_string_equal(dns_verdict_str(DNS_CHECK_TEMPFAIL), "TEMPFAIL");
	assert_true(dns_status_is_permanent(DNS_NULL_MX));
	assert_true(dns_status_is_permanent(DNS_NO_ADDRESS));
	assert_false(dns_status_is_permanent(DNS_SERVFAIL));
	assert_false(dns_status_is_permanent(DNS_TIMEOUT));
	assert_false(dns_status_is_permanent(DNS_OK));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_name_normalize),
		cmocka_unit_test(test_name_from_wire),
		cmocka_unit_test(test_name_from_wire_limits),
		cmocka_unit_test(test_mx_rdata),
		cmocka_unit_test(test_mx_table),
		cmocka_unit_test(test_mx_malformed_ignored),
		cmocka_unit_test(test_mx_shuffle),
		cmocka_unit_test(test_mx_shuffle_covers_all),
		cmocka_unit_test(test_mx_truncated),
		cmocka_unit_test(test_mx_canon),
		cmocka_unit_test(test_addresses),
		cmocka_unit_test(test_overall_status),
		cmocka_unit_test(test_implicit_mx),
		cmocka_unit_test(test_expire),
		cmocka_unit_test(test_host_sec),
		cmocka_unit_test(test_trim_self),
		cmocka_unit_test(test_check),
		cmocka_unit_test(test_check_addresses),
		cmocka_unit_test(test_strings),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
