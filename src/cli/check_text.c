/*
 * The words of `postern check`, in English and Japanese: every sentence
 * the steps and the verdict print is in check_msgs[] below, both
 * languages side by side with the same printf conversions in the same
 * order (tests/unit/check_test.c holds them to that), and the EHLO
 * keywords are described in check_exts[]. Reply codes are explained by
 * the catalogue, not here. Owns nothing; runs in the CLI process.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "cli/check_int.h"
#include "cli/mx_print.h"
#include "conf/conf.h"

enum check_msg {
	M_INTRO, M_H_MX, M_H_CONNECT, M_H_SMTP, M_H_TLS,
	M_LITERAL, M_LOCAL, M_NULL_MX_REPLY,
	M_C_ANSWERED, M_C_FAILED, M_C_SILENT, M_C_CLOSED, M_C_NOT_SMTP,
	M_C_NO_ADDRESS,
	M_S_GREETING, M_S_EHLO_EXT, M_S_EHLO_NOEXT, M_S_EHLO_REFUSED,
	M_S_HELO_OK, M_S_HELO_REFUSED, M_S_MISSING, M_S_EXT_DESC,
	M_S_SIZE_LIMIT, M_S_SIZE_NONE,
	M_T_NOT_OFFERED, M_T_REFUSED, M_T_FAILED, M_T_PLAIN, M_T_OK,
	M_T_VERIFIED, M_T_UNVERIFIED, M_T_SUBJECT, M_T_UNVERIFIED_NOTE,
	M_T_EHLO_OK, M_T_EHLO_REFUSED,
	M_VERDICT, M_LIST_SEP,
	M_V_DELIVERABLE, M_V_NULL_MX, M_V_NO_DOMAIN, M_V_NO_MAIL_HOST,
	M_V_NO_ADDRESS, M_V_DNS_FAILURE, M_V_DNS_TIMEOUT, M_V_UNREACHABLE,
	M_V_GREETING_PERM, M_V_GREETING_TEMP, M_V_EHLO_PERM, M_V_EHLO_TEMP,
	M_V_SESSION_FAILED, M_V_NO_SMTPUTF8,
	M_NMSG
};

static const char *const check_msgs[M_NMSG][CAT_NLANG] = {
	[M_INTRO] = {
		"Checking delivery to %s: its domain's MX hosts, then the "
		"first one that answers. No MAIL or RCPT is sent, so the "
		"mailbox itself is not probed.\n",
		"%s への配送を診断します。ドメインの MX ホストを調べ、応答"
		"する最初のホストに接続します。MAIL・RCPT は送らないため、"
		"メールボックスの有無は確かめません。\n" },
	[M_H_MX] = {
		"\n1. MX records of %s\n",
		"\n1. %s の MX レコード\n" },
	[M_H_CONNECT] = {
		"\n2. Connection (port %u, at most %u s per address)\n",
		"\n2. 接続（ポート %u、アドレスごとに最長 %u 秒）\n" },
	[M_H_SMTP] = {
		"\n3. Greeting and EHLO of %s (%s)\n",
		"\n3. %s（%s）のグリーティングと EHLO\n" },
	[M_H_TLS] = {
		"\n4. STARTTLS\n",
		"\n4. STARTTLS\n" },
	[M_LITERAL] = {
		"%s is an address literal: no DNS lookup; mail goes straight "
		"to %s\n",
		"%s はアドレスリテラルです。DNS は引かず、%s へ直接配送"
		"します\n" },
	[M_LOCAL] = {
		"note: %s is a local domain in this server's configuration: "
		"Postern delivers its mail to Maildir itself. What follows is "
		"what other servers find.\n",
		"注意：%s はこのサーバーの設定ではローカルドメインです。"
		"Postern 自身はそのメールを Maildir に配送します。以下は"
		"ほかのサーバーから見た結果です。\n" },
	[M_NULL_MX_REPLY] = {
		"Mail to it is refused at RCPT with \"%s\", or bounced at "
		"once without retries:\n",
		"このドメイン宛てのメールは RCPT で「%s」として拒否されるか、"
		"再試行なしでただちに返送されます：\n" },
	[M_C_ANSWERED] = {
		"  %s %s: answered\n",
		"  %s %s：応答あり\n" },
	[M_C_FAILED] = {
		"  %s %s: cannot connect: %s\n",
		"  %s %s：接続できません：%s\n" },
	[M_C_SILENT] = {
		"  %s %s: connected, but no greeting within %u s\n",
		"  %s %s：接続しましたが、%u 秒以内にグリーティングが"
		"ありません\n" },
	[M_C_CLOSED] = {
		"  %s %s: connected, but the server closed the connection "
		"before its greeting\n",
		"  %s %s：接続しましたが、グリーティングの前にサーバーが"
		"接続を閉じました\n" },
	[M_C_NOT_SMTP] = {
		"  %s %s: connected, but the server does not answer as an "
		"SMTP server: %s\n",
		"  %s %s：接続しましたが、SMTP サーバーとして応答しません："
		"%s\n" },
	[M_C_NO_ADDRESS] = {
		"  %s: skipped, it has no address (%s)\n",
		"  %s：アドレスがないため飛ばします（%s）\n" },
	[M_S_GREETING] = {
		"  greeting: %s\n",
		"  グリーティング：%s\n" },
	[M_S_EHLO_EXT] = {
		"  EHLO %s: accepted; extensions offered:\n",
		"  EHLO %s：受理されました。提供されている拡張：\n" },
	[M_S_EHLO_NOEXT] = {
		"  EHLO %s: accepted; no extensions offered\n",
		"  EHLO %s：受理されました。拡張は提供されていません\n" },
	[M_S_EHLO_REFUSED] = {
		"  EHLO %s: refused: %s\n",
		"  EHLO %s：拒否されました：%s\n" },
	[M_S_HELO_OK] = {
		"  HELO %s: accepted; without EHLO the server offers no "
		"extensions (no STARTTLS, SIZE, 8BITMIME or SMTPUTF8)\n",
		"  HELO %s：受理されました。EHLO を使えないため、拡張"
		"（STARTTLS、SIZE、8BITMIME、SMTPUTF8 など）は使えません\n" },
	[M_S_HELO_REFUSED] = {
		"  HELO %s: refused: %s\n",
		"  HELO %s：拒否されました：%s\n" },
	[M_S_MISSING] = {
		"  not offered: %s\n",
		"  提供されていない拡張：%s\n" },
	[M_S_EXT_DESC] = {
		" - %s",
		"：%s" },
	[M_S_SIZE_LIMIT] = {
		"messages up to %s (RFC 1870)",
		"%s までのメッセージを受け付けます（RFC 1870）" },
	[M_S_SIZE_NONE] = {
		"no size limit announced (RFC 1870)",
		"サイズの上限は示されていません（RFC 1870）" },
	[M_T_NOT_OFFERED] = {
		"  STARTTLS is not offered: mail to this server travels "
		"unencrypted (not a failure: it is still delivered)\n",
		"  STARTTLS は提供されていません。このサーバーへのメールは"
		"暗号化されずに送られます（配送はできるので失敗ではありま"
		"せん）\n" },
	[M_T_REFUSED] = {
		"  STARTTLS is offered but refused: %s; mail travels "
		"unencrypted\n",
		"  STARTTLS は提供されていますが拒否されました：%s。メールは"
		"暗号化されずに送られます\n" },
	[M_T_FAILED] = {
		"  STARTTLS is offered, but the TLS handshake fails: %s\n",
		"  STARTTLS は提供されていますが、TLS ハンドシェイクに失敗"
		"します：%s\n" },
	[M_T_PLAIN] = {
		"  without TLS the session works: a sender that falls back to "
		"plain text after a failed handshake (opportunistic TLS) "
		"delivers, unencrypted\n",
		"  TLS なしではセッションが成り立ちます。ハンドシェイクの失敗"
		"後に平文へ切り替える送信側（日和見 TLS）は、暗号化せずに"
		"配送します\n" },
	[M_T_OK] = {
		"  TLS established: %s, cipher %s\n",
		"  TLS を確立しました：%s、暗号スイート %s\n" },
	[M_T_VERIFIED] = {
		"  certificate: verified for %s\n",
		"  証明書：%s として検証できました\n" },
	[M_T_UNVERIFIED] = {
		"  certificate: NOT verified for %s: %s\n",
		"  証明書：%s として検証できません：%s\n" },
	[M_T_SUBJECT] = {
		"  certificate subject: %s\n",
		"  証明書のサブジェクト：%s\n" },
	[M_T_UNVERIFIED_NOTE] = {
		"  opportunistic TLS, as used between MX hosts, still "
		"encrypts the mail but does not authenticate the server; a "
		"sender that requires a verified certificate (MTA-STS, for "
		"instance) does not deliver\n",
		"  MX 間で使われる日和見 TLS ではメールは暗号化されますが、"
		"サーバーの真正性は確かめられません。検証済みの証明書を要求"
		"する送信側（MTA-STS など）は配送しません\n" },
	[M_T_EHLO_OK] = {
		"  EHLO %s again inside TLS: accepted\n",
		"  TLS 上で再び EHLO %s：受理されました\n" },
	[M_T_EHLO_REFUSED] = {
		"  EHLO %s again inside TLS: refused: %s\n",
		"  TLS 上で再び EHLO %s：拒否されました：%s\n" },
	[M_VERDICT] = {
		"\nVerdict: %s\n",
		"\n判定：%s\n" },
	[M_LIST_SEP] = {
		", ",
		"、" },
	[M_V_DELIVERABLE] = {
		"deliverable. %s (%s) answers and accepts a session; whether "
		"the mailbox %s exists is not checked.",
		"配送できます。%s（%s）が応答し、セッションを受け付けます。"
		"メールボックス %s の有無は確かめていません。" },
	[M_V_NULL_MX] = {
		"not deliverable, permanently: %s publishes a null MX and "
		"accepts no mail.",
		"配送できません（恒久的）。%s はヌル MX を公開しており、"
		"メールを一切受け付けません。" },
	[M_V_NO_DOMAIN] = {
		"not deliverable, permanently: the domain %s does not exist.",
		"配送できません（恒久的）。ドメイン %s は存在しません。" },
	[M_V_NO_MAIL_HOST] = {
		"not deliverable, permanently: %s has neither MX nor address "
		"records, so no server receives its mail.",
		"配送できません（恒久的）。%s には MX レコードもアドレス"
		"レコードもなく、メールを受け取るサーバーがありません。" },
	[M_V_NO_ADDRESS] = {
		"not deliverable, permanently: no MX host of %s has an "
		"address.",
		"配送できません（恒久的）。%s のどの MX ホストにもアドレスが"
		"ありません。" },
	[M_V_DNS_FAILURE] = {
		"not deliverable now (temporary): the DNS lookup of %s failed "
		"(%s); a sender keeps the mail queued and retries.",
		"今は配送できません（一時的）。%s の DNS 検索に失敗しました"
		"（%s）。送信側はメールをキューに残して再試行します。" },
	[M_V_DNS_TIMEOUT] = {
		"not deliverable now (temporary): no DNS answer for %s within "
		"%u s; a sender keeps the mail queued and retries.",
		"今は配送できません（一時的）。%s の DNS 応答が %u 秒以内に"
		"ありません。送信側はメールをキューに残して再試行します。" },
	[M_V_UNREACHABLE] = {
		"not deliverable now (temporary): no MX host of %s answers on "
		"port %u; a sender keeps the mail queued and retries.",
		"今は配送できません（一時的）。%s の MX ホストはどれもポート "
		"%u で応答しません。送信側はメールをキューに残して再試行"
		"します。" },
	[M_V_GREETING_PERM] = {
		"not deliverable, permanently: %s refuses the session with "
		"%d at its greeting (often a refusal of this host's address "
		"only).",
		"配送できません（恒久的）。%s はグリーティングで %d を返し、"
		"セッションを拒否しています（このホストのアドレスだけを拒否"
		"していることがよくあります）。" },
	[M_V_GREETING_TEMP] = {
		"not deliverable now (temporary): %s answers %d at its "
		"greeting; a sender retries later.",
		"今は配送できません（一時的）。%s はグリーティングで %d を"
		"返しました。送信側は後で再試行します。" },
	[M_V_EHLO_PERM] = {
		"not deliverable, permanently: %s refuses EHLO/HELO with %d.",
		"配送できません（恒久的）。%s は EHLO/HELO を %d で拒否して"
		"います。" },
	[M_V_EHLO_TEMP] = {
		"not deliverable now (temporary): %s answers %d to EHLO/HELO; "
		"a sender retries later.",
		"今は配送できません（一時的）。%s は EHLO/HELO に %d を返し"
		"ました。送信側は後で再試行します。" },
	[M_V_SESSION_FAILED] = {
		"not deliverable now (temporary): the session with %s failed: "
		"%s; a sender retries later.",
		"今は配送できません（一時的）。%s とのセッションが失敗しま"
		"した：%s。送信側は後で再試行します。" },
	[M_V_NO_SMTPUTF8] = {
		"not deliverable, permanently: %s is not ASCII and needs "
		"SMTPUTF8 (RFC 6531), which %s does not offer.",
		"配送できません（恒久的）。%s は ASCII ではないため SMTPUTF8"
		"（RFC 6531）が必要ですが、%s は提供していません。" },
};

/* EHLO keywords worth a word (SIZE, with its limit, is in check_msgs). */
static const struct {
	const char	*kw;
	const char	*text[CAT_NLANG];
} check_exts[] = {
	{ "PIPELINING", { "several commands per round trip (RFC 2920)",
	    "複数のコマンドをまとめて送れます（RFC 2920）" } },
	{ "8BITMIME", { "8-bit message bodies (RFC 6152)",
	    "8 ビットの本文を受け付けます（RFC 6152）" } },
	{ "SMTPUTF8", { "UTF-8 addresses and headers (RFC 6531)",
	    "UTF-8 のアドレスとヘッダーを受け付けます（RFC 6531）" } },
	{ "STARTTLS", { "encryption with TLS (RFC 3207)",
	    "TLS で暗号化できます（RFC 3207）" } },
	{ "ENHANCEDSTATUSCODES", { "enhanced status codes in replies "
	    "(RFC 2034)", "応答に拡張ステータスコードを付けます"
	    "（RFC 2034）" } },
	{ "DSN", { "delivery status notifications (RFC 3461)",
	    "配送状態通知を扱えます（RFC 3461）" } },
	{ "CHUNKING", { "the BDAT command (RFC 3030)",
	    "BDAT コマンドを使えます（RFC 3030）" } },
	{ "BINARYMIME", { "binary message bodies (RFC 3030)",
	    "バイナリの本文を受け付けます（RFC 3030）" } },
	{ "AUTH", { "authentication for submission (RFC 4954); not used "
	    "between MX hosts", "送信者の認証（RFC 4954）。MX 間の配送では"
	    "使いません" } },
	{ "REQUIRETLS", { "senders may require TLS along the whole path "
	    "(RFC 8689)", "経路全体での TLS を要求できます（RFC 8689）" } },
};

