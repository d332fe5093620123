/*
 * libFuzzer: the config loader on arbitrary bytes. Checks its promises: an
 * error message is "fuzz:LINE: ..." with a line inside the input, and a
 * config that loads dumps to text that loads back and dumps the same.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/conf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* conf_dump into a heap string; NULL if it fails (then abort). */
static char *
dump(const struct conf *c)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	if ((f = open_memstream(&buf, &len)) == NULL)
		abort();
	if (conf_dump(c, f) == -1)
		abort();
	fclose(f);
	return buf;
}

/* The line in "fuzz:LINE: ..." is between 1 and the input's lines + 1. */
static void
check_error(const char *why, const uint8_t *data, size_t size)
{
	unsigned long line, lines = 1;
	char *end;
	size_t i;

	if (strncmp(why, "fuzz:", 5) != 0)
		abort();
	line = strtoul(why + 5, &end, 10);
	if (end == why + 5 || *end != ':')
		abort();
	for (i = 0; i < size; i++)
		lines += data[i] == '\n';
	if (line < 1 || line > lines)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char why[CONF_WHY_MAX], *d1, *d2;
	struct conf *c, *c2;

	why[0] = '\0';
	if ((c = conf_load_buffer((const char *)data, size, "fuzz", why,
	    sizeof(why))) == NULL) {
		check_error(why, data, size);
		return 0;
	}
	if (c->nlisteners == 0 || c->nlisteners > CONF_MAX_LISTENERS)
		abort();
	d1 = dump(c);
	if ((c2 = conf_load_buffer(d1, strlen(d1), "dump", why,
	    sizeof(why))) == NULL)
		abort();
	d2 = dump(c2);
	if (strcmp(d1, d2) != 0)
		abort();
	free(d1);
	free(d2);
	conf_free(c);
	conf_free(c2);
	return 0;
}
