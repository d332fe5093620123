/*
 * libFuzzer: the DATA automaton. Checks its promises: all input consumed
 * unless the end marker was seen, which must then be a real <CRLF>.<CRLF>
 * (or the very start), and the output bound holds.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smtp/data.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct data_parser p;
	char *out = malloc(DATA_OUT_MAX(size));
	size_t used, outlen;

	data_parser_init(&p);
	used = data_feed(&p, (const char *)data, size, out, &outlen);
	if (outlen > DATA_OUT_MAX(size))
		abort();
	if (p.state != DATA_DONE && used != size)
		abort();
	if (p.state == DATA_DONE) {
		/* The marker is ".\r\n" at the start or "\r\n.\r\n". */
		if (used < 3 || memcmp(data + used - 3, ".\r\n", 3) != 0)
			abort();
		if (used > 3 && (used < 5 ||
		    memcmp(data + used - 5, "\r\n", 2) != 0))
			abort();
	}
	free(out);
	return 0;
}
