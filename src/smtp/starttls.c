/*
 * TLS for inbound sessions: STARTTLS (RFC 3207) as a bufferevent filter
 * over the plaintext one, implicit TLS (RFC 8314) from the first byte.
 * The SSL objects come from tls/tls.h; this file only glues them to the
 * session's bufferevent. Runs in the smtp workers.
 */
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "conf/conf.h"
#include "smtp/server.h"
#include "smtp/session_int.h"
#include "tls/tls.h"
#include "util/log.h"

static SSL *
smtp_tls_ssl(struct smtp_session *s)
{
	return s->bev ? bufferevent_openssl_get_ssl(s->bev) : NULL;
}

/* The "(using TLSv1.3 with cipher ...)" clause for Received. */
int
smtp_tls_received(struct smtp_session *s, char *buf, size_t bufsz)
{
	SSL *ssl = s->tls ? smtp_tls_ssl(s) : NULL;

	return ssl ? tls_received(ssl, buf, bufsz) : -1;
}

/* Implicit TLS: the session's bufferevent speaks TLS from the start. */
int
smtp_tls_accept(struct smtp_session *s, int fd)
{
	SSL *ssl = tls_server_ssl_new(s->srv->tls);

	if (ssl == NULL)
		return -1;
	s->bev = bufferevent_openssl_socket_new(s->srv->base, fd, ssl,
	    BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
	if (s->bev == NULL)
		return -1;
	bufferevent_openssl_set_allow_dirty_shutdown(s->bev, 1);
	s->handshaking = 1;
	return 0;
}

/* The session is about to close: say so in TLS first. */
void
smtp_tls_close_notify(struct smtp_session *s)
{
	if (s->tls && !s->close_notified) {
		s->close_notified = 1;
		tls_close_notify(smtp_tls_ssl(s));
	}
}

void
smtp_tls_connected(struct smtp_session *s)
{
	char desc[TLS_DESCRIBE_MAX];
	SSL *ssl = smtp_tls_ssl(s);

	s->handshaking = 0;
	s->tls = 1;
	if (ssl == NULL || tls_describe(ssl, desc, sizeof(desc)) == -1)
		(void)snprintf(desc, sizeof(desc), "unknown");
	log_info("session=%016llx event=tls-established %s",
	    (unsigned long long)s->id, desc);
	if (s->blocked)
		smtp_resume(s);
}

void
smtp_tls_failed(struct smtp_session *s)
{
	char reason[TLS_REASON_MAX];
	unsigned long err = s->bev ? bufferevent_get_openssl_error(s->bev) : 0;

	if (err)
		tls_error_string(err, reason, sizeof(reason));
	else
		(void)snprintf(reason, sizeof(reason), "connection closed");
	log_info("session=%016llx event=tls-failed reason=\"%s\"",
	    (unsigned long long)s->id, reason);
}

/* Refusals of STARTTLS; 0 when it may proceed. */
static int
smtp_check_starttls(struct smtp_session *s)
{
	if (s->tls) {
		smtp_reply(s, R_STARTTLS_ALREADY);
		return -1;
	}
	if (s->listener->cl->tls == LISTENER_TLS_NONE || s->srv->tls == NULL) {
		smtp_reply(s, R_STARTTLS_UNAVAILABLE);
		return -1;
	}
	if (s->tx != NULL) {
		smtp_reply(s, R_NESTED_MAIL);
		return -1;
	}
	return 0;
}

void
smtp_proceed_starttls(struct smtp_session *s)
{
	struct evbuffer *in;
	struct bufferevent *tls;
	SSL *ssl;

	if (smtp_check_starttls(s) == -1)
		return;
	if ((ssl = tls_server_ssl_new(s->srv->tls)) == NULL) {
		smtp_reply(s, R_STARTTLS_FAILED);
		return;
	}
	smtp_reply(s, R_STARTTLS_GO);
	/* CVE-2011-0411: plaintext pipelined after STARTTLS is dropped. */
	in = bufferevent_get_input(s->bev);
	if (evbuffer_get_length(in) > 0) {
		log_info("session=%016llx event=starttls-injection bytes=%zu",
		    (unsigned long long)s->id, evbuffer_get_length(in));
		evbuffer_drain(in, evbuffer_get_length(in));
	}
	tls = bufferevent_openssl_filter_new(s->srv->base, s->bev, ssl,
	    BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
	if (tls == NULL) {
		smtp_close_after_reply(s);
		return;
	}
	bufferevent_openssl_set_allow_dirty_shutdown(tls, 1);
	s->bev = tls;
	smtp_set_callbacks(s);
	/* RFC 3207 §4.2: forget everything said before TLS. */
	s->helo_seen = 0;
	s->esmtp = 0;
	s->helo[0] = '\0';
	s->authenticated = 0;
	s->auth_user[0] = '\0';
	s->handshaking = 1;
	s->blocked = 1;		/* nothing more until the handshake ends */
}
