/*
 * The queue file header (the envelope): formatting it in front of a message
 * and parsing it back. The format is described in queue/envelope.h. Parsing
 * is a bounded line scanner over the caller's bytes; the file may be
 * damaged or hostile (it is fuzzed), so every field is length-checked and
 * every rule enforced. Owns the strings of a parsed struct envelope.
 * Pure functions; any process, any thread.
 */
#include "queue/envelope.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "queue/queue_id.h"
#include "util/xmalloc.h"

#define ENVELOPE_VALUE_MAX 1024		/* one field value */
#define ENVELOPE_RCPT_MAX 100000	/* recipients in one file */

enum env_field {
	ENV_ID, ENV_TIME, ENV_FROM, ENV_AUTH, ENV_CLIENT, ENV_HELO, ENV_BODY,
	ENV_SMTPUTF8, ENV_RCPT, ENV__COUNT
};

static const char *const env_field_names[ENV__COUNT] = {
	"id", "time", "from", "auth", "client", "helo", "body", "smtputf8",
	"rcpt"
};

/* 1 if s may be stored as a field value: no CR, LF, and not too long. */
static int
envelope_value_ok(const char *s)
{
	size_t n = strlen(s);

	return n < ENVELOPE_VALUE_MAX && strpbrk(s, "\r\n") == NULL;
}

/* Appends "key value\n" at *off; -1 if it does not fit or is unsafe. */
static int
envelope_put(char *buf, size_t bufsz, size_t *off, const char *key,
    const char *value)
{
	int n;

	if (value == NULL)
		return 0;
	if (!envelope_value_ok(value) || *off >= bufsz)
		return -1;
	n = snprintf(buf + *off, bufsz - *off, "%s %s\n", key, value);
	if (n < 0 || (size_t)n >= bufsz - *off)
		return -1;
	*off += (size_t)n;
	return 0;
}

int
envelope_format(const struct envelope *env, char *buf, size_t bufsz)
{
	char num[32];
	size_t off = 0, i;
	int rc = 0;

	if (!queue_id_valid(env->id) || env->sender == NULL ||
	    env->nrcpts == 0 || bufsz > (size_t)0x7fffffff)
		return -1;
	if (bufsz <= sizeof(ENVELOPE_MAGIC))
		return -1;
	memcpy(buf, ENVELOPE_MAGIC, sizeof(ENVELOPE_MAGIC) - 1);
	off = sizeof(ENVELOPE_MAGIC) - 1;
	(void)snprintf(num, sizeof(num), "%lld", (long long)env->created);
	rc |= envelope_put(buf, bufsz, &off, "id", env->id);
	rc |= envelope_put(buf, bufsz, &off, "time", num);
	rc |= envelope_put(buf, bufsz, &off, "from", env->sender);
	rc |= envelope_put(buf, bufsz, &off, "auth", env->auth_user);
	rc |= envelope_put(buf, bufsz, &off, "client", env->client);
	rc |= envelope_put(buf, bufsz, &off, "helo", env->helo);
	rc |= envelope_put(buf, bufsz, &off, "body",
	    env->body_8bit ? "8BITMIME" : "7BIT");
	rc |= envelope_put(buf, bufsz, &off, "smtputf8",
	    env->smtputf8 ? "1" : "0");
	for (i = 0; i < env->nrcpts && rc == 0; i++) {
		if (env->rcpts[i] == NULL || env->rcpts[i][0] == '\0')
			return -1;
		rc |= envelope_put(buf, bufsz, &off, "rcpt", env->rcpts[i]);
	}
	if (rc != 0 || off + 1 >= bufsz)
		return -1;
	buf[off++] = '\n';
	buf[off] = '\0';
	return (int)off;
}

static int
envelope_fail(char *why, size_t whysz, const char *msg, const char *key)
{
	if (key != NULL)
		(void)snprintf(why, whysz, "%s: %s", msg, key);
	else
		(void)snprintf(why, whysz, "%s", msg);
	errno = EINVAL;
	return -1;
}

