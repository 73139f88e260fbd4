/*
 * 2-level event channels in shared_info.  The upcall (lib/entry.S ->
 * evtchn_do_upcall) scans vcpu_info.evtchn_pending_sel and the
 * evtchn_pending/evtchn_mask words, clears each pending port and calls its
 * handler with events masked.  local_irq_* are vcpu_info.evtchn_upcall_mask;
 * unmasking re-checks evtchn_upcall_pending, as Xen guests must.
 */
#ifndef KIT_EVENTS_H
#define KIT_EVENTS_H

#include <stdbool.h>
#include <stdint.h>

#include <pvisor/xen.h>

#define KIT_NR_EVTCHN 1024

typedef void (*evtchn_handler_fn)(evtchn_port_t port, void *data);

/* Registers the upcall (callback_op) and clears all handlers. */
void events_init(void);

/* Installs handler for port and unmasks it.  0 or -EINVAL. */
int evtchn_bind(evtchn_port_t port, evtchn_handler_fn fn, void *data);
/* Removes the handler and masks the port. */
void evtchn_unbind(evtchn_port_t port);
/* EVTCHNOP_bind_virq for vCPU 0 + evtchn_bind; returns the port or -errno. */
long evtchn_bind_virq(unsigned virq, evtchn_handler_fn fn, void *data);
/* EVTCHNOP_bind_ipi for vCPU 0 + evtchn_bind; returns the port or -errno. */
long evtchn_bind_ipi(evtchn_handler_fn fn, void *data);
/* EVTCHNOP_send; 0 or -errno. */
long evtchn_send(evtchn_port_t port);
/* EVTCHNOP_close; 0 or -errno. */
long evtchn_close(evtchn_port_t port);

void evtchn_mask(evtchn_port_t port);
/* Clears the mask bit; a port that became pending meanwhile is delivered. */
void evtchn_unmask(evtchn_port_t port);

/* Runs every pending handler now (events must be masked by the caller). */
void evtchn_poll(void);

/* Called from entry.S with the event frame. */
struct trap_frame;
void evtchn_do_upcall(struct trap_frame *f);

/* Upcalls taken since boot. */
extern unsigned long evtchn_upcalls;

/* Event delivery on/off for this vCPU (vcpu_info.evtchn_upcall_mask). */
unsigned long local_irq_save(void);
void local_irq_restore(unsigned long flags);
void local_irq_disable(void);
void local_irq_enable(void);
bool irqs_disabled(void);

#endif