/* The five that matter most for delivery, in the order shown. */
static const struct {
	const char	*kw;
	unsigned	 bit;
} check_key_exts[] = {
	{ "PIPELINING", SMTP_EXT_PIPELINING }, { "SIZE", SMTP_EXT_SIZE },
	{ "8BITMIME", SMTP_EXT_8BITMIME }, { "SMTPUTF8", SMTP_EXT_SMTPUTF8 },
	{ "STARTTLS", SMTP_EXT_STARTTLS },
};

#define NEXTS (sizeof(check_exts) / sizeof(check_exts[0]))
#define NKEYEXTS (sizeof(check_key_exts) / sizeof(check_key_exts[0]))

const char *
check_msg_fmt(unsigned m, enum cat_lang lang)
{
	if (m >= M_NMSG)
		return "";
	return check_msgs[m][lang == CAT_LANG_JA ? CAT_LANG_JA : CAT_LANG_EN];
}

unsigned
check_msg_count(void)
{
	return M_NMSG;
}

/*
 * The formats come from the table above, not from literals; the unit
 * test checks that both languages take the same conversions.
 */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
static void
check_say(const struct check *ck, enum check_msg m, ...)
{
	va_list ap;

	va_start(ap, m);
	(void)vfprintf(stdout, check_msg_fmt(m, ck->lang), ap);
	va_end(ap);
}

