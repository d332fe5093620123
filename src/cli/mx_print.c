/*
 * The human form of an MX resolution, shared by `postern mx` and
 * `postern check` (see cli/mx_print.h). Every sentence is in the one
 * table below, English and Japanese side by side, with the same printf
 * conversions in the same order. Owns nothing; runs in the CLI process.
 */
#include <stdio.h>
#include <sysexits.h>

#include "cli/mx_print.h"
#include "dns/dns.h"
#include "replies/catalogue.h"

enum mxp_msg {
	MXP_ADDR_NONE,
	MXP_SEC_DIFF,
	MXP_IMPLICIT,
	MXP_HOSTS_ONE,
	MXP_HOSTS_MANY,
	MXP_SHUFFLED,
	MXP_TRUNC_ONE,
	MXP_TRUNC_MANY,
	MXP_CNAME,
	MXP_DOTS,
	MXP_IGNORED_ONE,
	MXP_IGNORED_MANY,
	MXP_NULL_MX,
	MXP_NXDOMAIN,
	MXP_NODATA,
	MXP_NO_ADDRESS,
	MXP_TIMEOUT_ONE,
	MXP_TIMEOUT_MANY,
	MXP_TEMPFAIL,
	MXP_NMSG
};

static const char *const mxp_msgs[MXP_NMSG][CAT_NLANG] = {
	[MXP_ADDR_NONE] = {
		"-> no address (%s)",
		"-> アドレスなし（%s）" },
	[MXP_SEC_DIFF] = {
		" (DNSSEC: %s)",
		"（DNSSEC：%s）" },
	[MXP_IMPLICIT] = {
		"%s: no MX; using the implicit MX (A/AAAA of %s) "
		"(DNSSEC: %s)\n",
		"%s：MX レコードがないため、暗黙の MX（%s の A/AAAA）を"
		"使います（DNSSEC：%s）\n" },
	[MXP_HOSTS_ONE] = {
		"%s: %zu MX host in delivery order (DNSSEC: %s)\n",
		"%s：配送順の MX ホスト %zu 件（DNSSEC：%s）\n" },
	[MXP_HOSTS_MANY] = {
		"%s: %zu MX hosts in delivery order (DNSSEC: %s)\n",
		"%s：配送順の MX ホスト %zu 件（DNSSEC：%s）\n" },
	[MXP_SHUFFLED] = {
		"hosts of equal preference are shuffled on every lookup\n",
		"優先度が同じホストの順序は、問い合わせのたびにランダムに"
		"入れ替わります\n" },
	[MXP_TRUNC_ONE] = {
		"%u more MX host not used (at most %d)\n",
		"ほかに %u 件の MX ホストは使いません（最大 %d 件）\n" },
	[MXP_TRUNC_MANY] = {
		"%u more MX hosts not used (at most %d)\n",
		"ほかに %u 件の MX ホストは使いません（最大 %d 件）\n" },
	[MXP_CNAME] = {
		"%s is an alias (CNAME) of %s\n",
		"%s は %s の別名（CNAME）です\n" },
	[MXP_DOTS] = {
		"warning: %s publishes a null MX (0 .) together with other "
		"MX records; the null MX is ignored\n",
		"警告：%s はヌル MX（0 .）をほかの MX レコードと一緒に公開"
		"しています。このヌル MX は無視します\n" },
	[MXP_IGNORED_ONE] = {
		"warning: %u malformed or duplicate MX record ignored\n",
		"警告：不正または重複した MX レコード %u 件を無視しました\n" },
	[MXP_IGNORED_MANY] = {
		"warning: %u malformed or duplicate MX records ignored\n",
		"警告：不正または重複した MX レコード %u 件を無視しました\n" },
	[MXP_NULL_MX] = {
		"%s has a null MX (RFC 7505): it accepts no mail\n",
		"%s はヌル MX（RFC 7505）を公開しています。メールを一切受け"
		"付けません\n" },
	[MXP_NXDOMAIN] = {
		"%s does not exist\n",
		"%s というドメインは存在しません\n" },
	[MXP_NODATA] = {
		"%s has no MX and no A/AAAA records: it cannot receive mail\n",
		"%s には MX レコードも A/AAAA レコードもありません。メールを"
		"受け取れません\n" },
	[MXP_NO_ADDRESS] = {
		"%s: no MX host has an address: mail cannot be delivered\n",
		"%s：どの MX ホストにもアドレスがないため、メールを配送"
		"できません\n" },
	[MXP_TIMEOUT_ONE] = {
		"%s: temporary DNS failure: no answer within %u second; "
		"try again later\n",
		"%s：DNS の一時的な障害です。%u 秒以内に応答がありません"
		"でした。しばらくしてから再試行してください\n" },
	[MXP_TIMEOUT_MANY] = {
		"%s: temporary DNS failure: no answer within %u seconds; "
		"try again later\n",
		"%s：DNS の一時的な障害です。%u 秒以内に応答がありません"
		"でした。しばらくしてから再試行してください\n" },
	[MXP_TEMPFAIL] = {
		"%s: temporary DNS failure (%s); try again later\n",
		"%s：DNS の一時的な障害です（%s）。しばらくしてから再試行"
		"してください\n" },
};

