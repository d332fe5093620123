/*
 * Routes for remote delivery (RFC 5321 §5.1, RFC 7505): from the DNS
 * answer for a recipient domain (deliver/remote_dest.c asks) to the list
 * of hosts and addresses to try, in order, at [delivery] remote_port; or
 * to the reply every recipient of that domain gets when there is no
 * route:
 *
 *   null MX                     556 5.1.10  failed, never retried
 *   no such domain (NXDOMAIN)   550 5.1.2   failed
 *   no MX, A or AAAA            550 5.1.2   failed
 *   no MX host has an address   554 5.4.4   failed
 *   only ourselves as best MX   554 5.4.6   failed (a loop)
 *   DNS failure or time-out     451 4.4.3   deferred
 *
 * A smarthost ([delivery] relay) has no MX lookup: its A/AAAA, or the
 * literal address; every failure to find it is temporary (451 4.4.3),
 * because it is ours to fix, not the recipient's. Address literals
 * ("user@[192.0.2.1]", "user@[IPv6:2001:db8::1]") go to that address.
 *
 * Pure: no I/O, no allocation beyond one scratch copy. Runs in the
 * delivery process.
 */
#include "deliver/remote_int.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/xmalloc.h"

void
remote_route_fail(struct remote_route *rt, const char *fmt, ...)
{
	va_list ap;

	memset(rt, 0, sizeof(*rt));
	va_start(ap, fmt);
	(void)vsnprintf(rt->reply, sizeof(rt->reply), fmt, ap);
	va_end(ap);
}

/* Sets ss to the address a (or the text ip) and port; 0, or -1. */
static int
route_sockaddr(struct sockaddr_storage *ss, const struct dns_addr *a,
    unsigned port)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (a->af == AF_INET) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
		sin->sin_addr = a->u.v4;
	} else if (a->af == AF_INET6) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		sin6->sin6_addr = a->u.v6;
	} else
		return -1;
	return 0;
}

/* Appends host h (its addresses) as a target; hosts without any skipped. */
static void
route_add_host(struct remote_route *rt, const struct dns_mx_host *h,
    unsigned port)
{
	struct remote_target *t;
	size_t i;

	if (h->naddrs == 0 || rt->ntargets == DNS_MX_MAX)
		return;
	t = &rt->targets[rt->ntargets];
	memset(t, 0, sizeof(*t));
	(void)snprintf(t->host, sizeof(t->host), "%s", h->name);
	for (i = 0; i < h->naddrs && t->naddrs < DNS_HOST_ADDR_MAX; i++)
		if (route_sockaddr(&t->addrs[t->naddrs], &h->addrs[i],
		    port) == 0)
			t->naddrs++;
	if (t->naddrs > 0)
		rt->ntargets++;
}

/* The reply for a domain without a usable DNS answer. */
static void
route_dns_failure(struct remote_route *rt, const struct dns_mx_result *res)
{
	const char *d = res->domain;

	switch (res->status) {
	case DNS_NULL_MX:
		remote_route_fail(rt, "556 5.1.10 Recipient address has "
		    "null MX");
		break;
	case DNS_NXDOMAIN:
		remote_route_fail(rt, "550 5.1.2 Recipient domain %s does "
		    "not exist", d);
		break;
	case DNS_NODATA:
		remote_route_fail(rt, "550 5.1.2 Recipient domain %s has no "
		    "MX, A or AAAA records", d);
		break;
	case DNS_NO_ADDRESS:
		remote_route_fail(rt, "554 5.4.4 No MX host of %s has an "
		    "address", d);
		break;
	default:
		remote_route_fail(rt, "451 4.4.3 DNS lookup for %s failed "
		    "temporarily: %s", d, res->why[0] != '\0' ? res->why :
		    dns_status_str(res->status));
		break;
	}
}

/*
 * The route of a recipient domain from its MX resolution: the hosts in
 * delivery order with their addresses, after dropping ourselves and
 * every host not better than us (myname, RFC 5321 §5.1).
 */
void
remote_route_from_mx(struct remote_route *rt,
    const struct dns_mx_result *res, unsigned port, const char *myname)
{
	struct dns_mx_result *mx;
	size_t i, dropped;

	if (res->status != DNS_OK) {
		route_dns_failure(rt, res);
		return;
	}
	mx = xmalloc(sizeof(*mx));
	memcpy(mx, res, sizeof(*mx));
	dropped = dns_mx_trim_self(mx, myname);
	memset(rt, 0, sizeof(*rt));
	for (i = 0; i < mx->nhosts; i++)
		route_add_host(rt, &mx->hosts[i], port);
	if (rt->ntargets > 0)
		rt->usable = 1;
	else if (dropped > 0 && mx->nhosts == 0)
		remote_route_fail(rt, "554 5.4.6 Mail for %s loops back to "
		    "myself: %s is its best MX host", res->domain, myname);
	else
		remote_route_fail(rt, "554 5.4.4 No MX host of %s better "
		    "than %s has an address", res->domain, myname);
	free(mx);
}

