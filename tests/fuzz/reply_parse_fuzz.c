/*
 * libFuzzer target: the reply parser and everything built on it
 * (cat_parse_reply, cat_parse_code, cat_combine, cat_explain in both
 * languages) and the line breaker, fed arbitrary bytes. Checks that the
 * outputs stay NUL-terminated within their buffers and that the wrapper
 * always makes progress within bounds.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "replies/catalogue.h"
#include "util/wrap.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
fuzz_wrap(const char *s, size_t len, size_t width)
{
	size_t pos = 0, n, line;

	while (pos < len) {
		n = wrap_next(s + pos, len - pos, width, &line);
		if (n == 0 || n > len - pos || line > n)
			abort();
		pos += n;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	struct cat_reply r;
	struct cat_code c;
	char buf[512], code[24];
	int lang, n;

	if (cat_parse_code(s, size, &c) == 0) {
		cat_code_str(&c, code, sizeof(code));
		(void)cat_code_entry(&c);
	}
	if (cat_parse_reply(s, size, &r) == 0) {
		if (strlen(r.text) >= sizeof(r.text) || r.basic < 100 ||
		    r.basic > 999)
			abort();
		for (lang = 0; lang < CAT_NLANG; lang++) {
			n = cat_explain(buf, sizeof(buf), &r, lang);
			if (strlen(buf) >= sizeof(buf) ||
			    (n >= 0 && (size_t)n != strlen(buf)))
				abort();
			n = cat_combine(buf, sizeof(buf), &r, lang);
			if (strlen(buf) >= sizeof(buf))
				abort();
		}
	}
	fuzz_wrap(s, size, 1 + size % 40);
	return 0;
}