static const char *
mxp(enum mxp_msg m, enum cat_lang lang)
{
	return mxp_msgs[m][lang == CAT_LANG_JA ? CAT_LANG_JA : CAT_LANG_EN];
}

/* The formats above are a table, not literals; each call site passes
 * the conversions its message has. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"

/* "  10 mx.example -> ::1, 127.0.0.1" or "-> no address (NXDOMAIN)". */
static void
mxp_print_host(FILE *out, const struct dns_mx_host *h, enum dns_sec sec,
    enum cat_lang lang)
{
	char buf[64];
	size_t i;

	fprintf(out, "  %u %s ", h->pref, h->name);
	if (h->naddrs == 0)
		fprintf(out, mxp(MXP_ADDR_NONE, lang),
		    dns_status_str(h->status));
	for (i = 0; i < h->naddrs; i++)
		fprintf(out, "%s%s", i ? ", " : "-> ",
		    dns_addr_str(&h->addrs[i], buf, sizeof(buf)));
	if (h->sec != sec)
		fprintf(out, mxp(MXP_SEC_DIFF, lang), dns_sec_str(h->sec));
	fprintf(out, "\n");
}

static int
mxp_has_equal_prefs(const struct dns_mx_result *r)
{
	size_t i;

	for (i = 1; i < r->nhosts; i++)
		if (r->hosts[i].pref == r->hosts[i - 1].pref)
			return 1;
	return 0;
}

void
cli_mx_print_hosts(FILE *out, const struct dns_mx_result *r,
    enum cat_lang lang)
{
	size_t i;

	if (r->implicit)
		fprintf(out, mxp(MXP_IMPLICIT, lang), r->domain, r->domain,
		    dns_sec_str(r->sec));
	else
		fprintf(out, mxp(r->nhosts == 1 ? MXP_HOSTS_ONE :
		    MXP_HOSTS_MANY, lang), r->domain, r->nhosts,
		    dns_sec_str(r->sec));
	for (i = 0; i < r->nhosts; i++)
		mxp_print_host(out, &r->hosts[i], r->sec, lang);
	if (mxp_has_equal_prefs(r))
		fprintf(out, "%s", mxp(MXP_SHUFFLED, lang));
	if (r->truncated > 0)
		fprintf(out, mxp(r->truncated == 1 ? MXP_TRUNC_ONE :
		    MXP_TRUNC_MANY, lang), r->truncated, DNS_MX_MAX);
}

void
cli_mx_print_notes(FILE *out, const struct dns_mx_result *r,
    enum cat_lang lang)
{
	if (r->canon[0] != '\0')
		fprintf(out, mxp(MXP_CNAME, lang), r->domain, r->canon);
	if (r->dots > 0)
		fprintf(out, mxp(MXP_DOTS, lang), r->domain);
	if (r->ignored > 0)
		fprintf(out, mxp(r->ignored == 1 ? MXP_IGNORED_ONE :
		    MXP_IGNORED_MANY, lang), r->ignored);
}

int
cli_mx_say_failure(FILE *out, const char *domain, enum dns_status st,
    const char *why, unsigned timeout, enum cat_lang lang)
{
	switch (st) {
	case DNS_NULL_MX:
		fprintf(out, mxp(MXP_NULL_MX, lang), domain);
		return EX_UNAVAILABLE;
	case DNS_NXDOMAIN:
		fprintf(out, mxp(MXP_NXDOMAIN, lang), domain);
		return EX_UNAVAILABLE;
	case DNS_NODATA:
		fprintf(out, mxp(MXP_NODATA, lang), domain);
		return EX_UNAVAILABLE;
	case DNS_NO_ADDRESS:
		fprintf(out, mxp(MXP_NO_ADDRESS, lang), domain);
		return EX_UNAVAILABLE;
	case DNS_TIMEOUT:
		fprintf(out, mxp(timeout == 1 ? MXP_TIMEOUT_ONE :
		    MXP_TIMEOUT_MANY, lang), domain, timeout);
		return EX_TEMPFAIL;
	default:
		fprintf(out, mxp(MXP_TEMPFAIL, lang), domain,
		    why[0] ? why : dns_status_str(st));
		return EX_TEMPFAIL;
	}
}

#pragma GCC diagnostic pop
