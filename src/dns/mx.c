/*
 * The pure half of the DNS module: what an answer means for mail.
 * Turns MX, A and AAAA answers (struct dns_answer, a view of a libunbound
 * result) into the delivery target list of RFC 5321 §5.1: MX hosts sorted
 * by preference with equal preferences shuffled, the implicit MX when
 * there are no MX records, the null MX of RFC 7505, and the failure kinds
 * told apart. No I/O, no allocation beyond one bounded index array; owns
 * nothing. Runs in whichever process resolves (delivery, smtp workers, the
 * command line). Every byte of rdata is bounds-checked here; the fuzz
 * target tests/fuzz/dns_answer_fuzz.c drives these functions.
 */
#include "dns/dns.h"

#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#define RCODE_NXDOMAIN 3
#define WIRE_NAME_MAX 255

struct mx_entry {
	unsigned	pref;
	size_t		index;		/* into the answer's records */
};

static int
valid_label_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '-' || c == '_';
}

static char
lower(char c)
{
	return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

int
dns_name_normalize(const char *in, char *out, size_t outsz)
{
	size_t len, i, label = 0;

	len = strlen(in);
	if (len > 0 && in[len - 1] == '.')
		len--;
	if (len == 0 || len > DNS_NAME_MAX || len + 1 > outsz)
		return -1;
	for (i = 0; i < len; i++) {
		if (in[i] == '.') {
			if (label == 0)
				return -1;
			label = 0;
		} else if (!valid_label_char((unsigned char)in[i]) ||
		    ++label > 63)
			return -1;
		out[i] = lower(in[i]);
	}
	if (label == 0)
		return -1;	/* "a.." or "a.b.." */
	out[len] = '\0';
	return 0;
}

int
dns_name_from_wire(const unsigned char *p, size_t len, size_t *used,
    char *out, size_t outsz)
{
	size_t pos = 0, o = 0, lab, i;

	if (outsz == 0)
		return -1;
	for (;;) {
		if (pos >= len || pos >= WIRE_NAME_MAX)
			return -1;
		lab = p[pos++];
		if (lab == 0)
			break;
		if (lab > 63 || lab > len - pos || pos + lab >= WIRE_NAME_MAX)
			return -1;	/* compression pointers too */
		if (o > 0) {
			if (o + 1 >= outsz)
				return -1;
			out[o++] = '.';
		}
		if (o + lab >= outsz)
			return -1;
		for (i = 0; i < lab; i++) {
			if (!valid_label_char(p[pos + i]))
				return -1;
			out[o++] = lower((char)p[pos + i]);
		}
		pos += lab;
	}
	out[o] = '\0';
	*used = pos;
	return 0;
}

int
dns_mx_rdata_parse(const unsigned char *rd, size_t len, unsigned *pref,
    char *name, size_t namesz)
{
	size_t used;

	if (rd == NULL || len < 3)
		return -1;
	*pref = ((unsigned)rd[0] << 8) | rd[1];
	if (dns_name_from_wire(rd + 2, len - 2, &used, name, namesz) == -1)
		return -1;
	return used == len - 2 ? 0 : -1;
}

static enum dns_sec
answer_sec(const struct dns_answer *a)
{
	if (a->bogus)
		return DNS_SEC_BOGUS;
	return a->secure ? DNS_SEC_SECURE : DNS_SEC_INSECURE;
}

static enum dns_sec
weaker_sec(enum dns_sec a, enum dns_sec b)
{
	if (a == DNS_SEC_BOGUS || b == DNS_SEC_BOGUS)
		return DNS_SEC_BOGUS;
	if (a == DNS_SEC_INSECURE || b == DNS_SEC_INSECURE)
		return DNS_SEC_INSECURE;
	return DNS_SEC_SECURE;
}

static const char *
rcode_str(int rcode)
{
	static const char *names[] = { "NOERROR", "FORMERR", "SERVFAIL",
	    "NXDOMAIN", "NOTIMP", "REFUSED", "YXDOMAIN", "YXRRSET",
	    "NXRRSET", "NOTAUTH", "NOTZONE" };

	if (rcode >= 0 && (size_t)rcode < sizeof(names) / sizeof(names[0]))
		return names[rcode];
	return "unknown rcode";
}

/*
 * The failure kinds every answer shares. Returns DNS_PENDING when the
 * answer is a NOERROR one (with or without records), else the status,
 * with the reason in why.
 */
static enum dns_status
answer_failure(const struct dns_answer *a, char *why, size_t whysz)
{
	if (a->timeout) {
		(void)snprintf(why, whysz, "no answer within the time limit");
		return DNS_TIMEOUT;
	}
	if (a->bogus) {
		(void)snprintf(why, whysz, "DNSSEC validation failed: %s",
		    a->why_bogus != NULL ? a->why_bogus : "bogus answer");
		return DNS_SERVFAIL;
	}
	if (a->rcode == RCODE_NXDOMAIN || a->nxdomain)
		return DNS_NXDOMAIN;
	if (a->rcode != 0) {
		(void)snprintf(why, whysz, "the resolver answered %s",
		    rcode_str(a->rcode));
		return DNS_SERVFAIL;
	}
	return DNS_PENDING;
}

static int
is_null_mx(const struct dns_answer *a)
{
	unsigned pref;
	char name[DNS_NAME_BUFSZ];

	if (a->n != 1 || dns_mx_rdata_parse(a->data[0], (size_t)a->len[0],
	    &pref, name, sizeof(name)) == -1)
		return 0;
	return pref == 0 && name[0] == '\0';
}

static int
entry_cmp(const void *x, const void *y)
{
	const struct mx_entry *a = x, *b = y;

	if (a->pref != b->pref)
		return a->pref < b->pref ? -1 : 1;
	return a->index < b->index ? -1 : (a->index > b->index);
}

/* Fisher-Yates within each run of equal preference. */
static void
shuffle_equal(struct mx_entry *e, size_t n, dns_rng_fn rng, void *rngarg)
{
	size_t start = 0, end, i, j;
	struct mx_entry t;

	while (start < n) {
		for (end = start + 1; end < n && e[end].pref == e[start].pref;)
			end++;
		for (i = end - start; i > 1 && rng != NULL; i--) {
			j = rng((unsigned)i, rngarg);
			if (j >= i)
				j = i - 1;
			t = e[start + i - 1];
			e[start + i - 1] = e[start + j];
			e[start + j] = t;
		}
		start = end;
	}
}

static int
host_known(const struct dns_mx_result *res, const char *name)
{
	size_t i;

	for (i = 0; i < res->nhosts; i++)
		if (strcmp(res->hosts[i].name, name) == 0)
			return 1;
	return 0;
}

void
dns_mx_host_init(struct dns_mx_host *h, const char *name, unsigned pref)
{
	memset(h, 0, sizeof(*h));
	(void)snprintf(h->name, sizeof(h->name), "%s", name);
	h->pref = pref;
	h->status = DNS_PENDING;
	h->st4 = DNS_PENDING;
	h->st6 = DNS_PENDING;
	h->sec = DNS_SEC_INSECURE;
}

/* Usable records into e[] (n of them); counts dots and malformed ones. */
static size_t
collect(struct dns_mx_result *res, const struct dns_answer *a,
    struct mx_entry *e)
{
	size_t i, n = 0;
	unsigned pref;
	char name[DNS_NAME_BUFSZ];

	for (i = 0; i < a->n; i++) {
		if (a->data[i] == NULL || a->len[i] < 0 ||
		    dns_mx_rdata_parse(a->data[i], (size_t)a->len[i], &pref,
		    name, sizeof(name)) == -1)
			res->ignored++;
		else if (name[0] == '\0')
			res->dots++;
		else {
			e[n].pref = pref;
			e[n].index = i;
			n++;
		}
	}
	return n;
}

/* Sorted, shuffled, de-duplicated entries into res->hosts. */
static void
fill_hosts(struct dns_mx_result *res, const struct dns_answer *a,
    struct mx_entry *e, size_t n, dns_rng_fn rng, void *rngarg)
{
	size_t i;
	unsigned pref;
	char name[DNS_NAME_BUFSZ];

	qsort(e, n, sizeof(*e), entry_cmp);
	shuffle_equal(e, n, rng, rngarg);
	for (i = 0; i < n; i++) {
		if (dns_mx_rdata_parse(a->data[e[i].index],
		    (size_t)a->len[e[i].index], &pref, name,
		    sizeof(name)) == -1 || host_known(res, name))
			res->ignored++;
		else if (res->nhosts == DNS_MX_MAX)
			res->truncated++;
		else
			dns_mx_host_init(&res->hosts[res->nhosts++], name,
			    pref);
	}
}

static void
mx_records(struct dns_mx_result *res, const struct dns_answer *a,
    dns_rng_fn rng, void *rngarg)
{
	struct mx_entry *e;
	size_t n;

	if (is_null_mx(a)) {
		res->status = DNS_NULL_MX;
		return;
	}
	if ((e = calloc(a->n, sizeof(*e))) == NULL) {
		res->status = DNS_SERVFAIL;
		(void)snprintf(res->why, sizeof(res->why), "out of memory");
		return;
	}
	n = collect(res, a, e);
	fill_hosts(res, a, e, n, rng, rngarg);
	free(e);
	if (res->nhosts == 0) {
		res->status = DNS_NO_ADDRESS;
		(void)snprintf(res->why, sizeof(res->why), "%zu MX record%s, "
		    "none naming a usable host", a->n, a->n == 1 ? "" : "s");
		return;
	}
	res->status = DNS_PENDING;
}

void
dns_mx_from_answer(struct dns_mx_result *res, const struct dns_answer *a,
    dns_rng_fn rng, void *rngarg)
{
	res->nhosts = 0;
	res->implicit = 0;
	res->dots = res->ignored = res->truncated = 0;
	res->why[0] = '\0';
	res->canon[0] = '\0';
	res->sec = answer_sec(a);
	if (a->canon != NULL && dns_name_normalize(a->canon, res->canon,
	    sizeof(res->canon)) == -1)
		res->canon[0] = '\0';
	if (strcmp(res->canon, res->domain) == 0)
		res->canon[0] = '\0';
	res->status = answer_failure(a, res->why, sizeof(res->why));
	if (res->status != DNS_PENDING)
		return;
	if (a->n == 0) {
		res->implicit = 1;
		dns_mx_host_init(&res->hosts[0], res->domain, 0);
		res->nhosts = 1;
		return;
	}
	mx_records(res, a, rng, rngarg);
}

/* Addresses of one family, AAAA before A in h->addrs. */
static size_t
add_addrs(struct dns_mx_host *h, int af, const struct dns_answer *a)
{
	struct dns_addr tmp[DNS_ADDR_FAMILY_MAX];
	size_t i, n = 0, want = af == AF_INET ? 4 : 16;

	for (i = 0; i < a->n && n < DNS_ADDR_FAMILY_MAX; i++) {
		if (a->data[i] == NULL || a->len[i] < 0 ||
		    (size_t)a->len[i] != want)
			continue;
		memset(&tmp[n], 0, sizeof(tmp[n]));
		tmp[n].af = af;
		if (af == AF_INET)
			memcpy(&tmp[n].u.v4, a->data[i], 4);
		else
			memcpy(&tmp[n].u.v6, a->data[i], 16);
		n++;
	}
	if (n == 0 || h->naddrs + n > DNS_HOST_ADDR_MAX)
		return 0;
	if (af == AF_INET6) {
		memmove(&h->addrs[n], &h->addrs[0],
		    h->naddrs * sizeof(h->addrs[0]));
		memcpy(&h->addrs[0], tmp, n * sizeof(tmp[0]));
	} else
		memcpy(&h->addrs[h->naddrs], tmp, n * sizeof(tmp[0]));
	h->naddrs += n;
	return n;
}

void
dns_mx_host_answer(struct dns_mx_host *h, int af,
    const struct dns_answer *a)
{
	enum dns_status st, other;
	char why[DNS_WHY_MAX];

	other = af == AF_INET ? h->st6 : h->st4;
	st = answer_failure(a, why, sizeof(why));
	if (st == DNS_PENDING) {
		if (a->n == 0)
			st = DNS_NODATA;
		else
			st = add_addrs(h, af, a) > 0 ? DNS_OK : DNS_SERVFAIL;
	}
	if (af == AF_INET)
		h->st4 = st;
	else
		h->st6 = st;
	h->sec = other == DNS_PENDING ? answer_sec(a) :
	    weaker_sec(h->sec, answer_sec(a));
}

void
dns_mx_expire(struct dns_mx_result *res)
{
	size_t i;

	if (res->status != DNS_PENDING)
		return;
	for (i = 0; i < res->nhosts; i++) {
		if (res->hosts[i].st4 == DNS_PENDING)
			res->hosts[i].st4 = DNS_TIMEOUT;
		if (res->hosts[i].st6 == DNS_PENDING)
			res->hosts[i].st6 = DNS_TIMEOUT;
	}
}

static enum dns_status
host_status(const struct dns_mx_host *h)
{
	if (h->naddrs > 0)
		return DNS_OK;
	if (h->st4 == DNS_TIMEOUT || h->st6 == DNS_TIMEOUT)
		return DNS_TIMEOUT;
	if (h->st4 == DNS_SERVFAIL || h->st6 == DNS_SERVFAIL)
		return DNS_SERVFAIL;
	if (h->st4 == DNS_NXDOMAIN && h->st6 == DNS_NXDOMAIN)
		return DNS_NXDOMAIN;
	return DNS_NODATA;
}

static enum dns_status
overall_status(const struct dns_mx_result *res)
{
	size_t i;
	int timeout = 0, servfail = 0;

	for (i = 0; i < res->nhosts; i++) {
		if (res->hosts[i].status == DNS_OK)
			return DNS_OK;
		if (res->hosts[i].status == DNS_TIMEOUT)
			timeout = 1;
		if (res->hosts[i].status == DNS_SERVFAIL)
			servfail = 1;
	}
	if (timeout)
		return DNS_TIMEOUT;
	if (servfail)
		return DNS_SERVFAIL;
	if (res->implicit)
		return DNS_NODATA;
	return DNS_NO_ADDRESS;
}

int
dns_mx_finish(struct dns_mx_result *res)
{
	size_t i;

	if (res->status != DNS_PENDING)
		return 1;
	for (i = 0; i < res->nhosts; i++)
		if (res->hosts[i].st4 == DNS_PENDING ||
		    res->hosts[i].st6 == DNS_PENDING)
			return 0;
	for (i = 0; i < res->nhosts; i++)
		res->hosts[i].status = host_status(&res->hosts[i]);
	res->status = overall_status(res);
	if (res->status == DNS_NO_ADDRESS)
		(void)snprintf(res->why, sizeof(res->why), "no MX host has "
		    "an address");
	else if (res->status == DNS_NODATA)
		(void)snprintf(res->why, sizeof(res->why), "no MX, A or "
		    "AAAA records");
	else if (res->status == DNS_TIMEOUT)
		(void)snprintf(res->why, sizeof(res->why), "address lookups "
		    "timed out");
	else if (res->status == DNS_SERVFAIL)
		(void)snprintf(res->why, sizeof(res->why), "address lookups "
		    "failed");
	return 1;
}

size_t
dns_mx_trim_self(struct dns_mx_result *res, const char *myname)
{
	char me[DNS_NAME_BUFSZ];
	size_t i, j, dropped;

	if (dns_name_normalize(myname, me, sizeof(me)) == -1)
		return 0;
	for (i = 0; i < res->nhosts; i++)
		if (strcmp(res->hosts[i].name, me) == 0)
			break;
	if (i == res->nhosts)
		return 0;
	for (j = 0; j < i && res->hosts[j].pref < res->hosts[i].pref; j++)
		continue;
	dropped = res->nhosts - j;
	res->nhosts = j;
	return dropped;
}

int
dns_check_from_mx(struct dns_check_result *res, const struct dns_answer *a)
{
	struct dns_mx_result *mx;

	res->why[0] = '\0';
	res->sec = answer_sec(a);
	res->status = answer_failure(a, res->why, sizeof(res->why));
	if (res->status == DNS_TIMEOUT || res->status == DNS_SERVFAIL) {
		res->verdict = DNS_CHECK_TEMPFAIL;
		return 1;
	}
	if (res->status == DNS_NXDOMAIN) {
		res->verdict = DNS_CHECK_NO_DOMAIN;
		return 1;
	}
	if (a->n == 0)
		return 0;
	if ((mx = calloc(1, sizeof(*mx))) == NULL) {
		res->status = DNS_SERVFAIL;
		res->verdict = DNS_CHECK_TEMPFAIL;
		return 1;
	}
	mx_records(mx, a, NULL, NULL);
	res->status = mx->status == DNS_PENDING ? DNS_OK : mx->status;
	(void)snprintf(res->why, sizeof(res->why), "%s", mx->why);
	free(mx);
	if (res->status == DNS_OK)
		res->verdict = DNS_CHECK_OK;
	else if (res->status == DNS_NULL_MX)
		res->verdict = DNS_CHECK_NULL_MX;
	else if (res->status == DNS_SERVFAIL)
		res->verdict = DNS_CHECK_TEMPFAIL;
	else
		res->verdict = DNS_CHECK_NO_DOMAIN;
	return 1;
}

void
dns_check_from_host(struct dns_check_result *res,
    const struct dns_mx_host *h)
{
	struct dns_mx_host t = *h;

	if (t.st4 == DNS_PENDING)
		t.st4 = DNS_TIMEOUT;
	if (t.st6 == DNS_PENDING)
		t.st6 = DNS_TIMEOUT;
	res->status = host_status(&t);
	res->sec = weaker_sec(res->sec, t.sec);
	if (res->status == DNS_OK) {
		res->verdict = DNS_CHECK_OK;
		return;
	}
	if (res->status == DNS_TIMEOUT || res->status == DNS_SERVFAIL) {
		res->verdict = DNS_CHECK_TEMPFAIL;
		(void)snprintf(res->why, sizeof(res->why), "A/AAAA lookups "
		    "%s", res->status == DNS_TIMEOUT ? "timed out" : "failed");
		return;
	}
	res->status = DNS_NODATA;
	res->verdict = DNS_CHECK_NO_DOMAIN;
	(void)snprintf(res->why, sizeof(res->why), "no MX, A or AAAA "
	    "records");
}

const char *
dns_status_str(enum dns_status st)
{
	switch (st) {
	case DNS_OK: return "OK";
	case DNS_NULL_MX: return "NULL_MX";
	case DNS_NXDOMAIN: return "NXDOMAIN";
	case DNS_NODATA: return "NODATA";
	case DNS_NO_ADDRESS: return "NO_ADDRESS";
	case DNS_SERVFAIL: return "SERVFAIL";
	case DNS_TIMEOUT: return "TIMEOUT";
	case DNS_PENDING: return "PENDING";
	}
	return "?";
}

const char *
dns_sec_str(enum dns_sec sec)
{
	switch (sec) {
	case DNS_SEC_INSECURE: return "insecure";
	case DNS_SEC_SECURE: return "secure";
	case DNS_SEC_BOGUS: return "bogus";
	}
	return "?";
}

const char *
dns_verdict_str(enum dns_verdict v)
{
	switch (v) {
	case DNS_CHECK_OK: return "OK";
	case DNS_CHECK_NULL_MX: return "NULL_MX";
	case DNS_CHECK_NO_DOMAIN: return "NO_DOMAIN";
	case DNS_CHECK_TEMPFAIL: return "TEMPFAIL";
	}
	return "?";
}

int
dns_status_is_permanent(enum dns_status st)
{
	return st == DNS_NULL_MX || st == DNS_NXDOMAIN || st == DNS_NODATA ||
	    st == DNS_NO_ADDRESS;
}

char *
dns_addr_str(const struct dns_addr *a, char *buf, size_t bufsz)
{
	if (inet_ntop(a->af, a->af == AF_INET ? (const void *)&a->u.v4 :
	    (const void *)&a->u.v6, buf, (socklen_t)bufsz) == NULL)
		(void)snprintf(buf, bufsz, "?");
	return buf;
}
