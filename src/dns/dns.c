/*
 * The asynchronous half of the DNS module: libunbound on a libevent loop.
 * ub_fd() is watched for readability and ub_process() delivers answers to
 * per-record-type callbacks, which feed the pure logic of mx.c. A lookup
 * (struct dns_query) is one MX query, then the A and AAAA queries of its
 * hosts; a deadline timer bounds the whole, and the caller's callback runs
 * from a deferred event, never from inside ub_process() or a dns_* call.
 *
 * Owns: struct dns (the unbound context, its fd event, the list of
 * pending queries) and each struct dns_query (its timers and result).
 * Runs in any process with an event loop: the smtp workers (policy
 * checks), the delivery process (MX resolution), the command line.
 */
#include "dns/dns.h"

#include <sys/queue.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <unbound.h>

#include "conf/conf.h"
#include "util/log.h"
#include "util/xmalloc.h"

#define RR_A 1
#define RR_MX 15
#define RR_AAAA 28
#define CLASS_IN 1
#define QUERY_SUBS (1 + 2 * DNS_MX_MAX)

enum query_kind { QUERY_MX, QUERY_CHECK };

/* One libunbound query inside a lookup. */
struct dns_sub {
	struct dns_query	*q;
	int			 id;	/* libunbound async id */
	int			 active;
	int			 rrtype;
	size_t			 host;	/* index into the result's hosts */
};

struct dns_query {
	TAILQ_ENTRY(dns_query)	 entry;
	struct dns		*dns;
	enum query_kind		 kind;
	dns_mx_cb		 mx_cb;
	dns_check_cb		 check_cb;
	void			*arg;
	struct event		*deadline;
	struct event		*done;	/* deferred completion */
	struct dns_mx_result	*mx;	/* QUERY_MX; owned */
	struct dns_check_result	 check;	/* QUERY_CHECK */
	struct dns_mx_host	 check_host;	/* its A/AAAA after NODATA */
	struct dns_sub		 subs[QUERY_SUBS];
	size_t			 nsubs;
	unsigned		 pending;	/* active subs */
	int			 delivering;	/* in the caller's callback */
};

struct dns {
	struct event_base	*base;
	struct ub_ctx		*ub;
	struct event		*ev;
	unsigned		 timeout;
	dns_rng_fn		 rng;
	void			*rngarg;
	TAILQ_HEAD(, dns_query)	 queries;
};

static void query_finish(struct dns_query *q);

static unsigned
default_rng(unsigned n, void *arg)
{
	return arc4random_uniform(n);
}

/* "host:port", "[v6]:port" or a bare address -> unbound's "ip@port". */
static int
forwarder_spec(const char *s, char *out, size_t outsz)
{
	char host[INET6_ADDRSTRLEN + 1];
	unsigned char buf[sizeof(struct in6_addr)];
	const char *port = NULL, *end;
	size_t hlen;

	if (s[0] == '[') {
		if ((end = strchr(s, ']')) == NULL)
			return -1;
		hlen = (size_t)(end - s - 1);
		s++;
		if (end[1] == ':')
			port = end + 2;
		else if (end[1] != '\0')
			return -1;
	} else if ((end = strchr(s, ':')) != NULL && strchr(end + 1, ':') ==
	    NULL) {
		hlen = (size_t)(end - s);
		port = end + 1;
	} else
		hlen = strlen(s);
	if (hlen == 0 || hlen >= sizeof(host))
		return -1;
	memcpy(host, s, hlen);
	host[hlen] = '\0';
	if (inet_pton(AF_INET, host, buf) != 1 &&
	    inet_pton(AF_INET6, host, buf) != 1)
		return -1;
	if (port != NULL && (port[0] == '\0' || strspn(port, "0123456789") !=
	    strlen(port) || atoi(port) < 1 || atoi(port) > 65535))
		return -1;
	if (snprintf(out, outsz, "%s@%s", host, port != NULL ? port : "53") >=
	    (int)outsz)
		return -1;
	return 0;
}

