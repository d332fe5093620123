/* Binding the listening sockets (in the parent, before privileges drop). */
#ifndef POSTERN_PROC_LISTEN_H
#define POSTERN_PROC_LISTEN_H

#include <stddef.h>

struct conf;
struct conf_listener;

/* Binds and listens on l's address. The fd, or -1 with why. */
int listen_bind(const struct conf_listener *l, char *why, size_t whysz);

/*
 * Gives fds[i] for every listener of conf: reuses the socket of an old
 * listener with the same address (old/oldfds may be NULL), binds the rest.
 * Returns 0, or -1 with why (fds bound so far are closed).
 */
int listen_all(const struct conf *conf, const struct conf *old,
    const int *oldfds, int *fds, char *why, size_t whysz);

#endif
