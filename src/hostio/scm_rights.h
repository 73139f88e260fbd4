/*
 * One descriptor passed with a message (SCM_RIGHTS).  Inline and without
 * library calls: the proc backend's forked child, which may make raw
 * system calls only, uses it as well as the control client.
 */
#ifndef PVISOR_SCM_RIGHTS_H
#define PVISOR_SCM_RIGHTS_H

#include <sys/socket.h>

union scm_one {
	struct cmsghdr align;
	char buf[CMSG_SPACE(sizeof(int))];
};

/* fd goes with m's bytes; ctrl must live as long as m is sent. */
static inline void scm_rights_put(struct msghdr *m, union scm_one *ctrl, int fd)
{
	struct cmsghdr *cm;

	m->msg_control = ctrl->buf;
	m->msg_controllen = sizeof(ctrl->buf);
	cm = CMSG_FIRSTHDR(m);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	__builtin_memcpy(CMSG_DATA(cm), &fd, sizeof(fd));
}

#endif