/* Forwarder or resolv.conf, and DNSSEC validation when configured. */
static int
ub_setup(struct ub_ctx *ub, const struct conf *conf, char *why,
    size_t whysz)
{
	char fwd[INET6_ADDRSTRLEN + 16];
	const char *dns = conf != NULL ? conf->dns : NULL;
	const char *ta = conf != NULL ? conf->trust_anchor : NULL;
	int r;

	/*
	 * A stub, not a policy resolver: ask the configured resolver about
	 * test. names too (RFC 6761 §6.2) instead of libunbound's built-in
	 * NXDOMAIN, and allow a resolver on loopback.
	 */
	if ((r = ub_ctx_async(ub, 1)) != 0 ||
	    (r = ub_ctx_set_option(ub, "do-not-query-localhost:", "no")) != 0 ||
	    (r = ub_ctx_set_option(ub, "local-zone:",
	    "test. transparent")) != 0)
		goto fail;
	if (dns != NULL && dns[0] != '\0') {
		if (forwarder_spec(dns, fwd, sizeof(fwd)) == -1) {
			(void)snprintf(why, whysz, "dns = %s: not an IP "
			    "address with an optional :port", dns);
			return -1;
		}
		if ((r = ub_ctx_set_fwd(ub, fwd)) != 0)
			goto fail;
	} else if ((r = ub_ctx_resolvconf(ub, NULL)) != 0)
		goto fail;
	if (ta != NULL && ta[0] != '\0') {
		if ((r = ub_ctx_add_ta_file(ub, ta)) != 0) {
			(void)snprintf(why, whysz, "trust_anchor %s: %s", ta,
			    ub_strerror(r));
			return -1;
		}
	} else if ((r = ub_ctx_set_option(ub, "module-config:",
	    "iterator")) != 0)
		goto fail;
	return 0;
fail:
	(void)snprintf(why, whysz, "resolver setup: %s", ub_strerror(r));
	return -1;
}

static void
dns_readable(evutil_socket_t fd, short what, void *arg)
{
	struct dns *dns = arg;
	int r;

	if ((r = ub_process(dns->ub)) != 0)
		log_warnx("dns event=process-failed error=\"%s\"",
		    ub_strerror(r));
}

struct dns *
dns_new(struct event_base *base, const struct conf *conf, char *why,
    size_t whysz)
{
	struct dns *dns;

	dns = xcalloc(1, sizeof(*dns));
	dns->base = base;
	dns->timeout = DNS_TIMEOUT_DEFAULT;
	dns->rng = default_rng;
	TAILQ_INIT(&dns->queries);
	if ((dns->ub = ub_ctx_create()) == NULL) {
		(void)snprintf(why, whysz, "cannot create a resolver context");
		goto fail;
	}
	if (ub_setup(dns->ub, conf, why, whysz) == -1)
		goto fail;
	dns->ev = event_new(base, ub_fd(dns->ub), EV_READ | EV_PERSIST,
	    dns_readable, dns);
	if (dns->ev == NULL || event_add(dns->ev, NULL) == -1) {
		(void)snprintf(why, whysz, "cannot watch the resolver");
		goto fail;
	}
	return dns;
fail:
	dns_free(dns);
	return NULL;
}

void
dns_free(struct dns *dns)
{
	struct dns_query *q;

	if (dns == NULL)
		return;
	while ((q = TAILQ_FIRST(&dns->queries)) != NULL) {
		q->delivering = 0;	/* a misuse must not loop forever */
		dns_cancel(q);
	}
	if (dns->ev != NULL)
		event_free(dns->ev);
	if (dns->ub != NULL)
		ub_ctx_delete(dns->ub);
	free(dns);
}

void
dns_set_timeout(struct dns *dns, unsigned seconds)
{
	dns->timeout = seconds > 0 ? seconds : DNS_TIMEOUT_DEFAULT;
}

void
dns_set_rng(struct dns *dns, dns_rng_fn rng, void *arg)
{
	dns->rng = rng != NULL ? rng : default_rng;
	dns->rngarg = arg;
}

/* Cancels the libunbound queries still running. */
static void
query_stop_subs(struct dns_query *q)
{
	size_t i;

	for (i = 0; i < q->nsubs; i++)
		if (q->subs[i].active) {
			(void)ub_cancel(q->dns->ub, q->subs[i].id);
			q->subs[i].active = 0;
		}
	q->pending = 0;
}

void
dns_cancel(struct dns_query *q)
{
	if (q == NULL || q->delivering)
		return;		/* query_deliver() frees it afterwards */
	query_stop_subs(q);
	TAILQ_REMOVE(&q->dns->queries, q, entry);
	if (q->deadline != NULL)
		event_free(q->deadline);
	if (q->done != NULL)
		event_free(q->done);
	free(q->mx);
	free(q);
}

