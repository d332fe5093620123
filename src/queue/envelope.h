/*
 * The queue file format. A queued message is one file, spool/queue/ID:
 *
 *   POSTERN-QUEUE 1\n
 *   id ID\n
 *   time UNIX-SECONDS\n
 *   from ADDRESS\n          (empty after "from " for the null sender <>)
 *   auth USER\n             (optional: the SASL user that submitted it)
 *   client ADDR\n           (optional: the client IP, or "local")
 *   helo NAME\n             (optional)
 *   body 7BIT|8BITMIME\n
 *   smtputf8 0|1\n
 *   rcpt ADDRESS\n          (one or more, in RCPT order)
 *   \n
 *   the message, CRLF line endings, Received: header first
 *
 * Addresses are stored without angle brackets and never contain CR, LF or
 * NUL (the address parser rejects them). The file never changes after it is
 * renamed into spool/queue/; delivery progress lives in spool/state/ID.
 */
#ifndef POSTERN_ENVELOPE_H
#define POSTERN_ENVELOPE_H

#include <stddef.h>
#include <time.h>

#define QUEUE_ID_MAX 32		/* including NUL */
#define ENVELOPE_MAGIC "POSTERN-QUEUE 1\n"

struct envelope {
	char	 id[QUEUE_ID_MAX];
	time_t	 created;
	char	*sender;	/* "" for <> */
	char	*auth_user;	/* NULL if none */
	char	*client;	/* NULL if none */
	char	*helo;		/* NULL if none */
	int	 body_8bit;
	int	 smtputf8;
	char   **rcpts;
	size_t	 nrcpts;
	size_t	 body_offset;	/* set by envelope_parse: where the message starts */
};

/*
 * Writes the header (everything up to and including the blank line) into
 * buf. Returns its length, or -1 if it does not fit or a field holds CR/LF.
 */
int envelope_format(const struct envelope *env, char *buf, size_t bufsz);

/*
 * Parses the header at the start of data[0..len). Fills env (which then
 * owns its strings; envelope_clear() frees them) and env->body_offset.
 * Returns 0, or -1 with a reason in why.
 */
int envelope_parse(struct envelope *env, const char *data, size_t len,
    char *why, size_t whysz);
void envelope_clear(struct envelope *env);

#endif
