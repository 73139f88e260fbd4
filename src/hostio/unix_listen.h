/*
 * A listening unix stream socket for pvisor's own servers (the xenstore
 * socket, the control API): created mode 0600 (owner only, from the bind
 * on), a stale socket file replaced, anything else at the path -- a regular
 * file, or a socket someone still serves -- refused and left alone; on
 * close the file is removed only if it is still the one we made.
 */
#ifndef PVISOR_UNIX_LISTEN_H
#define PVISOR_UNIX_LISTEN_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct unix_listener {
	int fd; /* non-blocking, close-on-exec; -1: none */
	char *path;
	dev_t dev;
	ino_t ino;
};

/* Listens at path; `what` names the option in err ("--api").  0 or -errno
 * with one line for the user in err. */
int unix_listen(struct unix_listener *l, const char *path, const char *what, char *err,
		size_t err_len) __attribute__((warn_unused_result));

/* Closes the socket and removes its file if nobody replaced it. */
void unix_listener_close(struct unix_listener *l);

/* The file mode keeps other users out; this refuses a peer (of another uid
 * than ours or root's) that got a descriptor some other way. */
bool unix_peer_allowed(int fd);

#endif
