/*
 * DNS for mail: the MX resolution of RFC 5321 §5.1 with the null MX of
 * RFC 7505, and a cheaper "does this domain accept mail" check for the
 * server's MAIL/RCPT policy. Asynchronous over libunbound, whose file
 * descriptor sits on the caller's libevent loop; a synchronous wrapper runs
 * a private loop for the command line.
 *
 * Everything DNS goes through this header, so a test may link its own
 * implementation of the dns_new()...dns_cancel() group instead of dns.c
 * (those functions live in dns.c and nowhere else). The pure answer logic
 * (dns_mx_*, dns_check_*, dns_name_*) lives in mx.c and needs no network.
 *
 * Answers are cached by libunbound for their TTL; nothing here caches.
 */
#ifndef POSTERN_DNS_H
#define POSTERN_DNS_H

#include <stddef.h>
#include <netinet/in.h>

#define DNS_NAME_MAX 253	/* presentation form, no trailing dot */
#define DNS_NAME_BUFSZ (DNS_NAME_MAX + 3)
#define DNS_MX_MAX 32		/* MX hosts kept, lowest preferences first */
#define DNS_ADDR_FAMILY_MAX 4	/* addresses kept per host and family */
#define DNS_HOST_ADDR_MAX (2 * DNS_ADDR_FAMILY_MAX)
#define DNS_TIMEOUT_DEFAULT 30	/* seconds for one whole lookup */
#define DNS_WHY_MAX 160

/* Outcome of a lookup, or of one MX host's address lookups. */
enum dns_status {
	DNS_OK,			/* at least one usable address */
	DNS_NULL_MX,		/* RFC 7505: the domain accepts no mail */
	DNS_NXDOMAIN,		/* the name does not exist */
	DNS_NODATA,		/* it exists, but no MX and no A/AAAA */
	DNS_NO_ADDRESS,		/* MX records, but no MX host has an address */
	DNS_SERVFAIL,		/* server failure, refusal, bogus DNSSEC */
	DNS_TIMEOUT,		/* no answer within the time limit */
	DNS_PENDING		/* internal: not answered yet */
};

/* DNSSEC state of an answer (insecure whenever validation is off). */
enum dns_sec { DNS_SEC_INSECURE, DNS_SEC_SECURE, DNS_SEC_BOGUS };

struct dns_addr {
	int	af;		/* AF_INET or AF_INET6 */
	union {
		struct in_addr	v4;
		struct in6_addr	v6;
	} u;
};

struct dns_mx_host {
	char		 name[DNS_NAME_BUFSZ];	/* lower case, no final dot */
	unsigned	 pref;
	enum dns_status	 status;	/* of its A and AAAA lookups */
	enum dns_sec	 sec;		/* weakest of its A and AAAA answers */
	struct dns_addr	 addrs[DNS_HOST_ADDR_MAX];	/* AAAA first, then A */
	size_t		 naddrs;
	/* internal: per-family results while the lookup runs */
	enum dns_status	 st4, st6;
};

/*
 * The delivery target list. A flat struct (no pointers): copy it with
 * memcpy or struct assignment.
 */
struct dns_mx_result {
	char		 domain[DNS_NAME_BUFSZ];	/* as asked, lowered */
	char		 canon[DNS_NAME_BUFSZ];	/* CNAME target, "" if none */
	enum dns_status	 status;
	enum dns_sec	 sec;		/* of the MX answer */
	int		 implicit;	/* no MX: hosts[0] is the domain */
	unsigned	 dots;		/* "." records ignored: a null MX mixed
					   with other records (misconfigured) */
	unsigned	 ignored;	/* malformed or duplicate MX records */
	unsigned	 truncated;	/* MX hosts beyond DNS_MX_MAX dropped */
	struct dns_mx_host hosts[DNS_MX_MAX];	/* delivery order */
	size_t		 nhosts;
	char		 why[DNS_WHY_MAX];	/* detail for failures, or "" */
};

