/*
 * The control API server: `pvisor run --api PATH` (docs/control-api.md).
 * A unix stream socket (mode 0600) where each line a client sends is one
 * JSON request (services/ctl/ctl_request.h) and each line pvisor sends back
 * is its reply, in order.
 *
 * Everything runs on the VM's event thread (core/evloop.c), like the
 * xenstore socket: the loop polls what ctl_server_pollfds() gives, hands the
 * result to ctl_server_service(), and waits no longer than
 * ctl_server_deadline().  Sockets are non-blocking.  Bounds: a request line
 * of at most CTL_LINE_MAX bytes (a longer one gets a "line-too-long" reply
 * and is skipped to its newline; the connection stays); a client's unread
 * replies above CTL_OUT_SOFT stop its input until it reads; at most
 * CTL_MAX_CLIENTS at once (one more is told "busy" and closed).  A client
 * that leaves mid-line or mid-command leaves nothing behind: commands never
 * depend on the client staying.
 */
#ifndef PVISOR_CTL_SERVER_H
#define PVISOR_CTL_SERVER_H

#include <poll.h>
#include <stddef.h>
#include <stdint.h>

struct vm;
struct ctl_server;

#define CTL_MAX_CLIENTS 128
#define CTL_OUT_SOFT (256u * 1024)
/* Descriptors (SCM_RIGHTS) a client may have waiting for its requests. */
#define CTL_MAX_FDS 4
/* Descriptors ctl_server_pollfds() may fill: the listener and clients. */
#define CTL_SERVER_POLLFDS (1 + CTL_MAX_CLIENTS)

/* A server for vm at path (or, path NULL, none: clients only through
 * ctl_server_add_client, as the tests do).  NULL with one line in err. */
struct ctl_server *ctl_server_open(struct vm *vm, const char *path, char *err,
				   size_t err_len);
/* Closes every client and the socket, removes the socket file.  NULL is
 * fine. */
void ctl_server_close(struct ctl_server *s);

/* Takes a connected stream socket as a client; 0 or -errno (fd closed). */
int ctl_server_add_client(struct ctl_server *s, int fd);
unsigned ctl_server_nr_clients(const struct ctl_server *s);

unsigned ctl_server_pollfds(struct ctl_server *s, struct pollfd *fds, unsigned max);
void ctl_server_service(struct ctl_server *s, const struct pollfd *fds, unsigned n);

/* CLOCK_MONOTONIC ns the event loop must wake by (a shutdown's hard stop),
 * 0 for none; ctl_server_service() acts on it once passed. */
int64_t ctl_server_deadline(const struct ctl_server *s);

/* The VM stopped: answers the clients waiting for that (shutdown) and
 * sends what is queued, as far as the sockets take it now. */
void ctl_server_vm_stopped(struct ctl_server *s);

#endif
