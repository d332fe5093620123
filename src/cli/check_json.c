/*
 * `postern check --json`: the whole diagnosis as one JSON object on
 * stdout, with the fields documented in docs/check.md (tokens are stable;
 * "message" and "explanation" texts follow --lang). Strings go through
 * the catalogue's JSON writer. Owns nothing; runs in the CLI process.
 */
#include <stdio.h>
#include <string.h>

#include "cli/check_int.h"
#include "conf/conf.h"

static void
check_json_strn(const char *s, size_t len)
{
	char buf[SMTP_CLIENT_LINE_MAX + 8];

	if (len >= sizeof(buf))
		len = sizeof(buf) - 1;
	memcpy(buf, s, len);
	buf[len] = '\0';
	cat_json_str(stdout, buf);
}

static void
check_json_bool(const char *key, int v, const char *sep)
{
	printf("\"%s\": %s%s", key, v ? "true" : "false", sep);
}

/* A reply object, or null when none came. */
static void
check_json_reply(const struct smtp_reply *r, enum cat_lang lang)
{
	char line[SMTP_REPLY_TEXT_MAX + 32], expl[4096];

	if (r->code == 0) {
		printf("null");
		return;
	}
	(void)smtp_reply_format(r, line, sizeof(line));
	printf("{\"code\": %d, \"enhanced\": ", r->code);
	cat_json_str(stdout, r->enh);
	printf(", \"text\": ");
	cat_json_str(stdout, r->text);
	printf(", \"explanation\": ");
	if (r->code / 100 != 2 && (cat_explain_reply(expl, sizeof(expl),
	    line, strlen(line), lang) >= 0 || expl[0] != '\0'))
		cat_json_str(stdout, expl);
	else
		printf("null");
	printf("}");
}

static void
check_json_host(const struct dns_mx_host *h)
{
	char buf[INET6_ADDRSTRLEN];
	size_t i;

	printf("{\"name\": ");
	cat_json_str(stdout, h->name);
	printf(", \"preference\": %u, \"status\": \"%s\", \"dnssec\": "
	    "\"%s\", \"addresses\": [", h->pref, dns_status_str(h->status),
	    dns_sec_str(h->sec));
	for (i = 0; i < h->naddrs; i++) {
		printf("%s", i ? ", " : "");
		cat_json_str(stdout, dns_addr_str(&h->addrs[i], buf,
		    sizeof(buf)));
	}
	printf("]}");
}

static void
check_json_mx(const struct check *ck)
{
	const struct dns_mx_result *r = &ck->mx;
	size_t i;

	printf("  \"mx\": {\"status\": \"%s\", \"dnssec\": \"%s\", ",
	    dns_status_str(r->status), dns_sec_str(r->sec));
	check_json_bool("literal", ck->literal, ", ");
	check_json_bool("implicit", r->implicit, ", ");
	printf("\"cname\": ");
	if (r->canon[0] != '\0')
		cat_json_str(stdout, r->canon);
	else
		printf("null");
	printf(", \"error\": ");
	if (r->status != DNS_OK)
		cat_json_str(stdout, r->why[0] ? r->why :
		    dns_status_str(r->status));
	else
		printf("null");
	printf(", \"hosts\": [");
	for (i = 0; i < r->nhosts; i++) {
		printf("%s", i ? ", " : "");
		check_json_host(&r->hosts[i]);
	}
	printf("]},\n");
}

static void
check_json_attempts(const struct check *ck)
{
	const struct check_attempt *a;
	size_t i;

	printf("  \"attempts\": [");
	for (i = 0; i < ck->nattempts; i++) {
		a = &ck->attempts[i];
		printf("%s\n    {\"host\": ", i ? "," : "");
		cat_json_str(stdout, ck->mx.hosts[a->host].name);
		printf(", \"address\": ");
		if (a->addr[0] != '\0')
			cat_json_str(stdout, a->addr);
		else
			printf("null");
		printf(", \"port\": %u, \"result\": \"%s\", \"error\": ",
		    ck->port, check_conn_str(a->conn));
		if (a->conn != CHECK_CONN_ANSWERED)
			cat_json_str(stdout, a->why);
		else
			printf("null");
		printf("}");
	}
	printf("%s],\n", ck->nattempts ? "\n  " : "");
}

