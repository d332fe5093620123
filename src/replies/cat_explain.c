/*
 * Explanations built from the catalogue: the labels of the explainer in
 * each language, the language choice from the environment, the sentence
 * on how a basic and an enhanced code combine, and the one-paragraph
 * explanation of a reply that `send -v`, `queue list` and DSN bounces
 * print. Writes only into caller buffers. Pure; any process.
 */
#include "replies/catalogue.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/log.h"

static const struct cat_ui cat_ui_tab[CAT_NLANG] = {
	[CAT_LANG_EN] = {
		"Description", "When you see it", "How to resolve",
		"Defined in", "Class", "Subject", "Category",
		"Sent in reply to", "Used with basic codes", "Together",
		"Malformed reply", "Note", "Server text", "Key differences",
		"Meaning", "What to do", ": ", "not a known reply code",
		"none registered",
		{ NULL, NULL, "the command succeeded", "continue the exchange",
		  "retry later", "give up and do not retry unchanged" },
	},
	[CAT_LANG_JA] = {
		"説明", "このコードが表示される場合", "解決方法",
		"定義", "クラス", "サブジェクト", "分類",
		"応答するコマンド", "併用される基本コード", "組み合わせ",
		"不正な応答", "注記", "サーバーのテキスト", "主な違い",
		"意味", "対処", "：", "既知の応答コードではありません",
		"登録なし",
		{ NULL, NULL, "コマンドは成功しました", "やり取りを続けます",
		  "時間をおいて再試行します",
		  "あきらめ、同じ内容では再試行しません" },
	},
};

/* Sentences of cat_combine(), per language (printf formats). */
struct cat_say {
	const char	*together;	/* basic, class title, action, enh,
					   enh title */
	const char	*unusual;	/* enh, list, basic */
	const char	*mismatch;	/* basic, cls, enh, enh cls, title */
	const char	*bad_enh;	/* enh */
	const char	*code_mismatch;
	const char	*continuation;
	const char	*enh_mismatch;
	const char	*truncated;
	const char	*unknown_enh;	/* enh */
	const char	*what_to_do;	/* "What to do: " */
};

static const struct cat_say cat_say_tab[CAT_NLANG] = {
	[CAT_LANG_EN] = {
		"The basic code %d decides what the client does (%s: %s); "
		"the enhanced code %s gives the reason: %s.",
		"The IANA registry lists %s with basic code %s, so %d with "
		"it is unusual, though not wrong.",
		"Malformed: %d is a %dxx reply but %s has class %d; the class "
		"of an enhanced status code must match the first digit of "
		"the reply (RFC 3463, RFC 2034). Clients act on the basic "
		"code, so treat this reply as %s.",
		"Malformed: %s is not a valid enhanced status code; its class "
		"must be 2, 4 or 5 (RFC 3463).",
		"Malformed: the lines of this multi-line reply carry different "
		"reply codes; every line must carry the same code (RFC 5321, "
		"section 4.2.1).",
		"Malformed: in a multi-line reply every line but the last puts "
		"a hyphen after the code and the last line puts a space "
		"(RFC 5321, section 4.2.1).",
		"Note: the lines carry different enhanced status codes; the "
		"first one is explained.",
		"Note: the reply text was too long and has been cut.",
		"%s is not in the IANA registry of enhanced status codes.",
		"What to do: ",
	},
	[CAT_LANG_JA] = {
		"基本コード %d がクライアントの動作を決め（%s：%s）、"
		"拡張ステータスコード %s がその理由を示します：%s。",
		"IANA レジストリでは %s は基本コード %s と組み合わせるものとされて"
		"います。%d との組み合わせは珍しいものの、誤りではありません。",
		"不正な応答：%d は %dxx 応答ですが、%s のクラスは %d です。拡張"
		"ステータスコードのクラスは応答コードの先頭の数字と一致しなければ"
		"なりません（RFC 3463、RFC 2034）。クライアントは基本コードに従って"
		"動作するため、この応答は「%s」として扱ってください。",
		"不正な応答：%s は正しい拡張ステータスコードではありません。"
		"クラスは 2、4、5 のいずれかでなければなりません（RFC 3463）。",
		"不正な応答：複数行の応答の各行で応答コードが異なります。すべての"
		"行に同じコードを付けなければなりません（RFC 5321 4.2.1 節）。",
		"不正な応答：複数行の応答では、最後の行以外はコードの直後にハイフン"
		"を、最後の行は空白を置きます（RFC 5321 4.2.1 節）。",
		"注記：行ごとに異なる拡張ステータスコードが付いています。最初の"
		"コードを説明しています。",
		"注記：応答のテキストが長すぎるため、途中で切り詰めました。",
		"%s は IANA の拡張ステータスコードのレジストリに登録されていません。",
		"対処：",
	},
};

