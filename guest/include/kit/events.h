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

#define KIT_NR_EVTCHN 4096 /* 2-level: 1024 on pvisor; FIFO: 4096 */

typedef void (*evtchn_handler_fn)(evtchn_port_t port, void *data);

/* Registers the upcall (callback_op) and clears all handlers. */
void events_init(void);
/* After a restore into a new domain: no port is bound any more. */
void events_resume(void);

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

/*
 * FIFO event channels (lib/evtchn_fifo.c): evtchn_fifo_init() asks for the
 * FIFO ABI (EVTCHNOP_init_control for vCPU 0 with a control block page,
 * then one event-array page); from then on the kit's binding, masking and
 * upcall work the FIFO way (Linux's consume loop: ready bitmap, highest
 * priority first, each queue from its head along the links).  0 or the
 * hypercall's error (the kit stays 2-level).  The rest is for events.c.
 */
long evtchn_fifo_init(void);
void evtchn_fifo_resume(void); /* events_resume() calls it */
bool evtchn_fifo_active(void);
/* Control block and event array as the kit set them up (tests). */
struct evtchn_fifo_control_block *evtchn_fifo_control(void);
event_word_t *evtchn_fifo_word(evtchn_port_t port);
int evtchn_fifo_cover(evtchn_port_t port); /* expand_array up to port */
void evtchn_fifo_poll(void);
void evtchn_fifo_mask(evtchn_port_t port);
void evtchn_fifo_unmask(evtchn_port_t port);
void evtchn_dispatch(evtchn_port_t port);
bool evtchn_has_handler(evtchn_port_t port);
/* EVTCHNOP_init_control's link_bits answer (0 before). */
unsigned evtchn_fifo_link_bits(void);

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
