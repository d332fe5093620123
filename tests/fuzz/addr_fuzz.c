/* libFuzzer: the RFC 5321 path parser and lookup keys. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/addr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char buf[ADDR_BUFSZ], key[ADDR_BUFSZ], *s;
	struct addr a, b;
	int n;

	n = addr_parse_path(&a, (const char *)data, size, size & 1, size & 2);
	if (n > (int)size)
		abort();
	if (n > 0 && addr_format(&a, buf, sizeof(buf)) >= 0) {
		(void)addr_lookup_key(&a, key, sizeof(key));
		/* A formatted address parses back the same. */
		if (!a.null && addr_parse_mailbox(&b, buf, 1) == 0 &&
		    (strcmp(a.local, b.local) || strcmp(a.domain, b.domain)))
			abort();
	}
	if ((s = malloc(size + 1)) == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	(void)addr_parse_mailbox(&a, s, 1);
	free(s);
	return 0;
}
