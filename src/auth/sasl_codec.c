/*
 * Decoders for untrusted AUTH input: strict base64 (RFC 4648 §4, as
 * RFC 4954 requires), the PLAIN message (RFC 4616 §2) and LOGIN fields.
 * Bounded: every output buffer's size is checked before each write, and
 * nothing is allocated.
 *
 * Owns: nothing. Process: smtp workers (pool threads); pure functions.
 */
#include "auth/sasl.h"

#include <string.h>

#include "auth/password.h"

_Static_assert(sizeof(((struct sasl_plain *)0)->passwd) == PASSWORD_MAX + 1,
    "struct sasl_plain holds a PASSWORD_MAX password");

static const char sasl_b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* The 6-bit value of a base64 character, or -1. */
static int
sasl_b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/*
 * Decodes one 4-character group; pad is the number of '=' it ends with
 * (only the last group may have any). Returns the bytes written (1-3)
 * or -1. Non-zero bits left over before padding are refused (canonical
 * encoding, RFC 4648 §3.5).
 */
static int
sasl_b64_group(const char *g, int pad, unsigned char *out)
{
	int v[4], i;

	for (i = 0; i < 4 - pad; i++)
		if ((v[i] = sasl_b64_value((unsigned char)g[i])) == -1)
			return -1;
	for (; i < 4; i++)
		v[i] = 0;
	if (pad == 2 && (v[1] & 0x0f) != 0)
		return -1;
	if (pad == 1 && (v[2] & 0x03) != 0)
		return -1;
	out[0] = (unsigned char)(v[0] << 2 | v[1] >> 4);
	out[1] = (unsigned char)((v[1] & 0x0f) << 4 | v[2] >> 2);
	out[2] = (unsigned char)((v[2] & 0x03) << 6 | v[3]);
	return 3 - pad;
}

int
sasl_b64_decode(const char *in, size_t len, unsigned char *out,
    size_t outsz)
{
	unsigned char tmp[3];
	size_t i, used = 0;
	int pad, n;

	if (len % 4 != 0)
		return -1;
	if (len / 4 * 3 > outsz + 2 || len / 4 * 3 > (size_t)0x7fffffff)
		return -1;
	for (i = 0; i < len; i += 4) {
		pad = 0;
		if (i + 4 == len) {
			if (in[i + 3] == '=')
				pad = in[i + 2] == '=' ? 2 : 1;
		}
		if ((n = sasl_b64_group(in + i, pad, tmp)) == -1)
			return -1;
		if ((size_t)n > outsz - used)
			return -1;
		memcpy(out + used, tmp, n);
		used += n;
	}
	return (int)used;
}

int
sasl_b64_encode(const unsigned char *in, size_t len, char *out,
    size_t outsz)
{
	size_t i, o = 0;
	unsigned v;

	if (outsz == 0 || len > (outsz - 1) / 4 * 3)
		return -1;
	for (i = 0; i + 3 <= len; i += 3) {
		v = (unsigned)in[i] << 16 | (unsigned)in[i + 1] << 8 |
		    in[i + 2];
		out[o++] = sasl_b64_alphabet[v >> 18 & 0x3f];
		out[o++] = sasl_b64_alphabet[v >> 12 & 0x3f];
		out[o++] = sasl_b64_alphabet[v >> 6 & 0x3f];
		out[o++] = sasl_b64_alphabet[v & 0x3f];
	}
	if (len - i > 0) {
		v = (unsigned)in[i] << 16;
		if (len - i == 2)
			v |= (unsigned)in[i + 1] << 8;
		out[o++] = sasl_b64_alphabet[v >> 18 & 0x3f];
		out[o++] = sasl_b64_alphabet[v >> 12 & 0x3f];
		out[o++] = len - i == 2 ?
		    sasl_b64_alphabet[v >> 6 & 0x3f] : '=';
		out[o++] = '=';
	}
	out[o] = '\0';
	return (int)o;
}

/* 1 if s[0..len) holds a NUL, CR or LF. */
static int
sasl_has_forbidden(const unsigned char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (s[i] == '\0' || s[i] == '\r' || s[i] == '\n')
			return 1;
	return 0;
}

int
sasl_login_field(const unsigned char *in, size_t len, char *out, size_t max)
{
	if (max == 0 || len >= max || sasl_has_forbidden(in, len))
		return -1;
	memcpy(out, in, len);
	out[len] = '\0';
	return (int)len;
}

int
sasl_plain_parse(const unsigned char *msg, size_t len, struct sasl_plain *out)
{
	const unsigned char *nul1, *nul2, *end = msg + len;
	size_t zlen, clen, plen;

	memset(out, 0, sizeof(*out));
	if (len == 0 || (nul1 = memchr(msg, '\0', len)) == NULL)
		return -1;
	if ((nul2 = memchr(nul1 + 1, '\0', end - (nul1 + 1))) == NULL)
		return -1;
	zlen = nul1 - msg;
	clen = nul2 - (nul1 + 1);
	plen = end - (nul2 + 1);
	if (clen == 0 || plen == 0 || plen > PASSWORD_MAX)
		return -1;
	if (sasl_login_field(msg, zlen, out->authzid,
	    sizeof(out->authzid)) == -1 ||
	    sasl_login_field(nul1 + 1, clen, out->authcid,
	    sizeof(out->authcid)) == -1 ||
	    sasl_login_field(nul2 + 1, plen, out->passwd,
	    sizeof(out->passwd)) == -1) {
		sodium_memzero(out, sizeof(*out));
		return -1;
	}
	out->passwdlen = plen;
	return 0;
}
