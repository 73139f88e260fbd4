/*
 * Event channels: per-domain ports, delivered through Xen's 2-level ABI
 * (pending and mask bits in shared_info, per-vCPU upcall flags in vcpu_info)
 * or, once the guest asks with EVTCHNOP_init_control, the FIFO ABI
 * (xen/event_fifo.c).
 * pvisor's own services (console, xenstore, later block/net backends) are the
 * "remote domain 0" end of interdomain channels.
 */
#ifndef PVISOR_XEN_EVENTS_H
#define PVISOR_XEN_EVENTS_H

#include <stdbool.h>

#include <pvisor/xen.h>

struct vm;
struct vcpu;

/* Initialises the port table of a new domain, all zeros (port 0
 * reserved). */
void evtchn_init(struct vm *vm);

/* Closes every port and drops the FIFO state, then as evtchn_init(). */
void evtchn_reset(struct vm *vm);

/* A reboot's fresh domain (core/reboot.c): every port closed but the
 * console's and xenstore's (kept, as new, for the new start_info), back to
 * the 2-level ABI.  The pending and mask bits live in shared_info, which
 * the caller clears.  Thread-safe. */
void evtchn_reset_domain(struct vm *vm);

/*
 * Allocates an unbound port whose remote end is pvisor (domain 0), as the
 * toolstack does for the console and xenstore; on_send runs on the sending
 * vCPU's thread when the guest notifies it.  Returns the port or -errno.
 */
int evtchn_alloc_backend_port(struct vm *vm, void (*on_send)(void *),
			      void *opaque);

/*
 * A pvisor backend binds the guest's unbound port (EVTCHNOP_alloc_unbound
 * with remote_dom 0, as a frontend does and writes to xenstore), as dom0's
 * EVTCHNOP_bind_interdomain would: the port becomes interdomain and on_send
 * runs (on the sending vCPU's thread) when the guest notifies it.  0, or
 * -EINVAL if port is not unbound to domain 0.  evtchn_unbind_backend()
 * returns it to unbound (as Xen does when the remote end closes), only if
 * it is still bound to (on_send, opaque).
 */
int evtchn_bind_backend(struct vm *vm, evtchn_port_t port,
			void (*on_send)(void *), void *opaque)
	__attribute__((warn_unused_result));
void evtchn_unbind_backend(struct vm *vm, evtchn_port_t port,
			   void (*on_send)(void *), void *opaque);

/* Marks port pending for the guest and wakes/kicks the target vCPU (Xen's
 * evtchn_set_pending).  Safe from any thread. */
void evtchn_notify_guest(struct vm *vm, evtchn_port_t port);

/* Raises a per-vCPU VIRQ if the guest bound it. */
void evtchn_send_virq(struct vcpu *v, unsigned virq);

/* True if v has an upcall pending that is not masked. */
bool evtchn_upcall_deliverable(struct vcpu *v);

/* A port number of the ABI in use (2-level: < XEN_NR_EVTCHN; FIFO:
 * < XEN_MAX_EVTCHN), for SCHEDOP_poll. */
bool evtchn_port_valid(struct vm *vm, evtchn_port_t port);

/* True if port is pending (for SCHEDOP_poll); false for bad ports. */
bool evtchn_port_pending(struct vm *vm, evtchn_port_t port);

/* Xen's vcpu_mark_events_pending: sets evtchn_upcall_pending and wakes v
 * on 0 -> 1. */
void vcpu_mark_events_pending(struct vcpu *v);

/* Wakes v if it is blocked, kicks it out of guest code otherwise. */
void vcpu_wake(struct vcpu *v);

#endif
