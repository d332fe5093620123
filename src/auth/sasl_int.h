/*
 * Internals shared by sasl.c (server, exchange dispatch, logging),
 * sasl_plain.c (PLAIN, LOGIN) and sasl_gsasl.c (SCRAM, CRAM-MD5 through
 * GNU SASL). Not for use outside src/auth/.
 */
#ifndef POSTERN_SASL_INT_H
#define POSTERN_SASL_INT_H

#include <stddef.h>

#include <gsasl.h>

#include "auth/sasl.h"
#include "auth/userdb.h"
#include "util/addr.h"

#define SASL_SECRET_LEN 32
/* Decoded response bytes: base64 of SASL_RESPONSE_MAX octets. */
#define SASL_DECODED_MAX (SASL_RESPONSE_MAX / 4 * 3)

enum sasl_mech {
	MECH_PLAIN,
	MECH_LOGIN,
	MECH_CRAM_MD5,
	MECH_SCRAM_SHA_256,
	MECH_SCRAM_SHA_256_PLUS,
	MECH_COUNT
};

enum sasl_state {
	STATE_START,		/* nothing received yet */
	STATE_WAIT,		/* a challenge is out, response expected */
	STATE_LOGIN_USER,	/* LOGIN: "Username:" sent */
	STATE_LOGIN_PASS,	/* LOGIN: "Password:" sent */
	STATE_FINAL_ACK,	/* success data sent, empty response expected */
	STATE_DONE		/* finished, whatever the outcome */
};

struct sasl_server {
	Gsasl		*gsasl;		/* owned */
	struct userdb	*db;		/* borrowed; thread-safe handle */
	unsigned char	 secret[SASL_SECRET_LEN];	/* fake-user key */
	int		 offered[MECH_COUNT];	/* config order, -1 ends */
	size_t		 noffered;
	int		 plus_configured;
	char		 mechs_plain[SASL_MECHS_MAX];
	char		 mechs_tls[SASL_MECHS_MAX];
};

/*
 * One AUTH exchange, owned by the session. Everything secret in it is
 * zeroed by sasl_exchange_free().
 */
struct sasl_exchange {
	struct sasl_server	*srv;		/* borrowed */
	enum sasl_mech		 mech;
	enum sasl_state		 state;
	unsigned		 steps;		/* responses processed */
	const char		*reason;	/* why it failed, for the log */
	char			 user[SASL_USER_MAX];	/* claimed, for logs */
	char			 key[ADDR_BUFSZ];	/* lookup key */
	int			 key_valid;
	int			 authenticated;
	char			 login_user[SASL_USER_MAX];
	Gsasl_session		*gs;		/* owned; SCRAM, CRAM-MD5 */
	struct userdb_secrets	 secrets;	/* for GNU SASL callbacks */
	int			 secrets_state;	/* 0 none, 1 real, 2 fake */
	int			 store_error;
	int			 plus_offered;
	struct sasl_cbind	 cb;
	char			 context[SASL_CONTEXT_MAX];
};

/* sasl.c */
const char *sasl_mech_name(enum sasl_mech mech);
void sasl_set_user(struct sasl_exchange *ex, const char *user);
int sasl_same_user(const char *a, const char *b);
int sasl_challenge(const void *data, size_t len, char *out, size_t outsz);

/* sasl_plain.c: (in, len) is the decoded response; have is 0 when absent */
int sasl_plain_step(struct sasl_exchange *ex, int have,
    const unsigned char *in, size_t len, char *out, size_t outsz);
int sasl_login_step(struct sasl_exchange *ex, int have,
    const unsigned char *in, size_t len, char *out, size_t outsz);

/* sasl_gsasl.c */
int sasl_gsasl_init(struct sasl_server *srv);
int sasl_gsasl_supported(struct sasl_server *srv, enum sasl_mech mech);
int sasl_gsasl_start(struct sasl_exchange *ex);
int sasl_gsasl_step(struct sasl_exchange *ex, int have,
    const unsigned char *in, size_t len, char *out, size_t outsz);
void sasl_gsasl_finish(struct sasl_exchange *ex);

#endif