/* The cheap policy check: see dns_check_domain(). */
enum dns_verdict {
	DNS_CHECK_OK,		/* MX hosts, or an A/AAAA (implicit MX) */
	DNS_CHECK_NULL_MX,	/* RFC 7505 null MX */
	DNS_CHECK_NO_DOMAIN,	/* NXDOMAIN, or neither MX nor A/AAAA */
	DNS_CHECK_TEMPFAIL	/* SERVFAIL, bogus or time-out: try later */
};

struct dns_check_result {
	char		 domain[DNS_NAME_BUFSZ];
	enum dns_verdict verdict;
	enum dns_status	 status;	/* the DNS outcome behind the verdict */
	enum dns_sec	 sec;
	char		 why[DNS_WHY_MAX];
};

/*
 * One DNS answer as the pure logic sees it: a view of a libunbound result
 * (or of test data). data[i] is the rdata of record i, len[i] bytes, with
 * names uncompressed.
 */
struct dns_answer {
	int			 rcode;		/* 0 NOERROR, 3 NXDOMAIN... */
	int			 nxdomain;
	int			 secure;
	int			 bogus;
	int			 timeout;	/* no answer came */
	const unsigned char *const *data;
	const int		*len;
	size_t			 n;
	const char		*canon;		/* final CNAME target or NULL */
	const char		*why_bogus;
};

/* Returns a number uniformly in [0, n), n > 0. Tests inject their own. */
typedef unsigned (*dns_rng_fn)(unsigned n, void *arg);

struct event_base;
struct conf;
struct dns;
struct dns_query;

typedef void (*dns_mx_cb)(const struct dns_mx_result *res, void *arg);
typedef void (*dns_check_cb)(const struct dns_check_result *res, void *arg);

/*
 * Creates a resolver on base. conf->dns ("host:port", "[v6]:port" or a
 * bare address) names a forwarder; otherwise /etc/resolv.conf is used.
 * conf->trust_anchor, when set, is a root key file and turns on DNSSEC
 * validation. conf may be NULL (system resolver, no validation). Returns
 * NULL with a reason in why.
 */
struct dns *dns_new(struct event_base *base, const struct conf *conf,
    char *why, size_t whysz);

/*
 * Cancels every pending query (their callbacks are not called) and frees
 * the resolver. Must not be called from inside a dns callback. NULL: no-op.
 */
void dns_free(struct dns *dns);

/* Time limit, in seconds, for lookups started afterwards (default 30). */
void dns_set_timeout(struct dns *dns, unsigned seconds);

/* Replaces the random source used to order equal MX preferences. */
void dns_set_rng(struct dns *dns, dns_rng_fn rng, void *arg);

/*
 * Starts the full MX resolution of domain (a trailing dot is allowed):
 * the MX records sorted by preference with equal preferences shuffled,
 * each host with its AAAA and A addresses; or the implicit MX; or null MX,
 * NXDOMAIN, NODATA, SERVFAIL, TIMEOUT. cb runs exactly once, later, from
 * the event loop (never from inside this call); res is valid only during
 * the call. Returns a handle for dns_cancel(), or NULL (errno EINVAL for
 * a name that is not a valid domain, ENOMEM or EIO otherwise) with a
 * reason in why.
 */
struct dns_query *dns_lookup_mx(struct dns *dns, const char *domain,
    dns_mx_cb cb, void *arg, char *why, size_t whysz);

/*
 * The addresses of one host, without MX (a smarthost): res has one host,
 * hosts[0] = host, implicit set, and the status of an implicit MX (DNS_OK,
 * NODATA, TIMEOUT, SERVFAIL); hosts[0].status is DNS_NXDOMAIN when the
 * name does not exist. Same calling rules as dns_lookup_mx().
 */
struct dns_query *dns_lookup_host(struct dns *dns, const char *host,
    dns_mx_cb cb, void *arg, char *why, size_t whysz);

/*
 * The policy check: one MX query, plus A and AAAA only when there is no
 * MX. Same calling rules as dns_lookup_mx().
 */
struct dns_query *dns_check_domain(struct dns *dns, const char *domain,
    dns_check_cb cb, void *arg, char *why, size_t whysz);

/*
 * Drops a pending query: its callback will not run. Safe from any
 * callback, including the query's own. NULL: no-op. The handle must not be
 * used after its callback has run.
 */
