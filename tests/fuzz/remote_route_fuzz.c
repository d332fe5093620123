/*
 * libFuzzer target: remote delivery's string handling fed arbitrary
 * bytes: address literals as recipient domains (remote_route_literal),
 * [delivery] relay values (remote_relay_split, then as a literal
 * smarthost), the "host[ip]:port" log string from a host and a peer
 * (remote_relay_str), and the SMTPUTF8 / 8-bit checks. Checks that
 * replies and strings stay NUL-terminated within their buffers, that a
 * usable route has targets with addresses at the asked port, and that
 * ports are in range.
 */
#include <arpa/inet.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "deliver/remote_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_route(const struct remote_route *rt, unsigned port)
{
	const struct sockaddr_in *sin;
	size_t i, k;

	if (memchr(rt->reply, '\0', sizeof(rt->reply)) == NULL)
		abort();
	if (!rt->usable) {
		if (rt->reply[0] != '4' && rt->reply[0] != '5')
			abort();
		return;
	}
	if (rt->ntargets == 0 || rt->ntargets > DNS_MX_MAX)
		abort();
	for (i = 0; i < rt->ntargets; i++)
		for (k = 0; k < rt->targets[i].naddrs; k++) {
			/* sin_port and sin6_port share their offset */
			sin = (const struct sockaddr_in *)
			    &rt->targets[i].addrs[k];
			if (ntohs(sin->sin_port) != port)
				abort();
		}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct remote_route rt;
	char s[512], host[DNS_NAME_BUFSZ], buf[600];
	const char *rcpts[1], *nl;
	struct envelope env;
	unsigned port;

	if (size >= sizeof(s))
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	if (remote_route_literal(&rt, s, 2525) == 1)
		check_route(&rt, 2525);
	if (remote_relay_split(s, host, sizeof(host), &port) == 0) {
		if (port == 0 || port > 65535 || strlen(host) == 0)
			abort();
		if (remote_route_relay_literal(&rt, host, port))
			check_route(&rt, port);
	}
	if ((nl = strchr(s, '\n')) != NULL && (size_t)(nl - s) <
	    sizeof(host)) {
		memcpy(host, s, (size_t)(nl - s));
		host[nl - s] = '\0';
		remote_relay_str(buf, sizeof(buf), host, nl + 1);
		if (strlen(buf) >= sizeof(buf))
			abort();
	}
	memset(&env, 0, sizeof(env));
	env.sender = s;
	env.smtputf8 = size % 2;
	rcpts[0] = s;
	if (remote_needs_smtputf8(&env, s, strlen(s), rcpts, 1) !=
	    remote_has_8bit(s, strlen(s)))
		abort();
	return 0;
}
