/*
 * Value syntaxes of the configuration file (SPEC.md §3): sizes with
 * k/M/G suffixes, durations with s/m/h/d, booleans, comma lists and
 * host:port addresses. Pure functions over caller memory, except the
 * lists, whose entries are heap strings owned by the list. Runs wherever
 * a config is loaded (the serve parent, every CLI command).
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <limits.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conf/conf_int.h"
#include "util/addr.h"
#include "util/xmalloc.h"

/*
 * Reads the decimal digits at *sp into *out, advancing *sp. Returns -1 if
 * there is no digit or the number exceeds UINT64_MAX.
 */
static int
parse_digits(const char **sp, uint64_t *out)
{
	const char *s = *sp;
	uint64_t v = 0;

	if (*s < '0' || *s > '9')
		return -1;
	for (; *s >= '0' && *s <= '9'; s++) {
		if (v > (UINT64_MAX - (uint64_t)(*s - '0')) / 10)
			return -1;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	*sp = s;
	*out = v;
	return 0;
}

int
conf_parse_uint(const char *s, uint64_t max, uint64_t *out)
{
	uint64_t v;

	if (parse_digits(&s, &v) == -1 || *s != '\0' || v > max)
		return -1;
	*out = v;
	return 0;
}

/* "35M", "10k", "1G", "512": 1024-based; an optional "B" after the unit. */
int
conf_parse_size(const char *s, uint64_t *out)
{
	uint64_t v, mult = 1;

	if (parse_digits(&s, &v) == -1)
		return -1;
	switch (*s) {
	case 'k': case 'K':
		mult = 1024;
		break;
	case 'm': case 'M':
		mult = 1024 * 1024;
		break;
	case 'g': case 'G':
		mult = 1024 * 1024 * 1024;
		break;
	}
	if (mult != 1 && (*++s == 'b' || *s == 'B'))
		s++;
	if (*s != '\0' || v > UINT64_MAX / mult)
		return -1;
	*out = v * mult;
	return 0;
}

static unsigned
duration_unit(char c)
{
	switch (c) {
	case 's':
		return 1;
	case 'm':
		return 60;
	case 'h':
		return 3600;
	case 'd':
		return 86400;
	}
	return 0;
}

/* "90" (seconds), "5m", "1h30m", "5d"; at most UINT_MAX seconds. */
int
conf_parse_duration(const char *s, unsigned *out)
{
	uint64_t v, total = 0;
	unsigned unit;

	if (parse_digits(&s, &v) == -1)
		return -1;
	if (*s == '\0') {
		if (v > UINT_MAX)
			return -1;
		*out = (unsigned)v;
		return 0;
	}
	for (;;) {
		if ((unit = duration_unit(*s++)) == 0 || v > UINT_MAX / unit)
			return -1;
		total += v * unit;
		if (total > UINT_MAX)
			return -1;
		if (*s == '\0')
			break;
		if (parse_digits(&s, &v) == -1)
			return -1;
	}
	*out = (unsigned)total;
	return 0;
}

int
conf_parse_bool(const char *s, int *out)
{
	static const char *const yes[] = { "yes", "true", "on", "1" };
	static const char *const no[] = { "no", "false", "off", "0" };
	size_t i;

	for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*out = 1;
			return 0;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*out = 0;
			return 0;
		}
	}
	return -1;
}

void
conf_list_clear(struct conf_list *list)
{
	size_t i;

	for (i = 0; i < list->n; i++)
		free(list->v[i]);
	list->n = 0;
}

/* Appends a copy of s; -1 if the list is full. */
int
conf_list_add(struct conf_list *list, const char *s)
{
	if (list->n >= CONF_MAX_LIST)
		return -1;
	list->v[list->n++] = xstrdup(s);
	return 0;
}

/*
 * Splits "a, b ,c" into list (cleared first), each entry trimmed of blanks.
 * An empty string is an empty list; an empty entry ("a,,b", "a,") is an
 * error. On error the list is left empty and why says what is wrong.
 */
int
conf_split_list(const char *s, struct conf_list *list, char *why,
    size_t whysz)
{
	const char *p, *end;
	size_t len;

	conf_list_clear(list);
	while (*s == ' ' || *s == '\t')
		s++;
	if (*s == '\0')
		return 0;
	for (p = s;; p = end + 1) {
		if ((end = strchr(p, ',')) == NULL)
			end = p + strlen(p);
		while (p < end && (*p == ' ' || *p == '\t'))
			p++;
		len = end - p;
		while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t'))
			len--;
		if (len == 0) {
			(void)snprintf(why, whysz, "empty entry in list");
			goto fail;
		}
		if (list->n >= CONF_MAX_LIST) {
			(void)snprintf(why, whysz, "too many entries in list "
			    "(at most %d)", CONF_MAX_LIST);
			goto fail;
		}
		list->v[list->n++] = xstrndup(p, len);
		if (*end == '\0')
			return 0;
	}
fail:
	conf_list_clear(list);
	return -1;
}

