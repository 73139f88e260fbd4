/* A listening unix socket for pvisor's servers (see unix_listen.h). */
#include "hostio/unix_listen.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

/* A socket file nobody answers on is stale: remove it.  0 or -errno. */
static int replace_stale(const struct sockaddr_un *sa, const char *what, char *err,
			 size_t err_len)
{
	const char *path = sa->sun_path;
	struct stat st;
	int probe;

	if (lstat(path, &st) < 0)
		return 0;
	if (!S_ISSOCK(st.st_mode)) {
		snprintf(err, err_len, "%s: '%s' exists and is not a socket; not replacing it",
			 what, path);
		return -EEXIST;
	}
	probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (probe >= 0 && connect(probe, (const struct sockaddr *)sa, sizeof(*sa)) == 0) {
		close(probe);
		snprintf(err, err_len, "%s: '%s': another server is listening there", what,
			 path);
		return -EADDRINUSE;
	}
	if (probe >= 0)
		close(probe);
	if (unlink(path) < 0 && errno != ENOENT) {
		int rc = -errno;

		snprintf(err, err_len, "%s: cannot remove stale '%s': %s", what, path,
			 strerror(-rc));
		return rc;
	}
	return 0;
}

int unix_listen(struct unix_listener *l, const char *path, const char *what, char *err,
		size_t err_len)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	mode_t old_mask;
	int fd, rc;

	l->fd = -1;
	l->path = NULL;
	if (!*path || strlen(path) >= sizeof(sa.sun_path)) {
		snprintf(err, err_len, "%s: '%s': %s", what, path,
			 *path ? "path too long for a unix socket" : "empty path");
		return -ENAMETOOLONG;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	rc = replace_stale(&sa, what, err, err_len);
	if (rc < 0)
		return rc;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		rc = -errno;
		snprintf(err, err_len, "%s: socket: %s", what, strerror(-rc));
		return rc;
	}
	/* Owner only from the start, not after a window. */
	old_mask = umask(0177);
	rc = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	if (rc < 0)
		rc = -errno;
	umask(old_mask);
	if (rc == 0 && (chmod(path, 0600) < 0 || lstat(path, &st) < 0))
		rc = -errno;
	if (rc == 0 && listen(fd, SOMAXCONN) < 0)
		rc = -errno;
	if (rc == 0 && !(l->path = strdup(path)))
		rc = -ENOMEM;
	if (rc < 0) {
		snprintf(err, err_len, "%s: '%s': %s", what, path, strerror(-rc));
		close(fd);
		return rc;
	}
	l->dev = st.st_dev;
	l->ino = st.st_ino;
	l->fd = fd;
	return 0;
}

void unix_listener_close(struct unix_listener *l)
{
	struct stat st;

	if (l->fd >= 0) {
		close(l->fd);
		if (lstat(l->path, &st) == 0 && S_ISSOCK(st.st_mode) && st.st_dev == l->dev &&
		    st.st_ino == l->ino)
			unlink(l->path);
	}
	l->fd = -1;
	free(l->path);
	l->path = NULL;
}

bool unix_peer_allowed(int fd)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
		return true; /* not a unix socket peer: socketpair in tests */
	return cred.uid == geteuid() || cred.uid == 0;
}