/* The smarthost's route from its address lookup (dns_lookup_host). */
void
remote_route_relay(struct remote_route *rt,
    const struct dns_mx_result *res, unsigned port)
{
	const char *h = res->domain;

	memset(rt, 0, sizeof(*rt));
	if (res->status == DNS_OK && res->nhosts == 1)
		route_add_host(rt, &res->hosts[0], port);
	if (rt->ntargets > 0) {
		rt->usable = 1;
		return;
	}
	if (res->nhosts == 1 && res->hosts[0].status == DNS_NXDOMAIN)
		remote_route_fail(rt, "451 4.4.3 Relay host %s does not "
		    "exist", h);
	else if (res->status == DNS_NODATA)
		remote_route_fail(rt, "451 4.4.3 Relay host %s has no A or "
		    "AAAA record", h);
	else
		remote_route_fail(rt, "451 4.4.3 DNS lookup for relay host "
		    "%s failed temporarily: %s", h, res->why[0] != '\0' ?
		    res->why : dns_status_str(res->status));
}

/* Parses an IPv4 or IPv6 address text into a; 0, or -1. */
static int
route_parse_ip(const char *s, struct dns_addr *a)
{
	memset(a, 0, sizeof(*a));
	if (inet_pton(AF_INET, s, &a->u.v4) == 1) {
		a->af = AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, s, &a->u.v6) == 1) {
		a->af = AF_INET6;
		return 0;
	}
	return -1;
}

/* A route of one address given as text (a literal); 0, or -1. */
static int
route_one_addr(struct remote_route *rt, const char *name, const char *ip,
    unsigned port)
{
	struct remote_target *t;
	struct dns_addr a;

	memset(rt, 0, sizeof(*rt));
	if (route_parse_ip(ip, &a) == -1)
		return -1;
	t = &rt->targets[0];
	(void)snprintf(t->host, sizeof(t->host), "%s", name);
	t->literal = 1;
	if (route_sockaddr(&t->addrs[0], &a, port) == -1)
		return -1;
	t->naddrs = 1;
	rt->ntargets = 1;
	rt->usable = 1;
	return 0;
}

/*
 * An address literal as the recipient domain: "[192.0.2.1]" or
 * "[IPv6:2001:db8::1]" (RFC 5321 §4.1.3). Returns 0 if domain is not a
 * literal (look it up), 1 with rt filled: the address, or a failure for a
 * literal that is not an address we can connect to.
 */
int
remote_route_literal(struct remote_route *rt, const char *domain,
    unsigned port)
{
	char ip[INET6_ADDRSTRLEN + 8];
	size_t len = strlen(domain);
	const char *p = domain + 1;
	int v6;

	if (len < 3 || domain[0] != '[' || domain[len - 1] != ']')
		return 0;
	len -= 2;		/* inside the brackets */
	v6 = len > 5 && strncasecmp(p, "IPv6:", 5) == 0;
	if (v6) {
		p += 5;
		len -= 5;
	}
	if (len == 0 || len >= sizeof(ip) || (memchr(p, ':', len) != NULL) !=
	    v6) {
		/* IPv6 needs its tag; general literals are not addresses */
		remote_route_fail(rt, "550 5.1.2 Address literal %s is not "
		    "an address this server can deliver to", domain);
		return 1;
	}
	memcpy(ip, p, len);
	ip[len] = '\0';
	if (route_one_addr(rt, domain, ip, port) == -1)
		remote_route_fail(rt, "550 5.1.2 Address literal %s is not "
		    "an address this server can deliver to", domain);
	return 1;
}

/*
 * Splits [delivery] relay ("host:port", "[v6]:port", "host") into host
 * (brackets removed) and port (25 if none). 0, or -1 if malformed.
 */
int
remote_relay_split(const char *relay, char *host, size_t hostsz,
    unsigned *port)
{
	const char *end, *colon;
	size_t hlen;
	char *ep;
	unsigned long p = 25;

	if (relay[0] == '[') {
		if ((end = strchr(relay, ']')) == NULL)
			return -1;
		hlen = (size_t)(end - relay - 1);
		relay++;
		colon = end[1] == ':' ? end + 1 : NULL;
		if (colon == NULL && end[1] != '\0')
			return -1;
	} else {
		colon = strrchr(relay, ':');
		if (colon != NULL && strchr(relay, ':') != colon)
			colon = NULL;	/* a bare IPv6 address */
		hlen = colon != NULL ? (size_t)(colon - relay) : strlen(relay);
	}
	if (colon != NULL) {
		p = strtoul(colon + 1, &ep, 10);
		if (colon[1] == '\0' || *ep != '\0' || p == 0 || p > 65535)
			return -1;
	}
	if (hlen == 0 || hlen >= hostsz)
		return -1;
	memcpy(host, relay, hlen);
	host[hlen] = '\0';
	*port = (unsigned)p;
	return 0;
}

/*
 * The smarthost's route when its host is an IP address: 1 with rt set;
 * 0 if it is a name to look up.
 */
int
remote_route_relay_literal(struct remote_route *rt, const char *host,
    unsigned port)
{
	char name[DNS_NAME_BUFSZ];

	(void)snprintf(name, sizeof(name), strchr(host, ':') != NULL ?
	    "[%s]" : "%s", host);
	return route_one_addr(rt, name, host, port) == 0;
}