static int
check_fmt(char *buf, size_t bufsz, enum cat_lang lang, enum check_msg m,
    ...)
{
	va_list ap;
	int n;

	va_start(ap, m);
	n = vsnprintf(buf, bufsz, check_msg_fmt(m, lang), ap);
	va_end(ap);
	return n;
}
#pragma GCC diagnostic pop

/* "35.0 MiB", "512.0 KiB", "900 B". */
static void
check_human_size(uint64_t n, char *buf, size_t bufsz)
{
	if (n >= 1024 * 1024)
		(void)snprintf(buf, bufsz, "%.1f MiB", (double)n / 1048576.0);
	else if (n >= 1024)
		(void)snprintf(buf, bufsz, "%.1f KiB", (double)n / 1024.0);
	else
		(void)snprintf(buf, bufsz, "%" PRIu64 " B", n);
}

/*
 * The description of the EHLO keyword kw (kwlen bytes) whose whole line
 * is line, into buf. 1 if the keyword is known, 0 if not (buf "").
 */
int
check_ext_describe(const char *kw, size_t kwlen, const char *line,
    enum cat_lang lang, char *buf, size_t bufsz)
{
	char size[32];
	uint64_t n = 0;
	size_t i;
	int l = lang == CAT_LANG_JA ? CAT_LANG_JA : CAT_LANG_EN;

