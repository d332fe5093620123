/*
 * `postern mx DOMAIN [-c FILE] [--dns HOST:PORT] [--timeout S] [--policy]`:
 * the MX lookup exactly as delivery does it (src/dns/), printed for a
 * human: the hosts in delivery order with their preferences, addresses
 * and DNSSEC state, the implicit MX, or a plain statement that the domain
 * has a null MX (RFC 7505), does not exist, or could not be resolved now.
 * Exit 0 when mail can be delivered, 69 when it never can, 75 on a
 * temporary DNS failure. Owns the config and the result it loads. Runs in
 * the CLI process.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "cli/cli.h"
#include "cli/mx_print.h"
#include "conf/conf.h"
#include "dns/dns.h"
#include "util/log.h"
#include "util/xmalloc.h"

static void
mx_usage(FILE *out)
{
	fprintf(out,
	    "usage: postern mx DOMAIN [-c FILE] [--dns HOST:PORT] "
	    "[--timeout SECONDS]\n"
	    "                 [--policy]\n"
	    "\n"
	    "Looks up DOMAIN's MX hosts as delivery would use them: sorted\n"
	    "by preference (equal preferences in random order), each with\n"
	    "its IPv6 and IPv4 addresses; the implicit MX (the domain's own\n"
	    "A/AAAA) when there is no MX; a null MX (RFC 7505) means the\n"
	    "domain accepts no mail. DOMAIN may be an address user@DOMAIN.\n"
	    "\n"
	    "  -c, --config FILE   config whose [delivery] dns and\n"
	    "                      trust_anchor are used\n"
	    "  --dns HOST:PORT     ask this resolver instead\n"
	    "  --timeout SECONDS   give up after this long (default %d)\n"
	    "  --policy            only the server's MAIL/RCPT check: one MX\n"
	    "                      query (A/AAAA when there is no MX), no\n"
	    "                      address lookups of the MX hosts\n"
	    "\n"
	    "exit: 0 deliverable; 69 never deliverable (null MX, no such\n"
	    "domain, no address); 75 temporary DNS failure; 64 usage;\n"
	    "78 config\n",
	    DNS_TIMEOUT_DEFAULT);
}

static int
mx_report(const struct dns_mx_result *r, unsigned timeout)
{
	int rc;

	cli_mx_print_notes(stdout, r, CAT_LANG_EN);
	if (r->status == DNS_OK) {
		cli_mx_print_hosts(stdout, r, CAT_LANG_EN);
		return 0;
	}
	rc = cli_mx_say_failure(stdout, r->domain, r->status, r->why, timeout,
	    CAT_LANG_EN);
	if (r->status == DNS_NO_ADDRESS)
		cli_mx_print_hosts(stdout, r, CAT_LANG_EN);
	return rc;
}

/* --policy: the verdict the SMTP server's MAIL/RCPT check would reach. */
static int
mx_policy(const struct conf *conf, const char *name, unsigned timeout,
    int dns_opt)
{
	struct dns_check_result r;
	char why[256];

	if (dns_check_domain_sync(conf, name, timeout, &r, why,
	    sizeof(why)) == -1) {
		fprintf(stderr, "postern mx: %s\n", why);
		return dns_opt ? EX_USAGE : CONF_EXIT;
	}
	printf("%s: policy check %s (DNS %s, DNSSEC: %s)\n", r.domain,
	    dns_verdict_str(r.verdict), dns_status_str(r.status),
	    dns_sec_str(r.sec));
	if (r.verdict == DNS_CHECK_OK) {
		printf("%s accepts mail\n", r.domain);
		return 0;
	}
	return cli_mx_say_failure(stdout, r.domain, r.status, r.why, timeout,
	    CAT_LANG_EN);
}

/* "user@example.org" -> "example.org"; a bare domain as is. */
static const char *
mx_domain_arg(const char *arg)
{
	const char *at = strrchr(arg, '@');

	return at != NULL ? at + 1 : arg;
}

struct mx_opts {
	const char	*path;
	const char	*dns;
	unsigned	 timeout;
	int		 policy;
};

static int
mx_run(const struct conf *conf, const char *arg, const struct mx_opts *o)
{
	struct dns_mx_result *r;
	char why[256], name[DNS_NAME_BUFSZ];
	int rc;

	if (dns_name_normalize(mx_domain_arg(arg), name, sizeof(name)) == -1) {
		fprintf(stderr, "postern mx: '%s' is not a domain name that "
		    "can be looked up\n", arg);
		return EX_DATAERR;
	}
	if (o->policy)
		return mx_policy(conf, name, o->timeout, o->dns != NULL);
	r = xcalloc(1, sizeof(*r));
	if (dns_lookup_mx_sync(conf, name, o->timeout, r, why,
	    sizeof(why)) == -1) {
		fprintf(stderr, "postern mx: %s\n", why);
		rc = o->dns != NULL ? EX_USAGE : CONF_EXIT;
	} else
		rc = mx_report(r, o->timeout);
	free(r);
	return rc;
}

static int
mx_parse_timeout(const char *s, unsigned *out)
{
	char *end;
	unsigned long v = strtoul(s, &end, 10);

	if (*s == '\0' || *end != '\0' || v == 0 || v > 3600)
		return -1;
	*out = (unsigned)v;
	return 0;
}

/* Parses the options into o; 0, -1 after --help, or an exit code. */
static int
mx_parse(int argc, char **argv, struct mx_opts *o)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "dns", required_argument, NULL, 'd' },
		{ "timeout", required_argument, NULL, 't' },
		{ "policy", no_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	int ch;

	optind = 0;	/* full getopt reset; options may follow operands */
	while ((ch = getopt_long(argc, argv, "c:h", longopts, NULL)) != -1) {
		if (ch == 'c')
			o->path = optarg;
		else if (ch == 'd')
			o->dns = optarg;
		else if (ch == 'p')
			o->policy = 1;
		else if (ch == 't' && mx_parse_timeout(optarg,
		    &o->timeout) == -1) {
			fprintf(stderr, "postern mx: --timeout: 1 to 3600 "
			    "seconds\n");
			return EX_USAGE;
		} else if (ch == 'h') {
			mx_usage(stdout);
			return -1;
		} else if (ch != 't') {
			mx_usage(stderr);
			return EX_USAGE;
		}
	}
	if (argc - optind != 1) {
		mx_usage(stderr);
		return EX_USAGE;
	}
	return 0;
}

int
cli_mx(int argc, char **argv)
{
	struct mx_opts o = { NULL, NULL, DNS_TIMEOUT_DEFAULT, 0 };
	struct conf *conf;
	int rc;

	if ((rc = mx_parse(argc, argv, &o)) != 0)
		return rc == -1 ? 0 : rc;
	if ((conf = cli_load_conf(o.path)) == NULL)
		return CONF_EXIT;
	if (o.dns != NULL) {
		free(conf->dns);
		conf->dns = xstrdup(o.dns);
	}
	log_init("postern-mx", LOG_LEVEL_ERR);
	rc = mx_run(conf, argv[optind], &o);
	conf_free(conf);
	return rc;
}
