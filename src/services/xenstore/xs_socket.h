/*
 * xenstored's unix socket, served by pvisor: `pvisor run --xenstore-socket
 * PATH` lets Xen's own tools (Debian's xenstore-utils: xenstore-ls,
 * xenstore-read, xenstore-write, xenstore-watch, ... with XENSTORED_PATH=PATH)
 * read and write the guest's store as dom0 would.
 *
 * The wire protocol is xenstored's: each message is a struct xsd_sockmsg
 * header and hdr.len payload bytes (xen/io/xs_wire.h) over a stream socket;
 * replies echo req_id and tx_id; XS_WATCH_EVENT messages arrive whenever a
 * watch fires.  Every connection is a privileged dom0 client of the one
 * store (xs_conn_new_dom0): its own watches and transactions, dom0's
 * permissions (none apply), and requests only a real toolstack could serve
 * (XS_INTRODUCE, XS_RELEASE, XS_RESUME, XS_SET_TARGET, XS_CONTROL) answered
 * XS_ERROR "ENOSYS".
 *
 * Everything here runs on one thread (pvisor's event thread): the caller
 * polls the descriptors xs_socket_pollfds() gives and hands the result to
 * xs_socket_service().  Sockets are non-blocking; each client has one
 * message of input buffered (header + XENSTORE_PAYLOAD_MAX) and one chunk
 * of output, and is not read while the store holds more than XS_OUT_SOFT of
 * its output.  A message longer than XENSTORE_PAYLOAD_MAX is answered
 * XS_ERROR "E2BIG" and the connection closed (framing is lost); a client
 * that goes away mid-message just goes away.  At most XS_SOCKET_MAX_CLIENTS
 * at once; further ones are accepted and closed at once.
 */
#ifndef PVISOR_XS_SOCKET_H
#define PVISOR_XS_SOCKET_H

#include <poll.h>
#include <stddef.h>

struct xenstore;
struct xs_socket;

#define XS_SOCKET_MAX_CLIENTS 32
/* Descriptors xs_socket_pollfds() may fill: listener, wake-up, clients. */
#define XS_SOCKET_POLLFDS (2 + XS_SOCKET_MAX_CLIENTS)

/*
 * A server on xs.  path: the unix socket to listen on (created mode 0600;
 * a stale socket file there is replaced, anything else there, or a socket
 * someone still listens on, is refused), or NULL for none (clients then
 * come only through xs_socket_add_client).  NULL on failure, with one line
 * for the user in err.
 */
struct xs_socket *xs_socket_open(struct xenstore *xs, const char *path, char *err,
				 size_t err_len);

/* Closes every client (their watches and transactions go), the listener,
 * and removes the socket file if it is still ours.  NULL is fine. */
void xs_socket_close(struct xs_socket *s);

/*
 * Fills fds[0..n) with what to poll (at most max, XS_SOCKET_POLLFDS is
 * always enough) and returns n; 0 for a NULL server.  Call again before
 * every poll: the events change with each client's state.
 */
unsigned xs_socket_pollfds(struct xs_socket *s, struct pollfd *fds, unsigned max);

/* Handles what poll said about the n descriptors xs_socket_pollfds()
 * filled: accepts, reads and processes requests, writes replies and watch
 * events. */
void xs_socket_service(struct xs_socket *s, const struct pollfd *fds, unsigned n);

/* Makes a connected stream socket a client (tests: one end of a
 * socketpair); s owns fd from then on, also on failure.  0 or -errno
 * (-EMFILE: XS_SOCKET_MAX_CLIENTS already). */
int xs_socket_add_client(struct xs_socket *s, int fd) __attribute__((warn_unused_result));

unsigned xs_socket_nr_clients(const struct xs_socket *s);

#endif