	buf[0] = '\0';
	if (kwlen == 4 && strncasecmp(kw, "SIZE", 4) == 0) {
		if (line[4] == ' ' && sscanf(line + 5, "%" SCNu64, &n) == 1 &&
		    n > 0) {
			check_human_size(n, size, sizeof(size));
			(void)check_fmt(buf, bufsz, lang, M_S_SIZE_LIMIT,
			    size);
		} else
			(void)check_fmt(buf, bufsz, lang, M_S_SIZE_NONE);
		return 1;
	}
	for (i = 0; i < NEXTS; i++)
		if (strlen(check_exts[i].kw) == kwlen &&
		    strncasecmp(check_exts[i].kw, kw, kwlen) == 0) {
			(void)snprintf(buf, bufsz, "%s", check_exts[i].text[l]);
			return 1;
		}
	return 0;
}

void
check_text_intro(const struct check *ck)
{
	check_say(ck, M_INTRO, ck->address);
}

void
check_text_mx(const struct check *ck)
{
	static const char null_mx[] = "556 5.1.10 Recipient address has "
	    "null MX";
	const struct dns_mx_result *r = &ck->mx;

	check_say(ck, M_H_MX, ck->domain);
	if (ck->literal) {
		check_say(ck, M_LITERAL, ck->domain, r->hosts[0].name);
		return;
	}
	if (ck->local)
		check_say(ck, M_LOCAL, ck->domain);
	cli_mx_print_notes(stdout, r, ck->lang);
	if (r->status == DNS_OK) {
		cli_mx_print_hosts(stdout, r, ck->lang);
		return;
	}
	(void)cli_mx_say_failure(stdout, r->domain, r->status, r->why,
	    ck->timeout, ck->lang);
	if (r->status == DNS_NO_ADDRESS)
		cli_mx_print_hosts(stdout, r, ck->lang);
	if (r->status == DNS_NULL_MX) {
		check_say(ck, M_NULL_MX_REPLY, null_mx);
		(void)cli_print_explained(stdout, null_mx, strlen(null_mx),
		    ck->lang);
	}
}

