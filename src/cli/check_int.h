/*
 * Inside `postern check` (SPEC §2): the state one run gathers, shared by
 * check.c (options, steps, verdict), check_session.c (one SMTP session
 * per address), check_text.c (the English/Japanese text) and
 * check_json.c (--json). Not for other modules.
 */
#ifndef POSTERN_CLI_CHECK_INT_H
#define POSTERN_CLI_CHECK_INT_H

#include <sys/socket.h>
#include <netinet/in.h>

#include <stdarg.h>
#include <stddef.h>

#include "cli/client_common.h"
#include "dns/dns.h"
#include "replies/catalogue.h"
#include "smtp/client.h"
#include "util/addr.h"

#define CHECK_TIMEOUT_DEFAULT 10	/* seconds per network step */
#define CHECK_TIMEOUT_MAX 3600
#define CHECK_ATTEMPTS_MAX (DNS_MX_MAX * (DNS_HOST_ADDR_MAX + 1))
#define CHECK_LOG_MAX (256 * 1024)	/* transcript kept for --json -v */
#define CHECK_PEER_MAX (INET6_ADDRSTRLEN + 16)
#define CHECK_NAME_MAX (ADDR_DOMAIN_MAX + 1)
#define CHECK_TEXT_MAX 1024		/* one formatted sentence */

/* What the verdict means for a sender (the exit code follows). */
enum check_result { CHECK_DELIVERABLE, CHECK_PERMANENT, CHECK_TEMPORARY };

/* Why the check ended where it did; a stable token in --json. */
enum check_reason {
	CHECK_R_DELIVERABLE,
	CHECK_R_NULL_MX,
	CHECK_R_NO_DOMAIN,
	CHECK_R_NO_MAIL_HOST,
	CHECK_R_NO_ADDRESS,
	CHECK_R_DNS_FAILURE,
	CHECK_R_DNS_TIMEOUT,
	CHECK_R_UNREACHABLE,
	CHECK_R_GREETING_PERM,
	CHECK_R_GREETING_TEMP,
	CHECK_R_EHLO_PERM,
	CHECK_R_EHLO_TEMP,
	CHECK_R_SESSION_FAILED,
	CHECK_R_NO_SMTPUTF8,
	CHECK_NREASONS
};

/* How one connection attempt ended. */
enum check_conn {
	CHECK_CONN_ANSWERED,	/* an SMTP greeting came (any code) */
	CHECK_CONN_FAILED,	/* no TCP connection: refused, time-out... */
	CHECK_CONN_SILENT,	/* connected, no greeting in time */
	CHECK_CONN_CLOSED,	/* connected, closed before the greeting */
	CHECK_CONN_NOT_SMTP,	/* connected, the greeting is not SMTP */
	CHECK_CONN_NO_ADDRESS	/* the MX host has no address: not tried */
};

struct check_attempt {
	size_t		 host;			/* index in mx.hosts */
	char		 addr[INET6_ADDRSTRLEN];	/* "" if none */
	char		 peer[CHECK_PEER_MAX];	/* "[::1]:25" */
	enum check_conn	 conn;
	char		 why[SMTP_CLIENT_WHY_MAX];	/* for FAILED... */
};

/* Which command a reply answers, while the session runs. */
enum check_cmd { CHECK_CMD_NONE, CHECK_CMD_EHLO, CHECK_CMD_HELO,
    CHECK_CMD_STARTTLS, CHECK_CMD_QUIT, CHECK_CMD_OTHER };

/*
 * The session with the address that answered, as the transcript showed
 * it. A reply with code 0 was not received.
 */
struct check_session {
	struct smtp_reply	 greeting;
	struct smtp_reply	 ehlo;		/* to the first EHLO */
	struct smtp_reply	 helo;		/* after a refused EHLO */
	struct smtp_reply	 starttls;
	struct smtp_reply	 ehlo_tls;	/* EHLO inside TLS */
	struct smtp_ehlo	 ext_plain;	/* offered before TLS */
	struct smtp_ehlo	 ext;		/* in effect at the end */
	struct smtp_client_tls_info tls;
	int			 tls_failed;	/* handshake failed; the
						   session was redone plain */
	char			 tls_error[SMTP_CLIENT_WHY_MAX];
	int			 ready;		/* EHLO/HELO (and TLS) done */
	struct smtp_client_error err;	/* when not ready */
	/* capture state */
	enum check_cmd		 cur;
	struct smtp_reply_parser parser;
};

struct event_base;
struct conf;

/*
 * One run. Owns the config, the event base, the client TLS context and
 * the transcript log; everything else is inline.
 */
struct check {
	/* options */
	const char	*address;
	const char	*conf_path;
	const char	*dns;
	const char	*cafile;
	unsigned	 port;		/* 0: [delivery] remote_port */
	unsigned	 timeout;
	enum cat_lang	 lang;
	int		 json;
	int		 verbose;

	/* the address */
	struct conf	*conf;
	struct addr	 addr;
	char		 domain[CHECK_NAME_MAX];	/* lowered or literal */
	int		 literal;	/* [IPv4] or [IPv6:...] */
	int		 local;		/* one of [domains] local */
	int		 need_utf8;	/* non-ASCII: needs SMTPUTF8 */

	/* step 1: MX */
	struct dns_mx_result mx;

	/* step 2: connect */
	struct check_attempt attempts[CHECK_ATTEMPTS_MAX];
	size_t		 nattempts;
	int		 answered;	/* index in attempts, or -1 */

	/* steps 3 and 4 */
	struct check_session s;

	/* verdict */
	enum check_reason reason;
	char		 why[SMTP_CLIENT_WHY_MAX];	/* DNS or session */

	/* run time */
	struct event_base *base;
	struct smtp_client_tls_ctx *tls_ctx;
	struct cli_transcript tr;	/* -v in text mode */
	char		*log;		/* -v with --json: lines, LF-ended */
	size_t		 loglen;
};

/* check.c: the verdict logic (pure) */
enum check_result check_reason_result(enum check_reason r);
int check_reason_exit(enum check_reason r);
const char *check_reason_str(enum check_reason r);
const char *check_result_str(enum check_result r);
const char *check_conn_str(enum check_conn c);
enum check_reason check_session_reason(const struct check_session *s,
    int need_utf8);
enum check_reason check_dns_reason(enum dns_status st);

/* check_session.c */
int check_session_run(struct check *ck, const struct sockaddr_storage *sa,
    const char *server_name, struct check_attempt *att);
void check_capture(struct check_session *s, enum smtp_client_dir dir,
    const char *line, size_t len);
const char *check_strip_peer(const char *why, const char *peer);

/* check_text.c */
const char *check_msg_fmt(unsigned m, enum cat_lang lang);
unsigned check_msg_count(void);
void check_text_intro(const struct check *ck);
void check_text_mx(const struct check *ck);
void check_text_connect(const struct check *ck);
void check_text_attempt(const struct check *ck,
    const struct check_attempt *att);
void check_text_session(const struct check *ck);
void check_text_verdict(const struct check *ck);
int check_verdict_sentence(const struct check *ck, char *buf,
    size_t bufsz);
int check_ext_describe(const char *kw, size_t kwlen, const char *line,
    enum cat_lang lang, char *buf, size_t bufsz);

/* check_json.c */
void check_json(const struct check *ck);

#endif
