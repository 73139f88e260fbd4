/*
 * FIFO event channels (Xen's xen/common/event_fifo.c, public
 * event_channel.h): per-port event words in guest pages (the event array,
 * EVTCHNOP_expand_array), per-vCPU control blocks (EVTCHNOP_init_control)
 * with a ready bitmap and one queue head per priority; pvisor keeps each
 * queue's tail and links a newly pending, unmasked, unlinked event after
 * it.  A domain runs the 2-level ABI until init_control succeeds and
 * returns to it on EVTCHNOP_reset.
 *
 * Called by xen/events.c, which owns the port table; functions named
 * _locked run under vm->xen.lock.
 */
#ifndef PVISOR_XEN_EVENT_FIFO_H
#define PVISOR_XEN_EVENT_FIFO_H

#include <stdbool.h>

#include <pvisor/xen.h>

struct vm;
struct vcpu;

/* EVTCHNOP_init_control / expand_array / set_priority: 0 or -XEN_E*. */
long evtchn_fifo_init_control(struct vcpu *v, struct evtchn_init_control *op);
long evtchn_fifo_expand_array(struct vm *vm, uint64_t array_mfn);
long evtchn_fifo_set_priority(struct vm *vm, evtchn_port_t port,
			      uint32_t priority);

/*
 * Xen's evtchn_fifo_set_pending for port on vCPU vcpu_id.  Takes
 * vm->xen.lock; returns true if the vCPU must be marked (its ready bit
 * went 0 -> 1) — the caller does that without the lock.  *was_pending
 * says whether the port was already pending.
 */
bool evtchn_fifo_set_pending(struct vm *vm, evtchn_port_t port,
			     unsigned vcpu_id, bool *was_pending);

/* EVTCHNOP_unmask in FIFO mode: clears MASKED, relinks if pending. */
void evtchn_fifo_unmask(struct vm *vm, evtchn_port_t port);

/* Port state in the event word, or the saved state while no word covers
 * it.  Takes no lock (SCHEDOP_poll asks under vm->xen.lock). */
bool evtchn_fifo_is_pending(struct vm *vm, evtchn_port_t port);
/* LINKED: the port cannot be reused until the guest unlinks it. */
bool evtchn_fifo_is_busy_locked(struct vm *vm, evtchn_port_t port);

/* A port is allocated (default priority) / closed (pending cleared). */
void evtchn_fifo_port_init_locked(struct vm *vm, evtchn_port_t port);
void evtchn_fifo_port_close_locked(struct vm *vm, evtchn_port_t port);

/* Back to the 2-level ABI: drops the control blocks and event array. */
void evtchn_fifo_destroy_locked(struct vm *vm);

#endif
