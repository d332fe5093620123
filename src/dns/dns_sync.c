/*
 * Synchronous DNS for the command line (postern mx, postern check): a
 * private event base and resolver for one lookup, run until the answer is
 * in. Owns nothing beyond the call. Never used by the daemons, whose loops
 * must not block.
 */
#include "dns/dns.h"

#include <stdio.h>
#include <string.h>

#include <event2/event.h>

struct sync_wait {
	struct event_base	*base;
	void			*out;
	int			 done;
};

static void
sync_mx_done(const struct dns_mx_result *res, void *arg)
{
	struct sync_wait *w = arg;

	memcpy(w->out, res, sizeof(*res));
	w->done = 1;
	event_base_loopbreak(w->base);
}

static void
sync_check_done(const struct dns_check_result *res, void *arg)
{
	struct sync_wait *w = arg;

	memcpy(w->out, res, sizeof(*res));
	w->done = 1;
	event_base_loopbreak(w->base);
}

/* Runs one lookup of the given kind; 0 when its callback has run. */
static int
sync_run(const struct conf *conf, const char *domain, unsigned timeout,
    int check, void *out, char *why, size_t whysz)
{
	struct sync_wait w = { NULL, out, 0 };
	struct dns *dns = NULL;
	struct dns_query *q;
	int rc = -1;

	if ((w.base = event_base_new()) == NULL) {
		(void)snprintf(why, whysz, "cannot create an event loop");
		return -1;
	}
	if ((dns = dns_new(w.base, conf, why, whysz)) == NULL)
		goto fail;
	if (timeout > 0)
		dns_set_timeout(dns, timeout);
	q = check ? dns_check_domain(dns, domain, sync_check_done, &w, why,
	    whysz) : dns_lookup_mx(dns, domain, sync_mx_done, &w, why, whysz);
	if (q == NULL)
		goto fail;
	while (!w.done)
		if (event_base_dispatch(w.base) == -1) {
			(void)snprintf(why, whysz, "event loop failed");
			goto fail;
		}
	rc = 0;
fail:
	dns_free(dns);
	event_base_free(w.base);
	return rc;
}

int
dns_lookup_mx_sync(const struct conf *conf, const char *domain,
    unsigned timeout, struct dns_mx_result *res, char *why, size_t whysz)
{
	return sync_run(conf, domain, timeout, 0, res, why, whysz);
}

int
dns_check_domain_sync(const struct conf *conf, const char *domain,
    unsigned timeout, struct dns_check_result *res, char *why,
    size_t whysz)
{
	return sync_run(conf, domain, timeout, 1, res, why, whysz);
}