void
check_text_connect(const struct check *ck)
{
	check_say(ck, M_H_CONNECT, ck->port, ck->timeout);
}

void
check_text_attempt(const struct check *ck, const struct check_attempt *att)
{
	const char *host = ck->mx.hosts[att->host].name;

	switch (att->conn) {
	case CHECK_CONN_ANSWERED:
		check_say(ck, M_C_ANSWERED, host, att->peer);
		break;
	case CHECK_CONN_FAILED:
		check_say(ck, M_C_FAILED, host, att->peer, att->why);
		break;
	case CHECK_CONN_SILENT:
		check_say(ck, M_C_SILENT, host, att->peer, ck->timeout);
		break;
	case CHECK_CONN_CLOSED:
		check_say(ck, M_C_CLOSED, host, att->peer);
		break;
	case CHECK_CONN_NOT_SMTP:
		check_say(ck, M_C_NOT_SMTP, host, att->peer, att->why);
		break;
	case CHECK_CONN_NO_ADDRESS:
		check_say(ck, M_C_NO_ADDRESS, host, att->why);
		break;
	}
	fflush(stdout);
}

/* A reply on one line, and its explanation when it is not 2xx. */
static void
check_reply_line(const struct check *ck, enum check_msg m, const char *name,
    const struct smtp_reply *r)
{
	char line[SMTP_REPLY_TEXT_MAX + 32];

	(void)smtp_reply_format(r, line, sizeof(line));
	if (name != NULL)
		check_say(ck, m, name, line);
	else
		check_say(ck, m, line);
	(void)cli_print_explained(stdout, line, strlen(line), ck->lang);
}