static void
answer_view(struct dns_answer *a, int err, const struct ub_result *r)
{
	memset(a, 0, sizeof(*a));
	if (err != 0 || r == NULL) {
		a->rcode = 2;	/* SERVFAIL */
		return;
	}
	a->rcode = r->rcode;
	a->nxdomain = r->nxdomain;
	a->secure = r->secure;
	a->bogus = r->bogus;
	a->canon = r->canonname;
	a->why_bogus = r->why_bogus;
	if (r->havedata && r->data != NULL) {
		a->data = (const unsigned char *const *)r->data;
		a->len = r->len;
		while (r->data[a->n] != NULL)
			a->n++;
	}
}

static void sub_answer(void *arg, int err, struct ub_result *r);

/* Starts one libunbound query; 0, or -1 if libunbound refused it. */
static int
sub_start(struct dns_query *q, const char *name, int rrtype, size_t host)
{
	struct dns_sub *s;
	int r;

	if (q->nsubs == QUERY_SUBS)
		return -1;
	s = &q->subs[q->nsubs];
	memset(s, 0, sizeof(*s));
	s->q = q;
	s->rrtype = rrtype;
	s->host = host;
	r = ub_resolve_async(q->dns->ub, name, rrtype, CLASS_IN, s,
	    sub_answer, &s->id);
	if (r != 0) {
		log_warnx("dns name=%s type=%d event=query-failed "
		    "error=\"%s\"", name, rrtype, ub_strerror(r));
		return -1;
	}
	q->nsubs++;
	s->active = 1;
	q->pending++;
	return 0;
}

/* Starts the A and AAAA queries of every host of the MX result. */
static void
mx_start_hosts(struct dns_query *q)
{
	static const struct dns_answer failed = { .rcode = 2 };
	struct dns_mx_host *h;
	size_t i;

	for (i = 0; i < q->mx->nhosts; i++) {
		h = &q->mx->hosts[i];
		if (sub_start(q, h->name, RR_AAAA, i) == -1)
			dns_mx_host_answer(h, AF_INET6, &failed);
		if (sub_start(q, h->name, RR_A, i) == -1)
			dns_mx_host_answer(h, AF_INET, &failed);
	}
}

static void
mx_got_mx(struct dns_query *q, const struct dns_answer *a)
{
	struct dns_mx_result *mx = q->mx;

	dns_mx_from_answer(mx, a, q->dns->rng, q->dns->rngarg);
	if (mx->dots > 0)	/* the remote domain's problem: info */
		log_info("dns domain=%s event=misconfigured-null-mx "
		    "detail=\"MX 0 . among %zu other MX records; ignored\"",
		    mx->domain, a->n - mx->dots);
	if (mx->ignored > 0)
		log_info("dns domain=%s event=mx-records-ignored count=%u",
		    mx->domain, mx->ignored);
	if (mx->status == DNS_PENDING)
		mx_start_hosts(q);
}

static void
check_got_mx(struct dns_query *q, const struct dns_answer *a)
{
	if (dns_check_from_mx(&q->check, a))
		return;
	dns_mx_host_init(&q->check_host, q->check.domain, 0);
	if (sub_start(q, q->check.domain, RR_AAAA, 0) == -1)
		q->check_host.st6 = DNS_SERVFAIL;
	if (sub_start(q, q->check.domain, RR_A, 0) == -1)
		q->check_host.st4 = DNS_SERVFAIL;
	if (q->pending == 0)
		dns_check_from_host(&q->check, &q->check_host);
}

static void
sub_got(struct dns_sub *s, const struct dns_answer *a)
{
	struct dns_query *q = s->q;
	int af = s->rrtype == RR_A ? AF_INET : AF_INET6;

	if (s->rrtype == RR_MX) {
		if (q->kind == QUERY_MX)
			mx_got_mx(q, a);
		else
			check_got_mx(q, a);
	} else if (q->kind == QUERY_MX)
		dns_mx_host_answer(&q->mx->hosts[s->host], af, a);
	else {
		dns_mx_host_answer(&q->check_host, af, a);
		if (q->pending == 0)
			dns_check_from_host(&q->check, &q->check_host);
	}
}

static void
sub_answer(void *arg, int err, struct ub_result *r)
{
	struct dns_sub *s = arg;
	struct dns_query *q = s->q;
	struct dns_answer a;

	s->active = 0;
	q->pending--;
	answer_view(&a, err, r);
	if (err != 0)
		log_warnx("dns name=%s event=resolve-error error=\"%s\"",
		    r != NULL ? r->qname : "?", ub_strerror(err));
	sub_got(s, &a);
	if (r != NULL)
		ub_resolve_free(r);
	if (q->pending == 0)
		query_finish(q);
}

