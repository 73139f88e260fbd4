/*
 * xenstore as a pvisor service: the store (xenstore.h) connected to the
 * guest's store ring (start_info store_mfn / store_evtchn), the entries a
 * toolstack writes for a new domain, and the device-model API pvisor's
 * split-driver backends use.  The guest is domain 1.
 */
#ifndef PVISOR_XS_SERVICE_H
#define PVISOR_XS_SERVICE_H

#include <stdbool.h>
#include <stddef.h>

struct vm;
struct xenstore;
struct xs_socket;

#define XS_GUEST_DOMID 1

/* Creates the store and the guest's domain entries; call after vm_create
 * (the store event channel exists).  0 or -errno. */
int xs_service_init(struct vm *vm) __attribute__((warn_unused_result));

/* Connects the guest's ring; call after the domain is built (the store page
 * is known).  0 or -errno. */
int xs_service_connect(struct vm *vm) __attribute__((warn_unused_result));

/*
 * A reboot (core/reboot.c): the guest's connection goes and its directory
 * /local/domain/1 with it (the backends see their frontends vanish), then
 * the new domain's entries are written as for a new domain.  The devices
 * write their frontend directories again and xs_service_connect connects
 * the new store ring.  Dom0 connections (--xenstore-socket) stay.  0 or
 * -errno.
 */
int xs_service_reset(struct vm *vm) __attribute__((warn_unused_result));

/* Event-thread hook: serves output queued from outside the guest's own
 * requests (dom0 writes that fire the guest's watches). */
void xs_service_poll(struct vm *vm);

/*
 * --xenstore-socket PATH: serves xenstored's socket protocol at path, each
 * client a dom0 connection of the guest's store (xs_socket.h).  Call after
 * xs_service_connect and before the event thread starts, which then polls
 * it (xs_service_socket).  0, or -errno with one line in err.
 */
int xs_service_listen(struct vm *vm, const char *path, char *err, size_t err_len)
	__attribute__((warn_unused_result));

/* The socket server for the event thread, or NULL if there is none. */
struct xs_socket *xs_service_socket(struct vm *vm);

/* Also closes the socket server; the event thread must have stopped. */
void xs_service_destroy(struct vm *vm);

/*
 * Runs fn(xs, opaque) with the store locked: how backends read and write
 * the device model.  The guest is notified of any output afterwards.
 */
int xs_service_with(struct vm *vm, int (*fn)(struct xenstore *, void *),
		    void *opaque);

/* A backend's XenbusState: writes DIR/state (as dom0) through
 * xs_service_with, so that the frontend's watch fires. */
int xs_service_write_state(struct vm *vm, const char *dir, int state);

/* One node of a frontend directory (xs_write_frontend). */
struct xs_node_value {
	const char *key;
	const char *value;
};

/*
 * A device's frontend directory fe as libxl writes it, from inside an
 * xs_service_with callback: owned by the guest and readable by dom0 (each
 * node too), with backend = be, backend-id = 0, the n nodes given, and
 * state = Initialising last, so that a watch on it sees the whole
 * directory.  Devices call it at set-up and on a reboot's reattach
 * (core/device.h).  0 or -errno.
 */
int xs_write_frontend(struct xenstore *xs, const char *fe, const char *be,
		      const struct xs_node_value *nodes, size_t n)
	__attribute__((warn_unused_result));

/*
 * pvisor's extension for Linux guests: the decimal exit status the guest
 * wrote to /local/domain/1/data/pvisor-exit-status, or -1 if none.
 */
int xs_service_exit_status(struct vm *vm);

#endif
