/*
 * libFuzzer: DNS answers as the resolver hands them over (src/dns/mx.c).
 * Input: one flags byte (bits 0-3 rcode, 4 nxdomain, 5 secure, 6 bogus,
 * 7 time-out), then records, each a 2-byte big-endian length and that many
 * bytes of rdata. The first half of the records is the MX answer, the rest
 * feeds the A/AAAA answers of the hosts. Each record sits in its own
 * allocation of exactly its length, so any overread is caught. Invariants
 * checked: the host list is sorted by preference, bounded, and every name
 * in it is a valid domain name.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sys/socket.h>

#include "dns/dns.h"

#define FUZZ_MAXREC 256

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct records {
	unsigned char	*rd[FUZZ_MAXREC];
	const unsigned char *ptr[FUZZ_MAXREC];
	int		 len[FUZZ_MAXREC];
	size_t		 n;
};

static unsigned
fuzz_rng(unsigned n, void *arg)
{
	unsigned *state = arg;

	*state = *state * 1103515245u + 12345u;
	return (*state >> 16) % n;
}

static void
split(struct records *r, const uint8_t *p, size_t size)
{
	size_t pos = 0, len;

	while (r->n < FUZZ_MAXREC && size - pos >= 2) {
		len = ((size_t)p[pos] << 8) | p[pos + 1];
		pos += 2;
		if (len > size - pos)
			len = size - pos;
		r->rd[r->n] = malloc(len > 0 ? len : 1);
		if (r->rd[r->n] == NULL)
			break;
		memcpy(r->rd[r->n], p + pos, len);
		r->ptr[r->n] = r->rd[r->n];
		r->len[r->n] = (int)len;
		r->n++;
		pos += len;
	}
}

static void
view(struct dns_answer *a, uint8_t flags, const struct records *r,
    size_t from, size_t n)
{
	memset(a, 0, sizeof(*a));
	a->rcode = flags & 0x0f;
	a->nxdomain = (flags >> 4) & 1;
	a->secure = (flags >> 5) & 1;
	a->bogus = (flags >> 6) & 1;
	a->timeout = (flags >> 7) & 1;
	a->data = r->ptr + from;
	a->len = r->len + from;
	a->n = n;
}

static void
check_result(const struct dns_mx_result *res)
{
	char norm[DNS_NAME_BUFSZ];
	size_t i;

	if (res->nhosts > DNS_MX_MAX)
		abort();
	for (i = 0; i < res->nhosts; i++) {
		if (i > 0 && res->hosts[i].pref < res->hosts[i - 1].pref)
			abort();
		if (res->hosts[i].naddrs > DNS_HOST_ADDR_MAX)
			abort();
		if (dns_name_normalize(res->hosts[i].name, norm,
		    sizeof(norm)) == -1 || strcmp(norm, res->hosts[i].name))
			abort();
	}
}

static void
feed_hosts(struct dns_mx_result *res, uint8_t flags,
    const struct records *r, size_t from)
{
	struct dns_answer a;
	size_t i, per;

	per = res->nhosts > 0 ? (r->n - from) / (2 * res->nhosts) : 0;
	for (i = 0; i < res->nhosts; i++) {
		view(&a, (uint8_t)(flags ^ (i & 0x0f)), r, from + 2 * i * per,
		    per);
		dns_mx_host_answer(&res->hosts[i], AF_INET, &a);
		view(&a, flags, r, from + (2 * i + 1) * per, per);
		if (i % 3 != 2)	/* some left to the deadline */
			dns_mx_host_answer(&res->hosts[i], AF_INET6, &a);
	}
	dns_mx_expire(res);
	if (!dns_mx_finish(res))
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct dns_mx_result res;
	struct dns_check_result check;
	struct records r;
	struct dns_answer a;
	unsigned seed = (unsigned)size;
	size_t i, used, half;
	char name[DNS_NAME_BUFSZ];

	if (size < 1)
		return 0;
	(void)dns_name_from_wire(data, size, &used, name, sizeof(name));
	memset(&r, 0, sizeof(r));
	split(&r, data + 1, size - 1);
	half = (r.n + 1) / 2;
	view(&a, data[0], &r, 0, half);
	memset(&res, 0, sizeof(res));
	memcpy(res.domain, "fuzz.test", sizeof("fuzz.test"));
	dns_mx_from_answer(&res, &a, fuzz_rng, &seed);
	check_result(&res);
	if (res.status == DNS_PENDING)
		feed_hosts(&res, data[0], &r, half);
	check_result(&res);
	if (res.nhosts > 0)
		(void)dns_mx_trim_self(&res, res.hosts[res.nhosts / 2].name);
	memset(&check, 0, sizeof(check));
	if (dns_check_from_mx(&check, &a) == 0) {
		struct dns_mx_host h;

		dns_mx_host_init(&h, "fuzz.test", 0);
		dns_check_from_host(&check, &h);
	}
	for (i = 0; i < r.n; i++)
		free(r.rd[i]);
	return 0;
}