/* The keywords of an accepted EHLO, one per line, then what is missing. */
static void
check_text_exts(const struct check *ck)
{
	const struct check_session *s = &ck->s;
	const char *p = strchr(s->ehlo.text, '\n'), *nl;
	char desc[256], missing[128];
	size_t len, kwlen, i;

	for (; p != NULL; p = nl) {
		p++;
		nl = strchr(p, '\n');
		len = nl != NULL ? (size_t)(nl - p) : strlen(p);
		kwlen = strcspn(p, " \n");
		fputs("    ", stdout);
		cli_print_safe(stdout, p, len);
		if (check_ext_describe(p, kwlen, p, ck->lang, desc,
		    sizeof(desc)))
			check_say(ck, M_S_EXT_DESC, desc);
		fputs("\n", stdout);
	}
	missing[0] = '\0';
	for (i = 0; i < NKEYEXTS; i++) {
		if (s->ext_plain.ext & check_key_exts[i].bit)
			continue;
		len = strlen(missing);
		(void)snprintf(missing + len, sizeof(missing) - len, "%s%s",
		    len > 0 ? check_msg_fmt(M_LIST_SEP, ck->lang) : "",
		    check_key_exts[i].kw);
	}
	if (missing[0] != '\0')
		check_say(ck, M_S_MISSING, missing);
}

/* Step 3; 1 if EHLO or HELO was accepted. */
static int
check_text_ehlo(const struct check *ck)
{
	const struct check_session *s = &ck->s;
	const char *me = ck->conf->hostname;

	if (s->greeting.code == 0)
		return 0;
	check_reply_line(ck, M_S_GREETING, NULL, &s->greeting);
	if (s->greeting.code != 220 || s->ehlo.code == 0)
		return 0;
	if (smtp_reply_ok(&s->ehlo)) {
		check_say(ck, strchr(s->ehlo.text, '\n') != NULL ?
		    M_S_EHLO_EXT : M_S_EHLO_NOEXT, me);
		check_text_exts(ck);
		return 1;
	}
	check_reply_line(ck, M_S_EHLO_REFUSED, me, &s->ehlo);
	if (s->helo.code == 0)
		return 0;
	if (smtp_reply_ok(&s->helo)) {
		check_say(ck, M_S_HELO_OK, me);
		return 1;
	}
	check_reply_line(ck, M_S_HELO_REFUSED, me, &s->helo);
	return 0;
}

/* The TLS session: version, cipher, certificate, EHLO again. */
static void
check_text_tls_up(const struct check *ck, const char *host)
{
	const struct check_session *s = &ck->s;

	check_say(ck, M_T_OK, s->tls.version, s->tls.cipher);
	if (s->tls.verified)
		check_say(ck, M_T_VERIFIED, host);
	else
		check_say(ck, M_T_UNVERIFIED, host, s->tls.verify_error);
	if (s->tls.peer[0] != '\0')
		check_say(ck, M_T_SUBJECT, s->tls.peer);
	if (!s->tls.verified)
		check_say(ck, M_T_UNVERIFIED_NOTE);
	if (s->ehlo_tls.code == 0)
		return;
	if (smtp_reply_ok(&s->ehlo_tls))
		check_say(ck, M_T_EHLO_OK, ck->conf->hostname);
	else
		check_reply_line(ck, M_T_EHLO_REFUSED, ck->conf->hostname,
		    &s->ehlo_tls);
}