void dns_cancel(struct dns_query *q);

/*
 * Synchronous wrappers (dns_sync.c) for the command line: a private event
 * loop until the answer is in. 0 with *res filled, or -1 with why.
 * timeout 0 means the default.
 */
int dns_lookup_mx_sync(const struct conf *conf, const char *domain,
    unsigned timeout, struct dns_mx_result *res, char *why, size_t whysz);
int dns_check_domain_sync(const struct conf *conf, const char *domain,
    unsigned timeout, struct dns_check_result *res, char *why,
    size_t whysz);

/* ---- pure logic (mx.c) ---- */

/*
 * Normalises a domain given by a user or an address: strips one trailing
 * dot, lower-cases ASCII, checks LDH-ish label syntax (also "_" and, for
 * robustness, anything printable but "." inside labels is refused).
 * 0, or -1 if it is not a domain name we can look up.
 */
int dns_name_normalize(const char *in, char *out, size_t outsz);

/*
 * Decodes an uncompressed wire-format name at p[0..len) into presentation
 * form (lower case, no trailing dot; the root is ""). Labels with bytes
 * outside [A-Za-z0-9_-] are refused. Sets *used to the bytes consumed.
 * 0, or -1 if malformed or refused.
 */
int dns_name_from_wire(const unsigned char *p, size_t len, size_t *used,
    char *out, size_t outsz);

/* Parses MX rdata: preference and exchange. 0, or -1 if malformed. */
int dns_mx_rdata_parse(const unsigned char *rd, size_t len, unsigned *pref,
    char *name, size_t namesz);

/*
 * Fills res from the answer to "domain MX": status (DNS_PENDING when the
 * hosts' addresses are still to be resolved: MX hosts, or the implicit MX
 * when the answer had no MX), sec, canon, hosts in delivery order (sorted,
 * equal preferences shuffled with rng), null MX per RFC 7505 (exactly one
 * record, preference 0, exchange "."), other "." records ignored and
 * counted. res->domain must be set by the caller.
 */
void dns_mx_from_answer(struct dns_mx_result *res, const struct dns_answer *a,
    dns_rng_fn rng, void *rngarg);

/* Adds the A (af AF_INET) or AAAA answer for host h. */
void dns_mx_host_answer(struct dns_mx_host *h, int af,
    const struct dns_answer *a);

/* Marks every unanswered address lookup as timed out. */
void dns_mx_expire(struct dns_mx_result *res);

/*
 * Once every host is answered: each host's status and the overall
 * status. 1 if res is complete, 0 if some host is still pending.
 */
int dns_mx_finish(struct dns_mx_result *res);

/*
 * RFC 5321 §5.1 loop avoidance: if myname (our own host name) is among
 * the MX hosts, drops it and every host of equal or higher preference.
 * Returns the number of hosts dropped.
 */
size_t dns_mx_trim_self(struct dns_mx_result *res, const char *myname);

/* Resets h to a host with no answers yet (both families pending). */
void dns_mx_host_init(struct dns_mx_host *h, const char *name, unsigned pref);

/*
 * The policy check's logic: from the MX answer, 1 if the verdict is known
 * (in *res), 0 if A/AAAA must be asked (no MX records).
 */
int dns_check_from_mx(struct dns_check_result *res,
    const struct dns_answer *a);

/*
 * The verdict after an MX NODATA, from the domain's A and AAAA answers
 * gathered in h with dns_mx_host_answer() (a family still pending counts
 * as timed out).
 */
void dns_check_from_host(struct dns_check_result *res,
    const struct dns_mx_host *h);

const char *dns_status_str(enum dns_status st);
const char *dns_sec_str(enum dns_sec sec);
const char *dns_verdict_str(enum dns_verdict v);

/* 1 if st is a permanent failure (null MX, NXDOMAIN, NODATA, no address). */
int dns_status_is_permanent(enum dns_status st);

/* Formats an address as text (inet_ntop). Returns buf. */
char *dns_addr_str(const struct dns_addr *a, char *buf, size_t bufsz);

#endif