static void
check_json_ehlo(const struct check *ck)
{
	const struct check_session *s = &ck->s;
	const struct smtp_ehlo *e = &s->ext_plain;
	const char *p, *nl;
	int helo = !smtp_reply_ok(&s->ehlo) && smtp_reply_ok(&s->helo);

	printf("  \"ehlo\": {\"command\": \"%s\", ", helo ? "HELO" : "EHLO");
	check_json_bool("accepted", smtp_reply_ok(&s->ehlo) || helo, ", ");
	printf("\"reply\": ");
	check_json_reply(&s->ehlo, ck->lang);
	printf(", \"helo_reply\": ");
	check_json_reply(&s->helo, ck->lang);
	printf(", \"extensions\": [");
	p = smtp_reply_ok(&s->ehlo) ? strchr(s->ehlo.text, '\n') : NULL;
	for (; p != NULL; p = nl) {
		p++;
		nl = strchr(p, '\n');
		check_json_strn(p, nl != NULL ? (size_t)(nl - p) : strlen(p));
		printf("%s", nl != NULL ? ", " : "");
	}
	printf("], ");
	check_json_bool("pipelining", e->ext & SMTP_EXT_PIPELINING, ", ");
	printf("\"size\": %llu, ", (unsigned long long)e->size);
	check_json_bool("8bitmime", e->ext & SMTP_EXT_8BITMIME, ", ");
	check_json_bool("smtputf8", s->ext.ext & SMTP_EXT_SMTPUTF8, ", ");
	check_json_bool("starttls", e->ext & SMTP_EXT_STARTTLS, "");
	printf("},\n");
}

static const char *
check_json_tls_result(const struct check_session *s)
{
	if (!(s->ext_plain.ext & SMTP_EXT_STARTTLS))
		return "not_offered";
	if (s->tls_failed)
		return "failed";
	if (s->starttls.code != 0 && s->starttls.code != 220)
		return "refused";
	return s->tls.active ? "established" : "not_tried";
}

static void
check_json_tls(const struct check *ck)
{
	const struct check_session *s = &ck->s;

	printf("  \"tls\": {\"result\": \"%s\", \"starttls_reply\": ",
	    check_json_tls_result(s));
	check_json_reply(&s->starttls, ck->lang);
	printf(", \"version\": ");
	cat_json_str(stdout, s->tls.version);
	printf(", \"cipher\": ");
	cat_json_str(stdout, s->tls.cipher);
	printf(", ");
	check_json_bool("verified", s->tls.verified, ", ");
	printf("\"verify_error\": ");
	cat_json_str(stdout, s->tls.verify_error);
	printf(", \"subject\": ");
	cat_json_str(stdout, s->tls.peer);
	printf(", \"error\": ");
	cat_json_str(stdout, s->tls_error);
	printf(", \"ehlo_reply\": ");
	check_json_reply(&s->ehlo_tls, ck->lang);
	printf("},\n");
}

/* Steps 3 and 4: null when no MX answered. */
static void
check_json_session(const struct check *ck)
{
	const struct check_attempt *a;

	if (ck->answered < 0) {
		printf("  \"server\": null,\n  \"greeting\": null,\n"
		    "  \"ehlo\": null,\n  \"tls\": null,\n");
		return;
	}
	a = &ck->attempts[ck->answered];
	printf("  \"server\": {\"host\": ");
	cat_json_str(stdout, ck->mx.hosts[a->host].name);
	printf(", \"address\": ");
	cat_json_str(stdout, a->addr);
	printf(", \"port\": %u},\n  \"greeting\": ", ck->port);
	check_json_reply(&ck->s.greeting, ck->lang);
	printf(",\n");
	if (ck->s.greeting.code != 220 || ck->s.ehlo.code == 0)
		printf("  \"ehlo\": null,\n");
	else
		check_json_ehlo(ck);
	if (smtp_reply_ok(&ck->s.ehlo) || smtp_reply_ok(&ck->s.helo))
		check_json_tls(ck);
	else
		printf("  \"tls\": null,\n");
}

static void
check_json_transcript(const struct check *ck)
{
	const char *p = ck->log, *nl, *end = ck->log + ck->loglen;

	printf(",\n  \"transcript\": [");
	for (; p != NULL && p < end; p = nl + 1) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			break;
		printf("%s\n    ", p != ck->log ? "," : "");
		check_json_strn(p, (size_t)(nl - p));
	}
	printf("%s]", ck->loglen ? "\n  " : "");
}

void
check_json(const struct check *ck)
{
	char msg[CHECK_TEXT_MAX];

	printf("{\n  \"address\": ");
	cat_json_str(stdout, ck->address);
	printf(",\n  \"domain\": ");
	cat_json_str(stdout, ck->domain);
	printf(",\n  \"lang\": \"%s\",\n  ", cat_lang_name(ck->lang));
	check_json_bool("local_domain", ck->local, ",\n  ");
	printf("\"port\": %u,\n  \"timeout\": %u,\n", ck->port, ck->timeout);
	check_json_mx(ck);
	check_json_attempts(ck);
	check_json_session(ck);
	(void)check_verdict_sentence(ck, msg, sizeof(msg));
	printf("  \"verdict\": {\"result\": \"%s\", \"reason\": \"%s\", "
	    "\"exit\": %d, \"message\": ",
	    check_result_str(check_reason_result(ck->reason)),
	    check_reason_str(ck->reason), check_reason_exit(ck->reason));
	cat_json_str(stdout, msg);
	printf("}");
	if (ck->verbose)
		check_json_transcript(ck);
	printf("\n}\n");
}
