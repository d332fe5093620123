/* Listening sockets: bind, reuse across reloads. Runs in the parent. */
#include "proc/listen.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conf/conf.h"

#define LISTEN_BACKLOG 1024

int
listen_bind(const struct conf_listener *l, char *why, size_t whysz)
{
	int fd, on = 1;

	fd = socket(l->sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0);
	if (fd == -1)
		goto fail;
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
	if (l->sa.ss_family == AF_INET6)
		(void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on,
		    sizeof(on));
	if (bind(fd, (const struct sockaddr *)&l->sa, l->salen) == -1 ||
	    listen(fd, LISTEN_BACKLOG) == -1)
		goto fail;
	return fd;
fail:
	(void)snprintf(why, whysz, "listener %s: %s: %s", l->name, l->address,
	    strerror(errno));
	if (fd != -1)
		close(fd);
	return -1;
}

static int
same_address(const struct conf_listener *a, const struct conf_listener *b)
{
	return a->salen == b->salen && memcmp(&a->sa, &b->sa, a->salen) == 0;
}

int
listen_all(const struct conf *conf, const struct conf *old,
    const int *oldfds, int *fds, char *why, size_t whysz)
{
	size_t i, j;

	for (i = 0; i < conf->nlisteners; i++) {
		fds[i] = -1;
		for (j = 0; old && j < old->nlisteners; j++)
			if (same_address(&conf->listeners[i],
			    &old->listeners[j]))
				fds[i] = oldfds[j];
		if (fds[i] == -1 &&
		    (fds[i] = listen_bind(&conf->listeners[i], why, whysz)) == -1)
			goto fail;
	}
	return 0;
fail:
	while (i-- > 0) {
		for (j = 0; old && j < old->nlisteners; j++)
			if (fds[i] == oldfds[j])
				break;
		if (old == NULL || j == old->nlisteners)
			close(fds[i]);
	}
	return -1;
}
