/*
 * Printing an MX resolution (struct dns_mx_result) for a human, shared by
 * `postern mx` and `postern check`: the hosts in delivery order with
 * their addresses and DNSSEC state, remarks about the records, and the
 * plain sentence for a domain that cannot take mail. English and
 * Japanese.
 */
#ifndef POSTERN_CLI_MX_PRINT_H
#define POSTERN_CLI_MX_PRINT_H

#include <stdio.h>

#include "dns/dns.h"
#include "replies/catalogue.h"

/*
 * "DOMAIN: N MX hosts in delivery order (DNSSEC: insecure)" or the
 * implicit MX, then one line per host ("  10 mx.example -> ::1,
 * 192.0.2.1"), then remarks about shuffled equal preferences and hosts
 * dropped over DNS_MX_MAX.
 */
void cli_mx_print_hosts(FILE *out, const struct dns_mx_result *r,
    enum cat_lang lang);

/* Remarks that apply whatever the outcome: CNAME, misused null MX... */
void cli_mx_print_notes(FILE *out, const struct dns_mx_result *r,
    enum cat_lang lang);

/*
 * The sentence for a domain whose lookup ended in st (not DNS_OK): null
 * MX, no such domain, no mail host, no address, time-out (timeout in
 * seconds), or another temporary failure (why, if not ""). Returns the
 * exit code it means: 69 (EX_UNAVAILABLE) or 75 (EX_TEMPFAIL).
 */
int cli_mx_say_failure(FILE *out, const char *domain, enum dns_status st,
    const char *why, unsigned timeout, enum cat_lang lang);

#endif