static void
query_deadline(evutil_socket_t fd, short what, void *arg)
{
	static const struct dns_answer timeout = { .timeout = 1 };
	struct dns_query *q = arg;
	int mx_pending = q->nsubs > 0 && q->subs[0].active &&
	    q->subs[0].rrtype == RR_MX;

	query_stop_subs(q);
	if (q->kind == QUERY_MX) {
		if (mx_pending)
			dns_mx_from_answer(q->mx, &timeout, NULL, NULL);
		dns_mx_expire(q->mx);
	} else if (mx_pending)
		(void)dns_check_from_mx(&q->check, &timeout);
	else
		dns_check_from_host(&q->check, &q->check_host);
	log_info("dns domain=%s event=timeout seconds=%u",
	    q->kind == QUERY_MX ? q->mx->domain : q->check.domain,
	    q->dns->timeout);
	query_finish(q);
}

static void
query_deliver(evutil_socket_t fd, short what, void *arg)
{
	struct dns_query *q = arg;

	q->delivering = 1;
	if (q->kind == QUERY_MX)
		q->mx_cb(q->mx, q->arg);
	else
		q->check_cb(&q->check, q->arg);
	q->delivering = 0;
	dns_cancel(q);
}

/* All answers are in (or the deadline passed): report on the next turn. */
static void
query_finish(struct dns_query *q)
{
	if (q->kind == QUERY_MX)
		(void)dns_mx_finish(q->mx);
	if (q->deadline != NULL)
		event_del(q->deadline);
	event_active(q->done, 0, 0);
}

/* No MX query: the name's own addresses, as for an implicit MX. */
static int
query_start_host(struct dns_query *q, const char *name)
{
	q->mx->implicit = 1;
	q->mx->nhosts = 1;
	q->mx->status = DNS_PENDING;
	dns_mx_host_init(&q->mx->hosts[0], name, 0);
	mx_start_hosts(q);
	return q->pending == 0 ? -1 : 0;
}

static struct dns_query *
query_new(struct dns *dns, enum query_kind kind, const char *domain,
    int host_only, char *why, size_t whysz)
{
	struct dns_query *q;
	struct timeval tv = { dns->timeout, 0 };
	char name[DNS_NAME_BUFSZ];

	if (dns_name_normalize(domain, name, sizeof(name)) == -1) {
		(void)snprintf(why, whysz, "not a domain name that can be "
		    "looked up");
		errno = EINVAL;
		return NULL;
	}
	q = xcalloc(1, sizeof(*q));
	q->dns = dns;
	q->kind = kind;
	TAILQ_INSERT_TAIL(&dns->queries, q, entry);
	if (kind == QUERY_MX) {
		q->mx = xcalloc(1, sizeof(*q->mx));
		memcpy(q->mx->domain, name, sizeof(name));
	} else
		memcpy(q->check.domain, name, sizeof(name));
	q->deadline = evtimer_new(dns->base, query_deadline, q);
	q->done = event_new(dns->base, -1, 0, query_deliver, q);
	if (q->deadline == NULL || q->done == NULL ||
	    evtimer_add(q->deadline, &tv) == -1 ||
	    (host_only ? query_start_host(q, name) :
	    sub_start(q, name, RR_MX, 0)) == -1) {
		(void)snprintf(why, whysz, "cannot start the DNS query");
		dns_cancel(q);
		errno = EIO;
		return NULL;
	}
	return q;
}

/* A delivery route: the MX set of a domain, or host_only one host. */
static struct dns_query *
lookup_route(struct dns *dns, const char *name, int host_only, dns_mx_cb cb,
    void *arg, char *why, size_t whysz)
{
	struct dns_query *q;

	if ((q = query_new(dns, QUERY_MX, name, host_only, why, whysz)) ==
	    NULL)
		return NULL;
	q->mx_cb = cb;
	q->arg = arg;
	return q;
}

struct dns_query *
dns_lookup_mx(struct dns *dns, const char *domain, dns_mx_cb cb, void *arg,
    char *why, size_t whysz)
{
	return lookup_route(dns, domain, 0, cb, arg, why, whysz);
}

struct dns_query *
dns_lookup_host(struct dns *dns, const char *host, dns_mx_cb cb, void *arg,
    char *why, size_t whysz)
{
	return lookup_route(dns, host, 1, cb, arg, why, whysz);
}

struct dns_query *
dns_check_domain(struct dns *dns, const char *domain, dns_check_cb cb,
    void *arg, char *why, size_t whysz)
{
	struct dns_query *q;

	if ((q = query_new(dns, QUERY_CHECK, domain, 0, why, whysz)) == NULL)
		return NULL;
	q->check_cb = cb;
	q->arg = arg;
	return q;
}
