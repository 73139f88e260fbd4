/*
 * netback: pvisor's network backend (Xen's netif protocol) for the guest's
 * vif devices, each attached to the host through libslirp or a TAP device
 * (hostio/hostnet.h).  The xenstore device model is the one Xen's
 * toolstack and Linux's netback write (docs/network.md); each NIC has one
 * thread that serves its rings and its host attachment.
 */
#ifndef PVISOR_NETBACK_H
#define PVISOR_NETBACK_H

#include <stddef.h>
#include <stdint.h>

struct vm;

/*
 * Creates the NICs the configuration asks for (vm->cfg->net): opens the
 * host side, writes the backend and frontend xenstore entries, watches the
 * frontend and starts the threads.  Call after xs_service_init.  0, or
 * -errno with one line for the user in err.
 */
int netback_start(struct vm *vm, char *err, size_t err_len)
	__attribute__((warn_unused_result));

/* Stops the threads and frees everything; safe if netback_start was not
 * called or failed.  Call while the vCPUs still exist (they are notified). */
void netback_destroy(struct vm *vm);

/* A reboot's new domain: each NIC's frontend directory written again
 * (device.h, reattach); the host network (slirp, TAP) stays. */
int netback_reattach(struct vm *vm, char *err, size_t err_len);

struct netback_stats {
	uint64_t tx_packets, tx_errors;  /* guest -> host */
	uint64_t rx_packets, rx_dropped; /* host -> guest */
	uint64_t backlog_max;            /* deepest rx backlog seen */
	int connected;
};

/* Counters of NIC devid; -ENOENT if there is none. */
int netback_get_stats(struct vm *vm, unsigned devid, struct netback_stats *st);

#endif
