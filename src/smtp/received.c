/* Received: header formatting. Pure; smtp workers and sendmail. */
#include "smtp/received.h"

#include <stdio.h>

/*
 * The IANA "Mail Transmission Types" (RFC 3848, RFC 6531 §3.7.3): S for
 * TLS, A for AUTH, UTF8 for a message sent with SMTPUTF8. HELO has only
 * "SMTP" registered, TLS or not.
 */
const char *
received_protocol(int esmtp, int tls, int authenticated, int utf8)
{
	static const char *const types[2][2][2] = {
		{ { "ESMTP", "ESMTPA" }, { "ESMTPS", "ESMTPSA" } },
		{ { "UTF8SMTP", "UTF8SMTPA" }, { "UTF8SMTPS", "UTF8SMTPSA" } },
	};

	if (!esmtp)
		return "SMTP";
	return types[utf8 != 0][tls != 0][authenticated != 0];
}

int
received_date(time_t when, char *buf, size_t bufsz)
{
	struct tm tm;

	gmtime_r(&when, &tm);
	return strftime(buf, bufsz, "%a, %d %b %Y %H:%M:%S +0000", &tm) == 0
	    ? -1 : 0;
}

int
received_format(const struct received_info *ri, char *buf, size_t bufsz)
{
	char date[64], tls[160] = "", rcpt[340] = "";
	int n;

	if (received_date(ri->when, date, sizeof(date)) == -1)
		return -1;
	if (ri->tls_desc)
		(void)snprintf(tls, sizeof(tls), "\r\n\t(%s)",
		    ri->tls_desc);
	if (ri->rcpt)
		(void)snprintf(rcpt, sizeof(rcpt), "\r\n\tfor <%s>", ri->rcpt);
	/* TCP-info is an address literal: we do no reverse look-up. */
	n = snprintf(buf, bufsz, "Received: from %s ([%s%s])\r\n"
	    "\tby %s (Postern) with %s id %s%s%s;\r\n\t%s\r\n",
	    ri->helo, ri->ipv6 ? "IPv6:" : "", ri->client, ri->hostname,
	    received_protocol(ri->esmtp, ri->tls, ri->authenticated,
	    ri->utf8), ri->id,
	    tls, rcpt, date);
	return (n < 0 || (size_t)n >= bufsz) ? -1 : n;
}