/* The port after ':' at s; 0 if invalid (ports are 1..65535). */
static unsigned
parse_port(const char *s)
{
	uint64_t v;

	if (conf_parse_uint(s, 65535, &v) == -1)
		return 0;
	return (unsigned)v;
}

/*
 * Splits "host:port", "[v6]:port", "host" or "[v6]" into host (brackets
 * removed) and port (0 when absent). A bare IPv6 address without brackets
 * is refused because its last group would read as a port.
 */
int
conf_parse_hostport(const char *s, char *host, size_t hostsz,
    unsigned *port, int port_required, char *why, size_t whysz)
{
	const char *end, *colon = NULL;
	size_t hlen;

	if (s[0] == '[') {
		if ((end = strchr(s, ']')) == NULL)
			goto bad;
		s++;
		hlen = end - s;
		if (end[1] == ':')
			colon = end + 1;
		else if (end[1] != '\0')
			goto bad;
	} else {
		colon = strchr(s, ':');
		if (colon != NULL && strchr(colon + 1, ':') != NULL) {
			(void)snprintf(why, whysz, "an IPv6 address needs "
			    "brackets: [ADDRESS]:PORT");
			return -1;
		}
		hlen = colon != NULL ? (size_t)(colon - s) : strlen(s);
	}
	if (hlen == 0 || hlen >= hostsz)
		goto bad;
	memcpy(host, s, hlen);
	host[hlen] = '\0';
	*port = 0;
	if (colon != NULL && (*port = parse_port(colon + 1)) == 0) {
		(void)snprintf(why, whysz, "bad port '%s' (1-65535)",
		    colon + 1);
		return -1;
	}
	if (port_required && *port == 0) {
		(void)snprintf(why, whysz, "missing port: HOST:PORT or "
		    "[IPv6]:PORT");
		return -1;
	}
	return 0;
bad:
	(void)snprintf(why, whysz, "bad address: HOST:PORT or [IPv6]:PORT");
	return -1;
}

/* Numeric host (IPv4 or IPv6 text) and port into sa; 0 or -1. No DNS. */
int
conf_resolve_numeric(const char *host, unsigned port,
    struct sockaddr_storage *sa, socklen_t *salen)
{
	struct addrinfo hints, *res = NULL;
	char portstr[8];

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE;
	(void)snprintf(portstr, sizeof(portstr), "%u", port);
	if (getaddrinfo(host, portstr, &hints, &res) != 0 || res == NULL)
		return -1;
	if (res->ai_addrlen > sizeof(*sa)) {
		freeaddrinfo(res);
		return -1;
	}
	memset(sa, 0, sizeof(*sa));
	memcpy(sa, res->ai_addr, res->ai_addrlen);
	*salen = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

/* 1 if s is an ASCII LDH host or domain name (no literal, no root dot). */
int
conf_valid_hostname(const char *s)
{
	const unsigned char *p;

	for (p = (const unsigned char *)s; *p != '\0'; p++)
		if (*p >= 0x80)
			return 0;
	return s[0] != '[' && addr_valid_domain(s, strlen(s));
}

/* The shortest exact spelling: "35M" rather than "36700160". */
void
conf_format_size(uint64_t v, char *buf, size_t bufsz)
{
	static const char units[] = "GMk";
	uint64_t mult = 1024 * 1024 * 1024;
	size_t i;

	for (i = 0; i < 3; i++, mult /= 1024)
		if (v != 0 && v % mult == 0) {
			(void)snprintf(buf, bufsz, "%llu%c",
			    (unsigned long long)(v / mult), units[i]);
			return;
		}
	(void)snprintf(buf, bufsz, "%llu", (unsigned long long)v);
}

/* "5d", "4h", "90s" ... (compound values come out in one unit). */
void
conf_format_duration(unsigned v, char *buf, size_t bufsz)
{
	static const char units[] = "dhm";
	static const unsigned secs[] = { 86400, 3600, 60 };
	size_t i;

	for (i = 0; i < 3; i++)
		if (v != 0 && v % secs[i] == 0) {
			(void)snprintf(buf, bufsz, "%u%c", v / secs[i],
			    units[i]);
			return;
		}
	(void)snprintf(buf, bufsz, "%us", v);
}