const struct cat_ui *
cat_ui(enum cat_lang lang)
{
	return &cat_ui_tab[lang == CAT_LANG_JA ? CAT_LANG_JA : CAT_LANG_EN];
}

static const struct cat_say *
cat_say(enum cat_lang lang)
{
	return &cat_say_tab[lang == CAT_LANG_JA ? CAT_LANG_JA : CAT_LANG_EN];
}

const char *
cat_lang_name(enum cat_lang lang)
{
	return lang == CAT_LANG_JA ? "ja" : "en";
}

int
cat_lang_parse(const char *s, enum cat_lang *lang)
{
	if (s == NULL)
		return -1;
	if (strncasecmp(s, "ja", 2) == 0 && (s[2] == '\0' || s[2] == '_' ||
	    s[2] == '-' || s[2] == '.')) {
		*lang = CAT_LANG_JA;
		return 0;
	}
	if (strncasecmp(s, "en", 2) == 0 && (s[2] == '\0' || s[2] == '_' ||
	    s[2] == '-' || s[2] == '.')) {
		*lang = CAT_LANG_EN;
		return 0;
	}
	return -1;
}

enum cat_lang
cat_lang_env(void)
{
	static const char *vars[] = { "LC_ALL", "LC_MESSAGES", "LANG" };
	enum cat_lang lang = CAT_LANG_EN;
	const char *v;
	size_t i;

	for (i = 0; i < sizeof(vars) / sizeof(vars[0]); i++) {
		v = getenv(vars[i]);
		if (v == NULL || v[0] == '\0')
			continue;
		(void)cat_lang_parse(v, &lang);
		break;
	}
	return lang;
}

/* A bounded string builder over a caller buffer. */
struct cat_sb {
	char		*p;
	size_t		 sz;
	size_t		 len;
	int		 full;
};

static void cat_sb_printf(struct cat_sb *, const char *, ...)
    PRINTFLIKE(2, 3);

static void
cat_sb_printf(struct cat_sb *sb, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (sb->full || sb->sz == 0)
		return;
	va_start(ap, fmt);
	n = vsnprintf(sb->p + sb->len, sb->sz - sb->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sb->sz - sb->len) {
		sb->full = 1;
		sb->len = strlen(sb->p);
		return;
	}
	sb->len += (size_t)n;
}

/* A space between sentences, except after Japanese punctuation. */
static void
cat_sb_gap(struct cat_sb *sb, enum cat_lang lang)
{
	if (sb->len > 0 && lang != CAT_LANG_JA)
		cat_sb_printf(sb, " ");
}

int
cat_pairs_with(const struct cat_entry *e, int b)
{
	const char *p;
	char *end;
	long v;

	if (e == NULL || e->basic == NULL)
		return 0;
	if (strcasecmp(e->basic, "any") == 0)
		return 1;
	for (p = e->basic; *p != '\0'; p = end) {
		while (*p == ' ' || *p == ',')
			p++;
		if (*p == '\0')
			break;
		v = strtol(p, &end, 10);
		if (end == p)
			return 0;
		if (v == b)
			return 1;
	}
	return 0;
}

static void
cat_combine_notes(struct cat_sb *sb, const struct cat_reply *r,
    enum cat_lang lang)
{
	const struct cat_say *say = cat_say(lang);

	if (r->problems & CAT_P_CODE_MISMATCH) {
		cat_sb_gap(sb, lang);
		cat_sb_printf(sb, "%s", say->code_mismatch);
	}
	if (r->problems & CAT_P_CONTINUATION) {
		cat_sb_gap(sb, lang);
		cat_sb_printf(sb, "%s", say->continuation);
	}
	if (r->problems & CAT_P_ENH_MISMATCH) {
		cat_sb_gap(sb, lang);
		cat_sb_printf(sb, "%s", say->enh_mismatch);
	}
	if (r->problems & CAT_P_TRUNCATED) {
		cat_sb_gap(sb, lang);
		cat_sb_printf(sb, "%s", say->truncated);
	}
}

int
cat_combine(char *buf, size_t bufsz, const struct cat_reply *r,
    enum cat_lang lang)
{
	struct cat_sb sb = { buf, bufsz, 0, 0 };
	const struct cat_say *say = cat_say(lang);
	const struct cat_entry *e = NULL, *cl;
	const char *ctitle;
	char enh[16];
	int bcls = r->basic / 100;

