/*
 * An inbound SMTP session: owns its bufferevent, its state and the current
 * transaction (smtp_tx, tx.c). Started by the worker on accept; frees
 * itself when the connection ends and no pool job still refers to it.
 */
#ifndef POSTERN_SMTP_SESSION_H
#define POSTERN_SMTP_SESSION_H

#include <sys/socket.h>

struct smtp_server;
struct smtp_listener;
struct smtp_session;

void smtp_session_start(struct smtp_server *srv, struct smtp_listener *l,
    int fd, const struct sockaddr *sa, socklen_t salen);

/*
 * The worker is stopping: 421 now if the session is idle, else once its
 * transaction has ended (the message in progress still gets its 250).
 */
void smtp_session_drain(struct smtp_session *s);

/* Deadline passed while draining: close now (a transaction is aborted). */
void smtp_session_abort(struct smtp_session *s);

#endif
