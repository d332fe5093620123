/*
 * libFuzzer: the queue file header (envelope_parse) on arbitrary bytes,
 * then, when it parses, the round trip through envelope_format and the
 * state file parser (qstate_parse) on the bytes after the header.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "queue/envelope.h"
#include "queue/qstate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_roundtrip(const struct envelope *env)
{
	struct envelope back;
	char why[128], *buf;
	size_t sz = 64 * 1024 + env->nrcpts * 1100;
	size_t i;
	int n;

	if ((buf = malloc(sz)) == NULL)
		return;
	n = envelope_format(env, buf, sz);
	if (n < 0)
		abort();	/* whatever parsed must format */
	if (envelope_parse(&back, buf, (size_t)n, why, sizeof(why)) != 0 ||
	    back.body_offset != (size_t)n || back.nrcpts != env->nrcpts ||
	    strcmp(back.sender, env->sender) != 0 ||
	    back.created != env->created || strcmp(back.id, env->id) != 0)
		abort();
	for (i = 0; i < env->nrcpts; i++)
		if (strcmp(back.rcpts[i], env->rcpts[i]) != 0)
			abort();
	envelope_clear(&back);
	free(buf);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data;
	struct envelope env;
	struct qstate st;
	char why[128];

	if (envelope_parse(&env, p, size, why, sizeof(why)) != 0) {
		if (env.nrcpts != 0 || env.sender != NULL)
			abort();	/* a failed parse leaves nothing */
		return 0;
	}
	if (env.body_offset > size)
		abort();
	check_roundtrip(&env);
	(void)qstate_parse(&st, &env, p + env.body_offset,
	    size - env.body_offset, why, sizeof(why));
	if (st.n != env.nrcpts)
		abort();
	qstate_clear(&st);
	envelope_clear(&env);
	return 0;
}