/* Step 4. */
static void
check_text_tls(const struct check *ck, const char *host)
{
	const struct check_session *s = &ck->s;

	check_say(ck, M_H_TLS);
	if (!(s->ext_plain.ext & SMTP_EXT_STARTTLS))
		check_say(ck, M_T_NOT_OFFERED);
	else if (s->tls_failed) {
		check_say(ck, M_T_FAILED, s->tls_error);
		if (s->ready)
			check_say(ck, M_T_PLAIN);
	} else if (s->starttls.code != 0 && s->starttls.code != 220)
		check_reply_line(ck, M_T_REFUSED, NULL, &s->starttls);
	else if (s->tls.active)
		check_text_tls_up(ck, host);
}

void
check_text_session(const struct check *ck)
{
	const struct check_attempt *att = &ck->attempts[ck->answered];
	const char *host = ck->mx.hosts[att->host].name;

	check_say(ck, M_H_SMTP, host, att->peer);
	if (check_text_ehlo(ck))
		check_text_tls(ck, host);
	fflush(stdout);
}

/* The name of the MX host that answered, or "". */
static const char *
check_answered_host(const struct check *ck)
{
	if (ck->answered < 0)
		return "";
	return ck->mx.hosts[ck->attempts[ck->answered].host].name;
}

int
check_verdict_sentence(const struct check *ck, char *buf, size_t bufsz)
{
	const char *host = check_answered_host(ck), *peer = "";
	enum cat_lang l = ck->lang;
	int code = ck->s.greeting.code;

	if (ck->answered >= 0)
		peer = ck->attempts[ck->answered].peer;
	if (ck->reason == CHECK_R_EHLO_PERM || ck->reason == CHECK_R_EHLO_TEMP)
		code = ck->s.err.reply.code;
	switch (ck->reason) {
	case CHECK_R_DELIVERABLE:
		return check_fmt(buf, bufsz, l, M_V_DELIVERABLE, host, peer,
		    ck->address);
	case CHECK_R_NULL_MX:
		return check_fmt(buf, bufsz, l, M_V_NULL_MX, ck->domain);
	case CHECK_R_NO_DOMAIN:
		return check_fmt(buf, bufsz, l, M_V_NO_DOMAIN, ck->domain);
	case CHECK_R_NO_MAIL_HOST:
		return check_fmt(buf, bufsz, l, M_V_NO_MAIL_HOST, ck->domain);
	case CHECK_R_NO_ADDRESS:
		return check_fmt(buf, bufsz, l, M_V_NO_ADDRESS, ck->domain);
	case CHECK_R_DNS_FAILURE:
		return check_fmt(buf, bufsz, l, M_V_DNS_FAILURE, ck->domain,
		    ck->why);
	case CHECK_R_DNS_TIMEOUT:
		return check_fmt(buf, bufsz, l, M_V_DNS_TIMEOUT, ck->domain,
		    ck->timeout);
	case CHECK_R_UNREACHABLE:
		return check_fmt(buf, bufsz, l, M_V_UNREACHABLE, ck->domain,
		    ck->port);
	case CHECK_R_GREETING_PERM:
		return check_fmt(buf, bufsz, l, M_V_GREETING_PERM, host, code);
	case CHECK_R_GREETING_TEMP:
		return check_fmt(buf, bufsz, l, M_V_GREETING_TEMP, host, code);
	case CHECK_R_EHLO_PERM:
		return check_fmt(buf, bufsz, l, M_V_EHLO_PERM, host, code);
	case CHECK_R_EHLO_TEMP:
		return check_fmt(buf, bufsz, l, M_V_EHLO_TEMP, host, code);
	case CHECK_R_SESSION_FAILED:
		return check_fmt(buf, bufsz, l, M_V_SESSION_FAILED, host,
		    ck->why);
	case CHECK_R_NO_SMTPUTF8:
		return check_fmt(buf, bufsz, l, M_V_NO_SMTPUTF8, ck->address,
		    host);
	default:
		return check_fmt(buf, bufsz, l, M_V_SESSION_FAILED, host, "?");
	}
}

void
check_text_verdict(const struct check *ck)
{
	char buf[CHECK_TEXT_MAX];

	(void)check_verdict_sentence(ck, buf, sizeof(buf));
	check_say(ck, M_VERDICT, buf);
}
