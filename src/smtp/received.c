/* Received: header formatting. Pure; smtp workers and sendmail. */
#include "smtp/received.h"

#include <stdio.h>

const char *
received_protocol(int esmtp, int tls, int authenticated)
{
	if (!esmtp)
		return tls ? "SMTPS" : "SMTP";
	if (tls)
		return authenticated ? "ESMTPSA" : "ESMTPS";
	return authenticated ? "ESMTPA" : "ESMTP";
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
	    received_protocol(ri->esmtp, ri->tls, ri->authenticated), ri->id,
	    tls, rcpt, date);
	return (n < 0 || (size_t)n >= bufsz) ? -1 : n;
}