	if (bufsz > 0)
		buf[0] = '\0';
	(void)snprintf(enh, sizeof(enh), "%d.%d.%d", r->enh_cls,
	    r->enh_subject, r->enh_detail);
	if (r->enh_cls != 0)
		e = cat_enhanced(r->enh_subject, r->enh_detail);
	cl = cat_basic_class(bcls);
	ctitle = cl != NULL ? cl->text[lang].title : "?";
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
	if (r->problems & CAT_P_BAD_ENHANCED)
		cat_sb_printf(&sb, say->bad_enh, enh);
	else if (r->problems & CAT_P_CLASS_MISMATCH)
		cat_sb_printf(&sb, say->mismatch, r->basic, bcls, enh,
		    r->enh_cls, ctitle);
	else if (r->enh_cls != 0 && e == NULL)
		cat_sb_printf(&sb, say->unknown_enh, enh);
	else if (e != NULL && cl != NULL) {
		cat_sb_printf(&sb, say->together, r->basic, ctitle,
		    cat_ui(lang)->action[bcls], enh, e->text[lang].title);
		if (e->basic[0] != '\0' && !cat_pairs_with(e, r->basic)) {
			cat_sb_gap(&sb, lang);
			cat_sb_printf(&sb, say->unusual, enh, e->basic,
			    r->basic);
		}
	}
#pragma GCC diagnostic pop
	cat_combine_notes(&sb, r, lang);
	return sb.full ? -1 : (int)sb.len;
}

/* "556 5.1.10 (Permanent Negative Completion: give up ...): " */
static void
cat_explain_head(struct cat_sb *sb, const struct cat_reply *r,
    const struct cat_entry *b, const struct cat_entry *e, enum cat_lang lang)
{
	const struct cat_ui *ui = cat_ui(lang);
	const struct cat_entry *cl = cat_basic_class(r->basic / 100);
	int ja = lang == CAT_LANG_JA;

	cat_sb_printf(sb, "%d", r->basic);
	if (r->enh_cls != 0)
		cat_sb_printf(sb, " %d.%d.%d", r->enh_cls, r->enh_subject,
		    r->enh_detail);
	if (cl != NULL)
		cat_sb_printf(sb, ja ? "（%s：%s）" : " (%s: %s)",
		    cl->text[lang].title, ui->action[cl->cls]);
	cat_sb_printf(sb, "%s", ui->colon);
	if (b != NULL)
		cat_sb_printf(sb, "%s", b->text[lang].title);
	if (b != NULL && e != NULL)
		cat_sb_printf(sb, "%s", ja ? "／" : " / ");
	if (e != NULL)
		cat_sb_printf(sb, "%s", e->text[lang].title);
	cat_sb_printf(sb, "%s", ja ? "。" : ". ");
}

int
cat_explain(char *buf, size_t bufsz, const struct cat_reply *r,
    enum cat_lang lang)
{
	struct cat_sb sb = { buf, bufsz, 0, 0 };
	const struct cat_entry *b, *e = NULL, *src;
	char more[1024];

	if (bufsz > 0)
		buf[0] = '\0';
	lang = lang == CAT_LANG_JA ? CAT_LANG_JA : CAT_LANG_EN;
	b = cat_basic(r->basic);
	if (r->enh_cls != 0 && !(r->problems & CAT_P_MALFORMED))
		e = cat_enhanced(r->enh_subject, r->enh_detail);
	if (b == NULL && e == NULL)
		return -1;
	src = e != NULL ? e : b;
	cat_explain_head(&sb, r, b, e, lang);
	cat_sb_printf(&sb, "%s", src->text[lang].description);
	cat_sb_gap(&sb, lang);
	cat_sb_printf(&sb, "%s%s", cat_say(lang)->what_to_do,
	    src->text[lang].resolve);
	if ((r->problems & CAT_P_MALFORMED) &&
	    cat_combine(more, sizeof(more), r, lang) > 0) {
		cat_sb_gap(&sb, lang);
		cat_sb_printf(&sb, "%s", more);
	}
	return sb.full || b == NULL ? -1 : (int)sb.len;
}

int
cat_explain_reply(char *buf, size_t bufsz, const char *reply, size_t len,
    enum cat_lang lang)
{
	struct cat_reply r;

	if (bufsz > 0)
		buf[0] = '\0';
	if (cat_parse_reply(reply, len, &r) == -1)
		return -1;
	return cat_explain(buf, bufsz, &r, lang);
}