/* Parses a decimal time; -1 unless it is 1 to 18 digits. */
static int
envelope_parse_time(const char *s, time_t *out)
{
	long long v = 0;
	size_t i;

	for (i = 0; s[i] != '\0'; i++) {
		if (s[i] < '0' || s[i] > '9' || i >= 18)
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	if (i == 0)
		return -1;
	*out = (time_t)v;
	return 0;
}

static void
envelope_add_rcpt(struct envelope *env, char *value)
{
	if ((env->nrcpts & (env->nrcpts - 1)) == 0)
		env->rcpts = xreallocarray(env->rcpts,
		    env->nrcpts ? env->nrcpts * 2 : 1, sizeof(*env->rcpts));
	env->rcpts[env->nrcpts++] = value;
}

/* Stores one field; value is a NUL-terminated copy the call takes over. */
static int
envelope_set(struct envelope *env, enum env_field f, char *value,
    char *why, size_t whysz)
{
	const char *bad = NULL;
	char **slot = NULL;

	switch (f) {
	case ENV_ID:
		if (!queue_id_valid(value))
			bad = "invalid queue id";
		else
			memcpy(env->id, value, QUEUE_ID_LEN + 1);
		break;
	case ENV_TIME:
		if (envelope_parse_time(value, &env->created) == -1)
			bad = "invalid time";
		break;
	case ENV_FROM: slot = &env->sender; break;
	case ENV_AUTH: slot = &env->auth_user; break;
	case ENV_CLIENT: slot = &env->client; break;
	case ENV_HELO: slot = &env->helo; break;
	case ENV_BODY:
		if (strcmp(value, "7BIT") == 0)
			env->body_8bit = 0;
		else if (strcmp(value, "8BITMIME") == 0)
			env->body_8bit = 1;
		else
			bad = "invalid body type";
		break;
	case ENV_SMTPUTF8:
		if (strcmp(value, "0") != 0 && strcmp(value, "1") != 0)
			bad = "invalid smtputf8 flag";
		env->smtputf8 = value[0] == '1';
		break;
	case ENV_RCPT:
		if (value[0] == '\0')
			bad = "empty recipient";
		else if (env->nrcpts >= ENVELOPE_RCPT_MAX)
			bad = "too many recipients";
		else {
			envelope_add_rcpt(env, value);
			return 0;
		}
		break;
	case ENV__COUNT:
		break;
	}
	if (slot != NULL) {
		*slot = value;
		return 0;
	}
	free(value);
	return bad != NULL ? envelope_fail(why, whysz, bad, NULL) : 0;
}

/* Splits one header line into its field and value; -1 if invalid. */
static int
envelope_line(struct envelope *env, unsigned *seen, const char *line,
    size_t len, char *why, size_t whysz)
{
	const char *sp = memchr(line, ' ', len);
	size_t klen, i;

	if (sp == NULL)
		return envelope_fail(why, whysz, "malformed line", NULL);
	klen = (size_t)(sp - line);
	if (len - klen - 1 >= ENVELOPE_VALUE_MAX)
		return envelope_fail(why, whysz, "value too long", NULL);
	if (memchr(line, '\0', len) != NULL || memchr(line, '\r', len) != NULL)
		return envelope_fail(why, whysz, "control character", NULL);
	for (i = 0; i < ENV__COUNT; i++)
		if (strlen(env_field_names[i]) == klen &&
		    memcmp(env_field_names[i], line, klen) == 0)
			break;
	if (i == ENV__COUNT)
		return envelope_fail(why, whysz, "unknown field", NULL);
	if (i != ENV_RCPT && (*seen & (1u << i)))
		return envelope_fail(why, whysz, "duplicate field",
		    env_field_names[i]);
	*seen |= 1u << i;
	return envelope_set(env, (enum env_field)i,
	    xstrndup(sp + 1, len - klen - 1), why, whysz);
}

static int
envelope_check_required(unsigned seen, char *why, size_t whysz)
{
	static const enum env_field required[] = { ENV_ID, ENV_TIME,
	    ENV_FROM, ENV_BODY, ENV_SMTPUTF8, ENV_RCPT };
	size_t i;

	for (i = 0; i < sizeof(required) / sizeof(required[0]); i++)
		if (!(seen & (1u << required[i])))
			return envelope_fail(why, whysz, "missing field",
			    env_field_names[required[i]]);
	return 0;
}

int
envelope_parse(struct envelope *env, const char *data, size_t len,
    char *why, size_t whysz)
{
	size_t off = sizeof(ENVELOPE_MAGIC) - 1;
	const char *nl;
	unsigned seen = 0;

	memset(env, 0, sizeof(*env));
	if (len < off || memcmp(data, ENVELOPE_MAGIC, off) != 0)
		return envelope_fail(why, whysz, "not a queue file", NULL);
	for (;;) {
		nl = memchr(data + off, '\n', len - off);
		if (nl == NULL) {
			envelope_fail(why, whysz, "truncated header", NULL);
			goto fail;
		}
		if (nl == data + off)
			break;
		if (envelope_line(env, &seen, data + off,
		    (size_t)(nl - (data + off)), why, whysz) == -1)
			goto fail;
		off = (size_t)(nl - data) + 1;
	}
	if (envelope_check_required(seen, why, whysz) == -1)
		goto fail;
	env->body_offset = (size_t)(nl - data) + 1;
	return 0;
fail:
	envelope_clear(env);
	errno = EINVAL;
	return -1;
}

void
envelope_clear(struct envelope *env)
{
	size_t i;

	if (env == NULL)
		return;
	free(env->sender);
	free(env->auth_user);
	free(env->client);
	free(env->helo);
	for (i = 0; i < env->nrcpts; i++)
		free(env->rcpts[i]);
	free(env->rcpts);
	memset(env, 0, sizeof(*env));
}
